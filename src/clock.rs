//! Time as the rules see it: monotonic nanoseconds from an origin, passed in as an
//! argument so that limiter, breaker and backoff can be tested with a hand-driven clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Monotonic time in nanoseconds since a clock's origin.
pub type Nanos = u64;

/// Converts a duration to nanoseconds, saturating at `u64::MAX` (about 584 years).
pub fn nanos(d: Duration) -> Nanos {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A monotonic clock.
pub trait Clock: Send + Sync {
    /// Nanoseconds since this clock's origin; never goes backwards.
    fn now(&self) -> Nanos;
}

/// The real clock, backed by [`Instant`].
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        MonotonicClock { origin: Instant::now() }
    }

    /// The [`Instant`] that corresponds to `at` on this clock.
    pub fn instant_at(&self, at: Nanos) -> Instant {
        self.origin + Duration::from_nanos(at)
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Nanos {
        nanos(self.origin.elapsed())
    }
}

/// A clock that moves only when told to; for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Nanos) -> Self {
        ManualClock { now: AtomicU64::new(start) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(nanos(by), Ordering::SeqCst);
    }

    /// Sets the clock to `at`, which must not be earlier than now.
    pub fn set(&self, at: Nanos) {
        let prev = self.now.swap(at, Ordering::SeqCst);
        assert!(at >= prev, "a monotonic clock cannot go backwards");
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Nanos {
        self.now.load(Ordering::SeqCst)
    }
}
