//! Finding a limit nobody published: additive increase, multiplicative decrease of
//! the *rate* (Netflix's concurrency-limits and Envoy's adaptive concurrency steer
//! concurrency; rlc steers the rate, which is what an API counts). A plain struct;
//! time is an argument.
//!
//! A throttle (a 429, or a 503 with `Retry-After`, that came without quota headers
//! to pace from) cuts the rate to three quarters and remembers the rate that was
//! throttled (the knee), then ignores further throttles for a second: the requests
//! already in flight were sent at the old rate and say nothing new. Every second
//! without a throttle climbs back, as TCP's slow start and congestion avoidance do:
//! a tenth of the knee while well below it, a fortieth within 10 % of it (where the
//! limit probably is), and a tenth of the configured rate once well past it without
//! a throttle (the limit has gone up), never above the configured rate. The rate never drops
//! below a hundredth of the configured one (and one request per window), so a
//! client always keeps probing.

use crate::clock::Nanos;

const SEC: Nanos = 1_000_000_000;
/// The cut on a throttle, as a fraction: new = old * CUT_NUM / CUT_DEN.
const CUT_NUM: u64 = 3;
const CUT_DEN: u64 = 4;
/// The climb per quiet second, as a fraction of the configured rate: fast while
/// below 90 % of the knee or above it, slow just under it.
const FAST_CLIMB_DEN: u64 = 10;
const SLOW_CLIMB_DEN: u64 = 40;
/// How long after a cut further throttles are ignored, and how often the rate climbs.
const STEP: Nanos = SEC;

/// The effective rate, in requests per the configured window.
#[derive(Debug)]
pub struct AdaptiveRate {
    ceiling: u64,
    floor: u64,
    current: u64,
    /// The last rate that was throttled (the configured rate until one was).
    knee: u64,
    /// Throttles before this time do not cut again.
    calm_after: Nanos,
    /// When the rate next climbs, if no throttle comes first.
    next_climb: Nanos,
}

impl AdaptiveRate {
    /// Starts at the configured rate, `ceiling` requests per window.
    pub fn new(ceiling: u32, now: Nanos) -> Self {
        let ceiling = u64::from(ceiling.max(1));
        AdaptiveRate {
            ceiling,
            floor: (ceiling / 100).max(1),
            current: ceiling,
            knee: ceiling,
            calm_after: now,
            next_climb: now + STEP,
        }
    }

    /// The effective rate now, in requests per window.
    pub fn current(&self) -> u32 {
        u32::try_from(self.current).unwrap_or(u32::MAX)
    }

    /// A throttle came back at `now`. Returns the new rate when it changed.
    pub fn on_throttle(&mut self, now: Nanos) -> Option<u32> {
        if now < self.calm_after {
            return None;
        }
        self.calm_after = now + STEP;
        self.next_climb = now + STEP;
        self.knee = self.current;
        let cut = (self.current * CUT_NUM / CUT_DEN).max(self.floor);
        (cut != self.current).then(|| {
            self.current = cut;
            self.current()
        })
    }

    /// Any other answer came back at `now`. Returns the new rate when it climbed.
    pub fn on_answer(&mut self, now: Nanos) -> Option<u32> {
        if now < self.next_climb || self.current >= self.ceiling {
            return None;
        }
        // One step per whole quiet second since the last, so a late call catches up.
        let steps = (now - self.next_climb) / STEP + 1;
        self.next_climb += steps * STEP;
        for _ in 0..steps.min(self.ceiling) {
            // Steps below the knee are sized by the knee, so a limit far under the
            // configured rate is not overshot; past it, by the configured rate.
            let climb = if self.current * 10 < self.knee * 9 {
                self.knee / FAST_CLIMB_DEN
            } else if self.current * 10 < self.knee * 11 {
                self.knee / SLOW_CLIMB_DEN
            } else {
                self.ceiling / FAST_CLIMB_DEN
            };
            self.current = (self.current + climb.max(1)).min(self.ceiling);
        }
        Some(self.current())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    const MS: Nanos = 1_000_000;

    #[test]
    fn a_throttle_cuts_once_per_second_and_quiet_seconds_climb_back() {
        let mut a = AdaptiveRate::new(100, 0);
        assert_eq!(a.on_throttle(0), Some(75));
        assert_eq!(a.on_throttle(500 * MS), None, "in flight at the old rate");
        assert_eq!(a.on_answer(SEC - 1), None);
        // Well below the knee (100, the rate throttled): a tenth of 100 a second.
        assert_eq!(a.on_answer(SEC), Some(85));
        assert_eq!(a.on_answer(2 * SEC), Some(95));
        // Within 10 % of the knee: a fortieth.
        assert_eq!(a.on_answer(3 * SEC), Some(97));
        // A second throttle moves the knee to 97 and cuts to 72.
        assert_eq!(a.on_throttle(3 * SEC + 1), Some(72));
        // Three quiet seconds later, three steps at once: +9, +9 (81, 90 > 87.3: slow
        // from here), +2.
        assert_eq!(a.on_answer(6 * SEC + 1), Some(92));
        assert_eq!(a.on_answer(100 * SEC), Some(100), "never above the configured rate");
        assert_eq!(a.on_answer(200 * SEC), None);
    }

    #[test]
    fn the_rate_never_falls_below_the_floor() {
        let mut a = AdaptiveRate::new(100, 0);
        for s in 0..100 {
            a.on_throttle(s * SEC);
        }
        assert_eq!(a.current(), 1);
        let mut small = AdaptiveRate::new(1, 0);
        assert_eq!(small.on_throttle(0), None);
        assert_eq!(small.current(), 1);
    }

    /// A server with a hidden rolling-window limit, and a client sending evenly at
    /// the adaptive rate: after the first cuts it settles near the hidden limit and
    /// stays within a band, throttled on a small share of its sends.
    fn simulate(ceiling: u32, hidden: u64, seconds: u64) -> (f64, f64) {
        let mut a = AdaptiveRate::new(ceiling, 0);
        let mut window: VecDeque<Nanos> = VecDeque::new();
        let (mut now, mut sent, mut throttled, mut accepted_late) = (0, 0u64, 0u64, 0u64);
        while now < seconds * SEC {
            while window.front().is_some_and(|t| *t + SEC <= now) {
                window.pop_front();
            }
            sent += 1;
            if window.len() as u64 >= hidden {
                throttled += 1;
                a.on_throttle(now);
            } else {
                window.push_back(now);
                if now >= 10 * SEC {
                    accepted_late += 1;
                }
                a.on_answer(now);
            }
            now += SEC / u64::from(a.current());
        }
        let reached = accepted_late as f64 / ((seconds - 10) * hidden) as f64;
        (reached, throttled as f64 / sent as f64)
    }

    #[test]
    fn it_finds_a_hidden_limit_without_storming_it() {
        for (ceiling, hidden) in [(100, 50), (100, 90), (1000, 300), (20, 10)] {
            let (reached, throttled) = simulate(ceiling, hidden, 120);
            assert!(reached >= 0.8, "{ceiling} vs {hidden}: reached {reached:.3}");
            assert!(throttled <= 0.05, "{ceiling} vs {hidden}: throttled {throttled:.3}");
        }
    }
}
