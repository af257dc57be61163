//! The lease: tokens of the shared limit held by this client, topped up by the lease
//! thread from Redis and spent by the scheduler as a local allowance. The scheduler
//! only ever touches the allowance (under its own lock, no I/O); the lease thread does
//! every round trip with no lock held, then deposits what it got and wakes the
//! scheduler.
//!
//! How much to take: as many tokens as there are requests waiting, up to the lease
//! size, so one at a time when demand is low and a batch per round trip when it is
//! high. Tokens may be reserved a little ahead (within the horizon): the script then
//! says when they are due, and they are spent no earlier, so the shared limit loses no
//! rate to round-trip time and no client sends before its token's time. A client
//! holds at most a lease of tokens it has not spent, so the shared rate may exceed the
//! limit by at most the lease size (per client) in any window.
//!
//! While Redis is away the failure policy decides (see [`FailurePolicy`]); tokens
//! already leased stay good. The lease thread reconnects with backoff (50 ms doubling
//! to 500 ms), so the client is back on Redis within about half a second of its return.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::conn::{Gcra, Link};
use super::gcra::{LimitSpec, Twin};
use super::{FailurePolicy, RedisState, RedisStatus};
use crate::clock::Nanos;
use crate::event::Event;

/// Leased tokens not spent this long after they were due are dropped: a client that
/// stopped wanting them should not send them in a lump much later.
const STALE: Nanos = 1_000_000_000;

/// The first wait before reconnecting, and the longest.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_millis(500);

/// What the lease thread needs from the client it serves.
pub(crate) trait Host: Send + Sync {
    /// The client's monotonic time.
    fn now(&self) -> Nanos;
    /// How many requests wait in the queue now (takes the scheduler's lock briefly).
    fn demand(&self) -> u64;
    /// Wakes the scheduler: tokens arrived, or the state changed.
    fn wake(&self);
    /// A pause shared through Redis: the client pauses for `pause` from now.
    fn pause(&self, pause: Duration);
    /// Hands an event to the completion thread.
    fn event(&self, event: Event);
}

/// How the scheduler took a send's tokens; given back with [`Lease::refund`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Taken {
    /// From the lease.
    Lease(u64),
    /// From the local limiter, Redis being away: at a share of the rate
    /// (`RLC_REDIS_FAIL_LOCAL`) or at the whole rate (`RLC_REDIS_FAIL_OPEN`).
    Local(u64),
}

/// The fixed parameters of a lease.
pub(crate) struct Params {
    pub key: String,
    pub limits: Vec<LimitSpec>,
    pub max_lease: u64,
    pub horizon_us: u64,
    pub policy: FailurePolicy,
    /// The local share in percent while Redis is away; None: 100 / clients seen.
    pub local_share: Option<u64>,
    pub client_id: String,
}

/// The allowance and the link's state, shared by the scheduler and the lease thread.
pub(crate) struct Lease {
    params: Params,
    inner: Mutex<Inner>,
    /// Wakes the lease thread.
    kick: Condvar,
}

struct Inner {
    /// Leased tokens: (due, count), in due order.
    tokens: VecDeque<(Nanos, u64)>,
    held: u64,
    /// The tokens the request at the head of the queue needs, while it waits for them.
    need: u64,
    up: bool,
    down_since: Option<Nanos>,
    down_total: Nanos,
    /// The local limiter while Redis is away, with its limits.
    local: Twin,
    local_limits: Vec<LimitSpec>,
    clients: u64,
    /// A pause to write to Redis, in microseconds.
    pause_out: Option<u64>,
    stop: bool,
    leased: u64,
    round_trips: u64,
}

impl Inner {
    fn drop_stale(&mut self, now: Nanos) {
        while let Some(&(due, n)) = self.tokens.front() {
            if due.saturating_add(STALE) > now {
                break;
            }
            self.tokens.pop_front();
            self.held -= n;
        }
    }

    fn due(&self, now: Nanos) -> u64 {
        self.tokens.iter().take_while(|(due, _)| *due <= now).map(|(_, n)| n).sum()
    }

    /// When `cost` tokens will be due, if that many are held.
    fn due_at(&self, cost: u64) -> Option<Nanos> {
        let mut sum = 0;
        for &(due, n) in &self.tokens {
            sum += n;
            if sum >= cost {
                return Some(due);
            }
        }
        None
    }

    fn spend(&mut self, mut cost: u64) {
        self.held -= cost;
        while cost > 0 {
            let front = self.tokens.front_mut().expect("spent tokens are held");
            let n = front.1.min(cost);
            front.1 -= n;
            cost -= n;
            if front.1 == 0 {
                self.tokens.pop_front();
            }
        }
    }

    fn deposit(&mut self, due: Nanos, n: u64) {
        let at = self.tokens.iter().rposition(|&(d, _)| d <= due).map_or(0, |i| i + 1);
        self.tokens.insert(at, (due, n));
        self.held += n;
        self.leased += n;
    }
}

impl Lease {
    pub fn new(params: Params, up: bool, clients: u64, now: Nanos) -> Arc<Lease> {
        let mut inner = Inner {
            tokens: VecDeque::new(),
            held: 0,
            need: 0,
            up,
            down_since: None,
            down_total: 0,
            local: Twin::new(),
            local_limits: Vec::new(),
            clients,
            pause_out: None,
            stop: false,
            leased: 0,
            round_trips: 0,
        };
        if !up {
            go_down(&params, &mut inner, now);
        }
        Arc::new(Lease { params, inner: Mutex::new(inner), kick: Condvar::new() })
    }

    /// The scheduler's question, under its lock: may a send of `cost` tokens go now?
    /// `queued` is the number of requests waiting (the demand the lease serves).
    /// `Err(Some(t))`: not before `t`; `Err(None)`: when woken.
    pub fn try_take(&self, now: Nanos, cost: u32, queued: usize) -> Result<Taken, Option<Nanos>> {
        let cost = u64::from(cost.max(1));
        let mut inner = self.inner.lock();
        inner.drop_stale(now);
        if inner.due(now) >= cost {
            inner.spend(cost);
            if inner.up && (queued as u64).saturating_sub(1) > inner.held {
                self.kick.notify_one();
            }
            return Ok(Taken::Lease(cost));
        }
        if inner.up {
            inner.need = cost;
            self.kick.notify_one();
            // Tokens reserved ahead come due by themselves; fresh ones wake us. The
            // timer is only a safety net.
            let safety = now.saturating_add(250_000_000);
            return Err(Some(inner.due_at(cost).map_or(safety, |t| t.min(safety))));
        }
        match self.params.policy {
            FailurePolicy::Closed => Err(inner.due_at(cost)),
            FailurePolicy::Local | FailurePolicy::Open => {
                let now_us = now / 1000;
                let inner = &mut *inner;
                let d = inner.local.take(now_us, &inner.local_limits, cost, cost, 0);
                if d.granted > 0 {
                    Ok(Taken::Local(cost))
                } else {
                    let t = now.saturating_add(d.wait_us.saturating_mul(1000));
                    Err(Some(inner.due_at(cost).map_or(t, |due| due.min(t))))
                }
            }
        }
    }

    /// Gives back tokens taken by [`Lease::try_take`] for a send that did not go.
    pub fn refund(&self, now: Nanos, taken: Taken) {
        let mut inner = self.inner.lock();
        match taken {
            Taken::Lease(n) => inner.deposit(now, n),
            Taken::Local(n) => {
                let inner = &mut *inner;
                inner.local.refund(now / 1000, &inner.local_limits, n);
            }
        }
        if let Taken::Lease(n) = taken {
            inner.leased -= n;
        }
    }

    /// The largest cost one send may have: the smallest burst of the limits.
    pub fn max_cost(&self) -> u32 {
        let burst = self.params.limits.iter().map(|l| l.burst).min().unwrap_or(u64::MAX);
        u32::try_from(burst).unwrap_or(u32::MAX)
    }

    /// Shares a pause the server asked for with every client on the key.
    pub fn share_pause(&self, pause: Duration) {
        let us = u64::try_from(pause.as_micros()).unwrap_or(u64::MAX);
        let mut inner = self.inner.lock();
        inner.pause_out = Some(inner.pause_out.unwrap_or(0).max(us));
        self.kick.notify_one();
    }

    /// Stops the lease thread (it ends after its current round trip).
    pub fn stop(&self) {
        self.inner.lock().stop = true;
        self.kick.notify_all();
    }

    pub fn status(&self, now: Nanos) -> RedisStatus {
        let inner = self.inner.lock();
        let down = inner.down_since.map_or(0, |since| now.saturating_sub(since));
        RedisStatus {
            state: if inner.up { RedisState::Connected } else { RedisState::Disconnected },
            round_trips: inner.round_trips,
            down_ms: (inner.down_total + down) / 1_000_000,
            tokens_leased: inner.leased,
            tokens_held: inner.held,
            clients: inner.clients,
        }
    }

    /// The lease thread's body: until stopped, keeps the allowance topped up while
    /// there is demand, writes shared pauses, and reconnects while Redis is away.
    pub fn run(&self, mut link: Link, host: &dyn Host) {
        let script = Gcra::new();
        let mut backoff = BACKOFF_MIN;
        let mut not_before: Option<Instant> = None;
        let mut retry_at: Option<Instant> = None;
        loop {
            let demand = host.demand();
            // Decide what to do, or sleep until there is something.
            let work = {
                let mut inner = self.inner.lock();
                let now = Instant::now();
                if inner.stop {
                    return;
                }
                let ask = if let Some(pause) = inner.pause_out.filter(|_| inner.up) {
                    Some(Work::Pause(pause))
                } else if !inner.up {
                    match retry_at {
                        Some(t) if t > now => None,
                        _ => Some(Work::Reconnect),
                    }
                } else if not_before.is_some_and(|t| t > now) {
                    None
                } else {
                    ask(demand, self.params.max_lease, inner.need, inner.held)
                };
                match ask {
                    Some(work) => work,
                    None => {
                        let until = match (inner.up, not_before, retry_at) {
                            (true, Some(t), _) if t > now => t,
                            (false, _, Some(t)) if t > now => t,
                            _ => now + Duration::from_millis(100),
                        };
                        self.kick.wait_until(&mut inner, until);
                        continue;
                    }
                }
            };
            match work {
                Work::Reconnect => {
                    let result = link.connect();
                    let mut inner = self.inner.lock();
                    if result.is_ok() {
                        backoff = BACKOFF_MIN;
                        retry_at = None;
                        not_before = None;
                        let now = host.now();
                        let since = inner.down_since.take().unwrap_or(now);
                        inner.down_total += now.saturating_sub(since);
                        inner.up = true;
                        drop(inner);
                        host.event(Event::Redis {
                            connected: true,
                            down_for: Duration::from_nanos(now.saturating_sub(since)),
                        });
                        host.wake();
                    } else {
                        retry_at = Some(Instant::now() + backoff);
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                }
                Work::Pause(pause_us) => {
                    let result = link.pause(&script, &self.params.key, pause_us);
                    let mut inner = self.inner.lock();
                    inner.round_trips = link.round_trips;
                    match result {
                        Ok(_) => {
                            if inner.pause_out == Some(pause_us) {
                                inner.pause_out = None;
                            }
                        }
                        Err(_) => self.lost(&mut inner, &mut link, host, &mut retry_at),
                    }
                }
                Work::Take(min, max) => {
                    let p = &self.params;
                    let result =
                        link.take(&script, &p.key, &p.limits, min, max, p.horizon_us, &p.client_id);
                    let now = host.now();
                    let mut inner = self.inner.lock();
                    inner.round_trips = link.round_trips;
                    match result {
                        Ok((d, clients)) => {
                            inner.clients = clients.max(1);
                            if d.granted > 0 {
                                let due = now.saturating_add(d.due_us.saturating_mul(1000));
                                inner.deposit(due, d.granted);
                                if inner.held >= inner.need {
                                    inner.need = 0;
                                }
                                not_before = None;
                            } else {
                                not_before =
                                    Some(Instant::now() + Duration::from_micros(d.wait_us));
                            }
                            drop(inner);
                            if d.pause_us > 0 {
                                host.pause(Duration::from_micros(d.pause_us));
                            }
                            if d.granted > 0 {
                                host.wake();
                            }
                        }
                        Err(_) => self.lost(&mut inner, &mut link, host, &mut retry_at),
                    }
                }
            }
        }
    }

    /// A round trip failed: Redis is away until a reconnect succeeds.
    fn lost(
        &self,
        inner: &mut parking_lot::MutexGuard<'_, Inner>,
        link: &mut Link,
        host: &dyn Host,
        retry_at: &mut Option<Instant>,
    ) {
        link.disconnect();
        *retry_at = Some(Instant::now() + BACKOFF_MIN);
        if inner.up {
            go_down(&self.params, inner, host.now());
            parking_lot::MutexGuard::unlocked(inner, || {
                host.event(Event::Redis { connected: false, down_for: Duration::ZERO });
                host.wake();
            });
        }
    }
}

/// Redis is away from `now`: the local limiter starts, at the configured share of the
/// rate or 100 / (clients seen on the key), full.
fn go_down(params: &Params, inner: &mut Inner, now: Nanos) {
    inner.up = false;
    inner.down_since = Some(now);
    inner.need = 0;
    let percent = match params.policy {
        FailurePolicy::Open => 100,
        _ => params.local_share.unwrap_or_else(|| (100 / inner.clients.max(1)).max(1)),
    };
    inner.local_limits = params.limits.iter().map(|l| l.share(percent)).collect();
    inner.local = Twin::new();
}

/// What to ask Redis for, given the requests waiting (`demand`), the lease size, the
/// tokens the head of the queue waits for (`need`, 0 when none) and the tokens held:
/// nothing while more than half the lease is held (and the head is served); else
/// enough to fill it, and at least half of that, so that a busy client makes one round
/// trip per half lease rather than one per token.
fn ask(demand: u64, max_lease: u64, need: u64, held: u64) -> Option<Work> {
    let target = demand.min(max_lease).max(need);
    if held >= need && held > target / 2 {
        return None;
    }
    let max = target.saturating_sub(held);
    let min = need.saturating_sub(held).max(max.div_ceil(2)).max(1);
    (max > 0).then(|| Work::Take(min.min(max), max))
}

/// One thing the lease thread does per turn.
enum Work {
    Take(u64, u64),
    Pause(u64),
    Reconnect,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(demand: u64, lease: u64, need: u64, held: u64) -> Option<(u64, u64)> {
        match ask(demand, lease, need, held) {
            Some(Work::Take(min, max)) => Some((min, max)),
            _ => None,
        }
    }

    #[test]
    fn one_token_at_a_time_when_demand_is_low_half_a_lease_or_more_when_high() {
        assert_eq!(asked(0, 64, 0, 0), None, "no demand, no round trip");
        assert_eq!(asked(1, 64, 1, 0), Some((1, 1)));
        assert_eq!(asked(1000, 64, 1, 0), Some((32, 64)));
        assert_eq!(asked(1000, 64, 0, 33), None, "more than half the lease held");
        assert_eq!(asked(1000, 64, 0, 32), Some((16, 32)));
        // A weighted head that needs more than is held asks for at least that.
        assert_eq!(asked(2, 5, 9, 4), Some((5, 5)));
    }

    const MS: Nanos = 1_000_000;

    fn lease(up: bool, policy: FailurePolicy) -> Arc<Lease> {
        let params = Params {
            key: "k".into(),
            limits: vec![LimitSpec { max: 10, window_us: 1_000_000, burst: 10 }],
            max_lease: 4,
            horizon_us: 400_000,
            policy,
            local_share: Some(50),
            client_id: "c".into(),
        };
        Lease::new(params, up, 1, 0)
    }

    #[test]
    fn leased_tokens_are_spent_from_their_due_time_and_refunded() {
        let l = lease(true, FailurePolicy::Closed);
        assert_eq!(l.try_take(0, 1, 5), Err(Some(250 * MS)), "nothing held: ask and wait");
        l.inner.lock().deposit(10 * MS, 2);
        assert_eq!(l.try_take(5 * MS, 1, 5), Err(Some(10 * MS)), "not due yet");
        assert_eq!(l.try_take(10 * MS, 2, 5), Ok(Taken::Lease(2)));
        l.refund(10 * MS, Taken::Lease(2));
        assert_eq!(l.try_take(10 * MS, 1, 5), Ok(Taken::Lease(1)));
        assert_eq!(l.status(10 * MS).tokens_held, 1);
        // Unspent for a second past their time, they are dropped.
        assert!(l.try_take(10 * MS + STALE, 1, 5).is_err());
        assert_eq!(l.status(10 * MS + STALE).tokens_held, 0);
    }

    #[test]
    fn while_redis_is_away_the_policy_decides() {
        // Open: the client's own whole rate, 10 at once.
        let open = lease(false, FailurePolicy::Open);
        for _ in 0..10 {
            assert_eq!(open.try_take(0, 1, 1), Ok(Taken::Local(1)));
        }
        assert!(open.try_take(0, 1, 1).is_err());
        assert_eq!(lease(false, FailurePolicy::Closed).try_take(0, 1, 1), Err(None));
        // Local at 50 % of 10/s, burst 10: 5 at once, then one every 200 ms.
        let l = lease(false, FailurePolicy::Local);
        for _ in 0..5 {
            assert_eq!(l.try_take(0, 1, 1), Ok(Taken::Local(1)));
        }
        assert_eq!(l.try_take(0, 1, 1), Err(Some(200 * MS)));
        l.refund(0, Taken::Local(1));
        assert_eq!(l.try_take(0, 1, 1), Ok(Taken::Local(1)));
        // Tokens leased before Redis went away are still spent first.
        l.inner.lock().deposit(0, 1);
        assert_eq!(l.try_take(0, 1, 1), Ok(Taken::Lease(1)));
        assert_eq!(l.status(300 * MS).state, RedisState::Disconnected);
        assert_eq!(l.status(300 * MS).down_ms, 300);
    }
}
