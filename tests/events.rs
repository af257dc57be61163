//! The event hook: what a watcher sees, in what order, against a real server.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rlc::{BreakerConfig, BreakerState, Client, Config, ErrorKind, Event, RetryPolicy};

/// A config whose events (and a marker per completion) land in one log, in the
/// order the completion thread delivered them.
fn watched(url: &str) -> (Config, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut cfg = config(url);
    let sink = log.clone();
    cfg.on_event(move |e| sink.lock().unwrap().push(describe(e)));
    (cfg, log)
}

fn describe(e: &Event) -> String {
    match e {
        Event::Breaker { from, to } => format!("breaker {from:?}->{to:?}"),
        Event::Retry { attempt, status, error, .. } => {
            format!("retry {attempt} {status} {error:?}")
        }
        Event::Pause { status, header, capped, .. } => format!("pause {status} {header} {capped}"),
        Event::Dropped { id, reason } => format!("dropped {} {reason:?}", id.is_some()),
        Event::LimitChanged { .. } => "limit".to_string(),
        _ => "other".to_string(),
    }
}

#[test]
fn retries_are_announced_before_the_completion_they_lead_to() {
    let server = mock();
    let (cfg, log) = watched(&server.url());
    let client = Client::new(cfg).unwrap();
    let sink = log.clone();
    let (tx, rx) = crossbeam_channel::bounded(1);
    client
        .submit(get("/flaky/ev/2"), 0, move |_, r| {
            sink.lock().unwrap().push(format!("done {}", r.unwrap().status()));
            tx.send(()).unwrap();
        })
        .unwrap();
    rx.recv_timeout(PATIENCE).unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(log, ["retry 1 503 None", "retry 2 503 None", "done 200"]);
}

#[test]
fn the_breakers_whole_round_is_announced() {
    let server = mock();
    let (mut cfg, log) = watched(&server.url());
    let recovery = Duration::from_millis(50);
    cfg.retry(RetryPolicy { max_retries: 0, ..RetryPolicy::default() }).unwrap();
    cfg.circuit_breaker(BreakerConfig { failure_threshold: 1, recovery_timeout: recovery })
        .unwrap();
    let client = Client::new(cfg).unwrap();
    client.send(get("/status/500"), 0).unwrap();
    let refused = client.submit(get("/ok"), 0, |_, _| panic!("never called")).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::CircuitOpen);
    std::thread::sleep(recovery * 2);
    client.send(get("/ok"), 0).unwrap();
    client.close();
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            format!("breaker {:?}->{:?}", BreakerState::Closed, BreakerState::Open),
            format!("dropped false {:?}", ErrorKind::CircuitOpen),
            format!("breaker {:?}->{:?}", BreakerState::Open, BreakerState::HalfOpen),
            format!("breaker {:?}->{:?}", BreakerState::HalfOpen, BreakerState::Closed),
        ]
    );
}

#[test]
fn pauses_name_their_header_and_say_when_they_were_cut() {
    let server = mock();
    let (mut cfg, log) = watched(&server.url());
    cfg.retry(RetryPolicy { max_retries: 0, ..RetryPolicy::default() }).unwrap();
    cfg.max_server_pause(Duration::from_millis(100)).unwrap();
    let client = Client::new(cfg).unwrap();
    client.send(get("/status/429?retry_after=1"), 0).unwrap();
    client.send(get("/ratelimit-headers?remaining=0&reset=0.05"), 0).unwrap();
    client.close();
    let log = log.lock().unwrap().clone();
    assert_eq!(log, ["pause 429 Retry-After true", "pause 200 X-RateLimit-Reset false"]);
}

#[test]
fn dropped_requests_say_why() {
    let server = mock();
    let (mut cfg, log) = watched(&server.url());
    cfg.workers(1).unwrap().max_queue_size(1).unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Completions::new();
    done.submit(&client, get("/slow/300"), 0);
    while server.stats().received == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut short = get("/ok");
    short.deadline(Duration::from_millis(50)).unwrap();
    done.submit(&client, short, 0);
    let full = client.submit(get("/ok"), 0, |_, _| panic!("never called")).unwrap_err();
    assert_eq!(full.kind(), ErrorKind::QueueFull);
    let results = done.take(2);
    assert_eq!(results.values().filter(|r| r.is_err()).count(), 1);
    client.close();
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            format!("dropped false {:?}", ErrorKind::QueueFull),
            format!("dropped true {:?}", ErrorKind::Timeout)
        ]
    );
}

#[test]
fn a_client_without_a_hook_and_a_panicking_hook_lose_nothing() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.on_event(|_| panic!("a watcher's bug"));
    let client = Client::new(cfg).unwrap();
    let r = client.send(get("/flaky/panic/1"), 0).unwrap();
    assert_eq!((r.status(), r.attempts()), (200, 2));
    let quiet = Client::new(config(&server.url())).unwrap();
    assert_eq!(quiet.send(get("/flaky/quiet/1"), 0).unwrap().attempts(), 2);
}
