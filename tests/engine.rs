//! The engine end to end, against a real HTTP server on 127.0.0.1.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use mock_api::raw::{RawBehaviour, RawServer};
use rlc::{BreakerConfig, BreakerState, Client, Config, ErrorKind, Request, RetryPolicy};

fn no_retries(c: &mut Config) {
    c.retry(RetryPolicy { max_retries: 0, ..RetryPolicy::default() }).unwrap();
}

#[test]
fn a_get_completes_with_the_servers_answer() {
    let server = mock();
    let client = Client::new(config(&server.url())).unwrap();
    let response = client.send(get("/ok"), 0).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), b"ok");
    assert_eq!(response.attempts(), 1);
    let m = client.metrics();
    assert_eq!((m.submitted, m.succeeded), (1, 1));
    assert_eq!(server.stats().received, 1);
}

#[test]
fn bodies_and_headers_travel_both_ways() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.default_header("X-Default", "d").unwrap();
    cfg.default_header("X-Overridden", "from-config").unwrap();
    let client = Client::new(cfg).unwrap();
    let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let mut req = Request::new("POST", "/echo").unwrap();
    req.header("X-Custom", "value 1").unwrap();
    req.header("X-Overridden", "from-request").unwrap();
    req.body(&body);
    let response = client.send(req, 0).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), &body[..]);
    assert_eq!(response.header("x-method"), Some("POST"));
    assert_eq!(response.header("X-ECHO-X-CUSTOM"), Some("value 1"));
    assert_eq!(response.header("x-echo-x-default"), Some("d"));
    assert_eq!(response.header("x-echo-x-overridden"), Some("from-request"));

    let headers = client.send(get("/headers"), 0).unwrap();
    let multi: Vec<&str> =
        headers.headers().get_all("X-Multi").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(multi, vec!["a", "b"]);
}

#[test]
fn any_http_status_is_a_completion_not_an_error() {
    let server = mock();
    let mut cfg = config(&server.url());
    no_retries(&mut cfg);
    let client = Client::new(cfg).unwrap();
    for status in [201, 204, 404, 418, 500] {
        let r = client.send(get(&format!("/status/{status}")), 0).unwrap();
        assert_eq!(r.status(), status);
    }
    let m = client.metrics();
    assert_eq!((m.succeeded, m.http_4xx, m.http_5xx), (2, 2, 1));
}

#[test]
fn absolute_urls_work_without_a_base_url_and_paths_need_one() {
    let server = mock();
    let client = Client::new(Config::new()).unwrap();
    let r = client.send(get(&format!("{}/ok", server.url())), 0).unwrap();
    assert_eq!(r.status(), 200);
    let err = client.submit(get("/ok"), 0, |_, _| panic!("never called")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn higher_priority_goes_first_and_equals_keep_their_order() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.rate_limit(1, Duration::from_millis(150)).unwrap();
    cfg.workers(1).unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Completions::new();
    // The first takes the only token; the rest wait long enough to be reordered.
    done.submit(&client, tagged("GET", "/ok", "first"), 0);
    while server.stats().received == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let plan = [(1, "a"), (5, "b"), (1, "c"), (100, "d"), (5, "e"), (-3, "f"), (100, "g")];
    for (priority, tag) in plan {
        done.submit(&client, tagged("GET", "/ok", tag), priority);
    }
    done.take(plan.len() + 1);
    let order: Vec<String> =
        server.stats().arrivals.iter().map(|a| a.tag.clone().unwrap_or_default()).collect();
    assert_eq!(order, ["first", "d", "g", "b", "e", "a", "c", "f"]);
}

#[test]
fn a_full_queue_refuses_at_once_and_queues_nothing() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.rate_limit(1, Duration::from_secs(3600)).unwrap();
    cfg.max_queue_size(3).unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Completions::new();
    done.submit(&client, get("/ok"), 0);
    assert_eq!(done.next().1.unwrap().status(), 200);
    for _ in 0..3 {
        done.submit(&client, get("/ok"), 0);
    }
    let err = client.submit(get("/ok"), 9, |_, _| panic!("a refused request is never called back"));
    assert_eq!(err.unwrap_err().kind(), ErrorKind::QueueFull);
    let m = client.metrics();
    assert_eq!((m.queue_depth, m.queue_full, m.submitted), (3, 1, 4));
    client.close();
    let rest = done.take(3);
    assert!(rest.values().all(|r| r.as_ref().unwrap_err().kind() == ErrorKind::Shutdown));
    assert_eq!(server.stats().received, 1);
}

#[test]
fn the_breaker_opens_fails_fast_probes_and_closes() {
    let server = mock();
    let mut cfg = config(&server.url());
    no_retries(&mut cfg);
    let recovery = Duration::from_millis(300);
    cfg.circuit_breaker(BreakerConfig { failure_threshold: 3, recovery_timeout: recovery })
        .unwrap();
    let client = Client::new(cfg).unwrap();
    for _ in 0..3 {
        assert_eq!(client.send(get("/down"), 0).unwrap().status(), 503);
    }
    assert_eq!(client.metrics().breaker_state, BreakerState::Open);
    let err = client.submit(get("/ok"), 0, |_, _| panic!("refused")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CircuitOpen);
    assert_eq!(server.stats().received, 3, "fail-fast sends nothing");

    // After the recovery timeout one probe goes; its failure opens the breaker again.
    std::thread::sleep(recovery + Duration::from_millis(50));
    assert_eq!(client.metrics().breaker_state, BreakerState::HalfOpen);
    assert_eq!(client.send(get("/down"), 0).unwrap().status(), 503);
    assert_eq!(client.metrics().breaker_state, BreakerState::Open);
    assert_eq!(client.send(get("/ok"), 0).unwrap_err().kind(), ErrorKind::CircuitOpen);

    // A successful probe closes it.
    std::thread::sleep(recovery + Duration::from_millis(50));
    assert_eq!(client.send(get("/ok"), 0).unwrap().status(), 200);
    let m = client.metrics();
    assert_eq!(m.breaker_state, BreakerState::Closed);
    assert!(m.breaker_transitions >= 5, "transitions: {}", m.breaker_transitions);
    assert_eq!(m.circuit_open, 2);
}

#[test]
fn queued_requests_fail_fast_when_the_breaker_opens_under_them() {
    let server = mock();
    let mut cfg = config(&server.url());
    no_retries(&mut cfg);
    cfg.workers(1).unwrap();
    cfg.circuit_breaker(BreakerConfig {
        failure_threshold: 1,
        recovery_timeout: Duration::from_secs(3600),
    })
    .unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Completions::new();
    done.submit(&client, get("/down"), 10);
    for _ in 0..5 {
        done.submit(&client, get("/ok"), 0);
    }
    let all = done.take(6);
    let open = all.values().filter(|r| matches!(r, Err(e) if e.kind() == ErrorKind::CircuitOpen));
    assert!(open.count() >= 4, "{all:?}");
    assert!(server.stats().received <= 2);
}

#[test]
fn the_breaker_ignores_4xx() {
    let server = mock();
    let mut cfg = config(&server.url());
    no_retries(&mut cfg);
    cfg.circuit_breaker(BreakerConfig {
        failure_threshold: 2,
        recovery_timeout: Duration::from_secs(60),
    })
    .unwrap();
    let client = Client::new(cfg).unwrap();
    for _ in 0..5 {
        assert_eq!(client.send(get("/status/404"), 0).unwrap().status(), 404);
    }
    assert_eq!(client.metrics().breaker_state, BreakerState::Closed);
}

#[test]
fn flaky_endpoints_are_retried_until_they_answer() {
    let server = mock();
    let client = Client::new(config(&server.url())).unwrap();
    let r = client.send(get("/flaky/a/2"), 0).unwrap();
    assert_eq!((r.status(), r.attempts()), (200, 3));
    let r = client.send(get("/flaky/b/9"), 0).unwrap();
    assert_eq!((r.status(), r.attempts()), (503, 4), "three retries, then the last answer");
    let m = client.metrics();
    assert_eq!(m.retries, 5);
    assert_eq!((m.succeeded, m.http_5xx), (1, 1));
}

#[test]
fn post_is_not_retried_unless_it_opts_in() {
    let server = mock();
    let client = Client::new(config(&server.url())).unwrap();
    let r = client.send(Request::new("POST", "/flaky/p/2").unwrap(), 0).unwrap();
    assert_eq!((r.status(), r.attempts()), (503, 1));

    let mut keyed = Request::new("POST", "/flaky/q/2").unwrap();
    keyed.header("Idempotency-Key", "abc").unwrap();
    let r = client.send(keyed, 0).unwrap();
    assert_eq!((r.status(), r.attempts()), (200, 3));

    let mut opted = Request::new("PATCH", "/flaky/r/1").unwrap();
    opted.retry_non_idempotent(true);
    let r = client.send(opted, 0).unwrap();
    assert_eq!((r.status(), r.attempts()), (200, 2));
}

#[test]
fn retry_after_is_honoured_and_pauses_the_whole_client() {
    let server = mock();
    let client = Client::new(config(&server.url())).unwrap();
    let done = Completions::new();
    let started = Instant::now();
    done.submit(&client, tagged("GET", "/flaky/ra/1?retry_after=1&status=429", "flaky"), 0);
    // Wait until the 429 has arrived, then ask for something else.
    while server.stats().received == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    done.submit(&client, tagged("GET", "/ok", "other"), 0);
    let all = done.take(2);
    assert!(all.values().all(|r| r.as_ref().unwrap().status() == 200));
    assert!(started.elapsed() >= Duration::from_millis(950));
    let arrivals = server.stats().arrivals;
    let first_429 = arrivals.iter().find(|a| a.status == 429).expect("a 429").at;
    for a in arrivals.iter().filter(|a| a.status != 429) {
        assert!(
            a.at >= first_429 + Duration::from_millis(900),
            "{:?} came {:?} after the 429",
            a.tag,
            a.at - first_429
        );
    }
    assert!(client.metrics().server_pauses >= 1);
}

#[test]
fn a_slow_server_times_out() {
    let server = mock();
    let mut cfg = config(&server.url());
    no_retries(&mut cfg);
    cfg.timeout(Duration::from_millis(200)).unwrap();
    let client = Client::new(cfg).unwrap();
    let err = client.send(get("/slow/3000"), 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.attempts(), 1);
    let mut quick = get("/slow/3000");
    quick.timeout(Duration::from_millis(100)).unwrap();
    assert_eq!(client.send(quick, 0).unwrap_err().kind(), ErrorKind::Timeout);
    assert_eq!(client.metrics().timeouts, 2);
}

#[test]
fn a_deadline_bounds_queueing_and_retries() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.rate_limit(1, Duration::from_secs(3600)).unwrap();
    let client = Client::new(cfg).unwrap();
    assert_eq!(client.send(get("/ok"), 0).unwrap().status(), 200);
    let mut late = get("/ok");
    late.deadline(Duration::from_millis(100)).unwrap();
    let err = client.send(late, 0).unwrap_err();
    assert_eq!((err.kind(), err.attempts()), (ErrorKind::Timeout, 0));
    assert_eq!(server.stats().received, 1);
}

#[test]
fn a_reset_connection_is_a_connect_error_and_is_retried() {
    let raw = RawServer::start(RawBehaviour::ResetOnAccept);
    let mut cfg = config(&raw.url());
    cfg.retry(RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    })
    .unwrap();
    let client = Client::new(cfg).unwrap();
    let err = client.send(get("/x"), 0).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Connect | ErrorKind::Io), "{err}");
    assert_eq!(err.attempts(), 2);
    assert!(raw.connections() >= 2);
}

#[test]
fn malformed_and_truncated_responses_are_io_errors() {
    for behaviour in [RawBehaviour::Malformed, RawBehaviour::Truncated] {
        let raw = RawServer::start(behaviour);
        let mut cfg = config(&raw.url());
        no_retries(&mut cfg);
        let client = Client::new(cfg).unwrap();
        let err = client.send(get("/x"), 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
        assert!(!err.message().is_empty());
    }
}

#[test]
fn refused_connections_are_connect_errors() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config(&format!("http://127.0.0.1:{port}"));
    no_retries(&mut cfg);
    let client = Client::new(cfg).unwrap();
    assert_eq!(client.send(get("/"), 0).unwrap_err().kind(), ErrorKind::Connect);
    assert_eq!(client.metrics().connect_errors, 1);
}

#[test]
fn oversized_bodies_are_refused() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.max_response_bytes(1000).unwrap();
    let client = Client::new(cfg).unwrap();
    assert_eq!(client.send(get("/bytes/1000"), 0).unwrap().body().len(), 1000);
    let err = client.send(get("/bytes/5000"), 0).unwrap_err();
    assert_eq!((err.kind(), err.attempts()), (ErrorKind::BodyTooLarge, 1));
}

#[test]
fn cancel_completes_a_queued_request_at_once() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.rate_limit(1, Duration::from_secs(3600)).unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Completions::new();
    done.submit(&client, get("/ok"), 0);
    assert_eq!(done.next().1.unwrap().status(), 200);
    let id = done.submit(&client, get("/ok"), 0);
    client.cancel(id).unwrap();
    let (got, result) = done.next();
    assert_eq!(got, id);
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
    assert_eq!(client.cancel(id).unwrap_err().kind(), ErrorKind::UnknownRequest);
    assert_eq!(client.cancel(987_654).unwrap_err().kind(), ErrorKind::UnknownRequest);
    assert_eq!(client.metrics().cancelled, 1);
    assert!(done.quiet_for(Duration::from_millis(100)));
}

#[test]
fn cancel_in_flight_completes_when_the_attempt_ends() {
    let server = mock();
    let client = Client::new(config(&server.url())).unwrap();
    let done = Completions::new();
    let id = done.submit(&client, get("/slow/300"), 0);
    while client.metrics().in_flight == 0 {
        std::thread::sleep(Duration::from_millis(2));
    }
    client.cancel(id).unwrap();
    assert_eq!(client.cancel(id).unwrap_err().kind(), ErrorKind::UnknownRequest);
    let (got, result) = done.next();
    assert_eq!(got, id);
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
}

#[test]
fn shutdown_completes_every_request_exactly_once() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.rate_limit(2, Duration::from_secs(3600)).unwrap();
    cfg.workers(2).unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Completions::new();
    let mut ids =
        vec![done.submit(&client, get("/slow/200"), 5), done.submit(&client, get("/slow/200"), 5)];
    while client.metrics().in_flight < 2 {
        std::thread::sleep(Duration::from_millis(2));
    }
    ids.extend((0..50).map(|i| done.submit(&client, get("/ok"), i % 3)));
    client.close();
    let all = done.take(ids.len());
    assert!(done.quiet_for(Duration::from_millis(100)), "nothing completes twice");
    let shut = all.values().filter(|r| matches!(r, Err(e) if e.kind() == ErrorKind::Shutdown));
    assert_eq!(shut.count(), 50);
    assert_eq!(all.values().filter(|r| r.is_ok()).count(), 2, "in-flight requests finish");
    let err = client.submit(get("/ok"), 0, |_, _| panic!("refused")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Shutdown);
    client.close();
}

#[test]
fn callbacks_may_submit_again() {
    let server = mock();
    let client = Arc::new(Client::new(config(&server.url())).unwrap());
    let done = Completions::new();
    let chain = Arc::new(AtomicUsize::new(0));
    fn next_link(
        client: Arc<Client>,
        chain: Arc<AtomicUsize>,
        done: crossbeam_channel::Sender<()>,
    ) {
        let c = client.clone();
        client
            .submit(get("/ok"), 0, move |_, r| {
                assert_eq!(r.unwrap().status(), 200);
                if chain.fetch_add(1, Ordering::SeqCst) + 1 < 5 {
                    next_link(c, chain, done);
                } else {
                    done.send(()).unwrap();
                }
            })
            .unwrap();
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    next_link(client.clone(), chain.clone(), tx);
    rx.recv_timeout(PATIENCE).unwrap();
    assert_eq!(chain.load(Ordering::SeqCst), 5);
    assert_eq!(server.stats().received, 5);
    drop(done);
}

#[test]
fn inside_a_callback_send_is_refused_and_close_does_not_deadlock() {
    let server = mock();
    let client = Arc::new(Client::new(config(&server.url())).unwrap());
    let done = Completions::new();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let inner = client.clone();
    client
        .submit(get("/ok"), 0, move |_, _| {
            let sent = inner.send(get("/ok"), 0).unwrap_err().kind();
            inner.close();
            tx.send(sent).unwrap();
        })
        .unwrap();
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), ErrorKind::InvalidState);
    let err = client.submit(get("/ok"), 0, done.callback()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Shutdown);
    client.close();
}

#[test]
fn dropping_the_last_handle_inside_a_callback_is_safe() {
    let server = mock();
    let client = Client::new(config(&server.url())).unwrap();
    let holder = Arc::new(parking_lot::Mutex::new(Some(client)));
    let (tx, rx) = crossbeam_channel::bounded(1);
    let h = holder.clone();
    holder
        .lock()
        .as_ref()
        .unwrap()
        .submit(get("/ok"), 0, move |_, r| {
            drop(h.lock().take());
            tx.send(r.unwrap().status()).unwrap();
        })
        .unwrap();
    assert_eq!(rx.recv_timeout(PATIENCE).unwrap(), 200);
}

#[test]
fn many_threads_submit_at_once() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.max_queue_size(100_000).unwrap();
    cfg.workers(8).unwrap();
    let client = Arc::new(Client::new(cfg).unwrap());
    let done = Arc::new(Completions::new());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (client, done) = (client.clone(), done.clone());
            std::thread::spawn(move || {
                (0..250).map(|i| done.submit(&client, get("/ok"), (t * i) % 7)).collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let all = done.take(2000);
    assert_eq!(ids.len(), 2000);
    assert!(ids.iter().all(|id| all.contains_key(id)));
    assert!(all.values().all(|r| r.as_ref().unwrap().status() == 200));
    assert_eq!(server.stats().received, 2000);
    let m = client.metrics();
    assert_eq!((m.submitted, m.succeeded, m.queue_depth, m.in_flight), (2000, 2000, 0, 0));
    assert!(m.latency_p50_us > 0 && m.latency_p50_us <= m.latency_p99_us);
}

#[test]
fn the_rate_limit_spaces_requests_out() {
    let server = mock();
    let mut cfg = config(&server.url());
    cfg.rate_limit(20, Duration::from_secs(1)).unwrap();
    cfg.burst(1).unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Completions::new();
    let started = Instant::now();
    for _ in 0..21 {
        done.submit(&client, get("/ok"), 0);
    }
    done.take(21);
    // 21 sends at 20/s with burst 1 cannot take less than one second.
    assert!(started.elapsed() >= Duration::from_millis(990), "{:?}", started.elapsed());
}

#[test]
fn the_strict_window_never_exceeds_its_limit_at_the_server() {
    let window = Duration::from_millis(500);
    let server =
        MockApi::start(MockOptions { rate_limit: Some((5, window)), ..MockOptions::default() });
    let mut cfg = config(&server.url());
    cfg.rate_limit(5, window).unwrap();
    cfg.strict_window(true).unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Completions::new();
    for _ in 0..15 {
        done.submit(&client, get("/ok"), 0);
    }
    let all = done.take(15);
    assert!(all.values().all(|r| r.as_ref().unwrap().status() == 200));
    let stats = server.stats();
    assert_eq!(stats.rejected_429, 0);
    assert!(stats.max_in_window <= 5, "{} in one window", stats.max_in_window);
}

#[test]
fn bad_configuration_is_refused_with_a_reason() {
    let mut c = Config::new();
    let cases = [
        c.rate_limit(0, Duration::from_secs(1)).err(),
        c.rate_limit(5, Duration::ZERO).err(),
        c.workers(0).err(),
        c.base_url("not a url").err(),
        c.base_url("ftp://example.com").err(),
        c.max_queue_size(0).err(),
        c.timeout(Duration::ZERO).err(),
        c.burst(3).err(),
        c.default_header("X", "bad\r\nvalue").err(),
    ];
    for err in cases {
        let err = err.expect("refused");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(!err.message().is_empty());
    }
}

#[test]
fn tls_is_verified_and_a_bad_ca_bundle_is_refused() {
    let server = mock();
    let https = server.url().replace("http://", "https://");
    let mut cfg = config(&https);
    no_retries(&mut cfg);
    let client = Client::new(cfg).unwrap();
    let err = client.send(get("/ok"), 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert_eq!(client.metrics().breaker_state, BreakerState::Closed);

    let mut c = Config::new();
    assert_eq!(c.ca_bundle_pem(b"not pem").unwrap_err().kind(), ErrorKind::InvalidArgument);
    let missing = c.ca_bundle_file("/nonexistent/ca.pem").unwrap_err();
    assert!(missing.message().contains("/nonexistent/ca.pem"));
}
