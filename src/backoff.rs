//! Retry delays and what servers say about when to come back.
//!
//! Backoff uses full jitter so that clients that failed together do not retry
//! together. Server hints are honoured even past `max_delay`: a server that says
//! when it will take requests again knows better than our guess. Anything a server
//! says that cannot be read, or that asks for more than a year, is ignored rather
//! than trusted, so a broken header can never stall a client indefinitely.

use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::config::RetryPolicy;
use crate::quota::{exhausted, sourced_quotas, Sourced, MAX_PAUSE};

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The backoff before retry number `retry` (0 for the first retry):
/// uniform in `[0, min(max_delay, base_delay * 2^retry)]` (full jitter). The
/// exponential saturates at `max_delay`, so any `retry` up to `u32::MAX` is safe.
pub fn jittered_delay<R: Rng + ?Sized>(policy: &RetryPolicy, retry: u32, rng: &mut R) -> Duration {
    let cap = backoff_cap(policy, retry).as_nanos();
    if cap == 0 {
        return Duration::ZERO;
    }
    duration_from_nanos(rng.gen_range(0..=cap))
}

/// `min(max_delay, base_delay * 2^retry)`, without ever computing an overflowing product.
fn backoff_cap(policy: &RetryPolicy, retry: u32) -> Duration {
    let base = policy.base_delay.as_nanos();
    let max = policy.max_delay.as_nanos();
    // `base << retry <= max` exactly when `base <= max >> retry`; a `Duration` has
    // fewer than 96 bits of nanoseconds, so past 127 doublings any base is too big.
    let grown = if base == 0 {
        0
    } else if retry >= 128 || base > max >> retry {
        max
    } else {
        base << retry
    };
    duration_from_nanos(grown.min(max))
}

/// A duration from nanoseconds that came from a `Duration` (so the seconds fit).
fn duration_from_nanos(n: u128) -> Duration {
    let secs = u64::try_from(n / NANOS_PER_SEC).unwrap_or(u64::MAX);
    Duration::new(secs, (n % NANOS_PER_SEC) as u32)
}

/// The delay before retry number `retry`: the jittered backoff, or the server's
/// hint when that is larger (never earlier than the server asked, even past
/// `max_delay`).
pub fn retry_delay<R: Rng + ?Sized>(
    policy: &RetryPolicy,
    retry: u32,
    server_hint: Option<Duration>,
    rng: &mut R,
) -> Duration {
    let backoff = jittered_delay(policy, retry, rng);
    server_hint.map_or(backoff, |hint| backoff.max(hint))
}

/// Parses a `Retry-After` value: delta-seconds (`"120"`) or an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`, converted to a delay from `now`; a date in
/// the past gives zero). Surrounding whitespace is ignored. Garbage, signs,
/// fractions and values of more than a year give None.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let delay = if value.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(value.parse::<u64>().ok()?)
    } else {
        let date = httpdate::parse_http_date(value).ok()?;
        date.duration_since(now).unwrap_or(Duration::ZERO)
    };
    (delay <= MAX_PAUSE).then_some(delay)
}

/// How long the server asks the client to pause sending, from a response's headers
/// (`header(name)` looks a header up without regard to case):
/// - `Retry-After` on a 429 or 503 (elsewhere it is about redirects, not load);
/// - `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset` (delta seconds, or Unix
///   epoch seconds when the number is larger than 1e9, converted with `now`);
/// - IETF draft fields: `RateLimit-Remaining: 0` with `RateLimit-Reset` (delta
///   seconds); `RateLimit: limit=10, remaining=0, reset=5`; and the newer
///   structured form `RateLimit: "default";r=0;t=5` (any policy with `r=0` counts).
///
/// Reset values may carry a decimal fraction (`1.5`, `1700000000.250`), as some
/// servers send. When several apply, the longest pause wins. A remaining count above
/// zero, a missing or unreadable reset, or a pause of more than a year contributes
/// nothing. None when the response asks for no pause, including a pause of zero.
pub fn server_pause(
    status: u16,
    header: &dyn Fn(&str) -> Option<String>,
    now: SystemTime,
) -> Option<Duration> {
    server_pause_source(status, header, now).map(|(pause, _)| pause)
}

/// [`server_pause`], with the name of the header that asked for the pause that won.
pub fn server_pause_source(
    status: u16,
    header: &dyn Fn(&str) -> Option<String>,
    now: SystemTime,
) -> Option<(Duration, &'static str)> {
    pause_from(status, header, &sourced_quotas(header, now), now)
}

/// [`server_pause_source`] from quotas already read from the same headers, so that
/// a caller that also paces from them reads them once.
pub(crate) fn pause_from(
    status: u16,
    header: &dyn Fn(&str) -> Option<String>,
    quotas: &[Sourced],
    now: SystemTime,
) -> Option<(Duration, &'static str)> {
    let retry_after = if status == 429 || status == 503 {
        header("Retry-After").and_then(|v| parse_retry_after(&v, now))
    } else {
        None
    };
    retry_after
        .filter(|p| !p.is_zero())
        .map(|p| (p, "Retry-After"))
        .into_iter()
        .chain(exhausted(quotas))
        .max_by_key(|(pause, _)| *pause)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use std::time::UNIX_EPOCH;

    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::quota::parse_seconds;

    fn policy(base_ms: u64, max_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(base_ms),
            max_delay: Duration::from_millis(max_ms),
        }
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(42)
    }

    /// A fixed wall clock: 2015-10-21 07:00:00 UTC.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_445_410_800)
    }

    fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect();
        move |name: &str| map.get(&name.to_ascii_lowercase()).cloned()
    }

    fn pause(status: u16, pairs: &[(&str, &str)]) -> Option<Duration> {
        server_pause(status, &headers(pairs), now())
    }

    #[test]
    fn jitter_stays_within_the_exponential_and_spreads() {
        let p = policy(100, 30_000);
        let mut rng = rng();
        for (retry, cap_ms) in
            [(0, 100), (1, 200), (3, 800), (8, 25_600), (9, 30_000), (20, 30_000)]
        {
            let cap = Duration::from_millis(cap_ms);
            let samples: Vec<Duration> =
                (0..10_000).map(|_| jittered_delay(&p, retry, &mut rng)).collect();
            let min = *samples.iter().min().unwrap();
            let max = *samples.iter().max().unwrap();
            assert!(max <= cap, "retry {retry}: {max:?} above {cap:?}");
            assert!(min < cap / 10, "retry {retry}: smallest {min:?} of {cap:?}");
            assert!(max > cap * 9 / 10, "retry {retry}: largest {max:?} of {cap:?}");
            let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
            assert!(mean > cap * 45 / 100 && mean < cap * 55 / 100, "retry {retry}: mean {mean:?}");
        }
    }

    #[test]
    fn jitter_is_capped_by_max_delay() {
        let p = policy(100, 1_000);
        let mut rng = rng();
        for retry in 0..200 {
            assert!(jittered_delay(&p, retry, &mut rng) <= Duration::from_secs(1));
        }
        assert_eq!(backoff_cap(&p, 3), Duration::from_millis(800));
        assert_eq!(backoff_cap(&p, 4), Duration::from_secs(1));
    }

    #[test]
    fn no_overflow_at_huge_retry_numbers() {
        let mut rng = rng();
        let p = policy(100, 30_000);
        for retry in [31, 32, 63, 64, 95, 96, 127, 128, 129, 1_000, u32::MAX - 1, u32::MAX] {
            assert_eq!(backoff_cap(&p, retry), Duration::from_secs(30), "retry {retry}");
            assert!(jittered_delay(&p, retry, &mut rng) <= Duration::from_secs(30));
        }
        let huge = RetryPolicy {
            max_retries: u32::MAX,
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
        };
        for retry in [0, 1, 64, 128, u32::MAX] {
            assert_eq!(backoff_cap(&huge, retry), Duration::MAX);
            jittered_delay(&huge, retry, &mut rng);
        }
        let tiny = RetryPolicy {
            max_retries: 1,
            base_delay: Duration::from_nanos(1),
            max_delay: Duration::MAX,
        };
        assert_eq!(backoff_cap(&tiny, 64), Duration::from_nanos(1 << 63) * 2);
        assert_eq!(backoff_cap(&tiny, u32::MAX), Duration::MAX);
    }

    #[test]
    fn zero_base_gives_zero() {
        let p =
            RetryPolicy { max_retries: 0, base_delay: Duration::ZERO, max_delay: Duration::ZERO };
        let mut rng = rng();
        for retry in [0, 5, u32::MAX] {
            assert_eq!(jittered_delay(&p, retry, &mut rng), Duration::ZERO);
        }
    }

    #[test]
    fn max_below_base_caps_at_max() {
        let p = policy(500, 200);
        let mut rng = rng();
        assert_eq!(backoff_cap(&p, 0), Duration::from_millis(200));
        for _ in 0..1000 {
            assert!(jittered_delay(&p, 0, &mut rng) <= Duration::from_millis(200));
        }
    }

    #[test]
    fn server_hint_wins_when_larger() {
        let p = policy(100, 1_000);
        let mut rng = rng();
        let hint = Duration::from_secs(120);
        for retry in [0, 5, 50] {
            // Honoured even though it is far past max_delay.
            assert_eq!(retry_delay(&p, retry, Some(hint), &mut rng), hint);
        }
        // A small hint does not shorten the backoff: the result is never below it.
        let small = Duration::from_millis(1);
        let delays: Vec<_> = (0..1000).map(|_| retry_delay(&p, 3, Some(small), &mut rng)).collect();
        assert!(delays.iter().all(|&d| d >= small && d <= Duration::from_millis(800)));
        assert!(delays.iter().any(|&d| d > Duration::from_millis(400)));
        // No hint: the plain jittered delay, drawn from the same generator.
        let (mut a, mut b) = (rng.clone(), rng);
        assert_eq!(retry_delay(&p, 2, None, &mut a), jittered_delay(&p, 2, &mut b));
    }

    #[test]
    fn works_with_a_dyn_rng() {
        let p = policy(100, 1_000);
        let mut rng = rng();
        let dynamic: &mut dyn rand::RngCore = &mut rng;
        assert!(retry_delay(&p, 1, None, dynamic) <= Duration::from_millis(200));
    }

    #[test]
    fn retry_after_delta_seconds() {
        assert_eq!(parse_retry_after("120", now()), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("  7 \t", now()), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("007", now()), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("31536000", now()), Some(MAX_PAUSE));
        assert_eq!(parse_retry_after("31536001", now()), None);
        assert_eq!(parse_retry_after("99999999999999999999999", now()), None);
    }

    #[test]
    fn retry_after_http_date() {
        // now() is 07:00:00 on that day.
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(parse_retry_after(date, now()), Some(Duration::from_secs(28 * 60)));
        assert_eq!(
            parse_retry_after(&format!("  {date}  "), now()),
            Some(Duration::from_secs(28 * 60))
        );
        // The obsolete forms HTTP still requires recipients to accept.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:00:30 GMT", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:01:00 2015", now()),
            Some(Duration::from_secs(60))
        );
        // In the past: go now.
        assert_eq!(parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now()), Some(Duration::ZERO));
        // More than a year ahead: absurd.
        assert_eq!(parse_retry_after("Fri, 21 Oct 2016 07:28:00 GMT", now()), None);
        assert_eq!(parse_retry_after("Mon, 21 Oct 2099 07:28:00 GMT", now()), None);
    }

    #[test]
    fn retry_after_garbage_is_none() {
        for value in [
            "",
            "   ",
            "-1",
            "-0",
            "+5",
            "1.5",
            "1.",
            ".5",
            "1e3",
            "0x10",
            "12 34",
            "soon",
            "120s",
            "Wed, 21 Oct 2015 25:28:00 GMT",
            "Thu, 21 Oct 2015 07:28:00 GMT",
            "21 Oct 2015",
            "٣",
        ] {
            assert_eq!(parse_retry_after(value, now()), None, "{value:?}");
        }
    }

    #[test]
    fn retry_after_counts_only_on_429_and_503() {
        let h = [("Retry-After", "30")];
        assert_eq!(pause(429, &h), Some(Duration::from_secs(30)));
        assert_eq!(pause(503, &h), Some(Duration::from_secs(30)));
        for status in [200, 301, 302, 500, 502, 504] {
            assert_eq!(pause(status, &h), None, "status {status}");
        }
        assert_eq!(
            pause(429, &[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]),
            Some(Duration::from_secs(1680))
        );
        assert_eq!(pause(429, &[("Retry-After", "later")]), None);
        assert_eq!(pause(429, &[]), None);
    }

    #[test]
    fn zero_pause_is_none() {
        assert_eq!(pause(429, &[("Retry-After", "0")]), None);
        assert_eq!(pause(429, &[("Retry-After", "Tue, 20 Oct 2015 07:28:00 GMT")]), None);
        assert_eq!(pause(200, &[("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "0")]), None);
    }

    #[test]
    fn x_ratelimit_delta_seconds() {
        let h = [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "17")];
        assert_eq!(pause(200, &h), Some(Duration::from_secs(17)));
        assert_eq!(pause(429, &h), Some(Duration::from_secs(17)));
        assert_eq!(
            pause(200, &[("x-ratelimit-remaining", " 0 "), ("x-ratelimit-reset", "1.25")]),
            Some(Duration::from_millis(1250))
        );
    }

    #[test]
    fn x_ratelimit_epoch_seconds() {
        let in_90s = (1_445_410_800 + 90).to_string();
        let h = [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", in_90s.as_str())];
        assert_eq!(pause(200, &h), Some(Duration::from_secs(90)));
        let fractional = format!("{in_90s}.5");
        let h = [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", fractional.as_str())];
        assert_eq!(pause(200, &h), Some(Duration::from_millis(90_500)));
        // Already past.
        let h = [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "1445410000")];
        assert_eq!(pause(200, &h), None);
        // Just above the threshold is a date (long past), not a 31-year delay.
        let h = [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "1000000001")];
        assert_eq!(pause(200, &h), None);
        // At the threshold it is a delta, and an absurd one.
        let h = [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "1000000000")];
        assert_eq!(pause(200, &h), None);
        // Years ahead: absurd.
        let h = [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "4102444800")];
        assert_eq!(pause(200, &h), None);
        let h = [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "18446744073709551615")];
        assert_eq!(pause(200, &h), None);
    }

    #[test]
    fn x_ratelimit_needs_zero_remaining_and_a_reset() {
        assert_eq!(
            pause(200, &[("X-RateLimit-Remaining", "1"), ("X-RateLimit-Reset", "17")]),
            None
        );
        assert_eq!(pause(200, &[("X-RateLimit-Remaining", "0")]), None);
        assert_eq!(pause(200, &[("X-RateLimit-Reset", "17")]), None);
        for (remaining, reset) in
            [("-0", "17"), ("zero", "17"), ("0", "-17"), ("0", "soon"), ("0", ""), ("0", "1.2.3")]
        {
            let h = [("X-RateLimit-Remaining", remaining), ("X-RateLimit-Reset", reset)];
            assert_eq!(pause(200, &h), None, "{remaining:?} {reset:?}");
        }
    }

    #[test]
    fn ietf_separate_fields() {
        assert_eq!(
            pause(200, &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "42")]),
            Some(Duration::from_secs(42))
        );
        assert_eq!(pause(200, &[("RateLimit-Remaining", "3"), ("RateLimit-Reset", "42")]), None);
        assert_eq!(pause(200, &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "nope")]), None);
        // Delta seconds only: a Unix time here is an absurd delay.
        assert_eq!(
            pause(200, &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "1445410890")]),
            None
        );
    }

    #[test]
    fn ietf_combined_list_field() {
        assert_eq!(
            pause(200, &[("RateLimit", "limit=10, remaining=0, reset=5")]),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            pause(200, &[("RateLimit", "reset=5,remaining=0")]),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            pause(200, &[("RateLimit", "Limit=10, Remaining=0, Reset=5")]),
            Some(Duration::from_secs(5))
        );
        assert_eq!(pause(200, &[("RateLimit", "limit=10, remaining=4, reset=5")]), None);
        assert_eq!(pause(200, &[("RateLimit", "limit=10, remaining=0")]), None);
        assert_eq!(pause(200, &[("RateLimit", "limit=10, remaining=0, reset=x")]), None);
    }

    #[test]
    fn ietf_structured_field() {
        assert_eq!(
            pause(200, &[("RateLimit", "\"default\";r=0;t=5")]),
            Some(Duration::from_secs(5))
        );
        assert_eq!(pause(200, &[("RateLimit", "\"default\";r=3;t=5")]), None);
        assert_eq!(
            pause(200, &[("RateLimit", "\"default\"; r=0; t=5")]),
            Some(Duration::from_secs(5))
        );
        assert_eq!(pause(200, &[("RateLimit", "default;t=9;r=0")]), Some(Duration::from_secs(9)));
        // Several policies: the exhausted ones count, the longest wins.
        assert_eq!(
            pause(
                200,
                &[("RateLimit", "\"burst\";r=0;t=2, \"daily\";r=0;t=3600, \"hourly\";r=7;t=7200")]
            ),
            Some(Duration::from_secs(3600))
        );
        // A comma inside a quoted name does not split the policy.
        assert_eq!(pause(200, &[("RateLimit", "\"a,b\";r=0;t=4")]), Some(Duration::from_secs(4)));
        for value in [
            "\"default\";r=0",
            "\"default\";r=0;t=-5",
            "\"default\";r=-1;t=5",
            "\"default\";r=0;t=abc",
            ";;;",
            "\"",
        ] {
            assert_eq!(pause(200, &[("RateLimit", value)]), None, "{value:?}");
        }
    }

    #[test]
    fn the_longest_pause_wins() {
        let h = [
            ("Retry-After", "10"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "30"),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", "20"),
            ("RateLimit", "\"default\";r=0;t=25"),
        ];
        assert_eq!(pause(429, &h), Some(Duration::from_secs(30)));
        let h =
            [("Retry-After", "60"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "30")];
        assert_eq!(pause(503, &h), Some(Duration::from_secs(60)));
        // Garbage in one does not hide another.
        let h = [("Retry-After", "junk"), ("RateLimit", "limit=5, remaining=0, reset=8")];
        assert_eq!(pause(429, &h), Some(Duration::from_secs(8)));
    }

    #[test]
    fn no_headers_no_pause() {
        assert_eq!(pause(200, &[]), None);
        assert_eq!(pause(500, &[]), None);
        assert_eq!(pause(200, &[("Content-Type", "text/plain")]), None);
    }

    #[test]
    fn now_before_the_epoch_is_harmless() {
        let early = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:05 GMT", early),
            Some(Duration::from_secs(15))
        );
        let h = headers(&[("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "1000000001")]);
        assert_eq!(server_pause(200, &h, early), None);
    }

    #[test]
    fn seconds_parser() {
        assert_eq!(parse_seconds("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_seconds("3.5"), Some(Duration::from_millis(3500)));
        assert_eq!(parse_seconds("0.000000001"), Some(Duration::from_nanos(1)));
        assert_eq!(parse_seconds("0.0000000019"), Some(Duration::from_nanos(1)));
        assert_eq!(parse_seconds(" 2.25 "), Some(Duration::from_millis(2250)));
        for bad in ["", ".", "3.", ".5", "3.5.1", "-3", "+3", "3 .5", "3.-5", "1e3"] {
            assert_eq!(parse_seconds(bad), None, "{bad:?}");
        }
    }
}
