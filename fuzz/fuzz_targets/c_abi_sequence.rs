//! Random sequences of C ABI calls with random arguments, NULLs included, driven
//! from Rust through the `extern "C"` functions in `rlc::ffi`. Handles are only
//! ever live ones or NULL (passing a freed handle is outside the C contract).
//!
//! Oracles: no call panics or crashes (a panic would abort: the boundary must
//! catch it); a NULL handle or out-pointer gives RLC_E_INVALID_ARGUMENT (or NULL);
//! `rlc_submit` returns RLC_OK exactly when its callback later runs exactly once
//! (counted per id, checked after `rlc_client_free`); the callback's response is
//! never NULL; `rlc_last_error` never writes past `len` and always terminates;
//! `rlc_client_free` returns (libFuzzer's -timeout catches a hang).
//!
//! Traffic goes only to 127.0.0.1, to a port that was bound and closed (connection
//! refused): every client's base URL is forced to it just before `rlc_client_new`,
//! and only requests whose target starts with '/' (relative to that base URL) are
//! ever submitted; the others are freed.
//!
//! User agents and default headers may hold any control character: issue 10's
//! defect 1 (a worker panic that hung `rlc_client_free`) is fixed.
#![no_main]

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::{Mutex, OnceLock};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rlc::ffi::client::*;
use rlc::ffi::config::*;
use rlc::ffi::error::*;
use rlc::ffi::metrics::*;
use rlc::ffi::request::*;
use rlc::ffi::response::*;

/// At most this many of each handle live at once.
const MAX_LIVE: usize = 3;

#[derive(Arbitrary, Debug, Clone)]
enum Text {
    Null,
    Str(String),
    /// Bytes that may not be UTF-8 (cut at the first NUL, as C would).
    Bytes(Vec<u8>),
    Path(String),
}

/// Which handle: NULL, or the live one at this index (modulo the count).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Slot {
    Null,
    Live(u8),
}

#[derive(Arbitrary, Debug)]
enum Call {
    ConfigNew,
    ConfigFree(Slot),
    SetBaseUrl(Slot, Text),
    SetRateLimit(Slot, u32, u64),
    SetBurst(Slot, u32),
    AddRateLimit(Slot, u32, u64, u32),
    SetStrictWindow(Slot, bool),
    SetRetry(Slot, u32, u64, u64),
    SetCircuitBreaker(Slot, u32, u64),
    SetMaxQueueSize(Slot, usize),
    SetWorkers(Slot, u32),
    SetTimeout(Slot, u64),
    SetDefaultHeader(Slot, Text, Text),
    SetMaxResponseBytes(Slot, u64),
    SetUserAgent(Slot, Text),
    SetCaBundle(Slot, Text),
    SetMaxRedirects(Slot, u32),
    SetRedirectToHttp(Slot, bool),
    AddSensitiveHeader(Slot, Text),
    SetMaxServerPause(Slot, u64),
    RequestNew(Text, Text),
    RequestSetHeader(Slot, Text, Text),
    RequestSetBody(Slot, Option<Vec<u8>>, u16),
    RequestSetTimeout(Slot, u64),
    RequestSetDeadline(Slot, u64),
    RequestSetRetryNonIdempotent(Slot, bool),
    RequestFree(Slot),
    ClientNew { config: Slot, null_out: bool },
    ClientFree(Slot),
    ClientFreeAsync { client: Slot, null_done: bool },
    ClientMetric { client: Slot, metric: u32, null_out: bool },
    Submit { client: Slot, request: Slot, priority: i32, null_cb: bool, null_out: bool },
    Cancel(Slot, CancelId),
    Metrics { client: Slot, null_out: bool },
    Prometheus { client: Slot, len: u16, null_buf: bool, null_needed: bool },
    InCallback(Slot),
    ResultStr(u32),
    LastError { len: u8, null_buf: bool },
}

#[derive(Arbitrary, Debug)]
enum CancelId {
    Any(u64),
    Issued(u8),
}

/// Callbacks seen, per (client tag, id).
fn seen() -> &'static Mutex<HashMap<(usize, u64), u32>> {
    static SEEN: OnceLock<Mutex<HashMap<(usize, u64), u32>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// A base URL on 127.0.0.1 where nothing listens.
fn closed_url() -> &'static CStr {
    static URL: OnceLock<CString> = OnceLock::new();
    URL.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        CString::new(format!("http://127.0.0.1:{port}")).unwrap()
    })
}

unsafe extern "C" fn on_done(
    user_data: *mut c_void,
    id: rlc_request_id,
    _result: rlc_result,
    response: *const rlc_response,
) {
    assert!(!response.is_null(), "a callback got a NULL response");
    // Read everything a callback may read.
    let _ = rlc_response_status(response);
    let _ = rlc_response_attempts(response);
    let mut len = 0usize;
    let _ = rlc_response_body(response, &mut len);
    let _ = rlc_response_body(response, ptr::null_mut());
    let message = rlc_response_error_message(response);
    assert!(!message.is_null());
    let _ = CStr::from_ptr(message);
    let _ = rlc_response_header(response, c"content-type".as_ptr());
    let _ = rlc_response_header(response, ptr::null());
    let _ = rlc_response_header_count(response);
    // A borrowed response must not be freeable.
    rlc_response_free(response.cast_mut());
    let tag = user_data as usize;
    *seen().lock().unwrap().entry((tag, id)).or_insert(0) += 1;
}

/// Holds the CString alive while its pointer is used.
struct Arg(Option<CString>);

impl Arg {
    fn new(t: &Text, safe: bool) -> Arg {
        Arg(match t {
            Text::Null => None,
            Text::Str(s) => Some(CString::new(s.replace('\0', "")).unwrap()),
            Text::Bytes(b) => {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                Some(CString::new(&b[..end]).unwrap())
            }
            Text::Path(s) => Some(CString::new(format!("/{}", s.replace('\0', ""))).unwrap()),
        }
        .map(|c| {
            if safe && c.as_bytes().iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
                CString::new("safe").unwrap()
            } else {
                c
            }
        }))
    }
    fn ptr(&self) -> *const c_char {
        self.0.as_ref().map_or(ptr::null(), |c| c.as_ptr())
    }
}

/// `rlc_result_str` takes any integer: every one must name a code or be "RLC_E_UNKNOWN".
fn result_str(v: u32) {
    let s = rlc_result_str(v);
    assert!(!s.is_null());
    let s = unsafe { CStr::from_ptr(s) }.to_str().unwrap();
    assert!(s.starts_with("RLC_"), "rlc_result_str({v}) = {s:?}");
}

struct Client {
    ptr: *mut rlc_client,
    tag: usize,
    accepted: Vec<u64>,
}

struct State {
    configs: Vec<*mut rlc_config>,
    /// Requests, with whether their target is safe to send (relative).
    requests: Vec<(*mut rlc_request, bool)>,
    clients: Vec<Client>,
    next_tag: usize,
}

fn pick<T>(v: &[T], slot: Slot) -> Option<usize> {
    match slot {
        Slot::Live(i) if !v.is_empty() => Some(usize::from(i) % v.len()),
        _ => None,
    }
}

fn config(s: &State, slot: Slot) -> *mut rlc_config {
    pick(&s.configs, slot).map_or(ptr::null_mut(), |i| s.configs[i])
}

fn request(s: &State, slot: Slot) -> *mut rlc_request {
    pick(&s.requests, slot).map_or(ptr::null_mut(), |i| s.requests[i].0)
}

fn client(s: &State, slot: Slot) -> *mut rlc_client {
    pick(&s.clients, slot).map_or(ptr::null_mut(), |i| s.clients[i].ptr)
}

fn check(r: rlc_result, null: bool) {
    if null {
        assert_eq!(r, rlc_result::RLC_E_INVALID_ARGUMENT, "NULL handle");
    }
    assert_ne!(r, rlc_result::RLC_E_PANIC, "a panic was caught at the boundary");
}

unsafe extern "C" fn on_closed(user_data: *mut c_void) {
    // SAFETY: the Box made in ClientFreeAsync, handed over on RLC_OK; `done` runs once.
    let tx = unsafe { Box::from_raw(user_data.cast::<std::sync::mpsc::Sender<()>>()) };
    tx.send(()).expect("the fuzzer waits for done");
}

/// Frees a client and checks that each accepted request was called back exactly once.
fn free_client(c: Client) {
    rlc_client_free(c.ptr);
    check_callbacks(&c);
}

fn check_callbacks(c: &Client) {
    let mut seen = seen().lock().unwrap();
    for id in &c.accepted {
        assert_eq!(seen.remove(&(c.tag, *id)), Some(1), "request {id}: callbacks != 1");
    }
    assert!(!seen.keys().any(|(tag, _)| *tag == c.tag), "a callback for an id never accepted");
}

fn run(calls: Vec<Call>) {
    let mut s = State { configs: vec![], requests: vec![], clients: vec![], next_tag: 1 };
    for call in calls.into_iter().take(64) {
        match call {
            Call::ConfigNew => {
                if s.configs.len() < MAX_LIVE {
                    let c = rlc_config_new();
                    assert!(!c.is_null());
                    s.configs.push(c);
                }
            }
            Call::ConfigFree(slot) => match pick(&s.configs, slot) {
                Some(i) => rlc_config_free(s.configs.swap_remove(i)),
                None => rlc_config_free(ptr::null_mut()),
            },
            Call::SetBaseUrl(slot, url) => {
                let c = config(&s, slot);
                let url = Arg::new(&url, false);
                let r = rlc_config_set_base_url(c, url.ptr());
                check(r, c.is_null() || url.0.is_none());
            }
            Call::SetRateLimit(slot, n, w) => {
                let c = config(&s, slot);
                check(rlc_config_set_rate_limit(c, n, w), c.is_null());
            }
            Call::SetBurst(slot, b) => {
                let c = config(&s, slot);
                check(rlc_config_set_burst(c, b), c.is_null());
            }
            Call::AddRateLimit(slot, n, w, b) => {
                let c = config(&s, slot);
                check(rlc_config_add_rate_limit(c, n, w, b), c.is_null());
            }
            Call::SetStrictWindow(slot, on) => {
                let c = config(&s, slot);
                check(rlc_config_set_strict_window(c, on), c.is_null());
            }
            Call::SetRetry(slot, n, base, max) => {
                let c = config(&s, slot);
                check(rlc_config_set_retry(c, n, base, max), c.is_null());
            }
            Call::SetCircuitBreaker(slot, n, ms) => {
                let c = config(&s, slot);
                check(rlc_config_set_circuit_breaker(c, n, ms), c.is_null());
            }
            Call::SetMaxQueueSize(slot, n) => {
                let c = config(&s, slot);
                check(rlc_config_set_max_queue_size(c, n), c.is_null());
            }
            Call::SetWorkers(slot, n) => {
                let c = config(&s, slot);
                check(rlc_config_set_workers(c, n), c.is_null());
            }
            Call::SetTimeout(slot, ms) => {
                let c = config(&s, slot);
                check(rlc_config_set_timeout(c, ms), c.is_null());
            }
            Call::SetDefaultHeader(slot, n, v) => {
                let c = config(&s, slot);
                let (n, v) = (Arg::new(&n, false), Arg::new(&v, false));
                let r = rlc_config_set_default_header(c, n.ptr(), v.ptr());
                check(r, c.is_null() || n.0.is_none() || v.0.is_none());
            }
            Call::SetMaxResponseBytes(slot, n) => {
                let c = config(&s, slot);
                check(rlc_config_set_max_response_bytes(c, n), c.is_null());
            }
            Call::SetUserAgent(slot, ua) => {
                let c = config(&s, slot);
                let ua = Arg::new(&ua, false);
                check(rlc_config_set_user_agent(c, ua.ptr()), c.is_null() || ua.0.is_none());
            }
            Call::SetCaBundle(slot, path) => {
                // Never a real file: only paths under a directory that does not exist.
                let c = config(&s, slot);
                let path = match path {
                    Text::Null => Arg(None),
                    Text::Str(p) | Text::Path(p) => Arg(CString::new(format!(
                        "/nonexistent-rlc-fuzz/{}",
                        p.replace('\0', "")
                    ))
                    .ok()),
                    Text::Bytes(_) => Arg(Some(CString::new("/nonexistent-rlc-fuzz/x").unwrap())),
                };
                check(rlc_config_set_ca_bundle(c, path.ptr()), c.is_null() || path.0.is_none());
            }
            Call::SetMaxRedirects(slot, n) => {
                let c = config(&s, slot);
                check(rlc_config_set_max_redirects(c, n), c.is_null());
            }
            Call::SetRedirectToHttp(slot, on) => {
                let c = config(&s, slot);
                check(rlc_config_set_redirect_to_http(c, on), c.is_null());
            }
            Call::AddSensitiveHeader(slot, name) => {
                let c = config(&s, slot);
                let name = Arg::new(&name, false);
                check(rlc_config_add_sensitive_header(c, name.ptr()), c.is_null() || name.0.is_none());
            }
            Call::SetMaxServerPause(slot, ms) => {
                let c = config(&s, slot);
                check(rlc_config_set_max_server_pause(c, ms), c.is_null());
            }
            Call::RequestNew(method, target) => {
                let (m, t) = (Arg::new(&method, false), Arg::new(&target, false));
                let r = rlc_request_new(m.ptr(), t.ptr());
                if m.0.is_none() || t.0.is_none() {
                    assert!(r.is_null());
                }
                if !r.is_null() {
                    let safe = t.0.as_ref().is_some_and(|t| t.as_bytes().starts_with(b"/"));
                    if s.requests.len() < MAX_LIVE {
                        s.requests.push((r, safe));
                    } else {
                        rlc_request_free(r);
                    }
                }
            }
            Call::RequestSetHeader(slot, n, v) => {
                let r = request(&s, slot);
                let (n, v) = (Arg::new(&n, false), Arg::new(&v, false));
                let res = rlc_request_set_header(r, n.ptr(), v.ptr());
                check(res, r.is_null() || n.0.is_none() || v.0.is_none());
            }
            Call::RequestSetBody(slot, body, len) => {
                let r = request(&s, slot);
                let res = match &body {
                    Some(b) => rlc_request_set_body(r, b.as_ptr(), b.len()),
                    // NULL data with a length: refused unless the length is 0.
                    None => rlc_request_set_body(r, ptr::null(), usize::from(len)),
                };
                check(res, r.is_null() || (body.is_none() && len > 0));
            }
            Call::RequestSetTimeout(slot, ms) => {
                let r = request(&s, slot);
                check(rlc_request_set_timeout(r, ms), r.is_null());
            }
            Call::RequestSetDeadline(slot, ms) => {
                let r = request(&s, slot);
                check(rlc_request_set_deadline(r, ms), r.is_null());
            }
            Call::RequestSetRetryNonIdempotent(slot, on) => {
                let r = request(&s, slot);
                check(rlc_request_set_retry_non_idempotent(r, on), r.is_null());
            }
            Call::RequestFree(slot) => match pick(&s.requests, slot) {
                Some(i) => rlc_request_free(s.requests.swap_remove(i).0),
                None => rlc_request_free(ptr::null_mut()),
            },
            Call::ClientNew { config: slot, null_out } => {
                if s.clients.len() >= 2 {
                    continue;
                }
                let c = config(&s, slot);
                if !c.is_null() {
                    // Small, and only ever at the closed local port.
                    assert_eq!(rlc_config_set_base_url(c, closed_url().as_ptr()), rlc_result::RLC_OK);
                    assert_eq!(rlc_config_set_workers(c, 2), rlc_result::RLC_OK);
                    assert_eq!(rlc_config_set_timeout(c, 500), rlc_result::RLC_OK);
                }
                let mut out: *mut rlc_client = ptr::null_mut();
                let out_ptr = if null_out { ptr::null_mut() } else { &mut out as *mut _ };
                let r = rlc_client_new(c, out_ptr);
                check(r, c.is_null() || null_out);
                if r == rlc_result::RLC_OK {
                    assert!(!out.is_null());
                    let tag = s.next_tag;
                    s.next_tag += 1;
                    s.clients.push(Client { ptr: out, tag, accepted: vec![] });
                } else {
                    assert!(out.is_null(), "out written on failure");
                }
            }
            Call::ClientFree(slot) => match pick(&s.clients, slot) {
                Some(i) => free_client(s.clients.swap_remove(i)),
                None => rlc_client_free(ptr::null_mut()),
            },
            Call::ClientFreeAsync { client: slot, null_done } => {
                let i = pick(&s.clients, slot);
                let c = i.map_or(ptr::null_mut(), |i| s.clients[i].ptr);
                let done: rlc_closed_callback = if null_done { None } else { Some(on_closed) };
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                let tx = Box::into_raw(Box::new(tx));
                let r = rlc_client_free_async(c, done, tx.cast());
                check(r, c.is_null() || null_done);
                if r == rlc_result::RLC_OK {
                    // `done` runs once, after every callback; then the counts must hold.
                    let client = s.clients.swap_remove(i.unwrap());
                    rx.recv_timeout(std::time::Duration::from_secs(25)).expect("done was called");
                    check_callbacks(&client);
                } else {
                    // SAFETY: not handed over: rlc never calls `done` on a refusal.
                    drop(unsafe { Box::from_raw(tx) });
                }
            }
            Call::ClientMetric { client: slot, metric, null_out } => {
                let c = client(&s, slot);
                let mut out = u64::MAX;
                let op = if null_out { ptr::null_mut() } else { &mut out as *mut u64 };
                let r = rlc_client_metric(c, metric % 64, op);
                check(r, c.is_null() || null_out);
                if r != rlc_result::RLC_OK {
                    assert_eq!(out, u64::MAX, "out written on failure");
                }
            }
            Call::Submit { client: cslot, request: rslot, priority, null_cb, null_out } => {
                let ci = pick(&s.clients, cslot);
                let ri = pick(&s.requests, rslot);
                // An unsafe (absolute) target is never submitted to a live client.
                let ri = ri.filter(|&i| s.requests[i].1 || ci.is_none());
                let req = match ri {
                    Some(i) => s.requests.swap_remove(i).0,
                    None => ptr::null_mut(),
                };
                let c = ci.map_or(ptr::null_mut(), |i| s.clients[i].ptr);
                let tag = ci.map_or(0, |i| s.clients[i].tag);
                let cb: rlc_callback = if null_cb { None } else { Some(on_done) };
                let mut id: u64 = 0;
                let out = if null_out { ptr::null_mut() } else { &mut id as *mut u64 };
                let r = rlc_submit(c, req, priority, cb, tag as *mut c_void, out);
                check(r, c.is_null() || req.is_null() || null_cb || null_out);
                if r == rlc_result::RLC_OK {
                    assert_ne!(id, 0, "ids are never 0");
                    s.clients[ci.unwrap()].accepted.push(id);
                } else {
                    assert_eq!(id, 0, "out_id written on failure");
                }
            }
            Call::Cancel(slot, which) => {
                let c = client(&s, slot);
                let id = match (which, pick(&s.clients, slot)) {
                    (CancelId::Issued(k), Some(ci)) if !s.clients[ci].accepted.is_empty() => {
                        let a = &s.clients[ci].accepted;
                        a[usize::from(k) % a.len()]
                    }
                    (CancelId::Any(id), _) => id,
                    _ => 0,
                };
                check(rlc_cancel(c, id), c.is_null());
            }
            Call::Metrics { client: slot, null_out } => {
                let c = client(&s, slot);
                let mut m = MaybeUninit::<rlc_metrics>::uninit();
                let out = if null_out { ptr::null_mut() } else { m.as_mut_ptr() };
                check(rlc_client_metrics(c, out), c.is_null() || null_out);
            }
            Call::Prometheus { client: slot, len, null_buf, null_needed } => {
                let c = client(&s, slot);
                let len = usize::from(len);
                // A guard byte past len catches a write beyond it.
                let mut buf = vec![0x55u8; len + 1];
                let mut needed = 0usize;
                let bp = if null_buf { ptr::null_mut() } else { buf.as_mut_ptr().cast::<c_char>() };
                let np = if null_needed { ptr::null_mut() } else { &mut needed as *mut usize };
                let r = rlc_client_metrics_prometheus(c, bp, len, np);
                check(r, c.is_null() || null_needed || (null_buf && len > 0));
                assert_eq!(buf[len], 0x55, "wrote past len");
                if r == rlc_result::RLC_OK && !null_buf && len > 0 {
                    assert!(buf[..len].contains(&0), "not terminated");
                }
            }
            Call::InCallback(slot) => {
                assert!(!rlc_client_in_callback(client(&s, slot)));
            }
            Call::ResultStr(v) => result_str(v),
            Call::LastError { len, null_buf } => {
                let len = usize::from(len);
                let mut buf = vec![0x55u8; len + 1];
                let bp = if null_buf { ptr::null_mut() } else { buf.as_mut_ptr().cast::<c_char>() };
                let needed = rlc_last_error(bp, len);
                assert!(needed >= 1);
                assert_eq!(buf[len], 0x55, "rlc_last_error wrote past len");
                if !null_buf && len > 0 {
                    let end = buf[..len].iter().position(|&b| b == 0).expect("terminated");
                    assert_eq!(end, (needed - 1).min(len - 1));
                }
            }
        }
    }
    for c in s.clients.drain(..) {
        free_client(c);
    }
    for (r, _) in s.requests.drain(..) {
        rlc_request_free(r);
    }
    for c in s.configs.drain(..) {
        rlc_config_free(c);
    }
}

fuzz_target!(|calls: Vec<Call>| run(calls));
