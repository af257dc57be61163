//! The shared limit's rule in plain Rust: the twin of `gcra.lua`, step for step, with
//! the time as an argument. A test replays calls recorded against a real Redis through
//! it and gets the same answers; the client also uses it, at a share of the rate, as
//! the local limiter while Redis is away (`RLC_REDIS_FAIL_LOCAL`).
//!
//! GCRA keeps one "theoretical arrival time" (TAT) per limit. With `m` requests per
//! window `w` µs, one token is `w / m` µs, which is rarely a whole number; so the TAT
//! is kept as whole microseconds plus a remainder in `1/m` µs, and every step is exact
//! integer arithmetic: no token is ever lost to rounding, and a long run grants
//! exactly `burst + floor(elapsed * m / w)` tokens.

use std::collections::HashMap;

use crate::config::RateLimit;

/// Values stay below this so that the Lua side, whose numbers are doubles, is exact.
pub const EXACT_LIMIT: u64 = 1 << 52;

/// One limit as the script sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSpec {
    /// Requests per window (`m`).
    pub max: u64,
    /// The window in microseconds (`w`).
    pub window_us: u64,
    /// Bucket capacity in tokens.
    pub burst: u64,
}

impl LimitSpec {
    /// The spec of a configured limit; refused when its numbers are too large to stay
    /// exact in Lua (a burst of millions over a window of days).
    pub fn of(limit: &RateLimit, horizon_us: u64, max_lease: u64) -> Result<LimitSpec, String> {
        let window_us = u64::try_from(limit.window.as_micros()).unwrap_or(u64::MAX).max(1);
        let spec = LimitSpec {
            max: u64::from(limit.max_requests.max(1)),
            window_us,
            burst: u64::from(limit.burst.max(1)),
        };
        let span = u128::from(spec.burst + max_lease) * u128::from(window_us)
            + u128::from(horizon_us) * u128::from(spec.max);
        if span >= u128::from(EXACT_LIMIT) {
            return Err(format!(
                "the rate limit {}/{:?} with burst {} is too large for a shared limit \
                 (burst x window must stay below 2^52 microseconds)",
                limit.max_requests, limit.window, limit.burst
            ));
        }
        Ok(spec)
    }

    /// This limit at `percent` % of its rate and burst (each at least 1).
    pub fn share(&self, percent: u64) -> LimitSpec {
        LimitSpec {
            max: (self.max * percent / 100).max(1),
            window_us: self.window_us,
            burst: (self.burst * percent / 100).max(1),
        }
    }

    /// One token in microseconds, rounded up.
    pub fn interval_us(&self) -> u64 {
        self.window_us.div_ceil(self.max)
    }
}

/// What one call of the script answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Tokens granted of every limit (0, or between `min` and `max`).
    pub granted: u64,
    /// Microseconds from now until the last granted token is due.
    pub due_us: u64,
    /// When nothing was granted: microseconds until `min` tokens are within the horizon.
    pub wait_us: u64,
    /// The time of the decision (Redis `TIME`, in microseconds).
    pub now_us: u64,
    /// Microseconds left of the shared pause (0 when none).
    pub pause_us: u64,
}

/// The state the script keeps in Redis, for one key: the TAT of each limit (with the
/// time it expires) and the end of the shared pause.
#[derive(Debug, Default)]
pub struct Twin {
    tats: HashMap<usize, Stored>,
    pause: Option<(u64, u64)>,
}

/// A limit's TAT, `tat_us + frac / m`, and when its key expires (µs).
#[derive(Clone, Copy, Debug)]
struct Stored {
    tat_us: u64,
    frac: u64,
    expires_us: u64,
}

impl Twin {
    /// Empty state: every bucket full, no pause.
    pub fn new() -> Self {
        Self::default()
    }

    /// The script's "take" at `now_us`: see `gcra.lua`.
    pub fn take(
        &mut self,
        now_us: u64,
        limits: &[LimitSpec],
        min: u64,
        max: u64,
        horizon_us: u64,
    ) -> Decision {
        let decision = Decision { now_us, ..Decision::default() };
        let pause = self.live_pause(now_us);
        if pause > now_us {
            let left = pause - now_us;
            return Decision { wait_us: left, pause_us: left, ..decision };
        }
        let offs: Vec<u64> = (0..limits.len()).map(|i| self.offset(i, now_us, limits[i])).collect();
        let mut k = max;
        for (spec, &off) in limits.iter().zip(&offs) {
            let room = (spec.burst * spec.window_us + horizon_us * spec.max).saturating_sub(off);
            k = k.min(room / spec.window_us);
        }
        if k < min {
            let mut wait = 1;
            for (spec, &off) in limits.iter().zip(&offs) {
                let late = (off + min * spec.window_us)
                    .saturating_sub(spec.burst * spec.window_us + horizon_us * spec.max);
                wait = wait.max(late.div_ceil(spec.max));
            }
            return Decision { wait_us: wait, ..decision };
        }
        let mut due = 0;
        for (i, (spec, &off)) in limits.iter().zip(&offs).enumerate() {
            let off = off + k * spec.window_us;
            let ahead = off / spec.max;
            let stored = Stored {
                tat_us: now_us + ahead,
                frac: off % spec.max,
                // PX of floor(ahead / 1000) + 2 ms, from Redis's millisecond clock.
                expires_us: now_us / 1000 * 1000 + (ahead / 1000 + 2) * 1000,
            };
            self.tats.insert(i, stored);
            due = due.max((off.saturating_sub(spec.burst * spec.window_us)).div_ceil(spec.max));
        }
        Decision { granted: k, due_us: due, ..decision }
    }

    /// The script's "pause": the shared pause ends no earlier than `now_us + pause_us`.
    pub fn pause(&mut self, now_us: u64, pause_us: u64) -> Decision {
        let old = self.live_pause(now_us);
        let until = now_us + pause_us;
        if until > old {
            self.pause = Some((until, now_us / 1000 * 1000 + (pause_us / 1000 + 2) * 1000));
        }
        Decision { now_us, pause_us: until.max(old) - now_us, ..Decision::default() }
    }

    /// Gives back `tokens` of every limit taken at `now_us` and not spent (the local
    /// limiter's refund when a request that took them could not go after all).
    pub fn refund(&mut self, now_us: u64, limits: &[LimitSpec], tokens: u64) {
        for (i, spec) in limits.iter().enumerate() {
            let off = self.offset(i, now_us, *spec).saturating_sub(tokens * spec.window_us);
            if let Some(s) = self.tats.get_mut(&i) {
                s.tat_us = now_us + off / spec.max;
                s.frac = off % spec.max;
            }
        }
    }

    /// How far limit `i`'s TAT runs ahead of `now_us`, in `1/m` µs (0: bucket full).
    fn offset(&mut self, i: usize, now_us: u64, spec: LimitSpec) -> u64 {
        match self.tats.get(&i) {
            Some(s) if s.expires_us <= now_us => {
                self.tats.remove(&i);
                0
            }
            Some(s) if s.tat_us >= now_us => (s.tat_us - now_us) * spec.max + s.frac,
            _ => 0,
        }
    }

    fn live_pause(&mut self, now_us: u64) -> u64 {
        match self.pause {
            Some((_, expires)) if expires <= now_us => {
                self.pause = None;
                0
            }
            Some((until, _)) => until,
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000;

    fn spec(max: u64, window_us: u64, burst: u64) -> LimitSpec {
        LimitSpec { max, window_us, burst }
    }

    #[test]
    fn a_long_run_grants_exactly_burst_plus_elapsed_times_rate() {
        // 3 per second (333.33 µs... a token is not a whole number of µs), burst 2.
        let limits = [spec(3, SEC, 2)];
        let mut twin = Twin::new();
        let mut granted = 0;
        let mut now = 0;
        while now <= 100 * SEC {
            granted += twin.take(now, &limits, 1, 1, 0).granted;
            now += 7_919;
        }
        let now = now - 7_919;
        assert_eq!(granted, 2 + now * 3 / SEC);
    }

    #[test]
    fn a_lease_takes_up_to_max_within_the_horizon_and_says_when_it_is_due() {
        // 10/s, burst 1: one now, and with a 250 ms horizon two more (due at 100, 200 ms).
        let limits = [spec(10, SEC, 1)];
        let mut twin = Twin::new();
        let d = twin.take(0, &limits, 1, 5, 250_000);
        assert_eq!((d.granted, d.due_us), (3, 200_000));
        // Nothing more within the horizon until 50 ms from now.
        let d = twin.take(0, &limits, 1, 5, 250_000);
        assert_eq!((d.granted, d.wait_us), (0, 50_000));
        let d = twin.take(50_000, &limits, 1, 5, 250_000);
        assert_eq!((d.granted, d.due_us), (1, 250_000));
    }

    #[test]
    fn stacked_limits_and_weighted_tokens_are_charged_together_or_not_at_all() {
        let limits = [spec(10, SEC, 10), spec(4, SEC, 4)];
        let mut twin = Twin::new();
        assert_eq!(twin.take(0, &limits, 3, 3, 0).granted, 3);
        // The second limit holds only one more: a request of 2 takes nothing from either.
        let d = twin.take(0, &limits, 2, 2, 0);
        assert_eq!((d.granted, d.wait_us), (0, 250_000));
        assert_eq!(twin.take(0, &limits, 1, 1, 0).granted, 1);
        // The first limit was charged 4 of 10, not more.
        assert_eq!(twin.take(0, &[limits[0]], 6, 6, 0).granted, 6);
    }

    #[test]
    fn a_pause_holds_every_take_until_it_ends() {
        let limits = [spec(100, SEC, 100)];
        let mut twin = Twin::new();
        assert_eq!(twin.pause(1_000, 500_000).pause_us, 500_000);
        let d = twin.take(2_000, &limits, 1, 1, 0);
        assert_eq!((d.granted, d.wait_us, d.pause_us), (0, 499_000, 499_000));
        // A shorter pause does not shorten it.
        assert_eq!(twin.pause(3_000, 1_000).pause_us, 498_000);
        assert_eq!(twin.take(501_000, &limits, 1, 1, 0).granted, 1);
    }

    #[test]
    fn a_refund_gives_the_tokens_back() {
        let limits = [spec(10, SEC, 2)];
        let mut twin = Twin::new();
        assert_eq!(twin.take(0, &limits, 2, 2, 0).granted, 2);
        assert_eq!(twin.take(0, &limits, 1, 1, 0).granted, 0);
        twin.refund(0, &limits, 1);
        assert_eq!(twin.take(0, &limits, 1, 1, 0).granted, 1);
    }

    #[test]
    fn a_share_keeps_at_least_one_token() {
        assert_eq!(spec(100, SEC, 100).share(33), spec(33, SEC, 33));
        assert_eq!(spec(2, SEC, 1).share(10), spec(1, SEC, 1));
    }
}
