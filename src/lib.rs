//! rlc: a rate-limited HTTP client with a C ABI.
//!
//! A [`Client`] takes requests with a priority, keeps them in a priority queue, sends
//! them through a token bucket and a circuit breaker on a pool of blocking `ureq`
//! workers, retries transient failures with jittered exponential backoff, and calls
//! each request's callback exactly once, on one completion thread.
//!
//! The rules about time (limiter, breaker, backoff) are plain structs that take the
//! time as an argument; the scheduler thread is the only place that decides what goes
//! next and when.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let mut config = rlc::Config::new();
//! config.base_url("https://api.example.com")?.rate_limit(10, Duration::from_secs(1))?;
//! let client = rlc::Client::new(config)?;
//!
//! // Blocking: submit and wait.
//! let response = client.send(rlc::Request::new("GET", "/users/1")?, 0)?;
//! println!("{} after {} attempt(s)", response.status(), response.attempts());
//!
//! // Asynchronous: the callback runs once, on the client's completion thread.
//! client.submit(rlc::Request::new("GET", "/urgent")?, 100, |id, result| match result {
//!     Ok(response) => println!("request {id}: {}", response.status()),
//!     Err(e) => eprintln!("request {id}: {e}"),
//! })?;
//! client.close(); // delivers every callback, then joins the threads
//! # Ok::<(), rlc::Error>(())
//! ```

pub mod adaptive;
pub mod backoff;
pub mod breaker;
mod client;
pub mod clock;
mod completion;
pub mod config;
mod error;
mod event;
pub mod ffi;
mod journal;
pub mod graphql;
pub mod limiter;
pub mod metrics;
mod outcome;
mod queue;
pub mod quota;
mod redirect;
pub mod redis;
mod request;
mod resolver;
mod response;
pub mod retry_budget;
mod scheduler;
mod worker;

pub use breaker::BreakerState;
pub use client::{Callback, Client, RequestId};
pub use config::{BreakerConfig, Config, RateLimit, RetryPolicy};
pub use error::{Error, ErrorKind, Result};
pub use event::{Event, EventHook};
pub use journal::JournalStats;
pub use metrics::MetricsSnapshot;
pub use redis::{FailurePolicy, RedisState, RedisStatus};
pub use request::Request;
pub use response::Response;
/// The header map of a [`Response`] (the `http` crate's, as the transport parses it).
pub use ureq::http::HeaderMap;
