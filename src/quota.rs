//! What a server says of the quota it has left: `remaining` requests until its
//! window resets. rlc paces the rest of the window from it (the remaining requests
//! spread evenly until the reset, instead of a burst and then a wall of 429s), and
//! lowers its own bucket when the server counts fewer left than it believes.
//!
//! Read from `X-RateLimit-Remaining` with `X-RateLimit-Reset` (delta seconds, or a
//! Unix time when the number is that large), the draft's `RateLimit-Remaining` with
//! `RateLimit-Reset`, and the `RateLimit` field in both draft forms
//! (`limit=10, remaining=3, reset=5` and `"policy";r=3;t=5`). Values that cannot be
//! read, a reset of zero or of more than a year, are ignored: a hostile header can
//! never make the client faster than its own limits, and the pace it asks for is
//! bounded by the client's longest server pause.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest pause a server may ask for; anything longer is taken for garbage.
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// `X-RateLimit-Reset` values above this are Unix times, not delays.
pub(crate) const EPOCH_THRESHOLD_SECS: u64 = 1_000_000_000;

/// A quota and the header that reported it.
pub(crate) type Sourced = (Quota, &'static str);

/// A quota a server reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Requests the server will still take in its current window.
    pub remaining: u64,
    /// When its window resets, from now.
    pub reset: Duration,
}

impl Quota {
    /// The even spacing that spends the quota by the reset: `reset / remaining`.
    /// None when nothing remains (that is a pause, not a pace).
    pub fn interval(&self) -> Option<Duration> {
        let remaining = u32::try_from(self.remaining).unwrap_or(u32::MAX);
        (remaining > 0).then(|| self.reset / remaining)
    }
}

/// The tightest quota a response's headers report (the one that leaves the longest
/// interval between requests), or None. `header(name)` looks a header up without
/// regard to case.
pub fn server_quota(header: &dyn Fn(&str) -> Option<String>, now: SystemTime) -> Option<Quota> {
    tightest(&sourced_quotas(header, now))
}

/// Every quota the headers report, with the header that reported it; a reset of
/// zero or of more than a year is left out.
pub(crate) fn sourced_quotas(
    header: &dyn Fn(&str) -> Option<String>,
    now: SystemTime,
) -> Vec<Sourced> {
    let legacy = pair(header("X-RateLimit-Remaining"), header("X-RateLimit-Reset"), now, true)
        .map(|q| (q, "X-RateLimit-Reset"));
    let draft = pair(header("RateLimit-Remaining"), header("RateLimit-Reset"), now, false)
        .map(|q| (q, "RateLimit-Reset"));
    let field = header("RateLimit").map(|v| field_quotas(&v)).unwrap_or_default();
    legacy
        .into_iter()
        .chain(draft)
        .chain(field.into_iter().map(|q| (q, "RateLimit")))
        .filter(|(q, _)| !q.reset.is_zero() && q.reset <= MAX_PAUSE)
        .collect()
}

/// The tightest of `quotas`: the largest reset per remaining request (compared by
/// cross-multiplying, so no division rounds).
pub(crate) fn tightest(quotas: &[Sourced]) -> Option<Quota> {
    quotas.iter().map(|(q, _)| *q).max_by(|a, b| {
        (a.reset.as_nanos() * u128::from(b.remaining))
            .cmp(&(b.reset.as_nanos() * u128::from(a.remaining)))
    })
}

/// The longest pause that the spent quotas ask for (nothing remaining until the
/// reset), with the header that asked.
pub(crate) fn exhausted(quotas: &[Sourced]) -> Option<(Duration, &'static str)> {
    quotas
        .iter()
        .filter(|(q, _)| q.remaining == 0)
        .map(|(q, s)| (q.reset, *s))
        .max_by_key(|(d, _)| *d)
}

fn pair(
    remaining: Option<String>,
    reset: Option<String>,
    now: SystemTime,
    epoch: bool,
) -> Option<Quota> {
    let remaining = parse_count(&remaining?)?;
    let reset = parse_seconds(&reset?)?;
    let reset = if epoch && reset > Duration::from_secs(EPOCH_THRESHOLD_SECS) {
        UNIX_EPOCH.checked_add(reset)?.duration_since(now).ok()?
    } else {
        reset
    };
    Some(Quota { remaining, reset })
}

/// Every quota in a `RateLimit` field, in either draft form.
fn field_quotas(value: &str) -> Vec<Quota> {
    let mut quotas = Vec::new();
    let (mut remaining, mut reset) = (None, None);
    for member in split_outside_quotes(value, ',') {
        let member = member.trim();
        if member.starts_with('"') || member.contains(';') {
            let (mut r, mut t) = (None, None);
            for param in split_outside_quotes(member, ';').skip(1) {
                match param.split_once('=') {
                    Some((key, v)) if key.trim() == "r" => r = parse_count(v),
                    Some((key, v)) if key.trim() == "t" => t = parse_seconds(v),
                    _ => {}
                }
            }
            if let (Some(remaining), Some(reset)) = (r, t) {
                quotas.push(Quota { remaining, reset });
            }
        } else if let Some((key, v)) = member.split_once('=') {
            let key = key.trim();
            if key.eq_ignore_ascii_case("remaining") {
                remaining = parse_count(v);
            } else if key.eq_ignore_ascii_case("reset") {
                reset = parse_seconds(v);
            }
        }
    }
    if let (Some(remaining), Some(reset)) = (remaining, reset) {
        quotas.push(Quota { remaining, reset });
    }
    quotas
}

/// Splits on `sep` except inside double quotes (a policy name may hold commas).
pub(crate) fn split_outside_quotes(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter()
}

/// A non-negative integer: ASCII digits only, after trimming.
pub(crate) fn parse_count(s: &str) -> Option<u64> {
    parse_digits(s.trim())
}

/// ASCII digits only (`str::parse` alone would also take a sign).
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Non-negative seconds, whole or with a decimal fraction (digits beyond
/// nanoseconds are dropped).
pub(crate) fn parse_seconds(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let secs = parse_digits(whole)?;
    if s.contains('.') && (fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let nanos = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn quota(headers: &[(&str, &str)]) -> Option<Quota> {
        let map: HashMap<String, String> =
            headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        server_quota(&|name| map.get(&name.to_ascii_lowercase()).cloned(), now)
    }

    fn q(remaining: u64, reset_ms: u64) -> Option<Quota> {
        Some(Quota { remaining, reset: Duration::from_millis(reset_ms) })
    }

    #[test]
    fn every_header_form_is_read() {
        assert_eq!(
            quota(&[("X-RateLimit-Remaining", "40"), ("X-RateLimit-Reset", "20")]),
            q(40, 20_000)
        );
        // A Unix time is told apart by its size.
        assert_eq!(
            quota(&[("X-RateLimit-Remaining", "5"), ("X-RateLimit-Reset", "1700000010")]),
            q(5, 10_000)
        );
        assert_eq!(quota(&[("RateLimit-Remaining", "3"), ("RateLimit-Reset", "1.5")]), q(3, 1_500));
        assert_eq!(quota(&[("RateLimit", "limit=10, remaining=4, reset=2")]), q(4, 2_000));
        assert_eq!(quota(&[("RateLimit", "\"default\";r=9;t=3")]), q(9, 3_000));
    }

    #[test]
    fn the_tightest_quota_wins() {
        // 100 in 10 s (one per 100 ms) against 2 in 1 s (one per 500 ms).
        let headers = [
            ("X-RateLimit-Remaining", "100"),
            ("X-RateLimit-Reset", "10"),
            ("RateLimit", "\"burst\";r=2;t=1, \"day\";r=50000;t=3600"),
        ];
        assert_eq!(quota(&headers), q(2, 1_000));
        assert_eq!(q(2, 1_000).unwrap().interval(), Some(Duration::from_millis(500)));
        assert_eq!(q(0, 1_000).unwrap().interval(), None);
    }

    #[test]
    fn garbage_and_hostile_values_are_ignored() {
        for (remaining, reset) in [
            ("-1", "10"),
            ("ten", "10"),
            ("5", "-3"),
            ("5", "0"),
            ("5", "1e9"),
            ("5", "99999999999999999999"),
            ("", "10"),
            ("5", "1600000000"), // a Unix time in the past
        ] {
            assert_eq!(
                quota(&[("X-RateLimit-Remaining", remaining), ("X-RateLimit-Reset", reset)]),
                None,
                "{remaining:?} {reset:?}"
            );
        }
        assert_eq!(quota(&[("RateLimit", "remaining=; reset=x, \"p\";r=;t=")]), None);
        assert_eq!(quota(&[("RateLimit", "\"year\";r=1;t=40000000")]), None, "over a year");
    }
}
