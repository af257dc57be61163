//! The C ABI: every `extern "C"` function of `librlc`, and nothing else.
//!
//! Each function is a thin, checked wrapper over the Rust API:
//! - its body runs under [`panic::ffi_panic_boundary`], so no panic unwinds into C
//!   (it becomes `RLC_E_PANIC`, NULL or 0);
//! - every pointer is checked: NULL gives `RLC_E_INVALID_ARGUMENT` (or NULL / 0 for
//!   functions that return a value), never a crash; strings must be UTF-8;
//! - output arguments are written only on success;
//! - every failing synchronous call records a sentence for `rlc_last_error`.
//!
//! Opaque handles are tied to their Rust values in [`cast`]. `include/rlc.h` is
//! generated from this module by cbindgen (`make header`); `tests/header.rs` fails
//! when it is stale.

#![allow(non_camel_case_types)]
// The exported functions take raw pointers from C and check them for NULL; beyond
// that they must trust them, as every C API does. They are `extern "C"` entry points,
// not Rust API, so they are not marked `unsafe`.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::c_char;

mod cast;
mod panic;

// The order of the modules below is the order of the header (blank lines keep rustfmt
// from sorting them).

// rlc_result, rlc_result_str, rlc_last_error.
pub mod error;

// rlc_config and its setters.
pub mod config;

// rlc_client: new, free, submit, cancel, send.
pub mod client;

// rlc_request and its setters.
pub mod request;

// rlc_response and its getters.
pub mod response;

// rlc_metrics, rlc_breaker_state, rlc_client_metrics, Prometheus text.
pub mod metrics;

// rlc_event and rlc_config_set_event_callback.
pub mod event;

// The persistent queue: rlc_config_set_journal, tags, rlc_client_recover.
pub mod journal;
// rlc_graphql_request_new, rlc_config_set_cost_limit.
pub mod graphql;
// rlc_config_set_redis and its failure policy: a limit shared through Redis.
pub mod redis;

use panic::ffi_panic_boundary;

/// Returns the library's version, such as "0.1.0", as a static NUL-terminated string
/// that is never freed. The RLC_VERSION_* macros give the version of the header.
#[no_mangle]
pub extern "C" fn rlc_version() -> *const c_char {
    ffi_panic_boundary! { concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast::<c_char>() }
}
