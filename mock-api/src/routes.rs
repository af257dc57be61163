//! Request handling: recording, rate limiting and the individual routes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use crate::state::{Limit, Shared};

/// Largest request body `/echo` accepts.
const MAX_ECHO_BODY: usize = 64 << 20;
/// Largest body `/bytes/{n}` produces.
const MAX_BYTES: usize = 256 << 20;

/// Entry point for every request, whatever its method and path.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if path == "/__stats" {
        return respond(StatusCode::OK, shared.stats_json(), &[(CONTENT_TYPE, "application/json")]);
    }
    let path_and_query =
        req.uri().path_and_query().map_or_else(|| path.clone(), |p| p.as_str().to_string());
    let tag =
        req.headers().get("x-tag").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let (ticket, limit) =
        shared.arrive(req.method().as_str(), &path_and_query, &path, tag, idempotency_key);

    let resp = match limit {
        Limit::Rejected { max, retry_after, window_secs } => {
            let mut r = text(StatusCode::TOO_MANY_REQUESTS, "rate limited");
            let h = r.headers_mut();
            h.insert(RETRY_AFTER, HeaderValue::from(retry_after));
            h.insert("ratelimit-policy", hv(&format!("{max};w={window_secs}")));
            h.insert("ratelimit", hv(&format!("limit={max}, remaining=0, reset={retry_after}")));
            r
        }
        Limit::Accepted { max, remaining, reset, window_secs } => {
            let mut r = route(&shared, req).await;
            let h = r.headers_mut();
            h.insert("ratelimit-policy", hv(&format!("{max};w={window_secs}")));
            h.insert(
                "ratelimit",
                hv(&format!("limit={max}, remaining={remaining}, reset={reset}")),
            );
            r
        }
        Limit::None => route(&shared, req).await,
    };
    shared.finish(ticket, resp.status().as_u16());
    resp
}

/// Dispatches an accepted request to its route.
async fn route(shared: &Shared, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let segs: Vec<&str> = path.strip_prefix('/').unwrap_or(&path).split('/').collect();
    match segs.as_slice() {
        ["ok"] => text(StatusCode::OK, "ok"),
        ["echo"] => echo(req).await,
        ["json", ..] => json_echo(req).await,
        ["status", code] => match parse_status(code) {
            Some(status) => with_retry_after(status, status_body(status), &query),
            None => bad_request("status must be 100..=599"),
        },
        ["flaky", key, n] => flaky(shared, key, n, &query),
        ["down"] => with_retry_after(StatusCode::SERVICE_UNAVAILABLE, "down".to_string(), &query),
        ["slow", ms] => match ms.parse::<u64>() {
            Ok(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                text(StatusCode::OK, "ok")
            }
            Err(_) => bad_request("bad milliseconds"),
        },
        ["bytes", n] => match n.parse::<usize>() {
            Ok(n) if n <= MAX_BYTES => {
                let body: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                respond(StatusCode::OK, body, &[(CONTENT_TYPE, "application/octet-stream")])
            }
            _ => bad_request("bad byte count"),
        },
        // `/redirect/{code}?to=<url>`: a redirect with that status to `to` (encoded).
        ["redirect", code] => match (parse_status(code), query_param(&query, "to")) {
            (Some(status), Some(to)) if status.is_redirection() => match HeaderValue::from_str(&to)
            {
                Ok(location) => {
                    let mut r = text(status, status_body(status));
                    r.headers_mut().insert(LOCATION, location);
                    r
                }
                Err(_) => bad_request("bad location"),
            },
            _ => bad_request("redirect needs a 3xx code and ?to="),
        },
        // `/loop/a` and `/loop/b` redirect to each other for ever.
        ["loop", side] => {
            let other = if *side == "a" { "/loop/b" } else { "/loop/a" };
            let mut r = text(StatusCode::FOUND, "302");
            r.headers_mut().insert(LOCATION, HeaderValue::from_static(other));
            r
        }
        // `/hidden-limit/{n}`: at most `n` per rolling second, past it a bare 429 with
        // no header saying so (a limit nobody published).
        ["hidden-limit", n] => match n.parse::<usize>() {
            Ok(n) if shared.hidden_limit_admits(n) => text(StatusCode::OK, "ok"),
            Ok(_) => text(StatusCode::TOO_MANY_REQUESTS, "slow down"),
            Err(_) => bad_request("bad limit"),
        },
        ["headers"] => {
            let mut r = text(StatusCode::OK, "ok");
            let h = r.headers_mut();
            h.insert("x-one", HeaderValue::from_static("1"));
            h.append("x-multi", HeaderValue::from_static("a"));
            h.append("x-multi", HeaderValue::from_static("b"));
            r
        }
        ["ratelimit-headers"] => {
            let mut r = text(StatusCode::OK, "ok");
            for (param, name) in
                [("remaining", "x-ratelimit-remaining"), ("reset", "x-ratelimit-reset")]
            {
                if let Some(v) = query_param(&query, param) {
                    match HeaderValue::from_str(&v) {
                        Ok(v) => {
                            r.headers_mut().insert(name, v);
                        }
                        Err(_) => return bad_request("bad header value"),
                    }
                }
            }
            r
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

/// `/echo`: body back, `x-method`, and `x-echo-<name>` for every header.
async fn echo(req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ECHO_BODY).await else {
        return bad_request("could not read body");
    };
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert("x-method", hv(parts.method.as_str()));
    for (name, value) in &parts.headers {
        if let Ok(n) = HeaderName::from_bytes(format!("x-echo-{}", name.as_str()).as_bytes()) {
            h.append(n, value.clone());
        }
    }
    r
}

/// `/json/...`: 200 with a JSON object telling the method, the path and the
/// request body parsed as JSON (null when it is not JSON), so that programs
/// written for a JSON API (the seed's `/endpoint` examples) run against the
/// mock API with only their base URL changed to `.../json`.
async fn json_echo(req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ECHO_BODY).await else {
        return bad_request("could not read body");
    };
    let sent: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    let answer = serde_json::json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "json": sent,
    });
    respond(StatusCode::OK, answer.to_string(), &[(CONTENT_TYPE, "application/json")])
}

/// `/flaky/{key}/{n}`: `n` failures per key, then success.
fn flaky(shared: &Shared, key: &str, n: &str, query: &str) -> Response {
    let Ok(n) = n.parse::<u64>() else {
        return bad_request("bad count");
    };
    let status = match query_param(query, "status") {
        None => StatusCode::SERVICE_UNAVAILABLE,
        Some(s) => match parse_status(&s) {
            Some(s) => s,
            None => return bad_request("status must be 100..=599"),
        },
    };
    if shared.flaky_hit(key) <= n {
        with_retry_after(status, status_body(status), query)
    } else {
        text(StatusCode::OK, format!("ok after {n}"))
    }
}

/// A response with `status`, adding `Retry-After` from `?retry_after=`.
/// The value is percent-decoded, so an HTTP date can be passed too.
fn with_retry_after(status: StatusCode, body: String, query: &str) -> Response {
    let mut r = text(status, body);
    if let Some(v) = query_param(query, "retry_after") {
        match HeaderValue::from_str(&v) {
            Ok(v) => {
                r.headers_mut().insert(RETRY_AFTER, v);
            }
            Err(_) => return bad_request("bad retry_after"),
        }
    }
    r
}

/// Body for a `/status` or `/flaky` answer: the code, or nothing for
/// statuses that must not carry a body.
fn status_body(status: StatusCode) -> String {
    match status.as_u16() {
        100..=199 | 204 | 205 | 304 => String::new(),
        _ => status.as_str().to_string(),
    }
}

fn parse_status(s: &str) -> Option<StatusCode> {
    match s.parse::<u16>() {
        Ok(c @ 100..=599) => StatusCode::from_u16(c).ok(),
        _ => None,
    }
}

/// The percent-decoded value of the first `name=value` pair in `query`.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| pct_decode(v))
    })
}

fn pct_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("generated header values are visible ASCII")
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let body: String = body.into();
    respond(status, body, &[(CONTENT_TYPE, "text/plain")])
}

fn bad_request(msg: &str) -> Response {
    text(StatusCode::BAD_REQUEST, msg.to_string())
}

fn respond(
    status: StatusCode,
    body: impl Into<Body>,
    headers: &[(HeaderName, &'static str)],
) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    for (name, value) in headers {
        r.headers_mut().insert(name.clone(), HeaderValue::from_static(value));
    }
    r
}
