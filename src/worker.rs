//! The worker threads: each takes a job, makes one blocking `ureq` call on the
//! shared agent, and reports the outcome back to the scheduler's state.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;
use ureq::http;

use crate::clock::Clock;
use crate::error::Error;
use crate::outcome::{classify_ureq_error, Attempt};
use crate::resolver::CachingResolver;
use crate::response::Response;
use crate::scheduler::{Job, Shared, WorkerMsg};

/// Methods whose empty body is sent as no body at all (no `Content-Length: 0`).
const BODYLESS_METHODS: [&str; 5] = ["GET", "HEAD", "DELETE", "OPTIONS", "TRACE"];

pub(crate) fn run_worker(shared: Arc<Shared>, jobs: Receiver<WorkerMsg>) {
    while let Ok(WorkerMsg::Run(mut job)) = jobs.recv() {
        loop {
            let attempt = perform(&shared, &job);
            match shared.after_attempt(job, attempt) {
                Some(next) => job = next,
                None => break,
            }
        }
    }
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

fn perform(shared: &Shared, job: &Job) -> Attempt {
    let request = &job.request;
    let url = if request.target.starts_with('/') {
        let base = shared.config.base_url.as_deref().unwrap_or_default();
        format!("{base}{}", request.target)
    } else {
        request.target.clone()
    };
    let mut timeout = request.timeout.unwrap_or(shared.config.timeout);
    if let Some(deadline) = job.deadline {
        let left = Duration::from_nanos(deadline.saturating_sub(shared.clock.now()));
        if left.is_zero() {
            return Err(Error::new(crate::ErrorKind::Timeout, "the request's deadline passed"));
        }
        timeout = timeout.min(left);
    }
    let mut builder = http::Request::builder().method(request.method.as_str()).uri(url);
    for (name, value) in &shared.config.default_headers {
        if !request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            builder = builder.header(name, value);
        }
    }
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    // The agent already applies the client's timeout; only a different one needs a
    // per-request config (a copy of the agent's).
    let timeout = (timeout != shared.config.timeout).then_some(timeout);
    let agent = &shared.agent;
    let sent = if request.body.is_empty() && BODYLESS_METHODS.contains(&request.method.as_str()) {
        builder.body(()).map(|r| run(agent, r, timeout))
    } else {
        builder.body(request.body.as_slice()).map(|r| run(agent, r, timeout))
    };
    let response = match sent {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => return Err(classify_ureq_error(e, true)),
        Err(e) => return Err(Error::invalid(format!("request could not be built: {e}"))),
    };
    read_response(response, shared.config.max_response_bytes)
}

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

fn read_response(mut response: http::Response<ureq::Body>, cap: u64) -> Attempt {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(cap)
        .read_to_vec()
        .map_err(|e| classify_ureq_error(e, false))?;
    Ok(Response { status, headers, body, attempts: 0 })
}
