//! What a completed request hands back.

use ureq::http::HeaderMap;

/// An HTTP response of any status, with the number of attempts it took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub(crate) status: u16,
    /// The header map the transport parsed, moved here as it is: a response's headers
    /// are copied only if the caller asks for them (the C surface does so lazily).
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) attempts: u32,
}

impl Response {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// All headers: names in lower case, a repeated name's values in the order
    /// received (`get_all`).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The first header named `name`, compared without regard to case; `None` too
    /// when its value is not visible ASCII (read those bytes through `headers`).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Takes the body out, leaving it empty.
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// How many attempts it took (1 when the first one answered).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}
