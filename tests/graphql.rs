//! GraphQL against a real endpoint on 127.0.0.1 that charges by Shopify's cost model
//! (a leaky bucket of points, the requested cost charged up front and refunded to
//! the actual, THROTTLED at HTTP 200).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mock_api::graphql::{costs_of, CostModel, CostServer};
use rlc::{Client, Config, ErrorKind, Request};
use serde_json::Value;

fn model(maximum: f64, restore_rate: f64) -> CostModel {
    CostModel { maximum, restore_rate, catalog: 30, latency: Duration::from_millis(2) }
}

fn query(first: u64) -> String {
    format!("query Items {{ items(first: {first}) {{ edges {{ node {{ id title }} }} }} }}")
}

/// 2,000 queries of mixed cost offered at twice the restore rate: rlc charges each
/// its cost before sending and corrects the charge from the server's report, so the
/// server never has to throttle, and the budget is used to the full.
#[test]
fn paced_by_cost_never_throttled_and_the_budget_used() {
    let (maximum, rate) = (2000.0, 2000.0);
    let server = CostServer::start(model(maximum, rate));
    let mut cfg = Config::new();
    cfg.base_url(&server.url()).unwrap();
    cfg.cost_limit(2000, Duration::from_secs(1)).unwrap();
    cfg.max_queue_size(5000).unwrap();
    let client = Client::new(cfg).unwrap();

    let sizes = [5u64, 10, 20, 40];
    let n = 2000;
    let done = Arc::new(Mutex::new((0usize, 0usize)));
    let start = Instant::now();
    let mut offered_points = 0.0;
    for i in 0..n {
        let text = query(sizes[i % sizes.len()]);
        let costs = costs_of(&text, &serde_json::Map::new(), 30).unwrap();
        let mut req = Request::graphql("/graphql", &text, None, Some("Items")).unwrap();
        req.cost(costs.requested as u32).unwrap();
        let done = done.clone();
        client
            .submit(req, 0, move |_, result| {
                let response = result.expect("a response");
                let ok = response.status() == 200 && response.graphql_errors().is_none();
                let mut d = done.lock().unwrap();
                d.0 += 1;
                d.1 += usize::from(ok);
            })
            .unwrap();
        // Offer the requested points at twice the restore rate.
        offered_points += costs.requested as f64;
        let due = Duration::from_secs_f64(offered_points / (2.0 * rate));
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while done.lock().unwrap().0 < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (completed, ok) = *done.lock().unwrap();
    let stats = server.stats();
    let m = client.metrics();
    client.close();
    assert_eq!((completed, ok), (n, n), "every query answered with data");
    assert_eq!(stats.throttled, 0, "the server never had to throttle: {stats:?}");
    assert_eq!(m.graphql_throttled, 0);
    assert_eq!(m.graphql_points, stats.points, "the client counted the actual costs");
    // The budget beyond the first full bucket, over the time it took.
    let used = (stats.points as f64 - maximum) / (stats.span_ms as f64 / 1000.0);
    eprintln!(
        "rlc: {} queries, {} points in {} ms: {:.0} points/s beyond the first bucket \
         ({:.1}% of the restore rate {rate}), {} THROTTLED",
        stats.executed,
        stats.points,
        stats.span_ms,
        used,
        100.0 * used / rate,
        stats.throttled
    );
    assert!(used >= 0.9 * rate, "used {used:.0} points/s of {rate}");
}

/// Without a cost limit, a THROTTLED answer is retried like a 429 (after the time the
/// server needs to restore the points), counted, and the caller sees only the data.
#[test]
fn throttled_is_retried_and_counted() {
    let server = CostServer::start(model(50.0, 200.0));
    let mut cfg = Config::new();
    cfg.base_url(&server.url()).unwrap();
    cfg.retry(rlc::RetryPolicy {
        max_retries: 20,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
    })
    .unwrap();
    cfg.retry_budget(1000, 1000);
    let client = Client::new(cfg).unwrap();
    let results = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..8 {
        let r = results.clone();
        // 22 points each, 8 at once, from a bucket of 50.
        let req = Request::graphql("/graphql", &query(20), None, None).unwrap();
        client.submit(req, 0, move |_, res| r.lock().unwrap().push(res)).unwrap();
    }
    // A mutation is not retried after a transport error, but a THROTTLED one never ran.
    let r = results.clone();
    let mutation = Request::graphql(
        "/graphql",
        "mutation { add(x: 1) { items(first: 20) { nodes { id } } } }",
        None,
        None,
    )
    .unwrap();
    client.submit(mutation, 0, move |_, res| r.lock().unwrap().push(res)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while results.lock().unwrap().len() < 9 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    client.close();
    let results = results.lock().unwrap();
    assert_eq!(results.len(), 9);
    for res in results.iter() {
        let response = res.as_ref().expect("a response");
        assert_eq!(response.status(), 200);
        assert_eq!(response.graphql_errors(), None, "a THROTTLED answer is never the last");
        let body: Value = serde_json::from_slice(response.body()).unwrap();
        assert!(body["data"]["requested"].as_u64().is_some_and(|r| r >= 22), "{body}");
    }
    let stats = server.stats();
    let m = client.metrics();
    assert!(stats.throttled > 0, "the bucket of 50 must have throttled some: {stats:?}");
    assert_eq!(m.graphql_throttled, stats.throttled, "every THROTTLED counted");
    assert!(m.retries >= stats.throttled);
    assert_eq!(stats.executed, 9);
}

/// Other GraphQL errors complete normally, with the errors array handed back.
#[test]
fn graphql_errors_complete_normally() {
    let server = CostServer::start(model(1000.0, 100.0));
    let mut cfg = Config::new();
    cfg.base_url(&server.url()).unwrap();
    cfg.cost_limit(1000, Duration::from_secs(10)).unwrap();
    let client = Client::new(cfg).unwrap();
    let response =
        client.send(Request::graphql("/graphql", "{ fail }", None, None).unwrap(), 0).unwrap();
    assert_eq!((response.status(), response.attempts()), (200, 1));
    let errors: Value = serde_json::from_str(response.graphql_errors().expect("errors")).unwrap();
    assert_eq!(errors[0]["message"], "Field 'fail' doesn't exist on type 'QueryRoot'");
    assert_eq!(client.metrics().graphql_errors, 1);

    // The estimate is charged when no cost is given; the server's report corrects it.
    let vars = r#"{"n": 7}"#;
    let req = Request::graphql(
        "/graphql",
        "query($n: Int) { items(first: $n) { nodes { id } } }",
        Some(vars),
        None,
    )
    .unwrap();
    assert_eq!(req.graphql_points(), Some(1));
    let response = client.send(req, 0).unwrap();
    assert_eq!(response.graphql_report().unwrap().actual, Some(9));
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["data"]["variables"]["n"], 7, "variables passed through");
    // Bucket: 1000 - 1 charged + 1 - 9 corrected, and the server says ~991 left.
    assert!(client.metrics().graphql_points == 9);
    client.close();
}

/// Refused at once, with a sentence that says why: garbage, and a cost above what the
/// cost limit ever holds.
#[test]
fn garbage_and_impossible_costs_are_refused_at_submit() {
    for garbage in ["{", "query { a(first: ) }", "not graphql", ""] {
        let err = Request::graphql("/graphql", garbage, None, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Graphql, "{garbage:?}");
        assert!(err.message().contains("GraphQL"), "{}", err.message());
    }
    let err = Request::graphql("/graphql", "{ a }", Some("[]"), None).unwrap_err();
    assert!(err.message().contains("JSON object"));

    let server = CostServer::start(model(1000.0, 100.0));
    let mut cfg = Config::new();
    cfg.base_url(&server.url()).unwrap();
    cfg.cost_limit(100, Duration::from_secs(1)).unwrap();
    let client = Client::new(cfg).unwrap();
    let mut req = Request::graphql("/graphql", "{ a }", None, None).unwrap();
    req.cost(101).unwrap();
    let err = client.submit(req, 0, |_, _| panic!("never called")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("101 points"), "{}", err.message());
    client.close();
    assert_eq!(server.stats().executed, 0);
}
