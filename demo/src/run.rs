//! The run: two mock APIs on 127.0.0.1 (a healthy one with a rolling-window rate
//! limit, and one that is down), one rlc client per upstream, about 500 requests.

use std::error::Error;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mock_api::{MockApi, MockOptions, Stats};
use rlc::{
    BreakerConfig, BreakerState, Client, Config, ErrorKind, Event, MetricsSnapshot, Request,
    RetryPolicy,
};

/// The healthy API's limit, enforced by the mock over a rolling window: at most
/// `LIMIT` requests in any `WINDOW`.
pub const LIMIT: u32 = 40;
/// See [`LIMIT`].
pub const WINDOW: Duration = Duration::from_secs(1);

/// A kind of work: its name (also sent as the `x-tag` header), its priority in the
/// queue (higher goes first) and how many requests of it the run sends.
pub struct Class {
    pub name: &'static str,
    pub priority: i32,
    pub count: usize,
}

/// The healthy API's work, in submission order: bulk first and urgent last, so the
/// priority queue visibly reorders it.
pub const CLASSES: [Class; 3] = [
    Class { name: "bulk", priority: 1, count: 200 },
    Class { name: "normal", priority: 10, count: 150 },
    Class { name: "urgent", priority: 100, count: 90 },
];

/// The down service's share, on its own client. It arrives over time (one request
/// every `DOWN_EVERY`), like calls to a dependency during a day's work, so the
/// breaker gets the chance to open, probe and open again.
pub const DOWN: Class = Class { name: "down-svc", priority: 10, count: 60 };
const DOWN_EVERY: Duration = Duration::from_millis(210);

/// Rows of the results: the three classes, then the down service.
pub const ROWS: usize = 4;
/// The row of the down service.
pub const DOWN_ROW: usize = 3;

/// The row's class.
pub fn class(row: usize) -> &'static Class {
    if row == DOWN_ROW {
        &DOWN
    } else {
        &CLASSES[row]
    }
}

/// Both clients: 3 retries from 100 ms (full jitter) up to 2 s; the breaker opens
/// after 10 consecutive failed attempts and probes again after 2 s.
const RETRY: RetryPolicy = RetryPolicy {
    max_retries: 3,
    base_delay: Duration::from_millis(100),
    max_delay: Duration::from_secs(2),
};
/// See [`RETRY`].
pub const BREAKER: BreakerConfig =
    BreakerConfig { failure_threshold: 10, recovery_timeout: Duration::from_secs(2) };

/// How one request ended.
pub struct Outcome {
    pub row: usize,
    /// Submit to callback, as the demo measured it (zero when refused at submit).
    pub took: Duration,
    /// Attempts that reached the network.
    pub attempts: u32,
    /// The HTTP status, or why there was none.
    pub result: Result<u16, ErrorKind>,
    /// Refused by `submit` itself (the breaker was open): no callback, no network.
    pub at_submit: bool,
}

impl Outcome {
    /// True for a 1xx-3xx answer.
    pub fn ok(&self) -> bool {
        matches!(self.result, Ok(s) if s < 400)
    }
}

/// Everything the report and the picture are made from. Times are on one clock: the
/// healthy mock's, which started with the run.
pub struct RunData {
    pub outcomes: Vec<Outcome>,
    /// The healthy API's own record: every arrival, 429s, the busiest window.
    pub api: Stats,
    /// The down service's record.
    pub down_api: Stats,
    /// When the down service's clock started, on the healthy mock's clock.
    pub down_offset: Duration,
    /// The down client's breaker states, each as its event reported it.
    pub breaker_log: Vec<(Duration, BreakerState)>,
    pub api_metrics: MetricsSnapshot,
    pub down_metrics: MetricsSnapshot,
    /// When the last request finished.
    pub busy_until: Duration,
}

/// Collects outcomes from the callbacks and counts them for the progress display.
#[derive(Default)]
struct Recorder {
    outcomes: Mutex<Vec<Outcome>>,
    done: [AtomicU64; ROWS],
    failed: [AtomicU64; ROWS],
}

impl Recorder {
    fn record(&self, outcome: Outcome) {
        let row = outcome.row;
        if !outcome.ok() {
            self.failed[row].fetch_add(1, Relaxed);
        }
        self.outcomes.lock().unwrap().push(outcome);
        self.done[row].fetch_add(1, Relaxed);
    }

    fn all_done(&self) -> bool {
        (0..ROWS).all(|row| self.done[row].load(Relaxed) == class(row).count as u64)
    }
}

/// Submits one request and records its outcome, whatever it is.
fn submit(client: &Client, rec: &Arc<Recorder>, row: usize, path: &str) -> rlc::Result<()> {
    let class = class(row);
    let mut request = Request::new("GET", path)?;
    request.header("x-tag", class.name)?;
    let start = Instant::now();
    let r = rec.clone();
    let submitted = client.submit(request, class.priority, move |_id, result| {
        let (attempts, result) = match result {
            Ok(response) => (response.attempts(), Ok(response.status())),
            Err(e) => (e.attempts(), Err(e.kind())),
        };
        r.record(Outcome { row, took: start.elapsed(), attempts, result, at_submit: false });
    });
    if let Err(e) = submitted {
        // Refused at once (the breaker is open): the callback will never come.
        let result = Err(e.kind());
        rec.record(Outcome { row, took: Duration::ZERO, attempts: 0, result, at_submit: true });
    }
    Ok(())
}

/// The healthy API's mix: 60% `/ok`, 30% `/slow/20..80`, 10% `/flaky` (one or two
/// 503s before it answers, so it is retried).
fn healthy_path(class: &str, i: usize) -> String {
    match i % 10 {
        0..=5 => "/ok".to_string(),
        6..=8 => format!("/slow/{}", 20 + (i * 37) % 61),
        _ => format!("/flaky/{class}-{i}/{}", 1 + (i / 10) % 2),
    }
}

fn healthy_config(url: &str) -> rlc::Result<Config> {
    let mut config = Config::new();
    config
        .base_url(url)?
        .rate_limit(LIMIT, WINDOW)?
        // The mock counts a rolling window. A plain token bucket may send its burst
        // and then the refill inside one window (up to 2x the limit): strict mode
        // keeps every sliding window at or under the limit.
        .strict_window(true)?
        .retry(RETRY)?
        .circuit_breaker(BREAKER)?
        .workers(8)?
        .timeout(Duration::from_secs(5))?;
    Ok(config)
}

fn down_config(url: &str) -> rlc::Result<Config> {
    let mut config = Config::new();
    config
        .base_url(url)?
        .retry(RETRY)?
        .circuit_breaker(BREAKER)?
        .workers(2)?
        .timeout(Duration::from_secs(5))?;
    Ok(config)
}

/// Runs the whole thing; returns once every request has completed.
pub fn run() -> Result<RunData, Box<dyn Error>> {
    let t0 = Instant::now();
    let api = MockApi::try_start(MockOptions { port: 0, rate_limit: Some((LIMIT, WINDOW)) })?;
    let down_offset = t0.elapsed();
    let down_api = MockApi::try_start(MockOptions::default())?;
    // One client per upstream: each has its own breaker (and limiter), so the dead
    // service trips only its own breaker and the healthy API's work keeps flowing.
    let client = Client::new(healthy_config(&api.url())?)?;
    // The breaker's state changes, for the report and the picture, from its events.
    let breaker_log = Arc::new(Mutex::new(vec![(t0.elapsed(), BreakerState::Closed)]));
    let mut down_cfg = down_config(&down_api.url())?;
    let log = breaker_log.clone();
    down_cfg.on_event(move |e| {
        if let Event::Breaker { to, .. } = e {
            log.lock().unwrap().push((t0.elapsed(), *to));
        }
    });
    let down = Client::new(down_cfg)?;
    let rec = Arc::new(Recorder::default());

    println!(
        "rlc demo: {} requests to a mock API that allows {LIMIT} in any rolling {} ms window,",
        CLASSES.iter().map(|c| c.count).sum::<usize>(),
        WINDOW.as_millis()
    );
    println!(
        "          and {} more to a service that is down, through a client of its own.",
        DOWN.count
    );
    println!(
        "          Client: rate_limit({LIMIT}, {} ms) + strict_window(true) (the server counts a rolling window), \
         {} retries, breaker after {} failures.",
        WINDOW.as_millis(),
        RETRY.max_retries,
        BREAKER.failure_threshold
    );
    println!();

    thread::scope(|s| -> Result<(), Box<dyn Error>> {
        // The down service's calls come one at a time over the run.
        let feeder = s.spawn(|| -> rlc::Result<()> {
            for _ in 0..DOWN.count {
                submit(&down, &rec, DOWN_ROW, "/down")?;
                thread::sleep(DOWN_EVERY);
            }
            Ok(())
        });
        // The healthy API's work is all submitted up front.
        let submitted = CLASSES.iter().enumerate().try_for_each(|(row, class)| {
            (0..class.count)
                .try_for_each(|i| submit(&client, &rec, row, &healthy_path(class.name, i)))
        });
        if submitted.is_ok() {
            show_progress(&rec, &client, &breaker_log, t0);
        }
        feeder.join().expect("feeder thread")?;
        submitted?;
        Ok(())
    })?;
    let busy_until = t0.elapsed();

    let api_metrics = client.metrics();
    let down_metrics = down.metrics();
    drop(client);
    drop(down);
    let breaker_log = std::mem::take(&mut *breaker_log.lock().unwrap());
    let outcomes = std::mem::take(&mut *rec.outcomes.lock().unwrap());
    Ok(RunData {
        outcomes,
        api: api.stats(),
        down_api: down_api.stats(),
        down_offset,
        breaker_log,
        api_metrics,
        down_metrics,
        busy_until,
    })
}

fn state_name(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::Open => "OPEN",
        BreakerState::HalfOpen => "half-open",
    }
}

/// The down client's breaker states as its events report them, with their time.
type BreakerLog = Mutex<Vec<(Duration, BreakerState)>>;

/// A bar per row on a terminal; a plain line a second otherwise. Returns when every
/// request has completed. The down service's breaker state is the last one its
/// events reported.
fn show_progress(rec: &Recorder, client: &Client, breaker_log: &BreakerLog, t0: Instant) {
    let tty = std::io::stdout().is_terminal();
    let multi = MultiProgress::with_draw_target(if tty {
        ProgressDrawTarget::stdout()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style =
        ProgressStyle::with_template("{prefix:>13} [{bar:40.cyan/blue}] {pos:>3}/{len:3}  {msg}")
            .expect("valid template")
            .progress_chars("=> ");
    // Urgent on top, bulk below it, the down service last.
    let bar_row = |i: usize| {
        if i < CLASSES.len() {
            CLASSES.len() - 1 - i
        } else {
            i
        }
    };
    let bars: Vec<ProgressBar> = (0..ROWS)
        .map(|i| {
            let c = class(bar_row(i));
            let bar = multi.add(ProgressBar::new(c.count as u64));
            bar.set_style(style.clone());
            bar.set_prefix(format!("{} ({})", c.name, c.priority));
            bar
        })
        .collect();
    let mut next_line = Duration::ZERO;
    loop {
        let finished = rec.all_done();
        let m = client.metrics();
        let breaker =
            breaker_log.lock().unwrap().last().map_or(BreakerState::Closed, |&(_, st)| st);
        for (i, bar) in bars.iter().enumerate() {
            let row = bar_row(i);
            bar.set_position(rec.done[row].load(Relaxed));
            let failed = rec.failed[row].load(Relaxed);
            bar.set_message(if row == DOWN_ROW {
                format!("{failed} failed, breaker {}", state_name(breaker))
            } else {
                format!("{failed} failed")
            });
        }
        let now = t0.elapsed();
        if !tty && (now >= next_line || finished) {
            next_line += Duration::from_secs(1);
            let counts: Vec<String> = (0..ROWS)
                .map(|i| {
                    let row = bar_row(i);
                    format!(
                        "{} {}/{}",
                        class(row).name,
                        rec.done[row].load(Relaxed),
                        class(row).count
                    )
                })
                .collect();
            println!(
                "{:5.1}s  {}  | queued {}, server-asked pause {} ms | down-svc breaker {}",
                now.as_secs_f64(),
                counts.join("  "),
                m.queue_depth,
                m.paused_ms,
                state_name(breaker)
            );
        }
        if finished {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    for bar in &bars {
        bar.finish();
    }
    if tty {
        println!();
    }
}
