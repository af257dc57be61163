//! The worker threads: each takes a job, makes one blocking `ureq` call on the
//! shared agent, and reports the outcome back to the scheduler's state.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;
use ureq::http;

use crate::clock::Clock;
use crate::error::{panic_message, Error, ErrorKind};
use crate::outcome::{classify_ureq_error, Attempt};
use crate::redirect::is_sensitive;
use crate::resolver::CachingResolver;
use crate::response::Response;
use crate::scheduler::{Job, Shared, WorkerMsg};

/// Methods whose empty body is sent as no body at all (no `Content-Length: 0`).
const BODYLESS_METHODS: [&str; 5] = ["GET", "HEAD", "DELETE", "OPTIONS", "TRACE"];

pub(crate) fn run_worker(shared: Arc<Shared>, jobs: Receiver<WorkerMsg>) {
    while let Ok(WorkerMsg::Run(mut job)) = jobs.recv() {
        loop {
            let (attempt, reached_network) = contained(&shared, &job);
            let step = shared.after_attempt(job, attempt, reached_network);
            if let Some(done) = step.done {
                shared.run_inline(done);
            }
            match step.next {
                Some(next) => job = next,
                None => break,
            }
        }
    }
}

/// One attempt with any panic inside it contained: a panic completes the request as
/// `Panic` and the worker lives on, so no callback is lost, `in_flight` goes down,
/// and a half-open breaker gets its probe slot back.
fn contained(shared: &Shared, job: &Job) -> (Attempt, bool) {
    catch_unwind(AssertUnwindSafe(|| perform(shared, job))).unwrap_or_else(|payload| {
        shared.metrics.worker_panic();
        let message = format!(
            "internal error (a bug in rlc, please report it): the attempt panicked: {}",
            panic_message(&*payload)
        );
        (Err(Error::new(ErrorKind::Panic, message)), false)
    })
}

/// The agent every worker shares, so that keep-alive connections are reused. Its
/// idle pool keeps a connection per worker (ureq's default of 3 per host would make
/// busy workers reconnect).
pub(crate) fn build_agent(config: &crate::Config) -> ureq::Agent {
    let workers = config.workers as usize;
    let mut builder = ureq::Agent::config_builder();
    if let Some(roots) = &config.ca_roots {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(roots.clone()))
            .build();
        builder = builder.tls_config(tls);
    }
    let agent_config = builder
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .timeout_global(Some(config.timeout))
        // Redirects are the scheduler's: each hop takes a token (see redirect.rs).
        .max_redirects(0)
        .max_idle_connections_per_host(workers.max(3))
        .max_idle_connections(workers.max(3) * 4)
        .user_agent(config.user_agent.as_str())
        .build();
    ureq::Agent::with_parts(
        agent_config,
        ureq::unversioned::transport::DefaultConnector::default(),
        CachingResolver::default(),
    )
}

/// Makes one attempt; says whether it reached the network (false when the deadline
/// had passed or the request could not be built, so nothing was sent).
fn perform(shared: &Shared, job: &Job) -> (Attempt, bool) {
    let request = &job.request;
    #[cfg(test)]
    if request.target.contains(TEST_PANIC_MARKER) {
        panic!("injected by a test");
    }
    let mut timeout = request.timeout.unwrap_or(shared.config.timeout);
    if let Some(deadline) = job.deadline {
        let left = Duration::from_nanos(deadline.saturating_sub(shared.clock.now()));
        if left.is_zero() {
            let err =
                Error::new(ErrorKind::Timeout, "the request's deadline passed before it was sent");
            return (Err(err), false);
        }
        timeout = timeout.min(left);
    }
    let config = &shared.config;
    let uri = match job.uri(shared.base.as_ref()) {
        Ok(uri) => uri,
        Err(e) => return (Err(e), false),
    };
    let mut builder = http::Request::builder().method(request.method.as_str()).uri(uri);
    for (name, value) in &config.default_headers {
        let overridden = request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let withheld = job.cross_origin() && is_sensitive(name, &config.sensitive_headers);
        if !overridden && !withheld {
            builder = builder.header(name, value);
        }
    }
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    // The agent already applies the client's timeout; only a different one needs a
    // per-request config (a copy of the agent's).
    let timeout = (timeout != config.timeout).then_some(timeout);
    let agent = &shared.agent;
    let sent = if request.body.is_empty() && BODYLESS_METHODS.contains(&request.method.as_str()) {
        builder.body(()).map(|r| run(agent, r, timeout))
    } else {
        builder.body(request.body.as_slice()).map(|r| run(agent, r, timeout))
    };
    match sent {
        Ok(Ok(response)) => (read_response(response, config.max_response_bytes), true),
        Ok(Err(e)) => (Err(classify_ureq_error(e, true)), true),
        Err(e) => (Err(Error::invalid(format!("request could not be built: {e}"))), false),
    }
}

/// A path that makes `perform` panic, so that unit tests can prove a panic is contained.
#[cfg(test)]
pub(crate) const TEST_PANIC_MARKER: &str = "/__rlc_test_panic__";

fn run<S: ureq::AsSendBody>(
    agent: &ureq::Agent,
    request: http::Request<S>,
    timeout: Option<Duration>,
) -> Result<http::Response<ureq::Body>, ureq::Error> {
    match timeout {
        Some(t) => agent.run(agent.configure_request(request).timeout_global(Some(t)).build()),
        None => agent.run(request),
    }
}

fn read_response(response: http::Response<ureq::Body>, cap: u64) -> Attempt {
    let (parts, mut body) = response.into_parts();
    let body =
        body.with_config().limit(cap).read_to_vec().map_err(|e| classify_ureq_error(e, false))?;
    Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body, attempts: 0 })
}
