//! The persistent queue's cost:
//! 1. `submit`: submits per second with a journal (each returns once its request is
//!    on disk: SQLite WAL, synchronous=FULL, commits grouped across threads) and
//!    without one, from 1 and from 8 threads, into a client held back by a rate of 1
//!    per hour (so nothing drains the queue). Also how many requests each commit
//!    (one fsync) carried.
//! 2. `recovery`: the time for a new client to open a journal that holds `--recover`
//!    queued requests (open, lock, check, read) and queue them all (`recover`).
//!
//! The journal lives in `--dir` (default: the system's temp dir), which must be on a
//! real disk for the figures to mean anything (a tmpfs fsync costs nothing).
//!
//! Usage: rlc-bench-journal --url http://127.0.0.1:PORT [--submit 20000 (at most 2,000
//!        per thread with the journal)]
//!        [--threads 1,8] [--recover 100000] [--dir /tmp] [--only submit,recovery]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rlc::{Client, Config, Request};
use rlc_bench::{emit, loadavg, Args, V};

const PATH: &str = "/v1/items/123456";

fn held_config(url: &str, queue: usize, journal: Option<&Path>) -> Config {
    let mut config = Config::new();
    config
        .base_url(url)
        .and_then(|c| c.rate_limit(1, Duration::from_secs(3600)))
        .and_then(|c| c.burst(1))
        .and_then(|c| c.workers(1))
        .and_then(|c| c.max_queue_size(queue + 16))
        .expect("config");
    if let Some(path) = journal {
        config.journal(path).expect("journal");
    }
    config
}

fn fresh(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("rlc-bench-journal-{}-{name}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Submits `n` tagged POSTs from `threads` threads; returns the seconds it took.
fn submit_all(client: &Arc<Client>, n: usize, threads: usize) -> f64 {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for i in (t..n).step_by(threads) {
                    let mut r = Request::new("POST", PATH).unwrap();
                    r.body(b"{\"n\":1}");
                    client.submit_tagged(r, &format!("job-{i}"), 0, |_, _| {}).expect("submit");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed().as_secs_f64()
}

fn submit_rate(url: &str, dir: &Path, n: usize, threads: &[usize]) {
    for &t in threads {
        for journaled in [true, false] {
            // One thread waits for one fsync per submit: at most 2,000 per thread keeps
            // the run short. Without a journal a submit is ~1 µs: more of them.
            let n = if journaled { n.min(2_000 * t) } else { n * 10 };
            let path = fresh(dir, &format!("submit-{t}"));
            let client = Arc::new(
                Client::new(held_config(url, n, journaled.then_some(path.as_path()))).unwrap(),
            );
            let secs = submit_all(&client, n, t);
            let commits = client.journal_stats().map_or(0, |s| s.commits);
            let per_commit = if commits > 0 { n as f64 / commits as f64 } else { 0.0 };
            eprintln!(
                "journal submit, {t} thread(s), journal {}: {:.0}/s ({n} in {secs:.3} s; {commits} \
                 commits, {per_commit:.1} requests each)",
                if journaled { "on" } else { "off" },
                n as f64 / secs
            );
            emit(vec![
                ("bench", V::S("journal_submit".into())),
                ("threads", V::U(t as u64)),
                ("journal", V::B(journaled)),
                ("requests", V::U(n as u64)),
                ("secs", V::F(secs)),
                ("per_sec", V::F(n as f64 / secs)),
                ("commits", V::U(commits)),
                ("per_commit", V::F(per_commit)),
                ("loadavg", V::F(loadavg())),
            ]);
            drop(client);
            remove(&path);
        }
    }
}

fn recovery(url: &str, dir: &Path, n: usize) {
    let path = fresh(dir, "recovery");
    // Fill the journal: a held client, closed with everything still queued (a request
    // that ends in Shutdown stays in the journal).
    let filling = Instant::now();
    let client = Arc::new(Client::new(held_config(url, n, Some(&path))).unwrap());
    // Many submitters, so that the commits carry many requests each.
    submit_all(&client, n, 64);
    drop(client);
    eprintln!("journal recovery: {n} requests written in {:.2} s", filling.elapsed().as_secs_f64());
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());

    let start = Instant::now();
    let client = Client::new(held_config(url, n, Some(&path))).unwrap();
    let opened = start.elapsed();
    let count = client.recover(0, |_, _, _| {}).unwrap();
    let total = start.elapsed();
    assert_eq!(count, n, "every request recovered");
    eprintln!(
        "journal recovery: {count} requests in {:.3} s (open, check and read {:.3} s; queue {:.3} s)",
        total.as_secs_f64(),
        opened.as_secs_f64(),
        (total - opened).as_secs_f64()
    );
    emit(vec![
        ("bench", V::S("journal_recovery".into())),
        ("requests", V::U(n as u64)),
        ("file_bytes", V::U(size)),
        ("open_ms", V::F(opened.as_secs_f64() * 1e3)),
        ("queue_ms", V::F((total - opened).as_secs_f64() * 1e3)),
        ("total_ms", V::F(total.as_secs_f64() * 1e3)),
        ("loadavg", V::F(loadavg())),
    ]);
    drop(client);
    remove(&path);
}

fn main() {
    let args = Args::parse();
    let url = args.str("url", "http://127.0.0.1:9");
    let dir = PathBuf::from(args.str("dir", &std::env::temp_dir().display().to_string()));
    let only = args.str("only", "submit,recovery");
    if only.contains("submit") {
        submit_rate(&url, &dir, args.num("submit", 20_000), &args.list("threads", "1,8"));
    }
    if only.contains("recovery") {
        recovery(&url, &dir, args.num("recover", 100_000));
    }
}
