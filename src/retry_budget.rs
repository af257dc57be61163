//! The retry budget: retries may not exceed a share of recent first attempts plus a
//! small floor, so a failing API never sees a retry storm (Envoy's retry budget and
//! gRPC's retry throttling are the anchors). A plain struct; time is an argument.

use crate::clock::Nanos;

/// How far back the budget looks, in one-second buckets.
const WINDOW_SECS: u64 = 10;
const SEC: Nanos = 1_000_000_000;

/// Counts first attempts and retries over the last ten seconds.
#[derive(Debug)]
pub struct RetryBudget {
    percent: u64,
    min_per_second: u64,
    /// Per second of the window: (which second, first attempts, retries).
    buckets: [(u64, u64, u64); WINDOW_SECS as usize],
}

impl RetryBudget {
    /// Retries may be up to `percent` % of the first attempts of the last ten
    /// seconds, plus `min_per_second` per second of that window. `(0, 0)` allows none.
    pub fn new(percent: u32, min_per_second: u32) -> Self {
        RetryBudget {
            percent: u64::from(percent),
            min_per_second: u64::from(min_per_second),
            buckets: [(u64::MAX, 0, 0); WINDOW_SECS as usize],
        }
    }

    /// The bucket of the second `now` falls in, emptied if it held an older second.
    fn bucket(&mut self, now: Nanos) -> &mut (u64, u64, u64) {
        let second = now / SEC;
        let bucket = &mut self.buckets[(second % WINDOW_SECS) as usize];
        if bucket.0 != second {
            *bucket = (second, 0, 0);
        }
        bucket
    }

    /// (first attempts, retries) within the window that ends at `now`.
    fn totals(&self, now: Nanos) -> (u64, u64) {
        let second = now / SEC;
        self.buckets
            .iter()
            .filter(|(s, _, _)| *s != u64::MAX && *s <= second && second - *s < WINDOW_SECS)
            .fold((0, 0), |(f, r), (_, first, retry)| (f + first, r + retry))
    }

    /// Records a first attempt sent at `now`.
    pub fn first_attempt(&mut self, now: Nanos) {
        self.bucket(now).1 += 1;
    }

    /// Whether one more retry fits the budget at `now`; if so it is recorded.
    pub fn try_retry(&mut self, now: Nanos) -> bool {
        let (firsts, retries) = self.totals(now);
        let allowed = firsts.saturating_mul(self.percent)
            + self.min_per_second.saturating_mul(WINDOW_SECS).saturating_mul(100);
        if (retries + 1).saturating_mul(100) > allowed {
            return false;
        }
        self.bucket(now).2 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Nanos = 1_000_000;

    #[test]
    fn retries_are_a_share_of_first_attempts() {
        let mut b = RetryBudget::new(20, 0);
        for i in 0..100 {
            b.first_attempt(i * MS);
        }
        let granted = (0..100).filter(|i| b.try_retry(200 * MS + i * MS)).count();
        assert_eq!(granted, 20);
    }

    #[test]
    fn the_floor_allows_retries_when_traffic_is_light() {
        let mut b = RetryBudget::new(20, 1);
        b.first_attempt(0);
        // 1 per second over a 10 s window, plus 20 % of one attempt (none whole).
        let granted = (0..50).filter(|i| b.try_retry(i * MS)).count();
        assert_eq!(granted, 10);
    }

    #[test]
    fn zero_allows_none() {
        let mut b = RetryBudget::new(0, 0);
        for i in 0..1000 {
            b.first_attempt(i * MS);
        }
        assert!(!b.try_retry(SEC));
    }

    #[test]
    fn old_seconds_leave_the_window() {
        let mut b = RetryBudget::new(100, 0);
        b.first_attempt(0);
        assert!(b.try_retry(0));
        assert!(!b.try_retry(MS), "one first attempt, one retry");
        // Ten seconds on, the old attempt and retry are forgotten.
        b.first_attempt(10 * SEC);
        assert!(b.try_retry(10 * SEC + MS));
        assert!(!b.try_retry(10 * SEC + 2 * MS));
        // Long idle spells wrap the buckets cleanly.
        assert!(!b.try_retry(3600 * SEC));
        b.first_attempt(3600 * SEC);
        assert!(b.try_retry(3600 * SEC));
    }
}
