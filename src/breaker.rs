//! The circuit breaker as a plain state machine; time comes in as an argument.
//! TODO(helper): implement; see the contract on each item.

use crate::clock::Nanos;
use crate::config::BreakerConfig;

/// The breaker's state, as the C ABI numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum BreakerState {
    /// Requests flow; consecutive failures are counted.
    Closed = 0,
    /// Requests fail fast until the recovery timeout has passed.
    Open = 1,
    /// One probe at a time is let through; its outcome decides.
    HalfOpen = 2,
}

/// What the breaker says to a request that wants to go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go. `probe` is true when this is the half-open probe; pass it back to `record`.
    Allow {
        /// Whether this send is the half-open probe.
        probe: bool,
    },
    /// The breaker is open: fail the request fast.
    Reject,
    /// Half-open with a probe in flight: keep the request queued and ask again later.
    Wait,
}

/// CLOSED -> OPEN after `failure_threshold` consecutive failures; OPEN until
/// `recovery_timeout` has passed since it opened, then HALF_OPEN (lazily, when next
/// asked); HALF_OPEN lets one probe through at a time: its success closes the
/// breaker, its failure opens it again for another `recovery_timeout`. Outcomes of
/// sends that were not the probe do not move a HALF_OPEN or OPEN breaker. A
/// threshold of 0 disables the breaker: always CLOSED, always Allow.
#[derive(Debug)]
pub struct CircuitBreaker {}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        let _ = config;
        todo!()
    }

    /// The state at `now` (OPEN reads as HALF_OPEN once the recovery timeout has passed).
    pub fn state(&self, now: Nanos) -> BreakerState {
        let _ = now;
        todo!()
    }

    /// Whether a new submit is accepted at `now`: false only while OPEN.
    pub fn accepts_submit(&self, now: Nanos) -> bool {
        let _ = now;
        todo!()
    }

    /// Asks to send one request at `now`. `Allow { probe: true }` marks the probe as
    /// in flight (and moves OPEN to HALF_OPEN when due): call it only when the
    /// request really goes.
    pub fn admit(&mut self, now: Nanos) -> Admission {
        let _ = now;
        todo!()
    }

    /// Like `admit`, but changes nothing (for a scheduler that must first wait for a token).
    pub fn peek(&self, now: Nanos) -> Admission {
        let _ = now;
        todo!()
    }

    /// Records the outcome of a send admitted earlier. `failure` is true for
    /// transport errors, timeouts and 5xx. Returns true if the state changed.
    pub fn record(&mut self, now: Nanos, probe: bool, failure: bool) -> bool {
        let _ = (now, probe, failure);
        todo!()
    }

    /// How many state transitions happened so far (OPEN -> HALF_OPEN included).
    pub fn transitions(&self) -> u64 {
        todo!()
    }
}
