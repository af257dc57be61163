//! What the client tells a watcher as it goes: breaker transitions, retries, pauses
//! the server asked for, requests dropped unsent, limit changes. Events are delivered
//! on the completion thread, in order with the callbacks, so a watcher sees them as
//! they happened and never races a callback; a client without a handler builds none.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::breaker::BreakerState;
use crate::error::ErrorKind;

/// Something the client did that a user may want to see, without polling metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The circuit breaker changed state.
    Breaker {
        /// The state it left.
        from: BreakerState,
        /// The state it entered.
        to: BreakerState,
    },
    /// A failed attempt will be retried after `delay`.
    Retry {
        /// The request.
        id: u64,
        /// The attempt that failed (1 for the first).
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// The failed attempt's HTTP status, 0 when it got none.
        status: u16,
        /// Why it failed when no HTTP response came (timeout, connect...).
        error: Option<ErrorKind>,
    },
    /// The server asked the whole client to pause sending.
    Pause {
        /// How long the client pauses (after the cap).
        duration: Duration,
        /// The status of the response that asked.
        status: u16,
        /// The header that asked: `Retry-After`, `X-RateLimit-Reset`,
        /// `RateLimit-Reset` or `RateLimit`.
        header: &'static str,
        /// True when the server asked for longer and the pause was cut to the
        /// configured maximum.
        capped: bool,
    },
    /// A request was dropped without being sent.
    Dropped {
        /// The request, or None for one refused at submit (it never had an id).
        id: Option<u64>,
        /// Why: `QueueFull` or `CircuitOpen` at submit, `CircuitOpen` or
        /// `Timeout` (its deadline passed) in the queue.
        reason: ErrorKind,
    },
    /// A rate limit changed while the client runs.
    LimitChanged {
        /// Requests allowed per window now.
        max_requests: u32,
        /// The window.
        window: Duration,
    },
    /// The shared limit's Redis was lost (the failure policy applies) or is back.
    Redis {
        /// True when back on Redis, false when it was lost.
        connected: bool,
        /// When back: how long the client was without it.
        down_for: Duration,
    },
}

/// A function that watches a client's events; called on its completion thread.
#[derive(Clone)]
pub struct EventHook(pub(crate) Arc<dyn Fn(&Event) + Send + Sync>);

impl EventHook {
    /// Wraps `f`.
    pub fn new(f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        EventHook(Arc::new(f))
    }
}

impl fmt::Debug for EventHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventHook(..)")
    }
}
