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

pub mod backoff;
pub mod breaker;
mod client;
pub mod clock;
pub mod config;
mod error;
pub mod ffi;
pub mod limiter;
pub mod metrics;
mod outcome;
mod queue;
mod request;
mod response;
mod scheduler;
mod worker;

pub use breaker::BreakerState;
pub use client::{Callback, Client, RequestId};
pub use config::{BreakerConfig, Config, RateLimit, RetryPolicy};
pub use error::{Error, ErrorKind, Result};
pub use metrics::MetricsSnapshot;
pub use request::Request;
pub use response::Response;
