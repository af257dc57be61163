//! Queue cost:
//! 1. `submit`: submits per second from one thread into a client whose queue is held
//!    back by a tiny rate (1 per hour, burst 1), requests built beforehand (and, as a
//!    second figure, built inside the timed loop). Median of `--reps`.
//! 2. `memory`: resident memory per queued small GET with `--queued` requests waiting
//!    (RSS from /proc/self/statm before building and submitting them, and after),
//!    less the heap footprint of the request's own strings (method and path).
//! 3. `dispatch`: time from submit to dispatch (the scheduler handing the request to a
//!    free worker) while tokens are free, from rlc's own `queue_wait` percentiles:
//!    (a) one request at a time (`send`, the scheduler idle in between), unlimited;
//!    (b) a paced stream (one submit every 1 ms, 16 workers) with a generous rate
//!    limit whose bucket is never empty, so the limiter is on the path.
//! 4. `limiter`: the cost of one `Limiter::try_acquire` decision in a tight loop, with
//!    governor's `check()` measured in the same run as the reference.
//!
//! Usage: rlc-bench-queue --url http://127.0.0.1:PORT [--submit 1000000]
//!        [--queued 1000000] [--dispatch 5000] [--iters 5000000] [--reps 3]
//!        [--only submit,memory,dispatch,limiter]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter};
use rlc::clock::{Clock, MonotonicClock};
use rlc::limiter::Limiter;
use rlc::{Client, Config, RateLimit, Request};
use rlc_bench::{emit, heap_footprint, loadavg, median, rss_bytes, Args};

/// A client whose queue never drains: 1 request per hour, burst 1.
fn held_client(url: &str, queue: usize) -> Client {
    let mut config = Config::new();
    config
        .base_url(url)
        .and_then(|c| c.rate_limit(1, Duration::from_secs(3600)))
        .and_then(|c| c.burst(1))
        .and_then(|c| c.workers(1))
        .and_then(|c| c.max_queue_size(queue + 16))
        .expect("config");
    Client::new(config).expect("client")
}

const PATH: &str = "/v1/items/123456";

fn submit_rate(url: &str, n: usize, reps: usize) {
    for prebuilt in [true, false] {
        let mut rates = Vec::new();
        for _ in 0..reps {
            let client = held_client(url, n);
            let requests: Vec<Request> = if prebuilt {
                (0..n).map(|_| Request::new("GET", PATH).unwrap()).collect()
            } else {
                Vec::new()
            };
            let start = Instant::now();
            if prebuilt {
                for r in requests {
                    client.submit(r, 0, |_, _| {}).expect("submit");
                }
            } else {
                for _ in 0..n {
                    client
                        .submit(Request::new("GET", PATH).unwrap(), 0, |_, _| {})
                        .expect("submit");
                }
            }
            let secs = start.elapsed().as_secs_f64();
            rates.push(n as f64 / secs);
            let close = Instant::now();
            drop(client); // completes every queued request as shut down
            eprintln!(
                "queue submit ({}): {:.0}/s ({n} in {secs:.3} s; close took {:.2} s)",
                if prebuilt { "prebuilt requests" } else { "building each request" },
                n as f64 / secs,
                close.elapsed().as_secs_f64()
            );
        }
        emit(vec![
            ("bench", "queue_submit".into()),
            ("prebuilt", prebuilt.into()),
            ("submits", n.into()),
            ("reps", reps.into()),
            ("per_sec", median(&rates).into()),
            ("per_sec_all", format!("{rates:.0?}").into()),
            ("loadavg", loadavg().into()),
        ]);
    }
}

fn memory(url: &str, n: usize) {
    let client = held_client(url, n);
    // Let the one request the burst allows go out, so the worker's connection and
    // buffers exist before the "before" reading.
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_bytes();
    for _ in 0..n {
        client.submit(Request::new("GET", PATH).unwrap(), 0, |_, _| {}).expect("submit");
    }
    let after = rss_bytes();
    let queued = client.metrics().queue_depth;
    let per = (after.saturating_sub(before)) as f64 / n as f64;
    let strings = heap_footprint("GET".len()) + heap_footprint(PATH.len());
    let string_bytes = "GET".len() + PATH.len();
    eprintln!(
        "queue memory: {n} queued ({queued} by the metrics): RSS {:.1} MiB -> {:.1} MiB, {per:.1} B per request, {:.1} B over its strings' {strings} B heap footprint ({string_bytes} B of text)",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        per - strings as f64
    );
    emit(vec![
        ("bench", "queue_memory".into()),
        ("queued", n.into()),
        ("queue_depth", queued.into()),
        ("rss_before", before.into()),
        ("rss_after", after.into()),
        ("per_request", per.into()),
        ("strings_footprint", strings.into()),
        ("strings_len", string_bytes.into()),
        ("over_strings", (per - strings as f64).into()),
        ("path", PATH.into()),
        ("callback", "a closure capturing nothing (no allocation)".into()),
    ]);
    drop(client);
}

fn dispatch(url: &str, n: usize) {
    // a) One at a time: the scheduler sleeps between requests.
    let mut config = Config::new();
    config.base_url(url).and_then(|c| c.workers(4)).expect("config");
    let client = Client::new(config).expect("client");
    let start = Instant::now();
    for _ in 0..n {
        client.send(Request::new("GET", PATH).unwrap(), 0).expect("send");
    }
    let m = client.metrics();
    eprintln!(
        "dispatch (sequential send, unlimited): queue wait p50 {} µs, p90 {} µs, p99 {} µs ({} in {:.2} s)",
        m.queue_wait_p50_us, m.queue_wait_p90_us, m.queue_wait_p99_us, n, start.elapsed().as_secs_f64()
    );
    emit(vec![
        ("bench", "dispatch".into()),
        ("case", "sequential".into()),
        ("requests", n.into()),
        ("p50_us", m.queue_wait_p50_us.into()),
        ("p90_us", m.queue_wait_p90_us.into()),
        ("p99_us", m.queue_wait_p99_us.into()),
        ("loadavg", loadavg().into()),
    ]);
    drop(client);

    // b) Paced: a submit every 1 ms, rate limit 100,000/s with burst 1,000 (tokens are
    //    always free) and 16 workers (so is a worker).
    let mut config = Config::new();
    config
        .base_url(url)
        .and_then(|c| c.workers(16))
        .and_then(|c| c.rate_limit(100_000, Duration::from_secs(1)))
        .and_then(|c| c.burst(1_000))
        .and_then(|c| c.max_queue_size(n + 16))
        .expect("config");
    let client = Client::new(config).expect("client");
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for i in 0..n {
        let due = start + Duration::from_millis(i as u64);
        while Instant::now() < due {
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let done = done.clone();
        client
            .submit(Request::new("GET", PATH).unwrap(), 0, move |_, _| {
                done.fetch_add(1, Ordering::Relaxed);
            })
            .expect("submit");
    }
    while done.load(Ordering::Relaxed) < n && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let m = client.metrics();
    eprintln!(
        "dispatch (paced 1000/s, 16 workers, limiter with free tokens): queue wait p50 {} µs, p90 {} µs, p99 {} µs",
        m.queue_wait_p50_us, m.queue_wait_p90_us, m.queue_wait_p99_us
    );
    emit(vec![
        ("bench", "dispatch".into()),
        ("case", "paced".into()),
        ("requests", n.into()),
        ("p50_us", m.queue_wait_p50_us.into()),
        ("p90_us", m.queue_wait_p90_us.into()),
        ("p99_us", m.queue_wait_p99_us.into()),
        ("loadavg", loadavg().into()),
    ]);
}

/// ns per call of `f` over `iters` calls.
fn time_loop(iters: u64, mut f: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    for i in 0..iters {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn limiter(iters: u64, reps: usize) {
    const MS: u64 = 1_000_000;
    let per_sec = |n: u32| RateLimit::new(n, Duration::from_secs(1)).unwrap();
    let strict = |n: u32| RateLimit { strict: true, ..per_sec(n) };
    let nz = |n: u32| NonZeroU32::new(n).unwrap();
    let mut cases: Vec<(&str, &str, Vec<f64>)> = Vec::new();
    let mut record = |name: &'static str, what: &'static str, ns: f64| match cases
        .iter_mut()
        .find(|c| c.0 == name)
    {
        Some(c) => c.2.push(ns),
        None => cases.push((name, what, vec![ns])),
    };
    for _ in 0..reps {
        // Allowed every time: 1000/s, the clock moving 1 ms per call.
        let mut l = Limiter::new(&[per_sec(1000)]);
        record(
            "rlc_allow",
            "rlc Limiter::try_acquire, allowed (1000/s, time advanced 1 ms per call)",
            time_loop(iters, |i| {
                let now = (i + 1) * MS;
                let _ = black_box(l.try_acquire(black_box(now), now));
            }),
        );
        let clock = FakeRelativeClock::default();
        let g = RateLimiter::direct_with_clock(Quota::per_second(nz(1000)), clock.clone());
        record(
            "governor_allow",
            "governor check(), allowed (1000/s, FakeRelativeClock advanced 1 ms per call)",
            time_loop(iters, |_| {
                clock.advance(Duration::from_millis(1));
                let _ = black_box(g.check());
            }),
        );
        // Refused every time: the bucket is empty and the clock stands still.
        let mut l = Limiter::new(&[per_sec(1)]);
        let _ = l.try_acquire(0, 0);
        record(
            "rlc_deny",
            "rlc Limiter::try_acquire, refused (empty bucket)",
            time_loop(iters, |_| {
                let _ = black_box(l.try_acquire(black_box(1), 1));
            }),
        );
        let clock = FakeRelativeClock::default();
        let g = RateLimiter::direct_with_clock(Quota::per_second(nz(1)), clock.clone());
        let _ = g.check();
        record(
            "governor_deny",
            "governor check(), refused (empty bucket, FakeRelativeClock)",
            time_loop(iters, |_| {
                let _ = black_box(g.check());
            }),
        );
        // With the real clock read on every call, as each would run in production.
        let mono = MonotonicClock::new();
        let mut l = Limiter::new(&[per_sec(u32::MAX)]);
        record(
            "rlc_allow_clock",
            "rlc MonotonicClock::now() + try_acquire, allowed (u32::MAX/s)",
            time_loop(iters, |_| {
                let now = mono.now();
                let _ = black_box(l.try_acquire(now, now));
            }),
        );
        let g = RateLimiter::direct(Quota::per_second(nz(u32::MAX)));
        record(
            "governor_allow_clock",
            "governor check() with its default clock (quanta), allowed (u32::MAX/s)",
            time_loop(iters, |_| {
                let _ = black_box(g.check());
            }),
        );
        // The same allow path once the scaled time (ns × max_requests) no longer fits
        // in 64 bits: u32::MAX per second, an hour in. The u128 divisions then take
        // their slow path.
        let mut l = Limiter::new(&[per_sec(u32::MAX)]);
        let hour = 3_600_000_000_000u64;
        record(
            "rlc_allow_wide",
            "rlc try_acquire, allowed, u32::MAX/s at t = 1 h (scaled time past 2^64), 1 µs per call",
            time_loop(iters, |i| {
                let now = hour + i * 1000;
                let _ = black_box(l.try_acquire(black_box(now), now));
            }),
        );
        // What reading the clock alone costs each side.
        record(
            "rlc_clock_only",
            "rlc MonotonicClock::now() alone (Instant::elapsed, ns as u64)",
            time_loop(iters, |_| {
                black_box(mono.now());
            }),
        );
        let quanta_clock = governor::clock::QuantaClock::default();
        record(
            "governor_clock_only",
            "governor's QuantaClock::now() alone",
            time_loop(iters, |_| {
                black_box(governor::clock::Clock::now(&quanta_clock));
            }),
        );
        // A strict rule (ring of send times) and two stacked rules.
        let mut l = Limiter::new(&[strict(1000)]);
        record(
            "rlc_allow_strict",
            "rlc try_acquire, strict 1000/s (ring), allowed, 1 ms per call",
            time_loop(iters, |i| {
                let now = (i + 1) * MS;
                let _ = black_box(l.try_acquire(black_box(now), now));
            }),
        );
        let mut l = Limiter::new(&[
            per_sec(1000),
            RateLimit::new(3_600_000, Duration::from_secs(3600)).unwrap(),
        ]);
        record(
            "rlc_allow_stacked",
            "rlc try_acquire, 1000/s + 3.6M/h stacked, allowed, 1 ms per call",
            time_loop(iters, |i| {
                let now = (i + 1) * MS;
                let _ = black_box(l.try_acquire(black_box(now), now));
            }),
        );
    }
    for (name, what, ns) in cases {
        eprintln!("limiter {name:>22}: {:>6.2} ns/call  ({what})", median(&ns));
        emit(vec![
            ("bench", "limiter".into()),
            ("case", name.into()),
            ("what", what.into()),
            ("ns", median(&ns).into()),
            ("ns_all", format!("{ns:.2?}").into()),
            ("iters", iters.into()),
        ]);
    }
}

fn main() {
    let args = Args::parse();
    let url = args.opt("url").expect("--url http://127.0.0.1:PORT");
    let url = url.trim_end_matches('/').to_string();
    let reps: usize = args.num("reps", 3);
    let only: Vec<String> = args.list("only", "submit,memory,dispatch,limiter");
    let want = |s: &str| only.iter().any(|o| o == s);
    if want("limiter") {
        limiter(args.num("iters", 20_000_000), reps);
    }
    if want("submit") {
        submit_rate(&url, args.num("submit", 1_000_000), reps);
    }
    if want("memory") {
        memory(&url, args.num("queued", 1_000_000));
    }
    if want("dispatch") {
        dispatch(&url, args.num("dispatch", 5000));
    }
}
