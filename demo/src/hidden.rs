//! The third service: an API whose limit nobody published. It takes `HIDDEN`
//! requests per rolling second and answers a bare 429 past it (no `Retry-After`, no
//! quota headers: nothing to pace from). Two clients, each configured at `CEILING`
//! (twice the real limit) and each with a mock of its own, send it the same work:
//! one at a fixed rate, one adaptive (`Config::adaptive`), which cuts its rate on
//! every throttle and climbs back in quiet seconds. Runs beside the main demo, on
//! threads of its own, and reports after it.

use std::error::Error;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mock_api::{MockApi, MockOptions};
use rlc::{Client, Config, Request};

/// The service's real limit per rolling second, which neither client is told.
pub const HIDDEN: u32 = 20;
/// The rate both clients are configured with: the service's limit as somebody guessed it.
pub const CEILING: u32 = 40;
/// Requests each client sends, all queued at once.
pub const COUNT: usize = 200;
/// How often the adaptive client's rate in force is sampled for the report.
const SAMPLE: Duration = Duration::from_millis(500);

/// How one client fared.
pub struct Trial {
    /// Requests the service received (first attempts and retries).
    pub received: u64,
    /// Of them, refused with 429.
    pub throttled: u64,
    /// Requests that ended with a 2xx after their retries.
    pub succeeded: usize,
    /// From the first submit to the last completion.
    pub took: Duration,
    /// The rate in force (requests per second), every `SAMPLE`.
    pub rates: Vec<u32>,
}

/// Both clients' results.
pub struct HiddenData {
    pub fixed: Trial,
    pub adaptive: Trial,
}

type BoxError = Box<dyn Error + Send + Sync>;

/// Sends `COUNT` requests through a client at `CEILING` per second, adaptive or not.
fn trial(adaptive: bool) -> Result<Trial, BoxError> {
    let api = MockApi::try_start(MockOptions::default())?;
    let mut config = Config::new();
    config.base_url(&api.url())?.rate_limit(CEILING, Duration::from_secs(1))?.burst(1)?;
    config.workers(4)?.adaptive(adaptive);
    let client = Client::new(config)?;
    let path = format!("/hidden-limit/{HIDDEN}");
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    for _ in 0..COUNT {
        let tx = tx.clone();
        client.submit(Request::new("GET", &path)?, 0, move |_id, result| {
            let _ = tx.send(result.is_ok_and(|r| r.status() < 300));
        })?;
    }
    drop(tx);
    let (mut done, mut succeeded) = (0, 0);
    let mut rates = vec![client.metrics().rate_limit];
    let mut next_sample = SAMPLE;
    while done < COUNT {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(ok) => {
                done += 1;
                succeeded += usize::from(ok);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if start.elapsed() >= next_sample {
            rates.push(client.metrics().rate_limit);
            next_sample += SAMPLE;
        }
    }
    let took = start.elapsed();
    drop(client);
    let stats = api.stats();
    let throttled = stats.arrivals.iter().filter(|a| a.status == 429).count() as u64;
    Ok(Trial { received: stats.received, throttled, succeeded, took, rates })
}

/// Runs both clients at once.
pub fn run() -> Result<HiddenData, BoxError> {
    let fixed = thread::spawn(|| trial(false));
    let adaptive = trial(true)?;
    let fixed = fixed.join().map_err(|_| "the fixed-rate trial panicked")??;
    Ok(HiddenData { fixed, adaptive })
}

/// Prints the comparison.
pub fn print(data: &HiddenData) {
    println!();
    println!(
        "A third service takes {HIDDEN} requests per rolling second and publishes no limit (a bare 429 past it)."
    );
    println!(
        "Two clients configured at {CEILING}/s (3 retries) each send it {COUNT} requests, on mocks of their own:"
    );
    println!("                          429s at the service       succeeded   done in   rate in force at the end");
    for (name, t) in [("fixed rate_limit(40/s)", &data.fixed), ("adaptive(true)", &data.adaptive)] {
        println!(
            "  {name:<22}  {:>4} of {:<4} ({:>4.1} %)   {:>4}/{COUNT}   {:>5.1} s   {}/s",
            t.throttled,
            t.received,
            100.0 * t.throttled as f64 / t.received.max(1) as f64,
            t.succeeded,
            t.took.as_secs_f64(),
            t.rates.last().copied().unwrap_or(0),
        );
    }
    let trace: Vec<String> = data.adaptive.rates.iter().map(u32::to_string).collect();
    println!("  the adaptive client's rate, every {} ms: {}", SAMPLE.as_millis(), trace.join(" "));
}
