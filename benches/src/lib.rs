//! Shared pieces of rlc's benchmark programs: argument parsing, JSON-line output,
//! percentiles, the raw-ureq agent built exactly like rlc's, `/proc/self/statm`, and a
//! tiny HTTP server that timestamps every request it receives (the server-side
//! truth for rate precision, which nginx cannot give).
//!
//! Every program prints one JSON object per measurement on stdout (collected by
//! `benches/run.sh` into `results.jsonl`, then rendered by `benches/report.py`) and
//! its progress on stderr.

pub mod counter;
// rlc's own resolver cache, compiled into the bench too (it is crate-private in rlc),
// so the raw-ureq baseline runs exactly the lookup code rlc runs.
#[path = "../../src/resolver.rs"]
mod resolver;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

/// `--key value` arguments; a bare `--flag` is `"true"`.
pub struct Args {
    map: HashMap<String, String>,
}

impl Args {
    pub fn parse() -> Args {
        let mut map = HashMap::new();
        let mut it = std::env::args().skip(1).peekable();
        while let Some(arg) = it.next() {
            let Some(key) = arg.strip_prefix("--") else {
                eprintln!("ignoring argument {arg:?} (expected --key value)");
                continue;
            };
            if let Some((k, v)) = key.split_once('=') {
                map.insert(k.to_string(), v.to_string());
            } else if it.peek().is_some_and(|n| !n.starts_with("--")) {
                map.insert(key.to_string(), it.next().unwrap_or_default());
            } else {
                map.insert(key.to_string(), "true".to_string());
            }
        }
        Args { map }
    }

    pub fn str(&self, key: &str, default: &str) -> String {
        self.map.get(key).cloned().unwrap_or_else(|| default.to_string())
    }

    pub fn opt(&self, key: &str) -> Option<String> {
        self.map.get(key).cloned()
    }

    pub fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> T {
        match self.map.get(key) {
            Some(v) => v.parse().unwrap_or_else(|_| panic!("--{key}: cannot parse {v:?}")),
            None => default,
        }
    }

    pub fn list<T: std::str::FromStr>(&self, key: &str, default: &str) -> Vec<T> {
        let raw = self.str(key, default);
        raw.split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.trim().parse().unwrap_or_else(|_| panic!("--{key}: cannot parse {s:?}")))
            .collect()
    }

    pub fn flag(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| v != "false" && v != "0")
    }
}

/// A JSON value for the result lines (no serde needed for flat records).
pub enum V {
    S(String),
    I(i64),
    U(u64),
    F(f64),
    B(bool),
}

impl From<&str> for V {
    fn from(s: &str) -> V {
        V::S(s.to_string())
    }
}
impl From<String> for V {
    fn from(s: String) -> V {
        V::S(s)
    }
}
impl From<u64> for V {
    fn from(n: u64) -> V {
        V::U(n)
    }
}
impl From<usize> for V {
    fn from(n: usize) -> V {
        V::U(n as u64)
    }
}
impl From<u32> for V {
    fn from(n: u32) -> V {
        V::U(u64::from(n))
    }
}
impl From<i64> for V {
    fn from(n: i64) -> V {
        V::I(n)
    }
}
impl From<f64> for V {
    fn from(n: f64) -> V {
        V::F(n)
    }
}
impl From<bool> for V {
    fn from(b: bool) -> V {
        V::B(b)
    }
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Prints one flat JSON object on stdout.
pub fn emit(fields: Vec<(&str, V)>) {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(&mut out, k);
        out.push(':');
        match v {
            V::S(s) => json_str(&mut out, &s),
            V::I(n) => {
                let _ = write!(out, "{n}");
            }
            V::U(n) => {
                let _ = write!(out, "{n}");
            }
            V::F(x) if x.is_finite() => {
                let _ = write!(out, "{x}");
            }
            V::F(_) => out.push_str("null"),
            V::B(b) => out.push_str(if b { "true" } else { "false" }),
        }
    }
    out.push('}');
    println!("{out}");
}

/// Percentile `q` (0..=1) of sorted samples, nearest rank.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The median of a few values (the middle one; the lower middle for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        f64::NAN
    } else {
        v[(v.len() - 1) / 2]
    }
}

/// A `ureq::Agent` with exactly the settings rlc's workers use (`src/worker.rs`
/// `build_agent`), so the raw baseline is apples to apples: statuses are not errors,
/// a 30 s global timeout, an idle pool of at least one connection per thread, the same
/// `User-Agent`, and a resolver that caches lookups for 10 s like rlc's
/// (`src/resolver.rs`).
pub fn raw_agent(threads: usize) -> ureq::Agent {
    ureq::Agent::with_parts(
        agent_config(threads, Some(Duration::from_secs(30))),
        ureq::unversioned::transport::DefaultConnector::default(),
        resolver::CachingResolver::default(),
    )
}

/// [`raw_agent`] with ureq's own resolver. ureq 3 resolves the host on every call,
/// before it looks in its pool, and with any timeout set it resolves on a new thread
/// (`resolve_async`), so every request spawns an OS thread, even for `127.0.0.1`:
/// kept to show what rlc's resolver cache saves.
pub fn raw_agent_uncached(threads: usize) -> ureq::Agent {
    agent_config(threads, Some(Duration::from_secs(30))).into()
}

fn agent_config(threads: usize, timeout: Option<Duration>) -> ureq::config::Config {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .timeout_global(timeout)
        .max_idle_connections_per_host(threads.max(3))
        .max_idle_connections(threads.max(3) * 4)
        .user_agent(concat!("rlc/", "0.1.0"))
        .build()
}

/// Resident set size of this process in bytes (`/proc/self/statm`, second field).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(1) as u64
}

/// Bytes the allocator really hands out for a heap string of `len` bytes: its usable
/// size plus the 8-byte chunk header glibc keeps in front of it.
pub fn heap_footprint(len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let s = "x".repeat(len);
    // SAFETY: `s` owns a live allocation made by the global (system) allocator.
    let usable = unsafe { libc::malloc_usable_size(s.as_ptr() as *mut libc::c_void) };
    usable + std::mem::size_of::<usize>()
}

/// Sliding-window statistics of send (arrival) times in nanoseconds, sorted.
pub struct WindowStats {
    /// The largest number of sends in any half-open window `[t, t + window)`.
    pub max_in_window: usize,
    /// How many sends start a window that holds more than `limit`.
    pub windows_over: usize,
    /// The shortest span from a send to the `limit`-th send after it (a strict
    /// limiter keeps this at or above `window`), in nanoseconds.
    pub min_span_ns: Option<u64>,
}

pub fn window_stats(sorted: &[u64], window: u64, limit: usize) -> WindowStats {
    let mut max_in_window = 0;
    let mut windows_over = 0;
    let mut j = 0;
    for i in 0..sorted.len() {
        if j < i {
            j = i;
        }
        while j < sorted.len() && sorted[j] < sorted[i] + window {
            j += 1;
        }
        let n = j - i;
        max_in_window = max_in_window.max(n);
        if n > limit {
            windows_over += 1;
        }
    }
    let min_span_ns = (limit < sorted.len())
        .then(|| (0..sorted.len() - limit).map(|i| sorted[i + limit] - sorted[i]).min())
        .flatten();
    WindowStats { max_in_window, windows_over, min_span_ns }
}

/// The CPU load right now (1-minute load average), to note beside each figure.
pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(f64::NAN)
}

const SEC: u64 = 1_000_000_000;

/// Rate-precision figures for sorted arrival timestamps (ns); see `precision.rs`.
pub struct Precision {
    /// Arrivals in `[t0, t0 + secs)`, t0 being the first arrival.
    pub counted: usize,
    /// Arrivals in `[t0 + 1 s, t0 + secs)` ÷ (rate × (secs − 1 s)): the rate with the
    /// first second (start-up burst, connection set-up) left out. Both edges sit half an
    /// emission interval before a whole second.
    pub steady_ratio: f64,
    /// counted ÷ (rate × secs): with the start-up burst counted in.
    pub incl_ratio: f64,
    /// The slope of a least-squares line through (arrival time, arrival number) over
    /// the arrivals counted in `steady_ratio`, ÷ rate. Unlike a count in a fixed window
    /// it sees a slow drift in clumped traffic (a strict limiter's once-a-window bursts).
    pub fit_ratio: f64,
    /// Most arrivals in any 1-second sliding window.
    pub max_1s: usize,
    /// Arrivals that start a 1-second window holding more than `rate`.
    pub windows_over: usize,
    /// Shortest span from an arrival to the `rate`-th one after it, ms.
    pub min_span_ms: f64,
}

/// Least-squares slope of the arrival number against the arrival time (seconds).
fn slope(times: &[f64]) -> f64 {
    let n = times.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let mean_t = times.iter().sum::<f64>() / n;
    let mean_i = (n - 1.0) / 2.0;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, &t) in times.iter().enumerate() {
        num += (t - mean_t) * (i as f64 - mean_i);
        den += (t - mean_t) * (t - mean_t);
    }
    num / den
}

pub fn analyse(all: &[u64], rate: u64, secs: f64) -> Precision {
    let t0 = all.first().copied().unwrap_or(0);
    let at = |s: f64| t0 + (s * 1e9) as u64;
    let count = |from: u64, to: u64| all.iter().filter(|&&t| t >= from && t < to).count();
    let counted = count(t0, at(secs));
    // Half an emission interval before whole seconds: between two evenly spaced
    // sends, and before a strict limiter's once-a-second clump.
    let h = 0.5 / rate as f64;
    let steady = count(at(1.0 - h), at(secs - h)) as f64 / (rate as f64 * (secs - 1.0));
    let steady_arrivals: Vec<f64> = all
        .iter()
        .filter(|&&t| t >= at(1.0 - h) && t < at(secs - h))
        .map(|&t| (t - t0) as f64 / 1e9)
        .collect();
    let fit = slope(&steady_arrivals) / rate as f64;
    // Sliding windows over everything that arrived (the tail after `secs` too).
    let w = window_stats(all, SEC, rate as usize);
    Precision {
        counted,
        steady_ratio: steady,
        fit_ratio: fit,
        incl_ratio: counted as f64 / (rate as f64 * secs),
        max_1s: w.max_in_window,
        windows_over: w.windows_over,
        min_span_ms: w.min_span_ns.map_or(f64::NAN, |s| s as f64 / 1e6),
    }
}

/// Takes (and clears) the timestamps of a counter server running as its own process.
pub fn take_remote(base: &str) -> Vec<u64> {
    let mut response = ureq::get(&format!("{base}/__take")).call().expect("counter server /__take");
    let text = response.body_mut().with_config().limit(1 << 30).read_to_string().expect("body");
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}
