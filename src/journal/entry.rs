//! Between a [`Request`] and its journal row: the Idempotency-Key it gets at
//! submit, its deadline as a wall-clock instant, and back again at recovery.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngCore;

use super::{Journal, Row};
use crate::error::{ErrorKind, Result};
use crate::request::Request;
use crate::response::Response;

/// The longest tag accepted.
const MAX_TAG_BYTES: usize = 4096;

/// Refuses a tag longer than 4 KiB.
pub(crate) fn check_tag(tag: &str) -> Result<()> {
    if tag.len() > MAX_TAG_BYTES {
        return Err(crate::error::Error::invalid("a tag must be at most 4 KiB"));
    }
    Ok(())
}

/// The header of the IETF httpapi draft "The Idempotency-Key HTTP Header Field".
pub(crate) const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// A fresh key as the draft writes it: a Structured Field string holding a random
/// (version 4) UUID, e.g. `"8e03978e-40d5-43e8-bc93-6894a57f9324"`.
pub(crate) fn new_idempotency_key() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("\"{}-{}-{}-{}-{}\"", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Gives `request` an Idempotency-Key unless it has one, and makes its row; the
/// deadline, relative to `now`, becomes an instant on the wall clock.
pub(crate) fn to_row(
    id: i64,
    request: &mut Request,
    tag: Option<&str>,
    priority: i32,
    now: SystemTime,
) -> Row {
    if !request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(IDEMPOTENCY_KEY)) {
        request.headers.push((IDEMPOTENCY_KEY.to_string(), new_idempotency_key()));
    }
    Row {
        id,
        method: request.method.clone(),
        target: request.target.clone(),
        headers: request.headers.clone(),
        body: request.body.clone(),
        priority,
        deadline_unix_ms: request
            .deadline
            .map(|d| unix_ms(now).saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))),
        tag: tag.map(str::to_owned),
        timeout_ms: request.timeout.map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX)),
        max_retries: request.max_retries,
        retry_unsafe: request.retry_unsafe,
        cost: request.cost,
    }
}

/// A request as an earlier process journaled it, with the deadline left at `now`;
/// `None` for the request when that deadline has passed.
pub(crate) fn from_row(row: Row, now: SystemTime) -> (Option<Request>, Option<String>) {
    let remaining = match row.deadline_unix_ms {
        Some(deadline) => {
            let left = deadline.saturating_sub(unix_ms(now));
            if left <= 0 {
                return (None, row.tag);
            }
            Some(Duration::from_millis(left as u64))
        }
        None => None,
    };
    let request = Request {
        method: row.method,
        target: row.target,
        headers: row.headers,
        body: row.body,
        timeout: row.timeout_ms.filter(|&t| t > 0).map(|t| Duration::from_millis(t as u64)),
        deadline: remaining,
        retry_unsafe: row.retry_unsafe,
        max_retries: row.max_retries,
        cost: row.cost.max(1),
        // A GraphQL query's points are not journaled (yet): after a restart it is
        // charged as a plain request, and corrected from the server's report.
        points: None,
    };
    (Some(request), row.tag)
}

/// Wraps a callback so that its row leaves the journal once it has returned (the
/// completion thread then waits for the removal to reach the disk before the next
/// batch). A request that ends in `Shutdown` was never finished: its row stays, for
/// the next process to recover.
pub(crate) fn remove_after<F>(
    journal: Arc<Journal>,
    row: i64,
    callback: F,
) -> impl FnOnce(u64, Result<Response>) + Send + 'static
where
    F: FnOnce(u64, Result<Response>) + Send + 'static,
{
    move |id, result| {
        let keep = matches!(&result, Err(e) if e.kind() == ErrorKind::Shutdown);
        let _ = catch_unwind(AssertUnwindSafe(|| callback(id, result)));
        if !keep {
            journal.remove(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_quoted_v4_uuids_and_differ() {
        let a = new_idempotency_key();
        let b = new_idempotency_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 38, "{a}");
        assert!(a.starts_with('"') && a.ends_with('"'));
        let inner = &a[1..37];
        let groups: Vec<&str> = inner.split('-').collect();
        assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(groups[2].starts_with('4'), "{a}");
        assert!("89ab".contains(&groups[3][..1]), "{a}");
    }

    #[test]
    fn a_request_keeps_its_own_key_and_its_parts_round_trip() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut r = Request::new("post", "/orders").unwrap();
        r.header("idempotency-key", "\"mine\"").unwrap();
        r.body(b"{}").deadline(Duration::from_secs(60)).unwrap();
        r.timeout(Duration::from_millis(1500)).unwrap().max_retries(1).cost(2).unwrap();
        let row = to_row(9, &mut r, Some("order-7"), 5, now);
        assert_eq!(r.headers.len(), 1, "no second key");
        assert_eq!(row.deadline_unix_ms, Some(1_000_060_000));
        assert_eq!(row.tag.as_deref(), Some("order-7"));

        // Ten seconds later, fifty are left.
        let (back, tag) = from_row(row.clone(), now + Duration::from_secs(10));
        let back = back.unwrap();
        assert_eq!(tag.as_deref(), Some("order-7"));
        assert_eq!(back.deadline, Some(Duration::from_secs(50)));
        assert_eq!((back.method.as_str(), back.target.as_str()), ("POST", "/orders"));
        assert_eq!(back.headers, r.headers);
        assert_eq!(back.body, b"{}");
        assert_eq!(back.timeout, Some(Duration::from_millis(1500)));
        assert_eq!((back.max_retries, back.cost), (Some(1), 2));

        // Past it: nothing to send.
        let (expired, tag) = from_row(row, now + Duration::from_secs(61));
        assert!(expired.is_none());
        assert_eq!(tag.as_deref(), Some("order-7"));
    }

    #[test]
    fn a_request_without_a_key_gets_one() {
        let mut r = Request::new("POST", "/x").unwrap();
        let row = to_row(1, &mut r, None, 0, SystemTime::now());
        let keys: Vec<_> =
            row.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(IDEMPOTENCY_KEY)).collect();
        assert_eq!(keys.len(), 1);
        assert!(r.may_retry(), "a keyed request may be retried");
        assert_eq!(row.deadline_unix_ms, None);
    }
}
