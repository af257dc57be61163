//! A request as the caller builds it, checked where each part is given.

use std::time::Duration;

use ureq::http::uri::{Authority, Parts, PathAndQuery, Scheme};

use crate::error::{Error, Result};

/// One HTTP request. Headers pass through untouched; their values never appear in
/// an error message.
#[derive(Clone, Debug)]
pub struct Request {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) retry_unsafe: bool,
    /// Retries for this request, instead of the client's `max_retries`.
    pub(crate) max_retries: Option<u32>,
    /// Tokens this request takes from every rate limit.
    pub(crate) cost: u32,
}

/// The longest path or URL accepted: servers refuse far shorter ones, and a target
/// is copied into every attempt.
pub(crate) const MAX_TARGET_BYTES: usize = 64 * 1024;

const IDEMPOTENT_METHODS: [&str; 6] = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"];

impl Request {
    /// A request for `method` (a token such as `GET`; upper-cased) and `path_or_url`:
    /// a path joined to the client's base URL, or an absolute `http(s)://` URL.
    pub fn new(method: &str, path_or_url: &str) -> Result<Self> {
        if !is_token(method) {
            return Err(Error::invalid("method must be a non-empty HTTP token (e.g. GET)"));
        }
        if path_or_url.is_empty() {
            return Err(Error::invalid("path or URL must not be empty"));
        }
        if path_or_url.len() > MAX_TARGET_BYTES {
            return Err(Error::invalid("path or URL is longer than 64 KiB"));
        }
        // A path first: `/cb?next=https://x` is a path whose query holds a URL.
        if path_or_url.starts_with('/') {
            validate_path(path_or_url)?;
        } else if path_or_url.contains("://") {
            validate_absolute_url(path_or_url)?;
        } else {
            return Err(Error::invalid("a path must start with '/' (or give an absolute URL)"));
        }
        Ok(Request {
            method: method.to_ascii_uppercase(),
            target: path_or_url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            deadline: None,
            retry_unsafe: false,
            max_retries: None,
            cost: 1,
        })
    }

    /// Adds a header; a name may repeat. Names must be HTTP tokens; values must not
    /// hold control characters other than tab (so no CR, LF or NUL) or DEL.
    pub fn header(&mut self, name: &str, value: &str) -> Result<&mut Self> {
        validate_header_name(name)?;
        validate_header_value(value)?;
        self.headers.push((name.to_string(), value.to_string()));
        Ok(self)
    }

    /// Sets the body, copied.
    pub fn body(&mut self, body: &[u8]) -> &mut Self {
        self.body = body.to_vec();
        self
    }

    /// Sets the body, taking the bytes.
    pub fn body_vec(&mut self, body: Vec<u8>) -> &mut Self {
        self.body = body;
        self
    }

    /// Overrides the client's per-attempt timeout.
    pub fn timeout(&mut self, timeout: Duration) -> Result<&mut Self> {
        if timeout.is_zero() {
            return Err(Error::invalid("timeout must be above zero"));
        }
        self.timeout = Some(timeout);
        Ok(self)
    }

    /// Bounds the whole life of the request, from submit over queueing and every
    /// retry; past it the request completes with `Timeout`.
    pub fn deadline(&mut self, deadline: Duration) -> Result<&mut Self> {
        if deadline.is_zero() {
            return Err(Error::invalid("deadline must be above zero"));
        }
        self.deadline = Some(deadline);
        Ok(self)
    }

    /// Allows retries of a method that is not idempotent (e.g. POST). Without this,
    /// only GET, HEAD, PUT, DELETE, OPTIONS, TRACE and requests with an
    /// `Idempotency-Key` header are retried.
    pub fn retry_non_idempotent(&mut self, allow: bool) -> &mut Self {
        self.retry_unsafe = allow;
        self
    }

    /// Retries for this request alone, instead of the client's `max_retries`
    /// (0: never retried).
    pub fn max_retries(&mut self, max: u32) -> &mut Self {
        self.max_retries = Some(max);
        self
    }

    /// How many tokens this request takes from every rate limit (1 by default): a
    /// batch call that the API counts as ten costs 10. At least 1, and at most the
    /// smallest burst of the client's limits (checked at submit).
    pub fn cost(&mut self, tokens: u32) -> Result<&mut Self> {
        if tokens == 0 {
            return Err(Error::invalid("cost must be at least 1"));
        }
        self.cost = tokens;
        Ok(self)
    }

    /// The method, upper-cased.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path or URL as given.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub(crate) fn may_retry(&self) -> bool {
        self.retry_unsafe
            || IDEMPOTENT_METHODS.contains(&self.method.as_str())
            || self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("idempotency-key"))
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header name must be an HTTP token.
pub(crate) fn validate_header_name(name: &str) -> Result<()> {
    if is_token(name) {
        Ok(())
    } else {
        Err(Error::invalid("header name must be a non-empty HTTP token"))
    }
}

/// A header value by HTTP's rules (RFC 9110 `field-value`): visible characters,
/// spaces, tabs and non-ASCII bytes; no other control character (so no CR, LF or NUL:
/// a header-injection guard) and no DEL. The HTTP layer panics on what this refuses,
/// so every value, the user agent and default headers included, passes through here.
/// The value itself is never quoted back: it may be a secret.
pub(crate) fn validate_header_value(value: &str) -> Result<()> {
    if value.bytes().any(|b| (b.is_ascii_control() && b != b'\t') || b == 0x7f) {
        Err(Error::invalid(
            "header value must not contain control characters other than tab (CR, LF, NUL, DEL...)",
        ))
    } else {
        Ok(())
    }
}

/// The URL a request goes to: `target` joined to `base_url` when it is a path, and
/// parsed as the HTTP layer will send it. Refused when it needs a base URL and there
/// is none, is longer than 64 KiB once joined, or does not parse.
pub(crate) fn resolve_url(target: &str, base_url: Option<&str>) -> Result<ureq::http::Uri> {
    let joined;
    let url = if target.starts_with('/') {
        let Some(base) = base_url else {
            return Err(Error::invalid("a relative path needs a base URL in the config"));
        };
        joined = format!("{base}{target}");
        joined.as_str()
    } else {
        target
    };
    if url.len() > MAX_TARGET_BYTES {
        return Err(Error::invalid("the URL is longer than 64 KiB"));
    }
    url.parse().map_err(|e| Error::invalid(format!("the URL is malformed: {e}")))
}

/// The config's base URL split once into the parts every attempt's URL shares, so
/// that joining a path to it parses only the path (no `format!`, no scheme or host
/// parsed again per attempt).
#[derive(Clone, Debug)]
pub(crate) struct BaseUrl {
    text: String,
    /// Scheme, host and the base's own path (`/v2` of `https://api/v2`, "" for none);
    /// `None` if the HTTP layer reads the text otherwise (then the slow path).
    parts: Option<(Scheme, Authority, String)>,
}

impl BaseUrl {
    /// A base URL that `Config::base_url` accepted.
    pub(crate) fn new(text: &str) -> BaseUrl {
        let parts = text.parse::<ureq::http::Uri>().ok().and_then(|uri| {
            let parts = uri.into_parts();
            let prefix = parts.path_and_query.map_or(String::new(), |p| p.as_str().to_owned());
            let prefix = if prefix == "/" { String::new() } else { prefix };
            // A base with a query or fragment is joined as text, as resolve_url does.
            if prefix.contains(['?', '#']) {
                return None;
            }
            Some((parts.scheme?, parts.authority?, prefix))
        });
        BaseUrl { text: text.to_owned(), parts }
    }

    /// [`resolve_url`] for a client whose base URL this is.
    pub(crate) fn resolve(&self, target: &str) -> Result<ureq::http::Uri> {
        let Some((scheme, authority, prefix)) =
            self.parts.as_ref().filter(|_| target.starts_with('/'))
        else {
            return resolve_url(target, Some(&self.text));
        };
        if self.text.len() + target.len() > MAX_TARGET_BYTES {
            return Err(Error::invalid("the URL is longer than 64 KiB"));
        }
        let malformed =
            |e: &dyn std::fmt::Display| Error::invalid(format!("the URL is malformed: {e}"));
        let path: PathAndQuery = if prefix.is_empty() {
            target.parse().map_err(|e| malformed(&e))?
        } else {
            format!("{prefix}{target}").parse().map_err(|e| malformed(&e))?
        };
        let mut parts = Parts::default();
        parts.scheme = Some(scheme.clone());
        parts.authority = Some(authority.clone());
        parts.path_and_query = Some(path);
        ureq::http::Uri::from_parts(parts).map_err(|e| malformed(&e))
    }
}

/// Whether `target` can be sent with `base_url`, without building the URL: a path
/// needs a base URL, and the two together must fit in 64 KiB. Each part was parsed
/// where it was given (the base URL by the config, the target by `Request::new`), and
/// a parsed base URL followed by a parsed path is a URL that parses, so submit needs
/// no allocation to refuse what an attempt would.
pub(crate) fn check_target(target: &str, base_url: Option<&str>) -> Result<()> {
    if !target.starts_with('/') {
        return Ok(());
    }
    let Some(base) = base_url else {
        return Err(Error::invalid("a relative path needs a base URL in the config"));
    };
    if base.len() + target.len() > MAX_TARGET_BYTES {
        return Err(Error::invalid("the URL is longer than 64 KiB"));
    }
    Ok(())
}

/// A path (with its query) that the HTTP layer accepts as a request target.
fn validate_path(path: &str) -> Result<()> {
    if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(Error::invalid("path must not contain spaces or control characters"));
    }
    path.parse::<ureq::http::uri::PathAndQuery>()
        .map(|_| ())
        .map_err(|_| Error::invalid("path is malformed (not a valid HTTP request target)"))
}

/// An absolute `http://` or `https://` URL with a host.
pub(crate) fn validate_absolute_url(url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| Error::invalid("URL must start with http:// or https://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.starts_with(':') {
        return Err(Error::invalid("URL must name a host"));
    }
    if url.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(Error::invalid("URL must not contain spaces or control characters"));
    }
    let uri = url.parse::<ureq::http::Uri>().map_err(|_| Error::invalid("URL is malformed"))?;
    // `http://user@:80/` has an authority but no host (a fuzzer found it passing).
    if uri.host().map_or(true, str::is_empty) {
        return Err(Error::invalid("URL must name a host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_base_url_joins_exactly_as_the_text_does() {
        let bases = [
            "http://127.0.0.1:8080",
            "https://api.example.com",
            "https://api.example.com/v2",
            "http://user:pw@h:1/a/b",
            "http://[::1]:9",
        ];
        let targets =
            ["/", "/x", "/x/y?q=1&r=%20", "/cb?next=https://x", "https://other/z", "/%zz"];
        for base in bases {
            for target in targets {
                let split = BaseUrl::new(base).resolve(target).map(|u| u.to_string());
                let joined = resolve_url(target, Some(base)).map(|u| u.to_string());
                assert_eq!(split.ok(), joined.ok(), "{base} + {target}");
            }
            assert!(BaseUrl::new(base).parts.is_some(), "{base} takes the fast path");
        }
        let long = format!("/{}", "a".repeat(MAX_TARGET_BYTES));
        assert!(BaseUrl::new("http://h").resolve(&long).is_err());
    }

    #[test]
    fn refuses_bad_methods_paths_and_headers() {
        assert!(Request::new("", "/x").is_err());
        assert!(Request::new("GE T", "/x").is_err());
        assert!(Request::new("GET", "").is_err());
        assert!(Request::new("GET", "x").is_err());
        assert!(Request::new("GET", "ftp://h/x").is_err());
        assert!(Request::new("GET", "http:///x").is_err());
        assert!(Request::new("GET", "/a b").is_err());
        let mut r = Request::new("get", "/x").unwrap();
        assert_eq!(r.method(), "GET");
        assert!(r.header("X-Ok", "fine").is_ok());
        assert!(r.header("Bad Name", "v").is_err());
        assert!(r.header("X", "a\r\nInjected: 1").is_err());
        assert!(r.header("X", "a\0").is_err());
        let err = r.header("X", "secret\n").unwrap_err();
        assert!(!err.message().contains("secret"));
    }

    #[test]
    fn retries_only_idempotent_or_opted_in() {
        assert!(Request::new("GET", "/").unwrap().may_retry());
        assert!(Request::new("DELETE", "/").unwrap().may_retry());
        assert!(!Request::new("POST", "/").unwrap().may_retry());
        assert!(!Request::new("PATCH", "/").unwrap().may_retry());
        let mut keyed = Request::new("POST", "/").unwrap();
        keyed.header("Idempotency-Key", "k1").unwrap();
        assert!(keyed.may_retry());
        let mut opted = Request::new("POST", "/").unwrap();
        opted.retry_non_idempotent(true);
        assert!(opted.may_retry());
    }
}
