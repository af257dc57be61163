//! The table at the end, and the verdict: was the API's limit ever broken?

use std::path::Path;
use std::time::Duration;

use rlc::BreakerState;

use crate::run::{class, Outcome, RunData, BREAKER, CLASSES, DOWN_ROW, LIMIT, WINDOW};

/// The p-th percentile (nearest rank) of `sorted`.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

/// Sends per second at the server, from its first arrival to its last.
pub fn achieved_rate(arrivals: &[Duration]) -> (f64, Duration) {
    match (arrivals.first(), arrivals.last()) {
        (Some(&a), Some(&b)) if b > a => {
            ((arrivals.len() - 1) as f64 / (b - a).as_secs_f64(), b - a)
        }
        _ => (0.0, Duration::ZERO),
    }
}

fn state_name(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::Open => "open",
        BreakerState::HalfOpen => "half-open",
    }
}

/// Prints the table; returns true when the API's limit held (no 429 from its rate
/// limiter, no rolling window over the limit).
pub fn print(data: &RunData, svg: &Path, wall: Duration) -> bool {
    println!();
    println!(
        "{:<22} {:>5} {:>5} {:>7} {:>8} {:>8} {:>8}",
        "work (priority)", "count", "ok", "failed", "retries", "p50 ms", "p99 ms"
    );
    let rows = (0..CLASSES.len()).rev().chain([DOWN_ROW]);
    for row in rows {
        let mine: Vec<&Outcome> = data.outcomes.iter().filter(|o| o.row == row).collect();
        let mut took: Vec<Duration> = mine.iter().map(|o| o.took).collect();
        took.sort();
        let ok = mine.iter().filter(|o| o.ok()).count();
        let retries: u32 = mine.iter().map(|o| o.attempts.saturating_sub(1)).sum();
        let label = if row == DOWN_ROW {
            format!("{} (own client)", class(row).name)
        } else {
            format!("{} ({})", class(row).name, class(row).priority)
        };
        println!(
            "{:<22} {:>5} {:>5} {:>7} {:>8} {:>8} {:>8}",
            label,
            mine.len(),
            ok,
            mine.len() - ok,
            retries,
            ms(percentile(&took, 50.0)),
            ms(percentile(&took, 99.0)),
        );
    }
    println!("  (p50/p99: submit to callback, as the demo measured it; all healthy-API work was submitted at once, bulk first)");
    let down: Vec<&Outcome> = data.outcomes.iter().filter(|o| o.row == DOWN_ROW).collect();
    let fast = |o: &&&Outcome| o.result == Err(rlc::ErrorKind::CircuitOpen);
    println!(
        "  (down-svc: {} answered 503 after their retries, {} failed fast on the open breaker ({} of them at submit), no network call)",
        down.iter().filter(|o| o.result == Ok(503)).count(),
        down.iter().filter(fast).count(),
        down.iter().filter(fast).filter(|o| o.at_submit).count(),
    );

    let api = &data.api;
    let times: Vec<Duration> = api.arrivals.iter().map(|a| a.at).collect();
    let (rate, span) = achieved_rate(&times);
    let configured = f64::from(LIMIT) / WINDOW.as_secs_f64();
    let got_429 = data.outcomes.iter().filter(|o| o.row != DOWN_ROW && o.result == Ok(429)).count();
    println!();
    println!(
        "Healthy API ({LIMIT} requests per rolling {} ms, counted by the server):",
        WINDOW.as_millis()
    );
    println!(
        "  429s from its rate limiter    {:<8} (must be 0; callbacks saw {got_429})",
        api.rejected_429
    );
    println!("  busiest rolling window        {:<8} (limit {LIMIT})", api.max_in_window);
    println!(
        "  achieved rate                 {:<8} (configured {configured:.1}/s; {} sends over the busy {:.1} s)",
        format!("{rate:.1}/s"),
        times.len(),
        span.as_secs_f64()
    );
    println!(
        "  server-asked pauses honoured  {:<8} (the server's `RateLimit: remaining=0` header)",
        data.api_metrics.server_pauses
    );
    println!(
        "  its client's breaker          {:<8} ({} transitions)",
        state_name(data.api_metrics.breaker_state),
        data.api_metrics.breaker_transitions
    );

    println!();
    println!(
        "Down service (own client; breaker opens after {} failures, probes after {} s):",
        BREAKER.failure_threshold,
        BREAKER.recovery_timeout.as_secs()
    );
    println!(
        "  attempts that reached it      {:<8} (of {} requests)",
        data.down_api.received,
        down.len()
    );
    println!(
        "  breaker transitions           {:<8} (each below as its event reported it)",
        data.down_metrics.breaker_transitions
    );
    let changes: Vec<String> = data
        .breaker_log
        .iter()
        .skip(1)
        .map(|(t, st)| format!("{:.1}s {}", t.as_secs_f64(), state_name(*st)))
        .collect();
    for chunk in changes.chunks(6) {
        println!("      {}", chunk.join(", "));
    }

    println!();
    println!("Wall time                       {:.1} s", wall.as_secs_f64());
    println!("Timeline                        {}", svg.display());

    let held = api.rejected_429 == 0 && got_429 == 0 && api.max_in_window <= u64::from(LIMIT);
    println!();
    if held {
        println!("OK: the API's limit was never broken.");
    } else {
        println!("FAILED: the API's rate limit was broken (429s or a window over {LIMIT}).");
    }
    held
}
