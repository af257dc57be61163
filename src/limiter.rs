//! Rate rules with no threads and no clock of their own: the time comes in as an
//! argument. TODO(helper): implement; see the contract on each item.

use crate::clock::Nanos;
use crate::config::RateLimit;

/// The stacked rate rules of a client. Empty means unlimited.
///
/// Each non-strict rule is a GCRA token bucket kept in exact integer arithmetic
/// (time scaled by `max_requests` so that `window / max_requests` never has to be
/// rounded): capacity `burst`, refill `max_requests` per `window`, no drift over any
/// number of steps. A strict rule additionally keeps a ring of its last
/// `max_requests` actual send times and refuses while the oldest of them is less
/// than `window` ago.
///
/// `demand_since` is the time since which the scheduler has been waiting on the
/// limiter alone (it is `<= now`). A send is credited at `max(earliest allowed,
/// demand_since)`, not at `now`: a scheduler that wakes 150 µs late then loses no
/// rate, because the bucket is charged at the time the token became available while
/// someone was waiting for it. When nobody was waiting, `demand_since == now`.
#[derive(Debug)]
pub struct Limiter {}

impl Limiter {
    /// A limiter enforcing every rule in `limits` at once.
    pub fn new(limits: &[RateLimit]) -> Self {
        let _ = limits;
        todo!()
    }

    /// Takes one token from every rule if all allow a send at `now`, and returns
    /// the time the send is credited at (the latest over the rules, `<= now`).
    /// Otherwise changes nothing and returns `Err(t)`, the earliest time at which
    /// every rule may allow it (`t > now`).
    pub fn try_acquire(&mut self, now: Nanos, demand_since: Nanos) -> Result<Nanos, Nanos> {
        let _ = (now, demand_since);
        todo!()
    }

    /// Whole tokens available at `now` in the tightest rule (`u64::MAX` when unlimited).
    pub fn tokens_available(&self, now: Nanos) -> u64 {
        let _ = now;
        todo!()
    }

    /// True when there is no rule.
    pub fn is_unlimited(&self) -> bool {
        todo!()
    }
}
