//! What one attempt came to, and the two questions every outcome answers: does it
//! count against the breaker, and may it be retried.

use crate::error::{Error, ErrorKind};
use crate::response::Response;

/// The result of one attempt on the network.
pub(crate) type Attempt = Result<Response, Error>;

/// Transport errors, timeouts and 5xx count against the breaker; 4xx do not (a 429
/// is handled by pausing the client, not by opening the breaker).
pub(crate) fn is_breaker_failure(attempt: &Attempt) -> bool {
    match attempt {
        Ok(response) => response.status >= 500,
        Err(e) => matches!(
            e.kind(),
            ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Io | ErrorKind::Tls
        ),
    }
}

/// Transient failures worth another attempt: transport errors, timeouts, and the
/// `statuses` configured (429, 502, 503, 504 by default). TLS failures and oversized
/// bodies would fail the same way again.
pub(crate) fn is_retryable(attempt: &Attempt, statuses: &[u16]) -> bool {
    match attempt {
        Ok(response) => statuses.contains(&response.status),
        Err(e) => matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Io),
    }
}

/// Maps a ureq error onto the library's kinds. `before_response` tells whether the
/// error came before any response head arrived (a reset then is a connect failure;
/// afterwards the connection broke mid-response).
pub(crate) fn classify_ureq_error(err: ureq::Error, before_response: bool) -> Error {
    use std::io::ErrorKind as Io;
    use ureq::Error as U;
    let (kind, what) = match &err {
        U::Timeout(t) => (ErrorKind::Timeout, format!("timed out ({t})")),
        U::HostNotFound => (ErrorKind::Connect, "host not found".to_string()),
        U::ConnectionFailed => (ErrorKind::Connect, "connection failed".to_string()),
        U::Io(io) if is_tls_failure(io) => (ErrorKind::Tls, format!("TLS failed: {io}")),
        U::Io(io) => match io.kind() {
            Io::TimedOut | Io::WouldBlock => (ErrorKind::Timeout, format!("timed out: {io}")),
            Io::ConnectionRefused => (ErrorKind::Connect, format!("connection refused: {io}")),
            Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe | Io::NotConnected
                if before_response =>
            {
                (ErrorKind::Connect, format!("connection lost before a response: {io}"))
            }
            _ => (ErrorKind::Io, format!("connection broke: {io}")),
        },
        U::BodyExceedsLimit(limit) => {
            (ErrorKind::BodyTooLarge, format!("response body exceeds the limit of {limit} bytes"))
        }
        U::Tls(_) | U::Rustls(_) | U::Pem(_) | U::TlsRequired => {
            (ErrorKind::Tls, format!("TLS failed: {err}"))
        }
        U::BadUri(_) | U::Http(_) | U::RequireHttpsOnly(_) => {
            (ErrorKind::InvalidArgument, format!("request refused by the HTTP layer: {err}"))
        }
        U::Protocol(_) | U::LargeResponseHeader(..) => {
            (ErrorKind::Io, format!("malformed HTTP from the server: {err}"))
        }
        _ => (ErrorKind::Io, format!("HTTP failure: {err}")),
    };
    Error::new(kind, what)
}

/// rustls reports handshake and certificate failures inside I/O errors.
fn is_tls_failure(io: &std::io::Error) -> bool {
    io.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: u16) -> Attempt {
        Ok(Response { status: s, ..Response::default() })
    }

    fn failed(kind: ErrorKind) -> Attempt {
        Err(Error::new(kind, "x"))
    }

    #[test]
    fn breaker_counts_transport_errors_and_5xx_only() {
        for s in [500, 502, 503, 504, 599] {
            assert!(is_breaker_failure(&status(s)), "{s}");
        }
        for s in [200, 204, 301, 400, 404, 429] {
            assert!(!is_breaker_failure(&status(s)), "{s}");
        }
        for k in [ErrorKind::Timeout, ErrorKind::Connect, ErrorKind::Io, ErrorKind::Tls] {
            assert!(is_breaker_failure(&failed(k)));
        }
        assert!(!is_breaker_failure(&failed(ErrorKind::BodyTooLarge)));
    }

    #[test]
    fn retries_transient_failures_only() {
        let defaults = [429, 502, 503, 504];
        for s in defaults {
            assert!(is_retryable(&status(s), &defaults), "{s}");
        }
        for s in [200, 400, 404, 500, 501] {
            assert!(!is_retryable(&status(s), &defaults), "{s}");
        }
        assert!(is_retryable(&status(500), &[500]));
        assert!(!is_retryable(&status(503), &[500]));
        for k in [ErrorKind::Timeout, ErrorKind::Connect, ErrorKind::Io] {
            assert!(is_retryable(&failed(k), &[]));
        }
        for k in [ErrorKind::Tls, ErrorKind::BodyTooLarge, ErrorKind::InvalidArgument] {
            assert!(!is_retryable(&failed(k), &defaults));
        }
    }
}
