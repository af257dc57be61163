"""Events: what a client tells a watcher as it goes (rlc_event in include/rlc.h).

librlc calls its event callback on the client's completion thread, in order with the
request callbacks. A NativeClient made with a sink registers ONE ctypes trampoline
for its events (before rlc_client_new) and keeps it referenced until rlc_client_free
has returned, like its completion trampoline. The trampoline copies the borrowed
event into an Event and hands it to the sink:

- the blocking Client's sink calls `on_event` right there, on rlc's thread;
- the AsyncClient's sink queues it to the event loop of the client's latest request,
  through the same inbox as the completions, so the order is kept.
"""

from __future__ import annotations

import asyncio
import ctypes
import enum
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

from . import _native
from .metrics import BREAKER_STATES

if TYPE_CHECKING:
    from ._core import NativeClient

_log = logging.getLogger("rlc")


class EventKind(enum.Enum):
    """What an Event reports."""

    #: The circuit breaker changed state: breaker_from, breaker_to.
    BREAKER = "breaker"
    #: A failed attempt will be retried: request_id, attempt (the one that failed, 1
    #: for the first), delay, and status (its HTTP status) or reason (why no response).
    RETRY = "retry"
    #: The server asked the whole client to pause: delay (after the cap), status,
    #: header (which header asked), capped (cut to the configured maximum).
    PAUSE = "pause"
    #: A request was dropped unsent: reason is "RLC_E_QUEUE_FULL" or
    #: "RLC_E_CIRCUIT_OPEN" at submit (request_id None: the submit raised), or
    #: "RLC_E_CIRCUIT_OPEN" or "RLC_E_TIMEOUT" (its deadline passed) in the queue.
    DROPPED = "dropped"
    #: A rate limit changed while the client runs: limit_max per limit_window.
    LIMIT = "limit"
    #: The shared limit's Redis was lost (reason "RLC_E_REDIS": the failure policy
    #: applies) or is back (reason None, delay the time without it).
    REDIS = "redis"


# rlc_event_kind values, in order.
_KINDS = (EventKind.BREAKER, EventKind.RETRY, EventKind.PAUSE, EventKind.DROPPED, EventKind.LIMIT)


@dataclass(frozen=True)
class Event:
    """One event of a client. Fields that do not apply to its kind keep their defaults;
    durations are in seconds."""

    kind: EventKind
    #: The request concerned (RETRY, DROPPED in the queue), else None.
    request_id: Optional[int] = None
    #: RETRY: the attempt that failed, 1 for the first.
    attempt: int = 0
    #: RETRY: the wait before the next attempt; PAUSE: the pause.
    delay: float = 0.0
    #: RETRY, PAUSE: the HTTP status of the response, 0 when none came.
    status: int = 0
    #: RETRY: why no response came (None when one did); DROPPED: why it was dropped.
    #: An rlc_result name such as "RLC_E_TIMEOUT".
    reason: Optional[str] = None
    #: PAUSE: "Retry-After", "X-RateLimit-Reset", "RateLimit-Reset" or "RateLimit".
    header: Optional[str] = None
    #: PAUSE: the server asked for longer than the client's maximum pause.
    capped: bool = False
    #: BREAKER: the states it left and entered: "closed", "open" or "half_open".
    breaker_from: Optional[str] = None
    breaker_to: Optional[str] = None
    #: LIMIT: requests allowed per limit_window seconds now.
    limit_max: int = 0
    limit_window: float = 0.0


class NativeEvent(ctypes.Structure):
    """struct rlc_event, field for field."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("kind", ctypes.c_uint32),
        ("id", ctypes.c_uint64),
        ("breaker_from", ctypes.c_int),
        ("breaker_to", ctypes.c_int),
        ("attempt", ctypes.c_uint32),
        ("delay_ms", ctypes.c_uint64),
        ("status", ctypes.c_uint16),
        ("reason", ctypes.c_int),
        ("header", ctypes.c_char_p),
        ("capped", ctypes.c_bool),
        ("limit_max", ctypes.c_uint32),
        ("limit_window_ms", ctypes.c_uint64),
    ]


# void (*rlc_event_callback)(void *user_data, const rlc_event *event)
EVENT_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)

_declare_lock = threading.Lock()


def _set_event_callback(lib: _native.Library) -> Callable[..., int]:
    """rlc_config_set_event_callback with its prototype declared (once)."""
    fn: Any = lib.cdll.rlc_config_set_event_callback
    with _declare_lock:
        if fn.argtypes is None:
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_void_p, EVENT_CALLBACK, ctypes.c_void_p]
    return fn  # type: ignore[no-any-return]


def _breaker(state: int) -> str:
    return BREAKER_STATES.get(state, str(state))


def read_event(lib: _native.Library, address: int) -> Optional[Event]:
    """The borrowed event at `address` as an Event; None for a kind this binding does
    not know (from a newer library: ignored). A library built from an older header
    sends a shorter struct (its `size`): the fields it lacks read as 0."""
    raw = NativeEvent()
    size = ctypes.c_size_t.from_address(address).value
    ctypes.memmove(ctypes.addressof(raw), address, min(size, ctypes.sizeof(NativeEvent)))
    if raw.kind == 50:
        reason = lib.result_name(raw.reason) if raw.reason else None
        return Event(EventKind.REDIS, delay=raw.delay_ms / 1000.0, reason=reason)
    if raw.kind >= len(_KINDS):
        return None
    kind = _KINDS[raw.kind]
    seconds = raw.delay_ms / 1000.0
    header = raw.header.decode("ascii", "replace") if raw.header else None
    if kind is EventKind.BREAKER:
        return Event(kind, breaker_from=_breaker(raw.breaker_from), breaker_to=_breaker(raw.breaker_to))
    if kind is EventKind.RETRY:
        return Event(
            kind,
            request_id=raw.id or None,
            attempt=raw.attempt,
            delay=seconds,
            status=raw.status,
            reason=lib.result_name(raw.reason) if raw.reason else None,
        )
    if kind is EventKind.PAUSE:
        return Event(kind, delay=seconds, status=raw.status, header=header, capped=bool(raw.capped))
    if kind is EventKind.DROPPED:
        return Event(kind, request_id=raw.id or None, reason=lib.result_name(raw.reason))
    return Event(kind, limit_max=raw.limit_max, limit_window=raw.limit_window_ms / 1000.0)


EventSink = Callable[[Event], None]


class EventHook:
    """The event trampoline of one NativeClient."""

    def __init__(self, native: NativeClient, lib: _native.Library, cfg: int, sink: EventSink) -> None:
        self._native = native
        self._lib = lib
        self._sink = sink
        self.trampoline: Any = EVENT_CALLBACK(self._on_event)
        code = _set_event_callback(lib)(cfg, self.trampoline, None)
        if code != _native.RLC_OK:
            raise RuntimeError(f"rlc: rlc_config_set_event_callback failed ({lib.result_name(code)})")

    def _on_event(self, _user_data: Optional[int], address: Optional[int]) -> None:
        # Runs on librlc's completion thread; nothing may escape into C.
        self._native.completion_thread = threading.get_ident()
        try:
            event = read_event(self._lib, address) if address else None
            if event is not None:
                self._sink(event)
        except Exception:
            _log.exception("rlc: delivering an event failed")


def check_on_event(on_event: Any) -> Optional[Callable[[Event], object]]:
    if on_event is not None and not callable(on_event):
        raise TypeError(f"rlc: on_event must be callable, got {type(on_event).__name__}")
    return on_event  # type: ignore[no-any-return]


def blocking_sink(on_event: Callable[[Event], object]) -> EventSink:
    """The Client's sink: on_event runs on rlc's completion thread; what it raises is
    logged (logger "rlc") and the client goes on."""

    def sink(event: Event) -> None:
        try:
            on_event(event)
        except Exception:
            _log.exception("rlc: on_event raised on a %s event", event.kind.value)

    return sink


class Inbox(Protocol):
    """What the async sink needs of client._LoopInbox."""

    loop: asyncio.AbstractEventLoop

    def put_call(self, fn: Callable[[], None]) -> None: ...


class AsyncSink:
    """The AsyncClient's sink: queues each event to the event loop of the client's
    latest request (through its inbox, in order with the completions), where
    on_event runs; what it raises goes to the loop's exception handler. Before any
    request there is no loop, and no event either."""

    def __init__(self, on_event: Callable[[Event], object]) -> None:
        self.on_event = on_event
        self.inbox: Optional[Inbox] = None

    def __call__(self, event: Event) -> None:
        inbox = self.inbox
        if inbox is not None:
            loop = inbox.loop
            inbox.put_call(lambda: self._run(loop, event))

    def _run(self, loop: asyncio.AbstractEventLoop, event: Event) -> None:
        try:
            self.on_event(event)
        except Exception as e:
            loop.call_exception_handler(
                {"message": f"rlc: on_event raised on a {event.kind.value} event", "exception": e}
            )
