//! A rate limit shared through a real redis-server (started here, on a free port,
//! persistence off) by clients in threads and in another process, against a real
//! counting HTTP server.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{config, mock, tagged};
use mock_api::redis::RedisServer;
use rlc::{Client, Config, ErrorKind, Event, FailurePolicy, RedisState};

fn redis_server() -> Option<RedisServer> {
    if !RedisServer::available() {
        eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
        return None;
    }
    Some(RedisServer::start().expect("start redis-server"))
}

/// A client of `api` sharing `rate`/s (burst 1) on `key` of `redis`.
fn sharer(api: &str, redis: &str, key: &str, rate: u32) -> Config {
    let mut c = config(api);
    c.rate_limit(rate, Duration::from_secs(1)).unwrap().burst(1).unwrap();
    c.redis(redis, key).unwrap();
    c
}

/// Keeps `client` busy for `run`: `depth` requests queued at all times, each
/// callback submitting the next. Returns the callbacks counter and the submits made.
fn keep_busy(client: &Arc<Client>, tag: &str, depth: usize, run: Duration) -> Arc<AtomicU64> {
    let done = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + run;
    fn submit(client: &Arc<Client>, tag: String, end: Instant, done: Arc<AtomicU64>) {
        let weak = Arc::downgrade(client);
        let req = tagged("GET", "/ok", &tag);
        let _ = client.submit(req, 0, move |_, _| {
            done.fetch_add(1, Ordering::SeqCst);
            if Instant::now() < end {
                if let Some(client) = weak.upgrade() {
                    submit(&client, tag, end, done);
                }
            }
        });
    }
    for _ in 0..depth {
        submit(client, tag.to_owned(), end, done.clone());
    }
    done
}

/// The timing tests run one at a time (cargo runs tests on parallel threads): each
/// keeps clients busy for seconds, and two at once on a 2-core box skew each other.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The most arrivals within any `window` (sorted arrival times).
fn busiest(times: &[Duration], window: Duration) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// Runs in a child process, started by the test below: one more sharer.
#[test]
#[ignore = "run by three_sharers_keep_one_limit_together, in another process"]
fn child_sharer() {
    let (Ok(api), Ok(redis), Ok(ms)) = (
        std::env::var("RLC_TEST_API"),
        std::env::var("RLC_TEST_REDIS"),
        std::env::var("RLC_TEST_RUN_MS"),
    ) else {
        return;
    };
    let client = Arc::new(Client::new(sharer(&api, &redis, "shared", 100)).unwrap());
    keep_busy(&client, "process", 20, Duration::from_millis(ms.parse().unwrap()));
    std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
    client.close();
}

#[test]
fn three_sharers_keep_one_limit_together() {
    let _alone = one_at_a_time();
    let Some(redis) = redis_server() else { return };
    let api = mock();
    let run = Duration::from_secs(10);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_sharer", "--ignored", "--quiet", "--test-threads", "1"])
        .env("RLC_TEST_API", api.url())
        .env("RLC_TEST_REDIS", redis.url())
        .env("RLC_TEST_RUN_MS", run.as_millis().to_string())
        .spawn()
        .unwrap();
    let clients: Vec<Arc<Client>> = (0..2)
        .map(|_| Arc::new(Client::new(sharer(&api.url(), &redis.url(), "shared", 100)).unwrap()))
        .collect();
    let counters: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| keep_busy(c, &format!("thread-{i}"), 20, run))
        .collect();
    std::thread::sleep(run);
    assert!(child.wait().unwrap().success(), "the other process failed");
    let status: Vec<_> = clients.iter().map(|c| c.redis_status()).collect();
    for c in &clients {
        c.close();
    }
    let stats = api.stats();
    let mut times: Vec<Duration> = stats.arrivals.iter().map(|a| a.at).collect();
    times.sort();
    let lease = 5; // 5 % of 100/s
    let window = busiest(&times, Duration::from_secs(1));
    let span = (*times.last().unwrap() - times[0]).as_secs_f64();
    let rate = (times.len() - 1) as f64 / span;
    let by_process = stats.arrivals.iter().filter(|a| a.tag.as_deref() == Some("process")).count();
    eprintln!(
        "3 sharers of 100/s: {} requests over {span:.2} s = {rate:.2}/s, busiest 1 s window \
         {window}, {by_process} from the other process, clients seen {:?}",
        times.len(),
        status.iter().map(|s| s.clients).collect::<Vec<_>>()
    );
    // The documented bound: at most one lease per client beyond the limit in any
    // window (a client whose sends were held up, by a busy 2-core box say, spends its
    // lease late, beside on-time sends). Typically the busiest window holds 100 to 107.
    assert!(window <= 100 + 3 * lease, "busiest window held {window}");
    assert!((rate - 100.0).abs() <= 2.0, "aggregate rate {rate:.2}/s");
    assert!(by_process > 100, "the other process shared the limit: {by_process}");
    assert!(status.iter().all(|s| s.state == RedisState::Connected && s.clients == 3));
    // Every callback came (those queued at close with Shutdown).
    for (c, done) in clients.iter().zip(&counters) {
        assert_eq!(done.load(Ordering::SeqCst), c.metrics().submitted);
    }
}

#[test]
fn redis_killed_and_restarted_each_policy_holds_and_no_callback_is_lost() {
    let _alone = one_at_a_time();
    let Some(mut redis) = redis_server() else { return };
    let api = mock();
    let events = Arc::new(Mutex::new(Vec::new()));
    let make = |policy: FailurePolicy, key: &str| {
        let mut c = sharer(&api.url(), &redis.url(), key, 40);
        c.redis_failure(policy).unwrap().redis_local_share(50).unwrap();
        let events = events.clone();
        c.on_event(move |e| {
            if let Event::Redis { connected, .. } = e {
                events.lock().unwrap().push((policy, *connected));
            }
        });
        Arc::new(Client::new(c).unwrap())
    };
    let local = make(FailurePolicy::Local, "local");
    let open = make(FailurePolicy::Open, "open");
    let closed = make(FailurePolicy::Closed, "closed");
    let run = Duration::from_millis(3500);
    let busy: Vec<_> = [(&local, "local"), (&open, "open")]
        .iter()
        .map(|(c, t)| keep_busy(c, t, 10, run))
        .collect();
    // The closed client's requests carry a deadline: while Redis is away they time out.
    let closed_results = Arc::new(Mutex::new(Vec::new()));
    let submit_closed = |n: usize| {
        for _ in 0..n {
            let mut req = tagged("GET", "/ok", "closed");
            req.deadline(Duration::from_millis(300)).unwrap();
            let results = closed_results.clone();
            closed
                .submit(req, 0, move |_, r| results.lock().unwrap().push(r.map(|r| r.status())))
                .unwrap();
        }
    };
    std::thread::sleep(Duration::from_millis(1000));
    redis.kill();
    let killed = api.stats().arrivals.len();
    let killed_at = Instant::now();
    submit_closed(5);
    std::thread::sleep(Duration::from_millis(1000));
    for c in [&local, &open, &closed] {
        assert_eq!(c.redis_status().state, RedisState::Disconnected);
    }
    let away =
        api.stats().arrivals.iter().skip(killed).fold((0, 0), |(l, o), a| match a.tag.as_deref() {
            Some("local") => (l + 1, o),
            Some("open") => (l, o + 1),
            _ => (l, o),
        });
    redis.restart().unwrap();
    let restarted = Instant::now();
    let outage = killed_at.elapsed();
    // Back on Redis within a second of its return.
    while [&local, &open, &closed].iter().any(|c| c.redis_status().state != RedisState::Connected) {
        assert!(restarted.elapsed() < Duration::from_secs(1), "not back within 1 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    let back_after = restarted.elapsed();
    submit_closed(3);
    std::thread::sleep(
        run.saturating_sub(Duration::from_millis(2000)) + Duration::from_millis(500),
    );
    let leased_after = local.redis_status().tokens_leased;
    for c in [&local, &open, &closed] {
        c.close();
    }
    eprintln!(
        "outage {outage:?}: local sent {}, open sent {}; back on Redis {back_after:?} after restart",
        away.0, away.1
    );
    // Local: about 20/s (50 % of 40/s) in the outage of ~1 s; open: its own 40/s.
    assert!((5..=30).contains(&away.0), "local sent {} while Redis was away", away.0);
    assert!((20..=60).contains(&away.1), "open sent {} while Redis was away", away.1);
    assert!(leased_after > 0);
    let results = closed_results.lock().unwrap();
    assert_eq!(results.len(), 8, "every closed-policy request completed");
    let timeouts = results.iter().filter(|r| matches!(r, Err(e) if e.kind() == ErrorKind::Timeout));
    assert_eq!(timeouts.count(), 5, "{results:?}");
    assert_eq!(results.iter().filter(|r| matches!(r, Ok(200))).count(), 3, "{results:?}");
    for (c, done) in [&local, &open].iter().zip(&busy) {
        assert_eq!(done.load(Ordering::SeqCst), c.metrics().submitted, "a callback was lost");
        assert!(c.redis_status().down_ms >= 900);
    }
    let events = events.lock().unwrap();
    for policy in [FailurePolicy::Local, FailurePolicy::Open, FailurePolicy::Closed] {
        let seen: Vec<bool> =
            events.iter().filter(|(p, _)| *p == policy).map(|(_, c)| *c).collect();
        assert_eq!(seen, [false, true], "{policy:?}");
    }
}

#[test]
fn a_pause_one_client_learns_holds_every_client_on_the_key() {
    let Some(redis) = redis_server() else { return };
    let api = mock();
    let a = Client::new(sharer(&api.url(), &redis.url(), "paused", 100)).unwrap();
    let b = Client::new(sharer(&api.url(), &redis.url(), "paused", 100)).unwrap();
    let mut throttled = tagged("GET", "/status/429?retry_after=1", "a");
    throttled.max_retries(0);
    assert_eq!(a.send(throttled, 0).unwrap().status(), 429);
    let asked = Instant::now();
    // a's lease thread writes the pause a round trip later (never under the scheduler
    // lock); on a busy machine b could otherwise ask Redis first. The shared pause
    // lasts a second from then, so b still waits most of it.
    std::thread::sleep(Duration::from_millis(100));
    // b never saw a 429, yet waits for the pause a learned.
    assert_eq!(b.send(tagged("GET", "/ok", "b"), 0).unwrap().status(), 200);
    let waited = asked.elapsed();
    assert!(waited >= Duration::from_millis(800), "b went after {waited:?}");
    assert!(waited < Duration::from_secs(3), "b waited {waited:?}");
}

#[test]
fn the_password_never_reaches_a_message() {
    let Some(_) = redis_server() else { return };
    let secret = "pa55-w0rd-XYZZY";
    let redis = RedisServer::start_with(Some(secret)).unwrap();
    let api = mock();
    let wrong = format!("redis://:{secret}-no@127.0.0.1:{}/0", redis.port());
    let cfg = sharer(&api.url(), &wrong, "k", 10);
    assert!(!format!("{cfg:?}").contains(secret), "Debug of the config shows the password");
    let err = Client::new(cfg).err().expect("a wrong password fails the start");
    assert_eq!(err.kind(), ErrorKind::Redis);
    assert!(!err.message().contains(secret), "{}", err.message());
    assert!(!err.to_string().contains(secret));
    // A database that does not exist: refused too, and said without the password.
    let no_db = format!("redis://:{secret}@127.0.0.1:{}/999", redis.port());
    let err = Client::new(sharer(&api.url(), &no_db, "k", 10)).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Redis);
    assert!(!err.message().contains(secret), "{}", err.message());
    // A bad URL is refused at once, and without the password.
    let err = Config::new().redis(&format!("redis://:{secret}@[::1"), "k").err().unwrap();
    assert!(!err.message().contains(secret), "{}", err.message());
    // The right password works.
    let client = Client::new(sharer(&api.url(), &redis.url(), "k", 10)).unwrap();
    assert_eq!(client.send(tagged("GET", "/ok", "x"), 0).unwrap().status(), 200);
    assert_eq!(client.redis_status().state, RedisState::Connected);
    // Unreachable: the client starts under its policy, and says so without the password.
    let gone = format!("redis://:{secret}@127.0.0.1:1/0");
    let client = Client::new(sharer(&api.url(), &gone, "k", 10)).unwrap();
    assert_eq!(client.redis_status().state, RedisState::Disconnected);
    assert_eq!(client.send(tagged("GET", "/ok", "x"), 0).unwrap().status(), 200);
}

#[test]
fn a_shared_limit_needs_a_rate_limit_and_a_sane_key() {
    let mut c = Config::new();
    assert_eq!(c.redis("http://x", "k").err().unwrap().kind(), ErrorKind::InvalidArgument);
    assert!(c.redis("redis://127.0.0.1:1/0", "").is_err());
    assert!(c.redis("redis://127.0.0.1:1/0", "a\nb").is_err());
    let mut c = Config::new();
    assert!(c.redis_failure(FailurePolicy::Open).is_err(), "Redis first");
    c.redis("redis://127.0.0.1:1/0", "k").unwrap();
    assert!(c.redis_local_share(0).is_err() && c.redis_local_share(101).is_err());
    let err = Client::new(c).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{}", err.message());
}
