//! Redirects as rlc's own rule, not the HTTP layer's: each hop goes back through the
//! scheduler (so it takes a token, asks the breaker and counts in the strict window),
//! and what a hop may carry is decided here, in a plain function with no I/O.
//!
//! - Same-origin hops keep every header. A hop to another origin (scheme, host or
//!   port) drops `Authorization`, `Cookie`, `Proxy-Authorization` and every header the
//!   user marked sensitive, and they stay dropped for the rest of the chain.
//! - `https` to `http` is refused unless the config allows it: it would send the
//!   request, and whatever it carries, in clear text.
//! - 303, and 301/302 after a POST, become a GET without a body, as browsers and
//!   `fetch` do; 307 and 308 repeat the method and the body.
//! - A URL already visited in the chain (a loop), more hops than allowed, an
//!   unreadable `Location` or a scheme other than http(s) end the request with
//!   [`ErrorKind::Redirect`]: never retried, not a breaker failure.

use ureq::http::Uri;
use url::Url;

use crate::error::{Error, ErrorKind};

/// The headers no other origin ever gets, whatever the user marked.
pub(crate) const ALWAYS_SENSITIVE: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Headers that describe a body, dropped with it when a hop turns into a GET.
const BODY_HEADERS: [&str; 4] =
    ["content-type", "content-length", "content-encoding", "transfer-encoding"];

/// How redirects are followed; from the client's config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RedirectPolicy {
    /// Hops followed before giving up; 0 hands every 3xx to the caller.
    pub max_redirects: u32,
    /// Whether an `https` URL may redirect to an `http` one.
    pub allow_https_to_http: bool,
}

impl Default for RedirectPolicy {
    fn default() -> Self {
        RedirectPolicy { max_redirects: 10, allow_https_to_http: false }
    }
}

/// The next request of a redirect chain.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Hop {
    pub uri: Uri,
    /// The method to use: the same, or GET for 303 and for 301/302 after a POST.
    pub method: String,
    /// True when the hop turned into a GET: the body and its headers are dropped.
    pub drop_body: bool,
    /// True when the hop leaves the current origin: sensitive headers are dropped.
    pub cross_origin: bool,
}

/// Whether `status` is one that may redirect (the cheap test before any parsing).
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// What a response with `status` and `location` asks of a request that used
/// `method` on `current`, after `visited` (the URLs of the chain so far, the first
/// request's included). `Ok(None)` when the response is the answer: not a redirect,
/// no `Location`, or redirects turned off.
pub(crate) fn next_hop(
    policy: &RedirectPolicy,
    current: &Uri,
    method: &str,
    status: u16,
    location: Option<&str>,
    visited: &[Uri],
) -> Result<Option<Hop>, Error> {
    if !is_redirect(status) || policy.max_redirects == 0 {
        return Ok(None);
    }
    let Some(location) = location else {
        return Ok(None);
    };
    let refuse = |why: String| Err(Error::new(ErrorKind::Redirect, why));
    let hops_so_far = visited.len().saturating_sub(1);
    if hops_so_far >= policy.max_redirects as usize {
        return refuse(format!(
            "stopped after {} redirects (max_redirects); the server may be looping",
            policy.max_redirects
        ));
    }
    let base = Url::parse(&current.to_string())
        .map_err(|_| Error::new(ErrorKind::Redirect, "the URL being redirected is unreadable"))?;
    let Ok(mut next) = base.join(location.trim()) else {
        return refuse(format!("a {status} redirect's Location is not a valid URL"));
    };
    // A fragment belongs to the client, never on the wire.
    next.set_fragment(None);
    match (base.scheme(), next.scheme()) {
        (_, "http" | "https") if next.has_host() => {}
        _ => return refuse(format!("a {status} redirect leads to a URL that is not http(s)")),
    }
    if base.scheme() == "https" && next.scheme() == "http" && !policy.allow_https_to_http {
        return refuse(format!(
            "refused a {status} redirect from https to http (see rlc_config_set_redirect_to_http)"
        ));
    }
    let Ok(uri) = next.as_str().parse::<Uri>() else {
        return refuse(format!("a {status} redirect's Location cannot be sent as a request"));
    };
    let becomes_get =
        status == 303 && method != "HEAD" || matches!(status, 301 | 302) && method == "POST";
    let method = if becomes_get { "GET".to_string() } else { method.to_string() };
    if visited.contains(&uri) && !becomes_get {
        return refuse(format!("a {status} redirect loops back to a URL already visited"));
    }
    let cross_origin = base.origin() != next.origin();
    Ok(Some(Hop { uri, method, drop_body: becomes_get, cross_origin }))
}

/// Whether a hop to another origin must drop the header `name`.
pub(crate) fn is_sensitive(name: &str, marked: &[String]) -> bool {
    ALWAYS_SENSITIVE.iter().any(|s| s.eq_ignore_ascii_case(name))
        || marked.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Whether a hop that dropped the body must drop the header `name` too.
pub(crate) fn describes_body(name: &str) -> bool {
    BODY_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    fn hop(status: u16, method: &str, from: &str, to: &str) -> Result<Option<Hop>, Error> {
        next_hop(&RedirectPolicy::default(), &uri(from), method, status, Some(to), &[uri(from)])
    }

    #[test]
    fn non_redirects_and_missing_locations_are_answers() {
        let p = RedirectPolicy::default();
        let from = uri("http://a/x");
        for status in [200, 204, 300, 304, 305, 404] {
            assert_eq!(next_hop(&p, &from, "GET", status, Some("/y"), &[]).unwrap(), None);
        }
        assert_eq!(next_hop(&p, &from, "GET", 302, None, &[]).unwrap(), None);
        let off = RedirectPolicy { max_redirects: 0, ..p };
        assert_eq!(next_hop(&off, &from, "GET", 302, Some("/y"), &[]).unwrap(), None);
    }

    #[test]
    fn relative_locations_resolve_against_the_current_url() {
        let h = hop(301, "GET", "http://a:8080/items?x=1", "/items/").unwrap().unwrap();
        assert_eq!(h.uri, uri("http://a:8080/items/"));
        assert!(!h.cross_origin);
        let h = hop(302, "GET", "http://a/dir/page", "other?q=https://x#frag").unwrap().unwrap();
        assert_eq!(h.uri, uri("http://a/dir/other?q=https://x"));
        let h = hop(307, "GET", "https://a/x", "//b/y").unwrap().unwrap();
        assert_eq!(h.uri, uri("https://b/y"));
        assert!(h.cross_origin);
    }

    #[test]
    fn origin_is_scheme_host_and_port() {
        assert!(hop(302, "GET", "http://a/x", "http://a:81/x").unwrap().unwrap().cross_origin);
        assert!(hop(302, "GET", "http://a/x", "https://a/x").unwrap().unwrap().cross_origin);
        assert!(hop(302, "GET", "http://a/x", "http://b/x").unwrap().unwrap().cross_origin);
        assert!(!hop(302, "GET", "http://a/x", "http://a:80/y").unwrap().unwrap().cross_origin);
    }

    #[test]
    fn methods_change_as_browsers_do() {
        let cases = [
            (301, "POST", "GET", true),
            (302, "POST", "GET", true),
            (303, "POST", "GET", true),
            (303, "PUT", "GET", true),
            (303, "HEAD", "HEAD", false),
            (301, "PUT", "PUT", false),
            (302, "DELETE", "DELETE", false),
            (307, "POST", "POST", false),
            (308, "POST", "POST", false),
        ];
        for (status, method, after, drops) in cases {
            let h = hop(status, method, "http://a/x", "/y").unwrap().unwrap();
            assert_eq!((h.method.as_str(), h.drop_body), (after, drops), "{status} {method}");
        }
    }

    #[test]
    fn https_to_http_is_refused_unless_allowed() {
        let err = hop(302, "GET", "https://a/x", "http://a/x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect);
        let allow = RedirectPolicy { allow_https_to_http: true, ..RedirectPolicy::default() };
        let from = uri("https://a/x");
        let h = next_hop(&allow, &from, "GET", 302, Some("http://a/x"), &[]).unwrap().unwrap();
        assert!(h.cross_origin);
    }

    #[test]
    fn loops_and_long_chains_and_bad_locations_are_redirect_errors() {
        let p = RedirectPolicy { max_redirects: 3, ..RedirectPolicy::default() };
        let a = uri("http://h/a");
        let b = uri("http://h/b");
        let err = next_hop(&p, &b, "GET", 302, Some("/a"), &[a.clone(), b.clone()]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect);
        assert!(err.message().contains("loops"), "{}", err.message());
        let chain: Vec<Uri> = (0..4).map(|i| uri(&format!("http://h/{i}"))).collect();
        let err = next_hop(&p, &chain[3], "GET", 302, Some("/next"), &chain).unwrap_err();
        assert!(err.message().contains("after 3 redirects"), "{}", err.message());
        for bad in ["ftp://h/x", "mailto:x@y", "http://", "http://h:99999/"] {
            let err = hop(302, "GET", "http://h/x", bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Redirect, "{bad}");
        }
    }

    #[test]
    fn a_post_turned_get_may_revisit_its_url() {
        // POST /form -> 303 -> GET /form is a pattern, not a loop.
        let from = uri("http://h/form");
        let p = RedirectPolicy::default();
        let h = next_hop(&p, &from, "POST", 303, Some("/form"), std::slice::from_ref(&from))
            .unwrap()
            .unwrap();
        assert_eq!((h.method.as_str(), h.uri), ("GET", from));
    }

    #[test]
    fn sensitive_headers_are_the_credentials_and_the_marked() {
        let marked = vec!["X-Api-Key".to_string()];
        for name in ["Authorization", "cookie", "PROXY-AUTHORIZATION", "x-api-key"] {
            assert!(is_sensitive(name, &marked), "{name}");
        }
        assert!(!is_sensitive("Accept", &marked));
        assert!(describes_body("Content-Type"));
        assert!(!describes_body("Accept"));
    }
}
