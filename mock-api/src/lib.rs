//! The mock HTTP API that `rlc`'s integration tests, demo and example
//! programs run against.
//!
//! [`MockApi::start`] runs an axum server on `127.0.0.1` on its own thread
//! (with its own 2-worker tokio runtime), so it can be used from plain
//! synchronous tests. Every route accepts every method:
//!
//! | route | answer |
//! |---|---|
//! | `/ok` | 200, body `ok` |
//! | `/echo` | 200, body = request body, `x-method`, `x-echo-<name>` per request header |
//! | `/json/...` | 200 JSON `{"method", "path", "json": request body as JSON or null}` |
//! | `/status/{code}[?retry_after=N]` | that status (100..=599, else 400; hyper turns a final 1xx into 500), optional `Retry-After` |
//! | `/flaky/{key}/{n}[?retry_after=N][&status=S]` | first `n` requests per key answer 503 (or `S`), then 200 `ok after n` |
//! | `/down[?retry_after=N]` | always 503 |
//! | `/slow/{ms}` | 200 after `ms` milliseconds |
//! | `/bytes/{n}` | 200 with `n` bytes, byte `i` = `i % 251` |
//! | `/headers` | 200 with `x-one: 1`, `x-multi: a`, `x-multi: b`, `content-type: text/plain` |
//! | `/ratelimit-headers?remaining=R&reset=S` | 200 with `X-RateLimit-Remaining: R`, `X-RateLimit-Reset: S` |
//! | `/redirect/{code}?to=URL` | that 3xx status with `Location: URL` |
//! | `/loop/a`, `/loop/b` | 302 to each other, for ever |
//! | `/hidden-limit/{n}` | 200 for at most `n` per rolling second, else a bare 429 (no header) |
//! | `/__stats` | JSON counters (not counted itself) |
//! | anything else | 404 |
//!
//! Query values are percent-decoded, so `?retry_after=` may also carry an
//! HTTP date. With [`MockOptions::rate_limit`] set, every request except
//! `/__stats` goes through a rolling-window limiter first (see
//! [`MockOptions`]).
//!
//! The [`raw`] module has TCP servers that misbehave below HTTP, for
//! transport-error tests; the [`chaos`] module has a server that misbehaves at
//! random, for soak tests; the [`graphql`] module has a GraphQL endpoint that
//! charges by Shopify's cost model (a leaky bucket of points, THROTTLED at HTTP 200).

#![warn(missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use tokio::sync::watch;

pub mod chaos;
pub mod graphql;
pub mod raw;
pub mod redis;
mod routes;
mod state;

use state::Shared;
pub use state::{Arrival, Stats};

/// How long in-flight requests may still run after [`MockApi::stop`] before
/// they are cut off.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// Configuration for [`MockApi::start`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockOptions {
    /// Port to bind on `127.0.0.1`; `0` picks a free port.
    pub port: u16,
    /// Optional rolling-window rate limit `(max, window)`: a request is
    /// rejected with 429 if `max` requests were already accepted within the
    /// last `window`. Rejected answers carry `Retry-After: <ceil secs until a
    /// slot frees>`, `RateLimit-Policy: <max>;w=<ceil window secs>` and
    /// `RateLimit: limit=<max>, remaining=0, reset=<secs>`; accepted answers
    /// carry `RateLimit-Policy` and `RateLimit: limit=<max>,
    /// remaining=<R>, reset=<ceil secs until the oldest accepted request in
    /// the window leaves it>`.
    pub rate_limit: Option<(u32, Duration)>,
}

/// A running mock server. Stops (gracefully) on [`MockApi::stop`] or drop.
pub struct MockApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl MockApi {
    /// Binds `127.0.0.1:<opts.port>` and starts serving on a background
    /// thread; returns once the socket is listening.
    ///
    /// # Panics
    /// If the port cannot be bound or the runtime cannot be created; use
    /// [`MockApi::try_start`] to get the error instead.
    pub fn start(opts: MockOptions) -> MockApi {
        MockApi::try_start(opts).unwrap_or_else(|e| panic!("mock-api: cannot start: {e}"))
    }

    /// Like [`MockApi::start`], but returns bind/runtime errors.
    pub fn try_start(opts: MockOptions) -> std::io::Result<MockApi> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", opts.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(opts.rate_limit));
        let (shutdown, rx) = watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let app_state = shared.clone();
        let thread = std::thread::Builder::new().name("mock-api".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("mock-api-worker")
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(serve(listener, app_state, rx, ready_tx));
            rt.shutdown_timeout(Duration::from_millis(100));
        })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(std::io::Error::other("mock-api server thread died"));
            }
        }
        Ok(MockApi { addr, shared, shutdown: Some(shutdown), thread: Some(thread) })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL without trailing slash, e.g. `"http://127.0.0.1:41234"`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A snapshot of the counters and arrivals so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Clears counters, arrivals, `/flaky` counters and the rate limiter's
    /// history. [`Arrival::at`] stays relative to server start.
    pub fn reset_stats(&self) {
        self.shared.reset();
    }

    /// Stops the server: stops accepting, lets in-flight requests finish for
    /// up to 500 ms, then cuts them off and joins the server thread.
    pub fn stop(self) {
        // Drop does the work.
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MockApi {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for MockApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockApi").field("addr", &self.addr).finish_non_exhaustive()
    }
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    // An error means the sender is gone, which also means "stop".
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    rx: watch::Receiver<bool>,
    ready: std::sync::mpsc::Sender<std::io::Result<()>>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let app = Router::new().fallback(routes::handle).with_state(shared);
    let server =
        axum::serve(listener, app).tcp_nodelay(true).with_graceful_shutdown(wait_stop(rx.clone()));
    let _ = ready.send(Ok(()));
    tokio::select! {
        _ = std::future::IntoFuture::into_future(server) => {}
        _ = async { wait_stop(rx).await; tokio::time::sleep(STOP_GRACE).await } => {}
    }
}
