'use strict';

// Node binding of rlc, a rate-limited HTTP client shipped as librlc.so with a C ABI
// (include/rlc.h). It loads the library with koffi.
//
// Threading, in short: the library calls back on its own completion thread. koffi
// queues such a call to the JS main thread and blocks the completion thread until it
// has run. So this file never blocks the main thread in a native call that waits for
// callbacks: the client is freed with rlc_client_free_async, which shuts it down on a
// thread of the library's own and calls back when it is done, while the main thread
// keeps delivering the last callbacks (and libuv's pool stays free for fs and DNS).
// Each client registers ONE callback with koffi and routes completions to pending
// promises by `user_data` (a token chosen here before the submit). A completion's
// response is borrowed only for the duration of the callback, so everything is
// copied into JS memory inside it.
//
// koffi's callback queue does not keep the event loop alive, so while a request is
// pending a timer does (see `keepAlive`); with nothing pending, no handle is left and
// the process may exit.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const koffi = require('koffi');
const events = require('./events');
const { platformKey } = require('./platform.js');

// ---------------------------------------------------------------------------------
// Errors

/** Names of rlc_result, by value (codes are only ever appended in the C ABI). */
const RESULT_NAMES = [
  'RLC_OK',
  'RLC_E_INVALID_ARGUMENT',
  'RLC_E_QUEUE_FULL',
  'RLC_E_CIRCUIT_OPEN',
  'RLC_E_TIMEOUT',
  'RLC_E_CONNECT',
  'RLC_E_TLS',
  'RLC_E_IO',
  'RLC_E_BODY_TOO_LARGE',
  'RLC_E_CANCELLED',
  'RLC_E_SHUTDOWN',
  'RLC_E_UNKNOWN_REQUEST',
  'RLC_E_INVALID_STATE',
  'RLC_E_PANIC',
  'RLC_E_REDIRECT',
  undefined, // 15: not assigned
  'RLC_E_JOURNAL',
];
RESULT_NAMES[18] = 'RLC_E_GRAPHQL'; // graphql.js
RESULT_NAMES[19] = 'RLC_E_REDIS';

const RLC_OK = 0;
const RLC_E_INVALID_ARGUMENT = 1;
const RLC_E_CANCELLED = 9;
const RLC_E_SHUTDOWN = 10;

/**
 * An error reported by librlc. `code` is the name of the rlc_result
 * (`'RLC_E_QUEUE_FULL'`, `'RLC_E_TIMEOUT'`, ...), `result` its numeric value.
 */
class RlcError extends Error {
  constructor(code, message, options) {
    super(message || code, options);
    this.name = 'RlcError';
    this.code = code;
    const result = RESULT_NAMES.indexOf(code);
    this.result = result >= 0 ? result : undefined;
  }
}

function resultName(r) {
  if (r >= 0 && r < RESULT_NAMES.length && RESULT_NAMES[r]) return RESULT_NAMES[r];
  const lib = native();
  const name = lib.rlc_result_str(r);
  return name || `RLC_E_UNKNOWN_${r}`;
}

/** An error rejecting a request whose AbortSignal fired: code RLC_E_CANCELLED. */
function abortError(signal) {
  const reason = signal && signal.reason;
  const err = new RlcError('RLC_E_CANCELLED', 'the request was aborted', reason === undefined ? undefined : { cause: reason });
  err.name = 'AbortError';
  return err;
}

// ---------------------------------------------------------------------------------
// Loading librlc

const PREBUILDS = path.join(__dirname, 'prebuilds');

/** The platforms this package carries a library for (the folders of prebuilds/). */
function bundledPlatforms() {
  try {
    return fs.readdirSync(PREBUILDS).filter((d) => fs.existsSync(path.join(PREBUILDS, d, 'librlc.so')));
  } catch {
    return [];
  }
}

// Inside a checkout of rlc (bindings/node next to include/rlc.h) the library that
// `cargo build --release --lib` just built wins over a packed copy, which may be stale.
function inRepository() {
  return fs.existsSync(path.resolve(__dirname, '..', '..', 'include', 'rlc.h'));
}

function candidatePaths() {
  const out = [];
  if (process.env.RLC_LIBRARY_PATH) out.push(process.env.RLC_LIBRARY_PATH);
  if (inRepository()) out.push(path.resolve(__dirname, '..', '..', 'target', 'release', 'librlc.so'));
  out.push(path.join(PREBUILDS, platformKey(), 'librlc.so'));
  out.push(path.join(__dirname, 'librlc.so'));
  return out;
}

/**
 * The path librlc.so is loaded from: RLC_LIBRARY_PATH; else, in a checkout of rlc,
 * ../../target/release; else prebuilds/<platform>/ (what `npm pack` bundles); else
 * next to this file. null when none exists.
 */
function libraryPath() {
  const paths = candidatePaths();
  if (process.env.RLC_LIBRARY_PATH) return paths[0];
  for (const p of paths) if (fs.existsSync(p)) return p;
  return null;
}

let lib = null;

function native() {
  if (lib) return lib;
  const file = libraryPath();
  if (!file) {
    const carried = bundledPlatforms();
    throw new Error(
      `rlc: no librlc.so for this platform, ${platformKey()}: this package carries ` +
        (carried.length ? `one for ${carried.join(', ')} only` : 'none') +
        ` (looked in ${candidatePaths().join(', ')}). Build librlc for ${platformKey()} ` +
        '(`cargo build --release --lib` in a checkout of rlc) and set RLC_LIBRARY_PATH to it, ' +
        'or install a package packed on this platform.'
    );
  }
  const so = koffi.load(file);

  const t = {};
  t.config = koffi.opaque('rlc_config');
  t.client = koffi.opaque('rlc_client');
  t.request = koffi.opaque('rlc_request');
  t.response = koffi.opaque('rlc_response');
  t.callback = koffi.proto(
    'void rlc_callback(void *user_data, uint64_t id, int result, const rlc_response *response)'
  );
  t.closed = koffi.proto('void rlc_closed_callback(void *user_data)');
  t.metrics = koffi.struct('rlc_metrics', {
    submitted: 'uint64_t',
    succeeded: 'uint64_t',
    http_4xx: 'uint64_t',
    http_5xx: 'uint64_t',
    timeouts: 'uint64_t',
    connect_errors: 'uint64_t',
    circuit_open: 'uint64_t',
    queue_full: 'uint64_t',
    cancelled: 'uint64_t',
    shutdown: 'uint64_t',
    retries: 'uint64_t',
    queue_depth: 'uint64_t',
    in_flight: 'uint64_t',
    breaker_state: 'int',
    latency_p50_us: 'uint64_t',
    latency_p90_us: 'uint64_t',
    latency_p99_us: 'uint64_t',
    other_errors: 'uint64_t',
    breaker_transitions: 'uint64_t',
    server_pauses: 'uint64_t',
    paused_ms: 'uint64_t',
    tokens_available: 'uint64_t',
    queue_wait_p50_us: 'uint64_t',
    queue_wait_p90_us: 'uint64_t',
    queue_wait_p99_us: 'uint64_t',
    attempt_p50_us: 'uint64_t',
    attempt_p90_us: 'uint64_t',
    attempt_p99_us: 'uint64_t',
  });

  const f = (proto) => so.func(proto);

  lib = {
    types: t,
    rlc_version: f('const char *rlc_version(void)'),
    rlc_result_str: f('const char *rlc_result_str(uint32_t r)'),
    rlc_last_error: f('size_t rlc_last_error(uint8_t *buf, size_t len)'),

    rlc_config_new: f('rlc_config *rlc_config_new(void)'),
    rlc_config_free: f('void rlc_config_free(rlc_config *cfg)'),
    rlc_config_set_base_url: f('int rlc_config_set_base_url(rlc_config *cfg, const char *url)'),
    rlc_config_set_rate_limit: f(
      'int rlc_config_set_rate_limit(rlc_config *cfg, uint32_t max_requests, uint64_t window_ms)'
    ),
    rlc_config_set_burst: f('int rlc_config_set_burst(rlc_config *cfg, uint32_t burst)'),
    rlc_config_add_rate_limit: f(
      'int rlc_config_add_rate_limit(rlc_config *cfg, uint32_t max_requests, uint64_t window_ms, uint32_t burst)'
    ),
    rlc_config_set_strict_window: f('int rlc_config_set_strict_window(rlc_config *cfg, bool strict)'),
    rlc_config_set_retry: f(
      'int rlc_config_set_retry(rlc_config *cfg, uint32_t max_retries, uint64_t base_delay_ms, uint64_t max_delay_ms)'
    ),
    rlc_config_set_circuit_breaker: f(
      'int rlc_config_set_circuit_breaker(rlc_config *cfg, uint32_t failure_threshold, uint64_t recovery_timeout_ms)'
    ),
    rlc_config_set_max_queue_size: f('int rlc_config_set_max_queue_size(rlc_config *cfg, size_t max)'),
    rlc_config_set_workers: f('int rlc_config_set_workers(rlc_config *cfg, uint32_t workers)'),
    rlc_config_set_timeout: f('int rlc_config_set_timeout(rlc_config *cfg, uint64_t timeout_ms)'),
    rlc_config_set_default_header: f(
      'int rlc_config_set_default_header(rlc_config *cfg, const char *name, const char *value)'
    ),
    rlc_config_set_max_response_bytes: f(
      'int rlc_config_set_max_response_bytes(rlc_config *cfg, uint64_t max_bytes)'
    ),
    rlc_config_set_user_agent: f('int rlc_config_set_user_agent(rlc_config *cfg, const char *user_agent)'),
    rlc_config_set_name: f('int rlc_config_set_name(rlc_config *cfg, const char *name)'),
    rlc_config_set_ca_bundle: f('int rlc_config_set_ca_bundle(rlc_config *cfg, const char *path)'),
    rlc_config_set_max_redirects: f('int rlc_config_set_max_redirects(rlc_config *cfg, uint32_t max)'),
    rlc_config_set_redirect_to_http: f('int rlc_config_set_redirect_to_http(rlc_config *cfg, bool allow)'),
    rlc_config_add_sensitive_header: f('int rlc_config_add_sensitive_header(rlc_config *cfg, const char *name)'),
    rlc_config_set_max_server_pause: f('int rlc_config_set_max_server_pause(rlc_config *cfg, uint64_t max_ms)'),

    rlc_client_new: f('int rlc_client_new(const rlc_config *cfg, _Out_ rlc_client **out)'),
    rlc_client_free: f('void rlc_client_free(rlc_client *client)'),
    rlc_client_free_async: f(
      'int rlc_client_free_async(rlc_client *client, rlc_closed_callback *done, void *user_data)'
    ),

    rlc_request_new: f('rlc_request *rlc_request_new(const char *method, const char *path_or_url)'),
    rlc_request_set_header: f('int rlc_request_set_header(rlc_request *req, const char *name, const char *value)'),
    rlc_request_set_body: f('int rlc_request_set_body(rlc_request *req, const uint8_t *data, size_t len)'),
    rlc_request_set_timeout: f('int rlc_request_set_timeout(rlc_request *req, uint64_t timeout_ms)'),
    rlc_request_set_deadline: f('int rlc_request_set_deadline(rlc_request *req, uint64_t deadline_ms)'),
    rlc_request_set_retry_non_idempotent: f(
      'int rlc_request_set_retry_non_idempotent(rlc_request *req, bool allow)'
    ),
    rlc_request_free: f('void rlc_request_free(rlc_request *req)'),

    rlc_submit: f(
      'int rlc_submit(rlc_client *client, rlc_request *req, int32_t priority, rlc_callback *cb, void *user_data, _Out_ uint64_t *out_id)'
    ),
    rlc_cancel: f('int rlc_cancel(rlc_client *client, uint64_t id)'),

    rlc_response_status: f('uint16_t rlc_response_status(const rlc_response *resp)'),
    rlc_response_body: f('const uint8_t *rlc_response_body(const rlc_response *resp, _Out_ size_t *len)'),
    rlc_response_header_count: f('size_t rlc_response_header_count(const rlc_response *resp)'),
    rlc_response_header_at: f(
      'int rlc_response_header_at(const rlc_response *resp, size_t index, _Out_ const char **name, _Out_ const char **value)'
    ),
    rlc_response_attempts: f('uint32_t rlc_response_attempts(const rlc_response *resp)'),
    rlc_response_error_message: f('const char *rlc_response_error_message(const rlc_response *resp)'),

    rlc_client_metrics: f('int rlc_client_metrics(const rlc_client *client, _Out_ rlc_metrics *out)'),
    rlc_client_metrics_prometheus: f(
      'int rlc_client_metrics_prometheus(const rlc_client *client, uint8_t *buf, size_t len, _Out_ size_t *needed)'
    ),
    rlc_metrics_size: f('size_t rlc_metrics_size(void)'),
    rlc_client_metric: f('int rlc_client_metric(const rlc_client *client, uint32_t metric, _Out_ uint64_t *out)'),
    ...events.declare(so, t),
  };
  Object.assign(lib, limits.declarations(f));
  Object.assign(lib, graphql.declarations(f));
  Object.assign(lib, journal.declarations(f));
  Object.assign(lib, redis.declarations(f));
  // The metrics struct is laid out by hand above: refuse a library whose layout differs
  // rather than let rlc_client_metrics write past the end of it.
  const nativeSize = Number(lib.rlc_metrics_size());
  if (nativeSize !== koffi.sizeof(t.metrics)) {
    throw new Error(
      `rlc: ${libraryPath()} has a ${nativeSize}-byte rlc_metrics, this binding expects ` +
        `${koffi.sizeof(t.metrics)}; the library and the binding are from different versions`
    );
  }
  return lib;
}

/** The human sentence for the last failed synchronous call on this thread. */
function lastError() {
  const l = native();
  let buf = Buffer.alloc(512);
  let needed = Number(l.rlc_last_error(buf, buf.length));
  if (needed > buf.length) {
    buf = Buffer.alloc(needed);
    needed = Number(l.rlc_last_error(buf, buf.length));
  }
  if (needed <= 1) return '';
  return buf.toString('utf8', 0, Math.min(needed, buf.length) - 1);
}

/** Throws an RlcError for a failed synchronous call, with the library's message. */
function check(r, what) {
  if (r === RLC_OK) return;
  const code = resultName(r);
  const msg = lastError();
  throw new RlcError(code, msg ? `${what}: ${msg}` : `${what}: ${code}`);
}

// ---------------------------------------------------------------------------------
// Argument checks (wrong types are TypeErrors; what the library refuses, RlcErrors)

const U32_MAX = 0xffffffff;
const I32_MIN = -0x80000000;
const I32_MAX = 0x7fffffff;

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function uint(value, name, max = Number.MAX_SAFE_INTEGER) {
  if (typeof value === 'bigint') value = Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new TypeError(`rlc: ${name} must be an integer from 0 to ${max}, got ${describe(value)}`);
  }
  return value;
}

function int32(value, name) {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < I32_MIN || value > I32_MAX) {
    throw new TypeError(`rlc: ${name} must be an integer from ${I32_MIN} to ${I32_MAX}, got ${describe(value)}`);
  }
  return value;
}

function str(value, name) {
  if (typeof value !== 'string') throw new TypeError(`rlc: ${name} must be a string, got ${describe(value)}`);
  if (value.includes('\0')) {
    throw new RlcError('RLC_E_INVALID_ARGUMENT', `rlc: ${name} must not contain a NUL character`);
  }
  return value;
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function knownKeys(obj, allowed, what) {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new TypeError(`rlc: unknown ${what} option ${JSON.stringify(k)} (known: ${allowed.join(', ')})`);
    }
  }
}

/**
 * Header pairs from a plain object, a Map, a Headers or an array of [name, value].
 * An array value gives one header line per item, or one line joined with ', ' when
 * `join` (default headers replace each other by name).
 */
function headerPairs(headers, what, join = false) {
  if (headers === undefined || headers === null) return [];
  let entries;
  if (typeof headers[Symbol.iterator] === 'function' && typeof headers !== 'string') {
    entries = Array.from(headers);
  } else if (typeof headers === 'object') {
    entries = Object.entries(headers);
  } else {
    throw new TypeError(`rlc: ${what} must be an object of header names to values, got ${describe(headers)}`);
  }
  const out = [];
  for (const e of entries) {
    if (!Array.isArray(e) || e.length !== 2) {
      throw new TypeError(`rlc: ${what} must hold [name, value] pairs`);
    }
    const [name, value] = e;
    if (typeof name !== 'string' || name === '') {
      throw new TypeError(`rlc: ${what}: a header name must be a non-empty string, got ${describe(name)}`);
    }
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v !== 'string' && typeof v !== 'number') {
        throw new TypeError(`rlc: ${what}: header ${JSON.stringify(name)} must have a string value, got ${describe(v)}`);
      }
    }
    const lines = join ? [values.join(', ')] : values.map(String);
    for (const v of lines) out.push([str(name, `${what} name`), str(v, `${what} ${JSON.stringify(name)}`)]);
  }
  return out;
}

function bodyBytes(body) {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError(`rlc: body must be a string, Buffer, Uint8Array or ArrayBuffer, got ${describe(body)}`);
}

// ---------------------------------------------------------------------------------
// Keeping the event loop alive while requests are pending

let pendingTotal = 0;
let keepAliveTimer = null;

function keepAlive() {
  if (pendingTotal++ === 0) keepAliveTimer = setInterval(() => {}, 1 << 30);
}

function letGo() {
  if (--pendingTotal === 0) {
    clearInterval(keepAliveTimer);
    keepAliveTimer = null;
  }
}

// ---------------------------------------------------------------------------------
// Client

const CLIENT_OPTIONS = [
  'baseUrl',
  'rateLimit',
  'burst',
  'strict',
  'retry',
  'breaker',
  'maxQueueSize',
  'workers',
  'timeoutMs',
  'headers',
  'maxResponseBytes',
  'userAgent',
  'name',
  'caBundle',
  'redirects',
  'sensitiveHeaders',
  'maxServerPauseMs',
];
const REQUEST_OPTIONS = ['priority', 'headers', 'body', 'json', 'timeoutMs', 'deadlineMs', 'retryNonIdempotent', 'signal'];
const BREAKER_STATES = ['closed', 'open', 'half_open'];
/** The counters read one by one with rlc_client_metric, indexed by their rlc_metric value. */
const EXTRA_METRICS = ['serverPausesCapped', 'redirects', 'workerPanics', 'retriesRefusedByBudget', 'rateLimit'];

// Limits (limits.js): cost, maxRetries, retryBudget, retryOnStatus, adaptive, setRateLimit.
const limits = require('./limits')({ check, uint, isObject, knownKeys, describe, RlcError, U32_MAX });
CLIENT_OPTIONS.push(...limits.CLIENT_OPTIONS);
REQUEST_OPTIONS.push(...limits.REQUEST_OPTIONS);

// GraphQL (graphql.js): client.graphql(), GraphQLError, costLimit. A request built by
// it hands request() its own constructor under this key (a symbol: no option name).
const BUILD = Symbol('rlc.buildRequest');
const graphql = require('./graphql')({ check, uint, isObject, knownKeys, describe, str, RlcError, lastError, U32_MAX, BUILD });
CLIENT_OPTIONS.push(...graphql.CLIENT_OPTIONS);
// The persistent queue (journal.js): journal, tag, recover().
const journal = require('./journal')({ check, str, int32, isObject, knownKeys, describe, RlcError });
CLIENT_OPTIONS.push(...journal.CLIENT_OPTIONS);
REQUEST_OPTIONS.push(...journal.REQUEST_OPTIONS);
// A limit shared through Redis (redis.js): the `redis` option, redisStatus().
const redis = require('./redis')({ check, uint, str, isObject, knownKeys, describe, RlcError });
CLIENT_OPTIONS.push(...redis.CLIENT_OPTIONS);

// Defaults of the library (DESIGN.md), used to fill a partly given retry or breaker.
const DEFAULT_RETRY = { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 30_000 };
const DEFAULT_BREAKER = { threshold: 5, recoveryTimeoutMs: 30_000 };

/** Builds an rlc_config from options; the caller frees it. */
function buildConfig(l, options) {
  if (!isObject(options)) throw new TypeError(`rlc: Client options must be an object, got ${describe(options)}`);
  knownKeys(options, CLIENT_OPTIONS, 'Client');
  const o = options;
  // Check every type before anything native is allocated.
  const plan = [];
  const set = (fn, what, ...args) => plan.push(() => check(fn(cfg, ...args), what));
  let cfg = null;

  if (o.baseUrl !== undefined) {
    const url = o.baseUrl instanceof URL ? o.baseUrl.href : str(o.baseUrl, 'baseUrl');
    set(l.rlc_config_set_base_url, `baseUrl ${JSON.stringify(url)}`, url);
  }
  if (o.rateLimit !== undefined && o.rateLimit !== null) {
    const limits = Array.isArray(o.rateLimit) ? o.rateLimit : [o.rateLimit];
    if (limits.length === 0) throw new TypeError('rlc: rateLimit must not be an empty array');
    limits.forEach((rl, i) => {
      const what = Array.isArray(o.rateLimit) ? `rateLimit[${i}]` : 'rateLimit';
      if (!isObject(rl)) throw new TypeError(`rlc: ${what} must be {max, windowMs}, got ${describe(rl)}`);
      knownKeys(rl, ['max', 'windowMs', 'burst'], what);
      const max = uint(rl.max, `${what}.max`, U32_MAX);
      const windowMs = uint(rl.windowMs, `${what}.windowMs`);
      const burst = rl.burst === undefined ? undefined : uint(rl.burst, `${what}.burst`, U32_MAX);
      if (i === 0) {
        set(l.rlc_config_set_rate_limit, what, max, windowMs);
        if (burst !== undefined) set(l.rlc_config_set_burst, `${what}.burst`, burst);
      } else {
        set(l.rlc_config_add_rate_limit, what, max, windowMs, burst === undefined ? max : burst);
      }
    });
  }
  if (o.burst !== undefined) {
    set(l.rlc_config_set_burst, 'burst', uint(o.burst, 'burst', U32_MAX));
  }
  if (o.strict !== undefined) {
    if (typeof o.strict !== 'boolean') throw new TypeError(`rlc: strict must be a boolean, got ${describe(o.strict)}`);
    set(l.rlc_config_set_strict_window, 'strict', o.strict);
  }
  if (o.retry !== undefined) {
    let r;
    if (o.retry === false) r = { ...DEFAULT_RETRY, maxRetries: 0 };
    else if (isObject(o.retry)) {
      knownKeys(o.retry, ['maxRetries', 'baseDelayMs', 'maxDelayMs'], 'retry');
      r = { ...DEFAULT_RETRY, ...o.retry };
    } else throw new TypeError(`rlc: retry must be {maxRetries, baseDelayMs, maxDelayMs} or false, got ${describe(o.retry)}`);
    set(
      l.rlc_config_set_retry,
      'retry',
      uint(r.maxRetries, 'retry.maxRetries', U32_MAX),
      uint(r.baseDelayMs, 'retry.baseDelayMs'),
      uint(r.maxDelayMs, 'retry.maxDelayMs')
    );
  }
  if (o.breaker !== undefined) {
    if (!isObject(o.breaker)) throw new TypeError(`rlc: breaker must be {threshold, recoveryTimeoutMs}, got ${describe(o.breaker)}`);
    knownKeys(o.breaker, ['threshold', 'recoveryTimeoutMs'], 'breaker');
    const b = { ...DEFAULT_BREAKER, ...o.breaker };
    set(
      l.rlc_config_set_circuit_breaker,
      'breaker',
      uint(b.threshold, 'breaker.threshold', U32_MAX),
      uint(b.recoveryTimeoutMs, 'breaker.recoveryTimeoutMs')
    );
  }
  if (o.maxQueueSize !== undefined) {
    set(l.rlc_config_set_max_queue_size, 'maxQueueSize', uint(o.maxQueueSize, 'maxQueueSize'));
  }
  if (o.workers !== undefined) set(l.rlc_config_set_workers, 'workers', uint(o.workers, 'workers', U32_MAX));
  if (o.timeoutMs !== undefined) set(l.rlc_config_set_timeout, 'timeoutMs', uint(o.timeoutMs, 'timeoutMs'));
  for (const [name, value] of headerPairs(o.headers, 'headers', true)) {
    set(l.rlc_config_set_default_header, `header ${JSON.stringify(name)}`, name, value);
  }
  if (o.maxResponseBytes !== undefined) {
    const n = uint(o.maxResponseBytes, 'maxResponseBytes');
    set(l.rlc_config_set_max_response_bytes, 'maxResponseBytes', n);
  }
  if (o.caBundle !== undefined) {
    set(l.rlc_config_set_ca_bundle, 'caBundle', str(o.caBundle, 'caBundle'));
  }
  if (o.userAgent !== undefined) {
    const ua = str(o.userAgent, 'userAgent');
    set(l.rlc_config_set_user_agent, 'userAgent', ua);
  }
  if (o.name !== undefined) {
    set(l.rlc_config_set_name, 'name', str(o.name, 'name'));
  }
  if (o.redirects !== undefined) {
    if (!isObject(o.redirects)) {
      throw new TypeError(`rlc: redirects must be {max, allowHttpsToHttp}, got ${describe(o.redirects)}`);
    }
    knownKeys(o.redirects, ['max', 'allowHttpsToHttp'], 'redirects');
    if (o.redirects.max !== undefined) {
      set(l.rlc_config_set_max_redirects, 'redirects.max', uint(o.redirects.max, 'redirects.max', U32_MAX));
    }
    const allow = o.redirects.allowHttpsToHttp;
    if (allow !== undefined) {
      if (typeof allow !== 'boolean') {
        throw new TypeError(`rlc: redirects.allowHttpsToHttp must be a boolean, got ${describe(allow)}`);
      }
      set(l.rlc_config_set_redirect_to_http, 'redirects.allowHttpsToHttp', allow);
    }
  }
  if (o.sensitiveHeaders !== undefined) {
    if (!Array.isArray(o.sensitiveHeaders)) {
      throw new TypeError(`rlc: sensitiveHeaders must be an array of names, got ${describe(o.sensitiveHeaders)}`);
    }
    o.sensitiveHeaders.forEach((name, i) => {
      const what = `sensitiveHeaders[${i}]`;
      set(l.rlc_config_add_sensitive_header, what, str(name, what));
    });
  }
  if (o.maxServerPauseMs !== undefined) {
    set(l.rlc_config_set_max_server_pause, 'maxServerPauseMs', uint(o.maxServerPauseMs, 'maxServerPauseMs'));
  }
  limits.configSteps(l, o, set);
  graphql.configSteps(l, o, set);
  journal.configSteps(l, o, set);
  redis.configSteps(l, o, set);

  cfg = l.rlc_config_new();
  if (!cfg) throw new RlcError('RLC_E_PANIC', 'rlc: rlc_config_new failed');
  try {
    for (const step of plan) step();
  } catch (e) {
    l.rlc_config_free(cfg);
    throw e;
  }
  return cfg;
}

/**
 * Copies a completion into JS memory. Runs inside the callback: `resp` is borrowed
 * only until it returns.
 */
function readResponse(l, resp) {
  const status = l.rlc_response_status(resp);
  const attempts = l.rlc_response_attempts(resp);
  const lenOut = [0];
  const ptr = l.rlc_response_body(resp, lenOut);
  const len = Number(lenOut[0]);
  const body = ptr && len > 0 ? Buffer.from(new Uint8Array(koffi.view(ptr, len))) : Buffer.alloc(0);
  const headers = Object.create(null);
  const n = Number(l.rlc_response_header_count(resp));
  const name = [null];
  const value = [null];
  for (let i = 0; i < n; i++) {
    if (l.rlc_response_header_at(resp, i, name, value) !== RLC_OK) continue;
    const k = name[0].toLowerCase();
    const v = value[0] ?? '';
    if (k === 'set-cookie') (headers[k] ??= []).push(v);
    else headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
  }
  const response = new RlcResponse(status, headers, body, attempts);
  response.graphqlErrors = graphql.readErrors(l, resp);
  response.tag = journal.tagOf(l, resp);
  return response;
}

/**
 * What `request()` resolves with: {status, headers, body, attempts}, plus json()
 * and text() to read the body (synchronously: it is already in memory; a promise
 * would only make callers await for nothing).
 */
class RlcResponse {
  constructor(status, headers, body, attempts) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.attempts = attempts;
  }
  /** Whether the status is 2xx, as fetch's Response.ok. */
  get ok() {
    return this.status >= 200 && this.status <= 299;
  }
  /** The body decoded as UTF-8. */
  text() {
    return this.body.toString('utf8');
  }
  /** The body parsed as JSON (a SyntaxError when it is not). */
  json() {
    return JSON.parse(this.text());
  }
}

// A placeholder origin for fetch() of a relative path (.invalid never resolves).
const RELATIVE_BASE = 'http://rlc.invalid';
// Statuses whose response has no body (the Response constructor refuses one).
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** A WHATWG Response (the global class) from a completion, as fetch returns it. */
function webResponse(res, method, url) {
  if (res.status < 200 || res.status > 599) {
    throw new TypeError('fetch failed', { cause: new RlcError('RLC_E_IO', `unexpected HTTP status ${res.status}`) });
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const nullBody = method === 'HEAD' || NULL_BODY_STATUSES.has(res.status);
  const response = new Response(nullBody ? null : res.body, {
    status: res.status,
    statusText: http.STATUS_CODES[res.status] ?? '',
    headers,
  });
  // A constructed Response has url ''; fetch's has the request's URL.
  Object.defineProperty(response, 'url', { value: url, enumerable: true });
  return response;
}

// Frees a client that was dropped without close(): a backstop, like a Go finalizer.
const finalizer = new FinalizationRegistry((state) => {
  if (!state.closed) freeNative(state, () => {});
});

/**
 * Frees the native client without blocking any thread of this process: the library
 * shuts the client down on a thread of its own (completing queued requests, waiting
 * for those in flight, delivering every callback to this main thread meanwhile) and
 * then calls `closed`, which koffi queues to this thread too. Nothing runs on
 * libuv's pool, so a close that waits a whole request timeout holds no pool thread
 * that fs, DNS or crypto need.
 */
function freeNative(state, done) {
  state.closed = true;
  const l = native();
  // koffi's callback queue does not keep the event loop alive: the shutdown does.
  keepAlive();
  let closed = null;
  const finish = (err) => {
    state.ptr = null;
    for (const entry of state.pending.values()) {
      state.pending.delete(entry.token);
      letGo();
      settle(entry, null, new RlcError('RLC_E_SHUTDOWN', 'the client was closed'));
    }
    // Unregistered after this callback has returned to koffi, not from inside it.
    setImmediate(() => {
      if (closed) koffi.unregister(closed);
      koffi.unregister(state.callback);
      state.callback = null;
      events.detach(state.events);
      letGo();
      done(err);
    });
  };
  // Every callback has been delivered and every library thread is done with the
  // client by the time this runs.
  closed = koffi.register(() => finish(null), koffi.pointer(l.types.closed));
  const r = l.rlc_client_free_async(state.ptr, closed, null);
  if (r !== RLC_OK) {
    // The library could not start its thread (RLC_E_INVALID_STATE): nothing happened
    // and `closed` will not be called. Free the client the blocking way on libuv's
    // pool instead: slower to give the pool thread back, but nothing leaks.
    l.rlc_client_free.async(state.ptr, (err) => finish(err || null));
  }
}

function settle(entry, value, error) {
  if (entry.settled) return;
  entry.settled = true;
  if (entry.signal) entry.signal.removeEventListener('abort', entry.onAbort);
  if (error) entry.reject(error);
  else entry.resolve(value);
}

/** The single callback of a client: routes a completion to its pending promise. */
function onCompletion(state, userData, id, result, resp) {
  const token = Number(userData);
  const route = state.routes && state.routes.get(token);
  if (route) {
    route(result, resp);
    return;
  }
  const entry = state.pending.get(token);
  if (!entry) return;
  state.pending.delete(token);
  letGo();
  if (entry.settled) return; // aborted earlier: already rejected
  const l = native();
  try {
    if (result === RLC_OK) {
      settle(entry, readResponse(l, resp));
    } else {
      const code = resultName(result);
      const msg = resp ? l.rlc_response_error_message(resp) : '';
      const err = new RlcError(code, msg || code);
      if (resp) err.attempts = l.rlc_response_attempts(resp);
      settle(entry, null, err);
    }
  } catch (e) {
    settle(entry, null, e);
  }
}

let nextToken = 1;

/** An EventEmitter of the client's events (see events.js and index.d.ts). */
class Client extends EventEmitter {
  /**
   * Starts a client: its threads run until `close()`.
   * @param {object} [options] see index.d.ts
   */
  constructor(options = {}) {
    super();
    const l = native();
    const cfg = buildConfig(l, options);
    const out = [null];
    let hub = null;
    try {
      hub = events.attach(l, cfg, resultName);
      check(l.rlc_client_new(cfg, out), 'rlc_client_new');
    } catch (e) {
      events.detach(hub);
      throw e;
    } finally {
      l.rlc_config_free(cfg);
    }
    hub.target = new WeakRef(this);
    // State shared with the registered callbacks; it must not reference the Client,
    // so that a forgotten Client can still be collected (and freed by the finalizer).
    const pending = new events.PendingMap(hub);
    const state = { ptr: out[0], pending, closed: false, callback: null, events: hub };
    state.callback = koffi.register(
      (userData, id, result, resp) => onCompletion(state, userData, id, result, resp),
      koffi.pointer(l.types.callback)
    );
    this._state = state;
    this._closing = null;
    this._baseUrl = options.baseUrl === undefined ? null : String(options.baseUrl instanceof URL ? options.baseUrl.href : options.baseUrl);
    finalizer.register(this, state, this);
  }

  /**
   * Queues a request and resolves with its response ({status, headers, body, attempts})
   * whatever its HTTP status; rejects with an RlcError when no response came.
   */
  async request(method, pathOrUrl, options = {}) {
    const state = this._state;
    str(method, 'method');
    if (method === '') throw new TypeError('rlc: method must not be empty');
    const target = pathOrUrl instanceof URL ? pathOrUrl.href : str(pathOrUrl, 'path');
    if (!isObject(options)) throw new TypeError(`rlc: request options must be an object, got ${describe(options)}`);
    knownKeys(options, REQUEST_OPTIONS, 'request');
    const priority = options.priority === undefined ? 0 : int32(options.priority, 'priority');
    const headers = headerPairs(options.headers, 'headers');
    let body = bodyBytes(options.body);
    if (options.json !== undefined) {
      if (body) throw new TypeError('rlc: a request takes body or json, not both');
      const text = JSON.stringify(options.json); // throws on a cycle or a BigInt, as it should
      if (text === undefined) throw new TypeError(`rlc: json must be a value JSON can encode, got ${describe(options.json)}`);
      body = Buffer.from(text, 'utf8');
      if (!headers.some(([name]) => name.toLowerCase() === 'content-type')) {
        headers.push(['content-type', 'application/json']);
      }
    }
    const timeoutMs = options.timeoutMs === undefined ? undefined : uint(options.timeoutMs, 'timeoutMs');
    const deadlineMs = options.deadlineMs === undefined ? undefined : uint(options.deadlineMs, 'deadlineMs');
    const retryNonIdempotent = options.retryNonIdempotent;
    if (retryNonIdempotent !== undefined && typeof retryNonIdempotent !== 'boolean') {
      throw new TypeError(`rlc: retryNonIdempotent must be a boolean, got ${describe(retryNonIdempotent)}`);
    }
    const limitSteps = limits.requestSteps(options);
    const journalSteps = journal.requestSteps(options);
    const signal = options.signal;
    if (signal !== undefined && signal !== null && (typeof signal !== 'object' || typeof signal.aborted !== 'boolean')) {
      throw new TypeError('rlc: signal must be an AbortSignal');
    }
    if (signal && signal.aborted) throw abortError(signal);
    if (state.closed) throw new RlcError('RLC_E_SHUTDOWN', 'the client is closed');

    const l = native();
    const req = options[BUILD] ? options[BUILD](l) : l.rlc_request_new(method, target);
    if (!req) {
      const msg = lastError();
      throw new RlcError('RLC_E_INVALID_ARGUMENT', msg || `invalid request ${method} ${target}`);
    }
    try {
      for (const [name, value] of headers) {
        check(l.rlc_request_set_header(req, name, value), `header ${JSON.stringify(name)}`);
      }
      if (body) check(l.rlc_request_set_body(req, body, body.length), 'body');
      if (timeoutMs !== undefined) check(l.rlc_request_set_timeout(req, timeoutMs), 'timeoutMs');
      if (deadlineMs !== undefined) {
        check(l.rlc_request_set_deadline(req, deadlineMs), 'deadlineMs');
      }
      if (retryNonIdempotent !== undefined) {
        check(l.rlc_request_set_retry_non_idempotent(req, retryNonIdempotent), 'retryNonIdempotent');
      }
      limitSteps(l, req);
      journalSteps(l, req);
    } catch (e) {
      l.rlc_request_free(req);
      throw e;
    }

    // Register the entry before the submit, keyed by a token passed as user_data.
    const token = nextToken++;
    let resolve, reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // `client` keeps this Client alive while the request is pending.
    const entry = { token, id: 0, settled: false, resolve, reject, signal, onAbort: null, client: this };
    state.pending.set(token, entry);
    keepAlive();
    const idOut = [0];
    const r = l.rlc_submit(state.ptr, req, priority, state.callback, token, idOut); // takes req
    if (r !== RLC_OK) {
      state.pending.delete(token);
      letGo();
      check(r, `${method} ${target}`);
    }
    entry.id = idOut[0];
    if (signal) {
      entry.onAbort = () => {
        if (entry.settled) return;
        // Reject now, as fetch does; the completion (RLC_E_CANCELLED when the request
        // was queued, or when its attempt ends) is consumed quietly when it comes.
        settle(entry, null, abortError(signal));
        if (state.ptr && !state.closed) l.rlc_cancel(state.ptr, entry.id);
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    return promise;
  }

  /**
   * fetch() over this client: takes what the global fetch takes (a URL string, a
   * URL or a Request, and init.method/headers/body/signal...) plus init.priority,
   * and resolves with a WHATWG Response, so code written for fetch can be handed
   * `client.fetch.bind(client)`. A path starting with '/' is joined to baseUrl.
   * Rejects with signal.reason on abort, and with a TypeError('fetch failed') whose
   * cause is the RlcError when no response came, as fetch does.
   */
  async fetch(input, init) {
    if (init !== undefined && init !== null && typeof init !== 'object') {
      throw new TypeError(`rlc: fetch init must be an object, got ${describe(init)}`);
    }
    const { priority, signal: initSignal, ...requestInit } = init ?? {};
    const signal = initSignal !== undefined ? initSignal : input instanceof Request ? input.signal : undefined;
    if (signal && signal.aborted) throw signal.reason;
    // The platform's Request does to the arguments exactly what fetch does: method
    // names, merged headers, every body type (string, bytes, Blob, FormData,
    // URLSearchParams, streams) with its Content-Type. A relative path is resolved
    // against a placeholder origin and cut back to path and query afterwards.
    const relative = typeof input === 'string' && input.startsWith('/');
    const request = new Request(relative ? new URL(input, RELATIVE_BASE) : input, requestInit);
    const body = request.body === null ? null : Buffer.from(await request.arrayBuffer());
    if (signal && signal.aborted) throw signal.reason;
    let target = request.url;
    let url = request.url;
    if (relative) {
      const u = new URL(request.url);
      target = u.pathname + u.search;
      url = this._baseUrl ? this._baseUrl.replace(/\/+$/, '') + target : target;
    }
    let res;
    try {
      res = await this.request(request.method, target, {
        priority,
        headers: [...request.headers],
        body,
        signal: signal ?? undefined,
      });
    } catch (e) {
      if (signal && signal.aborted) throw signal.reason;
      if (e instanceof RlcError) throw new TypeError('fetch failed', { cause: e });
      throw e;
    }
    return webResponse(res, request.method, url);
  }

  get(path, options) {
    return this.request('GET', path, options);
  }
  head(path, options) {
    return this.request('HEAD', path, options);
  }
  post(path, options) {
    return this.request('POST', path, options);
  }
  put(path, options) {
    return this.request('PUT', path, options);
  }
  patch(path, options) {
    return this.request('PATCH', path, options);
  }
  delete(path, options) {
    return this.request('DELETE', path, options);
  }
  options(path, options) {
    return this.request('OPTIONS', path, options);
  }

  /**
   * Queues every request that the journal (the `journal` option) holds from an
   * earlier process, oldest first, with `priority` (default 0), and resolves once
   * each has completed, with one `{tag, response}` or `{tag, error}` per request.
   * A request whose deadline passed while no process ran has an RLC_E_TIMEOUT error
   * and was not sent. Only the first call finds anything. Rejects with
   * RLC_E_INVALID_STATE without a journal.
   */
  async recover(options) {
    const state = this._state;
    const l = native();
    state.routes ??= new Map();
    return journal.recover(l, state, options, {
      newToken: () => nextToken++,
      register: (token, route) => state.routes.set(token, route),
      unregister: (token) => state.routes.delete(token),
      keepAlive,
      letGo,
      outcome: (result, resp) => {
        if (result === RLC_OK) return { response: readResponse(l, resp), error: null };
        const code = resultName(result);
        const msg = resp ? l.rlc_response_error_message(resp) : '';
        const error = new RlcError(code, msg || code);
        if (resp) error.attempts = l.rlc_response_attempts(resp);
        return { response: null, error };
      },
    });
  }

  /** A snapshot of the client's metrics (counters since start, gauges now). */
  metrics() {
    const state = this._state;
    if (state.closed) throw new RlcError('RLC_E_SHUTDOWN', 'the client is closed');
    const l = native();
    const m = {};
    check(l.rlc_client_metrics(state.ptr, m), 'rlc_client_metrics');
    const out = {};
    for (const [k, v] of Object.entries(m)) {
      out[k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase())] = typeof v === 'bigint' ? Number(v) : v;
    }
    out.breakerState = BREAKER_STATES[m.breaker_state] ?? String(m.breaker_state);
    // Counters kept beyond the struct, by their rlc_metric number.
    EXTRA_METRICS.forEach((name, metric) => {
      const value = [0];
      check(l.rlc_client_metric(state.ptr, metric, value), 'rlc_client_metric');
      out[name] = Number(value[0]);
    });
    for (const [name, metric] of Object.entries(graphql.METRICS)) {
      const value = [0];
      check(l.rlc_client_metric(state.ptr, metric, value), 'rlc_client_metric');
      out[name] = Number(value[0]);
    }
    if (m.tokens_available !== undefined && BigInt(m.tokens_available) === 0xffffffffffffffffn) {
      out.tokensAvailable = Infinity; // no rate limit
    }
    return out;
  }

  /**
   * Changes the rate limit of the running client at once: at most `max` requests per
   * `windowMs`, with a burst of `max`. Tokens held carry over; waiting requests see
   * the new rate at once.
   */
  setRateLimit(limit) {
    limits.setRateLimit(native(), this._state, limit);
  }

  /**
   * The shared limit's state ('off', 'connected', 'disconnected') and counters:
   * roundTrips, downMs (time without Redis), tokensLeased, clients (seen on the key).
   */
  redisStatus() {
    return redis.status(native(), this._state);
  }

  /**
   * The metrics in the Prometheus text exposition format: every sample labelled
   * `client` with the `name` option, counters ending `_total`, latencies as histograms
   * in seconds.
   */
  metricsPrometheus() {
    const state = this._state;
    if (state.closed) throw new RlcError('RLC_E_SHUTDOWN', 'the client is closed');
    const l = native();
    let buf = Buffer.alloc(8192);
    for (;;) {
      const needed = [0];
      check(l.rlc_client_metrics_prometheus(state.ptr, buf, buf.length, needed), 'rlc_client_metrics_prometheus');
      const n = Number(needed[0]);
      if (n <= buf.length) return buf.toString('utf8', 0, Math.max(0, n - 1));
      buf = Buffer.alloc(n + 1024);
    }
  }

  /** Whether close() has been called. */
  get closed() {
    return this._state.closed;
  }

  /**
   * Stops intake, completes queued requests with RLC_E_SHUTDOWN, waits for the ones
   * in flight, and frees the client. Every pending promise settles before this
   * resolves. Safe to call more than once.
   */
  close() {
    if (this._closing) return this._closing;
    const state = this._state;
    finalizer.unregister(this);
    this._closing = new Promise((resolve, reject) => {
      freeNative(state, (err) => (err ? reject(err) : resolve()));
    });
    return this._closing;
  }
}

events.install(Client);
graphql.install(Client);
const { GraphQLError } = graphql;

if (Symbol.asyncDispose) {
  Client.prototype[Symbol.asyncDispose] = function () {
    return this.close();
  };
}

/** The version string of the loaded librlc. */
function version() {
  return native().rlc_version();
}

module.exports = { Client, RlcError, GraphQLError, version, libraryPath, RESULT_NAMES };
