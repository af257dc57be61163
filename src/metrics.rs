//! Counters and latency histograms. Counters are atomics bumped where things happen;
//! the gauges (queue depth, in flight, breaker, tokens) are read from the scheduler's
//! state when a snapshot is taken, so they are never out of step with it.
//!
//! The Prometheus text is written by the `prometheus-client` crate from a snapshot
//! (see `prometheus_text`): nothing here formats the exposition by hand.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

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
    /// GraphQL answers that said THROTTLED (each retried like a 429).
    pub graphql_throttled: u64,
    /// Points GraphQL servers reported as the actual cost of completed queries.
    pub graphql_points: u64,
    /// GraphQL answers carrying an `errors` array (other than THROTTLED).
    pub graphql_errors: u64,
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

/// Upper bounds, in microseconds, of the buckets of the latency histograms in the
/// Prometheus text (1 ms to 5 min: a rate-limited request may wait long in the queue).
const BUCKET_BOUNDS_US: [u64; 17] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    30_000_000,
    60_000_000,
    120_000_000,
    300_000_000,
];

/// One latency distribution: an hdrhistogram for the percentiles of the C struct and
/// the buckets of the Prometheus histogram, and the exact sum of what it recorded.
///
/// The Prometheus histogram is derived from the hdrhistogram when the text is rendered,
/// rather than kept as `prometheus-client` histograms beside it: the hot path then pays
/// for one record only (a `prometheus-client` histogram would add a lock of its own and
/// a bucket search per observation, three times per request). The sum is not kept in an
/// atomic either: it is a plain add under the lock that the hdrhistogram record already
/// holds, which costs nothing more and keeps `_sum` and `_count` in step.
struct Distribution {
    hist: Histogram<u64>,
    /// Nanoseconds, exact (the hdrhistogram keeps 3 significant digits of microseconds).
    sum_nanos: u128,
}

impl Distribution {
    fn new() -> Self {
        // 1 µs to one hour, 3 significant digits.
        let hist = Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
        Distribution { hist, sum_nanos: 0 }
    }

    fn record_nanos(&mut self, nanos: Nanos) {
        self.hist.saturating_record((nanos / 1_000).max(1));
        self.sum_nanos += u128::from(nanos);
    }

    fn quantiles(&self) -> [u64; 3] {
        if self.hist.is_empty() {
            return [0; 3];
        }
        [0.5, 0.9, 0.99].map(|q| self.hist.value_at_quantile(q))
    }

    /// The Prometheus histogram. A recorded value counts in a bucket when the lowest value
    /// the hdrhistogram holds as equal to it is within the bound, so a value is never
    /// counted above its bucket and at most 0.1% of a bound's value lands below it.
    fn prometheus(&self) -> HistogramSnapshot {
        let mut per_bucket = [0u64; BUCKET_BOUNDS_US.len()];
        for v in self.hist.iter_recorded() {
            let micros = self.hist.lowest_equivalent(v.value_iterated_to());
            // Above the last bound: only in the +Inf bucket, which is `count`.
            if let Some(i) = BUCKET_BOUNDS_US.iter().position(|&bound| micros <= bound) {
                per_bucket[i] += v.count_at_value();
            }
        }
        HistogramSnapshot {
            sum_seconds: self.sum_nanos as f64 / 1e9,
            count: self.hist.len(),
            buckets: BUCKET_BOUNDS_US
                .iter()
                .zip(per_bucket)
                .map(|(&bound, n)| (bound as f64 / 1e6, n))
                .collect(),
        }
    }
}

/// A latency histogram as it was at one moment, in seconds, encoded by
/// `prometheus-client` as `_bucket`, `_sum` and `_count` samples.
#[derive(Debug)]
pub(crate) struct HistogramSnapshot {
    /// The exact sum of the recorded durations, in seconds.
    sum_seconds: f64,
    /// How many durations were recorded.
    count: u64,
    /// (upper bound in seconds, durations in that bucket and not in a lower one),
    /// ascending; the `+Inf` bucket is `count`.
    buckets: Vec<(f64, u64)>,
}

impl HistogramSnapshot {
    fn empty() -> Self {
        let buckets = BUCKET_BOUNDS_US.iter().map(|&bound| (bound as f64 / 1e6, 0)).collect();
        HistogramSnapshot { sum_seconds: 0.0, count: 0, buckets }
    }
}

impl EncodeMetric for HistogramSnapshot {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum_seconds, self.count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// The latency histograms of a client, for the Prometheus text.
pub(crate) struct LatencyHistograms {
    /// Submit to completion.
    total: HistogramSnapshot,
    /// Submit to first send.
    queue_wait: HistogramSnapshot,
    /// One attempt on the network.
    attempt: HistogramSnapshot,
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
    graphql_throttled: AtomicU64,
    graphql_points: AtomicU64,
    graphql_errors: AtomicU64,
    latencies: Mutex<Option<Histograms>>,
}

struct Histograms {
    total: Distribution,
    queue_wait: Distribution,
    attempt: Distribution,
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

    /// A GraphQL answer: its actual cost in points, whether it was THROTTLED, whether
    /// it carried other errors.
    pub fn graphql(&self, points: u64, throttled: bool, errors: bool) {
        self.graphql_points.fetch_add(points, Relaxed);
        if throttled {
            self.graphql_throttled.fetch_add(1, Relaxed);
        } else if errors {
            self.graphql_errors.fetch_add(1, Relaxed);
        }
    }

    fn with_histograms(&self, f: impl FnOnce(&mut Histograms)) {
        let mut guard = self.latencies.lock();
        let h = guard.get_or_insert_with(|| Histograms {
            total: Distribution::new(),
            queue_wait: Distribution::new(),
            attempt: Distribution::new(),
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

    /// The latency histograms for the Prometheus text.
    pub fn histograms(&self) -> LatencyHistograms {
        match &*self.latencies.lock() {
            Some(h) => LatencyHistograms {
                total: h.total.prometheus(),
                queue_wait: h.queue_wait.prometheus(),
                attempt: h.attempt.prometheus(),
            },
            None => LatencyHistograms {
                total: HistogramSnapshot::empty(),
                queue_wait: HistogramSnapshot::empty(),
                attempt: HistogramSnapshot::empty(),
            },
        }
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
            graphql_throttled: self.graphql_throttled.load(Relaxed),
            graphql_points: self.graphql_points.load(Relaxed),
            graphql_errors: self.graphql_errors.load(Relaxed),
            retries_refused_by_budget: self.retries_refused_by_budget.load(Relaxed),
            rate_limit: g.rate_limit,
        }
    }
}

/// Completion counters by outcome: one `rlc_requests_completed_total` sample each.
#[derive(Debug)]
struct ByOutcome(Vec<(&'static str, u64)>);

impl EncodeMetric for ByOutcome {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (outcome, n) in &self.0 {
            encoder
                .encode_family(&[("outcome", *outcome)])?
                .encode_counter::<NoLabelSet, _, u64>(n, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// Renders a snapshot in the Prometheus text exposition format (version 0.0.4) with
/// `prometheus-client`: names prefixed `rlc_`, every sample labelled
/// `client="<client>"`, counters ending `_total`, durations in seconds, latencies as
/// histograms.
pub(crate) fn prometheus_text(
    client: &str,
    m: &MetricsSnapshot,
    histograms: LatencyHistograms,
) -> String {
    let label = (Cow::Borrowed("client"), Cow::Owned(client.to_string()));
    let mut r = Registry::with_prefix_and_labels("rlc", std::iter::once(label));
    // The crate adds `_total` to counters and a full stop to each help text.
    r.register("requests_submitted", "Requests accepted by submit", ConstCounter::new(m.submitted));
    r.register(
        "requests_completed",
        "Requests completed, by outcome (circuit_open also counts submits refused by the \
         open breaker)",
        ByOutcome(vec![
            ("success", m.succeeded),
            ("http_4xx", m.http_4xx),
            ("http_5xx", m.http_5xx),
            ("timeout", m.timeouts),
            ("connect_error", m.connect_errors),
            ("circuit_open", m.circuit_open),
            ("cancelled", m.cancelled),
            ("shutdown", m.shutdown),
            ("other_error", m.other_errors),
        ]),
    );
    r.register("queue_full", "Submits refused with a full queue", ConstCounter::new(m.queue_full));
    r.register("retries", "Retry attempts scheduled", ConstCounter::new(m.retries));
    r.register(
        "server_pauses",
        "Pauses asked for by the server",
        ConstCounter::new(m.server_pauses),
    );
    r.register(
        "server_pauses_capped",
        "Server-requested pauses and retry delays cut to the configured maximum",
        ConstCounter::new(m.server_pauses_capped),
    );
    r.register("redirects", "Redirect hops followed", ConstCounter::new(m.redirects));
    r.register(
        "retries_refused_by_budget",
        "Retries the retry budget refused",
        ConstCounter::new(m.retries_refused_by_budget),
    );
    r.register(
        "worker_panics",
        "Attempts that panicked inside rlc (a bug; completed as RLC_E_PANIC)",
        ConstCounter::new(m.worker_panics),
    );
    r.register(
        "graphql_throttled",
        "GraphQL answers that said THROTTLED",
        ConstCounter::new(m.graphql_throttled),
    );
    r.register(
        "graphql_points",
        "Points GraphQL servers reported as the actual cost of queries",
        ConstCounter::new(m.graphql_points),
    );
    r.register(
        "breaker_transitions",
        "Circuit breaker state changes",
        ConstCounter::new(m.breaker_transitions),
    );
    r.register("queue_depth", "Requests waiting", ConstGauge::new(m.queue_depth));
    r.register(
        "rate_limit",
        "The primary rate limit in force, in requests per its window (adaptive or changed \
         live; 0 without a limit)",
        ConstGauge::new(m.rate_limit),
    );
    r.register("in_flight", "Requests on the network", ConstGauge::new(m.in_flight));
    r.register(
        "breaker_state",
        "Circuit breaker state: 0 closed, 1 open, 2 half-open",
        ConstGauge::new(m.breaker_state as u64),
    );
    r.register_with_unit(
        "paused",
        "Time left of a server-requested pause",
        Unit::Seconds,
        ConstGauge::new(m.paused_ms as f64 / 1e3),
    );
    if m.tokens_available != u64::MAX {
        r.register(
            "tokens_available",
            "Whole tokens available in the tightest rate limit",
            ConstGauge::new(m.tokens_available),
        );
    }
    r.register_with_unit("latency", "Submit to completion", Unit::Seconds, histograms.total);
    r.register_with_unit(
        "queue_wait",
        "Submit to first send",
        Unit::Seconds,
        histograms.queue_wait,
    );
    r.register_with_unit(
        "attempt",
        "One attempt on the network",
        Unit::Seconds,
        histograms.attempt,
    );
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &r)
        .expect("writing to a String does not fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_come_from_the_hdrhistogram_and_the_sum_is_exact() {
        let mut d = Distribution::new();
        // 5 ms exactly is within le="0.005"; 5.01 ms is not; 2 h is only in +Inf.
        for nanos in [900_000, 5_000_000, 5_010_000, 7_200_000_000_000] {
            d.record_nanos(nanos);
        }
        let h = d.prometheus();
        assert_eq!(h.count, 4);
        assert_eq!(h.sum_seconds, 7_200.010_91);
        let per = |bound: f64| h.buckets.iter().find(|(b, _)| *b == bound).unwrap().1;
        assert_eq!((per(0.001), per(0.0025), per(0.005), per(0.01)), (1, 0, 1, 1));
        assert_eq!(h.buckets.iter().map(|(_, n)| n).sum::<u64>(), 3);
        assert_eq!(h.buckets.last().unwrap().0, 300.0);
    }

    #[test]
    fn an_empty_histogram_has_every_bucket_at_zero() {
        let h = Metrics::default().histograms().total;
        assert_eq!((h.count, h.sum_seconds), (0, 0.0));
        assert_eq!(h.buckets.len(), BUCKET_BOUNDS_US.len());
        assert!(h.buckets.iter().all(|(_, n)| *n == 0));
    }
}
