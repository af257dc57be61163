//! `parse_retry_after` on any text and any "now": it never panics, never returns a
//! pause of more than a year, reads plain delta-seconds exactly, and never trusts a
//! sign, a fraction or anything that is not ASCII.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rlc::backoff::parse_retry_after;

const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

#[derive(Arbitrary, Debug)]
struct Input {
    /// Seconds of "now" since the epoch (kept within what SystemTime holds).
    now_secs: u32,
    now_nanos: u32,
    value: String,
}

fuzz_target!(|input: Input| {
    let now = UNIX_EPOCH + Duration::new(u64::from(input.now_secs), input.now_nanos % 1_000_000_000);
    let got = parse_retry_after(&input.value, now);
    // Deterministic.
    assert_eq!(got, parse_retry_after(&input.value, now));
    if let Some(d) = got {
        assert!(d <= YEAR, "a pause of more than a year was trusted: {d:?} from {:?}", input.value);
    }
    let trimmed = input.value.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        // Delta-seconds: exact when at most a year, refused beyond.
        let expect = trimmed
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
            .filter(|d| *d <= YEAR);
        assert_eq!(got, expect, "delta-seconds {trimmed:?}");
    }
    // A signed number or a fraction is never read as a delay.
    let unsigned = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    let numeric = !unsigned.is_empty()
        && unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'E');
    if numeric && !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        assert_eq!(got, None, "signed or fractional {trimmed:?} trusted as {got:?}");
    }
    // An HTTP date is ASCII; anything else is garbage.
    if got.is_some() && !trimmed.is_ascii() {
        panic!("non-ASCII {trimmed:?} trusted as {got:?}");
    }
    // A date gives the time from now to it: never longer than a year from now.
    if let Some(d) = got {
        let _ = now.checked_add(d).expect("now + pause fits");
    }
    let _ = SystemTime::now();
});
