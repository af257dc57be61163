//! Property tests (proptest) over the public API: the server-hint parsers, the
//! backoff, request/config validation and the limiter. They never touch the
//! network and take a few seconds in all; `fuzz/` has cargo-fuzz targets for the
//! same surfaces.
//!
//! A property that a known, unfixed finding breaks is `#[ignore]`d with its name, to be
//! enabled when the fix lands.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rlc::backoff::{jittered_delay, parse_retry_after, retry_delay, server_pause};
use rlc::clock::Nanos;
use rlc::limiter::Limiter;
use rlc::{Config, RateLimit, Request, RetryPolicy};
use ureq::http::{HeaderName, HeaderValue, Uri};

const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

fn config() -> ProptestConfig {
    ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() }
}

/// Text a hostile server or caller might send: numbers with signs, fractions and
/// exponents, huge values, dates, control characters, unicode digits.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t]*[-+]?[0-9]{1,30}([.,][0-9]{0,12})?([eE][-+]?[0-9]{1,4})?[ \t]*",
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| format!("{a}.{b}")),
        any::<u32>()
            .prop_map(|s| httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(s.into()))),
        "[\u{0660}-\u{0669}\u{FF10}-\u{FF19}\u{00B2}\u{00B3}]{1,6}",
        "[0-9]{1,6}[\u{0000}-\u{001F}\u{007F}\u{00A0}\u{2028}]",
        Just(String::new()),
    ]
}

fn now_strategy() -> impl Strategy<Value = SystemTime> {
    (0u64..4_000_000_000).prop_map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

proptest! {
    #![proptest_config(config())]

    // --- Retry-After ---------------------------------------------------------------

    #[test]
    fn retry_after_is_never_more_than_a_year(value in hostile_text(), now in now_strategy()) {
        if let Some(d) = parse_retry_after(&value, now) {
            prop_assert!(d <= YEAR, "{value:?} gave {d:?}");
        }
    }

    #[test]
    fn retry_after_reads_delta_seconds_exactly(n in 0u64..=YEAR.as_secs(), pad in "[ \t]{0,3}", now in now_strategy()) {
        let value = format!("{pad}{n}{pad}");
        prop_assert_eq!(parse_retry_after(&value, now), Some(Duration::from_secs(n)));
    }

    #[test]
    fn retry_after_refuses_signs_fractions_and_huge(
        n in any::<u64>(),
        frac in 0u32..1000,
        sign in prop_oneof![Just("-"), Just("+")],
        now in now_strategy(),
    ) {
        prop_assert_eq!(parse_retry_after(&format!("{sign}{n}"), now), None);
        prop_assert_eq!(parse_retry_after(&format!("{n}.{frac}"), now), None);
        prop_assert_eq!(parse_retry_after(&format!("{n}e3"), now), None);
        if n > YEAR.as_secs() {
            prop_assert_eq!(parse_retry_after(&n.to_string(), now), None);
        }
        // Beyond u64: refused, never wrapped.
        prop_assert_eq!(parse_retry_after(&format!("{n}000000000000000000000"), now), None);
    }

    #[test]
    fn retry_after_refuses_unicode_digits(value in "[\u{0660}-\u{0669}\u{FF10}-\u{FF19}\u{00B9}]{1,8}", now in now_strategy()) {
        prop_assert_eq!(parse_retry_after(&value, now), None);
    }

    #[test]
    fn retry_after_dates_count_from_now(secs in 0u32..=u32::MAX, ahead in 0u64..=2 * YEAR.as_secs()) {
        let now = UNIX_EPOCH + Duration::from_secs(secs.into());
        let date = httpdate::fmt_http_date(now + Duration::from_secs(ahead));
        let expect = (ahead <= YEAR.as_secs()).then(|| Duration::from_secs(ahead));
        prop_assert_eq!(parse_retry_after(&date, now), expect);
        // A date in the past is "now".
        let past = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(u64::from(secs) / 2));
        prop_assert!(parse_retry_after(&past, now).unwrap_or_default() == Duration::ZERO);
    }

    // --- Server pause (Retry-After, X-RateLimit-*, RateLimit) -------------------------

    #[test]
    fn server_pause_is_bounded_and_never_zero(
        status in prop_oneof![Just(429u16), Just(503u16), Just(200u16), any::<u16>()],
        headers in proptest::collection::vec((0usize..7, hostile_text()), 0..6),
        now in now_strategy(),
    ) {
        const NAMES: [&str; 7] = [
            "Retry-After", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Remaining",
            "RateLimit-Reset", "RateLimit", "x-ratelimit-reset",
        ];
        let headers: Vec<(&str, String)> = headers.into_iter().map(|(i, v)| (NAMES[i], v)).collect();
        let lookup = |name: &str| {
            headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
        };
        if let Some(p) = server_pause(status, &lookup, now) {
            prop_assert!(!p.is_zero());
            prop_assert!(p <= YEAR, "{headers:?} gave {p:?}");
        }
    }

    #[test]
    fn server_pause_reads_exhausted_limits(
        reset in 1u64..=YEAR.as_secs(),
        remaining in 1u64..1000,
        form in 0usize..4,
        now in now_strategy(),
    ) {
        let pairs: Vec<(&str, String)> = match form {
            0 => vec![("X-RateLimit-Remaining", "0".into()), ("X-RateLimit-Reset", reset.to_string())],
            1 => vec![("RateLimit-Remaining", "0".into()), ("RateLimit-Reset", reset.to_string())],
            2 => vec![("RateLimit", format!("limit=10, remaining=0, reset={reset}"))],
            _ => vec![("RateLimit", format!("\"default\";r=0;t={reset}"))],
        };
        let lookup = |name: &str| pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        prop_assert_eq!(server_pause(200, &lookup, now), Some(Duration::from_secs(reset)));
        // With requests remaining, no pause.
        let left: Vec<(&str, String)> = pairs
            .iter()
            .map(|(n, v)| (*n, if *n == "RateLimit" { v.replacen("remaining=0", &format!("remaining={remaining}"), 1).replacen("r=0", &format!("r={remaining}"), 1) } else if n.ends_with("Remaining") { remaining.to_string() } else { v.clone() }))
            .collect();
        let lookup = |name: &str| left.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        prop_assert_eq!(server_pause(200, &lookup, now), None);
    }

    #[test]
    fn server_pause_ignores_retry_after_off_429_503(status in any::<u16>(), n in 1u64..1000, now in now_strategy()) {
        prop_assume!(status != 429 && status != 503);
        let lookup = |name: &str| name.eq_ignore_ascii_case("retry-after").then(|| n.to_string());
        prop_assert_eq!(server_pause(status, &lookup, now), None);
        prop_assert_eq!(server_pause(503, &lookup, now), Some(Duration::from_secs(n)));
    }

    // --- Backoff ---------------------------------------------------------------------

    #[test]
    fn backoff_stays_within_its_cap(
        base_ns in 0u64..=u64::MAX,
        max_ns in 0u64..=u64::MAX,
        retry in any::<u32>(),
        seed in any::<u64>(),
        hint in proptest::option::of(any::<u64>()),
    ) {
        let (base, max) = (Duration::from_nanos(base_ns.min(max_ns)), Duration::from_nanos(max_ns));
        let policy = RetryPolicy { max_retries: 3, base_delay: base, max_delay: max };
        let mut rng = StdRng::seed_from_u64(seed);
        // min(max, base * 2^retry), in u128 nanoseconds where it fits.
        let cap = if retry < 64 {
            (u128::from(base_ns.min(max_ns)) << retry).min(u128::from(max_ns))
        } else {
            u128::from(max_ns)
        };
        let d = jittered_delay(&policy, retry, &mut rng);
        prop_assert!(d <= max, "{d:?} > max {max:?}");
        prop_assert!(d.as_nanos() <= cap, "{d:?} > cap {cap} ns");
        let hint = hint.map(Duration::from_nanos);
        let r = retry_delay(&policy, retry, hint, &mut rng);
        match hint {
            Some(h) => prop_assert!(r >= h && r <= h.max(max)),
            None => prop_assert!(r <= max),
        }
    }

    #[test]
    fn backoff_huge_durations_never_panic(secs in any::<u64>(), retry in any::<u32>(), seed in any::<u64>()) {
        let max = Duration::new(secs, 999_999_999);
        let policy = RetryPolicy { max_retries: u32::MAX, base_delay: Duration::from_secs(secs / 3 + 1).min(max), max_delay: max };
        let mut rng = StdRng::seed_from_u64(seed);
        prop_assert!(jittered_delay(&policy, retry, &mut rng) <= max);
        prop_assert!(retry_delay(&policy, retry, Some(Duration::MAX), &mut rng) == Duration::MAX);
    }

    // --- Request and Config validation ----------------------------------------------

    #[test]
    fn accepted_requests_hold_no_crlf_nul(method in hostile_token(), target in hostile_target(), headers in proptest::collection::vec((hostile_token(), hostile_value()), 0..4)) {
        let Ok(mut request) = Request::new(&method, &target) else { return Ok(()) };
        prop_assert!(clean(request.method()) && clean(request.target()));
        if !target.starts_with('/') {
            prop_assert!(target.parse::<Uri>().is_ok(), "accepted absolute URL {target:?} is no Uri");
            prop_assert!(target.starts_with("http://") || target.starts_with("https://"));
        }
        for (name, value) in headers {
            if request.header(&name, &value).is_ok() {
                prop_assert!(clean(&name) && clean(&value), "accepted {name:?}: {value:?}");
                prop_assert!(HeaderName::from_bytes(name.as_bytes()).is_ok(), "accepted name {name:?}");
            }
        }
    }

    #[test]
    fn accepted_base_urls_parse(url in hostile_url()) {
        let mut config = Config::new();
        if config.base_url(&url).is_ok() {
            let trimmed = url.trim_end_matches('/');
            prop_assert!(clean(trimmed));
            let uri = trimmed.parse::<Uri>();
            prop_assert!(uri.is_ok(), "accepted base URL {url:?} is no Uri");
            prop_assert!(uri.unwrap().host().is_some_and(|h| !h.is_empty()));
        }
    }

    #[test]
    fn config_setters_never_panic(
        n in any::<u32>(), ms in any::<u64>(), ms2 in any::<u64>(), size in any::<usize>(),
        name in hostile_token(), value in hostile_value(), agent in hostile_value(),
    ) {
        let mut c = Config::new();
        let _ = c.rate_limit(n, Duration::from_millis(ms));
        let _ = c.burst(n);
        let _ = c.add_rate_limit(RateLimit { max_requests: n, window: Duration::from_millis(ms), burst: n, strict: n % 2 == 0 });
        let _ = c.strict_window(ms % 2 == 0);
        let _ = c.retry(RetryPolicy { max_retries: n, base_delay: Duration::from_millis(ms), max_delay: Duration::from_millis(ms2) });
        let _ = c.circuit_breaker(rlc::BreakerConfig { failure_threshold: n, recovery_timeout: Duration::from_millis(ms) });
        let _ = c.max_queue_size(size);
        let _ = c.workers(n);
        let _ = c.timeout(Duration::from_millis(ms));
        let _ = c.max_response_bytes(ms);
        if c.default_header(&name, &value).is_ok() {
            prop_assert!(clean(&name) && clean(&value));
            prop_assert!(HeaderName::from_bytes(name.as_bytes()).is_ok());
        }
        if c.user_agent(&agent).is_ok() {
            prop_assert!(clean(&agent));
        }
    }
}

// Properties of issue 10's fixes (defects 1 and 8), and of a fuzz finding still open
// (F1, ignored until fixed).
proptest! {
    #![proptest_config(config())]

    /// Defect 1: a header value with a control character (other than tab) or DEL was
    /// accepted, then ureq panicked building the request.
    #[test]
    fn accepted_header_values_are_valid_http(value in hostile_value()) {
        let mut c = Config::new();
        if c.user_agent(&value).is_ok() {
            prop_assert!(HeaderValue::from_str(&value).is_ok(), "user agent {value:?}");
        }
        if c.default_header("x-k", &value).is_ok() {
            prop_assert!(HeaderValue::from_str(&value).is_ok(), "default header {value:?}");
        }
        let mut r = Request::new("GET", "/").unwrap();
        if r.header("x-k", &value).is_ok() {
            prop_assert!(HeaderValue::from_str(&value).is_ok(), "header {value:?}");
        }
    }

    /// Finding F1 of the fuzz run: an absolute or base URL whose host is empty after
    /// a userinfo (`http://user@:/x`) is accepted, and fails only at send time.
    #[test]
    fn urls_with_an_empty_host_are_refused(user in "[a-z]{1,6}", port in proptest::option::of(0u16..), path in "(/[a-z]{0,4})?") {
        let port = port.map_or(String::new(), |p| format!(":{p}"));
        let url = format!("http://{user}@{port}{path}");
        prop_assert!(Config::new().base_url(&url).is_err(), "base URL {url:?} accepted");
        prop_assert!(Request::new("GET", &url).is_err(), "target {url:?} accepted");
    }

    /// Defect 8: a relative path whose query holds `://` was refused.
    #[test]
    fn relative_paths_with_urls_in_the_query_are_accepted(q in "[a-z]{1,8}", host in "[a-z]{1,8}") {
        let target = format!("/{q}?next=https://{host}/x");
        prop_assert!(Request::new("GET", &target).is_ok(), "{target:?} refused");
    }
}

fn clean(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

fn hostile_token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z]{1,8}",
        "[!#$%&'*+.^_`|~0-9A-Za-z-]{0,12}",
        any::<String>(),
        "[A-Za-z]{1,4}[ \t\r\n\u{0}:\u{7f}\u{80}-\u{ff}]{1,2}[A-Za-z]{0,4}",
    ]
}

fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,20}",
        any::<String>(),
        "[a-z]{0,4}[\u{0}-\u{1f}\u{7f}][a-z]{0,4}",
        "[a-z]{0,4}\r\n[A-Za-z-]{1,8}: [a-z]{0,4}",
        "[a-z\u{80}-\u{10ffff}]{0,8}",
    ]
}

fn hostile_target() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[ -~]{0,30}",
        hostile_url(),
        any::<String>(),
        "/[a-z]{0,4}[\u{0}-\u{20}\u{7f}%\\\\^`{}|\"<>][a-z]{0,4}",
    ]
}

fn hostile_url() -> impl Strategy<Value = String> {
    prop_oneof![
        "(http|https|ftp|HTTP)://[a-z0-9.:@\\[\\]-]{0,20}(/[ -~]{0,20})?",
        "https?://[a-z]{1,8}(:[0-9]{0,7})?/?",
        "https?://\\[[0-9a-f:]{0,12}\\](:[0-9]{1,5})?",
        "https?://[^/?#]{0,10}[\u{0}-\u{20}\u{7f}\u{80}-\u{ff}][a-z]{0,4}",
        any::<String>(),
    ]
}

// --- The limiter ------------------------------------------------------------------------

/// A random limit: up to 1000 per window of 1 ms .. 10 s, with a burst.
fn limit() -> impl Strategy<Value = RateLimit> {
    (1u32..50, 1u64..10_000, 1u32..60, any::<bool>()).prop_map(|(max, window_ms, burst, strict)| {
        RateLimit { max_requests: max, window: Duration::from_millis(window_ms), burst, strict }
    })
}

/// At most `burst + floor(span * max / window)` of `times` (sorted) in any span.
fn assert_rule_holds(rule: &RateLimit, times: &[Nanos], slack: u128) -> Result<(), TestCaseError> {
    let window = rule.window.as_nanos();
    for i in 0..times.len() {
        for j in i..times.len() {
            let span = u128::from(times[j] - times[i]);
            let allowed =
                u128::from(rule.burst) + span * u128::from(rule.max_requests) / window + slack;
            let count = (j - i + 1) as u128;
            prop_assert!(
                count <= allowed,
                "{count} sends within {span} ns under {rule:?} (allowed {allowed})"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// With the clock at random steps and nobody waiting (demand_since = now), no
    /// span of time ever holds more sends than burst + rate * span, for every rule;
    /// and a strict rule's window never holds more than `max` dispatches.
    #[test]
    fn limiter_never_exceeds_burst_plus_rate(
        limits in proptest::collection::vec(limit(), 1..3),
        steps in proptest::collection::vec((0u64..50_000_000, 0u8..4, any::<bool>()), 1..200),
    ) {
        let mut limiter = Limiter::new(&limits);
        let mut now: Nanos = 0;
        let mut sends = Vec::new();
        let mut in_flight = 0u32;
        for (step, tries, release) in steps {
            now += step;
            if release && in_flight > 0 {
                limiter.release(now);
                in_flight -= 1;
            }
            for _ in 0..tries {
                match limiter.try_acquire(now, now) {
                    Ok(credit) => {
                        prop_assert_eq!(credit, now);
                        sends.push(now);
                        in_flight += 1;
                    }
                    Err(at) => {
                        prop_assert!(at > now, "refused with a time not in the future");
                        break;
                    }
                }
            }
        }
        for rule in &limits {
            assert_rule_holds(rule, &sends, 0)?;
            if rule.strict {
                let window = rule.window.as_nanos() as u64;
                for (i, &t) in sends.iter().enumerate() {
                    let in_window = sends[i..].iter().take_while(|&&u| u < t + window).count();
                    prop_assert!(in_window as u32 <= rule.max_requests, "strict window broken at {t}");
                }
            }
        }
    }

    /// Under continuous demand (the scheduler asks again at the time it was told,
    /// or later, and passes the previous credited time), the credited times obey
    /// the same bound, and the limiter is never more than a token behind the rate.
    #[test]
    fn limiter_under_continuous_demand(
        limit in limit(),
        lateness in proptest::collection::vec(0u64..2_000_000, 1..300),
    ) {
        let limit = RateLimit { strict: false, ..limit };
        let mut limiter = Limiter::new(&[limit]);
        let mut now: Nanos = 0;
        let mut demand_since: Nanos = 0;
        let mut credits = Vec::new();
        for late in lateness {
            match limiter.try_acquire(now, demand_since) {
                Ok(credit) => {
                    prop_assert!(credit <= now && credit >= demand_since);
                    credits.push(credit);
                    demand_since = credit;
                }
                Err(at) => {
                    prop_assert!(at > now);
                    now = at + late;
                }
            }
        }
        // Allow one for the whole-nanosecond rounding of the reported credit.
        assert_rule_holds(&limit, &credits, 1)?;
        // No rate is lost: taking what is left at `now` reaches burst +
        // floor(now * rate), less one for rounding.
        while let Ok(credit) = limiter.try_acquire(now, demand_since) {
            credits.push(credit);
            demand_since = credit;
        }
        let owed = u128::from(limit.burst)
            + u128::from(now) * u128::from(limit.max_requests) / limit.window.as_nanos();
        prop_assert!(credits.len() as u128 + 1 >= owed, "{} sends, {owed} owed by {now} ns", credits.len());
    }

    #[test]
    fn limiter_tokens_never_exceed_burst(limit in limit(), steps in proptest::collection::vec(0u64..100_000_000, 1..100)) {
        let mut limiter = Limiter::new(&[limit]);
        let mut now = 0;
        for step in steps {
            now += step;
            prop_assert!(limiter.tokens_available(now) <= u64::from(limit.burst));
            if limiter.try_acquire(now, now).is_ok() && limit.strict {
                limiter.release(now);
            }
        }
    }
}
