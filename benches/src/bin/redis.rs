//! A limit shared through Redis: three clients (threads of this process, each its own
//! `rlc::Client` with its own lease thread and Redis connection) share one limit on one
//! key of a redis-server started here (free port, persistence off), against the
//! timestamping counter server. Reported per rate: the aggregate rate the server saw,
//! its busiest one-second window, and the Redis round trips per request.
//!
//! `rlc-bench-redis [--rates 100,5000] [--seconds 10]`; one JSON line per
//! rate on stdout. Needs redis-server on PATH.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_api::redis::RedisServer;
use rlc::{Client, Config, Request, RetryPolicy};
use rlc_bench::{emit, loadavg, V};

fn main() {
    let args = rlc_bench::Args::parse();
    let rates: Vec<u32> = args.list("rates", "100,5000");
    let secs: u64 = args.num("seconds", 10);
    if !RedisServer::available() {
        eprintln!("rlc-bench-redis: redis-server is not installed (apt-get install redis-server)");
        std::process::exit(2);
    }
    for rate in rates {
        let redis = RedisServer::start().expect("start redis-server");
        let counter = rlc_bench::counter::Counter::start(0).expect("bind 127.0.0.1");
        let clients: Vec<Arc<Client>> = (0..3)
            .map(|_| {
                let mut cfg = Config::new();
                cfg.base_url(&counter.url()).unwrap();
                cfg.rate_limit(rate, Duration::from_secs(1)).unwrap().burst(1).unwrap();
                cfg.retry(RetryPolicy { max_retries: 0, ..RetryPolicy::default() }).unwrap();
                cfg.workers(16).unwrap().max_queue_size(100_000).unwrap();
                cfg.redis(&redis.url(), "bench").unwrap();
                Arc::new(Client::new(cfg).unwrap())
            })
            .collect();
        let load = loadavg();
        let stop = Arc::new(AtomicBool::new(false));
        // Each client keeps a queue of a tenth of a second of the whole rate.
        let depth = (rate as usize / 10).max(20);
        let feeders: Vec<_> = clients
            .iter()
            .map(|client| {
                let (client, stop) = (client.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        while (client.metrics().queue_depth as usize) < depth {
                            let _ = client.submit(Request::new("GET", "/").unwrap(), 0, |_, _| {});
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                })
            })
            .collect();
        let start = Instant::now();
        let before = counter.now();
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
        let after = counter.now();
        for f in feeders {
            let _ = f.join();
        }
        let elapsed = start.elapsed();
        let trips: u64 = clients.iter().map(|c| c.redis_status().round_trips).sum();
        let leased: u64 = clients.iter().map(|c| c.redis_status().tokens_leased).sum();
        let stamps: Vec<u64> =
            counter.take().into_iter().filter(|&t| t >= before && t <= after).collect();
        drop(clients);
        let n = stamps.len();
        let span = (after - before) as f64 / 1e9;
        let mut busiest = 0;
        let mut lo = 0;
        for hi in 0..n {
            while stamps[hi] - stamps[lo] >= 1_000_000_000 {
                lo += 1;
            }
            busiest = busiest.max(hi - lo + 1);
        }
        emit(vec![
            ("bench", V::S("redis".into())),
            ("rate", V::U(u64::from(rate))),
            ("clients", V::U(3)),
            ("seconds", V::F(elapsed.as_secs_f64())),
            ("requests", V::U(n as u64)),
            ("aggregate_rate", V::F(n as f64 / span)),
            ("busiest_1s_window", V::U(busiest as u64)),
            ("round_trips", V::U(trips)),
            ("tokens_leased", V::U(leased)),
            ("round_trips_per_request", V::F(trips as f64 / leased.max(1) as f64)),
            ("loadavg", V::F(load)),
        ]);
    }
}
