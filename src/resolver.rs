//! Name resolution with a short-lived cache.
//!
//! ureq resolves the host before every request, even when a pooled keep-alive
//! connection will be reused, and its default resolver spawns a thread for each
//! lookup that has a timeout — which every rlc attempt has. Measured here that is a
//! thread start per request and three times the CPU of the request itself. Caching
//! the answer for a few seconds keeps the timeout on real lookups and takes the
//! thread off the hot path.

use std::time::{Duration, Instant};

use parking_lot::RwLock;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a lookup is reused. Short, so a changed DNS record is followed soon.
const TTL: Duration = Duration::from_secs(10);

/// The most origins remembered; a client talks to one API (and the places its
/// redirects lead), so a short list searched in order beats a hash map, and needs
/// no key built per request.
const MAX_ORIGINS: usize = 32;

#[derive(Debug)]
struct Cached {
    scheme: String,
    authority: String,
    at: Instant,
    addrs: ResolvedSocketAddrs,
}

#[derive(Debug, Default)]
pub(crate) struct CachingResolver {
    inner: DefaultResolver,
    /// Read by every worker for every attempt, written only by a real lookup.
    cache: RwLock<Vec<Cached>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return self.inner.resolve(uri, config, timeout);
        };
        let authority = authority.as_str();
        let same = |c: &Cached| c.authority == authority && c.scheme == scheme;
        if let Some(hit) = self.cache.read().iter().find(|c| same(c)) {
            if hit.at.elapsed() < TTL {
                return Ok(hit.addrs.clone());
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let mut cache = self.cache.write();
        cache.retain(|c| c.at.elapsed() < TTL && !same(c));
        if cache.len() >= MAX_ORIGINS {
            cache.remove(0);
        }
        cache.push(Cached {
            scheme: scheme.to_owned(),
            authority: authority.to_owned(),
            at: Instant::now(),
            addrs: addrs.clone(),
        });
        Ok(addrs)
    }
}
