//! `rlc_response`: what a completed request hands back, borrowed by a callback or
//! owned by the caller of `rlc_send`.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use ureq::http::HeaderMap;

use super::cast::{
    check_out_ptr, try_ref_from_ptr, try_str_from_ptr, try_take_box, Castable, OwnershipBox,
};
use super::error::{invalid_argument, rlc_result, set_last_error};
use super::panic::ffi_panic_boundary;
use crate::error::Error;
use crate::response::Response;

/// The outcome of one request: an HTTP response of any status, or (status 0) the
/// reason none came. A response passed to a callback is borrowed for the duration of
/// that call only; one returned by `rlc_send` is the caller's to free with
/// `rlc_response_free`. Every pointer a response hands out lives as long as it does.
pub struct rlc_response {
    _private: [u8; 0],
}

impl Castable for rlc_response {
    type Ownership = OwnershipBox;
    type RustType = Completion;
}

/// The value behind an `rlc_response`: the response's parts, the headers as C strings
/// made on first use (most callbacks read a status and a body, and never pay for them).
pub(crate) struct Completion {
    status: u16,
    attempts: u32,
    body: Vec<u8>,
    header_map: HeaderMap,
    headers: OnceLock<Vec<(CString, CString)>>,
    error_message: CString,
    /// False for the borrowed response of a callback, which `rlc_response_free` refuses.
    caller_owned: bool,
}

/// A C string from text that, coming from a server, might hold a NUL (dropped).
fn c_string(text: &str) -> CString {
    CString::new(text).unwrap_or_else(|_| CString::new(text.replace('\0', "")).unwrap_or_default())
}

impl Completion {
    /// The completion of a request that ended with `result`, and its code.
    pub(crate) fn new(
        result: crate::Result<Response>,
        caller_owned: bool,
    ) -> (rlc_result, Completion) {
        match result {
            Ok(response) => (rlc_result::RLC_OK, Completion::from_response(response, caller_owned)),
            Err(error) => (error.kind().into(), Completion::from_error(&error, caller_owned)),
        }
    }

    fn from_response(mut response: Response, caller_owned: bool) -> Completion {
        Completion {
            status: response.status(),
            attempts: response.attempts(),
            body: response.take_body(),
            header_map: std::mem::take(&mut response.headers),
            headers: OnceLock::new(),
            error_message: CString::default(),
            caller_owned,
        }
    }

    fn from_error(error: &Error, caller_owned: bool) -> Completion {
        Completion {
            status: 0,
            attempts: error.attempts(),
            body: Vec::new(),
            header_map: HeaderMap::new(),
            headers: OnceLock::new(),
            error_message: c_string(error.message()),
            caller_owned,
        }
    }

    /// The headers as C strings, in the header map's order (names in lower case).
    fn headers(&self) -> &[(CString, CString)] {
        self.headers.get_or_init(|| {
            let text = |bytes: &[u8]| c_string(&String::from_utf8_lossy(bytes));
            self.header_map
                .iter()
                .map(|(n, v)| (c_string(n.as_str()), text(v.as_bytes())))
                .collect()
        })
    }
}

/// The body of an empty response: a valid pointer even for zero bytes.
static EMPTY: [u8; 1] = [0];

/// Returns the HTTP status of `resp`, or 0 when no HTTP response came (then
/// `rlc_response_error_message` says why) or `resp` is NULL.
#[no_mangle]
pub extern "C" fn rlc_response_status(resp: *const rlc_response) -> u16 {
    ffi_panic_boundary! { try_ref_from_ptr!(resp).status }
}

/// Returns a pointer to the body of `resp` and writes its length in bytes to `*len`.
/// The bytes (not NUL-terminated; they may hold NULs) are owned by `resp` and valid
/// as long as it is. An empty body gives a valid pointer and 0. Returns NULL, and
/// leaves `*len` alone, when `resp` or `len` is NULL.
#[no_mangle]
pub extern "C" fn rlc_response_body(resp: *const rlc_response, len: *mut usize) -> *const u8 {
    ffi_panic_boundary! {
        let resp = try_ref_from_ptr!(resp);
        check_out_ptr!(len);
        // SAFETY: len is non-NULL, and the C caller promises it is writable.
        unsafe { len.write(resp.body.len()) };
        if resp.body.is_empty() {
            EMPTY.as_ptr()
        } else {
            resp.body.as_ptr()
        }
    }
}

/// Returns the value of the first header of `resp` named `name` (compared without
/// regard to case), as a NUL-terminated string owned by `resp` and valid as long as
/// it is. NULL when there is no such header, or `resp` or `name` is NULL or `name`
/// is not UTF-8.
#[no_mangle]
pub extern "C" fn rlc_response_header(
    resp: *const rlc_response,
    name: *const c_char,
) -> *const c_char {
    ffi_panic_boundary! {
        let resp = try_ref_from_ptr!(resp);
        let name = try_str_from_ptr!(name);
        resp.headers()
            .iter()
            .find(|(n, _)| n.to_bytes().eq_ignore_ascii_case(name.as_bytes()))
            .map_or(std::ptr::null(), |(_, v)| v.as_ptr())
    }
}

/// Returns how many headers `resp` has (a repeated name counts once per line); 0 when
/// `resp` is NULL.
#[no_mangle]
pub extern "C" fn rlc_response_header_count(resp: *const rlc_response) -> usize {
    ffi_panic_boundary! { try_ref_from_ptr!(resp).headers().len() }
}

/// Writes the name and value of header number `index` (from 0; names in lower case,
/// in the order first received, a repeated name's lines together) of `resp` to `*name` and `*value`: NUL-terminated strings owned by
/// `resp` and valid as long as it is. RLC_E_INVALID_ARGUMENT, writing nothing, when
/// a pointer is NULL or `index` is not below `rlc_response_header_count`.
#[no_mangle]
pub extern "C" fn rlc_response_header_at(
    resp: *const rlc_response,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> rlc_result {
    ffi_panic_boundary! {
        let resp = try_ref_from_ptr!(resp);
        check_out_ptr!(name);
        check_out_ptr!(value);
        let headers = resp.headers();
        let Some((n, v)) = headers.get(index) else {
            return invalid_argument(&format!(
                "header index {index} is out of range: the response has {} headers",
                headers.len()
            ));
        };
        // SAFETY: both are non-NULL, and the C caller promises they are writable.
        unsafe {
            name.write(n.as_ptr());
            value.write(v.as_ptr());
        }
        rlc_result::RLC_OK
    }
}

/// Returns how many attempts the request took (1 when the first one answered; 0 when
/// it never reached the network, e.g. cancelled while queued), or 0 when `resp` is
/// NULL.
#[no_mangle]
pub extern "C" fn rlc_response_attempts(resp: *const rlc_response) -> u32 {
    ffi_panic_boundary! { try_ref_from_ptr!(resp).attempts }
}

/// Returns why the request failed, as a human sentence owned by `resp` and valid as
/// long as it is; "" when it did not fail (an HTTP response of any status came).
/// NULL when `resp` is NULL.
#[no_mangle]
pub extern "C" fn rlc_response_error_message(resp: *const rlc_response) -> *const c_char {
    ffi_panic_boundary! { try_ref_from_ptr!(resp).error_message.as_ptr() }
}

/// Frees a response returned by `rlc_send`; `resp` and every pointer it handed out
/// must not be used again. NULL is a no-op. A response passed to a callback is
/// borrowed: freeing it is refused (nothing happens, and the last error says so).
#[no_mangle]
pub extern "C" fn rlc_response_free(resp: *mut rlc_response) {
    ffi_panic_boundary! {
        if resp.is_null() {
            return;
        }
        let completion: &Completion = try_ref_from_ptr!(resp);
        if !completion.caller_owned {
            set_last_error("rlc_response_free: a callback's response is borrowed, not freed");
            return;
        }
        // SAFETY: resp is a live, caller-owned handle from rlc_send (the C contract).
        drop(unsafe { try_take_box(resp) });
    }
}
