//! The GraphQL surface: building a GraphQL request, a cost limit counted in points,
//! and a response's GraphQL errors (in `response.rs`, beside the other getters).

use std::ffi::c_char;
use std::time::Duration;

use super::cast::{
    check_out_ptr, to_boxed_mut_ptr, try_mut_from_ptr, try_ref_from_ptr, try_str_from_ptr,
};
use super::config::rlc_config;
use super::error::{fail, invalid_argument, result_of, rlc_result};
use super::panic::ffi_panic_boundary;
use super::request::TaggedRequest;
use super::request::rlc_request;
use crate::request::Request;

/// Builds a GraphQL request: a POST to `path_or_url` (a path joined to the base URL,
/// or an absolute URL) whose body is the JSON `{"query", "variables",
/// "operationName"}`, with `Content-Type: application/json`, and writes it to
/// `*out`; the caller owns it (hand it to `rlc_submit` or `rlc_send`, or free it with
/// `rlc_request_free`). `variables_json` (a JSON object, copied through as it is) and
/// `operation_name` may be NULL. The query is parsed now: RLC_E_GRAPHQL, with
/// `rlc_last_error` saying where, when it does not parse, holds several operations
/// and no `operation_name` picks one, is a subscription, or the variables are not a
/// JSON object. A query is retried like a GET; a mutation only after
/// `rlc_request_set_retry_non_idempotent` (a THROTTLED answer, which means the
/// operation did not run, is retried either way). Its cost in points, taken from the
/// limits of `rlc_config_set_cost_limit`, is estimated by GitHub's rule (the requests
/// each connection needs with every `first`/`last` filled, over 100, at least 1)
/// until `rlc_request_set_cost` gives it; it counts as one request against the
/// other limits. RLC_E_INVALID_ARGUMENT for NULL `path_or_url`, `query` or `out`,
/// bad UTF-8, or a bad path. `*out` is written only on success.
#[no_mangle]
pub extern "C" fn rlc_graphql_request_new(
    path_or_url: *const c_char,
    query: *const c_char,
    variables_json: *const c_char,
    operation_name: *const c_char,
    out: *mut *mut rlc_request,
) -> rlc_result {
    ffi_panic_boundary! {
        let path_or_url = try_str_from_ptr!(path_or_url);
        let query = try_str_from_ptr!(query);
        let variables = if variables_json.is_null() { None } else { Some(try_str_from_ptr!(variables_json)) };
        let name = if operation_name.is_null() { None } else { Some(try_str_from_ptr!(operation_name)) };
        check_out_ptr!(out);
        match Request::graphql(path_or_url, query, variables, name) {
            Ok(request) => {
                // SAFETY: out is non-NULL, and the C caller promises it is writable.
                unsafe { out.write(to_boxed_mut_ptr(TaggedRequest { request, tag: None })) };
                rlc_result::RLC_OK
            }
            Err(e) => fail(&e),
        }
    }
}

/// Writes the points a GraphQL request `req` will take from the cost limits (the
/// estimate, or what `rlc_request_set_cost` set) to `*out`. RLC_E_INVALID_ARGUMENT,
/// writing nothing, when a pointer is NULL or `req` is not a GraphQL request.
#[no_mangle]
pub extern "C" fn rlc_graphql_request_points(req: *const rlc_request, out: *mut u32) -> rlc_result {
    ffi_panic_boundary! {
        let req = try_ref_from_ptr!(req);
        check_out_ptr!(out);
        let Some(points) = req.graphql_points() else {
            return invalid_argument("the request was not made with rlc_graphql_request_new");
        };
        // SAFETY: out is non-NULL, and the C caller promises it is writable.
        unsafe { out.write(points) };
        rlc_result::RLC_OK
    }
}

/// Adds a limit counted in points (a GraphQL API's cost budget): a bucket of
/// `points` refilled at `points` per `window_ms` milliseconds. Shopify's 1,000-point
/// bucket restored at 50 a second is (1000, 20000); GitHub's 5,000 points an hour is
/// (5000, 3600000). A GraphQL request takes its cost in points from every such limit
/// (and counts as one request against the request limits); any other request takes
/// its `rlc_request_set_cost`. After each GraphQL answer the charge is corrected to the
/// cost the server reports (Shopify `actualQueryCost`, GitHub `rateLimit.cost`) and
/// the bucket lowered to the points it says are left when that is fewer. Several may
/// be stacked. RLC_E_INVALID_ARGUMENT when `cfg` is NULL or `points` or `window_ms` is 0.
#[no_mangle]
pub extern "C" fn rlc_config_set_cost_limit(
    cfg: *mut rlc_config,
    points: u32,
    window_ms: u64,
) -> rlc_result {
    ffi_panic_boundary! {
        let cfg = try_mut_from_ptr!(cfg);
        result_of(cfg.cost_limit(points, Duration::from_millis(window_ms)))
    }
}
