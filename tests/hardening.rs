//! The defects of the hardening review, each shown by the scenario that found it,
//! against a real server on 127.0.0.1.

mod common;

use std::time::Duration;

use common::*;
use rlc::{
    BreakerConfig, BreakerState, Client, Config, ErrorKind, RateLimit, Request, RetryPolicy,
};

fn no_retries(c: &mut Config) -> &mut Config {
    c.retry(RetryPolicy { max_retries: 0, ..RetryPolicy::default() }).unwrap()
}

/// Percent-encodes a URL for a `?to=` query value.
fn encoded(url: &str) -> String {
    url.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// Defect 1: a header value the HTTP layer would panic on is refused where it is given.
#[test]
fn control_characters_in_header_values_are_refused_at_the_setter() {
    let mut cfg = Config::new();
    for bad in ["app\x1b", "a\x7f", "a\x01b", "a\r", "a\n", "a\0"] {
        assert_eq!(cfg.user_agent(bad).unwrap_err().kind(), ErrorKind::InvalidArgument, "{bad:?}");
        assert!(cfg.default_header("X-D", bad).is_err(), "{bad:?}");
        let mut req = get("/ok");
        assert!(req.header("X-H", bad).is_err(), "{bad:?}");
    }
    // Tabs, spaces and non-ASCII text are field content.
    cfg.user_agent("app/1.0\t(x; y) café").unwrap();
    get("/ok").header("X-H", "a\tb c").unwrap();
}

// Defect 2: a deadline given while the scheduler sleeps is armed at once, not when
// the busy worker next comes back.
#[test]
fn a_new_deadline_is_armed_while_every_worker_is_busy() {
    let server = mock();
    let mut cfg = config(&server.url());
    no_retries(&mut cfg).workers(1).unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Completions::new();
    let slow = done.submit(&client, get("/slow/4000"), 0);
    while server.stats().received == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut short = get("/ok");
    short.deadline(Duration::from_millis(200)).unwrap();
    let short = done.submit(&client, short, 0);
    let (first, result) = done.next();
    assert_eq!(first, short, "the 200 ms deadline must fire before the 4 s request ends");
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Timeout);
    let (second, result) = done.next();
    assert_eq!((second, result.unwrap().status()), (slow, 200));
}

// Defect 3: once the half-open probe closes the breaker, the backlog goes out on
// every worker, not on the probe's worker alone.
#[test]
fn after_the_breaker_recovers_the_backlog_uses_every_worker() {
    let server = mock();
    let mut cfg = config(&server.url());
    no_retries(&mut cfg).workers(4).unwrap();
    let recovery = Duration::from_millis(100);
    cfg.circuit_breaker(BreakerConfig { failure_threshold: 1, recovery_timeout: recovery })
        .unwrap();
    let client = Client::new(cfg).unwrap();
    client.send(get("/status/500"), 0).unwrap();
    std::thread::sleep(recovery * 2);
    let done = Completions::new();
    for i in 0..9 {
        done.submit(&client, tagged("GET", "/slow/400", &i.to_string()), 0);
    }
    for (_, r) in done.take(9) {
        assert_eq!(r.unwrap().status(), 200);
    }
    assert_eq!(client.metrics().breaker_state, BreakerState::Closed);
    // The probe went alone; the 8 behind it should arrive 4 at a time. Served one at
    // a time they would arrive 400 ms apart.
    let arrivals: Vec<Duration> =
        server.stats().arrivals.iter().filter(|a| a.path == "/slow/400").map(|a| a.at).collect();
    assert_eq!(arrivals.len(), 9);
    let backlog_start = arrivals[1];
    let together =
        arrivals[1..].iter().filter(|at| **at - backlog_start < Duration::from_millis(200));
    assert!(together.count() >= 2, "the backlog went one at a time: {arrivals:?}");
}

// Defect 4: redirects are rlc's own. Each hop takes a token...
#[test]
fn every_redirect_hop_takes_a_token() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.add_rate_limit(RateLimit::new(3, Duration::from_secs(3600)).unwrap()).unwrap();
    let client = Client::new(cfg).unwrap();
    let to_ok = format!("/redirect/307?to={}", encoded("/ok"));
    let chain = format!("/redirect/302?to={}", encoded(&to_ok));
    let r = client.send(get(&chain), 0).unwrap();
    assert_eq!((r.status(), r.body(), r.attempts()), (200, &b"ok"[..], 1));
    let m = client.metrics();
    assert_eq!((m.redirects, m.tokens_available), (2, 0), "three sends, three tokens");
    assert_eq!(server.stats().received, 3);
}

// ... 0 hands the 3xx to the caller ...
#[test]
fn with_max_redirects_zero_the_3xx_is_the_answer() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.max_redirects(0);
    let client = Client::new(cfg).unwrap();
    let r = client.send(get(&format!("/redirect/301?to={}", encoded("/ok"))), 0).unwrap();
    assert_eq!((r.status(), r.header("location")), (301, Some("/ok")));
    assert_eq!(server.stats().received, 1);
}

// ... same-origin hops keep every header (an API that redirects /items to /items/) ...
#[test]
fn a_same_origin_hop_keeps_the_credentials() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.default_header("X-Api-Key", "k1").unwrap().sensitive_header("X-Api-Key").unwrap();
    let client = Client::new(cfg).unwrap();
    let mut req = get(&format!("/redirect/301?to={}", encoded("/echo")));
    req.header("Authorization", "Bearer t").unwrap().header("Cookie", "c=1").unwrap();
    let r = client.send(req, 0).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("x-echo-authorization"), Some("Bearer t"));
    assert_eq!(r.header("x-echo-cookie"), Some("c=1"));
    assert_eq!(r.header("x-echo-x-api-key"), Some("k1"));
}

// ... and a hop to another origin drops them, default headers included.
#[test]
fn a_cross_origin_hop_drops_the_credentials_and_the_marked_headers() {
    let first = mock();
    let other = mock();
    let mut cfg = config(&first.url());
    cfg.default_header("X-Api-Key", "k1").unwrap().sensitive_header("x-api-key").unwrap();
    cfg.default_header("X-Trace", "t1").unwrap();
    let client = Client::new(cfg).unwrap();
    let mut req = get(&format!("/redirect/302?to={}", encoded(&format!("{}/echo", other.url()))));
    req.header("Authorization", "Bearer secret").unwrap();
    req.header("Proxy-Authorization", "Basic p").unwrap().header("Cookie", "c=1").unwrap();
    req.header("X-Keep", "kept").unwrap();
    let r = client.send(req, 0).unwrap();
    assert_eq!(r.status(), 200);
    for dropped in ["authorization", "proxy-authorization", "cookie", "x-api-key"] {
        assert_eq!(r.header(&format!("x-echo-{dropped}")), None, "{dropped} crossed origins");
    }
    assert_eq!(r.header("x-echo-x-keep"), Some("kept"));
    assert_eq!(r.header("x-echo-x-trace"), Some("t1"));
    assert_eq!((first.stats().received, other.stats().received), (1, 1));
}

#[test]
fn a_post_becomes_a_get_on_303_and_stays_a_post_on_307() {
    let server = mock();
    let client = Client::new(config(&server.url())).unwrap();
    for (status, method, body) in [(303, "GET", &b""[..]), (307, "POST", &b"payload"[..])] {
        let mut req =
            Request::new("POST", &format!("/redirect/{status}?to={}", encoded("/echo"))).unwrap();
        req.header("Content-Type", "text/plain").unwrap().body(b"payload");
        let r = client.send(req, 0).unwrap();
        assert_eq!(
            (r.status(), r.header("x-method"), r.body()),
            (200, Some(method), body),
            "{status}"
        );
        let content_type = if body.is_empty() { None } else { Some("text/plain") };
        assert_eq!(r.header("x-echo-content-type"), content_type, "{status}");
    }
}

// A loop is a redirect error at once: not retried, not a breaker failure.
#[test]
fn a_redirect_loop_is_a_redirect_error_never_retried_nor_a_breaker_failure() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.circuit_breaker(BreakerConfig {
        failure_threshold: 1,
        recovery_timeout: Duration::from_secs(60),
    })
    .unwrap();
    let client = Client::new(cfg).unwrap();
    let err = client.send(get("/loop/a"), 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redirect);
    assert!(err.message().contains("loops"), "{}", err.message());
    assert_eq!(server.stats().received, 2, "/loop/a and /loop/b, then the loop is seen");
    let m = client.metrics();
    assert_eq!((m.retries, m.breaker_state), (0, BreakerState::Closed));
    // A long chain stops at max_redirects.
    let mut cfg = config(&server.url());
    cfg.max_redirects(3);
    let client = Client::new(cfg).unwrap();
    let mut target = "/ok".to_string();
    for _ in 0..5 {
        target = format!("/redirect/302?to={}", encoded(&target));
    }
    let err = client.send(get(&target), 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Redirect);
    assert!(err.message().contains("after 3 redirects"), "{}", err.message());
}

// Defect 5: a server cannot freeze the client for a year.
#[test]
fn a_server_pause_is_cut_to_the_configured_maximum() {
    let server = mock();
    let mut cfg = config(&server.url());
    no_retries(&mut cfg).max_server_pause(Duration::from_millis(300)).unwrap();
    let client = Client::new(cfg).unwrap();
    let r = client.send(get("/status/503?retry_after=31536000"), 0).unwrap();
    assert_eq!(r.status(), 503);
    let r = client.send(get("/ratelimit-headers?remaining=0&reset=31000000"), 0).unwrap();
    assert_eq!(r.status(), 200);
    // Both pauses were cut: this completes (within the helpers' patience) instead of
    // waiting a year.
    let done = Completions::new();
    done.submit(&client, get("/ok"), 0);
    assert_eq!(done.next().1.unwrap().status(), 200);
    let m = client.metrics();
    assert_eq!((m.server_pauses, m.server_pauses_capped), (2, 2));
    assert!(m.paused_ms <= 300, "{}", m.paused_ms);
}

// A retry delay asked by the server is cut too.
#[test]
fn a_retry_hint_is_cut_to_the_configured_maximum() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.max_server_pause(Duration::from_millis(200)).unwrap();
    let client = Client::new(cfg).unwrap();
    let r = client.send(get("/flaky/year/1?retry_after=31536000"), 0).unwrap();
    assert_eq!((r.status(), r.attempts()), (200, 2));
    assert!(client.metrics().server_pauses_capped >= 2, "the pause and the retry hint");
}

// Defect 7: a target the HTTP layer would refuse is refused at submit, spending nothing.
#[test]
fn a_target_too_long_once_joined_is_refused_at_submit_without_a_token() {
    let server = mock();
    let mut cfg = config(&format!("{}/{}", server.url(), "b".repeat(30 * 1024)));
    cfg.add_rate_limit(RateLimit::new(5, Duration::from_secs(3600)).unwrap()).unwrap();
    let client = Client::new(cfg).unwrap();
    let req = Request::new("GET", &format!("/{}", "a".repeat(40 * 1024))).unwrap();
    let err = client.submit(req, 0, |_, _| panic!("never called")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(Request::new("GET", &format!("/{}", "a".repeat(64 * 1024))).is_err(), "over 64 KiB");
    let m = client.metrics();
    assert_eq!((m.submitted, m.tokens_available), (0, 5));
    assert_eq!(server.stats().received, 0);
}

// Defect 8: a path whose query carries a URL is a path.
#[test]
fn a_path_whose_query_holds_a_url_is_accepted() {
    let server = mock();
    let client = Client::new(config(&server.url())).unwrap();
    let r = client.send(get("/echo?next=https://x.example/cb"), 0).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(server.stats().arrivals[0].path, "/echo?next=https://x.example/cb");
}
