//! `rlc_config`: the builder a client is made from. Every setter checks its value at
//! once; on failure the config is unchanged and the last error says why.

use std::ffi::c_char;
use std::time::Duration;

use super::cast::{try_mut_from_ptr, try_str_from_ptr, try_take_box, Castable, OwnershipBox};
use super::error::{result_of, rlc_result};
use super::panic::ffi_panic_boundary;
use crate::config::{BreakerConfig, Config, RateLimit, RetryPolicy};

/// A client configuration builder, owned by the caller: make it with
/// `rlc_config_new`, free it with `rlc_config_free`. `rlc_client_new` copies it, so it
/// may be freed (or reused) as soon as that returns. Not thread-safe: use it from one
/// thread at a time.
pub struct rlc_config {
    _private: [u8; 0],
}

impl Castable for rlc_config {
    type Ownership = OwnershipBox;
    type RustType = Config;
}

/// Returns a new configuration with the defaults: no rate limit, 4 workers, a queue
/// of 10,000, 3 retries from 100 ms up to 30 s, a breaker after 5 consecutive
/// failures with 30 s recovery, 30 s per attempt, a 16 MiB response cap, up to 10
/// redirects (never from https to http), server-requested pauses cut to 5 minutes.
/// The caller owns it and frees it with `rlc_config_free`. NULL only if out of memory
/// (or on an internal error).
#[no_mangle]
pub extern "C" fn rlc_config_new() -> *mut rlc_config {
    ffi_panic_boundary! { super::cast::to_boxed_mut_ptr(Config::new()) }
}

/// Frees a configuration made by `rlc_config_new`; `cfg` must not be used again.
/// NULL is a no-op.
#[no_mangle]
pub extern "C" fn rlc_config_free(cfg: *mut rlc_config) {
    ffi_panic_boundary! {
        // SAFETY: cfg is NULL or a live handle from rlc_config_new (the C contract).
        drop(unsafe { try_take_box(cfg) });
    }
}

/// Sets the URL that request paths starting with '/' are joined to: `http://` or
/// `https://` with a host, optionally a port and a path prefix (a trailing '/' is
/// dropped). `url` is copied. RLC_E_INVALID_ARGUMENT for NULL, bad UTF-8 or a bad URL.
#[no_mangle]
pub extern "C" fn rlc_config_set_base_url(cfg: *mut rlc_config, url: *const c_char) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let url = try_str_from_ptr!(url);
        result_of(cfg.base_url(url))
    }
}

/// Sets the rate limit: at most `max_requests` per `window_ms` milliseconds, as a
/// token bucket refilled continuously, with a burst of `max_requests` (change it with
/// `rlc_config_set_burst`). Replaces an earlier call's limit; limits stacked with
/// `rlc_config_add_rate_limit` stay. Without any limit, requests are not rate limited.
/// RLC_E_INVALID_ARGUMENT when `max_requests` is 0 or `window_ms` is 0.
#[no_mangle]
pub extern "C" fn rlc_config_set_rate_limit(
    cfg: *mut rlc_config,
    max_requests: u32,
    window_ms: u64,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.rate_limit(max_requests, Duration::from_millis(window_ms)))
    }
}

/// Sets the burst (the bucket's capacity: how many may go at once after an idle
/// spell) of the limit set with `rlc_config_set_rate_limit`, which must come first.
/// RLC_E_INVALID_ARGUMENT when `burst` is 0 or no rate limit was set.
#[no_mangle]
pub extern "C" fn rlc_config_set_burst(cfg: *mut rlc_config, burst: u32) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.burst(burst))
    }
}

/// Stacks a further rate limit beside the others (e.g. 1000 per hour beside 10 per
/// second): a request goes only when every limit allows it. `burst` is that limit's
/// bucket capacity. RLC_E_INVALID_ARGUMENT when `max_requests`, `window_ms` or
/// `burst` is 0.
#[no_mangle]
pub extern "C" fn rlc_config_add_rate_limit(
    cfg: *mut rlc_config,
    max_requests: u32,
    window_ms: u64,
    burst: u32,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let limit = RateLimit { max_requests, window: Duration::from_millis(window_ms), burst, strict: false };
        result_of(cfg.add_rate_limit(limit))
    }
}

/// Makes the limit set with `rlc_config_set_rate_limit` strict (`strict` true): no
/// sliding window of its length ever holds more than its `max_requests` arrivals at
/// the server, as servers that count a rolling window require. Each send counts from
/// its dispatch until a window after its response, so the promise holds whatever the
/// network's delay. RLC_E_INVALID_ARGUMENT when no rate limit was set.
#[no_mangle]
pub extern "C" fn rlc_config_set_strict_window(cfg: *mut rlc_config, strict: bool) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.strict_window(strict))
    }
}

/// Sets retries: up to `max_retries` further attempts (0 disables retries) for
/// transport errors, timeouts, 429, 502, 503 and 504, of idempotent methods (see
/// `rlc_request_set_retry_non_idempotent`), after `min(max_delay_ms, base_delay_ms *
/// 2^n)` with full jitter, or the server's longer Retry-After.
/// RLC_E_INVALID_ARGUMENT when `base_delay_ms` is 0 with retries on, or
/// `max_delay_ms` is below `base_delay_ms`.
#[no_mangle]
pub extern "C" fn rlc_config_set_retry(
    cfg: *mut rlc_config,
    max_retries: u32,
    base_delay_ms: u64,
    max_delay_ms: u64,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.retry(RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(base_delay_ms),
            max_delay: Duration::from_millis(max_delay_ms),
        }))
    }
}

/// Sets the circuit breaker: it opens after `failure_threshold` consecutive failures
/// (transport errors, timeouts, 5xx), fails requests fast with RLC_E_CIRCUIT_OPEN for
/// `recovery_timeout_ms`, then lets one probe through. A `failure_threshold` of 0
/// disables the breaker. RLC_E_INVALID_ARGUMENT when the breaker is on and
/// `recovery_timeout_ms` is 0.
#[no_mangle]
pub extern "C" fn rlc_config_set_circuit_breaker(
    cfg: *mut rlc_config,
    failure_threshold: u32,
    recovery_timeout_ms: u64,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.circuit_breaker(BreakerConfig {
            failure_threshold,
            recovery_timeout: Duration::from_millis(recovery_timeout_ms),
        }))
    }
}

/// Bounds the queue: a submit while `max` requests wait is refused with
/// RLC_E_QUEUE_FULL and nothing is queued. RLC_E_INVALID_ARGUMENT when `max` is 0.
#[no_mangle]
pub extern "C" fn rlc_config_set_max_queue_size(cfg: *mut rlc_config, max: usize) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.max_queue_size(max))
    }
}

/// Sets the number of worker threads, which is the most requests in flight at once.
/// RLC_E_INVALID_ARGUMENT unless 1 <= `workers` <= 1024.
#[no_mangle]
pub extern "C" fn rlc_config_set_workers(cfg: *mut rlc_config, workers: u32) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.workers(workers))
    }
}

/// Sets the timeout of one attempt, from connect to the last byte of the body.
/// RLC_E_INVALID_ARGUMENT when `timeout_ms` is 0.
#[no_mangle]
pub extern "C" fn rlc_config_set_timeout(cfg: *mut rlc_config, timeout_ms: u64) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.timeout(Duration::from_millis(timeout_ms)))
    }
}

/// Adds a header sent with every request, replacing an earlier default of that name
/// (a request's own header of that name wins). Both strings are copied.
/// RLC_E_INVALID_ARGUMENT for NULL, bad UTF-8, a name that is not an HTTP token, or
/// a value holding a control character other than tab (CR, LF, NUL, ESC...) or DEL.
#[no_mangle]
pub extern "C" fn rlc_config_set_default_header(
    cfg: *mut rlc_config,
    name: *const c_char,
    value: *const c_char,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let name = try_str_from_ptr!(name);
        let value = try_str_from_ptr!(value);
        result_of(cfg.default_header(name, value))
    }
}

/// Sets the largest response body accepted; a larger one completes with
/// RLC_E_BODY_TOO_LARGE. RLC_E_INVALID_ARGUMENT when `max_bytes` is 0.
#[no_mangle]
pub extern "C" fn rlc_config_set_max_response_bytes(
    cfg: *mut rlc_config,
    max_bytes: u64,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.max_response_bytes(max_bytes))
    }
}

/// Sets the `User-Agent` sent when a request sets none (default "rlc/<version>").
/// `user_agent` is copied. RLC_E_INVALID_ARGUMENT for NULL, bad UTF-8, or a control
/// character other than tab (CR, LF, NUL, ESC...) or DEL.
#[no_mangle]
pub extern "C" fn rlc_config_set_user_agent(
    cfg: *mut rlc_config,
    user_agent: *const c_char,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let user_agent = try_str_from_ptr!(user_agent);
        result_of(cfg.user_agent(user_agent))
    }
}

/// Trusts the PEM certificates in the file at `path` instead of the built-in Mozilla
/// roots. TLS is always verified; this only changes what it is verified against. The
/// file is read now; `path` is copied. RLC_E_INVALID_ARGUMENT for NULL, bad UTF-8, an
/// unreadable file or one without a certificate.
#[no_mangle]
pub extern "C" fn rlc_config_set_ca_bundle(
    cfg: *mut rlc_config,
    path: *const c_char,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let path = try_str_from_ptr!(path);
        result_of(cfg.ca_bundle_file(path))
    }
}

/// Sets how many redirects (301, 302, 303, 307, 308 with a Location) a request
/// follows, 10 by default. Each hop is sent like a request of its own: it takes a
/// token and counts in the strict window. A hop to the same origin keeps every
/// header; a hop to another origin drops Authorization, Cookie, Proxy-Authorization
/// and the headers marked with `rlc_config_add_sensitive_header`. 303 (and 301/302
/// after a POST) turn into a GET without a body; 307/308 repeat method and body.
/// More hops than `max`, a loop, or a Location that is no http(s) URL complete the
/// request with RLC_E_REDIRECT. 0 hands every 3xx response to the callback as it is.
/// RLC_E_INVALID_ARGUMENT when `cfg` is NULL.
#[no_mangle]
pub extern "C" fn rlc_config_set_max_redirects(cfg: *mut rlc_config, max: u32) -> rlc_result {
    ffi_panic_boundary! {
        try_mut_from_ptr!(cfg).max_redirects(max);
        rlc_result::RLC_OK
    }
}

/// Allows (true) or refuses (false, the default) redirects from an https URL to an
/// http one; a refused hop completes the request with RLC_E_REDIRECT. Allowing it
/// sends the redirected request, and whatever it carries, in clear text.
/// RLC_E_INVALID_ARGUMENT when `cfg` is NULL.
#[no_mangle]
pub extern "C" fn rlc_config_set_redirect_to_http(cfg: *mut rlc_config, allow: bool) -> rlc_result {
    ffi_panic_boundary! {
        try_mut_from_ptr!(cfg).redirect_to_http(allow);
        rlc_result::RLC_OK
    }
}

/// Marks header `name` (copied; compared without regard to case) as a credential: a
/// redirect to another origin drops it, whether a request or a default header set it,
/// as it always drops Authorization, Cookie and Proxy-Authorization (an `X-Api-Key`,
/// say). RLC_E_INVALID_ARGUMENT for NULL, bad UTF-8 or a name that is no HTTP token.
#[no_mangle]
pub extern "C" fn rlc_config_add_sensitive_header(
    cfg: *mut rlc_config,
    name: *const c_char,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let name = try_str_from_ptr!(name);
        result_of(cfg.sensitive_header(name))
    }
}

/// Sets the longest pause a server may impose, 5 minutes (300000 ms) by default:
/// a Retry-After, or rate-limit headers saying no requests remain, that ask for
/// longer pause the client (or delay a retry) for `max_ms` only, and the metrics
/// count the cut (`rlc_client_metric` with RLC_METRIC_SERVER_PAUSES_CAPPED). A
/// broken or hostile server can then hold the client back for at most this long.
/// RLC_E_INVALID_ARGUMENT when `cfg` is NULL or `max_ms` is 0.
#[no_mangle]
pub extern "C" fn rlc_config_set_max_server_pause(cfg: *mut rlc_config, max_ms: u64) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.max_server_pause(Duration::from_millis(max_ms)).map(|_| ()))
    }
}

/// Bounds retries: over any ten seconds, at most `percent` % of the first attempts,
/// plus `min_per_second` per second (20 % and 10/s by default), so that a failing API
/// never sees a retry storm. A retry the budget refuses completes the request with
/// its last response or error, and is counted (RLC_METRIC_RETRIES_REFUSED_BY_BUDGET).
/// `(0, 0)` turns retries off. RLC_E_INVALID_ARGUMENT when `cfg` is NULL.
#[no_mangle]
pub extern "C" fn rlc_config_set_retry_budget(
    cfg: *mut rlc_config,
    percent: u32,
    min_per_second: u32,
) -> rlc_result {
    ffi_panic_boundary! {
        try_mut_from_ptr!(cfg).retry_budget(percent, min_per_second);
        rlc_result::RLC_OK
    }
}

/// Replaces the HTTP statuses that are retried (429, 502, 503 and 504 by default)
/// with the `n` statuses at `codes` (copied; `codes` may be NULL when `n` is 0, and
/// then no status is retried). Transport errors and timeouts stay retried.
/// RLC_E_INVALID_ARGUMENT when `cfg` is NULL, `codes` is NULL with `n` > 0, or a
/// code is not within 100..=599 (the config is then unchanged).
#[no_mangle]
pub extern "C" fn rlc_config_set_retry_on_status(
    cfg: *mut rlc_config,
    codes: *const u16,
    n: usize,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let codes: &[u16] = if n == 0 {
            &[]
        } else if codes.is_null() {
            return super::error::null_argument("codes");
        } else {
            // SAFETY: codes is non-NULL and, by the C contract, readable for n values.
            unsafe { std::slice::from_raw_parts(codes, n) }
        };
        result_of(cfg.retry_on_status(codes).map(|_| ()))
    }
}

/// Turns adaptive limiting on (`on` true) or off (the default): a throttle (a 429,
/// or a 503 with Retry-After, without quota headers to pace from) cuts the primary
/// rate limit to three quarters, and every quiet second climbs back toward the
/// configured rate (fast while well below the rate last throttled, slowly near it),
/// so that rlc finds a limit the server does not
/// publish. The rate limit set with `rlc_config_set_rate_limit` is the ceiling:
/// `rlc_client_new` refuses adaptive limiting without one. RLC_METRIC_RATE_LIMIT and
/// RLC_EVENT_LIMIT show the rate in force. RLC_E_INVALID_ARGUMENT when `cfg` is NULL.
#[no_mangle]
pub extern "C" fn rlc_config_set_adaptive(cfg: *mut rlc_config, on: bool) -> rlc_result {
    ffi_panic_boundary! {
        try_mut_from_ptr!(cfg).adaptive(on);
        rlc_result::RLC_OK
    }
}

/// Names the client (by default "default"): the value of the `client` label on every
/// sample of `rlc_client_metrics_prometheus`, so that the metrics of several clients
/// in one process can be told apart. `name` is copied. RLC_E_INVALID_ARGUMENT for
/// NULL, bad UTF-8, an empty name, one longer than 128 bytes, or a control character.
#[no_mangle]
pub extern "C" fn rlc_config_set_name(cfg: *mut rlc_config, name: *const c_char) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let name = try_str_from_ptr!(name);
        result_of(cfg.name(name))
    }
}

/// Runs the callback of a request that a worker finished (an answer, or a failed
/// last attempt) on that worker, at once (`on` true), instead of on the completion
/// thread (false, the default): no thread hand-off and no wake-up per request, for
/// the highest throughput. The price: callbacks run on several threads at once, in
/// no order across workers, and a slow callback holds its worker. Requests the
/// client completes itself (cancelled or timed out while queued, refused by the open
/// breaker, shut down) and every event still come on the completion thread, so an
/// event may arrive after the callback it preceded. Every other promise holds:
/// exactly one callback per request, never inside a call to rlc, all delivered by
/// `rlc_client_free`; inside such a callback `rlc_send` is refused and
/// `rlc_client_free` does not wait. RLC_E_INVALID_ARGUMENT when `cfg` is NULL.
#[no_mangle]
pub extern "C" fn rlc_config_set_callbacks_on_workers(
    cfg: *mut rlc_config,
    on: bool,
) -> rlc_result {
    ffi_panic_boundary! {
        try_mut_from_ptr!(cfg).callbacks_on_workers(on);
        rlc_result::RLC_OK
    }
}
