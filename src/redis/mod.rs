//! A rate limit shared by many clients, processes and hosts, kept in Redis.
//!
//! With [`Config::redis`], the client's rate limits live in Redis under a key, and
//! every decision is one atomic step there: a Lua script (`gcra.lua`, run by EVALSHA,
//! and by EVAL after NOSCRIPT) doing GCRA in exact integer microseconds on Redis's
//! own `TIME`, so the clients' clocks never matter. Each limit has its own key under
//! the hash tag `{key}` (so all of a client's keys live in one Redis Cluster slot),
//! with a TTL so idle keys vanish; stacked limits and weighted requests are charged
//! together. The scheduler never waits on Redis: a lease thread takes tokens in
//! batches as demand requires ([`lease`]), and the scheduler spends them as a local
//! allowance. The shared rate may exceed the limit by at most the lease size (per
//! client) in any window.
//!
//! A pause a server asks for (429, `Retry-After`, `RateLimit` headers) is written to
//! Redis too, and every client on the key honours it.
//!
//! When Redis is away, the [`FailurePolicy`] decides; the lease thread reconnects
//! with backoff, and the metrics show the state, the round trips and the time spent
//! without Redis. No message ever holds the password of the URL.

mod conn;
pub mod gcra;
mod lease;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Nanos;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
pub(crate) use lease::{Host, Lease};

/// What a client does while its Redis is away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Requests wait for Redis; those with a deadline complete with `Timeout` when it
    /// passes (the others with `Shutdown` if the client closes first).
    Closed,
    /// A local limiter takes over at a share of the rate (see
    /// [`Config::redis_local_share`]) until Redis is back. The default.
    #[default]
    Local,
    /// Requests go at the client's own full rate, unshared, until Redis is back.
    Open,
}

/// The shared limit's part of a [`Config`].
#[derive(Clone)]
pub(crate) struct RedisConfig {
    url: String,
    key: String,
    policy: FailurePolicy,
    local_share: Option<u32>,
    max_lease: Option<u32>,
    timeout: Duration,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &conn::redacted(&self.url))
            .field("key", &self.key)
            .field("policy", &self.policy)
            .field("local_share", &self.local_share)
            .field("max_lease", &self.max_lease)
            .finish()
    }
}

/// Whether a client is on Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisState {
    /// No shared limit configured.
    Off = 0,
    /// Connected: the limit is shared.
    Connected = 1,
    /// Redis is away: the failure policy applies while the client reconnects.
    Disconnected = 2,
}

/// The shared limit's metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedisStatus {
    pub state: RedisState,
    /// Calls made to Redis (a NOSCRIPT retry counts twice).
    pub round_trips: u64,
    /// Milliseconds spent without Redis, the current outage included.
    pub down_ms: u64,
    /// Tokens granted by Redis so far.
    pub tokens_leased: u64,
    /// Tokens leased and not yet spent.
    pub tokens_held: u64,
    /// Clients seen on the key in the last ten seconds, this one included.
    pub clients: u64,
}

impl RedisStatus {
    /// The status of a client without a shared limit.
    pub const OFF: RedisStatus = RedisStatus {
        state: RedisState::Off,
        round_trips: 0,
        down_ms: 0,
        tokens_leased: 0,
        tokens_held: 0,
        clients: 0,
    };
}

/// The longest key accepted, in bytes.
const MAX_KEY: usize = 256;

impl Config {
    /// Shares this client's rate limits with every client that uses the same Redis
    /// and `key`. `url` is `redis://[user:password@]host[:port][/db]`, `rediss://` for
    /// TLS (verified against the Mozilla roots), or `unix://path`. The URL is only
    /// checked here; the client connects when it starts. `key` names the limit (1 to
    /// 256 bytes, no control character); its Redis keys are `{key}:...`.
    pub fn redis(&mut self, url: &str, key: &str) -> Result<&mut Self> {
        conn::Link::open(url, Duration::from_secs(1)).map_err(Error::invalid)?;
        if key.is_empty() || key.len() > MAX_KEY || key.chars().any(char::is_control) {
            return Err(Error::invalid(format!(
                "Redis key: 1 to {MAX_KEY} bytes without control characters"
            )));
        }
        let previous = self.redis.take();
        self.redis = Some(RedisConfig {
            url: url.to_owned(),
            key: key.to_owned(),
            policy: previous.as_ref().map_or(FailurePolicy::default(), |r| r.policy),
            local_share: previous.as_ref().and_then(|r| r.local_share),
            max_lease: previous.as_ref().and_then(|r| r.max_lease),
            timeout: Duration::from_secs(1),
        });
        Ok(self)
    }

    fn redis_mut(&mut self, what: &str) -> Result<&mut RedisConfig> {
        self.redis.as_mut().ok_or_else(|| Error::invalid(format!("{what}: set Redis first")))
    }

    /// What the client does while Redis is away ([`FailurePolicy::Local`] by default).
    pub fn redis_failure(&mut self, policy: FailurePolicy) -> Result<&mut Self> {
        self.redis_mut("Redis failure policy")?.policy = policy;
        Ok(self)
    }

    /// The share of the rate, in percent (1 to 100), that the local limiter allows
    /// while Redis is away under [`FailurePolicy::Local`]. By default it is 100 / the
    /// number of clients seen on the key in the ten seconds before Redis went away,
    /// so that together they keep to the limit.
    pub fn redis_local_share(&mut self, percent: u32) -> Result<&mut Self> {
        if !(1..=100).contains(&percent) {
            return Err(Error::invalid("Redis local share: a percentage from 1 to 100"));
        }
        self.redis_mut("Redis local share")?.local_share = Some(percent);
        Ok(self)
    }

    /// The most tokens taken in one round trip (by default 5 % of the primary limit's
    /// rate per second, from 1 to 64): the bound on how far the shared rate may
    /// exceed the limit in any window, per client.
    pub fn redis_max_lease(&mut self, tokens: u32) -> Result<&mut Self> {
        if tokens == 0 {
            return Err(Error::invalid("Redis lease: at least 1 token"));
        }
        self.redis_mut("Redis lease")?.max_lease = Some(tokens);
        Ok(self)
    }
}

/// A started lease and the link its thread will use.
pub(crate) struct Started {
    pub lease: Arc<Lease>,
    link: conn::Link,
}

impl Started {
    /// Runs the lease thread's loop until [`Lease::stop`].
    pub fn run(self, host: &dyn Host) {
        self.lease.run(self.link, host);
    }
}

/// Prepares the shared limit of `config`, if it has one: connects once, so that a
/// Redis that refuses (wrong password, wrong database) fails the start with
/// `ErrorKind::Redis`. A Redis that cannot be reached does not: the client starts under
/// its failure policy and keeps trying.
pub(crate) fn start(config: &Config, now: Nanos) -> Result<Option<Started>> {
    let Some(rc) = &config.redis else { return Ok(None) };
    let primary = config.rate_limits.first().ok_or_else(|| {
        Error::invalid("a shared limit needs a rate limit: set one with rate_limit")
    })?;
    let per_second = u64::from(primary.max_requests) * 1_000_000
        / u64::try_from(primary.window.as_micros()).unwrap_or(u64::MAX).max(1);
    let max_lease = rc.max_lease.map_or((per_second / 20).clamp(1, 64), u64::from);
    let interval = |l: &crate::config::RateLimit| {
        (u64::try_from(l.window.as_micros()).unwrap_or(u64::MAX) / u64::from(l.max_requests.max(1)))
            .max(1)
    };
    let slowest = config.rate_limits.iter().map(interval).max().unwrap_or(1);
    // How far ahead tokens may be reserved: a lease, but room for at least ten tokens,
    // so that a few busy sharers of a small lease are not refused in turn (100/s, three
    // sharers: 0.3 round trips per request instead of 1). Measured with 2 x the lease at
    // 5,000/s, a wider horizon lost rate; so only small leases are widened.
    let horizon_us = max_lease.max(10).saturating_mul(slowest).clamp(1_000, 1_000_000);
    let limits = config
        .rate_limits
        .iter()
        .map(|l| gcra::LimitSpec::of(l, horizon_us, max_lease))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::invalid)?;
    let mut link = conn::Link::open(&rc.url, rc.timeout).map_err(Error::invalid)?;
    let client_id = format!("{:016x}", rand::random::<u64>());
    // One "take" of nothing: connects, loads the script and counts the clients.
    let script = conn::Gcra::new();
    let (up, clients) = match link.take(&script, &rc.key, &limits, 0, 0, 0, &client_id) {
        Ok((_, clients)) => (true, clients),
        Err(f) if f.refused => {
            return Err(Error::new(ErrorKind::Redis, format!("Redis refused: {}", f.message)))
        }
        Err(_) => (false, 1),
    };
    let params = lease::Params {
        key: rc.key.clone(),
        limits,
        max_lease,
        horizon_us,
        policy: rc.policy,
        local_share: rc.local_share.map(u64::from),
        client_id,
    };
    let lease = Lease::new(params, up, clients, now);
    Ok(Some(Started { lease, link }))
}

#[cfg(test)]
mod tests;
