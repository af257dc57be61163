"""Loading librlc and declaring the C ABI (include/rlc.h) for ctypes.

Every prototype is declared here, once, with its argument and result types, so that
ctypes converts and checks arguments instead of guessing (an undeclared function
would take Python ints as C ints and truncate 64-bit values and pointers).

The library is opened as a PyDLL, whose calls keep the GIL: every function here
returns at once (librlc never does I/O or waits under them), and releasing and
retaking the GIL around each one made the event loop thread and the completion
thread hand the GIL back and forth for every call, which cost more than the calls.
The one function that waits, rlc_client_free (it delivers the last callbacks, which
need the GIL), goes through a CDLL handle that releases it; the binding calls it only
when rlc_client_free_async, which returns at once, could not start its thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

# rlc_result codes this binding knows by name. Codes are only ever appended in the C
# ABI, so a library newer than this binding may return others (see errors.py).
RLC_OK = 0
RLC_E_INVALID_ARGUMENT = 1
RLC_E_SHUTDOWN = 10
RLC_E_INVALID_STATE = 12
RLC_E_PANIC = 13

# void (*rlc_callback)(void *user_data, rlc_request_id id, rlc_result result,
#                      const rlc_response *response)
CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int, ctypes.c_void_p)
# void (*rlc_closed_callback)(void *user_data)
CLOSED_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class NativeMetrics(ctypes.Structure):
    """struct rlc_metrics, field for field; checked against rlc_metrics_size() at load."""

    _fields_ = [
        ("submitted", ctypes.c_uint64),
        ("succeeded", ctypes.c_uint64),
        ("http_4xx", ctypes.c_uint64),
        ("http_5xx", ctypes.c_uint64),
        ("timeouts", ctypes.c_uint64),
        ("connect_errors", ctypes.c_uint64),
        ("circuit_open", ctypes.c_uint64),
        ("queue_full", ctypes.c_uint64),
        ("cancelled", ctypes.c_uint64),
        ("shutdown", ctypes.c_uint64),
        ("retries", ctypes.c_uint64),
        ("queue_depth", ctypes.c_uint64),
        ("in_flight", ctypes.c_uint64),
        ("breaker_state", ctypes.c_int),
        ("latency_p50_us", ctypes.c_uint64),
        ("latency_p90_us", ctypes.c_uint64),
        ("latency_p99_us", ctypes.c_uint64),
        ("other_errors", ctypes.c_uint64),
        ("breaker_transitions", ctypes.c_uint64),
        ("server_pauses", ctypes.c_uint64),
        ("paused_ms", ctypes.c_uint64),
        ("tokens_available", ctypes.c_uint64),
        ("queue_wait_p50_us", ctypes.c_uint64),
        ("queue_wait_p90_us", ctypes.c_uint64),
        ("queue_wait_p99_us", ctypes.c_uint64),
        ("attempt_p50_us", ctypes.c_uint64),
        ("attempt_p90_us", ctypes.c_uint64),
        ("attempt_p99_us", ctypes.c_uint64),
    ]


class LibraryNotFoundError(OSError):
    """librlc could not be loaded; the message names every place that was tried."""


_P = ctypes.c_void_p
_S = ctypes.c_char_p
_R = ctypes.c_int  # rlc_result
_U32 = ctypes.c_uint32
_U64 = ctypes.c_uint64
_SIZE = ctypes.c_size_t

# name: (result type, argument types)
_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "rlc_version": (_S, []),
    "rlc_result_str": (_S, [_U32]),
    "rlc_last_error": (_SIZE, [ctypes.c_char_p, _SIZE]),
    "rlc_config_new": (_P, []),
    "rlc_config_free": (None, [_P]),
    "rlc_config_set_base_url": (_R, [_P, _S]),
    "rlc_config_set_rate_limit": (_R, [_P, _U32, _U64]),
    "rlc_config_set_burst": (_R, [_P, _U32]),
    "rlc_config_add_rate_limit": (_R, [_P, _U32, _U64, _U32]),
    "rlc_config_set_strict_window": (_R, [_P, ctypes.c_bool]),
    "rlc_config_set_retry": (_R, [_P, _U32, _U64, _U64]),
    "rlc_config_set_circuit_breaker": (_R, [_P, _U32, _U64]),
    "rlc_config_set_max_queue_size": (_R, [_P, _SIZE]),
    "rlc_config_set_workers": (_R, [_P, _U32]),
    "rlc_config_set_timeout": (_R, [_P, _U64]),
    "rlc_config_set_default_header": (_R, [_P, _S, _S]),
    "rlc_config_set_max_response_bytes": (_R, [_P, _U64]),
    "rlc_config_set_user_agent": (_R, [_P, _S]),
    "rlc_config_set_name": (_R, [_P, _S]),
    "rlc_config_set_ca_bundle": (_R, [_P, _S]),
    "rlc_config_set_max_redirects": (_R, [_P, _U32]),
    "rlc_config_set_redirect_to_http": (_R, [_P, ctypes.c_bool]),
    "rlc_config_add_sensitive_header": (_R, [_P, _S]),
    "rlc_config_set_max_server_pause": (_R, [_P, _U64]),
    "rlc_client_new": (_R, [_P, ctypes.POINTER(_P)]),
    # rlc_client_free is declared apart: it must release the GIL (see above).
    "rlc_client_free_async": (_R, [_P, CLOSED_CALLBACK, _P]),
    "rlc_client_in_callback": (ctypes.c_bool, [_P]),
    "rlc_request_new": (_P, [_S, _S]),
    "rlc_request_set_header": (_R, [_P, _S, _S]),
    "rlc_request_set_body": (_R, [_P, ctypes.c_char_p, _SIZE]),
    "rlc_request_set_timeout": (_R, [_P, _U64]),
    "rlc_request_set_deadline": (_R, [_P, _U64]),
    "rlc_request_set_retry_non_idempotent": (_R, [_P, ctypes.c_bool]),
    "rlc_request_free": (None, [_P]),
    "rlc_submit": (_R, [_P, _P, ctypes.c_int32, CALLBACK, _P, ctypes.POINTER(_U64)]),
    "rlc_cancel": (_R, [_P, _U64]),
    "rlc_response_status": (ctypes.c_uint16, [_P]),
    "rlc_response_body": (_P, [_P, ctypes.POINTER(_SIZE)]),  # the bytes are read with string_at
    "rlc_response_header_count": (_SIZE, [_P]),
    "rlc_response_header_at": (_R, [_P, _SIZE, ctypes.POINTER(_S), ctypes.POINTER(_S)]),
    "rlc_response_attempts": (_U32, [_P]),
    "rlc_response_error_message": (_S, [_P]),
    "rlc_client_metrics": (_R, [_P, ctypes.POINTER(NativeMetrics)]),
    "rlc_client_metrics_prometheus": (_R, [_P, ctypes.c_char_p, _SIZE, ctypes.POINTER(_SIZE)]),
    "rlc_metrics_size": (_SIZE, []),
    "rlc_client_metric": (_R, [_P, _U32, ctypes.POINTER(_U64)]),
    # Limits (rlc.limits)
    "rlc_config_set_retry_budget": (_R, [_P, _U32, _U32]),
    "rlc_config_set_retry_on_status": (_R, [_P, ctypes.POINTER(ctypes.c_uint16), _SIZE]),
    "rlc_config_set_adaptive": (_R, [_P, ctypes.c_bool]),
    "rlc_config_set_callbacks_on_workers": (_R, [_P, ctypes.c_bool]),
    "rlc_request_set_cost": (_R, [_P, _U32]),
    "rlc_request_set_max_retries": (_R, [_P, _U32]),
    "rlc_client_set_rate_limit": (_R, [_P, _U32, _U64]),
    # The persistent queue (rlc._journal)
    "rlc_config_set_journal": (_R, [_P, _S]),
    "rlc_request_set_tag": (_R, [_P, _S]),
    "rlc_response_tag": (_S, [_P]),
    "rlc_client_recover": (_R, [_P, ctypes.c_int32, CALLBACK, _P, ctypes.POINTER(_SIZE)]),
    # GraphQL (rlc._graphql)
    "rlc_graphql_request_new": (_R, [_S, _S, _S, _S, ctypes.POINTER(_P)]),
    "rlc_config_set_cost_limit": (_R, [_P, _U32, _U64]),
    "rlc_response_graphql_errors": (_S, [_P]),
    # A limit shared through Redis (rlc._redis)
    "rlc_config_set_redis": (_R, [_P, _S, _S]),
    "rlc_config_set_redis_failure": (_R, [_P, _U32]),
    "rlc_config_set_redis_local_share": (_R, [_P, _U32]),
    "rlc_config_set_redis_max_lease": (_R, [_P, _U32]),
}

LIBRARY_ENV = "RLC_LIBRARY_PATH"
_SONAMES = ("librlc.so", "librlc.so.0")


def _candidates() -> Iterator[str]:
    """Where the library is looked for, in order: beside the package (a wheel that
    bundles it), then RLC_LIBRARY_PATH, then the system loader's path (an installed
    librlc, e.g. by `make install`). Lazy: find_library runs a subprocess, so it is
    only asked when everything before it failed."""
    here = Path(__file__).resolve().parent
    for name in _SONAMES:
        yield str(here / name)
    from_env = os.environ.get(LIBRARY_ENV)
    if from_env:
        yield from_env
    yield from _SONAMES  # bare names: the dynamic loader searches its own path
    found = ctypes.util.find_library("rlc")
    if found and found not in _SONAMES:
        yield found


def _load() -> tuple[ctypes.PyDLL, str]:
    tried: list[str] = []
    for candidate in _candidates():
        is_path = os.sep in candidate
        if is_path and not os.path.exists(candidate):
            tried.append(f"{candidate} (no such file)")
            continue
        try:
            return ctypes.PyDLL(candidate), candidate
        except OSError as e:
            tried.append(f"{candidate} ({e})")
    raise LibraryNotFoundError(
        "rlc: cannot load librlc; tried, in order:\n  "
        + "\n  ".join(tried)
        + f"\nBuild it with `cargo build --release --lib` and set {LIBRARY_ENV} to "
        "target/release/librlc.so, or install it with `make install`."
    )


class Library:
    """The loaded librlc with every prototype declared."""

    def __init__(self) -> None:
        self.cdll, self.path = _load()
        # The same library, its calls releasing the GIL: see the module's docstring.
        self._releasing_gil = ctypes.CDLL(self.path)
        missing = []
        for name, (restype, argtypes) in _PROTOTYPES.items():
            try:
                fn = getattr(self.cdll, name)
            except AttributeError:
                missing.append(name)
                continue
            fn.restype = restype
            fn.argtypes = argtypes
            # An instance attribute, so calls find it at once; __getattr__ below is only
            # what mypy sees (reaching it at run time costs an AttributeError per call).
            setattr(self, name, fn)
        if missing:
            raise LibraryNotFoundError(
                f"rlc: {self.path} lacks {', '.join(missing)}: it is older than this binding"
            )
        free = self._releasing_gil.rlc_client_free
        free.restype = None
        free.argtypes = [_P]
        self.client_free_releasing_gil: Callable[[int], None] = free
        # The metrics struct is laid out by hand above; refuse a library whose layout
        # differs rather than let rlc_client_metrics write past the end of it.
        native_size = int(self.cdll.rlc_metrics_size())
        if native_size != ctypes.sizeof(NativeMetrics):
            raise LibraryNotFoundError(
                f"rlc: {self.path} has a {native_size}-byte rlc_metrics, this binding expects "
                f"{ctypes.sizeof(NativeMetrics)}; the library and the binding are from "
                "different versions"
            )

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # The C functions are instance attributes (set above); this is reached only for
        # a name that is not one of them.
        raise AttributeError(f"librlc has no function {name} declared in rlc._native")

    def last_error(self) -> str:
        """The sentence for the last failed synchronous call on this thread."""
        needed = int(self.cdll.rlc_last_error(None, 0))
        if needed <= 1:
            return ""
        buf = ctypes.create_string_buffer(needed)
        self.cdll.rlc_last_error(buf, needed)
        return buf.value.decode("utf-8", "replace")

    def result_name(self, code: int) -> str:
        """The C name of an rlc_result, from the library (which may be newer than
        this binding); "RLC_E_UNKNOWN_<n>" for a number it does not know either."""
        # rlc_result_str takes a uint32_t, so any integer is defined behaviour.
        name: Optional[bytes] = self.cdll.rlc_result_str(code & 0xFFFFFFFF)
        if not name or name == b"RLC_E_UNKNOWN":
            return f"RLC_E_UNKNOWN_{code}"
        return name.decode()


_library: Optional[Library] = None
_library_lock = threading.Lock()


def lib() -> Library:
    """The library, loaded on first use (so `import rlc` works without it)."""
    global _library
    if _library is None:
        with _library_lock:
            if _library is None:
                _library = Library()
    return _library
