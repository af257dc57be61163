//! `rlc_request`: one HTTP request as the caller builds it.

use std::ffi::c_char;
use std::time::Duration;

use super::cast::{
    to_boxed_mut_ptr, try_mut_from_ptr, try_str_from_ptr, try_take_box, Castable, OwnershipBox,
};
use super::error::{fail, invalid_argument, result_of, rlc_result};
use super::panic::ffi_panic_boundary;
use crate::request::Request;

/// One HTTP request, owned by the caller until it is handed to `rlc_submit` or
/// `rlc_send` (which take ownership of it in every case), or freed with
/// `rlc_request_free`. Not thread-safe: build it on one thread at a time.
pub struct rlc_request {
    _private: [u8; 0],
}

impl Castable for rlc_request {
    type Ownership = OwnershipBox;
    type RustType = TaggedRequest;
}

/// The value behind an `rlc_request`: the request, and the tag that
/// `rlc_request_set_tag` gives its submission (kept beside the request rather than in
/// it, so that a queued request does not grow by a field that only the journal and
/// the callback read). Setters reach the request through `Deref`.
pub(crate) struct TaggedRequest {
    pub request: Request,
    pub tag: Option<String>,
}

impl std::ops::Deref for TaggedRequest {
    type Target = Request;
    fn deref(&self) -> &Request {
        &self.request
    }
}

impl std::ops::DerefMut for TaggedRequest {
    fn deref_mut(&mut self) -> &mut Request {
        &mut self.request
    }
}

/// Returns a new request for `method` (an HTTP token such as "GET"; upper-cased) and
/// `path_or_url`: a path starting with '/' that is joined to the client's base URL,
/// or an absolute `http://` or `https://` URL. Both strings are copied. The caller
/// owns the request. Returns NULL, with the last error set, for NULL, bad UTF-8, a
/// bad method, or a path or URL that is malformed, longer than 64 KiB, or holds
/// spaces or control characters. A path may carry a URL in its query
/// (`/cb?next=https://x`).
#[no_mangle]
pub extern "C" fn rlc_request_new(
    method: *const c_char,
    path_or_url: *const c_char,
) -> *mut rlc_request {
    ffi_panic_boundary! {
        let method = try_str_from_ptr!(method);
        let path_or_url = try_str_from_ptr!(path_or_url);
        match Request::new(method, path_or_url) {
            Ok(request) => to_boxed_mut_ptr(TaggedRequest { request, tag: None }),
            Err(e) => {
                fail(&e);
                std::ptr::null_mut()
            }
        }
    }
}

/// Adds a header to `req`; a name may be added more than once. Both strings are
/// copied; values are never quoted in error messages. RLC_E_INVALID_ARGUMENT for
/// NULL, bad UTF-8, a name that is not an HTTP token, or a value holding a control
/// character other than tab (CR, LF, NUL, ESC...) or DEL (the request is then unchanged).
#[no_mangle]
pub extern "C" fn rlc_request_set_header(
    req: *mut rlc_request,
    name: *const c_char,
    value: *const c_char,
) -> rlc_result {
    ffi_panic_boundary! {
        let req = try_mut_from_ptr!(req);
        let name = try_str_from_ptr!(name);
        let value = try_str_from_ptr!(value);
        result_of(req.header(name, value))
    }
}

/// Sets the body of `req` to a copy of the `len` bytes at `data` (any bytes, NULs
/// included), replacing an earlier body. `data` may be NULL only when `len` is 0 (an
/// empty body). RLC_E_INVALID_ARGUMENT when `req` is NULL, or `data` is NULL with a
/// non-zero `len`.
#[no_mangle]
pub extern "C" fn rlc_request_set_body(
    req: *mut rlc_request,
    data: *const u8,
    len: usize,
) -> rlc_result {
    ffi_panic_boundary! {
        let req = try_mut_from_ptr!(req);
        let body: &[u8] = if len == 0 {
            &[]
        } else if data.is_null() {
            return invalid_argument("argument `data` must not be NULL when `len` is not 0");
        } else {
            // SAFETY: the C caller promises data is readable for len bytes.
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        req.body(body);
        rlc_result::RLC_OK
    }
}

/// Sets the timeout of each attempt of `req`, overriding the client's.
/// RLC_E_INVALID_ARGUMENT when `req` is NULL or `timeout_ms` is 0.
#[no_mangle]
pub extern "C" fn rlc_request_set_timeout(req: *mut rlc_request, timeout_ms: u64) -> rlc_result {
    ffi_panic_boundary! {
        let req = try_mut_from_ptr!(req);
        result_of(req.timeout(Duration::from_millis(timeout_ms)))
    }
}

/// Bounds the whole life of `req`, from submit over queueing and every retry, to
/// `deadline_ms`; past it the request completes with RLC_E_TIMEOUT.
/// RLC_E_INVALID_ARGUMENT when `req` is NULL or `deadline_ms` is 0.
#[no_mangle]
pub extern "C" fn rlc_request_set_deadline(req: *mut rlc_request, deadline_ms: u64) -> rlc_result {
    ffi_panic_boundary! {
        let req = try_mut_from_ptr!(req);
        result_of(req.deadline(Duration::from_millis(deadline_ms)))
    }
}

/// Allows (`allow` true) retries of `req` even though its method is not idempotent
/// (e.g. POST). Without it only GET, HEAD, PUT, DELETE, OPTIONS, TRACE and requests
/// with an `Idempotency-Key` header are retried. RLC_E_INVALID_ARGUMENT when `req`
/// is NULL.
#[no_mangle]
pub extern "C" fn rlc_request_set_retry_non_idempotent(
    req: *mut rlc_request,
    allow: bool,
) -> rlc_result {
    ffi_panic_boundary! {
        let req = try_mut_from_ptr!(req);
        req.retry_non_idempotent(allow);
        rlc_result::RLC_OK
    }
}

/// Sets how many times `req` is retried, instead of the client's `max_retries`
/// (0: never). The client's retry budget still applies. RLC_E_INVALID_ARGUMENT when
/// `req` is NULL.
#[no_mangle]
pub extern "C" fn rlc_request_set_max_retries(
    req: *mut rlc_request,
    max_retries: u32,
) -> rlc_result {
    ffi_panic_boundary! {
        try_mut_from_ptr!(req).max_retries(max_retries);
        rlc_result::RLC_OK
    }
}

/// Sets how many tokens `req` takes from every rate limit of the client (1 by
/// default): a batch call that the API counts as ten costs 10. `rlc_submit` refuses
/// a cost above the smallest burst of the client's limits (it could never go) with
/// RLC_E_INVALID_ARGUMENT. RLC_E_INVALID_ARGUMENT here when `req` is NULL or
/// `tokens` is 0.
#[no_mangle]
pub extern "C" fn rlc_request_set_cost(req: *mut rlc_request, tokens: u32) -> rlc_result {
    ffi_panic_boundary! {
        let req = try_mut_from_ptr!(req);
        result_of(req.cost(tokens))
    }
}

/// Frees a request that was not handed to `rlc_submit` or `rlc_send`; `req` must not
/// be used again. NULL is a no-op.
#[no_mangle]
pub extern "C" fn rlc_request_free(req: *mut rlc_request) {
    ffi_panic_boundary! {
        // SAFETY: req is NULL or a live handle from rlc_request_new (the C contract).
        drop(unsafe { try_take_box(req) });
    }
}
