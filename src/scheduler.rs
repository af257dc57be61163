//! The scheduler thread and the state it owns. It alone decides what goes next and
//! when: it pops the best ready request, fails it fast if the breaker is open, waits
//! for a token (and for a free worker, and for a server-requested pause to end), and
//! hands the request to the worker pool. Workers report back through
//! [`Shared::after_attempt`], which retries through the delay heap or completes.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use std::thread::ThreadId;
use std::time::{Duration, SystemTime};

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex, MutexGuard};
use rustc_hash::FxHashMap;
use ureq::http::Uri;

use crate::adaptive::AdaptiveRate;
use crate::backoff::{parse_retry_after, pause_from, retry_delay};
use crate::breaker::{Admission, BreakerState, CircuitBreaker};
use crate::client::Callback;
use crate::clock::{nanos, Clock, MonotonicClock, Nanos};
use crate::completion::{Completion, CompletionQueue};
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::limiter::Limiter;
use crate::metrics::{Gauges, Metrics, MetricsSnapshot};
use crate::outcome::{is_breaker_failure, is_retryable, Attempt};
use crate::queue::{DelayQueue, ReadyKey, ReadyQueue};
use crate::quota::{sourced_quotas, tightest, Quota, Sourced};
use crate::redirect::{describes_body, is_redirect, is_sensitive, next_hop, Hop};
use crate::request::{resolve_url, BaseUrl, Request};
use crate::response::Response;
use crate::retry_budget::RetryBudget;

/// A request on its way through the client.
pub(crate) struct Job {
    /// Its place in the queue; `key.id` is the request's id.
    pub key: ReadyKey,
    pub request: Request,
    pub callback: Callback,
    pub attempts: u32,
    pub submitted_at: Nanos,
    /// When the current attempt was handed to a worker.
    pub sent_at: Nanos,
    pub deadline: Option<Nanos>,
    pub probe: bool,
    /// Where a redirect chain has led, once one is followed (boxed: most requests
    /// never redirect, and a queued request should stay small).
    pub redirected: Option<Box<Redirected>>,
    /// True when the next dispatch follows a redirect rather than making a new attempt.
    pub hop_pending: bool,
    /// The tokens the attempt in flight took, given back to the limiter when it ends.
    pub charged: u32,
    /// The points it took from the cost limits, corrected by the server's report.
    pub charged_points: u32,
}

/// The state of a request that has followed redirects.
pub(crate) struct Redirected {
    /// Where the next attempt goes.
    pub uri: Uri,
    /// The URLs of the chain so far, the first included, to tell a loop.
    pub visited: Vec<Uri>,
    /// True once a hop left the first origin: credentials are no longer sent.
    pub cross_origin: bool,
}

impl Job {
    /// Where the next attempt goes: the request's URL joined to the base URL (checked
    /// at submit, so this does not fail for a request that was accepted), or where
    /// its redirects have led.
    pub fn uri(&self, base: Option<&BaseUrl>) -> Result<Uri, Error> {
        match (&self.redirected, base) {
            (Some(r), _) => Ok(r.uri.clone()),
            (None, Some(base)) => base.resolve(&self.request.target),
            (None, None) => resolve_url(&self.request.target, None),
        }
    }

    /// True once a redirect left the first origin.
    pub fn cross_origin(&self) -> bool {
        self.redirected.as_ref().is_some_and(|r| r.cross_origin)
    }

    /// Turns the job into the next request of its redirect chain; `current` is the
    /// URL that answered with the redirect.
    fn follow(&mut self, current: Uri, hop: Hop, sensitive: &[String]) {
        let redirected = self.redirected.get_or_insert_with(|| {
            Box::new(Redirected {
                uri: current.clone(),
                visited: vec![current],
                cross_origin: false,
            })
        });
        redirected.visited.push(hop.uri.clone());
        redirected.uri = hop.uri;
        redirected.cross_origin |= hop.cross_origin;
        let request = &mut self.request;
        request.method = hop.method;
        if hop.drop_body {
            request.body = Vec::new();
            request.headers.retain(|(name, _)| !describes_body(name));
        }
        if hop.cross_origin {
            request.headers.retain(|(name, _)| !is_sensitive(name, sensitive));
        }
        self.hop_pending = true;
    }
}

/// A live request: queued (the job is here) or in flight (a worker has it).
struct Entry {
    job: Option<Box<Job>>,
    cancelled: bool,
}

/// Messages to the workers.
pub(crate) enum WorkerMsg {
    Run(Box<Job>),
    Stop,
}

/// Everything the scheduler decides with, behind one lock.
pub(crate) struct Core {
    ready: ReadyQueue,
    delayed: DelayQueue,
    deadlines: BinaryHeap<Reverse<(Nanos, u64)>>,
    /// Live requests by id. Ids are the scheduler's own sequence, not an attacker's
    /// choice, so a fast non-keyed hash is safe here (SipHash was a measurable share of
    /// a request's cost).
    table: FxHashMap<u64, Entry>,
    limiter: Limiter,
    breaker: CircuitBreaker,
    retry_budget: RetryBudget,
    /// The primary limit's adaptive rate, when the config asks for one.
    adaptive: Option<AdaptiveRate>,
    /// The primary limit as configured or last changed live: the adaptive ceiling.
    primary: Option<crate::config::RateLimit>,
    /// Requests waiting, ready or for a retry (the queue-size bound counts these).
    queued: usize,
    in_flight: usize,
    paused_until: Nanos,
    /// Since when the head has been held back by the limiter alone.
    demand_since: Option<Nanos>,
    /// When the sleeping scheduler wakes by itself (`Nanos::MAX`: only when woken).
    /// A submit with an earlier deadline wakes it, so that the deadline is armed.
    scheduler_wakes_at: Nanos,
    next_id: u64,
    closing: bool,
    /// The lease of a limit shared through Redis, when one is configured.
    pub(crate) redis: Option<std::sync::Arc<crate::redis::Lease>>,
}

/// State shared by the client handle and its threads.
pub(crate) struct Shared {
    pub config: Config,
    /// The config's base URL, split once for the attempts' URLs.
    pub base: Option<BaseUrl>,
    pub clock: MonotonicClock,
    pub core: Mutex<Core>,
    pub wake: Condvar,
    pub metrics: Metrics,
    pub completions: CompletionQueue,
    pub dispatch: Sender<WorkerMsg>,
    pub agent: ureq::Agent,
    pub completion_thread: OnceLock<ThreadId>,
    /// A client handle freed inside one of its callbacks, kept alive until the last
    /// callback has run (see `Client::free`).
    pub freed_in_callback: Mutex<Option<Box<dyn Send>>>,
    /// The persistent queue, when the config names one.
    pub journal: Option<std::sync::Arc<crate::journal::Journal>>,
}

impl Core {
    pub fn new(config: &Config) -> Self {
        Core {
            ready: ReadyQueue::default(),
            delayed: DelayQueue::default(),
            deadlines: BinaryHeap::new(),
            table: FxHashMap::default(),
            // With a shared limit, the lease enforces the rate limits (locally too, while
            // Redis is away); the limiter keeps only the server's pace and the points.
            limiter: Limiter::with_cost_limits(
                if config.redis.is_some() { &[] } else { &config.rate_limits },
                &config.cost_limits,
            ),
            breaker: CircuitBreaker::new(config.breaker),
            retry_budget: RetryBudget::new(config.retry_budget.0, config.retry_budget.1),
            adaptive: config
                .rate_limits
                .first()
                .filter(|_| config.adaptive)
                .map(|limit| AdaptiveRate::new(limit.max_requests, 0)),
            primary: config.rate_limits.first().copied(),
            queued: 0,
            in_flight: 0,
            paused_until: 0,
            demand_since: None,
            scheduler_wakes_at: Nanos::MAX,
            next_id: 1,
            closing: false,
            redis: None,
        }
    }

    /// The best ready key whose request is still queued; stale keys (cancelled or
    /// timed out) are dropped on the way.
    fn live_head(&mut self) -> Option<ReadyKey> {
        while let Some(key) = self.ready.peek().copied() {
            if self.table.get(&key.id).is_some_and(|e| e.job.is_some()) {
                return Some(key);
            }
            self.ready.pop();
        }
        None
    }

    /// Takes a queued request out of the table.
    fn take_queued(&mut self, id: u64) -> Option<Box<Job>> {
        let job = self.table.get_mut(&id)?.job.take()?;
        self.table.remove(&id);
        self.queued -= 1;
        Some(job)
    }

    /// Whether request `id` is queued (its deadline is the scheduler's to enforce; in
    /// flight, the worker's timeout enforces it).
    fn is_queued(&self, id: u64) -> bool {
        self.table.get(&id).is_some_and(|e| e.job.is_some())
    }

    /// Arms `id`'s deadline, if it has one, for its time in the queue.
    fn arm_deadline(&mut self, deadline: Option<Nanos>, id: u64) {
        if let Some(d) = deadline {
            self.deadlines.push(Reverse((d, id)));
        }
    }

    /// Drops the deadlines of requests that are no longer queued: those at the top at
    /// once (so they wake nobody), and all of them whenever they outnumber the live
    /// requests two to one (so finished requests with long deadlines cost no memory).
    fn prune_deadlines(&mut self) {
        while let Some(&Reverse((_, id))) = self.deadlines.peek() {
            if self.is_queued(id) {
                break;
            }
            self.deadlines.pop();
        }
        if self.deadlines.len() > 64 && self.deadlines.len() > 2 * self.table.len() {
            let table = &self.table;
            self.deadlines
                .retain(|Reverse((_, id))| table.get(id).is_some_and(|e| e.job.is_some()));
        }
    }

    /// The largest cost one request may have: what every limit can hold.
    fn max_cost(&self) -> u32 {
        let local = self.limiter.max_cost();
        self.redis.as_ref().map_or(local, |lease| lease.max_cost().min(local))
    }

    /// The earliest time something queued needs attention without being woken.
    fn next_timer(&mut self) -> Option<Nanos> {
        self.prune_deadlines();
        let deadline = self.deadlines.peek().map(|Reverse((t, _))| *t);
        match (self.delayed.next_due(), deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What a response says about the server's limits, read from its headers before the
/// scheduler's lock is taken.
struct Feedback {
    quotas: Vec<Sourced>,
    /// A pause the server asks for, and the header that asked.
    pause: Option<(Duration, &'static str)>,
    /// The `Retry-After` hint for this request's own retry.
    retry_after: Option<Duration>,
    /// A 429, or a 503 with `Retry-After`: the adaptive rate's signal.
    throttled: bool,
}

impl Feedback {
    fn read(response: &Response, wall: SystemTime) -> Feedback {
        // A GraphQL THROTTLED answer (HTTP 200) is a throttle like a 429, and its retry
        // waits for the points the server needs to restore.
        let graphql = response.graphql.as_deref().filter(|r| r.throttled);
        let graphql_wait = graphql.and_then(|r| r.refill_time());
        // Most responses carry none of these headers: one pass over the names (already
        // lower case) spares the look-ups by name that would find nothing.
        let speaks_of_limits = response.headers.keys().any(|name| {
            let name = name.as_str();
            name.starts_with("ratelimit")
                || name.starts_with("x-ratelimit")
                || name == "retry-after"
        });
        if !speaks_of_limits {
            return Feedback {
                quotas: Vec::new(),
                pause: None,
                retry_after: graphql_wait,
                throttled: response.status == 429 || graphql.is_some(),
            };
        }
        let header = |name: &str| response.header(name).map(str::to_owned);
        let quotas = sourced_quotas(&header, wall);
        let pause = pause_from(response.status, &header, &quotas, wall);
        let retry_after = response.header("retry-after");
        Feedback {
            throttled: response.status == 429
                || response.status == 503 && retry_after.is_some()
                || graphql.is_some(),
            retry_after: retry_after.and_then(|v| parse_retry_after(v, wall)).or(graphql_wait),
            quotas,
            pause,
        }
    }
}

/// What a worker does after an attempt: the next job it takes, and (callbacks on
/// workers) the completion whose callback it runs first.
pub(crate) struct Step {
    pub next: Option<Box<Job>>,
    pub done: Option<Completion>,
}

thread_local! {
    /// The client (its `Shared`'s address) whose callback this worker is running, 0
    /// when none: inside a callback, `close` must not wait for its own thread.
    static INLINE_CALLBACK_OF: Cell<usize> = const { Cell::new(0) };
}

/// Why the scheduler waits.
enum Wait {
    /// Until notified or the next timer.
    Event,
    /// Until this time at the latest.
    Until(Nanos),
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock()
    }

    /// The completion thread's body: every callback, then the client handle if it
    /// was freed inside one of them.
    pub fn run_completions(&self) {
        // With a journal, a batch's removals reach the disk before the next batch runs.
        let sync_journal = || {
            if let Some(journal) = &self.journal {
                let _ = journal.sync();
            }
        };
        self.completions.run(self.config.on_event.as_ref(), &sync_journal);
        let freed = self.freed_in_callback.lock().take();
        drop(freed);
    }

    pub fn is_completion_thread(&self) -> bool {
        self.completion_thread.get() == Some(&std::thread::current().id())
    }

    /// True inside one of this client's callbacks run on a worker.
    pub fn in_inline_callback(&self) -> bool {
        INLINE_CALLBACK_OF.with(|c| c.get()) == self as *const Shared as usize
    }

    /// Hands an event to the completion thread, when someone watches.
    fn emit(&self, event: impl FnOnce() -> Event) {
        if self.config.on_event.is_some() {
            self.completions.push_event(event());
        }
    }

    /// Emits the breaker's transition, if it made one since it was `before`.
    fn emit_breaker_change(&self, before: BreakerState, core: &Core) {
        let after = core.breaker.stored_state();
        if before != after {
            self.emit(|| Event::Breaker { from: before, to: after });
        }
    }

    /// Hands a final result to the completion thread.
    fn finish(&self, job: Box<Job>, result: Attempt, now: Nanos) {
        let completion = self.completion(job, result, now);
        self.completions.push(completion);
    }

    /// A request's final result, counted, ready for the completion thread.
    fn completion(&self, job: Box<Job>, result: Attempt, now: Nanos) -> Completion {
        let result = match result {
            Ok(mut response) => {
                response.attempts = job.attempts;
                Ok(response)
            }
            Err(e) => Err(e.with_attempts(job.attempts)),
        };
        self.metrics.completed(&result, now.saturating_sub(job.submitted_at));
        Completion { callback: job.callback, id: job.key.id, result }
    }

    /// Why a request of `cost` would be refused now, if it would: counted and
    /// reported as the refusal it is.
    fn refusal(&self, core: &Core, request: &Request, now: Nanos) -> Option<Error> {
        let cost = request.cost;
        if core.closing {
            return Some(Error::new(ErrorKind::Shutdown, "the client is shutting down"));
        }
        if !core.breaker.accepts_submit(now) {
            self.metrics.circuit_open_at_submit();
            self.emit(|| Event::Dropped { id: None, reason: ErrorKind::CircuitOpen });
            return Some(Error::new(ErrorKind::CircuitOpen, "the circuit breaker is open"));
        }
        if cost > core.max_cost() {
            let max = core.max_cost();
            return Some(Error::invalid(format!(
                "the request costs {cost} tokens, more than a rate limit ever holds ({max})"
            )));
        }
        if let Some(points) = request.points.filter(|&p| p > core.limiter.max_points()) {
            let max = core.limiter.max_points();
            return Some(Error::invalid(format!(
                "the GraphQL query costs {points} points, more than the cost limit ever holds ({max})"
            )));
        }
        if core.queued >= self.config.max_queue_size {
            self.metrics.queue_full();
            self.emit(|| Event::Dropped { id: None, reason: ErrorKind::QueueFull });
            return Some(Error::new(
                ErrorKind::QueueFull,
                format!("the queue holds {} requests already", core.queued),
            ));
        }
        None
    }

    /// Whether `request` would be accepted now (the journal asks before it writes
    /// one, so that a refusal costs no disk write).
    pub fn admits(&self, request: &Request) -> Result<(), Error> {
        let now = self.clock.now();
        let core = self.lock();
        self.refusal(&core, request, now).map_or(Ok(()), Err)
    }

    /// Accepts a request into the queue, or refuses it at once.
    pub fn enqueue(
        &self,
        request: Request,
        priority: i32,
        callback: Callback,
    ) -> Result<u64, (Error, Callback)> {
        self.enqueue_as(request, priority, callback, false)
    }

    /// Queues a request recovered from the journal: it was accepted once already, so
    /// neither the queue bound nor the breaker refuses it (only a closing client does).
    pub fn enqueue_recovered(
        &self,
        request: Request,
        priority: i32,
        callback: Callback,
    ) -> Result<u64, (Error, Callback)> {
        self.enqueue_as(request, priority, callback, true)
    }

    /// Completes a recovered request whose deadline passed while no process ran:
    /// with `Timeout`, unsent, on the completion thread like any other.
    pub fn complete_expired(&self, callback: Callback) -> Result<u64, (Error, Callback)> {
        let mut core = self.lock();
        if core.closing {
            return Err((Error::new(ErrorKind::Shutdown, "the client is shutting down"), callback));
        }
        let id = core.next_id;
        core.next_id += 1;
        self.metrics.submitted();
        self.emit(|| Event::Dropped { id: Some(id), reason: ErrorKind::Timeout });
        let result = Err(Error::new(
            ErrorKind::Timeout,
            "the request's deadline passed while no process ran it (recovered from the journal)",
        ));
        self.metrics.completed(&result, 0);
        // Under the lock: a shutdown cannot stop the completion thread between the
        // check above and this push (nothing is in flight to hold it).
        self.completions.push(Completion { callback, id, result });
        drop(core);
        Ok(id)
    }

    fn enqueue_as(
        &self,
        request: Request,
        priority: i32,
        callback: Callback,
        recovered: bool,
    ) -> Result<u64, (Error, Callback)> {
        let now = self.clock.now();
        let mut core = self.lock();
        let refused = if recovered {
            core.closing.then(|| Error::new(ErrorKind::Shutdown, "the client is shutting down"))
        } else {
            self.refusal(&core, &request, now)
        };
        if let Some(e) = refused {
            return Err((e, callback));
        }
        let id = core.next_id;
        core.next_id += 1;
        let key = ReadyKey { priority, id };
        let deadline = request.deadline.map(|d| now.saturating_add(nanos(d)));
        let job = Job {
            key,
            request,
            callback,
            attempts: 0,
            submitted_at: now,
            sent_at: now,
            deadline,
            probe: false,
            redirected: None,
            hop_pending: false,
            charged: 0,
            charged_points: 0,
        };
        // The scheduler needs waking when it may be idle (nothing was ready and a
        // worker is free), or when this deadline comes before it would wake by itself:
        // otherwise, with every worker busy, the first to finish takes this request
        // itself (`after_attempt`), and a wake-up would be wasted.
        let idle = core.ready.is_empty() && core.in_flight < self.config.workers as usize;
        let wake_scheduler = idle || deadline.is_some_and(|d| d < core.scheduler_wakes_at);
        core.table.insert(id, Entry { job: Some(Box::new(job)), cancelled: false });
        core.arm_deadline(deadline, id);
        core.prune_deadlines();
        core.ready.push(key);
        core.queued += 1;
        self.metrics.submitted();
        drop(core);
        if wake_scheduler {
            self.wake.notify_one();
        }
        Ok(id)
    }

    /// Cancels a queued request at once, or marks one in flight so that it completes
    /// as cancelled when its attempt ends.
    pub fn cancel(&self, id: u64) -> Result<(), Error> {
        let now = self.clock.now();
        let mut core = self.lock();
        let unknown = || Error::new(ErrorKind::UnknownRequest, format!("no pending request {id}"));
        let entry = core.table.get_mut(&id).ok_or_else(unknown)?;
        if entry.job.is_none() {
            if entry.cancelled {
                return Err(unknown());
            }
            entry.cancelled = true;
            return Ok(());
        }
        let job = core.take_queued(id).expect("queued entry has its job");
        self.finish(job, Err(Error::new(ErrorKind::Cancelled, "cancelled while queued")), now);
        Ok(())
    }

    /// Stops intake and completes every queued request as shut down. Requests in
    /// flight finish on their own; the scheduler then stops the other threads.
    pub fn begin_shutdown(&self) {
        let now = self.clock.now();
        let mut core = self.lock();
        if !core.closing {
            core.closing = true;
            if let Some(lease) = &core.redis {
                lease.stop();
            }
            let core = &mut *core;
            let ids: Vec<u64> =
                core.ready.drain().chain(core.delayed.drain()).map(|k| k.id).collect();
            core.deadlines.clear();
            for id in ids {
                if let Some(job) = core.take_queued(id) {
                    let err =
                        Error::new(ErrorKind::Shutdown, "the client shut down before sending");
                    self.finish(job, Err(err), now);
                }
            }
        }
        drop(core);
        self.wake.notify_all();
    }

    /// How many deadlines the scheduler holds, live or stale (for tests of its pruning).
    #[cfg(test)]
    pub fn deadlines_held(&self) -> usize {
        self.lock().deadlines.len()
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        let now = self.clock.now();
        let core = self.lock();
        let gauges = Gauges {
            queue_depth: core.queued as u64,
            in_flight: core.in_flight as u64,
            breaker_state: core.breaker.state(now),
            breaker_transitions: core.breaker.transitions(),
            paused_ms: core.paused_until.saturating_sub(now) / 1_000_000,
            tokens_available: core.limiter.tokens_available(now),
            rate_limit: core.limiter.primary_max().unwrap_or(0),
        };
        drop(core);
        self.metrics.snapshot(gauges)
    }

    /// The shared limit's metrics.
    pub fn redis_status(&self) -> crate::redis::RedisStatus {
        let now = self.clock.now();
        let lease = self.lock().redis.clone();
        lease.map_or(crate::redis::RedisStatus::OFF, |l| l.status(now))
    }

    /// Hands an event from outside the scheduler (the lease thread) to the watcher.
    pub fn emit_event(&self, event: Event) {
        self.emit(|| event);
    }

    /// The requests waiting now.
    pub fn queued(&self) -> usize {
        self.lock().queued
    }

    /// Extends the client's pause to `pause` from now (a pause shared through Redis).
    pub fn shared_pause(&self, pause: Duration) {
        let now = self.clock.now();
        let mut core = self.lock();
        core.paused_until = core.paused_until.max(now.saturating_add(nanos(pause)));
    }

    /// The scheduler thread's loop.
    pub fn run_scheduler(&self) {
        let mut core = self.lock();
        loop {
            let wait = if core.closing {
                if core.in_flight == 0 {
                    break;
                }
                Wait::Event
            } else {
                self.schedule(&mut core)
            };
            let timer = core.next_timer();
            let until = match wait {
                Wait::Until(t) => Some(timer.map_or(t, |x| x.min(t))),
                Wait::Event => timer,
            };
            core.scheduler_wakes_at = until.unwrap_or(Nanos::MAX);
            match until {
                Some(t) => {
                    self.wake.wait_until(&mut core, self.clock.instant_at(t));
                }
                None => self.wake.wait(&mut core),
            }
            core.scheduler_wakes_at = Nanos::MAX;
        }
        drop(core);
        for _ in 0..self.config.workers {
            let _ = self.dispatch.send(WorkerMsg::Stop);
        }
        self.completions.stop();
    }

    /// Dispatches everything that may go now; says how long to wait for the rest.
    fn schedule(&self, core: &mut Core) -> Wait {
        loop {
            match self.next_job(core) {
                Ok(job) => {
                    let _ = self.dispatch.send(WorkerMsg::Run(job));
                }
                Err(wait) => return wait,
            }
        }
    }

    /// The one decision of what goes next: the best ready request, if the breaker,
    /// a free worker, the server's pause and the limiter all let it go now. Requests
    /// the open breaker rejects are completed on the way. The scheduler thread calls
    /// this to feed the workers; a worker that has just finished an attempt calls it
    /// too, under the same lock, to take its next job without two thread hand-offs.
    fn next_job(&self, core: &mut Core) -> Result<Box<Job>, Wait> {
        loop {
            let now = self.clock.now();
            self.expire_deadlines(core, now);
            while let Some(key) = core.delayed.pop_due(now) {
                core.ready.push(key);
            }
            let Some(head) = core.live_head() else {
                core.demand_since = None;
                return Err(Wait::Event);
            };
            match core.breaker.peek(now) {
                Admission::Reject => {
                    core.ready.pop();
                    let job = core.take_queued(head.id).expect("live head");
                    self.emit(|| Event::Dropped {
                        id: Some(head.id),
                        reason: ErrorKind::CircuitOpen,
                    });
                    let err = Error::new(ErrorKind::CircuitOpen, "the circuit breaker is open");
                    self.finish(job, Err(err), now);
                    continue;
                }
                Admission::Wait => {
                    core.demand_since = None;
                    return Err(Wait::Event);
                }
                Admission::Allow { .. } => {}
            }
            if core.in_flight >= self.config.workers as usize {
                core.demand_since = None;
                return Err(Wait::Event);
            }
            if core.paused_until > now {
                core.demand_since = None;
                return Err(Wait::Until(core.paused_until));
            }
            let (cost, points) = self.charged_cost(core, head.id);
            // The shared limit first (it charges nothing it cannot give back).
            let shared = match &core.redis {
                Some(lease) => match lease.try_take(now, cost, core.queued) {
                    Ok(taken) => Some(taken),
                    Err(t) => {
                        core.demand_since = None;
                        return Err(t.map_or(Wait::Event, Wait::Until));
                    }
                },
                None => None,
            };
            let demand = *core.demand_since.get_or_insert(now);
            let credited = match core.limiter.try_acquire_weighted(now, demand, cost, points) {
                Ok(credited) => credited,
                Err(t) => {
                    if let (Some(lease), Some(taken)) = (&core.redis, shared) {
                        lease.refund(now, taken);
                    }
                    return Err(Wait::Until(t));
                }
            };
            core.demand_since = Some(credited);
            core.ready.pop();
            let before = core.breaker.stored_state();
            let probe = matches!(core.breaker.admit(now), Admission::Allow { probe: true });
            self.emit_breaker_change(before, core);
            let entry = core.table.get_mut(&head.id).expect("live head");
            let mut job = entry.job.take().expect("live head");
            core.queued -= 1;
            core.in_flight += 1;
            if job.attempts == 0 {
                self.metrics.queue_wait(now.saturating_sub(job.submitted_at));
                core.retry_budget.first_attempt(now);
            }
            // A redirect hop is the same attempt going on; it still took its token.
            if !std::mem::take(&mut job.hop_pending) {
                job.attempts += 1;
            }
            job.probe = probe;
            job.sent_at = now;
            job.charged = cost;
            job.charged_points = points;
            return Ok(job);
        }
    }

    /// The tokens and points queued request `id` takes: its weights, but never more
    /// than the limits can hold (a live limit change may have lowered a burst below
    /// them, and it must not wait for ever). No look-up at all when nothing is limited.
    fn charged_cost(&self, core: &Core, id: u64) -> (u32, u32) {
        if core.limiter.is_unlimited() && core.redis.is_none() {
            return (1, 1);
        }
        let job = core.table.get(&id).and_then(|e| e.job.as_ref());
        let (cost, points) = job.map_or((1, 1), |j| j.request.weights());
        (cost.min(core.max_cost()), points.min(core.limiter.max_points()))
    }

    /// Applies what a GraphQL server reported about the query that just ended: the
    /// charge corrected to its actual cost (all of it back when it was throttled and
    /// did not run), the point bucket lowered to what the server says is left, and a
    /// throttled answer without a cost limit pausing the client until the server has
    /// refilled the points it asked for. Returns whether it was throttled.
    fn graphql_feedback(
        &self,
        core: &mut Core,
        now: Nanos,
        job: &Job,
        report: &crate::graphql::Report,
    ) -> bool {
        let actual = if report.throttled { Some(0) } else { report.actual };
        if let Some(actual) = actual {
            core.limiter.correct_points(now, job.charged_points, actual);
        }
        if let Some(available) = report.available {
            core.limiter.hold_points_at_most(now, available);
        }
        if report.throttled && !core.limiter.has_points() {
            if let Some(wait) = report.refill_time() {
                let pause = self.capped_pause(wait);
                core.paused_until = core.paused_until.max(now.saturating_add(nanos(pause)));
                self.metrics.server_pause();
            }
        }
        self.metrics.graphql(report.actual.unwrap_or(0), report.throttled, report.errors.is_some());
        report.throttled
    }

    fn expire_deadlines(&self, core: &mut Core, now: Nanos) {
        while let Some(&Reverse((deadline, id))) = core.deadlines.peek() {
            if deadline > now {
                break;
            }
            core.deadlines.pop();
            if let Some(job) = core.take_queued(id) {
                self.emit(|| Event::Dropped { id: Some(id), reason: ErrorKind::Timeout });
                let err =
                    Error::new(ErrorKind::Timeout, "the request's deadline passed while queued");
                self.finish(job, Err(err), now);
            }
        }
    }

    /// Feeds an answer to the adaptive rate, if there is one, and applies its change.
    fn adapt(&self, core: &mut Core, now: Nanos, throttled: bool) {
        let Some(adaptive) = core.adaptive.as_mut() else { return };
        let changed = if throttled { adaptive.on_throttle(now) } else { adaptive.on_answer(now) };
        let (Some(max_requests), Some(first)) = (changed, core.primary.as_ref()) else {
            return;
        };
        let limit = crate::config::RateLimit {
            max_requests,
            burst: first.burst.min(max_requests),
            ..*first
        };
        core.limiter.set_primary(&limit, now);
        self.emit(|| Event::LimitChanged { max_requests, window: first.window });
    }

    /// Replaces the primary rate limit of the running client at once, keeping the
    /// tokens it held (up to the new burst) and its strictness.
    pub fn set_rate_limit(&self, max_requests: u32, window: Duration) -> Result<(), Error> {
        let mut limit = crate::config::RateLimit::new(max_requests, window)?;
        limit.strict = self.config.rate_limits.first().is_some_and(|l| l.strict);
        let now = self.clock.now();
        let mut core = self.lock();
        core.limiter.set_primary(&limit, now);
        core.primary = Some(limit);
        if core.adaptive.is_some() {
            // The new limit is the new ceiling, and adapting starts over from it.
            core.adaptive = Some(AdaptiveRate::new(max_requests, now));
        }
        self.emit(|| Event::LimitChanged { max_requests, window });
        drop(core);
        // The head may go sooner (or later) than the scheduler's timer says.
        self.wake.notify_one();
        Ok(())
    }

    /// The longest pause a server may impose; a longer one is cut, and counted.
    fn capped_pause(&self, pause: Duration) -> Duration {
        if pause > self.config.max_server_pause {
            self.metrics.server_pause_capped();
            self.config.max_server_pause
        } else {
            pause
        }
    }

    /// Records an attempt's outcome, follows a redirect, schedules a retry or
    /// completes, and hands the worker its next job when one may go now.
    /// `reached_network` is false when the attempt ended before anything was sent
    /// (its deadline passed, or it panicked): the breaker then learns nothing from it.
    ///
    /// What the response says (quota headers, pauses, a redirect's next hop) is read
    /// before the lock is taken, and the completion is queued after it is let go: the
    /// lock is held only for the decisions that every thread shares.
    pub fn after_attempt(
        &self,
        mut job: Box<Job>,
        attempt: Attempt,
        reached_network: bool,
    ) -> Step {
        let wall = SystemTime::now();
        let feedback = attempt.as_ref().ok().map(|response| Feedback::read(response, wall));
        let hop = match &attempt {
            Ok(response) if is_redirect(response.status) => self.next_hop(&job, response),
            _ => Ok(None),
        };
        let now = self.clock.now();
        let mut core = self.lock();
        core.in_flight -= 1;
        self.metrics.attempt(now.saturating_sub(job.sent_at));
        core.limiter.release_cost(now, job.charged);
        let before = core.breaker.stored_state();
        if reached_network {
            core.breaker.record(now, job.probe, is_breaker_failure(&attempt));
        } else if job.probe {
            core.breaker.release_probe();
        }
        self.emit_breaker_change(before, &core);
        let mut retry_after = None;
        let mut graphql_throttled = false;
        if let Some(report) = attempt.as_ref().ok().and_then(|r| r.graphql.as_deref()) {
            graphql_throttled = self.graphql_feedback(&mut core, now, &job, report);
        }
        if let (Ok(response), Some(feedback)) = (&attempt, feedback) {
            self.apply_feedback(&mut core, now, response.status, &feedback);
            retry_after = feedback.retry_after;
        }
        let cancelled = core.table.get(&job.key.id).is_some_and(|e| e.cancelled);
        let live = !cancelled && !core.closing;
        let hop = if cancelled { Ok(None) } else { hop };
        let attempt = match hop {
            // A redirect the client would follow is no answer: closing, it ends here.
            Ok(Some(_)) if core.closing => Err(Error::new(
                ErrorKind::Shutdown,
                "the client shut down before following a redirect",
            )),
            Ok(Some((current, hop))) => {
                job.follow(current, hop, &self.config.sensitive_headers);
                self.metrics.redirect();
                self.requeue(&mut core, job, None);
                return self.next_for_worker(core, None);
            }
            Ok(None) => attempt,
            Err(refused) => Err(refused),
        };
        let policy = &self.config.retry;
        let max_retries = job.request.max_retries.unwrap_or(policy.max_retries);
        // A THROTTLED query did not run, so even a mutation may go again.
        let mut wants_retry = live
            && (is_retryable(&attempt, &self.config.retry_statuses) && job.request.may_retry()
                || graphql_throttled)
            && job.attempts <= max_retries;
        if wants_retry && !core.retry_budget.try_retry(now) {
            self.metrics.retry_budget_exhausted();
            wants_retry = false;
        }
        let delay = wants_retry.then(|| {
            let hint = retry_after.map(|hint| self.capped_pause(hint));
            retry_delay(policy, job.attempts - 1, hint, &mut rand::thread_rng())
        });
        let mut done = None;
        match delay.map(|d| (d, now.saturating_add(nanos(d)))) {
            Some((delay, t)) if job.deadline.map_or(true, |d| t < d) => {
                self.emit(|| Event::Retry {
                    id: job.key.id,
                    attempt: job.attempts,
                    delay,
                    status: attempt.as_ref().map_or(0, |r| r.status),
                    error: attempt.as_ref().err().map(Error::kind),
                });
                self.requeue(&mut core, job, Some(t));
                self.metrics.retry();
            }
            _ => {
                core.table.remove(&job.key.id);
                let result = if cancelled {
                    Err(Error::new(ErrorKind::Cancelled, "cancelled while in flight"))
                } else {
                    attempt
                };
                done = Some(self.completion(job, result, now));
            }
        }
        self.next_for_worker(core, done)
    }

    /// Where a redirect answer leads, if the client follows it (`None`: the 3xx is
    /// the answer); an error when it must not be followed.
    #[allow(clippy::type_complexity)]
    fn next_hop(&self, job: &Job, response: &Response) -> Result<Option<(Uri, Hop)>, Error> {
        let current = job.uri(self.base.as_ref())?;
        let visited = job.redirected.as_ref().map_or(&[][..], |r| &r.visited[..]);
        let hop = next_hop(
            &self.config.redirects,
            &current,
            &job.request.method,
            response.status,
            response.header("location"),
            visited,
        )?;
        Ok(hop.map(|hop| (current, hop)))
    }

    /// Applies what a response said about the server's limits: paces the limiter
    /// from its quota, teaches the adaptive rate, and pauses the client when asked.
    fn apply_feedback(&self, core: &mut Core, now: Nanos, status: u16, feedback: &Feedback) {
        if let Some(quota) = tightest(&feedback.quotas) {
            // Spread what the server has left until its reset, within the cap.
            let reset = quota.reset.min(self.config.max_server_pause);
            if let Some(interval) = (Quota { reset, ..quota }).interval() {
                core.limiter.pace(now, interval, reset, quota.remaining);
            }
        }
        self.adapt(core, now, feedback.throttled && feedback.quotas.is_empty());
        if let Some((asked, source)) = feedback.pause {
            let pause = self.capped_pause(asked);
            core.paused_until = core.paused_until.max(now.saturating_add(nanos(pause)));
            if let Some(lease) = &core.redis {
                lease.share_pause(pause);
            }
            self.metrics.server_pause();
            self.emit(|| Event::Pause {
                duration: pause,
                status,
                header: source,
                capped: pause < asked,
            });
        }
    }

    /// Puts a job that was in flight back in the queue: ready at once, or in the
    /// delay heap until `not_before`. It keeps its id, so its place among equals.
    fn requeue(&self, core: &mut Core, mut job: Box<Job>, not_before: Option<Nanos>) {
        match not_before {
            Some(t) => core.delayed.push(t, job.key),
            None => core.ready.push(job.key),
        }
        core.queued += 1;
        job.probe = false;
        let (id, deadline) = (job.key.id, job.deadline);
        core.table.get_mut(&id).expect("in-flight entry").job = Some(job);
        core.arm_deadline(deadline, id);
    }

    /// The job a worker that has just finished an attempt takes next, if one may go
    /// now; wakes the scheduler when it has something to do that this worker does not.
    /// `done`, the attempt's completion if it was the last, is queued once the lock is
    /// let go, or handed back for the worker to run when callbacks run on workers.
    fn next_for_worker(&self, mut core: MutexGuard<'_, Core>, done: Option<Completion>) -> Step {
        let (done, inline) = match done {
            Some(done) if self.config.callbacks_on_workers => (None, Some(done)),
            done => (done, None),
        };
        if core.closing {
            drop(core);
            if let Some(done) = done {
                self.completions.push(done);
            }
            self.wake.notify_one();
            return Step { next: None, done: inline };
        }
        let next = self.next_job(&mut core).ok();
        // With nothing left for this worker, the scheduler may be waiting for a free
        // worker (it now has one) or have a retry's timer to set. With a job taken
        // while further workers are free (the breaker has just closed, say), more may
        // go now, and only the scheduler hands them out. With nothing queued at all
        // there is nothing for it to do.
        let workers_free = core.in_flight < self.config.workers as usize;
        let wake_scheduler = core.queued > 0 && (next.is_none() || workers_free);
        drop(core);
        if let Some(done) = done {
            self.completions.push(done);
        }
        if wake_scheduler {
            self.wake.notify_one();
        }
        Step { next, done: inline }
    }

    /// Runs a completion's callback on this worker (callbacks on workers), marked as
    /// inside a callback of this client for as long as it runs.
    pub fn run_inline(&self, done: Completion) {
        let this = self as *const Shared as usize;
        let outer = INLINE_CALLBACK_OF.with(|c| c.replace(this));
        let Completion { callback, id, result } = done;
        // A panicking Rust callback must not take the worker down.
        let _ = catch_unwind(AssertUnwindSafe(|| callback(id, result)));
        INLINE_CALLBACK_OF.with(|c| c.set(outer));
        // With a journal, the request's removal reaches the disk before this worker
        // takes more (commits shared with the other workers' and the submitters').
        if let Some(journal) = &self.journal {
            let _ = journal.sync();
        }
    }
}
