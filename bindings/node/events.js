'use strict';

// Events of a client (rlc_event in include/rlc.h), emitted by the Client, which is an
// EventEmitter, under Bottleneck-style names:
//
//   'retry'    { id, attempt, delayMs, status, reason }   a failed attempt will be retried
//   'breaker'  { from, to }                              'closed' | 'open' | 'half_open'
//   'pause'    { delayMs, status, header, capped }       the server asked the client to pause
//   'dropped'  { id, reason }                            a request was dropped unsent
//   'limit'    { max, windowMs }                         a rate limit changed
//   'idle'     (no argument)                             no request is pending any more
//
// The library calls its event callback on the client's completion thread, in order
// with the request callbacks; koffi runs it on the main thread, like the completions.
// Each client registers ONE event callback with koffi, before rlc_client_new, and
// unregisters it once rlc_client_free has returned (nothing can call it after). The
// callback holds the Client only through a WeakRef, so a forgotten Client can still
// be collected (and freed by the finalizer in index.js).

const koffi = require('koffi');

const BREAKER_STATES = ['closed', 'open', 'half_open'];

// rlc_event, field for field. `size` is the library's sizeof(rlc_event): a library
// built from an older header has fewer fields, and those it lacks read as 0.
const FIELDS = [
  ['size', 'size_t'],
  ['kind', 'uint32_t'],
  ['id', 'uint64_t'],
  ['breaker_from', 'int'],
  ['breaker_to', 'int'],
  ['attempt', 'uint32_t'],
  ['delay_ms', 'uint64_t'],
  ['status', 'uint16_t'],
  ['reason', 'int'],
  ['header', 'const char *'],
  ['capped', 'bool'],
  ['limit_max', 'uint32_t'],
  ['limit_window_ms', 'uint64_t'],
];

/** Declares the event types and function on the loaded library (once, from native()). */
function declare(so, t) {
  t.event = koffi.struct('rlc_event', Object.fromEntries(FIELDS));
  t.eventCallback = koffi.proto('void rlc_event_callback(void *user_data, const void *event)');
  return {
    rlc_config_set_event_callback: so.func(
      'int rlc_config_set_event_callback(rlc_config *cfg, rlc_event_callback *cb, void *user_data)'
    ),
  };
}

/** The borrowed event as a plain object with the C field names. */
function readEvent(t, ptr) {
  const size = Number(koffi.decode(ptr, 'size_t'));
  if (size >= koffi.sizeof(t.event)) return koffi.decode(ptr, t.event);
  const e = {};
  for (const [name, type] of FIELDS) {
    const offset = koffi.offsetof(t.event, name);
    const known = offset + koffi.sizeof(type) <= size;
    if (type === 'const char *') e[name] = known ? koffi.decode(ptr, offset, type) : '';
    else e[name] = known ? koffi.decode(ptr, offset, type) : 0;
  }
  return e;
}

function breakerState(s) {
  return BREAKER_STATES[s] ?? String(s);
}

/** [name, payload] to emit for `e`, or null for a kind this binding does not know. */
function toEmit(e, resultName) {
  const reason = e.reason ? resultName(e.reason) : null;
  switch (e.kind) {
    case 0:
      return ['breaker', { from: breakerState(e.breaker_from), to: breakerState(e.breaker_to) }];
    case 1:
      return [
        'retry',
        { id: Number(e.id), attempt: e.attempt, delayMs: Number(e.delay_ms), status: e.status, reason },
      ];
    case 2:
      return ['pause', { delayMs: Number(e.delay_ms), status: e.status, header: e.header || '', capped: !!e.capped }];
    case 3:
      return ['dropped', { id: e.id ? Number(e.id) : null, reason }];
    case 4:
      return ['limit', { max: e.limit_max, windowMs: Number(e.limit_window_ms) }];
    case 50:
      return ['redis', { connected: !reason, downMs: Number(e.delay_ms) }];
    default:
      return null; // from a newer library: ignored
  }
}

/** Emits on the client, if it is still alive. A listener's exception must not unwind
 * into koffi (and the completion thread): it is rethrown on its own, as an uncaught
 * exception, as an EventEmitter listener's would be. */
function emit(hub, name, payload) {
  const client = hub.target && hub.target.deref();
  if (!client) return;
  try {
    if (payload === undefined) client.emit(name);
    else client.emit(name, payload);
  } catch (err) {
    process.nextTick(() => {
      throw err;
    });
  }
}

/**
 * Registers one event callback for a client about to be made from `cfg`, and sets it
 * on `cfg`. Returns the hub to keep in the client's state; `hub.target` is set to a
 * WeakRef of the Client once it exists. Undo with detach().
 */
function attach(l, cfg, resultName) {
  const hub = { target: null, callback: null, idle: [] };
  hub.callback = koffi.register((_userData, ptr) => {
    if (!ptr) return;
    const what = toEmit(readEvent(l.types, ptr), resultName);
    if (what) emit(hub, what[0], what[1]);
  }, koffi.pointer(l.types.eventCallback));
  if (l.rlc_config_set_event_callback(cfg, hub.callback, null) !== 0) {
    detach(hub);
    throw new Error('rlc: rlc_config_set_event_callback failed');
  }
  return hub;
}

/** Unregisters the event callback: only once the library can no longer call it. */
function detach(hub) {
  if (hub && hub.callback) {
    koffi.unregister(hub.callback);
    hub.callback = null;
  }
}

/**
 * The map of a client's pending requests (token -> entry). When it empties, the
 * promises of onIdle() resolve and 'idle' is emitted, after the current job (so after
 * the last request's promise has settled), if nothing was submitted meanwhile.
 */
class PendingMap extends Map {
  constructor(hub) {
    super();
    this.hub = hub;
  }

  delete(key) {
    const deleted = super.delete(key);
    if (deleted && this.size === 0) {
      queueMicrotask(() => {
        if (this.size !== 0) return;
        const waiting = this.hub.idle.splice(0);
        for (const resolve of waiting) resolve();
        emit(this.hub, 'idle');
      });
    }
    return deleted;
  }
}

/** Adds the event-related methods to the Client class. */
function install(Client) {
  /**
   * Resolves when no request of this client is pending (at once when none is): every
   * promise it returned has settled and the library holds none of its requests.
   */
  Client.prototype.onIdle = function onIdle() {
    const pending = this._state.pending;
    if (pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => pending.hub.idle.push(resolve));
  };
}

module.exports = { declare, attach, detach, PendingMap, install };
