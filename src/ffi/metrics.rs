//! `rlc_metrics`: a snapshot of a client's counters and gauges, as a struct and as
//! Prometheus text.

use std::ffi::c_char;

use super::cast::{check_out_ptr, try_ref_from_ptr};
use super::client::rlc_client;
use super::error::{copy_out, invalid_argument, rlc_result};
use super::panic::ffi_panic_boundary;
use crate::breaker::BreakerState;
use crate::metrics::MetricsSnapshot;

/// The circuit breaker's state.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum rlc_breaker_state {
    /// Requests flow; consecutive failures are counted.
    RLC_BREAKER_CLOSED = 0,
    /// Requests fail fast with RLC_E_CIRCUIT_OPEN until the recovery timeout passes.
    RLC_BREAKER_OPEN = 1,
    /// One probe at a time goes through; its outcome closes or reopens the breaker.
    RLC_BREAKER_HALF_OPEN = 2,
}

impl From<BreakerState> for rlc_breaker_state {
    fn from(state: BreakerState) -> Self {
        match state {
            BreakerState::Closed => rlc_breaker_state::RLC_BREAKER_CLOSED,
            BreakerState::Open => rlc_breaker_state::RLC_BREAKER_OPEN,
            BreakerState::HalfOpen => rlc_breaker_state::RLC_BREAKER_HALF_OPEN,
        }
    }
}

/// A point-in-time snapshot of a client's metrics, filled in by `rlc_client_metrics`.
/// Counters count since the client started. A new field means a new soname.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct rlc_metrics {
    /// Requests accepted by rlc_submit (and rlc_send).
    pub submitted: u64,
    /// Completions with a 1xx-3xx response.
    pub succeeded: u64,
    /// Completions with a 4xx response.
    pub http_4xx: u64,
    /// Completions with a 5xx response.
    pub http_5xx: u64,
    /// Completions with RLC_E_TIMEOUT (an attempt's timeout or the deadline).
    pub timeouts: u64,
    /// Completions with RLC_E_CONNECT (DNS, refused, reset before a response).
    pub connect_errors: u64,
    /// Requests failed fast by the open breaker, at submit or in the queue.
    pub circuit_open: u64,
    /// Submits refused with RLC_E_QUEUE_FULL.
    pub queue_full: u64,
    /// Completions with RLC_E_CANCELLED.
    pub cancelled: u64,
    /// Completions with RLC_E_SHUTDOWN.
    pub shutdown: u64,
    /// Retry attempts scheduled.
    pub retries: u64,
    /// Requests waiting now (ready, or waiting to retry).
    pub queue_depth: u64,
    /// Requests on the network now.
    pub in_flight: u64,
    /// The breaker's state now.
    pub breaker_state: rlc_breaker_state,
    /// Submit-to-completion latency, 50th percentile, in microseconds (0 before any).
    pub latency_p50_us: u64,
    /// Submit-to-completion latency, 90th percentile, in microseconds.
    pub latency_p90_us: u64,
    /// Submit-to-completion latency, 99th percentile, in microseconds.
    pub latency_p99_us: u64,
    /// Completions with another transport failure (TLS, broken connection, body too large).
    pub other_errors: u64,
    /// Breaker state changes so far.
    pub breaker_transitions: u64,
    /// Times a server's Retry-After or rate-limit headers paused the whole client.
    pub server_pauses: u64,
    /// Milliseconds left of the current server-requested pause (0 when not paused).
    pub paused_ms: u64,
    /// Whole tokens available in the tightest rate limit (UINT64_MAX without a limit).
    pub tokens_available: u64,
    /// Submit-to-first-send wait, 50th percentile, in microseconds.
    pub queue_wait_p50_us: u64,
    /// Submit-to-first-send wait, 90th percentile, in microseconds.
    pub queue_wait_p90_us: u64,
    /// Submit-to-first-send wait, 99th percentile, in microseconds.
    pub queue_wait_p99_us: u64,
    /// Single-attempt latency, 50th percentile, in microseconds.
    pub attempt_p50_us: u64,
    /// Single-attempt latency, 90th percentile, in microseconds.
    pub attempt_p90_us: u64,
    /// Single-attempt latency, 99th percentile, in microseconds.
    pub attempt_p99_us: u64,
}

impl From<&MetricsSnapshot> for rlc_metrics {
    fn from(s: &MetricsSnapshot) -> Self {
        rlc_metrics {
            submitted: s.submitted,
            succeeded: s.succeeded,
            http_4xx: s.http_4xx,
            http_5xx: s.http_5xx,
            timeouts: s.timeouts,
            connect_errors: s.connect_errors,
            circuit_open: s.circuit_open,
            queue_full: s.queue_full,
            cancelled: s.cancelled,
            shutdown: s.shutdown,
            retries: s.retries,
            queue_depth: s.queue_depth,
            in_flight: s.in_flight,
            breaker_state: s.breaker_state.into(),
            latency_p50_us: s.latency_p50_us,
            latency_p90_us: s.latency_p90_us,
            latency_p99_us: s.latency_p99_us,
            other_errors: s.other_errors,
            breaker_transitions: s.breaker_transitions,
            server_pauses: s.server_pauses,
            paused_ms: s.paused_ms,
            tokens_available: s.tokens_available,
            queue_wait_p50_us: s.queue_wait_p50_us,
            queue_wait_p90_us: s.queue_wait_p90_us,
            queue_wait_p99_us: s.queue_wait_p99_us,
            attempt_p50_us: s.attempt_p50_us,
            attempt_p90_us: s.attempt_p90_us,
            attempt_p99_us: s.attempt_p99_us,
        }
    }
}

/// Writes a snapshot of `client`'s metrics to `*out`, a struct the caller owns.
/// RLC_E_INVALID_ARGUMENT, writing nothing, when a pointer is NULL.
#[no_mangle]
pub extern "C" fn rlc_client_metrics(
    client: *const rlc_client,
    out: *mut rlc_metrics,
) -> rlc_result {
    ffi_panic_boundary! {
        let client = try_ref_from_ptr!(client);
        check_out_ptr!(out);
        let snapshot = rlc_metrics::from(&client.metrics());
        // SAFETY: out is non-NULL, and the C caller promises it is writable.
        unsafe { out.write(snapshot) };
        rlc_result::RLC_OK
    }
}

/// Renders a snapshot of `client`'s metrics in the Prometheus text exposition format,
/// version 0.0.4: names prefixed `rlc_`, every sample labelled `client` with the name
/// set by `rlc_config_set_name`, counters ending `_total`, durations in seconds, and
/// latencies as histograms (`_bucket`, `_sum`, `_count`). Writes the bytes it needs,
/// including the final NUL, to `*needed`. When `needed` <= `len` the text is copied
/// into `buf` as a NUL-terminated string; otherwise `buf` gets "" (when `len` > 0)
/// and the caller retries with a larger buffer (the text may grow between calls).
/// `buf` may be NULL when `len` is 0, to ask for the size. RLC_E_INVALID_ARGUMENT,
/// writing nothing, when `client` or `needed` is NULL, or `buf` is NULL with a
/// non-zero `len`.
#[no_mangle]
pub extern "C" fn rlc_client_metrics_prometheus(
    client: *const rlc_client,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> rlc_result {
    ffi_panic_boundary! {
        let client = try_ref_from_ptr!(client);
        check_out_ptr!(needed);
        if buf.is_null() && len > 0 {
            return invalid_argument("argument `buf` must not be NULL when `len` is not 0");
        }
        let text = client.metrics_prometheus();
        let fits = text.len() < len;
        // SAFETY: buf is NULL with len 0, or writable for len bytes (the C contract).
        let size = unsafe { copy_out(if fits { &text } else { "" }, buf, len) };
        let size = if fits { size } else { text.len() + 1 };
        // SAFETY: needed is non-NULL, and the C caller promises it is writable.
        unsafe { needed.write(size) };
        rlc_result::RLC_OK
    }
}

/// Returns `sizeof(rlc_metrics)` as this library was built. A binding that lays the
/// struct out by hand (koffi, ctypes) compares it with its own layout's size at load
/// time, so a mismatch fails loudly instead of corrupting memory.
#[no_mangle]
pub extern "C" fn rlc_metrics_size() -> usize {
    std::mem::size_of::<rlc_metrics>()
}

/// A metric that `rlc_client_metric` reads, one at a time, beyond the `rlc_metrics`
/// struct (whose layout is fixed for a soname). Values are only ever appended.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum rlc_metric {
    /// Server-requested pauses and retry delays cut to `rlc_config_set_max_server_pause`.
    RLC_METRIC_SERVER_PAUSES_CAPPED = 0,
    /// Redirect hops followed (each took a token).
    RLC_METRIC_REDIRECTS = 1,
    /// Attempts that panicked inside rlc (a bug), completed with RLC_E_PANIC.
    RLC_METRIC_WORKER_PANICS = 2,
    /// Retries the retry budget refused (`rlc_config_set_retry_budget`).
    RLC_METRIC_RETRIES_REFUSED_BY_BUDGET = 3,
    /// The primary rate limit in force, in requests per its window (0 without one):
    /// where adaptive limiting (`rlc_config_set_adaptive`) or
    /// `rlc_client_set_rate_limit` has put it.
    RLC_METRIC_RATE_LIMIT = 4,
    /// Requests in the journal now: accepted and not finished, this process's and
    /// those an earlier one left (0 without a journal).
    RLC_METRIC_JOURNAL_PENDING = 20,
    /// Journal transactions committed, each one fsync carrying any number of submits
    /// and removals (compare with `submitted` to see the grouping).
    RLC_METRIC_JOURNAL_COMMITS = 21,
    /// Requests of an earlier process queued by `rlc_client_recover`.
    RLC_METRIC_JOURNAL_RECOVERED = 22,
    /// GraphQL answers that said THROTTLED (HTTP 200 with that error code), each
    /// retried like a 429.
    RLC_METRIC_GRAPHQL_THROTTLED = 40,
    /// Points GraphQL servers reported as the actual cost of completed queries
    /// (Shopify `actualQueryCost`, GitHub `rateLimit.cost`).
    RLC_METRIC_GRAPHQL_POINTS = 41,
    /// GraphQL answers carrying an `errors` array other than THROTTLED.
    RLC_METRIC_GRAPHQL_ERRORS = 42,
    /// The shared limit's link (`rlc_config_set_redis`): an `rlc_redis_state`.
    RLC_METRIC_REDIS_STATE = 50,
    /// Calls made to Redis so far (a reload of the script after NOSCRIPT counts twice).
    RLC_METRIC_REDIS_ROUND_TRIPS = 51,
    /// Milliseconds spent without Redis so far, the current outage included.
    RLC_METRIC_REDIS_DOWN_MS = 52,
    /// Tokens of the shared limit granted by Redis so far.
    RLC_METRIC_REDIS_TOKENS_LEASED = 53,
    /// Clients seen on the shared key in the last ten seconds, this one included.
    RLC_METRIC_REDIS_CLIENTS = 54,
}

/// The value of RLC_METRIC_REDIS_STATE.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum rlc_redis_state {
    /// No shared limit is configured.
    RLC_REDIS_OFF = 0,
    /// On Redis: the limit is shared.
    RLC_REDIS_CONNECTED = 1,
    /// Redis is away: the failure policy applies while the client reconnects.
    RLC_REDIS_DISCONNECTED = 2,
}

/// Writes the current value of the metric numbered `metric` (an `rlc_metric`) of
/// `client` to `*out`. RLC_E_INVALID_ARGUMENT, writing nothing, when a pointer is NULL
/// or `metric` is not one this library knows (it takes an integer, so a value from a
/// newer header is a clear error rather than undefined behaviour).
#[no_mangle]
pub extern "C" fn rlc_client_metric(
    client: *const rlc_client,
    metric: u32,
    out: *mut u64,
) -> rlc_result {
    ffi_panic_boundary! {
        let client = try_ref_from_ptr!(client);
        check_out_ptr!(out);
        let m = client.metrics();
        let value = match metric {
            0 => m.server_pauses_capped,
            1 => m.redirects,
            2 => m.worker_panics,
            3 => m.retries_refused_by_budget,
            4 => u64::from(m.rate_limit),
            20..=22 => {
                let j = client.journal_stats().unwrap_or_default();
                [j.pending, j.commits, j.recovered][metric as usize - 20]
            }
            40 => m.graphql_throttled,
            41 => m.graphql_points,
            42 => m.graphql_errors,
            50..=54 => {
                let r = client.redis_status();
                match metric {
                    50 => r.state as u64,
                    51 => r.round_trips,
                    52 => r.down_ms,
                    53 => r.tokens_leased,
                    _ => r.clients,
                }
            }
            _ => return invalid_argument(&format!("no metric numbered {metric}")),
        };
        // SAFETY: out is non-NULL, and the C caller promises it is writable.
        unsafe { out.write(value) };
        rlc_result::RLC_OK
    }
}
