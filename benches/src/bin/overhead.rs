//! Overhead: the same number of GETs against one URL (nginx answering `200 ok`),
//! with raw `ureq` threads sharing one Agent (configured exactly like rlc's) versus an
//! rlc `Client` with no rate limit and as many workers as the raw run has threads.
//!
//! rlc is kept busy the way a real caller would: one thread submits, keeping between
//! `window × workers / 2` and `window × workers` requests outstanding (the callbacks
//! wake it when the count falls to the lower mark, and it tops up to the upper one),
//! and waits for every completion. Runs alternate raw/rlc (order flipped every
//! repetition) so drift on a shared machine hits both alike.
//!
//! Latency: for raw, each call (request + body read); for rlc, the attempt latency
//! from its own metrics (the same span on a worker) and the submit-to-callback time,
//! which also holds the wait inside the window.
//!
//! Usage: rlc-bench-overhead --url http://127.0.0.1:PORT/ [--requests 50000]
//!        [--threads 1,4,8,16] [--reps 3] [--rep-index 0] [--window 4]
//!        [--impls raw,rlc[,rlc_inline][,raw_uncached]]
//!
//! `rlc_inline` is rlc with `Config::callbacks_on_workers`: callbacks on the worker
//! that finished, without the hand-off to the completion thread.
//!
//! `raw_uncached` is raw ureq with its own resolver, which spawns a thread per call
//! when a timeout is set (see `raw_agent_uncached`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use rlc::{Client, Config, Request};
use rlc_bench::{emit, loadavg, percentile, raw_agent, raw_agent_uncached, Args, V};

struct Run {
    secs: f64,
    ok: usize,
    errors: usize,
    /// Per-request latency, ns, sorted.
    lat: Vec<u64>,
    /// For rlc: attempt p50/p99 in µs from the client's metrics.
    attempt: Option<(u64, u64)>,
}

fn raw(url: &str, threads: usize, requests: usize, agent: ureq::Agent) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (agent, next, barrier, url) =
                (agent.clone(), next.clone(), barrier.clone(), url.to_string());
            thread::spawn(move || {
                // Warm-up: open this thread's connection before the clock starts.
                for _ in 0..2 {
                    if let Ok(mut r) = agent.get(&url).call() {
                        let _ = r.body_mut().read_to_vec();
                    }
                }
                let mut lat = Vec::with_capacity(requests / threads + 16);
                let (mut ok, mut errors) = (0, 0);
                barrier.wait();
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let t = Instant::now();
                    match agent.get(&url).call() {
                        Ok(mut r) => match r.body_mut().read_to_vec() {
                            Ok(_) if r.status() == 200 => ok += 1,
                            _ => errors += 1,
                        },
                        Err(_) => errors += 1,
                    }
                    lat.push(t.elapsed().as_nanos() as u64);
                }
                barrier.wait();
                (lat, ok, errors)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    barrier.wait();
    let secs = start.elapsed().as_secs_f64();
    let mut lat = Vec::with_capacity(requests);
    let (mut ok, mut errors) = (0, 0);
    for h in handles {
        let (l, o, e) = h.join().expect("raw thread");
        lat.extend(l);
        ok += o;
        errors += e;
    }
    lat.sort_unstable();
    Run { secs, ok, errors, lat, attempt: None }
}

fn rlc_run(
    url: &str,
    workers: usize,
    requests: usize,
    window: usize,
    callbacks_on_workers: bool,
) -> Run {
    let mut config = Config::new();
    config
        .base_url(url)
        .and_then(|c| c.workers(workers as u32))
        .and_then(|c| c.max_queue_size(requests + 1024))
        .expect("config")
        .callbacks_on_workers(callbacks_on_workers);
    let client = Client::new(config).expect("client");
    let path = "/";
    // Warm-up: open the workers' connections before the clock starts.
    let (wtx, wrx) = bounded(workers * 2);
    for _ in 0..workers * 2 {
        let wtx = wtx.clone();
        client
            .submit(Request::new("GET", path).unwrap(), 0, move |_, _| {
                let _ = wtx.send(());
            })
            .expect("warm-up submit");
    }
    for _ in 0..workers * 2 {
        wrx.recv().expect("warm-up completion");
    }

    // Keep between `low` and `high` requests outstanding: the submitter sleeps until
    // the callbacks have brought the count down to `low`, then tops it up to `high`.
    // Waking it once per `high - low` completions keeps the harness's own cost small.
    let high = (window * workers).max(2);
    let low = high / 2;
    let outstanding = Arc::new(AtomicUsize::new(0));
    let submitter = thread::current();
    let (done_tx, done_rx) = bounded::<()>(1);
    let lat = Arc::new(Mutex::new(Vec::with_capacity(requests)));
    let counts = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)));
    let start = Instant::now();
    let mut submitted_count = 0;
    while submitted_count < requests {
        while outstanding.load(Ordering::Acquire) > low {
            thread::park_timeout(Duration::from_millis(50));
        }
        let top_up = (high - outstanding.load(Ordering::Acquire)).min(requests - submitted_count);
        outstanding.fetch_add(top_up, Ordering::AcqRel);
        for _ in 0..top_up {
            let submitted = Instant::now();
            let (outstanding, submitter, done_tx, lat, counts) = (
                outstanding.clone(),
                submitter.clone(),
                done_tx.clone(),
                lat.clone(),
                counts.clone(),
            );
            let request = Request::new("GET", path).unwrap();
            client
                .submit(request, 0, move |_, result| {
                    let elapsed = submitted.elapsed().as_nanos() as u64;
                    match result {
                        Ok(r) if r.status() == 200 => counts.0.fetch_add(1, Ordering::Relaxed),
                        _ => counts.1.fetch_add(1, Ordering::Relaxed),
                    };
                    lat.lock().unwrap().push(elapsed);
                    if outstanding.fetch_sub(1, Ordering::AcqRel) - 1 == low {
                        submitter.unpark();
                    }
                    if counts.2.fetch_add(1, Ordering::Relaxed) + 1 == requests {
                        let _ = done_tx.send(());
                    }
                })
                .expect("submit");
        }
        submitted_count += top_up;
    }
    done_rx.recv_timeout(Duration::from_secs(600)).expect("all completions");
    let secs = start.elapsed().as_secs_f64();
    let m = client.metrics();
    client.close();
    let mut lat = std::mem::take(&mut *lat.lock().unwrap());
    lat.sort_unstable();
    Run {
        secs,
        ok: counts.0.load(Ordering::Relaxed),
        errors: counts.1.load(Ordering::Relaxed),
        lat,
        attempt: Some((m.attempt_p50_us, m.attempt_p99_us)),
    }
}

fn main() {
    let args = Args::parse();
    let url = args.opt("url").expect("--url http://127.0.0.1:PORT/");
    let url = url.trim_end_matches('/').to_string();
    let requests: usize = args.num("requests", 50_000);
    let threads: Vec<usize> = args.list("threads", "1,4,8,16");
    let reps: usize = args.num("reps", 3);
    let window: usize = args.num("window", 4);
    let impls: Vec<String> = args.list("impls", "raw,rlc");
    let first_rep: usize = args.num("rep-index", 0);
    for rep in first_rep..first_rep + reps {
        for &t in &threads {
            let mut order = impls.clone();
            if rep % 2 == 1 {
                order.reverse();
            }
            for which in &order {
                let load = loadavg();
                let run = match which.as_str() {
                    "raw" => raw(&format!("{url}/"), t, requests, raw_agent(t)),
                    "raw_uncached" => raw(&format!("{url}/"), t, requests, raw_agent_uncached(t)),
                    "rlc" => rlc_run(&url, t, requests, window, false),
                    "rlc_inline" => rlc_run(&url, t, requests, window, true),
                    other => panic!("unknown impl {other}"),
                };
                let rps = run.ok as f64 / run.secs;
                eprintln!(
                    "overhead rep {rep} {which:>3} threads {t:>2}: {rps:>9.0} req/s, p50 {:>6.1} µs, p99 {:>7.1} µs, errors {}",
                    percentile(&run.lat, 0.5) as f64 / 1e3,
                    percentile(&run.lat, 0.99) as f64 / 1e3,
                    run.errors
                );
                let mut fields: Vec<(&str, V)> = vec![
                    ("bench", "overhead".into()),
                    ("impl", which.as_str().into()),
                    ("threads", t.into()),
                    ("rep", rep.into()),
                    ("requests", requests.into()),
                    ("ok", run.ok.into()),
                    ("errors", run.errors.into()),
                    ("secs", run.secs.into()),
                    ("rps", rps.into()),
                    ("p50_us", (percentile(&run.lat, 0.5) as f64 / 1e3).into()),
                    ("p99_us", (percentile(&run.lat, 0.99) as f64 / 1e3).into()),
                    ("loadavg", load.into()),
                ];
                if let Some((p50, p99)) = run.attempt {
                    fields.push(("attempt_p50_us", p50.into()));
                    fields.push(("attempt_p99_us", p99.into()));
                    fields.push(("window", (window * t).into()));
                    fields.push(("window_low", (window * t / 2).into()));
                }
                emit(fields);
            }
        }
    }
}
