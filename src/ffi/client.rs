//! `rlc_client`: submit, cancel, send, and shut down.

use std::ffi::c_void;

use super::cast::{
    check_out_ptr, set_boxed_mut_ptr, try_ref_from_ptr, try_take_box, Castable, OwnershipBox,
};
use super::config::rlc_config;
use super::error::{fail, null_argument, result_of, rlc_result};
use super::panic::ffi_panic_boundary;
use super::request::rlc_request;
use super::response::{rlc_response, Completion};
use crate::client::{Callback, Client};

/// A running client: a scheduler thread, a pool of worker threads and one completion
/// thread. Made by `rlc_client_new`, owned by the caller, freed by `rlc_client_free`.
/// Every function taking a client may be called from any thread, callbacks included.
pub struct rlc_client {
    _private: [u8; 0],
}

impl Castable for rlc_client {
    type Ownership = OwnershipBox;
    type RustType = Client;
}

/// Identifies an accepted request within its client; never 0.
pub type rlc_request_id = u64;

/// Called exactly once for each request that `rlc_submit` accepted, on the client's
/// completion thread (never inside `rlc_submit`), one callback at a time, in the order
/// requests finish. `result` is RLC_OK when an HTTP response of any status came, or
/// why none did. `response` is never NULL and is borrowed for the duration of the
/// call only: for an error, its status is 0, its attempts how many tries reached the
/// network, and `rlc_response_error_message` says why. `user_data` is the pointer
/// given to `rlc_submit`, passed through untouched.
pub type rlc_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        id: rlc_request_id,
        result: rlc_result,
        response: *const rlc_response,
    ),
>;

/// The caller's `user_data`, carried to the completion thread. rlc never reads it;
/// what it points at, and whether that may be used from another thread, is the C
/// caller's business (the callback contract says which thread it runs on).
struct UserData(*mut c_void);

// SAFETY: the pointer is only handed back to the caller's own callback.
unsafe impl Send for UserData {}

impl UserData {
    /// A method (not a field access), so closures capture the whole `Send` wrapper.
    fn get(&self) -> *mut c_void {
        self.0
    }
}

/// Starts a client built from a copy of `cfg` (which stays the caller's) and writes
/// it to `*out`; the caller owns it and frees it with `rlc_client_free`.
/// RLC_E_INVALID_ARGUMENT when a pointer is NULL; RLC_E_INVALID_STATE when a thread
/// could not be started. `*out` is written only on success.
#[no_mangle]
pub extern "C" fn rlc_client_new(cfg: *const rlc_config, out: *mut *mut rlc_client) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_ref_from_ptr!(cfg);
        check_out_ptr!(out);
        match Client::new(cfg.clone()) {
            Ok(client) => {
                // SAFETY: out is non-NULL, and the C caller promises it is writable.
                unsafe { set_boxed_mut_ptr(out, client) };
                rlc_result::RLC_OK
            }
            Err(e) => fail(&e),
        }
    }
}

/// Shuts `client` down and frees it; `client` must not be used again. It stops
/// intake, completes every queued request with RLC_E_SHUTDOWN, waits for the requests
/// in flight (bounded by their timeouts), delivers every remaining callback, joins
/// every thread and only then returns. Called from inside one of this client's
/// callbacks it does all of that but the waiting: the remaining callbacks are still
/// delivered, on the completion thread, after the current one returns. NULL is a no-op.
#[no_mangle]
pub extern "C" fn rlc_client_free(client: *mut rlc_client) {
    ffi_panic_boundary! {
        if client.is_null() {
            return;
        }
        // SAFETY: client is a live handle from rlc_client_new (the C contract).
        if let Some(client) = unsafe { try_take_box(client) } {
            // Inside a callback the handle stays alive until the last callback has
            // run, since those callbacks may still pass it to rlc_submit.
            client.free();
        }
    }
}

/// Called once when `rlc_client_free_async` has finished, with its `user_data`.
pub type rlc_closed_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Starts the shutdown of `client` and returns at once: a thread of rlc's own does
/// everything `rlc_client_free` does (stops intake, completes queued requests with
/// RLC_E_SHUTDOWN, waits for those in flight, delivers every callback, joins every
/// thread), frees the client, and then calls `done(user_data)` from that thread.
/// For event loops that must not block (Node, asyncio) nor tie up a worker pool
/// thread for as long as the slowest request in flight. On RLC_OK the client must not
/// be used by the caller again (its callbacks may still run until `done`).
/// RLC_E_INVALID_ARGUMENT when `client` or `done` is NULL; RLC_E_INVALID_STATE when
/// the thread could not be started, and then nothing happened: the client is still
/// the caller's.
#[no_mangle]
pub extern "C" fn rlc_client_free_async(
    client: *mut rlc_client,
    done: rlc_closed_callback,
    user_data: *mut c_void,
) -> rlc_result {
    ffi_panic_boundary! {
        if client.is_null() {
            return null_argument("client");
        }
        let Some(done) = done else {
            return null_argument("done");
        };
        let handle = ClientHandle(client);
        let user_data = UserData(user_data);
        let closer = std::thread::Builder::new().name("rlc-closer".into()).spawn(move || {
            let handle = handle;
            // SAFETY: the caller handed the live handle over with this call.
            if let Some(client) = unsafe { try_take_box(handle.0) } {
                client.free();
            }
            // SAFETY: done is the caller's callback with the documented signature.
            unsafe { done(user_data.get()) };
        });
        match closer {
            Ok(_) => rlc_result::RLC_OK,
            Err(e) => fail(&crate::Error::new(
                crate::ErrorKind::InvalidState,
                format!("could not start the closing thread: {e}"),
            )),
        }
    }
}

/// A client handle on its way to the closing thread.
struct ClientHandle(*mut rlc_client);

// SAFETY: the handle is owned by the closing thread alone once handed over.
unsafe impl Send for ClientHandle {}

/// Queues `req` with `priority` (higher goes first: 100 before 1; first come, first
/// served among equals). Takes ownership of `req` in every case, success or not: it
/// must not be used or freed again. Returns RLC_OK, and writes the request's id to
/// `*out_id`, if and only if `cb` will be called exactly once, later, on the
/// completion thread, with `user_data`. Any other result means `cb` will never be
/// called: RLC_E_QUEUE_FULL and RLC_E_CIRCUIT_OPEN refuse at once with nothing
/// queued; RLC_E_SHUTDOWN while the client closes; RLC_E_INVALID_ARGUMENT when
/// `client`, `req`, `cb` or `out_id` is NULL, or `req` has a relative path and the
/// config no base URL. May be called from inside a callback.
#[no_mangle]
pub extern "C" fn rlc_submit(
    client: *mut rlc_client,
    req: *mut rlc_request,
    priority: i32,
    cb: rlc_callback,
    user_data: *mut c_void,
    out_id: *mut rlc_request_id,
) -> rlc_result {
    ffi_panic_boundary! {
        // Take req first, so that it is freed on every path.
        // SAFETY: req is NULL or a live handle from rlc_request_new (the C contract).
        let Some(request) = (unsafe { try_take_box(req) }) else {
            return null_argument("req");
        };
        let client = try_ref_from_ptr!(client);
        let Some(cb) = cb else {
            return null_argument("cb");
        };
        check_out_ptr!(out_id);
        let user_data = UserData(user_data);
        let callback: Callback = Box::new(move |id, result| {
            let (code, completion) = Completion::new(result, false);
            let response: *const rlc_response = (&completion as *const Completion).cast();
            // SAFETY: cb is the caller's callback with the documented signature; the
            // response outlives the call.
            unsafe { cb(user_data.get(), id, code, response) };
        });
        match client.try_submit(*request, priority, callback) {
            Ok(id) => {
                // SAFETY: out_id is non-NULL, and the C caller promises it is writable.
                unsafe { out_id.write(id) };
                rlc_result::RLC_OK
            }
            // The callback comes back uncalled and is dropped: it will never run.
            Err((e, _callback)) => fail(&e),
        }
    }
}

/// Cancels request `id` of `client`: a queued request completes at once (on the
/// completion thread) with RLC_E_CANCELLED; one in flight completes with
/// RLC_E_CANCELLED when its attempt ends. RLC_E_UNKNOWN_REQUEST when the request is
/// done, already cancelled, or never was; RLC_E_INVALID_ARGUMENT when `client` is NULL.
#[no_mangle]
pub extern "C" fn rlc_cancel(client: *mut rlc_client, id: rlc_request_id) -> rlc_result {
    ffi_panic_boundary! {
        let client = try_ref_from_ptr!(client);
        result_of(client.cancel(id))
    }
}

/// Submits `req` with `priority` and blocks until it completes. Takes ownership of
/// `req` in every case: it must not be used or freed again. Returns RLC_OK when an
/// HTTP response of any status came, and writes it to `*out`: the caller owns it and
/// frees it with `rlc_response_free`. Otherwise returns why (the refusals of
/// `rlc_submit`, or the request's failure: RLC_E_TIMEOUT, RLC_E_CONNECT, ...), sets
/// the last error and leaves `*out` alone. RLC_E_INVALID_STATE inside a callback,
/// where waiting would deadlock; RLC_E_INVALID_ARGUMENT when a pointer is NULL.
#[no_mangle]
pub extern "C" fn rlc_send(
    client: *mut rlc_client,
    req: *mut rlc_request,
    priority: i32,
    out: *mut *mut rlc_response,
) -> rlc_result {
    ffi_panic_boundary! {
        // SAFETY: req is NULL or a live handle from rlc_request_new (the C contract).
        let Some(request) = (unsafe { try_take_box(req) }) else {
            return null_argument("req");
        };
        let client = try_ref_from_ptr!(client);
        check_out_ptr!(out);
        match client.send(*request, priority) {
            Ok(response) => {
                let (code, completion) = Completion::new(Ok(response), true);
                // SAFETY: out is non-NULL, and the C caller promises it is writable.
                unsafe { set_boxed_mut_ptr(out, completion) };
                code
            }
            Err(e) => fail(&e),
        }
    }
}

/// Changes the rate limit of the running `client` at once: at most `max_requests`
/// per `window_ms`, with a burst of `max_requests`, keeping its strictness. The
/// tokens the limit held carry over (up to the new burst): none is lost or invented,
/// and requests waiting for a token see the new rate at once. Adds a limit when the
/// client had none; limits added with `rlc_config_add_rate_limit` stay. An event
/// (RLC_EVENT_LIMIT) reports it. RLC_E_INVALID_ARGUMENT when `client` is NULL,
/// `max_requests` is 0 or `window_ms` is 0. May be called from any thread.
#[no_mangle]
pub extern "C" fn rlc_client_set_rate_limit(
    client: *mut rlc_client,
    max_requests: u32,
    window_ms: u64,
) -> rlc_result {
    ffi_panic_boundary! {
        let client = try_ref_from_ptr!(client);
        result_of(client.set_rate_limit(max_requests, std::time::Duration::from_millis(window_ms)))
    }
}

/// Returns true when called from inside one of `client`'s callbacks (on its
/// completion thread, or on a worker with `rlc_config_set_callbacks_on_workers`),
/// where `rlc_send` is refused; false otherwise or when `client` is NULL.
#[no_mangle]
pub extern "C" fn rlc_client_in_callback(client: *const rlc_client) -> bool {
    ffi_panic_boundary! { try_ref_from_ptr!(client).in_callback() }
}
