//! The Rust API: a [`Client`] owns the scheduler, worker and completion threads.

use std::sync::{Arc, OnceLock, Weak};
use std::thread::{self, JoinHandle};
use std::time::SystemTime;

use crossbeam_channel::unbounded;
use parking_lot::{Condvar, Mutex};

use crate::clock::{Clock, MonotonicClock};
use crate::completion::CompletionQueue;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::journal::{self, Journal, JournalStats};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::request::{check_target, BaseUrl, Request};
use crate::response::Response;
use crate::scheduler::{Core, Shared, WorkerMsg};
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
    /// completion thread. When a thread cannot be started, the ones already running
    /// are stopped and joined before the error returns: nothing is left behind.
    pub fn new(config: Config) -> Result<Client> {
        Client::start(config, &mut |name, body| thread::Builder::new().name(name).spawn(body))
    }

    /// [`Client::new`] with the way threads are started given, so that tests can make
    /// a start fail.
    fn start(config: Config, spawn: &mut Spawner<'_>) -> Result<Client> {
        if config.adaptive && config.rate_limits.is_empty() {
            return Err(Error::invalid(
                "adaptive limiting needs a rate limit: the rate to start from and climb back to",
            ));
        }
        // The journal first: a bad one fails here, before any thread starts.
        let journal = match &config.journal {
            Some(path) => Some(Arc::new(Journal::open(path)?)),
            None => None,
        };
        let (dispatch_tx, dispatch_rx) = unbounded();
        let clock = MonotonicClock::new();
        let redis = crate::redis::start(&config, clock.now())?;
        let mut core = Core::new(&config);
        core.redis = redis.as_ref().map(|r| r.lease.clone());
        let shared = Arc::new(Shared {
            agent: build_agent(&config),
            core: Mutex::new(core),
            base: config.base_url.as_deref().map(BaseUrl::new),
            config,
            clock,
            wake: Condvar::new(),
            metrics: Metrics::default(),
            completions: CompletionQueue::default(),
            dispatch: dispatch_tx,
            completion_thread: OnceLock::new(),
            freed_in_callback: Mutex::new(None),
            journal,
        });
        let mut threads = Vec::new();
        let s = shared.clone();
        let completion = spawn("rlc-completion".into(), Box::new(move || s.run_completions()));
        let completion = completion.map_err(|e| thread_failed(&e))?;
        let _ = shared.completion_thread.set(completion.thread().id());
        threads.push(completion);
        let mut workers = 0;
        let mut started = Ok(());
        for i in 0..shared.config.workers {
            let (s, rx) = (shared.clone(), dispatch_rx.clone());
            match spawn(format!("rlc-worker-{i}"), Box::new(move || run_worker(s, rx))) {
                Ok(handle) => {
                    threads.push(handle);
                    workers += 1;
                }
                Err(e) => {
                    started = Err(e);
                    break;
                }
            }
        }
        if started.is_ok() {
            let s = shared.clone();
            match spawn("rlc-scheduler".into(), Box::new(move || s.run_scheduler())) {
                Ok(handle) => threads.push(handle),
                Err(e) => started = Err(e),
            }
        }
        if let (Ok(()), Some(lease)) = (&started, redis) {
            let host = LeaseHost(Arc::downgrade(&shared));
            match spawn("rlc-redis-lease".into(), Box::new(move || lease.run(&host))) {
                Ok(handle) => threads.push(handle),
                Err(e) => {
                    // The scheduler runs: a shutdown stops it and the other threads.
                    shared.begin_shutdown();
                    for handle in threads {
                        let _ = handle.join();
                    }
                    return Err(thread_failed(&e));
                }
            }
        }
        if let Err(e) = started {
            // No scheduler runs: stop what did start ourselves, then join it.
            for _ in 0..workers {
                let _ = shared.dispatch.send(WorkerMsg::Stop);
            }
            shared.completions.stop();
            for handle in threads {
                let _ = handle.join();
            }
            return Err(thread_failed(&e));
        }
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
        self.try_submit_tagged(request, None, priority, callback)
    }

    /// [`Client::submit`] of a request named `tag` in the application's own terms (an
    /// order number, a file name): with a journal, the tag is kept with the request
    /// and handed back by [`Client::recover`] in the next process, since callbacks and
    /// what they capture die with the process. At most 4 KiB.
    pub fn submit_tagged(
        &self,
        request: Request,
        tag: &str,
        priority: i32,
        callback: impl FnOnce(RequestId, Result<Response>) + Send + 'static,
    ) -> Result<RequestId> {
        self.try_submit_tagged(request, Some(tag), priority, Box::new(callback)).map_err(|(e, _)| e)
    }

    /// [`Client::try_submit`] with a tag (see [`Client::submit_tagged`]).
    pub fn try_submit_tagged(
        &self,
        request: Request,
        tag: Option<&str>,
        priority: i32,
        callback: Callback,
    ) -> std::result::Result<RequestId, (Error, Callback)> {
        if let Some(Err(e)) = tag.map(journal::check_tag) {
            return Err((e, callback));
        }
        // A target the HTTP layer would refuse is refused here, at submit: it never
        // takes a token, nor becomes a breaker's probe.
        if let Err(e) = check_target(&request.target, self.shared.config.base_url.as_deref()) {
            return Err((e, callback));
        }
        match &self.shared.journal {
            Some(journal) => self.submit_journaled(journal, request, tag, priority, callback),
            None => self.shared.enqueue(request, priority, callback),
        }
    }

    /// A submit with a journal: the request is on disk before it is queued (and
    /// before this returns), and leaves it once its callback has run.
    fn submit_journaled(
        &self,
        journal: &Arc<Journal>,
        mut request: Request,
        tag: Option<&str>,
        priority: i32,
        callback: Callback,
    ) -> std::result::Result<RequestId, (Error, Callback)> {
        // Refusals that can be told now cost no disk write.
        if let Err(e) = self.shared.admits(&request) {
            return Err((e, callback));
        }
        let row = journal.next_id();
        let entry = journal::to_row(row, &mut request, tag, priority, SystemTime::now());
        if let Err(e) = journal.append(entry) {
            return Err((e, callback));
        }
        let callback: Callback = Box::new(journal::remove_after(journal.clone(), row, callback));
        self.shared.enqueue(request, priority, callback).map_err(|refused| {
            // Refused after all (the client began closing meanwhile): the row goes.
            journal.remove(row);
            let _ = journal.sync();
            refused
        })
    }

    /// Queues every request that the journal holds from an earlier process, with
    /// `priority`, oldest first; returns how many. `callback` is called exactly once
    /// for each, on the completion thread, with the request's tag (`None` if it had
    /// none). A request whose deadline passed while no process ran completes with
    /// `Timeout`, unsent. Only the first call recovers anything; later calls return 0.
    /// `InvalidState` without a journal; `Shutdown` when the client is closing and
    /// nothing was queued (if it began closing midway, the count of those queued,
    /// which complete with `Shutdown`; the rest stay in the journal).
    pub fn recover<F>(&self, priority: i32, callback: F) -> Result<usize>
    where
        F: Fn(RequestId, Option<&str>, Result<Response>) + Send + Sync + 'static,
    {
        let Some(journal) = &self.shared.journal else {
            return Err(Error::new(ErrorKind::InvalidState, "the client has no journal"));
        };
        let Some(rows) = journal.take_leftovers() else { return Ok(0) };
        let callback = Arc::new(callback);
        let now = SystemTime::now();
        let mut count = 0;
        let mut rows = rows.into_iter();
        while let Some(row) = rows.next() {
            let id = row.id;
            let (request, tag) = journal::from_row(row, now);
            let callback = callback.clone();
            let callback: Callback =
                Box::new(journal::remove_after(journal.clone(), id, move |rid, result| {
                    callback(rid, tag.as_deref(), result)
                }));
            let queued = match request {
                Some(request) => self.shared.enqueue_recovered(request, priority, callback),
                None => self.shared.complete_expired(callback),
            };
            if let Err((e, _)) = queued {
                // Closing: what was not queued stays in the journal (and in memory, for
                // a later call). An error only when nothing was queued, so that a
                // caller never has callbacks coming for a call that failed.
                journal.return_leftovers(rows.collect());
                return if count == 0 { Err(e) } else { Ok(count) };
            }
            count += 1;
        }
        Ok(count)
    }

    /// The journal's counters, when the client has one.
    pub fn journal_stats(&self) -> Option<JournalStats> {
        self.shared.journal.as_ref().map(|j| j.stats())
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
    /// would deadlock the completion thread (or hold a worker that may be the one
    /// that has to answer).
    pub fn send(&self, request: Request, priority: i32) -> Result<Response> {
        self.send_tagged(request, None, priority)
    }

    /// [`Client::send`] with a tag (see [`Client::submit_tagged`]).
    pub fn send_tagged(
        &self,
        request: Request,
        tag: Option<&str>,
        priority: i32,
    ) -> Result<Response> {
        if self.in_callback() {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "a blocking send inside a callback would deadlock; use submit",
            ));
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let callback: Callback = Box::new(move |_, result| {
            let _ = tx.send(result);
        });
        self.try_submit_tagged(request, tag, priority, callback).map_err(|(e, _)| e)?;
        rx.recv().unwrap_or_else(|_| Err(Error::new(ErrorKind::Panic, "the completion was lost")))
    }

    /// Cancels a request: a queued one completes as cancelled at once; one in
    /// flight completes as cancelled when its attempt ends.
    pub fn cancel(&self, id: RequestId) -> Result<()> {
        self.shared.cancel(id)
    }

    /// Changes the primary rate limit of the running client, atomically: the tokens
    /// it holds carry over (up to the new burst, which is `max_requests`), none is
    /// lost or invented, and requests waiting for a token see the new rate at once.
    /// Adds a limit when there was none. A `LimitChanged` event reports it.
    pub fn set_rate_limit(&self, max_requests: u32, window: std::time::Duration) -> Result<()> {
        self.shared.set_rate_limit(max_requests, window)
    }

    /// A snapshot of the counters, gauges and latency percentiles.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics()
    }

    /// The metrics in the Prometheus text exposition format (version 0.0.4): names
    /// prefixed `rlc_`, each sample labelled `client` with the [`Config::name`],
    /// counters ending `_total`, durations in seconds, latencies as histograms.
    pub fn metrics_prometheus(&self) -> String {
        let snapshot = self.shared.metrics();
        let histograms = self.shared.metrics.histograms();
        crate::metrics::prometheus_text(&self.shared.config.name, &snapshot, histograms)
    }

    /// Closes the client and drops it. Inside one of its own callbacks it cannot wait,
    /// and the callbacks still queued may use it (a submit from them must get
    /// `Shutdown`, not a freed client): it is then kept alive until the completion
    /// thread has run the last callback, and dropped there.
    ///
    /// In a callback run on a worker (see [`Config::callbacks_on_workers`]), a
    /// short-lived thread drops it instead: it waits for that worker, which has still
    /// to return from the callback.
    pub fn free(self: Box<Self>) {
        self.shared.begin_shutdown();
        if self.shared.is_completion_thread() {
            let shared = self.shared.clone();
            *shared.freed_in_callback.lock() = Some(self);
        } else if self.shared.in_inline_callback() {
            let holder = std::sync::Arc::new(Mutex::new(Some(self)));
            let dropper = holder.clone();
            let spawned = std::thread::Builder::new()
                .name("rlc-free".into())
                .spawn(move || drop(dropper.lock().take()));
            if spawned.is_err() {
                // No thread to wait in: the completion thread drops it when it ends
                // (it has the last callbacks to run, and the threads detach).
                let client = holder.lock().take();
                if let Some(client) = client {
                    let shared = client.shared.clone();
                    *shared.freed_in_callback.lock() = Some(client);
                }
            }
        }
    }

    /// Stops intake, completes queued requests as shut down, waits for those in
    /// flight, delivers every callback and joins every thread. Idempotent. Inside a
    /// callback it does all but the waiting: the threads finish on their own.
    pub fn close(&self) {
        self.shared.begin_shutdown();
        if self.in_callback() {
            return;
        }
        let mut threads = self.threads.lock();
        for handle in threads.drain(..) {
            let _ = handle.join();
        }
        // Every callback has run and its removal is written: let go of the file.
        if let Some(journal) = &self.shared.journal {
            journal.close();
        }
    }

    /// The shared limit's state and counters ([`crate::RedisState::Off`] without one).
    pub fn redis_status(&self) -> crate::RedisStatus {
        self.shared.redis_status()
    }

    /// True when called inside one of this client's callbacks (on its completion
    /// thread, or on a worker with [`Config::callbacks_on_workers`]).
    pub fn in_callback(&self) -> bool {
        self.shared.is_completion_thread() || self.shared.in_inline_callback()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

/// What the lease thread of a shared limit asks of its client. It holds the client
/// weakly: a lease thread never keeps a closed client alive.
struct LeaseHost(Weak<Shared>);

impl crate::redis::Host for LeaseHost {
    fn now(&self) -> crate::clock::Nanos {
        self.0.upgrade().map_or(0, |s| s.clock.now())
    }

    fn demand(&self) -> u64 {
        self.0.upgrade().map_or(0, |s| s.queued() as u64)
    }

    fn wake(&self) {
        if let Some(s) = self.0.upgrade() {
            // Taking the lock first: the scheduler is either waiting already or will
            // see the new tokens before it waits, so the wake-up cannot be lost.
            drop(s.lock());
            s.wake.notify_one();
        }
    }

    fn pause(&self, pause: std::time::Duration) {
        if let Some(s) = self.0.upgrade() {
            s.shared_pause(pause);
        }
    }

    fn event(&self, event: crate::Event) {
        if let Some(s) = self.0.upgrade() {
            s.emit_event(event);
        }
    }
}

/// Starts a named thread; `Client::start` takes one so that tests can make it fail.
type Spawner<'a> =
    dyn FnMut(String, Box<dyn FnOnce() + Send>) -> std::io::Result<JoinHandle<()>> + 'a;

fn thread_failed(e: &std::io::Error) -> Error {
    Error::new(ErrorKind::InvalidState, format!("could not start a thread: {e}"))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use mock_api::{MockApi, MockOptions};

    use super::*;
    use crate::worker::TEST_PANIC_MARKER;
    use crate::{BreakerConfig, BreakerState, RetryPolicy};

    fn config(url: &str, workers: u32) -> Config {
        let mut c = Config::new();
        c.base_url(url).unwrap().workers(workers).unwrap();
        c.retry(RetryPolicy { max_retries: 0, ..RetryPolicy::default() }).unwrap();
        c
    }

    #[test]
    fn a_thread_that_cannot_start_leaves_no_thread_behind() {
        let workers = 3;
        // Fail each start in turn: the completion thread, each worker, the scheduler.
        for failing in 0..workers as usize + 2 {
            let live = Arc::new(AtomicUsize::new(0));
            let mut started = 0;
            let mut spawn = |name: String, body: Box<dyn FnOnce() + Send>| {
                if started == failing {
                    return Err(std::io::Error::other("no more threads (injected)"));
                }
                started += 1;
                let live = live.clone();
                live.fetch_add(1, Ordering::SeqCst);
                thread::Builder::new().name(name).spawn(move || {
                    body();
                    live.fetch_sub(1, Ordering::SeqCst);
                })
            };
            let mut cfg = Config::new();
            cfg.workers(workers).unwrap();
            let err = Client::start(cfg, &mut spawn).err().expect("the start fails");
            assert_eq!(err.kind(), ErrorKind::InvalidState);
            assert!(err.message().contains("injected"), "{}", err.message());
            // Joined before the error came back: none of them may still run.
            assert_eq!(live.load(Ordering::SeqCst), 0, "failing start #{failing}");
        }
    }

    #[test]
    fn a_panic_in_an_attempt_completes_that_request_and_the_worker_lives_on() {
        let server = MockApi::start(MockOptions::default());
        let client = Client::new(config(&server.url(), 1)).unwrap();
        // More panics than workers: with a dying worker the later ones never complete.
        for _ in 0..3 {
            let err = client.send(Request::new("GET", TEST_PANIC_MARKER).unwrap(), 0).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Panic);
            assert!(err.message().contains("injected by a test"), "{}", err.message());
        }
        assert_eq!(client.send(Request::new("GET", "/ok").unwrap(), 0).unwrap().status(), 200);
        let m = client.metrics();
        assert_eq!((m.worker_panics, m.in_flight, m.other_errors), (3, 0, 3));
        assert_eq!(server.stats().received, 1, "a panicked attempt sends nothing");
        client.close();
    }

    #[test]
    fn a_probe_that_panics_gives_the_breaker_its_probe_back() {
        let server = MockApi::start(MockOptions::default());
        let mut cfg = config(&server.url(), 2);
        let recovery = Duration::from_millis(50);
        cfg.circuit_breaker(BreakerConfig { failure_threshold: 1, recovery_timeout: recovery })
            .unwrap();
        let client = Client::new(cfg).unwrap();
        assert_eq!(
            client.send(Request::new("GET", "/status/500").unwrap(), 0).unwrap().status(),
            500
        );
        assert_eq!(client.metrics().breaker_state, BreakerState::Open);
        thread::sleep(recovery * 2);
        let err = client.send(Request::new("GET", TEST_PANIC_MARKER).unwrap(), 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Panic);
        // Not stuck half-open with a probe that will never report: the next request
        // probes, and its success closes the breaker.
        assert_eq!(client.send(Request::new("GET", "/ok").unwrap(), 0).unwrap().status(), 200);
        assert_eq!(client.metrics().breaker_state, BreakerState::Closed);
    }

    #[test]
    fn finished_requests_leave_no_deadline_behind() {
        let server = MockApi::start(MockOptions::default());
        let client = Client::new(config(&server.url(), 4)).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        for _ in 0..1000 {
            let mut req = Request::new("GET", "/ok").unwrap();
            req.deadline(Duration::from_secs(3600)).unwrap();
            let tx = tx.clone();
            client.submit(req, 0, move |_, r| tx.send(r.map(|r| r.status())).unwrap()).unwrap();
        }
        for _ in 0..1000 {
            assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap().unwrap(), 200);
        }
        // One more submit prunes; what is held is bounded, not one per request served.
        let mut req = Request::new("GET", "/ok").unwrap();
        req.deadline(Duration::from_secs(3600)).unwrap();
        assert_eq!(client.send(req, 0).unwrap().status(), 200);
        assert!(client.shared.deadlines_held() <= 64, "{}", client.shared.deadlines_held());
    }
}
