//! Name resolution with a short-lived cache.
//!
//! ureq resolves the host before every request, even when a pooled keep-alive
//! connection will be reused, and its default resolver spawns a thread for each
//! lookup that has a timeout — which every rlc attempt has. Measured here that is a
//! thread start per request and three times the CPU of the request itself. Caching
//! the answer for a few seconds keeps the timeout on real lookups and takes the
//! thread off the hot path.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a lookup is reused. Short, so a changed DNS record is followed soon.
const TTL: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(crate) struct CachingResolver {
    inner: DefaultResolver,
    cache: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let key = match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
            _ => return self.inner.resolve(uri, config, timeout),
        };
        if let Some((at, addrs)) = self.cache.lock().get(&key) {
            if at.elapsed() < TTL {
                return Ok(addrs.clone());
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let mut cache = self.cache.lock();
        cache.retain(|_, (at, _)| at.elapsed() < TTL);
        cache.insert(key, (Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}
