//! GraphQL paced by cost against an endpoint that charges by Shopify's cost model
//! (mock-api's `graphql` module: a leaky bucket, the requested cost charged up front
//! and refunded to the actual, THROTTLED at HTTP 200). The same queries of mixed cost
//! are offered at twice the restore rate to two clients:
//!
//! - rlc, with `cost_limit` set to the bucket and each query's cost given, correcting
//!   its charge from the server's report;
//! - a client that only retries after THROTTLED, as Shopify's own client does: eight
//!   threads send each query when it is offered and, when throttled, wait one second
//!   and send it again.
//!
//! Reported per client: points per second used beyond the first full bucket (and as a
//! share of the restore rate), THROTTLED answers, and the time to finish all.
//!
//! `rlc-bench-graphql [queries] [restore rate] [bucket]` (defaults 2000, 1000, 1000);
//! one JSON line per client on stdout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mock_api::graphql::{costs_of, CostModel, CostServer};
use rlc::{Client, Config, Request};

const SIZES: [u64; 4] = [5, 10, 20, 40];
const CATALOG: u64 = 30;

fn query(i: usize) -> String {
    format!(
        "query Items {{ items(first: {}) {{ edges {{ node {{ id title }} }} }} }}",
        SIZES[i % 4]
    )
}

fn requested(i: usize) -> u64 {
    costs_of(&query(i), &serde_json::Map::new(), CATALOG).unwrap().requested
}

/// When query `i` is offered: its requested points at twice the restore rate.
fn offer_times(n: usize, rate: f64) -> Vec<Duration> {
    let mut offered = 0.0;
    (0..n)
        .map(|i| {
            let at = Duration::from_secs_f64(offered / (2.0 * rate));
            offered += requested(i) as f64;
            at
        })
        .collect()
}

fn server(rate: f64, bucket: f64) -> CostServer {
    CostServer::start(CostModel {
        maximum: bucket,
        restore_rate: rate,
        catalog: CATALOG,
        latency: Duration::from_millis(2),
    })
}

fn run_rlc(n: usize, rate: f64, bucket: f64) -> (CostServer, Duration) {
    let server = server(rate, bucket);
    let mut cfg = Config::new();
    cfg.base_url(&server.url()).unwrap();
    cfg.cost_limit(bucket as u32, Duration::from_secs_f64(bucket / rate)).unwrap();
    cfg.max_queue_size(n + 1).unwrap().workers(8).unwrap();
    let client = Client::new(cfg).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for (i, at) in offer_times(n, rate).into_iter().enumerate() {
        if let Some(wait) = at.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        let mut req = Request::graphql("/graphql", &query(i), None, Some("Items")).unwrap();
        req.cost(requested(i) as u32).unwrap();
        let done = done.clone();
        client
            .submit(req, 0, move |_, r| {
                assert!(r.is_ok_and(|r| r.graphql_errors().is_none()), "a query failed");
                done.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
    }
    while done.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = start.elapsed();
    client.close();
    (server, took)
}

fn run_retry_only(n: usize, rate: f64, bucket: f64) -> (CostServer, Duration) {
    let server = server(rate, bucket);
    let url = format!("{}/graphql", server.url());
    let offers = Arc::new(offer_times(n, rate));
    let next = Arc::new(Mutex::new(0usize));
    let start = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (url, offers, next) = (url.clone(), offers.clone(), next.clone());
            std::thread::spawn(move || {
                let agent = ureq::Agent::new_with_defaults();
                loop {
                    let i = {
                        let mut next = next.lock().unwrap();
                        if *next >= offers.len() {
                            return;
                        }
                        *next += 1;
                        *next - 1
                    };
                    if let Some(wait) = offers[i].checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    let body = serde_json::json!({"query": query(i), "operationName": "Items"});
                    loop {
                        let mut response = agent
                            .post(&url)
                            .header("Content-Type", "application/json")
                            .send(body.to_string())
                            .expect("POST");
                        let text = response.body_mut().read_to_string().expect("body");
                        if !text.contains("\"THROTTLED\"") {
                            break;
                        }
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    (server, start.elapsed())
}

fn report(client: &str, server: &CostServer, took: Duration, rate: f64, bucket: f64, n: usize) {
    let s = server.stats();
    let span = s.span_ms as f64 / 1000.0;
    let beyond = (s.points as f64 - bucket).max(0.0) / span;
    println!(
        "{{\"bench\":\"graphql\",\"client\":\"{client}\",\"queries\":{n},\"restore_rate\":{rate},\
         \"bucket\":{bucket},\"points\":{},\"span_s\":{span:.2},\"points_per_s\":{beyond:.0},\
         \"share_of_restore_rate\":{:.3},\"throttled\":{},\"took_s\":{:.2}}}",
        s.points,
        beyond / rate,
        s.throttled,
        took.as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(2000, |a| a.parse().expect("queries"));
    let rate: f64 = args.get(1).map_or(1000.0, |a| a.parse().expect("restore rate"));
    let bucket: f64 = args.get(2).map_or(1000.0, |a| a.parse().expect("bucket"));
    let (server, took) = run_rlc(n, rate, bucket);
    report("rlc", &server, took, rate, bucket, n);
    drop(server);
    let (server, took) = run_retry_only(n, rate, bucket);
    report("retry-only", &server, took, rate, bucket, n);
}
