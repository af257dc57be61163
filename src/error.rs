//! The error type of the Rust API. Its kinds map one to one onto the C ABI's
//! `rlc_result` codes, so the FFI layer never has to guess.

use std::fmt;

/// What went wrong, as a closed set that the C ABI mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// NULL, bad UTF-8, bad URL, CR/LF in a header, zero rate...
    InvalidArgument,
    /// Refused at submit: the queue holds `max_queue_size` requests already.
    QueueFull,
    /// The circuit breaker is open: failed fast without a network call.
    CircuitOpen,
    /// The request's deadline or an attempt's timeout passed.
    Timeout,
    /// DNS failure, connection refused or reset before a response.
    Connect,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// The connection broke mid-response, or the server spoke malformed HTTP.
    Io,
    /// The response body was larger than the configured cap.
    BodyTooLarge,
    /// The caller cancelled the request.
    Cancelled,
    /// The client shut down before the request could be sent.
    Shutdown,
    /// `cancel` of an id that is done or never was.
    UnknownRequest,
    /// The call is not allowed in this state (e.g. a blocking send from a callback).
    InvalidState,
    /// A bug: a panic caught at the boundary.
    Panic,
    /// A redirect was refused: a loop, too many hops, https to http, or an
    /// unreadable `Location`. Never retried, not a breaker failure.
    Redirect,
    /// The journal (`Config::journal`) cannot be used: locked by another live
    /// client, corrupt, from a newer rlc, read-only, not rlc's file, or a write failed.
    Journal,
    /// A GraphQL request could not be built: the query does not parse, names no
    /// operation to run, or its variables are not a JSON object.
    Graphql,
    /// The shared limit's Redis refused the client at its start (a wrong password, a
    /// database that does not exist, scripting disabled).
    Redis,
}

impl ErrorKind {
    /// A short, stable name, as the C ABI spells it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "RLC_E_INVALID_ARGUMENT",
            ErrorKind::QueueFull => "RLC_E_QUEUE_FULL",
            ErrorKind::CircuitOpen => "RLC_E_CIRCUIT_OPEN",
            ErrorKind::Timeout => "RLC_E_TIMEOUT",
            ErrorKind::Connect => "RLC_E_CONNECT",
            ErrorKind::Tls => "RLC_E_TLS",
            ErrorKind::Io => "RLC_E_IO",
            ErrorKind::BodyTooLarge => "RLC_E_BODY_TOO_LARGE",
            ErrorKind::Cancelled => "RLC_E_CANCELLED",
            ErrorKind::Shutdown => "RLC_E_SHUTDOWN",
            ErrorKind::UnknownRequest => "RLC_E_UNKNOWN_REQUEST",
            ErrorKind::InvalidState => "RLC_E_INVALID_STATE",
            ErrorKind::Panic => "RLC_E_PANIC",
            ErrorKind::Redirect => "RLC_E_REDIRECT",
            ErrorKind::Journal => "RLC_E_JOURNAL",
            ErrorKind::Graphql => "RLC_E_GRAPHQL",
            ErrorKind::Redis => "RLC_E_REDIS",
        }
    }
}

/// An error with its kind, a human sentence, and how many attempts were made
/// (zero when the request never reached the network).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    attempts: u32,
}

impl Error {
    /// An error of `kind` that says `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), attempts: 0 }
    }

    /// Shorthand for an [`ErrorKind::InvalidArgument`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// The kind, which maps onto an `rlc_result` code.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// A human sentence; never contains header values.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How many attempts reached the network before this error.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for Error {}

/// The result type of the Rust API.
pub type Result<T> = std::result::Result<T, Error>;

/// The text of a caught panic's payload, for a message that says what broke.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}
