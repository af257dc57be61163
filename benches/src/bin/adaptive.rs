//! Adaptive limiting against a server whose limit steps and is never published:
//! the mock API's `/hidden-limit/{n}` takes `n` per rolling second and answers a bare
//! 429 past it. The limit goes R, R/2, R in three phases. Side by side: an adaptive
//! client configured at R, and a fixed-rate client at R. Reported per phase: the
//! share of the hidden limit reached (accepted ÷ limit × time), the 429 share, and
//! for the adaptive client the time from each step to its first second at 90 % of
//! the new limit without a 429.
//!
//! `rlc-bench-adaptive [R] [phase seconds]` (defaults 40 and 10); one JSON line per
//! client on stdout.

use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;
use mock_api::{MockApi, MockOptions};
use rlc::{Client, Config, RetryPolicy};

struct Outcome {
    /// Seconds since the start, and whether it was accepted.
    answers: Vec<(f64, bool)>,
}

fn run(url: &str, rate: u32, phase: Duration, adaptive: bool) -> Outcome {
    let mut cfg = Config::new();
    cfg.base_url(url).unwrap();
    cfg.rate_limit(rate, Duration::from_secs(1)).unwrap().burst(1).unwrap();
    cfg.retry(RetryPolicy { max_retries: 0, ..RetryPolicy::default() }).unwrap();
    cfg.adaptive(adaptive).workers(8).unwrap();
    let client = Client::new(cfg).unwrap();
    let (tx, rx) = unbounded();
    let start = Instant::now();
    let limits = [rate, rate / 2, rate];
    let mut pending = 0usize;
    let mut answers = Vec::new();
    while start.elapsed() < phase * 3 {
        // Keep a few requests queued, so the client's own limit is what paces.
        while pending < 16 {
            let which = (start.elapsed().as_nanos() / phase.as_nanos()).min(2) as usize;
            let tx = tx.clone();
            let req =
                rlc::Request::new("GET", &format!("/hidden-limit/{}", limits[which])).unwrap();
            client
                .submit(req, 0, move |_, r| {
                    let ok = r.is_ok_and(|r| r.status() == 200);
                    let _ = tx.send((Instant::now(), ok));
                })
                .unwrap();
            pending += 1;
        }
        if let Ok((at, ok)) = rx.recv_timeout(Duration::from_millis(50)) {
            pending -= 1;
            answers.push(((at - start).as_secs_f64(), ok));
        }
    }
    client.close();
    while let Ok((at, ok)) = rx.try_recv() {
        if (at - start) < phase * 3 {
            answers.push(((at - start).as_secs_f64(), ok));
        }
    }
    Outcome { answers }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rate: u32 = args.next().map_or(40, |a| a.parse().expect("R"));
    let phase = Duration::from_secs(args.next().map_or(10, |a| a.parse().expect("seconds")));
    let server = MockApi::start(MockOptions::default());
    let limits = [rate, rate / 2, rate];
    for adaptive in [true, false] {
        server.reset_stats();
        let outcome = run(&server.url(), rate, phase, adaptive);
        let p = phase.as_secs_f64();
        let mut phases = Vec::new();
        for (i, limit) in limits.iter().enumerate() {
            let in_phase: Vec<&(f64, bool)> = outcome
                .answers
                .iter()
                .filter(|(t, _)| *t >= i as f64 * p && *t < (i + 1) as f64 * p)
                .collect();
            let accepted = in_phase.iter().filter(|(_, ok)| *ok).count() as f64;
            let throttled = in_phase.len() as f64 - accepted;
            // Re-convergence: the first whole second after the step with at least 90 %
            // of the limit accepted and no 429.
            let reconverged = (0..p as usize).find(|s| {
                let from = i as f64 * p + *s as f64;
                let second: Vec<_> =
                    in_phase.iter().filter(|(t, _)| *t >= from && *t < from + 1.0).collect();
                let ok = second.iter().filter(|(_, ok)| *ok).count() as f64;
                ok >= 0.9 * f64::from(*limit) && second.iter().all(|(_, ok)| *ok)
            });
            phases.push(format!(
                "{{\"limit\":{limit},\"reached\":{:.3},\"throttled_share\":{:.4},\"reconverged_s\":{}}}",
                accepted / (f64::from(*limit) * p),
                if in_phase.is_empty() { 0.0 } else { throttled / in_phase.len() as f64 },
                reconverged.map_or("null".to_string(), |s| s.to_string()),
            ));
        }
        let total = outcome.answers.len() as f64;
        let throttled = outcome.answers.iter().filter(|(_, ok)| !ok).count() as f64;
        let accepted = total - throttled;
        let offered: f64 = limits.iter().map(|l| f64::from(*l) * p).sum();
        println!(
            "{{\"bench\":\"adaptive\",\"client\":\"{}\",\"configured\":{rate},\"reached\":{:.3},\"throttled_share\":{:.4},\"phases\":[{}]}}",
            if adaptive { "adaptive" } else { "fixed" },
            accepted / offered,
            throttled / total.max(1.0),
            phases.join(",")
        );
    }
}
