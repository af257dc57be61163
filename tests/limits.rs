//! Weighted requests, the retry budget, the retry policy and live limit changes,
//! against a real server on 127.0.0.1.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rlc::{Client, ErrorKind, Event, RateLimit, RetryPolicy};

#[test]
fn a_weighted_request_takes_its_cost_from_every_limit() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.add_rate_limit(RateLimit::new(10, Duration::from_secs(3600)).unwrap()).unwrap();
    let client = Client::new(cfg).unwrap();
    let mut batch = get("/ok");
    batch.cost(7).unwrap();
    assert_eq!(client.send(batch, 0).unwrap().status(), 200);
    assert_eq!(client.metrics().tokens_available, 3);
    // More than any limit holds can never go: refused at submit, nothing spent.
    let mut huge = get("/ok");
    huge.cost(11).unwrap();
    let err = client.submit(huge, 0, |_, _| panic!("never called")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(get("/ok").cost(0).is_err());
    assert_eq!((client.metrics().tokens_available, server.stats().received), (3, 1));
}

#[test]
fn a_failing_server_sees_no_more_retries_than_the_budget_allows() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.retry_budget(20, 0).workers(8).unwrap();
    // The breaker would cut this short; the budget alone is under test.
    cfg.circuit_breaker(rlc::BreakerConfig { failure_threshold: 0, ..Default::default() }).unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Completions::new();
    let n = 200;
    for _ in 0..n {
        done.submit(&client, get("/down"), 0);
    }
    for (_, r) in done.take(n) {
        assert_eq!(r.unwrap().status(), 503, "a refused retry completes with the last answer");
    }
    let m = client.metrics();
    // 3 retries each would be 600; the budget allows 20 % of the 200 first attempts.
    assert!(m.retries <= 40, "{} retries", m.retries);
    assert_eq!(server.stats().received, n as u64 + m.retries);
    assert!(m.retries_refused_by_budget >= 100, "{}", m.retries_refused_by_budget);
}

#[test]
fn retried_statuses_and_per_request_retries_are_the_callers_choice() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.retry_on_status(&[500]).unwrap();
    let client = Client::new(cfg).unwrap();
    let r = client.send(get("/flaky/five-hundred/2?status=500"), 0).unwrap();
    assert_eq!((r.status(), r.attempts()), (200, 3));
    let r = client.send(get("/flaky/not-503/1"), 0).unwrap();
    assert_eq!((r.status(), r.attempts()), (503, 1), "503 is no longer retried");
    let mut once = get("/flaky/once/5?status=500");
    once.max_retries(1);
    let r = client.send(once, 0).unwrap();
    assert_eq!((r.status(), r.attempts()), (500, 2));
    assert!(rlc::Config::new().retry_on_status(&[99]).is_err());
}

#[test]
fn a_live_limit_change_takes_effect_at_once_and_is_announced() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.rate_limit(1, Duration::from_secs(3600)).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    cfg.on_event(move |e| sink.lock().unwrap().push(e.clone()));
    cfg.retry(RetryPolicy { max_retries: 0, ..RetryPolicy::default() }).unwrap();
    let client = Client::new(cfg).unwrap();
    client.send(get("/ok"), 0).unwrap();
    // The hour's only token is spent: the next two wait until the limit is raised.
    let done = Completions::new();
    done.submit(&client, get("/ok"), 0);
    done.submit(&client, get("/ok"), 0);
    assert!(done.quiet_for(Duration::from_millis(300)));
    client.set_rate_limit(100, Duration::from_secs(1)).unwrap();
    for (_, r) in done.take(2) {
        assert_eq!(r.unwrap().status(), 200);
    }
    assert!(client.set_rate_limit(0, Duration::from_secs(1)).is_err());
    client.close();
    let changes: Vec<Event> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::LimitChanged { .. }))
        .cloned()
        .collect();
    assert_eq!(
        changes,
        [Event::LimitChanged { max_requests: 100, window: Duration::from_secs(1) }]
    );
}

/// Sends `n` requests to `path` as fast as the client lets them go, and counts the
/// 429s among the answers.
fn drive(client: &Client, path: &str, n: usize) -> usize {
    let done = Completions::new();
    for _ in 0..n {
        done.submit(client, get(path), 0);
    }
    done.take(n).values().filter(|r| r.as_ref().is_ok_and(|r| r.status() == 429)).count()
}

#[test]
fn adaptive_limiting_finds_a_limit_nobody_published() {
    let server = mock();
    let mut cfg = config(&server.url());
    // 40/s configured; the server takes 20 per rolling second and says nothing.
    cfg.rate_limit(40, Duration::from_secs(1)).unwrap().burst(1).unwrap();
    cfg.retry(RetryPolicy { max_retries: 0, ..RetryPolicy::default() }).unwrap().adaptive(true);
    let client = Client::new(cfg).unwrap();
    let throttled = drive(&client, "/hidden-limit/20", 120);
    let m = client.metrics();
    assert!(m.rate_limit < 40, "the rate came down from 40: {}", m.rate_limit);
    assert!(m.rate_limit >= 10, "but not to nothing: {}", m.rate_limit);
    // A fixed 40/s client sees about half its requests refused (60 of 120); the
    // adaptive one pays only while it finds the limit and when it probes above it.
    assert!(throttled <= 40, "{throttled} of 120 throttled");
    assert!(
        rlc::Client::new({
            let mut c = config(&server.url());
            c.adaptive(true);
            c
        })
        .is_err(),
        "adaptive needs a rate limit to start from"
    );
}

#[test]
fn a_server_that_publishes_its_quota_is_paced_without_a_local_limit() {
    let server = MockApi::start(MockOptions {
        rate_limit: Some((20, Duration::from_secs(1))),
        ..MockOptions::default()
    });
    let mut cfg = config(&server.url());
    cfg.retry(RetryPolicy { max_retries: 0, ..RetryPolicy::default() }).unwrap();
    let client = Client::new(cfg).unwrap();
    let throttled = drive(&client, "/ok", 60);
    // Without pacing: 20 at once, then a wall of 429s for the rest of each second.
    assert!(throttled <= 1, "{throttled} of 60 throttled");
    assert_eq!(server.stats().received, 60);
}
