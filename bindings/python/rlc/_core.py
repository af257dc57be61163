"""One native rlc_client and the machinery every Python client shares.

Threading, in short. librlc calls back on its own completion thread, one callback at
a time. Each NativeClient registers ONE ctypes trampoline for all its requests and
passes an integer key as `user_data`; the key finds the request's `deliver` function
in `_pending`. A response is borrowed only for the duration of the callback, so it is
copied into Python objects there, and then handed over: to an asyncio loop through
call_soon_threadsafe, or to a concurrent.futures.Future for the blocking client. No
user code runs on the completion thread except a blocking client's future callbacks.

Closing goes through rlc_client_free_async: it returns at once, and a thread of
librlc's own waits for the requests in flight, delivers every remaining callback,
joins librlc's threads and then calls `_on_closed`, which settles the closing's
future. No Python thread waits meanwhile: not the event loop's, not one of ours.
A ctypes callback collected while C still holds it crashes the process, so each
client's trampoline stays referenced until `_on_closed` (its completion thread has
been joined by then), and `_on_closed`'s own trampoline is made once, at import, and
never dropped. At exit the interpreter waits for the closings under way and for
librlc's closing threads to end (see _join_closer_threads).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import ctypes
import itertools
import json as jsonlib
import os
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional, Union

from . import _graphql, _native
from ._events import EventHook, EventSink
from ._redis import RedisStatus
from ._redis import status as redis_status
from .config import Config, build_native_config, check_int, check_str, checked, seconds_to_ms
from .errors import RlcError, make_error
from ._journal import Collector, check_tag
from .limits import apply_request_limits, rate_limit_args, request_limits
from .metrics import EXTRA_METRICS, Metrics
from .response import Headers, Response

HeadersArg = Union[Mapping[str, Union[str, Sequence[str]]], Sequence[tuple[str, str]], None]
Content = Union[bytes, bytearray, memoryview, str, None]
Outcome = Union[Response, RlcError]

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


class _Missing:
    """The type of MISSING: `json=None` sends JSON null, so absence needs its own value."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Prepared:
    """A request's arguments, checked and encoded, before anything native exists."""

    __slots__ = ("method", "target", "method_b", "target_b", "headers", "body", "timeout_ms",
                 "deadline_ms", "retry_non_idempotent", "priority", "cost", "max_retries", "graphql",
                 "tag")

    def __init__(
        self,
        method: str,
        url: str,
        *,
        priority: int,
        headers: HeadersArg,
        content: Content,
        json: Any,
        timeout: Optional[float],
        deadline: Optional[float],
        retry_non_idempotent: Optional[bool],
        cost: Optional[int] = None,
        max_retries: Optional[int] = None,
        tag: Optional[str] = None,
        graphql: Optional[tuple[bytes, Optional[bytes], Optional[bytes]]] = None,
    ) -> None:
        #: For client.graphql(): the query, variables and operation name librlc builds from.
        self.graphql = graphql
        self.method = method
        self.target = url
        self.method_b = check_str(method, "method")
        if not method:
            raise ValueError("rlc: method must not be empty")
        self.target_b = check_str(url, "url")
        self.priority = check_int(priority, "priority", I32_MIN, I32_MAX)
        self.headers = _header_lines(headers)
        if json is not MISSING:
            if content is not None:
                raise TypeError("rlc: give content or json, not both")
            self.body: Optional[bytes] = jsonlib.dumps(json, separators=(",", ":")).encode()
            if not any(name.lower() == b"content-type" for name, _ in self.headers):
                self.headers.append((b"content-type", b"application/json"))
        elif content is None:
            self.body = None
        elif isinstance(content, str):
            self.body = content.encode("utf-8")
        elif isinstance(content, (bytes, bytearray, memoryview)):
            self.body = bytes(content)
        else:
            raise TypeError(f"rlc: content must be bytes or str, got {type(content).__name__}")
        self.timeout_ms = None if timeout is None else seconds_to_ms(timeout, "timeout")
        self.deadline_ms = None if deadline is None else seconds_to_ms(deadline, "deadline")
        if retry_non_idempotent is not None and not isinstance(retry_non_idempotent, bool):
            raise TypeError("rlc: retry_non_idempotent must be a bool")
        self.retry_non_idempotent = retry_non_idempotent
        self.cost, self.max_retries = request_limits(cost, max_retries)
        self.tag = check_tag(tag)


def _header_lines(headers: HeadersArg) -> list[tuple[bytes, bytes]]:
    """(name, value) lines from a mapping (a sequence value gives one line per item)
    or a sequence of pairs."""
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        pairs: list[tuple[Any, Any]] = []
        for name, value in headers.items():
            if isinstance(value, (list, tuple)):
                pairs.extend((name, v) for v in value)
            else:
                pairs.append((name, value))
    elif isinstance(headers, (list, tuple)):
        pairs = []
        for item in headers:
            if not isinstance(item, tuple) or len(item) != 2:
                raise TypeError("rlc: headers must be a mapping or a sequence of (name, value) pairs")
            pairs.append(item)
    else:
        raise TypeError(f"rlc: headers must be a mapping or a sequence of pairs, got {type(headers).__name__}")
    out = []
    for name, value in pairs:
        if not isinstance(name, str) or not name:
            raise TypeError(f"rlc: a header name must be a non-empty str, got {name!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        out.append((check_str(name, "header name"), check_str(value, f"header {name!r}")))
    return out


class _Pending:
    """A request between rlc_submit and its callback."""

    __slots__ = ("deliver", "method", "url", "owner")

    def __init__(self, deliver: Callable[[Outcome], None], method: str, url: str, owner: object) -> None:
        self.deliver = deliver
        self.method = method
        self.url = url
        # Keeps the Python client alive while a request is pending, so that its
        # finalizer cannot close the client under a request somebody awaits.
        self.owner = owner


class NativeClient:
    """An rlc_client, its trampoline and its pending requests."""

    def __init__(self, config: Config, events: Optional[EventSink] = None) -> None:
        lib = _native.lib()
        self._lib = lib
        cfg = build_native_config(config)
        out = ctypes.c_void_p()
        try:
            # Kept referenced until rlc_client_free has returned (see _free).
            self._event_hook = EventHook(self, lib, cfg, events) if events is not None else None
            checked(lib, lib.rlc_client_new(cfg, ctypes.byref(out)), "rlc_client_new")
        finally:
            lib.rlc_config_free(cfg)
        self._ptr: int = out.value or 0
        self._pending: dict[int, _Pending] = {}
        self._pending_lock = threading.Lock()
        # Guards the pointer's life: no call uses it once `closed` is set under it.
        self._use_lock = threading.Lock()
        self._keys = itertools.count(1)  # 0 would be a NULL user_data
        # recover() calls whose requests have not all completed, by their user_data.
        self._recoveries: dict[int, Collector] = {}
        self.closed = False
        self._closing: Optional[concurrent.futures.Future[None]] = None
        self.completion_thread: Optional[int] = None
        self._trampoline: Any = _native.CALLBACK(self._on_completion)
        # Output arguments for reading responses, made once: only the completion thread
        # reads responses, one at a time, and a byref() per call adds about a microsecond.
        self._body_size = ctypes.c_size_t()
        self._header_name = ctypes.c_char_p()
        self._header_value = ctypes.c_char_p()
        self._body_size_ref = ctypes.byref(self._body_size)
        self._header_refs = (ctypes.byref(self._header_name), ctypes.byref(self._header_value))

    # ------------------------------------------------------------------ requests

    def submit(self, req: Prepared, deliver: Callable[[Outcome], None], owner: object) -> int:
        """Queues `req`; `deliver` is called exactly once, on the completion thread,
        if and only if this returns (its request id). Raises otherwise."""
        lib = self._lib
        handle: Optional[int] = (
            lib.rlc_request_new(req.method_b, req.target_b)
            if req.graphql is None
            else _graphql.new_request(lib, req.target_b, req.graphql)
        )
        if not handle:
            detail = lib.last_error()
            raise make_error(_native.RLC_E_INVALID_ARGUMENT, detail or f"invalid request {req.method} {req.target}")
        try:
            for name, value in req.headers:
                checked(lib, lib.rlc_request_set_header(handle, name, value), f"header {name.decode()!r}")
            if req.body is not None:
                checked(lib, lib.rlc_request_set_body(handle, req.body, len(req.body)), "body")
            if req.timeout_ms is not None:
                checked(lib, lib.rlc_request_set_timeout(handle, req.timeout_ms), "timeout")
            if req.deadline_ms is not None:
                checked(lib, lib.rlc_request_set_deadline(handle, req.deadline_ms), "deadline")
            if req.retry_non_idempotent is not None:
                checked(
                    lib,
                    lib.rlc_request_set_retry_non_idempotent(handle, req.retry_non_idempotent),
                    "retry_non_idempotent",
                )
            apply_request_limits(lib, handle, req.cost, req.max_retries)
            if req.tag is not None:
                checked(lib, lib.rlc_request_set_tag(handle, req.tag), "tag")
        except BaseException:
            lib.rlc_request_free(handle)
            raise

        # Registered before the submit: the callback may run before rlc_submit returns.
        key = next(self._keys)
        with self._pending_lock:
            self._pending[key] = _Pending(deliver, req.method, req.target, owner)
        request_id = ctypes.c_uint64()
        code: Optional[int] = None  # None: the client was closed, nothing submitted
        with self._use_lock:
            if not self.closed:  # rlc_submit takes the request in every case
                code = lib.rlc_submit(self._ptr, handle, req.priority, self._trampoline, key, ctypes.byref(request_id))
        if code == _native.RLC_OK:
            return request_id.value
        with self._pending_lock:
            self._pending.pop(key, None)
        if code is None:
            lib.rlc_request_free(handle)
            raise make_error(_native.RLC_E_SHUTDOWN, "the client is closed")
        detail = lib.last_error()
        raise make_error(code, detail or f"{req.method} {req.target} was refused")

    def recover(self, priority: int, collector: Collector) -> int:
        """Queues the journal's requests from an earlier process (rlc_client_recover);
        each outcome goes to `collector`, told the count here. Raises when refused."""
        priority = check_int(priority, "priority", I32_MIN, I32_MAX)
        key = next(self._keys)
        with self._pending_lock:
            self._recoveries[key] = collector
        count = ctypes.c_size_t()
        code: Optional[int] = None
        with self._use_lock:
            if not self.closed:
                code = self._lib.rlc_client_recover(self._ptr, priority, self._trampoline, key, ctypes.byref(count))
        if code != _native.RLC_OK:
            with self._pending_lock:
                self._recoveries.pop(key, None)
            if code is None:
                raise make_error(_native.RLC_E_SHUTDOWN, "the client is closed")
            raise make_error(code, self._lib.last_error() or "recover was refused")
        collector.expect(count.value)
        return count.value

    def _on_recovered(self, collector: Collector, result: int, resp: Optional[int]) -> None:
        raw: Optional[bytes] = self._lib.rlc_response_tag(resp) if resp else None
        tag = raw.decode("utf-8", "replace") if raw else ""
        try:
            outcome: Outcome = self._read(_Pending(lambda _: None, "", "", None), result, resp, tag)
        except Exception as e:
            outcome = make_error(_native.RLC_E_PANIC, f"rlc: reading the response failed: {e!r}")
        try:
            collector.add(tag, outcome)
        except Exception:  # e.g. a closed loop: nobody waits any more
            pass

    def forget_recovery(self, collector: Collector) -> None:
        """Drops a finished recover()'s routing."""
        with self._pending_lock:
            for key in [k for k, c in self._recoveries.items() if c is collector]:
                del self._recoveries[key]

    def cancel(self, request_id: int) -> bool:
        """Asks librlc to cancel; True when it will complete with RLC_E_CANCELLED
        (False when it is already done or the client is closed)."""
        with self._use_lock:
            if self.closed:
                return False
            return bool(self._lib.rlc_cancel(self._ptr, request_id) == _native.RLC_OK)

    def _on_completion(self, user_data: Optional[int], request_id: int, result: int, resp: Optional[int]) -> None:
        # Runs on librlc's completion thread. An exception must not escape into C
        # (ctypes would only print it and the request would never settle), so any
        # failure to read the response is delivered as the request's error.
        self.completion_thread = threading.get_ident()
        with self._pending_lock:
            entry = self._pending.pop(user_data or 0, None)
            recovery = self._recoveries.get(user_data or 0) if entry is None else None
        if recovery is not None:
            self._on_recovered(recovery, result, resp)
            return
        if entry is None:
            return
        try:
            outcome: Outcome = self._read(entry, result, resp)
        except Exception as e:  # handed to the waiter instead of lost
            outcome = make_error(_native.RLC_E_PANIC, f"rlc: reading the response failed: {e!r}")
        try:
            entry.deliver(outcome)
        except Exception:  # e.g. a closed loop: nobody waits any more
            pass

    def _read(self, entry: _Pending, result: int, resp: Optional[int], tag: Optional[str] = None) -> Outcome:
        lib = self._lib
        attempts = int(lib.rlc_response_attempts(resp))
        if result != _native.RLC_OK:
            message: Optional[bytes] = lib.rlc_response_error_message(resp)
            text = message.decode("utf-8", "replace") if message else ""
            return make_error(result, text, name=lib.result_name(result), attempts=attempts)
        address: Optional[int] = lib.rlc_response_body(resp, self._body_size_ref)
        size = self._body_size.value
        content = ctypes.string_at(address, size) if address and size else b""
        lines = []
        name, value = self._header_name, self._header_value
        name_ref, value_ref = self._header_refs
        header_at = lib.rlc_response_header_at
        for i in range(lib.rlc_response_header_count(resp)):
            if header_at(resp, i, name_ref, value_ref) == _native.RLC_OK:
                lines.append((name.value or b"", value.value or b""))
        return Response(
            status=int(lib.rlc_response_status(resp)),
            headers=Headers(lines),
            content=content,
            attempts=attempts,
            method=entry.method,
            url=entry.url,
            graphql_errors=_graphql.read_errors(lib, resp),
            tag=self._tag_of(resp) if tag is None else tag,
        )

    def graphql_metrics(self) -> dict[str, int]:
        with self._use_lock:
            self._check_open()
            return _graphql.metrics(self._lib, self._ptr)

    def _tag_of(self, resp: Optional[int]) -> str:
        raw: Optional[bytes] = self._lib.rlc_response_tag(resp) if resp else None
        return raw.decode("utf-8", "replace") if raw else ""

    def set_rate_limit(self, max_requests: int, per: float) -> None:
        args = rate_limit_args(max_requests, per)
        with self._use_lock:
            self._check_open()
            checked(self._lib, self._lib.rlc_client_set_rate_limit(self._ptr, *args), "set_rate_limit")

    # ------------------------------------------------------------------ metrics

    def redis_status(self) -> RedisStatus:
        with self._use_lock:
            self._check_open()
            return redis_status(self._lib, self._ptr)

    def metrics(self) -> Metrics:
        lib = self._lib
        out = _native.NativeMetrics()
        value = ctypes.c_uint64()
        extras = []
        with self._use_lock:
            self._check_open()
            checked(lib, lib.rlc_client_metrics(self._ptr, ctypes.byref(out)), "rlc_client_metrics")
            # The counters beyond the struct, by their rlc_metric number.
            for metric, name in enumerate(EXTRA_METRICS):
                checked(lib, lib.rlc_client_metric(self._ptr, metric, ctypes.byref(value)), f"rlc_client_metric {name}")
                extras.append(value.value)
        return Metrics.from_native(out, extras)

    def metrics_prometheus(self) -> str:
        needed = ctypes.c_size_t()
        size = 8192
        while True:
            buf = ctypes.create_string_buffer(size)
            with self._use_lock:
                self._check_open()
                checked(
                    self._lib,
                    self._lib.rlc_client_metrics_prometheus(self._ptr, buf, size, ctypes.byref(needed)),
                    "rlc_client_metrics_prometheus",
                )
            if needed.value <= size:
                return buf.value.decode("utf-8", "replace")
            size = needed.value + 1024  # the text may grow between the two calls

    def _check_open(self) -> None:
        if self.closed:
            raise make_error(_native.RLC_E_SHUTDOWN, "the client is closed")

    # ------------------------------------------------------------------ closing

    def close(self) -> concurrent.futures.Future[None]:
        """Starts closing (once) and returns at once a future, done when every callback
        has been delivered and every librlc thread joined. It is set on librlc's
        closing thread: its callbacks run there."""
        with self._use_lock:
            if self._closing is not None:
                return self._closing
            self.closed = True  # nothing uses the pointer any more but the lines below
            closing = self._closing = concurrent.futures.Future()
        _join_closer_threads(timeout=0)  # forgets those that ended: the set stays small
        with _closing_lock:
            key = next(_closing_keys)
            _closing_clients[key] = self  # before the call: _on_closed may come first
        code = self._lib.rlc_client_free_async(self._ptr, _ON_CLOSED, key)
        if code != _native.RLC_OK:
            # librlc could not start its closing thread, and did nothing: free it here.
            with _closing_lock:
                del _closing_clients[key]
            self._lib.client_free_releasing_gil(self._ptr)
            if self.on_completion_thread():
                # From inside a callback rlc_client_free returns before the remaining
                # callbacks, which the trampoline (kept) and _pending will still take.
                self._ptr = 0
                closing.set_result(None)
            else:
                self._closed()
        return closing

    def _closed(self) -> None:
        """The client is freed: every callback delivered, every librlc thread joined."""
        assert self._closing is not None
        try:
            self._ptr = 0
            # Every accepted request has had its callback; anything left was never
            # accepted, but settle it rather than leave a waiter hanging.
            with self._pending_lock:
                leftovers = list(self._pending.values())
                self._pending.clear()
            for entry in leftovers:
                try:
                    entry.deliver(make_error(_native.RLC_E_SHUTDOWN, "the client was closed"))
                except Exception:  # e.g. a closed loop: nobody waits any more
                    pass
            self._trampoline = None  # the completion thread that called it is joined
            self._event_hook = None
        finally:
            self._closing.set_result(None)

    def on_completion_thread(self) -> bool:
        return threading.get_ident() == self.completion_thread


# The clients being closed, by the key their _on_closed gets, until it came: this also
# keeps each NativeClient, and the trampoline librlc still calls, alive until then.
_closing_clients: dict[int, NativeClient] = {}
_closing_keys = itertools.count(1)  # 0 would be a NULL user_data
_closing_lock = threading.Lock()
# The OS thread ids of librlc's closing threads that have called _on_closed, until
# they are seen to have ended (see _join_closer_threads).
_closer_threads: set[int] = set()
_TASKS = "/proc/self/task"
_HAVE_TASKS = os.path.isdir(_TASKS)


def _on_closed(user_data: Optional[int]) -> None:
    # Runs on librlc's closing thread, once per rlc_client_free_async, after the
    # client is freed. _closed settles the closing's future; an exception would only
    # be printed by ctypes.
    _closer_threads.add(threading.get_native_id())
    with _closing_lock:
        native = _closing_clients.pop(user_data or 0, None)
    if native is not None:
        native._closed()


def _join_closer_threads(timeout: float) -> None:
    """Waits (up to `timeout` seconds) until every librlc closing thread that called
    _on_closed has ended. Needed before the interpreter finalizes: waking a waiter
    releases the GIL (call_soon_threadsafe writes to a socket, and the GIL may pass
    to the woken thread at any moment), so the closing thread takes it again on its
    way out of Python; if the interpreter finalizes meanwhile, CPython ends that
    thread with pthread_exit, whose unwinding through librlc's frames aborts the
    process. Linux only (/proc/self/task); elsewhere it yields the GIL a moment."""
    if not _HAVE_TASKS:  # no way to tell: yield the GIL a moment, then forget them
        if timeout > 0 and _closer_threads:
            time.sleep(0.05)
        _closer_threads.clear()
        return
    end = time.monotonic() + timeout
    while True:
        _closer_threads.difference_update(
            [tid for tid in list(_closer_threads) if not os.path.exists(f"{_TASKS}/{tid}")]
        )
        if not _closer_threads or time.monotonic() > end:
            return
        time.sleep(0.001)  # lets them take the GIL and leave


# One trampoline for every client, never dropped (see the module's docstring).
_ON_CLOSED = _native.CLOSED_CALLBACK(_on_closed)


@atexit.register
def _wait_for_closings() -> None:
    """At interpreter exit, waits for the closings still running (an aclose() nobody
    awaited, a client collected just before): librlc's threads would otherwise call
    back into a finalizing interpreter. Registered at import, so it runs after the
    weakref finalizers that close the clients still open (atexit goes in reverse)."""
    while True:  # a callback may close another client meanwhile
        with _closing_lock:
            running = [native._closing for native in _closing_clients.values() if native._closing]
        if not running:
            break
        concurrent.futures.wait(running)
    _join_closer_threads(timeout=10.0)


def close_forgotten(native: NativeClient) -> None:
    """The finalizer of a client dropped (or alive at exit) without close(): a
    backstop, like a Go finalizer. It waits for the closing, unless it runs on the
    completion thread (which must deliver the last callbacks) or on a running event
    loop's thread (which the closing must not stall); _wait_for_closings then waits
    at exit."""
    done = native.close()
    if native.on_completion_thread() or _loop_running_here():
        return
    done.result()
    _join_closer_threads(timeout=1.0)  # at exit, this may run after _wait_for_closings


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def attach_finalizer(owner: object, native: NativeClient) -> weakref.finalize[[NativeClient], object]:
    return weakref.finalize(owner, close_forgotten, native)
