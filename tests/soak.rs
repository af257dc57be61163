//! Soak and chaos through the Rust API: 8 submitting threads against a local chaos
//! server (`mock_api::chaos`: delays, dropped and reset connections, garbage,
//! truncated bodies, 429 with a short Retry-After, 5xx, redirect loops), with random
//! cancels and deadlines, and a second client created, loaded and freed again and
//! again in the middle of the run.
//!
//! It asserts that every accepted request completed exactly once (callbacks counted
//! per request), that a redirect loop completes with `Redirect` (or is cancelled,
//! shut down, timed out or refused by the breaker first), that no `rlc-*` thread is
//! left behind, and that RSS stays flat after
//! warm-up (end < 1.5 x post-warm-up + 32 MiB); it prints the figures.
//!
//! Length: `RLC_SOAK_REQUESTS` (stop after that many submissions) and/or
//! `RLC_SOAK_SECONDS` (stop after that long); 30 seconds when neither is set (the
//! version `make test` runs). `make soak` runs 100,000 requests in release mode.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mock_api::chaos::{ChaosOptions, ChaosServer};
use rand::Rng;
use rlc::{BreakerConfig, Client, Config, ErrorKind, Request, RetryPolicy};

const SUBMITTERS: usize = 8;
/// Back off submitting while this many requests are outstanding.
const MAX_OUTSTANDING: usize = 4_000;

/// Which request completed how often: a request's key is in `pending` from just
/// before its submit until its callback, which removes it; a callback that finds
/// no key is a second (or stray) completion.
#[derive(Default)]
struct Tracker {
    shards: Vec<Mutex<HashSet<u64>>>,
    next_key: AtomicU64,
    accepted: AtomicU64,
    completed: AtomicU64,
    duplicates: AtomicU64,
    /// Redirect loops (`/loop`, `/pingpong/a`) that completed other than with
    /// `Redirect` or a reason that comes before any hop (cancel, shutdown, deadline,
    /// open breaker).
    loop_violations: Mutex<Vec<String>>,
    /// Set while the client is being closed.
    closing: AtomicBool,
    /// Redirect loops that completed as an OK 3xx while their client closed: the
    /// scheduler does not follow a hop once closing, and hands the 3xx back as a
    /// success (finding F2 of the `prove` report; counted, not failed, until fixed).
    loop_3xx_at_close: AtomicU64,
    outcomes: Mutex<BTreeMap<String, u64>>,
    refused: Mutex<BTreeMap<String, u64>>,
}

impl Tracker {
    fn new() -> Arc<Tracker> {
        Arc::new(Tracker {
            shards: (0..64).map(|_| Mutex::default()).collect(),
            ..Default::default()
        })
    }

    fn shard(&self, key: u64) -> &Mutex<HashSet<u64>> {
        &self.shards[(key % 64) as usize]
    }

    fn pending(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap().len()).sum()
    }

    fn bump(map: &Mutex<BTreeMap<String, u64>>, name: &str) {
        *map.lock().unwrap().entry(name.to_string()).or_default() += 1;
    }

    /// Submits `request`; true when accepted.
    fn submit(self: &Arc<Self>, client: &Client, request: Request, priority: i32) -> Option<u64> {
        let is_loop = request.target() == "/loop" || request.target() == "/pingpong/a";
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        self.shard(key).lock().unwrap().insert(key);
        let me = self.clone();
        let callback = Box::new(move |_id, result: rlc::Result<rlc::Response>| {
            if me.shard(key).lock().unwrap().remove(&key) {
                me.completed.fetch_add(1, Ordering::Relaxed);
            } else {
                me.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            let name = match &result {
                Ok(r) => format!("ok {}xx", r.status() / 100),
                Err(e) => e.kind().name().to_string(),
            };
            if is_loop {
                let fine = matches!(
                    &result,
                    Err(e) if matches!(
                        e.kind(),
                        ErrorKind::Redirect
                            | ErrorKind::Cancelled
                            | ErrorKind::Shutdown
                            | ErrorKind::Timeout
                            | ErrorKind::CircuitOpen
                    )
                );
                let at_close = me.closing.load(Ordering::SeqCst)
                    && matches!(&result, Ok(r) if (300..400).contains(&r.status()));
                if at_close {
                    me.loop_3xx_at_close.fetch_add(1, Ordering::Relaxed);
                } else if !fine {
                    me.loop_violations.lock().unwrap().push(format!("{name}: {:?}", result.err()));
                }
                Tracker::bump(&me.outcomes, &format!("loop {name}"));
            } else {
                Tracker::bump(&me.outcomes, &name);
            }
        });
        match client.try_submit(request, priority, callback) {
            Ok(id) => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
                Some(id)
            }
            Err((e, callback)) => {
                // Never to be called: forget the key (and drop the callback uncalled).
                drop(callback);
                self.shard(key).lock().unwrap().remove(&key);
                Tracker::bump(&self.refused, e.kind().name());
                None
            }
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Resident set size in bytes, from /proc/self/statm.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page
}

/// Threads of this process whose name starts with `rlc-`.
fn rlc_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("rlc-"))
        .count()
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn config(url: &str) -> Config {
    let mut c = Config::new();
    c.base_url(url).unwrap();
    c.workers(8).unwrap();
    c.timeout(Duration::from_secs(2)).unwrap();
    c.retry(RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(20),
    })
    .unwrap();
    c.circuit_breaker(BreakerConfig {
        failure_threshold: 8,
        recovery_timeout: Duration::from_millis(100),
    })
    .unwrap();
    // High enough not to bind, so the limiter's path is exercised at full speed.
    c.rate_limit(50_000, Duration::from_secs(1)).unwrap();
    c
}

/// A random request: mostly chaos, some redirect loops, POSTs, deadlines.
fn random_request(rng: &mut impl Rng, n: u64) -> Request {
    let roll = rng.gen_range(0..100);
    let mut r = match roll {
        0..=1 => Request::new("GET", "/loop").unwrap(),
        2..=3 => Request::new("GET", "/pingpong/a").unwrap(),
        4 => {
            let mut r = Request::new("POST", &format!("/chaos/post/{n}")).unwrap();
            r.body(&vec![b'x'; rng.gen_range(0..2048)]);
            r
        }
        5 => Request::new("GET", "/ok").unwrap(),
        _ => Request::new("GET", &format!("/chaos/{n}?q={}", rng.gen::<u32>())).unwrap(),
    };
    if rng.gen_ratio(1, 20) {
        r.deadline(Duration::from_millis(rng.gen_range(1..500))).unwrap();
    }
    if rng.gen_ratio(1, 10) {
        r.header("x-soak", &n.to_string()).unwrap();
    }
    r
}

/// Submits until `stop`, cancelling now and then one of its own recent requests.
fn submitter(client: &Client, tracker: &Arc<Tracker>, stop: &AtomicBool, budget: &AtomicU64) {
    let mut rng = rand::thread_rng();
    let mut recent: Vec<u64> = Vec::with_capacity(64);
    while !stop.load(Ordering::Relaxed) {
        if tracker.pending() > MAX_OUTSTANDING {
            thread::sleep(Duration::from_millis(1));
            continue;
        }
        let Ok(n) = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
        else {
            break;
        };
        let request = random_request(&mut rng, n);
        match tracker.submit(client, request, rng.gen_range(-5..=5)) {
            Some(id) => {
                if recent.len() == 64 {
                    recent.swap_remove(rng.gen_range(0..64));
                }
                recent.push(id);
            }
            None => thread::sleep(Duration::from_millis(1)),
        }
        if !recent.is_empty() && rng.gen_ratio(3, 100) {
            let id = recent[rng.gen_range(0..recent.len())];
            match client.cancel(id) {
                Ok(()) => {}
                Err(e) => assert_eq!(e.kind(), ErrorKind::UnknownRequest, "cancel: {e}"),
            }
        }
    }
}

#[test]
fn soak_with_chaos() {
    let max_requests = env_u64("RLC_SOAK_REQUESTS");
    let seconds =
        env_u64("RLC_SOAK_SECONDS").unwrap_or(if max_requests.is_some() { 3_600 } else { 30 });
    let max_requests = max_requests.unwrap_or(u64::MAX / 4);
    let rss_start = rss();
    let threads_before = rlc_threads();

    // A hang (a lost completion that close() waits for) must fail the run, not stall
    // `make test`: past the run's length plus a grace period, exit with the state.
    let grace = Duration::from_secs(seconds.min(3_600) + 180);
    thread::Builder::new()
        .name("soak-watchdog".into())
        .spawn(move || {
            thread::sleep(grace);
            eprintln!(
                "soak: HUNG: still running {} s after the start; rlc threads: {}",
                grace.as_secs(),
                rlc_threads()
            );
            std::process::exit(101);
        })
        .unwrap();

    let server = ChaosServer::start(ChaosOptions::default());
    let url = server.url();
    let tracker = Tracker::new();
    let stop = AtomicBool::new(false);
    let budget = AtomicU64::new(max_requests);
    let started = Instant::now();
    let run_for = Duration::from_secs(seconds);
    let mut rss_warm = 0;
    let mut rss_live_end = 0;
    let second_clients = AtomicU64::new(0);
    let second_tracker = Tracker::new();

    let client = Client::new(config(&url)).unwrap();
    thread::scope(|scope| {
        for _ in 0..SUBMITTERS {
            scope.spawn(|| submitter(&client, &tracker, &stop, &budget));
        }
        // A second client, created, loaded and freed again and again in the middle.
        scope.spawn(|| {
            let mut rng = rand::thread_rng();
            let in_middle = || {
                let done = max_requests.saturating_sub(budget.load(Ordering::Relaxed));
                let t = started.elapsed();
                (done > max_requests / 4 || t > run_for / 4)
                    && (done < max_requests * 3 / 4 && t < run_for * 3 / 4)
            };
            while !stop.load(Ordering::Relaxed) && !in_middle() {
                thread::sleep(Duration::from_millis(20));
            }
            while !stop.load(Ordering::Relaxed) && in_middle() {
                let second = Client::new(config(&url)).unwrap();
                let mut ids = Vec::new();
                for n in 0..rng.gen_range(200..1_000) {
                    if let Some(id) = second_tracker.submit(&second, random_request(&mut rng, n), 0)
                    {
                        ids.push(id);
                    }
                    if rng.gen_ratio(1, 20) && !ids.is_empty() {
                        let _ = second.cancel(ids[rng.gen_range(0..ids.len())]);
                    }
                }
                thread::sleep(Duration::from_millis(rng.gen_range(0..300)));
                second_tracker.closing.store(true, Ordering::SeqCst);
                drop(second); // Closes: every callback is delivered before it returns.
                second_tracker.closing.store(false, Ordering::SeqCst);
                assert_eq!(second_tracker.pending(), 0, "the second client's close lost requests");
                second_clients.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(100));
            }
        });
        // The clock: warm-up RSS at 20 % of the run, then stop at its end.
        let mut last_print = Instant::now();
        loop {
            thread::sleep(Duration::from_millis(50));
            let submitted = max_requests.saturating_sub(budget.load(Ordering::Relaxed));
            let elapsed = started.elapsed();
            let progress = (submitted as f64 / max_requests as f64)
                .max(elapsed.as_secs_f64() / run_for.as_secs_f64());
            if rss_warm == 0 && progress >= 0.2 {
                rss_warm = rss();
            }
            if last_print.elapsed() > Duration::from_secs(10) {
                last_print = Instant::now();
                eprintln!(
                    "soak: {:.0} s, {} accepted, {} completed, {} pending, rss {:.1} MiB",
                    elapsed.as_secs_f64(),
                    tracker.accepted.load(Ordering::Relaxed),
                    tracker.completed.load(Ordering::Relaxed),
                    tracker.pending(),
                    mib(rss())
                );
            }
            if budget.load(Ordering::Relaxed) == 0 || elapsed >= run_for {
                rss_live_end = rss();
                stop.store(true, Ordering::Relaxed);
                break;
            }
        }
    });
    let submitting = started.elapsed();
    let metrics = client.metrics();
    tracker.closing.store(true, Ordering::SeqCst);
    drop(client); // Closes: every callback is delivered before it returns.
    let duration = started.elapsed();
    let threads_after = rlc_threads();
    let rss_end = rss();

    let accepted = tracker.accepted.load(Ordering::Relaxed);
    let completed = tracker.completed.load(Ordering::Relaxed);
    eprintln!("soak: server: {}", server.stats().summary());
    eprintln!(
        "soak: {accepted} accepted and {completed} completed by the main client in {:.1} s \
         (submitting {:.1} s; {:.0}/s); refused: {:?}",
        duration.as_secs_f64(),
        submitting.as_secs_f64(),
        completed as f64 / duration.as_secs_f64(),
        tracker.refused.lock().unwrap()
    );
    eprintln!("soak: outcomes: {:?}", tracker.outcomes.lock().unwrap());
    eprintln!(
        "soak: second client: {} created and freed, {} accepted, {} completed, outcomes {:?}",
        second_clients.load(Ordering::Relaxed),
        second_tracker.accepted.load(Ordering::Relaxed),
        second_tracker.completed.load(Ordering::Relaxed),
        second_tracker.outcomes.lock().unwrap()
    );
    eprintln!(
        "soak: retries {}, server pauses {}, breaker {:?}",
        metrics.retries, metrics.server_pauses, metrics.breaker_state
    );
    eprintln!(
        "soak: RSS start {:.1} MiB, after warm-up {:.1} MiB, end of load {:.1} MiB, after close {:.1} MiB",
        mib(rss_start),
        mib(rss_warm),
        mib(rss_live_end),
        mib(rss_end)
    );
    eprintln!("soak: rlc threads before {threads_before}, after {threads_after}");
    eprintln!(
        "soak: redirect loops completed as OK 3xx during close (finding F2): {} + {}",
        tracker.loop_3xx_at_close.load(Ordering::Relaxed),
        second_tracker.loop_3xx_at_close.load(Ordering::Relaxed)
    );

    // Finding F2 is fixed: a loop cut short by the close completes as Shutdown.
    for t in [&tracker, &second_tracker] {
        assert_eq!(
            t.loop_3xx_at_close.load(Ordering::Relaxed),
            0,
            "redirect loops completed as OK 3xx"
        );
    }
    assert_eq!(tracker.duplicates.load(Ordering::Relaxed), 0, "a request completed twice");
    assert_eq!(second_tracker.duplicates.load(Ordering::Relaxed), 0, "a request completed twice");
    assert_eq!(tracker.pending(), 0, "accepted requests never completed");
    for t in [&tracker, &second_tracker] {
        let v = t.loop_violations.lock().unwrap();
        assert!(
            v.is_empty(),
            "{} redirect loop(s) not completed as Redirect: {:?}",
            v.len(),
            &v[..v.len().min(5)]
        );
    }
    assert_eq!(second_tracker.pending(), 0, "accepted requests never completed");
    assert_eq!(completed, accepted);
    assert!(accepted > 0, "nothing was accepted");
    assert!(second_clients.load(Ordering::Relaxed) >= 1, "the second client never ran");
    assert_eq!(threads_after, threads_before, "rlc threads left behind");
    let bound = rss_warm as f64 * 1.5 + 32.0 * 1024.0 * 1024.0;
    assert!(
        (rss_live_end as f64) < bound && (rss_end as f64) < bound,
        "RSS grew after warm-up: {:.1} MiB -> {:.1} MiB (bound {:.1} MiB)",
        mib(rss_warm),
        mib(rss_live_end.max(rss_end)),
        bound / (1024.0 * 1024.0)
    );
}
