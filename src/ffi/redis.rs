//! The shared limit's options on `rlc_config`: `rlc_config_set_redis` and its
//! failure policy (see `src/redis/`).

use std::ffi::c_char;

use super::cast::{try_mut_from_ptr, try_str_from_ptr};
use super::config::rlc_config;
use super::error::{invalid_argument, result_of, rlc_result};
use super::panic::ffi_panic_boundary;
use crate::redis::FailurePolicy;

/// What a client with a shared limit does while its Redis is away
/// (`rlc_config_set_redis_failure`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum rlc_redis_failure {
    /// Requests wait for Redis; one with a deadline (`rlc_request_set_deadline`)
    /// completes with RLC_E_TIMEOUT when it passes.
    RLC_REDIS_FAIL_CLOSED = 0,
    /// A local limiter takes over at a share of the rate (`rlc_config_set_redis_local_share`;
    /// by default 100 % / the clients seen on the key) until Redis is back. The default.
    RLC_REDIS_FAIL_LOCAL = 1,
    /// Requests go at this client's own full rate, unshared, until Redis is back.
    RLC_REDIS_FAIL_OPEN = 2,
}

/// Shares the client's rate limits (set them first, or before rlc_client_new) with
/// every client, in any process or host, that uses the same Redis and `key`: their
/// state lives in Redis under `{key}:...`, each decision one atomic Lua step on
/// Redis's own clock. `url` is `redis://[user:password@]host[:port][/db]`, `rediss://`
/// for TLS, or `unix:///path`; both strings are copied. The URL is checked here and
/// connected to by rlc_client_new (which waits up to 1 s for it), which fails with
/// RLC_E_REDIS when Redis refuses (wrong password, no such database); a Redis that
/// cannot be reached does not fail it: the failure policy applies until it can. A lease thread takes tokens in
/// batches when demand is high (one at a time when low), so the shared rate may
/// exceed the limit by at most the lease size per client in any window
/// (`rlc_config_set_redis_max_lease`). A pause a server asks for (429, Retry-After,
/// RateLimit headers) is shared with every client on the key. No message ever holds
/// the password. RLC_E_INVALID_ARGUMENT for NULL, bad UTF-8, a bad URL, or a key that
/// is empty, longer than 256 bytes or holds a control character.
#[no_mangle]
pub extern "C" fn rlc_config_set_redis(
    cfg: *mut rlc_config,
    url: *const c_char,
    key: *const c_char,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let url = try_str_from_ptr!(url);
        let key = try_str_from_ptr!(key);
        result_of(cfg.redis(url, key))
    }
}

/// Sets what the client does while its Redis is away: `policy` is an
/// `rlc_redis_failure` (RLC_REDIS_FAIL_LOCAL by default). `rlc_config_set_redis` must
/// come first. RLC_E_INVALID_ARGUMENT when `cfg` is NULL, `policy` is no
/// `rlc_redis_failure`, or no Redis was set.
#[no_mangle]
pub extern "C" fn rlc_config_set_redis_failure(cfg: *mut rlc_config, policy: u32) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let policy = match policy {
            0 => FailurePolicy::Closed,
            1 => FailurePolicy::Local,
            2 => FailurePolicy::Open,
            _ => return invalid_argument(&format!("no Redis failure policy numbered {policy}")),
        };
        result_of(cfg.redis_failure(policy))
    }
}

/// Sets the share of the rate, in percent (1 to 100), that the local limiter allows
/// under RLC_REDIS_FAIL_LOCAL while Redis is away. By default it is 100 / the number of
/// clients seen on the key in the ten seconds before Redis went away, so that together
/// they keep to the limit. `rlc_config_set_redis` must come first.
/// RLC_E_INVALID_ARGUMENT when `cfg` is NULL, `percent` is out of range, or no Redis
/// was set.
#[no_mangle]
pub extern "C" fn rlc_config_set_redis_local_share(
    cfg: *mut rlc_config,
    percent: u32,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.redis_local_share(percent))
    }
}

/// Sets the most tokens taken from Redis in one round trip (by default 5 % of the
/// rate per second, from 1 to 64): the bound on how far the shared rate may exceed
/// the limit in any window, per client; a larger lease means fewer round trips.
/// `rlc_config_set_redis` must come first. RLC_E_INVALID_ARGUMENT when `cfg` is NULL,
/// `tokens` is 0, or no Redis was set.
#[no_mangle]
pub extern "C" fn rlc_config_set_redis_max_lease(cfg: *mut rlc_config, tokens: u32) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.redis_max_lease(tokens))
    }
}
