//! `rlc_result`, its static names, and the thread-local last error.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_char;

use super::panic::{ffi_panic_boundary, NullParameterOrDefault};
use crate::error::{Error, ErrorKind};

/// The outcome of a call or of a request. `RLC_OK` is 0; codes are only ever
/// appended, never renumbered.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum rlc_result {
    /// Success. For a request: an HTTP response of any status arrived.
    RLC_OK = 0,
    /// NULL, bad UTF-8, bad URL, a control character in a header, zero rate...
    RLC_E_INVALID_ARGUMENT,
    /// Refused at submit: nothing queued.
    RLC_E_QUEUE_FULL,
    /// The breaker is open: failed fast.
    RLC_E_CIRCUIT_OPEN,
    /// The request's deadline or an attempt's timeout passed.
    RLC_E_TIMEOUT,
    /// DNS, refused, reset before a response.
    RLC_E_CONNECT,
    /// The TLS handshake or the certificate check failed.
    RLC_E_TLS,
    /// The connection broke mid-response, or malformed HTTP.
    RLC_E_IO,
    /// The response body was larger than the configured cap.
    RLC_E_BODY_TOO_LARGE,
    /// The request was cancelled with rlc_cancel.
    RLC_E_CANCELLED,
    /// The client shut down before the request could be sent.
    RLC_E_SHUTDOWN,
    /// rlc_cancel of an id that is done or never was.
    RLC_E_UNKNOWN_REQUEST,
    /// Not allowed in this state, e.g. rlc_send from inside a callback.
    RLC_E_INVALID_STATE,
    /// A bug: a panic caught at the boundary, never unwound into C.
    RLC_E_PANIC,
    /// A redirect was refused: a loop, more hops than rlc_config_set_max_redirects
    /// allows, https to http, or an unreadable Location. Never retried.
    RLC_E_REDIRECT,
    /// The journal (rlc_config_set_journal) cannot be used: it is locked by another
    /// live client, corrupt, from a newer rlc, on a read-only path, or a file that is
    /// not rlc's (never overwritten); or a journal write failed. rlc_last_error says which.
    RLC_E_JOURNAL = 16,
    /// A GraphQL request could not be built: the query does not parse, names no
    /// operation to run (or is a subscription), or the variables are not a JSON object.
    RLC_E_GRAPHQL = 18,
    /// The shared limit's Redis refused the client at rlc_client_new: a wrong password,
    /// a database that does not exist, scripting disabled. (A Redis that cannot be
    /// reached does not fail the start: the failure policy applies.)
    RLC_E_REDIS = 19,
}

impl From<ErrorKind> for rlc_result {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => rlc_result::RLC_E_INVALID_ARGUMENT,
            ErrorKind::QueueFull => rlc_result::RLC_E_QUEUE_FULL,
            ErrorKind::CircuitOpen => rlc_result::RLC_E_CIRCUIT_OPEN,
            ErrorKind::Timeout => rlc_result::RLC_E_TIMEOUT,
            ErrorKind::Connect => rlc_result::RLC_E_CONNECT,
            ErrorKind::Tls => rlc_result::RLC_E_TLS,
            ErrorKind::Io => rlc_result::RLC_E_IO,
            ErrorKind::BodyTooLarge => rlc_result::RLC_E_BODY_TOO_LARGE,
            ErrorKind::Cancelled => rlc_result::RLC_E_CANCELLED,
            ErrorKind::Shutdown => rlc_result::RLC_E_SHUTDOWN,
            ErrorKind::UnknownRequest => rlc_result::RLC_E_UNKNOWN_REQUEST,
            ErrorKind::InvalidState => rlc_result::RLC_E_INVALID_STATE,
            ErrorKind::Panic => rlc_result::RLC_E_PANIC,
            ErrorKind::Redirect => rlc_result::RLC_E_REDIRECT,
            ErrorKind::Journal => rlc_result::RLC_E_JOURNAL,
            ErrorKind::Graphql => rlc_result::RLC_E_GRAPHQL,
            ErrorKind::Redis => rlc_result::RLC_E_REDIS,
        }
    }
}

impl rlc_result {
    /// The variant's name, NUL-terminated.
    fn name(self) -> &'static str {
        match self {
            rlc_result::RLC_OK => "RLC_OK\0",
            rlc_result::RLC_E_INVALID_ARGUMENT => "RLC_E_INVALID_ARGUMENT\0",
            rlc_result::RLC_E_QUEUE_FULL => "RLC_E_QUEUE_FULL\0",
            rlc_result::RLC_E_CIRCUIT_OPEN => "RLC_E_CIRCUIT_OPEN\0",
            rlc_result::RLC_E_TIMEOUT => "RLC_E_TIMEOUT\0",
            rlc_result::RLC_E_CONNECT => "RLC_E_CONNECT\0",
            rlc_result::RLC_E_TLS => "RLC_E_TLS\0",
            rlc_result::RLC_E_IO => "RLC_E_IO\0",
            rlc_result::RLC_E_BODY_TOO_LARGE => "RLC_E_BODY_TOO_LARGE\0",
            rlc_result::RLC_E_CANCELLED => "RLC_E_CANCELLED\0",
            rlc_result::RLC_E_SHUTDOWN => "RLC_E_SHUTDOWN\0",
            rlc_result::RLC_E_UNKNOWN_REQUEST => "RLC_E_UNKNOWN_REQUEST\0",
            rlc_result::RLC_E_INVALID_STATE => "RLC_E_INVALID_STATE\0",
            rlc_result::RLC_E_PANIC => "RLC_E_PANIC\0",
            rlc_result::RLC_E_REDIRECT => "RLC_E_REDIRECT\0",
            rlc_result::RLC_E_JOURNAL => "RLC_E_JOURNAL\0",
            rlc_result::RLC_E_GRAPHQL => "RLC_E_GRAPHQL\0",
            rlc_result::RLC_E_REDIS => "RLC_E_REDIS\0",
        }
    }

    /// Every code, in numbering order (numbers may skip: parallel work reserves some).
    const ALL: &'static [rlc_result] = &[
        rlc_result::RLC_OK,
        rlc_result::RLC_E_INVALID_ARGUMENT,
        rlc_result::RLC_E_QUEUE_FULL,
        rlc_result::RLC_E_CIRCUIT_OPEN,
        rlc_result::RLC_E_TIMEOUT,
        rlc_result::RLC_E_CONNECT,
        rlc_result::RLC_E_TLS,
        rlc_result::RLC_E_IO,
        rlc_result::RLC_E_BODY_TOO_LARGE,
        rlc_result::RLC_E_CANCELLED,
        rlc_result::RLC_E_SHUTDOWN,
        rlc_result::RLC_E_UNKNOWN_REQUEST,
        rlc_result::RLC_E_INVALID_STATE,
        rlc_result::RLC_E_PANIC,
        rlc_result::RLC_E_REDIRECT,
        rlc_result::RLC_E_JOURNAL,
        rlc_result::RLC_E_GRAPHQL,
        rlc_result::RLC_E_REDIS,
    ];

    /// The code numbered `value`, if there is one.
    fn from_value(value: u32) -> Option<rlc_result> {
        Self::ALL.iter().copied().find(|code| *code as u32 == value)
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records `message` as the calling thread's last error.
pub(crate) fn set_last_error(message: &str) {
    // NUL would cut the C string short; the messages are ours and hold none, but be sure.
    let clean = message.replace('\0', " ");
    let _ = LAST_ERROR.try_with(|cell| *cell.borrow_mut() = clean);
}

/// Records `error` as the last error and returns its code.
pub(crate) fn fail(error: &Error) -> rlc_result {
    set_last_error(error.message());
    error.kind().into()
}

/// `RLC_OK`, or the error's code with the last error set.
pub(crate) fn result_of<T>(result: crate::Result<T>) -> rlc_result {
    match result {
        Ok(_) => rlc_result::RLC_OK,
        Err(e) => fail(&e),
    }
}

/// Records a bad argument and returns the return type's "invalid argument" answer.
pub(crate) fn invalid_argument<T: NullParameterOrDefault>(message: &str) -> T {
    set_last_error(message);
    T::value()
}

/// Records that argument `name` was NULL.
pub(crate) fn null_argument<T: NullParameterOrDefault>(name: &str) -> T {
    invalid_argument(&format!("argument `{name}` must not be NULL"))
}

/// Records that argument `name` was not UTF-8.
pub(crate) fn not_utf8<T: NullParameterOrDefault>(name: &str) -> T {
    invalid_argument(&format!("argument `{name}` is not valid UTF-8"))
}

/// Records a panic caught at the boundary.
pub(crate) fn set_last_error_panic(payload: &(dyn Any + Send)) {
    let detail = crate::error::panic_message(payload);
    set_last_error(&format!("internal error (a bug in rlc, please report it): panic: {detail}"));
}

/// Copies `text` into `buf` (`len` bytes) as a NUL-terminated string, truncated to
/// fit; writes nothing when `buf` is NULL or `len` is 0. Returns the bytes the whole
/// text needs, including the NUL.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes.
pub(crate) unsafe fn copy_out(text: &str, buf: *mut c_char, len: usize) -> usize {
    let needed = text.len() + 1;
    if !buf.is_null() && len > 0 {
        let n = text.len().min(len - 1);
        // SAFETY: buf is writable for len > n bytes, and text is readable for n.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), buf, n);
            buf.add(n).write(0);
        }
    }
    needed
}

/// Returns the static, NUL-terminated name of the `rlc_result` numbered `r`, such as
/// `"RLC_E_QUEUE_FULL"`, or `"RLC_E_UNKNOWN"` for a number that is no code (one from
/// a newer library, or garbage). The string is never freed. It takes an integer, not
/// the enum, so that any value a binding passes is defined behaviour.
#[no_mangle]
pub extern "C" fn rlc_result_str(r: u32) -> *const c_char {
    ffi_panic_boundary! {
        let name = rlc_result::from_value(r).map_or("RLC_E_UNKNOWN\0", rlc_result::name);
        name.as_ptr().cast::<c_char>()
    }
}

/// Copies the calling thread's last error message, a human sentence about the last
/// failed synchronous call made on this thread, into `buf` as a NUL-terminated
/// string, truncated to fit `len` bytes (nothing is written when `buf` is NULL or
/// `len` is 0). Returns the bytes the whole message needs, including the NUL, so
/// `rlc_last_error(NULL, 0)` asks for the size; 1 means no error was recorded.
/// A successful call does not clear it. Completions are not reported here: a
/// callback's response carries its own `rlc_response_error_message`.
#[no_mangle]
pub extern "C" fn rlc_last_error(buf: *mut c_char, len: usize) -> usize {
    ffi_panic_boundary! {
        let message = LAST_ERROR.try_with(|cell| cell.borrow().clone()).unwrap_or_default();
        // SAFETY: the C caller promises buf is NULL or writable for len bytes.
        unsafe { copy_out(&message, buf, len) }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    fn name_of(value: u32) -> &'static str {
        // SAFETY: rlc_result_str returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(rlc_result_str(value)) }.to_str().unwrap()
    }

    #[test]
    fn every_code_is_named_at_its_own_number() {
        for &code in rlc_result::ALL {
            assert_eq!(name_of(code as u32), code.name().trim_end_matches('\0'));
        }
        assert!(rlc_result::ALL.windows(2).all(|w| (w[0] as u32) < (w[1] as u32)));
        assert_eq!(name_of(14), "RLC_E_REDIRECT");
        assert_eq!(name_of(16), "RLC_E_JOURNAL");
        assert_eq!(name_of(18), "RLC_E_GRAPHQL");
        assert_eq!(name_of(19), "RLC_E_REDIS");
    }

    #[test]
    fn a_number_that_is_no_code_is_unknown_not_undefined() {
        for value in [15, 17, 20, 255, 0x8000_0000, u32::MAX] {
            assert_eq!(name_of(value), "RLC_E_UNKNOWN");
        }
    }
}
