//! The fourth scene: one limit shared through Redis. Two clients (think two processes
//! or two hosts) each believe they may send `LIMIT` per second to one API that allows
//! `LIMIT` per rolling second in all; with `Config::redis` on one key they take their
//! tokens from one GCRA in Redis, so together they keep to it. Needs `redis-server` on
//! PATH (started here on a free port, persistence off); otherwise the scene says how
//! to see it. Runs beside the main demo, on threads of its own, and reports after it.

use std::error::Error;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mock_api::redis::RedisServer;
use mock_api::{MockApi, MockOptions};
use rlc::{Client, Config, Request};

/// The API's limit per rolling second, and the shared limit the clients are given.
pub const LIMIT: u32 = 20;
/// Requests each client sends, all queued at once.
pub const COUNT: usize = 60;

/// What the scene saw, or None when redis-server is not installed.
pub struct SharedData {
    pub received: u64,
    pub rejected: u64,
    pub busiest: u64,
    pub per_client: [u64; 2],
    pub round_trips: u64,
    pub took: Duration,
}

type BoxError = Box<dyn Error + Send + Sync>;

pub fn run() -> Result<Option<SharedData>, BoxError> {
    if !RedisServer::available() {
        return Ok(None);
    }
    let redis = RedisServer::start()?;
    let api = MockApi::try_start(MockOptions {
        rate_limit: Some((LIMIT, Duration::from_secs(1))),
        port: 0,
    })?;
    let clients = (0..2)
        .map(|_| {
            let mut c = Config::new();
            c.base_url(&api.url())?.rate_limit(LIMIT, Duration::from_secs(1))?.burst(1)?;
            c.redis(&redis.url(), "demo-shared")?;
            Ok(Client::new(c)?)
        })
        .collect::<Result<Vec<_>, BoxError>>()?;
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    for (i, client) in clients.iter().enumerate() {
        for _ in 0..COUNT {
            let tx = tx.clone();
            client.submit(Request::new("GET", "/ok")?, 0, move |_, r| {
                let _ = tx.send((i, r.map(|r| r.status()).unwrap_or(0)));
            })?;
        }
    }
    drop(tx);
    let mut per_client = [0u64; 2];
    for (i, _) in rx.iter() {
        per_client[i] += 1;
    }
    let took = started.elapsed();
    let round_trips = clients.iter().map(|c| c.redis_status().round_trips).sum();
    drop(clients);
    let stats = api.stats();
    Ok(Some(SharedData {
        received: stats.received,
        rejected: stats.rejected_429,
        busiest: stats.max_in_window,
        per_client,
        round_trips,
        took,
    }))
}

pub fn print(data: &Option<SharedData>) {
    println!();
    let Some(d) = data else {
        println!(
            "A shared limit through Redis: install redis-server (apt-get install redis-server) and run \
             `make demo` again to see two clients keep one API limit together."
        );
        return;
    };
    println!(
        "Two clients share one limit of {LIMIT}/s through Redis (Config::redis, one key), {COUNT} requests each,"
    );
    println!("to an API that allows {LIMIT} per rolling second in all:");
    println!(
        "  the API saw {} requests in {:.1} s ({} and {} from each client), {} refused with 429, \
         busiest second {} (limit {LIMIT}); {:.2} Redis round trips per request",
        d.received,
        d.took.as_secs_f64(),
        d.per_client[0],
        d.per_client[1],
        d.rejected,
        d.busiest,
        d.round_trips as f64 / d.received.max(1) as f64,
    );
}
