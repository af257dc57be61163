//! Client configuration: a plain builder whose setters validate at once, so a bad
//! value is refused where it is given, with a sentence that says why.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, PemItem};

use crate::error::{Error, Result};
use crate::event::{Event, EventHook};
use crate::redirect::RedirectPolicy;
use crate::request::{validate_header_name, validate_header_value};

/// One rate rule: at most `max_requests` per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window; at least 1.
    pub max_requests: u32,
    /// The window; at least one millisecond.
    pub window: Duration,
    /// Bucket capacity: how many may go at once after an idle spell. Defaults to `max_requests`.
    pub burst: u32,
    /// When set, no sliding window of length `window` at the server ever holds more
    /// than `max_requests` arrivals: each send counts from its dispatch until
    /// `window` after its attempt completed, which covers its arrival whatever the
    /// network's delay. For servers that count a rolling window.
    pub strict: bool,
}

impl RateLimit {
    /// `max_requests` per `window`, burst `max_requests`, not strict.
    pub fn new(max_requests: u32, window: Duration) -> Result<Self> {
        if max_requests == 0 {
            return Err(Error::invalid("rate limit: max_requests must be at least 1"));
        }
        if window < Duration::from_millis(1) {
            return Err(Error::invalid("rate limit: window must be at least 1 ms"));
        }
        Ok(RateLimit { max_requests, window, burst: max_requests, strict: false })
    }
}

/// How failed attempts are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Further attempts after the first; 0 disables retries.
    pub max_retries: u32,
    /// The backoff before the first retry (before jitter).
    pub base_delay: Duration,
    /// The cap on any one backoff (a server's Retry-After may ask for longer, and is honoured).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// When the circuit breaker opens and how long it stays open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker; 0 disables the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before it lets one probe through.
    pub recovery_timeout: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig { failure_threshold: 5, recovery_timeout: Duration::from_secs(30) }
    }
}

/// Everything a [`crate::Client`] is built from.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) base_url: Option<String>,
    pub(crate) rate_limits: Vec<RateLimit>,
    /// Limits counted in points (a GraphQL API's cost budget).
    pub(crate) cost_limits: Vec<RateLimit>,
    pub(crate) retry: RetryPolicy,
    pub(crate) breaker: BreakerConfig,
    pub(crate) max_queue_size: usize,
    pub(crate) workers: u32,
    pub(crate) timeout: Duration,
    pub(crate) default_headers: Vec<(String, String)>,
    pub(crate) max_response_bytes: u64,
    pub(crate) user_agent: String,
    /// The `client` label of this client's Prometheus metrics.
    pub(crate) name: String,
    /// Trusted roots replacing the built-in Mozilla set, when given.
    pub(crate) ca_roots: Option<Arc<Vec<Certificate<'static>>>>,
    pub(crate) redirects: RedirectPolicy,
    /// Headers (lower-case) that a redirect to another origin drops, beside
    /// `Authorization`, `Cookie` and `Proxy-Authorization`.
    pub(crate) sensitive_headers: Vec<String>,
    /// The longest pause or retry delay a server's headers may impose.
    pub(crate) max_server_pause: Duration,
    /// Called with every event, on the completion thread.
    pub(crate) on_event: Option<EventHook>,
    /// Retries allowed as a percentage of recent first attempts, and a floor per second.
    pub(crate) retry_budget: (u32, u32),
    /// The HTTP statuses that are retried.
    pub(crate) retry_statuses: Vec<u16>,
    /// Whether the primary rate limit adapts to throttles (AIMD).
    pub(crate) adaptive: bool,
    /// Where accepted requests are kept until they finish (the persistent queue).
    pub(crate) journal: Option<std::path::PathBuf>,
    /// The shared limit in Redis, when set (`Config::redis`, in `src/redis/`).
    pub(crate) redis: Option<crate::redis::RedisConfig>,
    /// Whether a request that a worker finishes has its callback run on that worker.
    pub(crate) callbacks_on_workers: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_url: None,
            rate_limits: Vec::new(),
            cost_limits: Vec::new(),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            max_queue_size: 10_000,
            workers: 4,
            timeout: Duration::from_secs(30),
            default_headers: Vec::new(),
            max_response_bytes: 16 * 1024 * 1024,
            user_agent: concat!("rlc/", env!("CARGO_PKG_VERSION")).to_string(),
            name: DEFAULT_NAME.to_string(),
            ca_roots: None,
            redirects: RedirectPolicy::default(),
            sensitive_headers: Vec::new(),
            max_server_pause: Duration::from_secs(5 * 60),
            on_event: None,
            callbacks_on_workers: false,
            retry_budget: (20, 10),
            retry_statuses: vec![429, 502, 503, 504],
            adaptive: false,
            journal: None,
            redis: None,
        }
    }
}

impl Config {
    /// The defaults: no rate limit, 4 workers, a queue of 10,000, 3 retries from
    /// 100 ms up to 30 s, a breaker after 5 consecutive failures with 30 s recovery,
    /// 30 s per attempt, 16 MiB response cap, up to 10 redirects (never https to
    /// http), server-requested pauses cut to 5 minutes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The URL that relative request paths are joined to (`http://` or `https://`).
    pub fn base_url(&mut self, url: &str) -> Result<&mut Self> {
        let trimmed = url.trim_end_matches('/');
        crate::request::validate_absolute_url(trimmed)
            .map_err(|e| Error::invalid(format!("base URL: {}", e.message())))?;
        self.base_url = Some(trimmed.to_string());
        Ok(self)
    }

    /// Sets the primary rate limit (replacing it, and keeping any added with
    /// [`Config::add_rate_limit`]); burst becomes `max_requests`.
    pub fn rate_limit(&mut self, max_requests: u32, window: Duration) -> Result<&mut Self> {
        let limit = RateLimit::new(max_requests, window)?;
        match self.rate_limits.first_mut() {
            Some(first) => *first = RateLimit { strict: first.strict, ..limit },
            None => self.rate_limits.push(limit),
        }
        Ok(self)
    }

    /// Stacks a further limit (e.g. 1000/h beside 10/s): a request goes when all allow it.
    pub fn add_rate_limit(&mut self, limit: RateLimit) -> Result<&mut Self> {
        RateLimit::new(limit.max_requests, limit.window)?;
        if limit.burst == 0 {
            return Err(Error::invalid("rate limit: burst must be at least 1"));
        }
        self.rate_limits.push(limit);
        Ok(self)
    }

    /// Adds a limit counted in points rather than requests: a bucket of `points`
    /// refilled at `points` per `window` (Shopify's 1,000-point bucket restored at 50
    /// a second is `cost_limit(1000, 20 s)`; GitHub's 5,000 points an hour is
    /// `cost_limit(5000, 1 h)`). A GraphQL request takes its cost in points from it
    /// (and counts as one request against the request limits); any other request
    /// takes its `cost`. Several may be stacked.
    pub fn cost_limit(&mut self, points: u32, window: Duration) -> Result<&mut Self> {
        let limit = RateLimit::new(points, window).map_err(|e| {
            Error::invalid(e.message().replace("rate limit: max_requests", "cost limit: points"))
        })?;
        self.cost_limits.push(limit);
        Ok(self)
    }

    /// Sets the burst of the primary rate limit; a limit must be set first.
    pub fn burst(&mut self, burst: u32) -> Result<&mut Self> {
        if burst == 0 {
            return Err(Error::invalid("burst must be at least 1"));
        }
        let first = self
            .rate_limits
            .first_mut()
            .ok_or_else(|| Error::invalid("burst: set a rate limit first"))?;
        first.burst = burst;
        Ok(self)
    }

    /// Makes the primary rate limit strict: no sliding window at the server ever holds
    /// more than its maximum (see [`RateLimit::strict`]).
    pub fn strict_window(&mut self, strict: bool) -> Result<&mut Self> {
        let first = self
            .rate_limits
            .first_mut()
            .ok_or_else(|| Error::invalid("strict window: set a rate limit first"))?;
        first.strict = strict;
        Ok(self)
    }

    /// Sets the retry policy; `max_retries` 0 disables retries.
    pub fn retry(&mut self, policy: RetryPolicy) -> Result<&mut Self> {
        if policy.max_retries > 0 && policy.base_delay.is_zero() {
            return Err(Error::invalid("retry: base delay must be above zero"));
        }
        if policy.max_delay < policy.base_delay {
            return Err(Error::invalid("retry: max delay must not be below the base delay"));
        }
        self.retry = policy;
        Ok(self)
    }

    /// Sets the circuit breaker; `failure_threshold` 0 disables it.
    pub fn circuit_breaker(&mut self, breaker: BreakerConfig) -> Result<&mut Self> {
        if breaker.failure_threshold > 0 && breaker.recovery_timeout.is_zero() {
            return Err(Error::invalid("circuit breaker: recovery timeout must be above zero"));
        }
        self.breaker = breaker;
        Ok(self)
    }

    /// Bounds the queue; a submit past it is refused with `QueueFull`.
    pub fn max_queue_size(&mut self, max: usize) -> Result<&mut Self> {
        if max == 0 {
            return Err(Error::invalid("max queue size must be at least 1"));
        }
        self.max_queue_size = max;
        Ok(self)
    }

    /// The number of worker threads, which bounds the requests in flight.
    pub fn workers(&mut self, workers: u32) -> Result<&mut Self> {
        if workers == 0 || workers > 1024 {
            return Err(Error::invalid("workers must be between 1 and 1024"));
        }
        self.workers = workers;
        Ok(self)
    }

    /// The timeout of one attempt, from connect to the last byte of the body.
    pub fn timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        if timeout.is_zero() {
            return Err(Error::invalid("timeout must be above zero"));
        }
        self.timeout = timeout;
        Ok(self)
    }

    /// A header sent with every request (a request's own header of that name wins).
    pub fn default_header(&mut self, name: &str, value: &str) -> Result<&mut Self> {
        validate_header_name(name)?;
        validate_header_value(value)?;
        self.default_headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.default_headers.push((name.to_string(), value.to_string()));
        Ok(self)
    }

    /// The largest response body accepted; a larger one fails with `BodyTooLarge`.
    pub fn max_response_bytes(&mut self, max: u64) -> Result<&mut Self> {
        if max == 0 {
            return Err(Error::invalid("max response bytes must be above zero"));
        }
        self.max_response_bytes = max;
        Ok(self)
    }

    /// The `User-Agent` sent when a request sets none.
    pub fn user_agent(&mut self, agent: &str) -> Result<&mut Self> {
        validate_header_value(agent)?;
        self.user_agent = agent.to_string();
        Ok(self)
    }

    /// Trusts the certificates in this PEM bundle instead of the built-in Mozilla
    /// roots (TLS is always verified; this only changes what it is verified against).
    pub fn ca_bundle_pem(&mut self, pem: &[u8]) -> Result<&mut Self> {
        let mut roots = Vec::new();
        for item in ureq::tls::parse_pem(pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => roots.push(cert),
                Ok(_) => {}
                Err(e) => return Err(Error::invalid(format!("CA bundle: {e}"))),
            }
        }
        if roots.is_empty() {
            return Err(Error::invalid("CA bundle: no certificate found in the PEM data"));
        }
        self.ca_roots = Some(Arc::new(roots));
        Ok(self)
    }

    /// [`Config::ca_bundle_pem`] with the bundle read from a file.
    pub fn ca_bundle_file(&mut self, path: impl AsRef<Path>) -> Result<&mut Self> {
        let path = path.as_ref();
        let pem = std::fs::read(path)
            .map_err(|e| Error::invalid(format!("CA bundle {}: {e}", path.display())))?;
        self.ca_bundle_pem(&pem)
    }

    /// How many redirects (301, 302, 303, 307, 308 with a `Location`) a request
    /// follows; each hop takes a token like any send. 0 hands every 3xx to the caller.
    /// More hops than this, or a loop, complete with [`crate::ErrorKind::Redirect`].
    pub fn max_redirects(&mut self, max: u32) -> &mut Self {
        self.redirects.max_redirects = max;
        self
    }

    /// Whether a redirect from an `https` URL to an `http` one is followed (by
    /// default it is refused with [`crate::ErrorKind::Redirect`]: it would send the
    /// request in clear text).
    pub fn redirect_to_http(&mut self, allow: bool) -> &mut Self {
        self.redirects.allow_https_to_http = allow;
        self
    }

    /// Marks a header as a credential: a redirect to another origin drops it (as it
    /// always drops `Authorization`, `Cookie` and `Proxy-Authorization`), whether a
    /// request set it or it is a default header.
    pub fn sensitive_header(&mut self, name: &str) -> Result<&mut Self> {
        validate_header_name(name)?;
        let name = name.to_ascii_lowercase();
        if !self.sensitive_headers.contains(&name) {
            self.sensitive_headers.push(name);
        }
        Ok(self)
    }

    /// The longest pause a server may impose through `Retry-After` or its rate-limit
    /// headers, for the whole client or for a retry; a longer one is cut to this, and
    /// the metrics count the cut. A hostile or broken server can then hold the client
    /// back for at most this long.
    pub fn max_server_pause(&mut self, max: Duration) -> Result<&mut Self> {
        if max.is_zero() {
            return Err(Error::invalid("max server pause must be above zero"));
        }
        self.max_server_pause = max;
        Ok(self)
    }

    /// Watches the client: `hook` is called with every [`Event`] (breaker
    /// transitions, retries, server pauses, dropped requests, limit changes) on the
    /// completion thread, in order with the callbacks. It must not block for long: it
    /// holds up the callbacks behind it.
    pub fn on_event(&mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> &mut Self {
        self.on_event = Some(EventHook::new(hook));
        self
    }

    /// Runs the callback of a request that a worker finished (an answer, or a failed
    /// last attempt) on that worker, at once, instead of handing it to the completion
    /// thread: no thread hand-off and no wake-up per request, for the highest
    /// throughput. The price: callbacks run on several threads at once, in no order
    /// across workers, and a slow callback holds its worker (and the next request it
    /// took). Requests completed by the client itself (cancelled or timed out while
    /// queued, refused by the open breaker, shut down) and every event still come on
    /// the completion thread, so an event may arrive after the callback it preceded.
    /// The rest of the contract holds: exactly one callback per request, never inside
    /// a call to the client, all of them delivered by shutdown. Off by default.
    pub fn callbacks_on_workers(&mut self, on: bool) -> &mut Self {
        self.callbacks_on_workers = on;
        self
    }

    /// [`Config::on_event`] with a hook already made, or None to stop watching.
    pub fn event_hook(&mut self, hook: Option<EventHook>) -> &mut Self {
        self.on_event = hook;
        self
    }

    /// Bounds retries: over any ten seconds, at most `percent` % of the first
    /// attempts, plus `min_per_second` per second (20 % and 10/s by default), so a
    /// failing API never sees a retry storm. A retry the budget refuses completes
    /// with the last response or error. `(0, 0)` turns retries off.
    pub fn retry_budget(&mut self, percent: u32, min_per_second: u32) -> &mut Self {
        self.retry_budget = (percent, min_per_second);
        self
    }

    /// Replaces the HTTP statuses that are retried (429, 502, 503 and 504 by
    /// default); each must be 100..=599. Transport errors and timeouts stay retried.
    pub fn retry_on_status(&mut self, statuses: &[u16]) -> Result<&mut Self> {
        if let Some(bad) = statuses.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(Error::invalid(format!("retry on status: {bad} is not an HTTP status")));
        }
        self.retry_statuses = statuses.to_vec();
        Ok(self)
    }

    /// Finds a limit the server does not publish: a throttle (429, or 503 with
    /// `Retry-After`, without quota headers to pace from) cuts the primary rate limit
    /// to three quarters, and every quiet second climbs back toward the configured
    /// rate, fast while well below the rate last throttled and slowly near it (see
    /// [`crate::adaptive`]). Needs a rate limit, which is
    /// the ceiling. Off by default.
    pub fn adaptive(&mut self, on: bool) -> &mut Self {
        self.adaptive = on;
        self
    }
}

/// The name of a client that was given none.
pub const DEFAULT_NAME: &str = "default";

/// The longest name a client may have, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 128;

impl Config {
    /// Names the client (by default "default"): the value of the `client` label on
    /// every sample of its Prometheus metrics, so that the metrics of several clients
    /// in one process (one per upstream API) can be told apart. 1 to
    /// [`MAX_NAME_BYTES`] bytes of UTF-8, with no control character.
    pub fn name(&mut self, name: &str) -> Result<&mut Self> {
        if name.is_empty() {
            return Err(Error::invalid("name must not be empty"));
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(Error::invalid(format!(
                "name is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
                name.len()
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::invalid("name must not hold a control character"));
        }
        self.name = name.to_string();
        Ok(self)
    }

    /// Keeps every accepted request in a journal at `path` (an SQLite file, created
    /// when missing) until its callback has run: a submit returns only once its
    /// request is on disk, and a process that died leaves its unfinished requests
    /// for [`crate::Client::recover`]. Each journaled request without an
    /// `Idempotency-Key` header gets one. The file is opened by `Client::new`, which
    /// fails with `ErrorKind::Journal` when it is locked by another live client,
    /// corrupt, from a newer rlc, read-only, or not rlc's (never overwritten).
    pub fn journal(&mut self, path: impl Into<std::path::PathBuf>) -> Result<&mut Self> {
        let path = path.into();
        if path.as_os_str().is_empty() {
            return Err(Error::invalid("the journal path must not be empty"));
        }
        self.journal = Some(path);
        Ok(self)
    }
}
