//! The Rust API: a [`Client`] owns the scheduler, worker and completion threads.

use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};

use crossbeam_channel::unbounded;
use parking_lot::{Condvar, Mutex};

use crate::clock::MonotonicClock;
use crate::completion::CompletionQueue;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::request::Request;
use crate::response::Response;
use crate::scheduler::{Core, Shared};
use crate::worker::{build_agent, run_worker};

/// Identifies an accepted request; unique within a client, never 0.
pub type RequestId = u64;

/// Called exactly once per accepted request, on the client's completion thread,
/// with the request's id and its outcome. An HTTP response of any status is `Ok`.
pub type Callback = Box<dyn FnOnce(RequestId, Result<Response>) + Send + 'static>;

/// A rate-limited HTTP client. Dropping it is [`Client::close`].
pub struct Client {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Client {
    /// Starts a client: one scheduler thread, `workers` worker threads and one
    /// completion thread.
    pub fn new(config: Config) -> Result<Client> {
        let (dispatch_tx, dispatch_rx) = unbounded();
        let shared = Arc::new(Shared {
            agent: build_agent(&config),
            core: Mutex::new(Core::new(&config)),
            config,
            clock: MonotonicClock::new(),
            wake: Condvar::new(),
            metrics: Metrics::default(),
            completions: CompletionQueue::default(),
            dispatch: dispatch_tx,
            completion_thread: OnceLock::new(),
        });
        let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
            thread::Builder::new().name(name).spawn(f).map_err(|e| {
                Error::new(ErrorKind::InvalidState, format!("could not start a thread: {e}"))
            })
        };
        let mut threads = Vec::new();
        let s = shared.clone();
        let completion = spawn("rlc-completion".into(), Box::new(move || s.completions.run()))?;
        let _ = shared.completion_thread.set(completion.thread().id());
        threads.push(completion);
        for i in 0..shared.config.workers {
            let (s, rx) = (shared.clone(), dispatch_rx.clone());
            threads.push(spawn(format!("rlc-worker-{i}"), Box::new(move || run_worker(s, rx)))?);
        }
        let s = shared.clone();
        threads.push(spawn("rlc-scheduler".into(), Box::new(move || s.run_scheduler()))?);
        Ok(Client { shared, threads: Mutex::new(threads) })
    }

    /// Queues `request` with `priority` (higher goes first; FIFO among equals).
    /// `Ok(id)` means `callback` will be called exactly once, later, on the
    /// completion thread; an error means it never will be.
    pub fn submit(
        &self,
        request: Request,
        priority: i32,
        callback: impl FnOnce(RequestId, Result<Response>) + Send + 'static,
    ) -> Result<RequestId> {
        self.submit_boxed(request, priority, Box::new(callback))
    }

    /// [`Client::submit`] with a boxed callback; on refusal the callback comes back
    /// with the error, uncalled, so the caller can release what it holds.
    pub fn try_submit(
        &self,
        request: Request,
        priority: i32,
        callback: Callback,
    ) -> std::result::Result<RequestId, (Error, Callback)> {
        if request.target.starts_with('/') && self.shared.config.base_url.is_none() {
            let err = Error::invalid("a relative path needs a base URL in the config");
            return Err((err, callback));
        }
        self.shared.enqueue(request, priority, callback)
    }

    fn submit_boxed(
        &self,
        request: Request,
        priority: i32,
        callback: Callback,
    ) -> Result<RequestId> {
        self.try_submit(request, priority, callback).map_err(|(e, _)| e)
    }

    /// Submits and waits for the outcome. Refused inside a callback, where waiting
    /// would deadlock the completion thread.
    pub fn send(&self, request: Request, priority: i32) -> Result<Response> {
        if self.shared.is_completion_thread() {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "a blocking send inside a callback would deadlock; use submit",
            ));
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.submit(request, priority, move |_, result| {
            let _ = tx.send(result);
        })?;
        rx.recv().unwrap_or_else(|_| Err(Error::new(ErrorKind::Panic, "the completion was lost")))
    }

    /// Cancels a request: a queued one completes as cancelled at once; one in
    /// flight completes as cancelled when its attempt ends.
    pub fn cancel(&self, id: RequestId) -> Result<()> {
        self.shared.cancel(id)
    }

    /// A snapshot of the counters, gauges and latency percentiles.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics()
    }

    /// Stops intake, completes queued requests as shut down, waits for those in
    /// flight, delivers every callback and joins every thread. Idempotent. Inside a
    /// callback it does all but the waiting: the threads finish on their own.
    pub fn close(&self) {
        self.shared.begin_shutdown();
        if self.shared.is_completion_thread() {
            return;
        }
        let mut threads = self.threads.lock();
        for handle in threads.drain(..) {
            let _ = handle.join();
        }
    }

    /// True when called on this client's completion thread (inside a callback).
    pub fn in_callback(&self) -> bool {
        self.shared.is_completion_thread()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}
