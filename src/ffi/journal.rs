//! The persistent queue's C surface: `rlc_config_set_journal`, request tags, and
//! `rlc_client_recover`.

use std::ffi::{c_char, c_void};

use super::cast::{check_out_ptr, try_mut_from_ptr, try_ref_from_ptr, try_str_from_ptr};
use super::client::{rlc_callback, rlc_client, UserData};
use super::config::rlc_config;
use super::error::{fail, null_argument, result_of, rlc_result};
use super::panic::ffi_panic_boundary;
use super::request::rlc_request;
use super::response::{c_string, rlc_response, Completion};

/// Keeps every request that clients made from `cfg` accept in a journal at `path`
/// (an SQLite file, created when missing; `path` is copied) until its callback has
/// run. With a journal, `rlc_submit` returns RLC_OK only once the request (method,
/// target, headers, body, priority, deadline, tag) is on disk: concurrent submits
/// share one disk write. A request without an `Idempotency-Key` header gets one (a
/// random UUID, kept across a resend). After a crash, the next process's
/// `rlc_client_recover` queues what the journal holds: delivery is at least once (a
/// request in flight at the crash is sent again, with the same key). A request that
/// completes with RLC_E_SHUTDOWN stays in the journal for the next process.
/// `rlc_client_new` fails with RLC_E_JOURNAL, and `rlc_last_error` says why, when the
/// journal is locked by another live client, corrupt, from a newer rlc, on a
/// read-only path, or a file that is not rlc's (it is never overwritten).
/// RLC_E_INVALID_ARGUMENT for NULL, bad UTF-8 or an empty path.
#[no_mangle]
pub extern "C" fn rlc_config_set_journal(cfg: *mut rlc_config, path: *const c_char) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let path = try_str_from_ptr!(path);
        result_of(cfg.journal(path))
    }
}

/// Names `req` in the application's own terms (an order number, a file name); `tag`
/// is copied, at most 4 KiB. The tag is kept in the journal with the request and
/// read back with `rlc_response_tag` in its callback, including the callback that
/// `rlc_client_recover` gives a request of an earlier process (whose `user_data` died
/// with it). RLC_E_INVALID_ARGUMENT for NULL, bad UTF-8 or a longer tag.
#[no_mangle]
pub extern "C" fn rlc_request_set_tag(req: *mut rlc_request, tag: *const c_char) -> rlc_result {
    ffi_panic_boundary! {
        let req = try_mut_from_ptr!(req);
        let tag = try_str_from_ptr!(tag);
        result_of(crate::journal::check_tag(tag).map(|()| req.tag = Some(tag.to_owned())))
    }
}

/// Returns the tag of the request `resp` answers (set with `rlc_request_set_tag`), as
/// a NUL-terminated string owned by `resp` and valid as long as it is; "" when the
/// request had none. NULL when `resp` is NULL.
#[no_mangle]
pub extern "C" fn rlc_response_tag(resp: *const rlc_response) -> *const c_char {
    ffi_panic_boundary! { try_ref_from_ptr!(resp).tag().as_ptr() }
}

/// Queues every request that `client`'s journal holds from an earlier process (one
/// that died or closed with requests unsent), oldest first, with `priority`, and
/// writes how many to `*out_count`. `cb` is called exactly once for each, on the
/// completion thread, with `user_data`, like a callback of `rlc_submit`;
/// `rlc_response_tag` tells which request it was. A request whose deadline passed
/// while no process ran completes with RLC_E_TIMEOUT without being sent; the others
/// keep their remaining deadline, their Idempotency-Key and every other part. Neither
/// the queue bound nor the breaker refuses them: they were accepted once already.
/// Only the first call finds anything; later calls write 0. RLC_E_INVALID_STATE when
/// the client has no journal; RLC_E_SHUTDOWN while it closes, and then `cb` is
/// never called (a client that begins closing midway returns RLC_OK with the count
/// of those queued, which complete with RLC_E_SHUTDOWN; everything not finished stays
/// in the journal); RLC_E_INVALID_ARGUMENT when `client`, `cb` or `out_count` is
/// NULL. In every failure `cb` is never called.
#[no_mangle]
pub extern "C" fn rlc_client_recover(
    client: *mut rlc_client,
    priority: i32,
    cb: rlc_callback,
    user_data: *mut c_void,
    out_count: *mut usize,
) -> rlc_result {
    ffi_panic_boundary! {
        let client = try_ref_from_ptr!(client);
        let Some(cb) = cb else {
            return null_argument("cb");
        };
        check_out_ptr!(out_count);
        let user_data = UserData(user_data);
        let recovered = client.recover(priority, move |id, tag, result| {
            let (code, completion) = Completion::new(result, false);
            let completion = completion.with_tag(tag.map(c_string));
            let response: *const rlc_response = (&completion as *const Completion).cast();
            // SAFETY: cb is the caller's callback with the documented signature; the
            // response outlives the call.
            unsafe { cb(user_data.get(), id, code, response) };
        });
        match recovered {
            Ok(count) => {
                // SAFETY: out_count is non-NULL, and the C caller promises it is writable.
                unsafe { out_count.write(count) };
                rlc_result::RLC_OK
            }
            Err(e) => fail(&e),
        }
    }
}
