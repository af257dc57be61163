//! `rlc_event`: what a client tells the event callback set with
//! `rlc_config_set_event_callback`.

use std::ffi::{c_char, c_void};

use super::cast::try_mut_from_ptr;
use super::config::rlc_config;
use super::error::rlc_result;
use super::metrics::rlc_breaker_state;
use super::panic::ffi_panic_boundary;
use crate::breaker::BreakerState;
use crate::event::{Event, EventHook};

/// The kind of an `rlc_event` (its `kind` field). Values are only ever appended.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum rlc_event_kind {
    /// The breaker changed state: `breaker_from`, `breaker_to`.
    RLC_EVENT_BREAKER = 0,
    /// A failed attempt will be retried: `id`, `attempt` (the one that failed, 1 for
    /// the first), `delay_ms`, and `status` (its HTTP status) or `reason` (why no
    /// response came; RLC_OK when one did).
    RLC_EVENT_RETRY = 1,
    /// The server asked the whole client to pause: `delay_ms` (the pause, after the
    /// cap), `status`, `header` (which header asked), `capped`.
    RLC_EVENT_PAUSE = 2,
    /// A request was dropped without being sent: `reason` is RLC_E_QUEUE_FULL or
    /// RLC_E_CIRCUIT_OPEN at submit (`id` 0: it never had one), RLC_E_CIRCUIT_OPEN or
    /// RLC_E_TIMEOUT (its deadline passed) in the queue (`id` set).
    RLC_EVENT_DROPPED = 3,
    /// A rate limit changed while the client runs: `limit_max` per `limit_window_ms`.
    RLC_EVENT_LIMIT = 4,
    /// The shared limit's Redis (`rlc_config_set_redis`) was lost, `reason`
    /// RLC_E_REDIS: the failure policy applies while the client reconnects; or it is
    /// back, `reason` RLC_OK and `delay_ms` the time spent without it.
    RLC_EVENT_REDIS = 50,
}

/// One event, borrowed for the duration of the callback only. Fields that do not
/// apply to its kind are 0 (`header` is then ""). Fields are only ever appended:
/// `size` is `sizeof(rlc_event)` as the library was built, so a program compiled
/// against an older header reads the fields it knows, and one compiled against a
/// newer header checks `size` before reading a field the library may not have.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rlc_event {
    /// `sizeof(rlc_event)` as the library was built.
    pub size: usize,
    /// An `rlc_event_kind` value; an integer, so a kind from a newer library is not
    /// undefined behaviour: ignore kinds you do not know.
    pub kind: u32,
    /// The request concerned (RETRY, DROPPED), or 0.
    pub id: u64,
    /// BREAKER: the state it left.
    pub breaker_from: rlc_breaker_state,
    /// BREAKER: the state it entered.
    pub breaker_to: rlc_breaker_state,
    /// RETRY: the attempt that failed, 1 for the first.
    pub attempt: u32,
    /// RETRY: the wait before the next attempt; PAUSE: the pause; in milliseconds.
    pub delay_ms: u64,
    /// RETRY, PAUSE: the HTTP status of the response, 0 when none came.
    pub status: u16,
    /// RETRY: why no response came (RLC_OK when one did); DROPPED: why it was dropped.
    pub reason: rlc_result,
    /// PAUSE: the header that asked ("Retry-After", "X-RateLimit-Reset",
    /// "RateLimit-Reset" or "RateLimit"); "" otherwise. A static string.
    pub header: *const c_char,
    /// PAUSE: true when the server asked for longer than
    /// `rlc_config_set_max_server_pause` allows and the pause was cut.
    pub capped: bool,
    /// LIMIT: requests allowed per window now.
    pub limit_max: u32,
    /// LIMIT: the window, in milliseconds.
    pub limit_window_ms: u64,
}

/// Called with each event of a client, on its completion thread, in order with the
/// request callbacks (never inside an rlc call of yours). `event` is borrowed for
/// the duration of the call only. It must not block for long: callbacks wait behind it.
pub type rlc_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const rlc_event)>;

/// A static C string for a header name that an event names.
fn static_c_str(name: &'static str) -> *const c_char {
    match name {
        "Retry-After" => b"Retry-After\0".as_ptr().cast(),
        "X-RateLimit-Reset" => b"X-RateLimit-Reset\0".as_ptr().cast(),
        "RateLimit-Reset" => b"RateLimit-Reset\0".as_ptr().cast(),
        "RateLimit" => b"RateLimit\0".as_ptr().cast(),
        _ => b"\0".as_ptr().cast(),
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<&Event> for rlc_event {
    fn from(event: &Event) -> Self {
        let mut e = rlc_event {
            size: std::mem::size_of::<rlc_event>(),
            kind: 0,
            id: 0,
            breaker_from: BreakerState::Closed.into(),
            breaker_to: BreakerState::Closed.into(),
            attempt: 0,
            delay_ms: 0,
            status: 0,
            reason: rlc_result::RLC_OK,
            header: b"\0".as_ptr().cast(),
            capped: false,
            limit_max: 0,
            limit_window_ms: 0,
        };
        match *event {
            Event::Breaker { from, to } => {
                e.kind = rlc_event_kind::RLC_EVENT_BREAKER as u32;
                e.breaker_from = from.into();
                e.breaker_to = to.into();
            }
            Event::Retry { id, attempt, delay, status, error } => {
                e.kind = rlc_event_kind::RLC_EVENT_RETRY as u32;
                e.id = id;
                e.attempt = attempt;
                e.delay_ms = millis(delay);
                e.status = status;
                e.reason = error.map_or(rlc_result::RLC_OK, Into::into);
            }
            Event::Pause { duration, status, header, capped } => {
                e.kind = rlc_event_kind::RLC_EVENT_PAUSE as u32;
                e.delay_ms = millis(duration);
                e.status = status;
                e.header = static_c_str(header);
                e.capped = capped;
            }
            Event::Dropped { id, reason } => {
                e.kind = rlc_event_kind::RLC_EVENT_DROPPED as u32;
                e.id = id.unwrap_or(0);
                e.reason = reason.into();
            }
            Event::LimitChanged { max_requests, window } => {
                e.kind = rlc_event_kind::RLC_EVENT_LIMIT as u32;
                e.limit_max = max_requests;
                e.limit_window_ms = millis(window);
            }
            Event::Redis { connected, down_for } => {
                e.kind = rlc_event_kind::RLC_EVENT_REDIS as u32;
                e.reason = if connected { rlc_result::RLC_OK } else { rlc_result::RLC_E_REDIS };
                e.delay_ms = millis(down_for);
            }
        }
        e
    }
}

/// The caller's `user_data`, carried to the completion thread untouched.
struct HookData(*mut c_void);

// SAFETY: the pointer is only handed back to the caller's own callback, on the
// completion thread, as the documentation of rlc_config_set_event_callback says.
unsafe impl Send for HookData {}
// SAFETY: as above; rlc never reads through it.
unsafe impl Sync for HookData {}

/// Sets the function called with every event of the clients made from `cfg`
/// (breaker transitions, retries scheduled, server-requested pauses, requests dropped
/// unsent, limit changes), replacing an earlier one; NULL `cb` removes it.
/// `user_data` is passed to it untouched and must stay valid until every client made
/// from this config has been freed. RLC_E_INVALID_ARGUMENT when `cfg` is NULL.
#[no_mangle]
pub extern "C" fn rlc_config_set_event_callback(
    cfg: *mut rlc_config,
    cb: rlc_event_callback,
    user_data: *mut c_void,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        let hook = cb.map(|cb| {
            let data = HookData(user_data);
            EventHook::new(move |event: &Event| {
                let data = &data;
                let c_event = rlc_event::from(event);
                // SAFETY: cb is the caller's callback with the documented signature;
                // the event outlives the call.
                unsafe { cb(data.0, &c_event) };
            })
        });
        cfg.event_hook(hook);
        rlc_result::RLC_OK
    }
}
