//! Retry delays and what servers say about when to come back.
//! TODO(helper): implement; see the contract on each item.

use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::config::RetryPolicy;

/// The backoff before retry number `retry` (0 for the first retry):
/// uniform in `[0, min(max_delay, base_delay * 2^retry)]` (full jitter), with no
/// overflow for any `retry`.
pub fn jittered_delay<R: Rng + ?Sized>(policy: &RetryPolicy, retry: u32, rng: &mut R) -> Duration {
    let _ = (policy, retry, rng);
    todo!()
}

/// The delay before retry number `retry`: the jittered backoff, or the server's
/// hint when that is larger (never earlier than the server asked).
pub fn retry_delay<R: Rng + ?Sized>(
    policy: &RetryPolicy,
    retry: u32,
    server_hint: Option<Duration>,
    rng: &mut R,
) -> Duration {
    let _ = (policy, retry, server_hint, rng);
    todo!()
}

/// Parses a `Retry-After` value: delta-seconds (`"120"`) or an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`, converted to a delay from `now`; a date in
/// the past gives zero). Garbage, negative or absurd (> 1 day... no: > 1 year) values give None.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let _ = (value, now);
    todo!()
}

/// How long the server asks the client to pause sending, from a response's headers
/// (`header(name)` looks a header up without regard to case):
/// - `Retry-After` on a 429 or 503;
/// - `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset` (delta seconds, or Unix
///   epoch seconds when the number is larger than 1e9, converted with `now`);
/// - IETF draft fields: `RateLimit-Remaining: 0` with `RateLimit-Reset` (delta
///   seconds); `RateLimit: limit=10, remaining=0, reset=5`; and the newer
///   structured form `RateLimit: "default";r=0;t=5`.
///
/// None when the response asks for no pause.
pub fn server_pause(
    status: u16,
    header: &dyn Fn(&str) -> Option<String>,
    now: SystemTime,
) -> Option<Duration> {
    let _ = (status, header, now);
    todo!()
}
