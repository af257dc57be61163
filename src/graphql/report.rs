//! What a GraphQL server said about a query's cost and its budget, read from the
//! response body once, on the worker thread (never under the scheduler's lock).
//!
//! Shopify reports `extensions.cost { requestedQueryCost actualQueryCost
//! throttleStatus { maximumAvailable currentlyAvailable restoreRate } }` and answers a
//! query it refused for want of points with HTTP 200 and an error whose
//! `extensions.code` is `THROTTLED`. GitHub reports `data.rateLimit { cost remaining
//! resetAt }` when the query asks for it, and an error of `type` `RATE_LIMITED`.

use std::time::Duration;

use serde_json::Value;

/// The cost and budget a GraphQL response reported, and its errors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The server refused the query for want of points; it did not run.
    pub throttled: bool,
    /// What the server charged up front (Shopify `requestedQueryCost`).
    pub requested: Option<u64>,
    /// What the query really cost (Shopify `actualQueryCost`, GitHub `rateLimit.cost`).
    pub actual: Option<u64>,
    /// Points left after it (Shopify `currentlyAvailable`, GitHub `rateLimit.remaining`).
    pub available: Option<u64>,
    /// Points restored per second (Shopify `restoreRate`), rounded down.
    pub restore_per_second: Option<u64>,
    /// The response's `errors` array as JSON text, when it has one that is not empty.
    pub errors: Option<String>,
}

impl Report {
    /// How long until the server has the points a throttled query asked for:
    /// `(requested - available) / restoreRate` seconds, when all three are known.
    pub fn refill_time(&self) -> Option<Duration> {
        let (requested, available, rate) =
            (self.requested?, self.available?, self.restore_per_second?);
        let missing = requested.saturating_sub(available);
        (rate > 0).then(|| Duration::from_millis(missing.saturating_mul(1000).div_ceil(rate)))
    }
}

/// Reads a GraphQL response body; `None` when it is not a JSON object (an HTML error
/// page, say), so a non-GraphQL answer passes through as it is.
pub fn read(body: &[u8]) -> Option<Report> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let json: Value = serde_json::from_slice(body).ok()?;
    let object = json.as_object()?;
    let mut report = Report::default();
    if let Some(errors) = object.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        report.throttled = errors.iter().any(is_throttle);
        report.errors = Some(Value::Array(errors.clone()).to_string());
    }
    if let Some(cost) = json.pointer("/extensions/cost") {
        report.requested = count(cost.get("requestedQueryCost"));
        report.actual = count(cost.get("actualQueryCost"));
        if let Some(status) = cost.get("throttleStatus") {
            report.available = count(status.get("currentlyAvailable"));
            report.restore_per_second = count(status.get("restoreRate"));
        }
    }
    if let Some(rate_limit) = json.pointer("/data/rateLimit") {
        report.actual = report.actual.or(count(rate_limit.get("cost")));
        report.available = report.available.or(count(rate_limit.get("remaining")));
    }
    Some(report)
}

fn is_throttle(error: &Value) -> bool {
    let code = error.pointer("/extensions/code").and_then(Value::as_str);
    let kind = error.get("type").and_then(Value::as_str);
    code == Some("THROTTLED") || kind == Some("RATE_LIMITED")
}

/// A non-negative count, whole or not (Shopify sends `restoreRate: 50.0`).
fn count(value: Option<&Value>) -> Option<u64> {
    let n = value?;
    n.as_u64().or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shopify_cost_and_throttle_status() {
        let body = br#"{"data":{"shop":{"name":"x"}},"extensions":{"cost":{
            "requestedQueryCost":101,"actualQueryCost":46,
            "throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":954,"restoreRate":50.0}}}}"#;
        let r = read(body).unwrap();
        assert_eq!(
            r,
            Report {
                throttled: false,
                requested: Some(101),
                actual: Some(46),
                available: Some(954),
                restore_per_second: Some(50),
                errors: None,
            }
        );
    }

    #[test]
    fn shopify_throttled_at_http_200() {
        let body = br#"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED",
            "documentation":"https://example.invalid/limits"}}],
            "extensions":{"cost":{"requestedQueryCost":300,"actualQueryCost":null,
            "throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":100,"restoreRate":50.0}}}}"#;
        let r = read(body).unwrap();
        assert!(r.throttled);
        assert_eq!(r.actual, None);
        assert_eq!(r.refill_time(), Some(Duration::from_secs(4)));
        let errors: Value = serde_json::from_str(r.errors.as_deref().unwrap()).unwrap();
        assert_eq!(errors[0]["extensions"]["code"], "THROTTLED");
    }

    #[test]
    fn github_rate_limit_and_other_errors() {
        let body = br#"{"data":{"viewer":{"login":"o"},"rateLimit":{"cost":51,"remaining":4000,"resetAt":"2030-01-01T00:00:00Z"}}}"#;
        let r = read(body).unwrap();
        assert_eq!((r.actual, r.available, r.throttled), (Some(51), Some(4000), false));
        let body = br#"{"data":null,"errors":[{"message":"Field 'x' doesn't exist","locations":[{"line":1,"column":3}]}]}"#;
        let r = read(body).unwrap();
        assert!(!r.throttled);
        assert!(r.errors.unwrap().contains("doesn't exist"));
        let limited =
            br#"{"errors":[{"type":"RATE_LIMITED","message":"API rate limit exceeded"}]}"#;
        assert!(read(limited).unwrap().throttled);
    }

    #[test]
    fn not_graphql_passes_through() {
        assert_eq!(read(b"<html>busy</html>"), None);
        assert_eq!(read(b""), None);
        assert_eq!(read(b"{not json"), None);
        assert_eq!(read(b"  {\"errors\": []}").unwrap().errors, None, "an empty list is no error");
    }
}
