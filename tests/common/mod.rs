//! Shared helpers for the integration tests: a real mock server on 127.0.0.1 and a
//! collector of completions.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, Sender};
pub use mock_api::{MockApi, MockOptions};
use rlc::{Client, Config, Request, RequestId, Response};

/// How long a test waits for a completion before it calls the run hung.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn mock() -> MockApi {
    MockApi::start(MockOptions::default())
}

/// A config pointed at `url`, with fast retries so tests do not wait.
pub fn config(url: &str) -> Config {
    let mut c = Config::new();
    c.base_url(url).unwrap();
    c.retry(rlc::RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    })
    .unwrap();
    c
}

pub fn get(path: &str) -> Request {
    Request::new("GET", path).unwrap()
}

pub fn tagged(method: &str, path: &str, tag: &str) -> Request {
    let mut r = Request::new(method, path).unwrap();
    r.header("x-tag", tag).unwrap();
    r
}

/// Completions gathered from callbacks, in the order they ran.
pub struct Completions {
    tx: Sender<(RequestId, rlc::Result<Response>)>,
    rx: Receiver<(RequestId, rlc::Result<Response>)>,
}

impl Completions {
    pub fn new() -> Self {
        let (tx, rx) = unbounded();
        Completions { tx, rx }
    }

    pub fn callback(&self) -> impl FnOnce(RequestId, rlc::Result<Response>) + Send + 'static {
        let tx = self.tx.clone();
        move |id, result| tx.send((id, result)).unwrap()
    }

    pub fn submit(&self, client: &Client, request: Request, priority: i32) -> RequestId {
        client.submit(request, priority, self.callback()).unwrap()
    }

    /// The next completion; panics if none comes within [`PATIENCE`].
    pub fn next(&self) -> (RequestId, rlc::Result<Response>) {
        self.rx.recv_timeout(PATIENCE).expect("a completion within the patience window")
    }

    /// Exactly `n` completions, keyed by id; fails on a duplicate.
    pub fn take(&self, n: usize) -> HashMap<RequestId, rlc::Result<Response>> {
        let mut seen = HashMap::new();
        for _ in 0..n {
            let (id, r) = self.next();
            assert!(seen.insert(id, r).is_none(), "request {id} completed twice");
        }
        seen
    }

    /// True if nothing more arrives within `wait`.
    pub fn quiet_for(&self, wait: Duration) -> bool {
        self.rx.recv_timeout(wait).is_err()
    }
}
