//! Rate rules with no threads and no clock of their own: the time comes in as an
//! argument, so the scheduler decides when to ask and tests can drive time by hand.

use std::collections::VecDeque;

use std::time::Duration;

use crate::clock::{nanos, Nanos};
use crate::config::RateLimit;

/// The stacked rate rules of a client. Empty means unlimited.
///
/// Each rule is a GCRA token bucket kept in exact integer arithmetic: time is scaled
/// by `max_requests`, so the emission interval `window / max_requests` becomes
/// `window` scaled units and never has to be rounded. Capacity is `burst`, refill is
/// `max_requests` per `window`, and no partial token is ever dropped, so under
/// continuous demand any number of steps adds up to exactly
/// /// `burst + floor(elapsed * max_requests / window)` sends.
///
/// A strict rule also promises that no sliding window of length `window` *at the
/// server* ever holds more than `max_requests` arrivals, which the bucket alone cannot
/// once its burst exceeds what a window may hold. Send times seen here are not arrival
/// times (a request reaches the server somewhere between its dispatch and its
/// response, and connection set-up or a busy core moves that by milliseconds), so a
/// strict rule counts each send from its dispatch until `window` after its attempt
/// *completed* ([`Limiter::release`]): every arrival lies inside that span, so the
/// promise holds whatever the network does. The cost is one round trip of the rate
/// per window.
///
/// `demand_since` is the time since which the scheduler has been waiting on the
/// limiter alone (it is clamped to `now`). A send is credited at `max(earliest
/// allowed, demand_since)`, not at `now`: a scheduler that wakes 150 µs late then
/// loses no rate, because the bucket is charged at the time the token became
/// available while someone was waiting for it. When nobody was waiting,
/// `demand_since == now`. With continuous demand the scheduler passes the time
/// credited to the previous send. A `demand_since` that is earlier than the real
/// start of the wait lets the limiter make up for sends the scheduler never asked
/// for, so it must not be passed while the scheduler was held up by anything else
/// (the breaker, a full worker pool, an empty queue).
///
/// All rules are charged as of one credited time, the latest of the rules'
/// earliest allowed times and `demand_since`: a send cannot have happened before
/// every rule allowed it, so a rule that is not the binding one is not charged as if
/// it had gone earlier.
#[derive(Debug)]
pub struct Limiter {
    rules: Vec<Rule>,
    /// Rules counted in points (a GraphQL API's cost budget): a request takes its point
    /// cost from these and its token cost from `rules`. Never strict.
    points: Vec<Rule>,
    /// The pace a server's quota headers asked for, until its window resets.
    pace: Option<Pace>,
}

/// Sends spaced `interval` apart until `until`, the reset of the server's window.
#[derive(Debug)]
struct Pace {
    interval: u128,
    until: Nanos,
    /// When the last send was credited, if one was since the pace began.
    last: Option<Nanos>,
}

impl Pace {
    /// The earliest time the next send of `cost` may go, if the pace still holds.
    fn ready(&self, now: Nanos) -> Option<Nanos> {
        if now >= self.until {
            return None;
        }
        let last = self.last?;
        Some(to_nanos(u128::from(last) + self.interval).min(self.until))
    }
}

/// One rule. Times in the bucket are "scaled": nanoseconds multiplied by `max`.
#[derive(Debug)]
struct Rule {
    /// `max_requests`, the time scale.
    max: u128,
    /// The window in nanoseconds; also the emission interval in scaled units.
    window: u128,
    /// Bucket capacity.
    burst: u128,
    /// How far the theoretical arrival time may run ahead of now: `(burst - 1) * window`.
    tolerance: u128,
    /// Theoretical arrival time (scaled): the bucket is full whenever this is `<= now * max`.
    tat: u128,
    /// For a strict rule, the sends that still count against its window.
    ring: Option<Ring>,
    /// The window in nanoseconds, for the ring.
    window_ns: Nanos,
}

/// The sends a strict rule still counts: those in flight, and the completion times
/// of the last `max` finished ones, oldest first.
#[derive(Debug, Default)]
struct Ring {
    in_flight: u64,
    done: VecDeque<Nanos>,
}

impl Rule {
    fn new(limit: &RateLimit) -> Self {
        // `Config` validates these; clamping keeps a hand-built `RateLimit` of zeros
        // from dividing by zero or never letting anything through.
        let max = limit.max_requests.max(1);
        let window_ns = nanos(limit.window).max(1);
        let burst = u128::from(limit.burst.max(1));
        let window = u128::from(window_ns);
        Rule {
            max: u128::from(max),
            window,
            burst,
            tolerance: (burst - 1) * window,
            tat: 0,
            ring: limit.strict.then(Ring::default),
            window_ns,
        }
    }

    /// The exact earliest time (scaled) at which the bucket holds `cost` tokens.
    fn bucket_earliest(&self, cost: u128) -> u128 {
        (self.tat + (cost - 1) * self.window).saturating_sub(self.tolerance)
    }

    /// When the ring, if full at `now`, lets the next send go. Finished sends leave
    /// the window one `window` after they completed; sends in flight never leave by
    /// time, so when they alone fill the window no time is known: the answer is then a
    /// window from now, and a [`Limiter::release`] makes the caller ask again sooner.
    fn ring_ready(&self, now: Nanos, cost: u128) -> Option<Nanos> {
        let ring = self.ring.as_ref()?;
        let held = u128::from(ring.in_flight) + ring.done.len() as u128;
        if held + cost <= self.max {
            return None;
        }
        // This many finished sends must leave the window before `cost` more may go.
        let must_leave = (held + cost - self.max) as usize;
        Some(match ring.done.get(must_leave - 1) {
            Some(done) => done.saturating_add(self.window_ns),
            None => now.saturating_add(self.window_ns),
        })
    }

    /// The first whole nanosecond at which this rule allows a send of `cost` tokens.
    fn ready(&self, now: Nanos, cost: u128) -> Nanos {
        let bucket = to_nanos(self.bucket_earliest(cost).div_ceil(self.max));
        bucket.max(self.ring_ready(now, cost).unwrap_or(0))
    }

    /// The last whole nanosecond at or before this rule's exact earliest allowed time.
    /// Charging other rules from it (rather than from the rounded-up time) keeps the
    /// binding rule's own charge exact, so rounding never accumulates.
    fn ready_floor(&self, now: Nanos, cost: u128) -> Nanos {
        let bucket = to_nanos(self.bucket_earliest(cost) / self.max);
        bucket.max(self.ring_ready(now, cost).unwrap_or(0))
    }

    /// Takes `cost` tokens as of `credit` (a time at which every rule allowed the
    /// send); a strict rule counts them as in flight.
    fn charge(&mut self, credit: Nanos, cost: u128) {
        let credit = u128::from(credit) * self.max;
        self.tat = self.tat.max(credit) + cost * self.window;
        if let Some(ring) = self.ring.as_mut() {
            ring.in_flight += to_nanos(cost);
        }
    }

    /// A send of `cost` tokens completed at `now`: it counts until `now + window`.
    fn release(&mut self, now: Nanos, cost: u128) {
        let Some(ring) = self.ring.as_mut() else { return };
        ring.in_flight = ring.in_flight.saturating_sub(to_nanos(cost));
        // Completions may be reported slightly out of order; keep the ring sorted.
        let at = ring.done.iter().rposition(|&t| t <= now).map_or(0, |i| i + 1);
        for _ in 0..cost.min(self.max) {
            ring.done.insert(at, now);
        }
        while ring.done.len() as u128 > self.max {
            ring.done.pop_front();
        }
    }

    /// Lowers the bucket to `tokens` at `now` if it holds more; never raises it.
    fn hold_at_most(&mut self, now: Nanos, tokens: u64) {
        let held = u128::from(tokens).saturating_mul(self.window);
        if self.scaled_tokens(now) > held {
            let full = self.tolerance + self.window;
            self.tat = u128::from(now) * self.max + full - held.min(full);
        }
    }

    /// Corrects a charge of `charged` tokens to `actual` at `now` (see
    /// [`Limiter::correct_points`]): a refund never fills the bucket past full.
    fn correct(&mut self, now: Nanos, charged: u128, actual: u128) {
        let full_at = u128::from(now) * self.max;
        if actual < charged {
            let refund = (charged - actual).saturating_mul(self.window);
            self.tat = self.tat.saturating_sub(refund).max(full_at.min(self.tat));
        } else {
            let extra = (actual - charged).saturating_mul(self.window);
            self.tat = self.tat.max(full_at).saturating_add(extra);
        }
    }

    /// The largest cost one send may have: a bucket never holds more than `burst`
    /// tokens, and a strict window never more than `max` sends.
    fn max_cost(&self) -> u128 {
        if self.ring.is_some() {
            self.burst.min(self.max)
        } else {
            self.burst
        }
    }

    /// The tokens in the bucket at `now`, in scaled units of one `window` per token
    /// (fractions kept): `burst` tokens when full.
    fn scaled_tokens(&self, now: Nanos) -> u128 {
        let now = u128::from(now) * self.max;
        (now + self.tolerance + self.window).saturating_sub(self.tat.max(now))
    }

    /// This rule with `limit`'s rate and burst from `now` on, holding as many tokens
    /// as it held (up to the new burst, fractions rounded down): a change of limit
    /// neither loses nor invents tokens. A strict ring keeps what it counts.
    fn changed_to(self, limit: &RateLimit, now: Nanos) -> Rule {
        let mut next = Rule::new(limit);
        // Tokens held, as a fraction of the old window, rescaled to the new one.
        let held = self.scaled_tokens(now) * next.window / self.window;
        let full = next.tolerance + next.window;
        next.tat = u128::from(now) * next.max + full - held.min(full);
        if let (Some(next_ring), Some(ring)) = (next.ring.as_mut(), self.ring) {
            *next_ring = ring;
        }
        next
    }

    fn tokens(&self, now: Nanos) -> u64 {
        let bucket = (self.scaled_tokens(now) / self.window).min(self.burst);
        let ring = match &self.ring {
            Some(ring) => {
                let recent =
                    ring.done.iter().filter(|&&t| t.saturating_add(self.window_ns) > now).count();
                self.max.saturating_sub(recent as u128 + u128::from(ring.in_flight))
            }
            None => u128::MAX,
        };
        to_nanos(bucket.min(ring))
    }
}

/// Narrows a time or count to `u64`, saturating (only reachable near the end of time).
fn to_nanos(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

impl Limiter {
    /// A limiter enforcing every rule in `limits` at once, each starting with a full
    /// bucket.
    pub fn new(limits: &[RateLimit]) -> Self {
        Self::with_cost_limits(limits, &[])
    }

    /// A limiter enforcing every rule in `limits` (counted in requests, or in the
    /// tokens a weighted request costs) and every rule in `cost_limits` (counted in
    /// points, see [`Limiter::try_acquire_weighted`]), each starting full.
    pub fn with_cost_limits(limits: &[RateLimit], cost_limits: &[RateLimit]) -> Self {
        let points = cost_limits.iter().map(|l| Rule::new(&RateLimit { strict: false, ..*l }));
        Limiter {
            rules: limits.iter().map(Rule::new).collect(),
            points: points.collect(),
            pace: None,
        }
    }

    /// Takes one token from every rule if all allow a send at `now`, and returns
    /// the time the send is credited at (the latest over the rules, `<= now`).
    /// Otherwise changes nothing and returns `Err(t)`, the earliest time at which
    /// every rule may allow it (`t > now`); asking again at `t` succeeds unless
    /// something else was taken in between.
    pub fn try_acquire(&mut self, now: Nanos, demand_since: Nanos) -> Result<Nanos, Nanos> {
        self.try_acquire_cost(now, demand_since, 1)
    }

    /// [`Limiter::try_acquire`] for a send that costs `cost` tokens of every rule (a
    /// batch call that counts as ten, say). `cost` must be at least 1 and at most
    /// [`Limiter::max_cost`], or the send could never go.
    pub fn try_acquire_cost(
        &mut self,
        now: Nanos,
        demand_since: Nanos,
        cost: u32,
    ) -> Result<Nanos, Nanos> {
        self.try_acquire_weighted(now, demand_since, cost, cost)
    }

    /// [`Limiter::try_acquire_cost`] for a send that takes `cost` tokens from every
    /// request rule and `points` from every point rule (a GraphQL query counts as one
    /// request and as its point cost). `points` must be at most
    /// [`Limiter::max_points`].
    pub fn try_acquire_weighted(
        &mut self,
        now: Nanos,
        demand_since: Nanos,
        cost: u32,
        points: u32,
    ) -> Result<Nanos, Nanos> {
        let cost = u128::from(cost.max(1));
        let points = u128::from(points.max(1));
        let demand_since = demand_since.min(now);
        let paced = self.pace.as_ref().and_then(|p| p.ready(now)).unwrap_or(0);
        // Check every rule before charging any, so a refusal leaves all untouched.
        let weighted = || {
            let requests = self.rules.iter().map(move |r| (r, cost));
            requests.chain(self.points.iter().map(move |r| (r, points)))
        };
        let ready = weighted().map(|(r, c)| r.ready(now, c)).max().unwrap_or(0).max(paced);
        if ready > now {
            return Err(ready);
        }
        let floor = weighted().map(|(r, c)| r.ready_floor(now, c)).max().unwrap_or(0);
        let floor = floor.max(paced).max(demand_since);
        for rule in &mut self.rules {
            rule.charge(floor, cost);
        }
        for rule in &mut self.points {
            rule.charge(floor, points);
        }
        let credited = ready.max(demand_since);
        if let Some(pace) = self.pace.as_mut() {
            // A send of cost c spends c of the server's quota: the next waits c intervals.
            pace.last = Some(to_nanos(u128::from(credited) + pace.interval * (cost - 1)));
        }
        Ok(credited)
    }

    /// Corrects a send that was charged `charged` points once the server has said what
    /// it really cost (`actual`), at `now`: the difference is given back to every
    /// point rule (never filling one past its capacity), or, when the send cost more,
    /// taken as well (the bucket may then owe points, and the next sends wait).
    pub fn correct_points(&mut self, now: Nanos, charged: u32, actual: u64) {
        for rule in &mut self.points {
            rule.correct(now, u128::from(charged), u128::from(actual));
        }
    }

    /// Lowers every point rule to at most `available` points at `now` (a server that
    /// reports fewer left than the rule holds counted sends this client did not see);
    /// never raises one.
    pub fn hold_points_at_most(&mut self, now: Nanos, available: u64) {
        for rule in &mut self.points {
            rule.hold_at_most(now, available);
        }
    }

    /// The largest point cost a send may have (`u32::MAX` without a point rule).
    pub fn max_points(&self) -> u32 {
        let max = self.points.iter().map(|r| r.burst).min().unwrap_or(u128::MAX);
        u32::try_from(max).unwrap_or(u32::MAX)
    }

    /// Whole points available at `now` in the tightest point rule (`u64::MAX` without one).
    pub fn points_available(&self, now: Nanos) -> u64 {
        self.points.iter().map(|rule| rule.tokens(now)).min().unwrap_or(u64::MAX)
    }

    /// True when the limiter has a rule counted in points.
    pub fn has_points(&self) -> bool {
        !self.points.is_empty()
    }

    /// Reports that the attempt of one send granted by `try_acquire` completed at
    /// `now` (with a response or without). Strict rules count the send until one
    /// window after this; other rules need no report. Call it exactly once per grant.
    pub fn release(&mut self, now: Nanos) {
        self.release_cost(now, 1);
    }

    /// [`Limiter::release`] for a send granted by `try_acquire_cost` with `cost`.
    pub fn release_cost(&mut self, now: Nanos, cost: u32) {
        for rule in &mut self.rules {
            rule.release(now, u128::from(cost.max(1)));
        }
    }

    /// The largest cost a send may have (`u32::MAX` when unlimited): no rule's bucket
    /// ever holds more than its burst.
    pub fn max_cost(&self) -> u32 {
        let max = self.rules.iter().map(Rule::max_cost).min().unwrap_or(u128::MAX);
        u32::try_from(max).unwrap_or(u32::MAX)
    }

    /// Paces sends `interval` apart until `reset` from `now`, as a server's quota
    /// headers ask (its remaining requests spread evenly until its window resets), on
    /// top of every rule; a newer report replaces an older one. `remaining` also
    /// lowers the primary rule's bucket when it holds more than the server has left.
    pub fn pace(&mut self, now: Nanos, interval: Duration, reset: Duration, remaining: u64) {
        let last = self.pace.as_ref().filter(|p| now < p.until).and_then(|p| p.last);
        self.pace = Some(Pace {
            interval: u128::from(nanos(interval)),
            until: now.saturating_add(nanos(reset)),
            last,
        });
        if let Some(rule) = self.rules.first_mut() {
            rule.hold_at_most(now, remaining);
        }
    }

    /// Replaces the primary rule (the first; added when there is none) with `limit`
    /// as of `now`, keeping the tokens it held up to the new burst: a live change of
    /// limit neither loses nor invents tokens. Stacked rules stay as they are.
    pub fn set_primary(&mut self, limit: &RateLimit, now: Nanos) {
        if self.rules.is_empty() {
            self.rules.push(Rule::new(limit));
        } else {
            let old = self.rules.remove(0);
            self.rules.insert(0, old.changed_to(limit, now));
        }
    }

    /// Whole tokens available at `now` in the tightest rule (`u64::MAX` when
    /// unlimited); for a strict rule, also no more than its ring still allows.
    pub fn tokens_available(&self, now: Nanos) -> u64 {
        self.rules.iter().map(|rule| rule.tokens(now)).min().unwrap_or(u64::MAX)
    }

    /// The primary rule's requests per window, if there is one.
    pub fn primary_max(&self) -> Option<u32> {
        self.rules.first().map(|r| u32::try_from(r.max).unwrap_or(u32::MAX))
    }

    /// True when there is no rule, of requests or of points.
    pub fn is_unlimited(&self) -> bool {
        self.rules.is_empty() && self.points.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    const MS: Nanos = 1_000_000;
    const SEC: Nanos = 1_000_000_000;

    fn rule(max_requests: u32, window_ns: u64, burst: u32, strict: bool) -> RateLimit {
        RateLimit { max_requests, window: Duration::from_nanos(window_ns), burst, strict }
    }

    fn limiter(rules: &[RateLimit]) -> Limiter {
        Limiter::new(rules)
    }

    fn snapshot(l: &Limiter) -> String {
        format!("{l:?}")
    }

    #[test]
    fn a_weighted_send_takes_its_cost_from_every_rule() {
        // 10/s burst 10, and 100/min burst 12 stacked: a send of cost 4.
        let mut l = limiter(&[rule(10, SEC, 10, false), rule(100, 60 * SEC, 12, false)]);
        assert_eq!(l.max_cost(), 10);
        assert_eq!(l.try_acquire_cost(0, 0, 4), Ok(0));
        assert_eq!(l.try_acquire_cost(0, 0, 4), Ok(0));
        assert_eq!(l.tokens_available(0), 2);
        // Two left in the first rule: a cost of 4 waits for two more, 200 ms.
        assert_eq!(l.try_acquire_cost(0, 0, 4), Err(200 * MS));
        assert_eq!(l.try_acquire_cost(200 * MS, 0, 4), Ok(200 * MS));
        // The second rule, 0.6 s a token, was charged all 12 and refilled a third of
        // one: 9 more take 5.2 s, although the first rule is full long before.
        assert_eq!(l.try_acquire_cost(SEC, SEC, 9), Err(5400 * MS));
        assert_eq!(l.try_acquire_cost(5400 * MS, SEC, 9), Ok(5400 * MS));
    }

    #[test]
    fn a_query_takes_one_request_and_its_points() {
        // 10 requests/s beside a 1000-point bucket refilled at 50 points/s.
        let mut l = Limiter::with_cost_limits(
            &[rule(10, SEC, 10, false)],
            &[rule(1000, 20 * SEC, 1000, false)],
        );
        assert_eq!(l.max_cost(), 10);
        assert_eq!(l.max_points(), 1000);
        assert_eq!(l.try_acquire_weighted(0, 0, 1, 600), Ok(0));
        assert_eq!(l.tokens_available(0), 9, "one request");
        assert_eq!(l.points_available(0), 400);
        // 500 points wait for 100 more: 2 s at 50/s; nothing is charged meanwhile.
        assert_eq!(l.try_acquire_weighted(0, 0, 1, 500), Err(2 * SEC));
        assert_eq!(l.tokens_available(0), 9);
        assert_eq!(l.try_acquire_weighted(2 * SEC, 2 * SEC, 1, 500), Ok(2 * SEC));
        assert_eq!(l.points_available(2 * SEC), 0);
        // A plain request with no point rule's say takes its cost from both kinds.
        let mut plain = Limiter::with_cost_limits(&[], &[rule(10, SEC, 10, false)]);
        assert_eq!(plain.try_acquire_cost(0, 0, 4), Ok(0));
        assert_eq!(plain.points_available(0), 6);
        assert!(!plain.is_unlimited());
    }

    #[test]
    fn the_servers_actual_cost_refunds_or_charges_the_difference() {
        let mut l = Limiter::with_cost_limits(&[], &[rule(1000, 20 * SEC, 1000, false)]);
        assert_eq!(l.try_acquire_weighted(0, 0, 1, 300), Ok(0));
        assert_eq!(l.points_available(0), 700);
        // The query asked for 300 but cost 120: 180 come back.
        l.correct_points(10 * MS, 300, 120);
        assert_eq!(l.points_available(10 * MS), 880);
        // A refund never fills the bucket past its capacity.
        l.correct_points(4 * SEC, 300, 0);
        assert_eq!(l.points_available(4 * SEC), 1000);
        assert_eq!(l.try_acquire_weighted(4 * SEC, 4 * SEC, 1, 1000), Ok(4 * SEC));
        // A query that cost more than charged takes the rest, and the bucket owes it.
        l.correct_points(4 * SEC, 1000, 1100);
        assert_eq!(l.points_available(4 * SEC), 0);
        assert_eq!(
            l.try_acquire_weighted(4 * SEC, 4 * SEC, 1, 50),
            Err(7 * SEC),
            "100 owed + 50 at 50/s"
        );
        // Equal costs change nothing.
        let before = snapshot(&l);
        l.correct_points(5 * SEC, 10, 10);
        assert_eq!(snapshot(&l), before);
    }

    #[test]
    fn a_server_with_fewer_points_left_lowers_the_point_bucket() {
        let mut l = Limiter::with_cost_limits(
            &[rule(5, SEC, 5, false)],
            &[rule(1000, 20 * SEC, 1000, false)],
        );
        l.hold_points_at_most(0, 250);
        assert_eq!(l.points_available(0), 250);
        assert_eq!(l.tokens_available(0), 5, "the request rule is left alone");
        // Never raised by a server that reports more.
        l.hold_points_at_most(0, 900);
        assert_eq!(l.points_available(0), 250);
        // And it refills from there at its own rate: 50/s.
        assert_eq!(l.points_available(SEC), 300);
        assert_eq!(l.try_acquire_weighted(SEC, SEC, 1, 400), Err(3 * SEC));
    }

    #[test]
    fn a_strict_rule_counts_a_weighted_send_as_that_many_sends() {
        let mut l = limiter(&[rule(5, SEC, 5, true)]);
        assert_eq!(l.max_cost(), 5);
        assert_eq!(l.try_acquire_cost(0, 0, 3), Ok(0));
        assert!(l.try_acquire_cost(0, 0, 3).is_err(), "3 + 3 > 5 in the window");
        assert_eq!(l.try_acquire_cost(0, 0, 2), Ok(0));
        l.release_cost(10 * MS, 3);
        l.release_cost(20 * MS, 2);
        // All five count until a window after they completed.
        assert_eq!(l.try_acquire_cost(SEC, SEC, 1), Err(SEC + 10 * MS));
        assert_eq!(l.try_acquire_cost(SEC + 10 * MS, SEC, 3), Ok(SEC + 10 * MS));
    }

    #[test]
    fn a_servers_quota_is_spread_until_its_reset() {
        // No local limit; the server says 4 left, reset in 2 s: one every 500 ms.
        let mut l = limiter(&[]);
        l.pace(0, Duration::from_millis(500), Duration::from_secs(2), 4);
        assert_eq!(l.try_acquire(0, 0), Ok(0));
        assert_eq!(l.try_acquire(0, 0), Err(500 * MS));
        assert_eq!(l.try_acquire(500 * MS, 500 * MS), Ok(500 * MS));
        // A newer report (2 left, reset in 1.5 s) keeps the last send as its origin.
        l.pace(600 * MS, Duration::from_millis(750), Duration::from_millis(1500), 2);
        assert_eq!(l.try_acquire(600 * MS, 600 * MS), Err(1250 * MS));
        // A weighted send spends that many intervals.
        assert_eq!(l.try_acquire_cost(1250 * MS, 1250 * MS, 2), Ok(1250 * MS));
        assert_eq!(l.try_acquire(1250 * MS, 1250 * MS), Err(2100 * MS), "the reset ends the pace");
        // After the reset the pace no longer holds.
        assert_eq!(l.try_acquire(2100 * MS, 2100 * MS), Ok(2100 * MS));
        assert_eq!(l.try_acquire(2100 * MS, 2100 * MS), Ok(2100 * MS));
    }

    #[test]
    fn a_server_that_counts_fewer_left_lowers_the_bucket() {
        let mut l = limiter(&[rule(100, SEC, 100, false)]);
        assert_eq!(l.tokens_available(0), 100);
        l.pace(0, Duration::from_millis(100), Duration::from_secs(1), 10);
        assert_eq!(l.tokens_available(0), 10);
        // It never raises it.
        l.pace(0, Duration::from_millis(1), Duration::from_secs(1), 1000);
        assert_eq!(l.tokens_available(0), 10);
    }

    #[test]
    fn a_live_change_of_limit_keeps_the_tokens_held() {
        // 10/s, burst 10, half spent: 5 tokens held.
        let mut l = limiter(&[rule(10, SEC, 10, false)]);
        for _ in 0..5 {
            l.try_acquire(0, 0).unwrap();
        }
        l.set_primary(&rule(100, SEC, 100, false), 0);
        assert_eq!(l.tokens_available(0), 5, "no token invented by a higher limit");
        for _ in 0..5 {
            assert_eq!(l.try_acquire(0, 0), Ok(0));
        }
        assert_eq!(l.try_acquire(0, 0), Err(10 * MS), "then the new rate");
        // Down to 2/s, burst 2: held tokens cut to the new burst.
        let mut l = limiter(&[rule(10, SEC, 10, false)]);
        l.set_primary(&rule(2, SEC, 2, false), 0);
        assert_eq!(l.tokens_available(0), 2);
        // A fraction of a token carries over too: 10/s with 0.5 token held.
        let mut l = limiter(&[rule(10, SEC, 1, false)]);
        l.try_acquire(0, 0).unwrap();
        l.set_primary(&rule(1, SEC, 1, false), 50 * MS);
        assert_eq!(l.try_acquire(50 * MS, 50 * MS), Err(550 * MS));
        // With no limit before, one is added.
        let mut l = limiter(&[]);
        l.set_primary(&rule(1, SEC, 1, false), 0);
        assert!(!l.is_unlimited());
    }

    #[test]
    fn unlimited_always_allows() {
        let mut l = limiter(&[]);
        assert!(l.is_unlimited());
        assert_eq!(l.tokens_available(0), u64::MAX);
        for i in 0..1000 {
            assert_eq!(l.try_acquire(5, 5), Ok(5), "send {i}");
        }
        assert_eq!(l.try_acquire(10, 3), Ok(3));
        assert_eq!(l.tokens_available(10), u64::MAX);
    }

    #[test]
    fn limited_is_not_unlimited() {
        let l = limiter(&[RateLimit::new(1, Duration::from_secs(1)).unwrap()]);
        assert!(!l.is_unlimited());
    }

    #[test]
    fn burst_then_steady_rate() {
        // 10/s, burst 5: five at once, then one every 100 ms.
        let mut l = limiter(&[rule(10, SEC, 5, false)]);
        assert_eq!(l.tokens_available(0), 5);
        for _ in 0..5 {
            assert_eq!(l.try_acquire(0, 0), Ok(0));
        }
        assert_eq!(l.tokens_available(0), 0);
        assert_eq!(l.try_acquire(0, 0), Err(100 * MS));
        assert_eq!(l.try_acquire(100 * MS - 1, 0), Err(100 * MS));
        let mut prev = 0;
        for k in 1..=50 {
            let t = k * 100 * MS;
            assert_eq!(l.try_acquire(t, prev), Ok(t));
            assert_eq!(l.try_acquire(t, t), Err(t + 100 * MS));
            prev = t;
        }
    }

    #[test]
    fn idle_refills_to_burst_and_no_further() {
        let mut l = limiter(&[rule(10, SEC, 5, false)]);
        for _ in 0..5 {
            l.try_acquire(0, 0).unwrap();
        }
        assert_eq!(l.tokens_available(250 * MS), 2);
        assert_eq!(l.tokens_available(499 * MS), 4);
        assert_eq!(l.tokens_available(500 * MS), 5);
        assert_eq!(l.tokens_available(3600 * SEC), 5);
        let t = 3600 * SEC;
        for _ in 0..5 {
            assert_eq!(l.try_acquire(t, t), Ok(t));
        }
        assert_eq!(l.try_acquire(t, t), Err(t + 100 * MS));
    }

    #[test]
    fn partial_tokens_are_kept() {
        // 3 per 1000 ns: tokens arrive at 333.33.. ns intervals; none is lost to rounding.
        let mut l = limiter(&[rule(3, 1000, 1, false)]);
        assert_eq!(l.try_acquire(0, 0), Ok(0));
        assert_eq!(l.try_acquire(0, 0), Err(334));
        assert_eq!(l.try_acquire(334, 0), Ok(334));
        assert_eq!(l.try_acquire(334, 334), Err(667));
        assert_eq!(l.try_acquire(667, 334), Ok(667));
        assert_eq!(l.try_acquire(667, 667), Err(1000));
        assert_eq!(l.try_acquire(1000, 667), Ok(1000));
    }

    /// Continuous demand, polling every `step` ns; after each poll the number of sends
    /// must be exactly `burst + floor(t * max / window)`, and a refusal must name the
    /// exact nanosecond of the next token.
    fn exact_run(max: u32, window: u64, burst: u32, step: u64, steps: u64) {
        let mut l = limiter(&[rule(max, window, burst, false)]);
        let (m, w, b) = (u128::from(max), u128::from(window), u128::from(burst));
        let mut count: u128 = 0;
        let mut demand_since = 0;
        for k in 0..=steps {
            let now = k * step;
            loop {
                match l.try_acquire(now, demand_since) {
                    Ok(credited) => {
                        assert!(credited <= now);
                        demand_since = credited;
                        count += 1;
                    }
                    Err(t) => {
                        assert!(t > now);
                        // The next token: the first t with b + floor(t*m/w) > count.
                        let expected = ((count + 1 - b) * w).div_ceil(m);
                        assert_eq!(u128::from(t), expected, "next token, {max}/{window} at {now}");
                        break;
                    }
                }
            }
            let expected = b + u128::from(now) * m / w;
            assert_eq!(count, expected, "{max}/{window}ns burst {burst} step {step} at {now}");
        }
    }

    #[test]
    fn exact_3_per_1000ns_step_7() {
        exact_run(3, 1000, 1, 7, 1_000_000);
    }

    #[test]
    fn exact_3_per_1000ns_burst_3_step_13() {
        exact_run(3, 1000, 3, 13, 1_000_000);
    }

    #[test]
    fn exact_7_per_second_step_prime() {
        exact_run(7, SEC, 7, 999_983, 1_000_000);
    }

    #[test]
    fn exact_13_per_odd_window_coarse_steps() {
        // Steps of several tokens each: the poll drains them all, still exact.
        exact_run(13, 1_000_001, 5, 777_777, 1_000_000);
    }

    #[test]
    fn exact_1000_per_second_burst_1() {
        exact_run(1000, SEC, 1, 1_234_567, 1_000_000);
    }

    #[test]
    fn exact_when_demand_since_is_now_and_bucket_never_overflows() {
        // With a burst of at least 2 and polls closer than (burst-1) intervals,
        // the bucket alone absorbs the polling lateness.
        let mut l = limiter(&[rule(3, 1000, 3, false)]);
        let mut count: u64 = 0;
        for k in 0..=1_000_000u64 {
            let now = k * 11;
            while l.try_acquire(now, now).is_ok() {
                count += 1;
            }
            assert_eq!(count, 3 + now * 3 / 1000);
        }
    }

    /// A scheduler that always wakes `late` ns after the ready time it was given.
    /// Returns the credited times and the real time of the last wake-up.
    fn late_scheduler(
        l: &mut Limiter,
        sends: usize,
        late: Nanos,
        credit_demand: bool,
    ) -> (Vec<Nanos>, Nanos) {
        let mut now = 0;
        let mut prev = 0;
        let mut credited = Vec::with_capacity(sends);
        while credited.len() < sends {
            let demand_since = if credit_demand { prev } else { now };
            match l.try_acquire(now, demand_since) {
                Ok(c) => {
                    credited.push(c);
                    prev = c;
                }
                Err(t) => {
                    assert!(t > now);
                    now = t + late;
                }
            }
        }
        (credited, now)
    }

    #[test]
    fn late_scheduler_with_demand_credit_keeps_the_exact_rate() {
        let late = 150_000;
        for (max, window) in [(7u32, SEC), (100, SEC), (3, 1000 * MS + 1)] {
            let mut l = limiter(&[rule(max, window, 1, false)]);
            let n = 20_000;
            let (credited, end) = late_scheduler(&mut l, n, late, true);
            for (k, &c) in credited.iter().enumerate() {
                let exact = (k as u128 * u128::from(window)).div_ceil(u128::from(max));
                assert_eq!(u128::from(c), exact, "send {k} of {max}/{window}");
            }
            // Over the whole run: exactly burst + floor(T * max / window) sends.
            let t = *credited.last().unwrap();
            assert_eq!(n as u128, 1 + u128::from(t) * u128::from(max) / u128::from(window));
            assert_eq!(end, t + late);
        }
    }

    #[test]
    fn late_scheduler_without_demand_credit_loses_rate() {
        let late = 150_000;
        let n = 20_000;
        let mut l = limiter(&[rule(100, SEC, 1, false)]);
        let (credited, _) = late_scheduler(&mut l, n, late, false);
        // Every send slips by the lateness: 10.15 ms apart instead of 10 ms.
        for w in credited.windows(2) {
            assert_eq!(w[1] - w[0], 10 * MS + late);
        }
        let t = *credited.last().unwrap();
        let configured = 1 + u128::from(t) * 100 / u128::from(SEC);
        assert!(configured - n as u128 > 290, "lost {} of {configured}", configured - n as u128);

        // The same scheduler with demand credit keeps the configured rate.
        let mut l = limiter(&[rule(100, SEC, 1, false)]);
        let (credited, _) = late_scheduler(&mut l, n, late, true);
        let t = *credited.last().unwrap();
        assert_eq!(n as u128, 1 + u128::from(t) * 100 / u128::from(SEC));
    }

    #[test]
    fn demand_since_after_now_is_clamped() {
        let mut l = limiter(&[rule(10, SEC, 1, false)]);
        assert_eq!(l.try_acquire(50, 1_000), Ok(50));
        assert_eq!(l.try_acquire(50, 1_000), Err(100 * MS + 50));
    }

    #[test]
    fn demand_since_later_than_token_is_credited_at_demand() {
        let mut l = limiter(&[rule(10, SEC, 1, false)]);
        assert_eq!(l.try_acquire(0, 0), Ok(0));
        // Token at 100 ms; demand appeared at 130 ms; served at 180 ms.
        assert_eq!(l.try_acquire(180 * MS, 130 * MS), Ok(130 * MS));
        assert_eq!(l.try_acquire(180 * MS, 130 * MS), Err(230 * MS));
    }

    #[test]
    fn stacked_rules_are_both_enforced() {
        // 10/s and 25/10s: the first binds for two seconds, the second afterwards.
        let mut l = limiter(&[
            RateLimit::new(10, Duration::from_secs(1)).unwrap(),
            RateLimit::new(25, Duration::from_secs(10)).unwrap(),
        ]);
        let mut sends = Vec::new();
        let mut demand_since = 0;
        let step = MS;
        for k in 0..=60_000u64 {
            let now = k * step;
            while let Ok(c) = l.try_acquire(now, demand_since) {
                sends.push(now);
                demand_since = c;
            }
            if now == SEC {
                assert_eq!(sends.len(), 20, "10 burst + 10 in the first second");
            }
            if now >= 2 * SEC {
                assert_eq!(sends.len() as u64, 25 + now * 25 / (10 * SEC), "at {now}");
            }
        }
        // Every window of either length holds at most burst + the refill of the window.
        for (window, max) in [(SEC, 20), (10 * SEC, 50)] {
            for (i, &start) in sends.iter().enumerate() {
                let within = sends[i..].iter().take_while(|&&t| t < start + window).count();
                assert!(within <= max, "{within} sends within {window} from {start}");
            }
        }
        // And the per-second rule alone keeps each second to 10 once the burst is gone.
        let late: Vec<_> = sends.iter().filter(|&&t| t >= 5 * SEC).collect();
        for (i, &&start) in late.iter().enumerate() {
            let within = late[i..].iter().take_while(|&&&t| t < start + SEC).count();
            assert!(within <= 10);
        }
    }

    #[test]
    fn refusal_changes_nothing_in_any_rule() {
        let mut l =
            limiter(&[rule(10, SEC, 10, false), rule(2, SEC, 2, false), rule(3, SEC, 3, true)]);
        assert_eq!(l.try_acquire(0, 0), Ok(0));
        assert_eq!(l.try_acquire(0, 0), Ok(0));
        assert_eq!(l.tokens_available(0), 0);
        let before = snapshot(&l);
        for now in [0, 1, 499 * MS, 500 * MS - 1] {
            assert_eq!(l.try_acquire(now, 0), Err(500 * MS));
            assert_eq!(snapshot(&l), before);
        }
        // The first rule was not charged by the refusals: it still has 8 of 10.
        assert_eq!(l.rules[0].tokens(0), 8);
        assert_eq!(l.try_acquire(500 * MS, 0), Ok(500 * MS));
    }

    #[test]
    fn err_is_the_latest_rule_and_succeeds_when_called_then() {
        let mut l = limiter(&[rule(10, SEC, 1, false), rule(4, SEC, 1, false)]);
        assert_eq!(l.try_acquire(0, 0), Ok(0));
        assert_eq!(l.try_acquire(10, 10), Err(250 * MS));
        assert_eq!(l.try_acquire(250 * MS, 10), Ok(250 * MS));
        // The 10/s rule was charged as of 250 ms, the real earliest send.
        assert_eq!(l.rules[0].ready(0, 1), 350 * MS);
    }

    #[test]
    fn tokens_available_is_the_tightest_rule() {
        let mut l = limiter(&[rule(10, SEC, 10, false), rule(100, 60 * SEC, 4, false)]);
        assert_eq!(l.tokens_available(0), 4);
        l.try_acquire(0, 0).unwrap();
        assert_eq!(l.tokens_available(0), 3);
        assert_eq!(l.rules[0].tokens(0), 9);
    }

    #[test]
    fn strict_rule_limits_a_large_burst_to_the_window() {
        // Burst 8 on a strict 5/s rule: the ring still allows only 5 per second.
        let mut l = limiter(&[rule(5, SEC, 8, true)]);
        assert_eq!(l.tokens_available(0), 5);
        for _ in 0..5 {
            assert_eq!(l.try_acquire(0, 0), Ok(0));
            l.release(0);
        }
        assert_eq!(l.tokens_available(0), 0);
        assert_eq!(l.try_acquire(0, 0), Err(SEC));
        assert_eq!(l.try_acquire(SEC - 1, 0), Err(SEC));
        assert_eq!(l.try_acquire(SEC, SEC), Ok(SEC));
    }

    #[test]
    fn strict_counts_a_send_until_a_window_after_it_completed() {
        let mut l = limiter(&[rule(2, SEC, 2, true)]);
        assert_eq!(l.try_acquire(0, 0), Ok(0));
        assert_eq!(l.try_acquire(100 * MS, 100 * MS), Ok(100 * MS));
        // Both in flight: no time is known, so the answer is a window from now.
        assert_eq!(l.try_acquire(200 * MS, 200 * MS), Err(1200 * MS));
        assert_eq!(l.tokens_available(200 * MS), 0);
        // The first completes at 700 ms: it counts until 1.7 s.
        l.release(700 * MS);
        assert_eq!(l.try_acquire(800 * MS, 800 * MS), Err(1700 * MS));
        assert_eq!(l.try_acquire(1700 * MS - 1, 800 * MS), Err(1700 * MS));
        assert_eq!(l.try_acquire(1700 * MS, 1700 * MS), Ok(1700 * MS));
        // Completions reported out of order still leave in time order.
        l.release(2500 * MS);
        l.release(2000 * MS);
        assert_eq!(l.try_acquire(2600 * MS, 2600 * MS), Err(3000 * MS));
        assert_eq!(l.try_acquire(3000 * MS, 3000 * MS), Ok(3000 * MS));
        assert_eq!(l.try_acquire(3000 * MS, 3000 * MS), Err(3500 * MS));
    }

    /// A server sees each request somewhere between its dispatch and its completion.
    /// Whatever that delay, no window at the server holds more than the maximum.
    #[test]
    fn strict_holds_at_the_server_whatever_the_latency() {
        let mut rng = StdRng::seed_from_u64(0x0a77_10a1);
        let (m, w) = (10usize, SEC);
        let mut l = limiter(&[rule(m as u32, w, m as u32, true)]);
        let mut now: Nanos = 0;
        // (completion time, arrival time) of sends in flight.
        let mut in_flight: Vec<(Nanos, Nanos)> = Vec::new();
        let mut arrivals = Vec::new();
        for _ in 0..200_000 {
            in_flight.sort_unstable();
            while in_flight.first().is_some_and(|&(done, _)| done <= now) {
                let (done, arrival) = in_flight.remove(0);
                l.release(done);
                arrivals.push(arrival);
            }
            if l.try_acquire(now, now).is_ok() {
                let latency = rng.gen_range(0..300 * MS);
                let arrival = now + rng.gen_range(0..=latency);
                in_flight.push((now + latency, arrival));
            }
            now += rng.gen_range(0..20 * MS);
        }
        arrivals.sort_unstable();
        assert!(arrivals.len() > 10_000, "the run should send a lot ({})", arrivals.len());
        for i in 0..arrivals.len() - m {
            assert!(arrivals[i + m] >= arrivals[i] + w, "{} arrivals within {w} ns", m + 1);
        }
    }

    #[test]
    fn strict_randomized_sliding_window() {
        let mut rng = StdRng::seed_from_u64(0x5eed_2024);
        let configs = [
            vec![rule(5, SEC, 5, true)],
            vec![rule(5, SEC, 9, true)],
            vec![rule(7, 300 * MS, 3, true), rule(50, 10 * SEC, 50, false)],
            vec![rule(3, 1000, 3, true)],
        ];
        for rules in &configs {
            let strict = rules[0];
            let (m, w) = (strict.max_requests as usize, nanos(strict.window));
            let mut l = limiter(rules);
            let mut now: Nanos = 0;
            let mut prev_credit = 0;
            let mut sends = Vec::new();
            for _ in 0..100_000 {
                let demand_since = match rng.gen_range(0..3) {
                    0 => now,
                    1 => prev_credit.min(now),
                    _ => rng.gen_range(prev_credit.min(now)..=now),
                };
                let before = snapshot(&l);
                match l.try_acquire(now, demand_since) {
                    Ok(c) => {
                        assert!(c <= now && c >= demand_since);
                        prev_credit = c;
                        sends.push(now);
                        l.release(now);
                    }
                    Err(t) => {
                        assert!(t > now);
                        assert_eq!(snapshot(&l), before);
                        if rng.gen_bool(0.5) {
                            // Calling at exactly the time given succeeds.
                            now = t;
                            let c = l.try_acquire(now, demand_since.min(now)).expect("ready at t");
                            prev_credit = c;
                            sends.push(now);
                            l.release(now);
                        }
                    }
                }
                now += match rng.gen_range(0..4) {
                    0 => 0,
                    1 => rng.gen_range(0..w / 10 + 1),
                    2 => rng.gen_range(0..w),
                    _ => rng.gen_range(0..3 * w),
                };
            }
            assert!(sends.len() > 10_000, "the run should send a lot ({})", sends.len());
            // No half-open window [s, s + w) holds more than m sends.
            for i in 0..sends.len().saturating_sub(m) {
                assert!(
                    sends[i + m] >= sends[i] + w,
                    "{} sends within {w} ns from {}",
                    m + 1,
                    sends[i]
                );
            }
        }
    }

    #[test]
    fn huge_numbers_do_not_overflow() {
        let mut l = limiter(&[
            RateLimit {
                max_requests: u32::MAX,
                window: Duration::from_secs(u64::MAX),
                burst: u32::MAX,
                strict: false,
            },
            rule(u32::MAX, 1, 1, false),
            rule(1, u64::MAX, 1, true),
        ]);
        let far = u64::MAX - 1;
        assert_eq!(l.try_acquire(far, far), Ok(far));
        assert_eq!(l.try_acquire(far, far), Err(u64::MAX));
        assert_eq!(l.tokens_available(far), 0);
    }

    #[test]
    fn zero_fields_are_clamped() {
        let mut l = limiter(&[RateLimit {
            max_requests: 0,
            window: Duration::ZERO,
            burst: 0,
            strict: true,
        }]);
        assert_eq!(l.try_acquire(0, 0), Ok(0));
        l.release(0);
        assert_eq!(l.try_acquire(0, 0), Err(1));
        assert_eq!(l.try_acquire(1, 1), Ok(1));
    }
}
