//! `server_pause` with any status and any header map (names in any case, repeated,
//! values of any text): it never panics, never pauses for more than a year or for
//! zero, and pauses only when one of the headers it reads is there.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rlc::backoff::server_pause;

const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

const NAMES: [&str; 7] = [
    "Retry-After",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit",
    "RateLimit-Policy",
];

#[derive(Arbitrary, Debug)]
enum Name {
    Known(u8),
    Upper(u8),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Value {
    Text(String),
    Number(u64),
    Fraction(u64, u32),
    /// `limit=a, remaining=b, reset=c`
    List(u32, u64, String),
    /// `"name";r=a;t=b`
    Structured(String, String, String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    status: u16,
    now_secs: u32,
    headers: Vec<(Name, Value)>,
}

fn name(n: &Name) -> String {
    match n {
        Name::Known(i) => NAMES[usize::from(*i) % NAMES.len()].to_string(),
        Name::Upper(i) => NAMES[usize::from(*i) % NAMES.len()].to_ascii_uppercase(),
        Name::Other(s) => s.clone(),
    }
}

fn value(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Fraction(n, f) => format!("{n}.{f}"),
        Value::List(l, r, t) => format!("limit={l}, remaining={r}, reset={t}"),
        Value::Structured(p, r, t) => format!("\"{p}\";r={r};t={t}"),
    }
}

fuzz_target!(|input: Input| {
    let now = UNIX_EPOCH + Duration::from_secs(u64::from(input.now_secs));
    let headers: Vec<(String, String)> =
        input.headers.iter().map(|(n, v)| (name(n), value(v))).collect();
    let lookup = |wanted: &str| -> Option<String> {
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(wanted)).map(|(_, v)| v.clone())
    };
    let pause = server_pause(input.status, &lookup, now);
    assert_eq!(pause, server_pause(input.status, &lookup, now), "deterministic");
    if let Some(p) = pause {
        assert!(!p.is_zero(), "a zero pause is no pause");
        assert!(p <= YEAR, "a pause of more than a year was trusted: {p:?} from {headers:?}");
        let relevant = headers.iter().any(|(n, _)| {
            NAMES.iter().any(|k| n.eq_ignore_ascii_case(k))
        });
        assert!(relevant, "a pause from no rate-limit header: {headers:?}");
        // Retry-After alone counts only on 429 and 503.
        let others = headers.iter().any(|(n, _)| {
            NAMES[1..].iter().any(|k| n.eq_ignore_ascii_case(k))
        });
        if !others {
            assert!(input.status == 429 || input.status == 503, "Retry-After on {}", input.status);
        }
    }
});
