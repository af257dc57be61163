//! Counters and latency histograms. Counters are atomics bumped where things happen;
//! the gauges (queue depth, in flight, breaker, tokens) are read from the scheduler's
//! state when a snapshot is taken, so they are never out of step with it.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use hdrhistogram::Histogram;
use parking_lot::Mutex;

use crate::breaker::BreakerState;
use crate::clock::Nanos;
use crate::error::{ErrorKind, Result as RlcResult};
use crate::response::Response;

/// A point-in-time view of a client's metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Requests accepted by `submit`.
    pub submitted: u64,
    /// Completions with a 1xx-3xx response.
    pub succeeded: u64,
    /// Completions with a 4xx response.
    pub http_4xx: u64,
    /// Completions with a 5xx response.
    pub http_5xx: u64,
    /// Completions that timed out (attempt timeout or deadline).
    pub timeouts: u64,
    /// Completions that could not connect (DNS, refused, reset before a response).
    pub connect_errors: u64,
    /// Requests failed fast by the open breaker, at submit or in the queue.
    pub circuit_open: u64,
    /// Submits refused because the queue was full.
    pub queue_full: u64,
    /// Completions by cancel.
    pub cancelled: u64,
    /// Completions by shutdown.
    pub shutdown: u64,
    /// Retry attempts scheduled.
    pub retries: u64,
    /// Requests waiting in the queue (ready or waiting to retry).
    pub queue_depth: u64,
    /// Requests on the network now.
    pub in_flight: u64,
    /// The breaker's state now.
    pub breaker_state: BreakerState,
    /// Submit-to-completion latency percentiles, in microseconds.
    pub latency_p50_us: u64,
    /// See `latency_p50_us`.
    pub latency_p90_us: u64,
    /// See `latency_p50_us`.
    pub latency_p99_us: u64,
    /// Completions with another transport failure (TLS, broken connection, body too large).
    pub other_errors: u64,
    /// Breaker state changes so far.
    pub breaker_transitions: u64,
    /// Times a server's Retry-After or rate-limit headers paused the whole client.
    pub server_pauses: u64,
    /// Milliseconds left of the current server-requested pause (0 when not paused).
    pub paused_ms: u64,
    /// Whole tokens available in the tightest rate limit (`u64::MAX` without one).
    pub tokens_available: u64,
    /// Submit-to-first-send wait percentiles, in microseconds.
    pub queue_wait_p50_us: u64,
    /// See `queue_wait_p50_us`.
    pub queue_wait_p90_us: u64,
    /// See `queue_wait_p50_us`.
    pub queue_wait_p99_us: u64,
    /// Single-attempt latency percentiles, in microseconds.
    pub attempt_p50_us: u64,
    /// See `attempt_p50_us`.
    pub attempt_p90_us: u64,
    /// See `attempt_p50_us`.
    pub attempt_p99_us: u64,
    /// Server-requested pauses and retry delays cut to `max_server_pause`.
    pub server_pauses_capped: u64,
    /// Redirect hops followed (each took a token).
    pub redirects: u64,
    /// Attempts that panicked inside rlc (a bug), completed as `Panic`.
    pub worker_panics: u64,
    /// Retries the retry budget refused (the request completed with its last answer).
    pub retries_refused_by_budget: u64,
    /// The primary rate limit in force, in requests per its window (0 without one):
    /// the configured one, or where adaptive limiting or a live change has put it.
    pub rate_limit: u32,
}

/// Gauges read from the scheduler's state at snapshot time.
pub(crate) struct Gauges {
    pub queue_depth: u64,
    pub in_flight: u64,
    pub breaker_state: BreakerState,
    pub breaker_transitions: u64,
    pub paused_ms: u64,
    pub tokens_available: u64,
    pub rate_limit: u32,
}

struct Percentiles(Histogram<u64>);

impl Percentiles {
    fn new() -> Self {
        // 1 µs to one hour, 3 significant digits.
        Percentiles(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"))
    }

    fn record_nanos(&mut self, nanos: Nanos) {
        self.0.saturating_record((nanos / 1_000).max(1));
    }

    fn quantiles(&self) -> [u64; 3] {
        if self.0.is_empty() {
            return [0; 3];
        }
        [0.5, 0.9, 0.99].map(|q| self.0.value_at_quantile(q))
    }
}

#[derive(Default)]
pub(crate) struct Metrics {
    submitted: AtomicU64,
    succeeded: AtomicU64,
    http_4xx: AtomicU64,
    http_5xx: AtomicU64,
    timeouts: AtomicU64,
    connect_errors: AtomicU64,
    circuit_open: AtomicU64,
    queue_full: AtomicU64,
    cancelled: AtomicU64,
    shutdown: AtomicU64,
    retries: AtomicU64,
    other_errors: AtomicU64,
    server_pauses: AtomicU64,
    server_pauses_capped: AtomicU64,
    redirects: AtomicU64,
    worker_panics: AtomicU64,
    retries_refused_by_budget: AtomicU64,
    latencies: Mutex<Option<Histograms>>,
}

struct Histograms {
    total: Percentiles,
    queue_wait: Percentiles,
    attempt: Percentiles,
}

impl Metrics {
    pub fn submitted(&self) {
        self.submitted.fetch_add(1, Relaxed);
    }

    pub fn queue_full(&self) {
        self.queue_full.fetch_add(1, Relaxed);
    }

    pub fn circuit_open_at_submit(&self) {
        self.circuit_open.fetch_add(1, Relaxed);
    }

    pub fn retry(&self) {
        self.retries.fetch_add(1, Relaxed);
    }

    pub fn server_pause(&self) {
        self.server_pauses.fetch_add(1, Relaxed);
    }

    pub fn server_pause_capped(&self) {
        self.server_pauses_capped.fetch_add(1, Relaxed);
    }

    pub fn redirect(&self) {
        self.redirects.fetch_add(1, Relaxed);
    }

    pub fn retry_budget_exhausted(&self) {
        self.retries_refused_by_budget.fetch_add(1, Relaxed);
    }

    pub fn worker_panic(&self) {
        self.worker_panics.fetch_add(1, Relaxed);
    }

    fn with_histograms(&self, f: impl FnOnce(&mut Histograms)) {
        let mut guard = self.latencies.lock();
        let h = guard.get_or_insert_with(|| Histograms {
            total: Percentiles::new(),
            queue_wait: Percentiles::new(),
            attempt: Percentiles::new(),
        });
        f(h);
    }

    pub fn queue_wait(&self, nanos: Nanos) {
        self.with_histograms(|h| h.queue_wait.record_nanos(nanos));
    }

    pub fn attempt(&self, nanos: Nanos) {
        self.with_histograms(|h| h.attempt.record_nanos(nanos));
    }

    /// Counts a final outcome and its submit-to-completion latency.
    pub fn completed(&self, result: &RlcResult<Response>, latency: Nanos) {
        let counter = match result {
            Ok(r) if r.status < 400 => &self.succeeded,
            Ok(r) if r.status < 500 => &self.http_4xx,
            Ok(_) => &self.http_5xx,
            Err(e) => match e.kind() {
                ErrorKind::Timeout => &self.timeouts,
                ErrorKind::Connect => &self.connect_errors,
                ErrorKind::CircuitOpen => &self.circuit_open,
                ErrorKind::Cancelled => &self.cancelled,
                ErrorKind::Shutdown => &self.shutdown,
                _ => &self.other_errors,
            },
        };
        counter.fetch_add(1, Relaxed);
        self.with_histograms(|h| h.total.record_nanos(latency));
    }

    pub fn snapshot(&self, g: Gauges) -> MetricsSnapshot {
        let (total, wait, attempt) = match &*self.latencies.lock() {
            Some(h) => (h.total.quantiles(), h.queue_wait.quantiles(), h.attempt.quantiles()),
            None => ([0; 3], [0; 3], [0; 3]),
        };
        MetricsSnapshot {
            submitted: self.submitted.load(Relaxed),
            succeeded: self.succeeded.load(Relaxed),
            http_4xx: self.http_4xx.load(Relaxed),
            http_5xx: self.http_5xx.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            connect_errors: self.connect_errors.load(Relaxed),
            circuit_open: self.circuit_open.load(Relaxed),
            queue_full: self.queue_full.load(Relaxed),
            cancelled: self.cancelled.load(Relaxed),
            shutdown: self.shutdown.load(Relaxed),
            retries: self.retries.load(Relaxed),
            queue_depth: g.queue_depth,
            in_flight: g.in_flight,
            breaker_state: g.breaker_state,
            latency_p50_us: total[0],
            latency_p90_us: total[1],
            latency_p99_us: total[2],
            other_errors: self.other_errors.load(Relaxed),
            breaker_transitions: g.breaker_transitions,
            server_pauses: self.server_pauses.load(Relaxed),
            paused_ms: g.paused_ms,
            tokens_available: g.tokens_available,
            queue_wait_p50_us: wait[0],
            queue_wait_p90_us: wait[1],
            queue_wait_p99_us: wait[2],
            attempt_p50_us: attempt[0],
            attempt_p90_us: attempt[1],
            attempt_p99_us: attempt[2],
            server_pauses_capped: self.server_pauses_capped.load(Relaxed),
            redirects: self.redirects.load(Relaxed),
            worker_panics: self.worker_panics.load(Relaxed),
            retries_refused_by_budget: self.retries_refused_by_budget.load(Relaxed),
            rate_limit: g.rate_limit,
        }
    }
}

impl MetricsSnapshot {
    /// The snapshot in the Prometheus text exposition format, names prefixed `rlc_`.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP rlc_{name} {help}\n# TYPE rlc_{name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "rlc_{name}{labels} {value}");
            }
        };
        metric(
            "requests_submitted_total",
            "counter",
            "Requests accepted.",
            &[("", self.submitted)],
        );
        metric(
            "requests_completed_total",
            "counter",
            "Requests completed, by outcome.",
            &[
                ("{outcome=\"success\"}", self.succeeded),
                ("{outcome=\"http_4xx\"}", self.http_4xx),
                ("{outcome=\"http_5xx\"}", self.http_5xx),
                ("{outcome=\"timeout\"}", self.timeouts),
                ("{outcome=\"connect_error\"}", self.connect_errors),
                ("{outcome=\"circuit_open\"}", self.circuit_open),
                ("{outcome=\"cancelled\"}", self.cancelled),
                ("{outcome=\"shutdown\"}", self.shutdown),
                ("{outcome=\"other_error\"}", self.other_errors),
            ],
        );
        metric(
            "queue_full_total",
            "counter",
            "Submits refused with a full queue.",
            &[("", self.queue_full)],
        );
        metric("retries_total", "counter", "Retry attempts scheduled.", &[("", self.retries)]);
        metric(
            "server_pauses_total",
            "counter",
            "Pauses asked for by the server.",
            &[("", self.server_pauses)],
        );
        metric(
            "server_pauses_capped_total",
            "counter",
            "Server-requested pauses and retry delays cut to the configured maximum.",
            &[("", self.server_pauses_capped)],
        );
        metric("redirects_total", "counter", "Redirect hops followed.", &[("", self.redirects)]);
        metric(
            "retries_refused_by_budget_total",
            "counter",
            "Retries the retry budget refused.",
            &[("", self.retries_refused_by_budget)],
        );
        metric(
            "worker_panics_total",
            "counter",
            "Attempts that panicked inside rlc (a bug; completed as RLC_E_PANIC).",
            &[("", self.worker_panics)],
        );
        metric(
            "breaker_transitions_total",
            "counter",
            "Circuit breaker state changes.",
            &[("", self.breaker_transitions)],
        );
        metric("queue_depth", "gauge", "Requests waiting.", &[("", self.queue_depth)]);
        metric(
            "rate_limit",
            "gauge",
            "The primary rate limit in force, in requests per its window (adaptive or changed live).",
            &[("", u64::from(self.rate_limit))],
        );
        metric("in_flight", "gauge", "Requests on the network.", &[("", self.in_flight)]);
        metric(
            "breaker_state",
            "gauge",
            "0 closed, 1 open, 2 half-open.",
            &[("", self.breaker_state as u64)],
        );
        metric(
            "paused_milliseconds",
            "gauge",
            "Time left of a server-requested pause.",
            &[("", self.paused_ms)],
        );
        let quantiles = |p50: u64, p90: u64, p99: u64| {
            [("{quantile=\"0.5\"}", p50), ("{quantile=\"0.9\"}", p90), ("{quantile=\"0.99\"}", p99)]
        };
        metric(
            "latency_microseconds",
            "summary",
            "Submit to completion.",
            &quantiles(self.latency_p50_us, self.latency_p90_us, self.latency_p99_us),
        );
        metric(
            "queue_wait_microseconds",
            "summary",
            "Submit to first send.",
            &quantiles(self.queue_wait_p50_us, self.queue_wait_p90_us, self.queue_wait_p99_us),
        );
        metric(
            "attempt_microseconds",
            "summary",
            "One attempt on the network.",
            &quantiles(self.attempt_p50_us, self.attempt_p90_us, self.attempt_p99_us),
        );
        out
    }
}
