//! Rate precision, judged at the server: an in-process counter server timestamps the
//! arrival of every request (see `counter.rs`), and rlc is asked to send at `rate`/s
//! for `secs` seconds with enough requests queued that demand never stops.
//!
//! Cases per rate: `burst1` (burst 1), `burst` (default burst = max_requests) and
//! `strict` (default burst, `strict_window(true)`).
//!
//! Figures, over the arrivals in `[t0, t0 + secs)` where t0 is the first arrival:
//! - `steady_ratio`: arrivals in `[t0 + 1 s, t0 + secs)` ÷ (rate × (secs − 1)) — the
//!   rate with the first second (start-up burst, connection set-up) left out; both
//!   edges are moved half an emission interval earlier, so they fall between evenly
//!   spaced sends and before a strict limiter's once-a-second clump;
//! - `incl_ratio`: arrivals ÷ (rate × secs) — with the burst counted in;
//! - `fit_ratio`: the slope of a least-squares line through (arrival time, arrival
//!   number) over the same arrivals as `steady_ratio`, ÷ rate: sees a slow drift in
//!   clumped traffic (a strict limiter's once-a-window bursts) that counts cannot;
//! - `max_1s`: the most arrivals in any 1-second sliding window `[t, t + 1 s)`, and
//!   `windows_over`: how many arrivals start a window holding more than `rate`;
//! - `min_span_ms`: the shortest time from an arrival to the `rate`-th after it
//!   (a strict limiter keeps this ≥ 1000 ms).
//!
//! Usage: rlc-bench-precision [--secs 10] [--rates 200,2000] [--cases burst1,burst,strict]
//!        [--workers 16] [--label NAME (replaces the case name in the output)]
//!        [--impl NAME (default rlc)] [--dump DIR]
//!        rlc-bench-precision --analyse IMPL --counter URL --rates R --secs S [--burst 1]
//!        [--case burst1] [--concurrency C]   (judges what another program sent)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rlc::{Client, Config, Request};
use rlc_bench::counter::Counter;
use rlc_bench::{analyse, emit, loadavg, take_remote, Args, Precision};

fn main() {
    let args = Args::parse();
    let secs: f64 = args.num("secs", 10.0);
    let rates: Vec<u64> = args.list("rates", "200,2000");
    let cases: Vec<String> = args.list("cases", "burst1,burst,strict");
    let workers: u32 = args.num("workers", 16);
    // The counter server: a separate process when --counter is given (as run.sh does,
    // so every implementation is judged by the same server), else in this process.
    let remote = args.opt("counter").map(|u| u.trim_end_matches('/').to_string());
    let local =
        if remote.is_none() { Some(Counter::start(0).expect("counter server")) } else { None };
    let base = remote.clone().unwrap_or_else(|| local.as_ref().unwrap().url());
    let take = || match &local {
        Some(c) => c.take(),
        None => take_remote(&base),
    };
    if let Some(kind) = args.opt("analyse") {
        // Judge traffic another program sent: rlc-bench-precision --analyse IMPL
        // --counter URL --rates R --burst B --secs S --case CASE
        let rate = rates[0];
        let burst: u64 = args.num("burst", 1);
        let stamps = take();
        report(
            &kind,
            &args.str("case", "burst1"),
            rate,
            burst,
            secs,
            &stamps,
            0,
            args.num("concurrency", 0u64),
            loadavg(),
        );
        return;
    }
    for &rate in &rates {
        for case in &cases {
            let burst = if case == "burst1" { 1 } else { rate };
            let mut config = Config::new();
            config
                .base_url(&base)
                .and_then(|c| c.workers(workers))
                .and_then(|c| c.rate_limit(rate as u32, Duration::from_secs(1)))
                .and_then(|c| c.burst(burst as u32))
                .and_then(|c| c.strict_window(case == "strict"))
                .expect("config");
            // Enough for the burst, `secs` of refill, and 0.3 s (at least 20) to spare.
            let total = (burst + (rate as f64 * secs) as u64 + ((rate as f64 * 0.3) as u64).max(20))
                as usize;
            config.max_queue_size(total + 16).expect("queue size");
            let client = Client::new(config).expect("client");
            let _ = take();
            let load = loadavg();
            let done = Arc::new(AtomicUsize::new(0));
            let errors = Arc::new(AtomicUsize::new(0));
            let started = Instant::now();
            for _ in 0..total {
                let (done, errors) = (done.clone(), errors.clone());
                client
                    .submit(Request::new("GET", "/p").unwrap(), 0, move |_, r| {
                        if !matches!(r, Ok(ref r) if r.status() == 200) {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    })
                    .expect("submit");
            }
            let patience = Duration::from_secs_f64(secs * 3.0 + 30.0);
            while done.load(Ordering::Relaxed) < total && started.elapsed() < patience {
                std::thread::sleep(Duration::from_millis(20));
            }
            client.close();
            let stamps = take();
            let errors = errors.load(Ordering::Relaxed);
            if let Some(dir) = args.opt("dump") {
                // One arrival time (ns, relative to the first) per line, for a closer look.
                let t0 = stamps.first().copied().unwrap_or(0);
                let text: String = stamps.iter().map(|t| format!("{}\n", t - t0)).collect();
                let _ = std::fs::write(format!("{dir}/arrivals-{case}-{rate}.txt"), text);
            }
            let label = args.opt("label").unwrap_or_else(|| case.clone());
            let name = args.str("impl", "rlc");
            report(&name, &label, rate, burst, secs, &stamps, errors, u64::from(workers), load);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    which: &str,
    case: &str,
    rate: u64,
    burst: u64,
    secs: f64,
    stamps: &[u64],
    errors: usize,
    concurrency: u64,
    load: f64,
) {
    let p: Precision = analyse(stamps, rate, secs);
    eprintln!(
        "precision {which:>14} {case:>6} {rate:>5}/s: {} in {secs}s, steady {:.5}, incl. burst {:.5}, fit {:.5}, max in 1 s {} ({} windows over), min span of {rate} {:.3} ms",
        p.counted, p.steady_ratio, p.incl_ratio, p.fit_ratio, p.max_1s, p.windows_over, p.min_span_ms
    );
    emit(vec![
        ("bench", "precision".into()),
        ("impl", which.into()),
        ("case", case.into()),
        ("rate", rate.into()),
        ("burst", burst.into()),
        ("secs", secs.into()),
        ("sent", stamps.len().into()),
        ("errors", errors.into()),
        ("counted", p.counted.into()),
        ("steady_ratio", p.steady_ratio.into()),
        ("incl_ratio", p.incl_ratio.into()),
        ("fit_ratio", p.fit_ratio.into()),
        ("max_1s", p.max_1s.into()),
        ("windows_over", p.windows_over.into()),
        ("min_span_ms", p.min_span_ms.into()),
        ("concurrency", concurrency.into()),
        ("loadavg", load.into()),
    ]);
}
