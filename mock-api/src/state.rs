//! Shared server state: request log, counters, flaky counters and the
//! rolling-window rate limiter.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One request as seen by the mock server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// When the request was received, measured from server start.
    pub at: Duration,
    /// Request method, e.g. `"GET"`.
    pub method: String,
    /// Request path including the query string, e.g. `"/flaky/a/2?retry_after=1"`.
    pub path: String,
    /// Response status; `0` while the request is still being handled
    /// (e.g. during a `/slow` sleep) or if the client went away before an
    /// answer was produced. Requests rejected by the rate limiter have `429`.
    pub status: u16,
    /// Value of the request header `x-tag`, if any.
    pub tag: Option<String>,
    /// Value of the request header `Idempotency-Key`, if any (a journaled request
    /// sent twice carries the same one).
    pub idempotency_key: Option<String>,
}

/// Snapshot of the server's counters, see [`crate::MockApi::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Number of requests received (including those rejected with 429 and
    /// unknown routes; `/__stats` is never counted).
    pub received: u64,
    /// Number of requests rejected by the rate limiter (a `/status/429`
    /// response is *not* counted here).
    pub rejected_429: u64,
    /// Every received request, in arrival order.
    pub arrivals: Vec<Arrival>,
    /// Largest number of accepted (not rate-limit-rejected) arrivals within
    /// any rolling window of the configured rate-limit window length; `0` if
    /// no rate limit is configured. Never exceeds the configured maximum.
    pub max_in_window: u64,
}

/// Internal record: the public arrival plus whether the limiter accepted it.
struct Record {
    arrival: Arrival,
    accepted: bool,
}

/// Rate-limit information to put on a response.
pub(crate) enum Limit {
    /// No rate limit configured.
    None,
    /// Accepted; `remaining` slots left, oldest slot frees in `reset` seconds.
    Accepted { max: u32, remaining: u32, reset: u64, window_secs: u64 },
    /// Rejected; a slot frees in `retry_after` seconds.
    Rejected { max: u32, retry_after: u64, window_secs: u64 },
}

/// Handle on a recorded arrival, used to fill in its status later.
#[derive(Clone, Copy)]
pub(crate) struct Ticket {
    generation: u64,
    index: usize,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    received: u64,
    rejected_429: u64,
    records: Vec<Record>,
    by_path: BTreeMap<String, u64>,
    flaky: HashMap<String, u64>,
    /// Times (since start) of accepted requests within the current window.
    window: VecDeque<Duration>,
    /// Times (since start) of the `/hidden-limit` requests accepted in the last second.
    hidden: VecDeque<Duration>,
}

/// State shared between the server tasks and the [`crate::MockApi`] handle.
pub(crate) struct Shared {
    start: Instant,
    rate_limit: Option<(u32, Duration)>,
    inner: Mutex<Inner>,
}

/// `ceil(d)` in whole seconds.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Shared {
    pub(crate) fn new(rate_limit: Option<(u32, Duration)>) -> Shared {
        Shared { start: Instant::now(), rate_limit, inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the data inconsistent
        // in a way that matters for a test server.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a new request and applies the rate limiter, atomically.
    pub(crate) fn arrive(
        &self,
        method: &str,
        path_and_query: &str,
        path: &str,
        tag: Option<String>,
        idempotency_key: Option<String>,
    ) -> (Ticket, Limit) {
        let mut g = self.lock();
        let now = self.start.elapsed();
        let limit = match self.rate_limit {
            None => Limit::None,
            Some((max, window)) => {
                while g.window.front().is_some_and(|&t| now.saturating_sub(t) >= window) {
                    g.window.pop_front();
                }
                let window_secs = ceil_secs(window);
                let frees_in = |oldest: Option<&Duration>| match oldest {
                    Some(&t) => ceil_secs((t + window).saturating_sub(now)).max(1),
                    None => window_secs.max(1),
                };
                if g.window.len() as u64 >= u64::from(max) {
                    Limit::Rejected { max, retry_after: frees_in(g.window.front()), window_secs }
                } else {
                    g.window.push_back(now);
                    let remaining = max - g.window.len() as u32;
                    Limit::Accepted {
                        max,
                        remaining,
                        reset: frees_in(g.window.front()),
                        window_secs,
                    }
                }
            }
        };
        let accepted = !matches!(limit, Limit::Rejected { .. });
        g.received += 1;
        if !accepted {
            g.rejected_429 += 1;
        }
        *g.by_path.entry(path.to_string()).or_insert(0) += 1;
        let ticket = Ticket { generation: g.generation, index: g.records.len() };
        g.records.push(Record {
            arrival: Arrival {
                at: now,
                method: method.to_string(),
                path: path_and_query.to_string(),
                status: if accepted { 0 } else { 429 },
                tag,
                idempotency_key,
            },
            accepted,
        });
        (ticket, limit)
    }

    /// Fills in the response status of a recorded arrival (ignored if the
    /// stats were reset in between).
    pub(crate) fn finish(&self, ticket: Ticket, status: u16) {
        let mut g = self.lock();
        if g.generation == ticket.generation {
            if let Some(r) = g.records.get_mut(ticket.index) {
                r.arrival.status = status;
            }
        }
    }

    /// Increments and returns the request count of a `/flaky` key.
    pub(crate) fn flaky_hit(&self, key: &str) -> u64 {
        let mut g = self.lock();
        let c = g.flaky.entry(key.to_string()).or_insert(0);
        *c += 1;
        *c
    }

    /// Whether a `/hidden-limit/{n}` request fits a rolling one-second window of `n`
    /// accepted requests; recorded when it does.
    pub(crate) fn hidden_limit_admits(&self, n: usize) -> bool {
        let now = self.start.elapsed();
        let mut g = self.lock();
        while g.hidden.front().is_some_and(|t| *t + Duration::from_secs(1) <= now) {
            g.hidden.pop_front();
        }
        if g.hidden.len() >= n {
            return false;
        }
        g.hidden.push_back(now);
        true
    }

    /// Forgets all counters, arrivals, flaky counters and rate-limiter
    /// history. Arrival times stay relative to server start.
    pub(crate) fn reset(&self) {
        let mut g = self.lock();
        let generation = g.generation + 1;
        *g = Inner { generation, ..Inner::default() };
    }

    fn max_in_window(&self, g: &Inner) -> u64 {
        let Some((_, window)) = self.rate_limit else {
            return 0;
        };
        let times: Vec<Duration> =
            g.records.iter().filter(|r| r.accepted).map(|r| r.arrival.at).collect();
        // `times` is sorted (recorded under the lock with a monotonic clock).
        let mut best = 0usize;
        let mut lo = 0usize;
        for hi in 0..times.len() {
            while times[hi] - times[lo] >= window {
                lo += 1;
            }
            best = best.max(hi - lo + 1);
        }
        best as u64
    }

    pub(crate) fn stats(&self) -> Stats {
        let g = self.lock();
        Stats {
            received: g.received,
            rejected_429: g.rejected_429,
            arrivals: g.records.iter().map(|r| r.arrival.clone()).collect(),
            max_in_window: self.max_in_window(&g),
        }
    }

    pub(crate) fn stats_json(&self) -> String {
        let g = self.lock();
        serde_json::json!({
            "received": g.received,
            "rejected_429": g.rejected_429,
            "max_in_window": self.max_in_window(&g),
            "by_path": g.by_path,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_secs_rounds_up() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
        assert_eq!(ceil_secs(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn limiter_and_max_in_window() {
        let s = Shared::new(Some((2, Duration::from_secs(60))));
        assert!(matches!(
            s.arrive("GET", "/ok", "/ok", None, None).1,
            Limit::Accepted { remaining: 1, .. }
        ));
        assert!(matches!(
            s.arrive("GET", "/ok", "/ok", None, None).1,
            Limit::Accepted { remaining: 0, .. }
        ));
        assert!(matches!(
            s.arrive("GET", "/ok", "/ok", None, None).1,
            Limit::Rejected { retry_after: 60, .. }
        ));
        let st = s.stats();
        assert_eq!((st.received, st.rejected_429, st.max_in_window), (3, 1, 2));
        assert_eq!(st.arrivals[2].status, 429);
        s.reset();
        assert_eq!(s.stats(), Stats::default());
    }
}
