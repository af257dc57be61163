//! A GraphQL endpoint that charges by Shopify's cost model, for the tests and the
//! benchmark of rlc's cost-paced GraphQL client.
//!
//! - A leaky bucket of `maximum` points, restored continuously at `restore_rate`
//!   points per second.
//! - Each query's *requested* cost is computed from its text before it runs (objects
//!   1, scalars 0, a connection `2 + first x (1 + the cost of each node)`; the
//!   `edges`/`node`/`nodes`/`pageInfo` wrappers are free; a mutation adds 10) and is
//!   charged up front; a query the bucket cannot pay for is answered HTTP 200 with
//!   `errors[0].extensions.code == "THROTTLED"` and runs nothing.
//! - Its *actual* cost counts the nodes really returned: every connection returns at
//!   most `catalog` nodes, so a page larger than the catalog costs less than asked.
//!   The difference is refunded when the query completes.
//! - Every answer carries `extensions.cost { requestedQueryCost actualQueryCost
//!   throttleStatus { maximumAvailable currentlyAvailable restoreRate } }`.
//! - A query that selects a field named `fail` is answered with a GraphQL error
//!   (HTTP 200, `data: null`), charged nothing.
//!
//! `data` is `{"requested": R, "actual": A, "variables": <the variables>}`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use apollo_parser::{cst, Parser};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::sync::watch;

/// The cost model's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostModel {
    /// The bucket's capacity in points (Shopify: 1,000 on standard plans).
    pub maximum: f64,
    /// Points restored per second (Shopify: 50 to 2,000 by plan).
    pub restore_rate: f64,
    /// The most nodes any connection returns.
    pub catalog: u64,
    /// How long a query takes to run once charged.
    pub latency: Duration,
}

/// Counts of what the endpoint answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CostStats {
    /// Queries that ran (charged and answered with data).
    pub executed: u64,
    /// Queries answered THROTTLED.
    pub throttled: u64,
    /// Queries answered with another GraphQL error.
    pub errors: u64,
    /// The sum of the actual costs of the queries that ran.
    pub points: u64,
    /// Milliseconds from the first to the last answer.
    pub span_ms: u64,
}

struct Bucket {
    available: f64,
    at: Instant,
}

struct Shared {
    model: CostModel,
    bucket: Mutex<Bucket>,
    executed: AtomicU64,
    throttled: AtomicU64,
    errors: AtomicU64,
    points: AtomicU64,
    first: Mutex<Option<Instant>>,
    last: Mutex<Option<Instant>>,
}

impl Shared {
    /// The bucket refilled to `now`.
    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.available =
            (bucket.available + elapsed * self.model.restore_rate).min(self.model.maximum);
        bucket.at = now;
    }

    fn throttle_status(&self, available: f64) -> Value {
        json!({
            "maximumAvailable": self.model.maximum,
            "currentlyAvailable": available.floor() as u64,
            "restoreRate": self.model.restore_rate,
        })
    }

    fn answered(&self) {
        let now = Instant::now();
        self.first.lock().unwrap().get_or_insert(now);
        *self.last.lock().unwrap() = Some(now);
    }
}

/// A running GraphQL endpoint (every path, POST). Stops on drop.
pub struct CostServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl CostServer {
    /// Starts the endpoint on a free port of 127.0.0.1 with a full bucket.
    ///
    /// # Panics
    /// If no port can be bound or the runtime cannot start.
    pub fn start(model: CostModel) -> CostServer {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            model,
            bucket: Mutex::new(Bucket { available: model.maximum, at: Instant::now() }),
            executed: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            points: AtomicU64::new(0),
            first: Mutex::new(None),
            last: Mutex::new(None),
        });
        let (shutdown, mut rx) = watch::channel(false);
        let state = shared.clone();
        let thread = std::thread::Builder::new()
            .name("mock-graphql".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    let app = Router::new().fallback(handle).with_state(state);
                    let _ = axum::serve(listener, app)
                        .tcp_nodelay(true)
                        .with_graceful_shutdown(async move {
                            let _ = rx.wait_for(|stop| *stop).await;
                        })
                        .await;
                });
                rt.shutdown_timeout(Duration::from_millis(100));
            })
            .expect("spawn");
        CostServer { addr, shared, shutdown: Some(shutdown), thread: Some(thread) }
    }

    /// Base URL without trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it answered so far.
    pub fn stats(&self) -> CostStats {
        let s = &self.shared;
        let span = match (*s.first.lock().unwrap(), *s.last.lock().unwrap()) {
            (Some(a), Some(b)) => b.saturating_duration_since(a).as_millis() as u64,
            _ => 0,
        };
        CostStats {
            executed: s.executed.load(Relaxed),
            throttled: s.throttled.load(Relaxed),
            errors: s.errors.load(Relaxed),
            points: s.points.load(Relaxed),
            span_ms: span,
        }
    }
}

impl Drop for CostServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(body: Value) -> Response {
    ([(CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let query = request.get("query").and_then(Value::as_str).unwrap_or("");
    let variables =
        request.get("variables").and_then(Value::as_object).cloned().unwrap_or_default();
    let Some(costs) = costs_of(query, &variables, shared.model.catalog) else {
        shared.errors.fetch_add(1, Relaxed);
        shared.answered();
        return answer(
            json!({"errors": [{"message": "syntax error", "extensions": {"code": "PARSE_ERROR"}}]}),
        );
    };
    if costs.fails {
        shared.errors.fetch_add(1, Relaxed);
        shared.answered();
        return answer(json!({
            "data": null,
            "errors": [{"message": "Field 'fail' doesn't exist on type 'QueryRoot'",
                        "locations": [{"line": 1, "column": 3}],
                        "extensions": {"code": "undefinedField"}}],
        }));
    }
    let requested = costs.requested as f64;
    {
        let mut bucket = shared.bucket.lock().unwrap();
        shared.refill(&mut bucket, Instant::now());
        if bucket.available < requested {
            let status = shared.throttle_status(bucket.available);
            drop(bucket);
            shared.throttled.fetch_add(1, Relaxed);
            shared.answered();
            return answer(json!({
                "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                "extensions": {"cost": {"requestedQueryCost": costs.requested,
                    "actualQueryCost": null, "throttleStatus": status}},
            }));
        }
        bucket.available -= requested;
    }
    if !shared.model.latency.is_zero() {
        tokio::time::sleep(shared.model.latency).await;
    }
    let available = {
        let mut bucket = shared.bucket.lock().unwrap();
        shared.refill(&mut bucket, Instant::now());
        let refund = costs.requested.saturating_sub(costs.actual) as f64;
        bucket.available = (bucket.available + refund).min(shared.model.maximum);
        bucket.available
    };
    shared.executed.fetch_add(1, Relaxed);
    shared.points.fetch_add(costs.actual, Relaxed);
    shared.answered();
    answer(json!({
        "data": {"requested": costs.requested, "actual": costs.actual, "variables": variables},
        "extensions": {"cost": {"requestedQueryCost": costs.requested, "actualQueryCost": costs.actual,
            "throttleStatus": shared.throttle_status(available)}},
    }))
}

/// A query's requested and actual costs by the model above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Costs {
    /// Charged up front: every connection full.
    pub requested: u64,
    /// Charged in the end: connections return at most the catalog.
    pub actual: u64,
    /// The query selects a field named `fail`.
    pub fails: bool,
}

/// The costs of `query` with `variables`, or `None` when it does not parse or holds
/// no operation.
pub fn costs_of(query: &str, variables: &Map<String, Value>, catalog: u64) -> Option<Costs> {
    let tree = Parser::new(query).recursion_limit(64).parse();
    if tree.errors().next().is_some() {
        return None;
    }
    let op = tree.document().definitions().find_map(|d| match d {
        cst::Definition::OperationDefinition(op) => Some(op),
        _ => None,
    })?;
    let mutation = op.operation_type().is_some_and(|t| t.mutation_token().is_some());
    let set = op.selection_set()?;
    let extra = if mutation { 10 } else { 0 };
    let mut fails = false;
    let requested = cost(&set, variables, None, &mut fails) + extra;
    let actual = cost(&set, variables, Some(catalog), &mut fails) + extra;
    Some(Costs { requested, actual, fails })
}

const WRAPPERS: [&str; 4] = ["edges", "node", "nodes", "pageInfo"];

fn cost(
    set: &cst::SelectionSet,
    vars: &Map<String, Value>,
    cap: Option<u64>,
    fails: &mut bool,
) -> u64 {
    let mut total = 0u64;
    for selection in set.selections() {
        let cst::Selection::Field(field) = selection else { continue };
        let name = field.name().map(|n| n.text().to_string()).unwrap_or_default();
        *fails |= name == "fail";
        let Some(children) = field.selection_set() else { continue };
        let inner = cost(&children, vars, cap, fails);
        let page = field.arguments().and_then(|args| {
            args.arguments()
                .filter(|a| a.name().is_some_and(|n| n.text() == "first" || n.text() == "last"))
                .filter_map(|a| match a.value()? {
                    cst::Value::IntValue(i) => i32::try_from(i).ok().map(|n| n.max(0) as u64),
                    cst::Value::Variable(v) => vars.get(v.name()?.text().as_str())?.as_u64(),
                    _ => None,
                })
                .max()
        });
        total += match page {
            Some(n) => 2 + cap.map_or(n, |c| n.min(c)) * (1 + inner),
            None if WRAPPERS.contains(&name.as_str()) => inner,
            None => 1 + inner,
        };
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_and_actual_costs() {
        let vars = Map::new();
        let c =
            costs_of("{ items(first: 10) { edges { node { id title } } } }", &vars, 30).unwrap();
        assert_eq!((c.requested, c.actual), (12, 12));
        let c = costs_of("{ items(first: 50) { nodes { id } } shop { name } }", &vars, 30).unwrap();
        assert_eq!((c.requested, c.actual), (53, 33));
        let vars = json!({"n": 40}).as_object().unwrap().clone();
        let c =
            costs_of("query($n: Int) { items(first: $n) { nodes { id } } }", &vars, 30).unwrap();
        assert_eq!((c.requested, c.actual), (42, 32));
        let c = costs_of("mutation { add(x: 1) { id } }", &Map::new(), 30).unwrap();
        assert_eq!(c.requested, 11);
        assert!(costs_of("{ fail }", &Map::new(), 30).unwrap().fails);
        assert!(costs_of("{", &Map::new(), 30).is_none());
    }
}
