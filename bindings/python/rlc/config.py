"""Client configuration: plain dataclasses, in seconds, turned into an rlc_config."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from . import _native
from ._events import Event
from .errors import make_error
from ._journal import journal_steps
from ._graphql import GraphQLCostLimit
from ._graphql import config_steps as graphql_config_steps
from ._redis import Redis
from ._redis import config_steps as redis_steps
from .limits import RetryBudget, config_steps

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1


@dataclass(frozen=True)
class RateLimit:
    """At most `max_requests` per `per` seconds: a token bucket of capacity `burst`
    (default `max_requests`) refilled continuously."""

    max_requests: int
    per: float = 1.0
    burst: Optional[int] = None


@dataclass(frozen=True)
class Retry:
    """Up to `max_retries` further attempts after min(max_delay, base_delay * 2^n)
    seconds with full jitter (or the server's longer Retry-After). Retry(0) disables."""

    max_retries: int = 3
    base_delay: float = 0.1
    max_delay: float = 30.0


@dataclass(frozen=True)
class Breaker:
    """Opens after `failure_threshold` consecutive failures (0 disables it) and lets
    a probe through after `recovery_timeout` seconds."""

    failure_threshold: int = 5
    recovery_timeout: float = 30.0


@dataclass(frozen=True)
class Redirects:
    """How redirects (301, 302, 303, 307, 308 with a Location) are followed. Each hop
    is sent like a request of its own: it takes a token and counts in the strict
    window. A hop to the same origin keeps every header; one to another origin drops
    Authorization, Cookie, Proxy-Authorization and `Config.sensitive_headers`. 303,
    and 301/302 after a POST, become a GET without a body; 307/308 repeat the method
    and the body. A loop, more than `max` hops, or a Location that is no http(s) URL
    fail with RedirectError (never retried, not a breaker failure)."""

    #: The most hops followed; 0 hands every 3xx response back as it is.
    max: int = 10
    #: Follow a redirect from https to http (the redirected request, and whatever it
    #: carries, goes in clear text); by default such a hop fails with RedirectError.
    allow_https_to_http: bool = False


@dataclass(frozen=True)
class Config:
    """Everything a client is built from. Unset fields keep librlc's defaults: no rate
    limit, 4 workers, a queue of 10,000, Retry(), Breaker(), 30 s per attempt, a
    16 MiB response cap, Redirects(), server pauses cut to 5 minutes."""

    base_url: Optional[str] = None
    #: One limit, or several that must all allow a request (10/s and 1000/h).
    rate_limit: Union[RateLimit, Sequence[RateLimit], None] = None
    #: No sliding window at the server ever holds more than the first limit's maximum.
    strict_window: bool = False
    retry: Optional[Retry] = None
    breaker: Optional[Breaker] = None
    max_queue_size: Optional[int] = None
    #: Worker threads: the most requests in flight at once.
    workers: Optional[int] = None
    #: Seconds per attempt, from connect to the last byte.
    timeout: Optional[float] = None
    #: Headers sent with every request (a request's own header of that name wins).
    headers: Mapping[str, str] = field(default_factory=dict)
    max_response_bytes: Optional[int] = None
    user_agent: Optional[str] = None
    #: The `client` label of every sample in metrics_prometheus() (librlc's default:
    #: "default"); 1 to 128 bytes of UTF-8, no control character.
    name: Optional[str] = None
    #: A PEM file of trusted roots instead of Mozilla's.
    ca_bundle: Union[str, "os.PathLike[str]", None] = None
    #: The redirect policy; None keeps librlc's: Redirects(max=10), never https to http.
    redirects: Optional[Redirects] = None
    #: Credentials besides Authorization, Cookie and Proxy-Authorization (always
    #: dropped): a redirect to another origin drops them, whether a request or
    #: `headers` set them ("X-Api-Key", say). Names are compared without case.
    sensitive_headers: Sequence[str] = ()
    #: Seconds: the longest pause a server's Retry-After or rate-limit headers may
    #: impose on the client or on a retry; longer ones are cut to it (and counted in
    #: Metrics.server_pauses_capped). None keeps librlc's 5 minutes.
    max_server_pause: Optional[float] = None
    #: Called with every Event (breaker transitions, retries, server pauses, dropped
    #: requests, limit changes): on the event loop for an AsyncClient, on rlc's
    #: completion thread for a Client (keep it short: completions wait behind it).
    on_event: Optional[Callable[[Event], object]] = None
    #: Bounds retries; None keeps librlc's RetryBudget(20, 10). RetryBudget(0, 0): none.
    retry_budget: Optional[RetryBudget] = None
    #: The HTTP statuses retried instead of 429, 502, 503 and 504; () retries none.
    #: Transport errors and timeouts stay retried.
    retry_on_status: Optional[Sequence[int]] = None
    #: Finds a limit the server does not publish: a 429 (or a 503 with Retry-After)
    #: without quota headers cuts the rate limit to three quarters, and each quiet
    #: second climbs back toward the configured rate_limit, which is the ceiling (so
    #: one is needed): fast well below the rate last throttled, slowly near it. Metrics.rate_limit shows the rate in force.
    adaptive: bool = False
    #: The persistent queue: an SQLite file that keeps every accepted request until
    #: its outcome is delivered. A submit returns only once the request is on disk,
    #: and after a crash the next process's recover() finishes what is left. At least
    #: once: a request in flight at the crash is sent again, with the same
    #: Idempotency-Key header (each journaled request gets one unless it has its own).
    #: The client raises JournalError when the file is locked by another live client,
    #: corrupt, from a newer rlc, read-only, or not rlc's (it is never overwritten).
    journal: Union[str, "os.PathLike[str]", None] = None
    #: Shares the rate limits through Redis with every client on the same key (rlc.Redis).
    redis: Optional[Redis] = None
    #: Runs a Client.submit callback on the rlc worker that finished the request, at
    #: once, instead of on the one completion thread: no hand-off per request. The
    #: callbacks then run on several threads at once (each takes the GIL) and a slow one
    #: holds its worker. Requests the client completes itself, and events, still come
    #: on the completion thread. An AsyncClient hands results to its loop either way.
    callbacks_on_workers: bool = False
    #: Limits counted in points (a GraphQL API's cost budget), taken by client.graphql().
    cost_limit: GraphQLCostLimit = None


# ---------------------------------------------------------------------------------
# Argument checks: a wrong type is a TypeError, a value out of range a ValueError,
# each naming the argument. What only the library can judge (a URL, a header value)
# becomes an InvalidArgumentError, which is a ValueError too.


def check_int(value: Any, name: str, low: int = 0, high: int = U64_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"rlc: {name} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"rlc: {name} must be from {low} to {high}, got {value}")
    return value


def seconds_to_ms(value: Any, name: str) -> int:
    """Whole milliseconds for the C ABI; refuses what would round to a meaningless 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"rlc: {name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"rlc: {name} must be a finite number of seconds >= 0, got {value}")
    ms = round(value * 1000)
    if ms == 0:
        raise ValueError(f"rlc: {name} must be at least 0.001 seconds, got {value}")
    if ms > U64_MAX:
        raise ValueError(f"rlc: {name} is too large: {value}")
    return int(ms)


def check_str(value: Any, name: str) -> bytes:
    """UTF-8 bytes for a C string; a NUL would silently cut it short in C."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"rlc: {name} must be a str, got {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"rlc: {name} must not contain a NUL character")
    return value.encode("utf-8")


def checked(lib: _native.Library, code: int, what: str) -> None:
    """Raises the error for a failed synchronous call, with the library's sentence."""
    if code != _native.RLC_OK:
        detail = lib.last_error()
        raise make_error(code, f"{what}: {detail}" if detail else what)


def build_native_config(config: Config) -> int:
    """A new rlc_config (a pointer, as an int) set from `config`; the caller frees it.

    Every Python-side check runs before anything native is allocated, so a bad
    argument leaks nothing.
    """
    if not isinstance(config, Config):
        raise TypeError(f"rlc: config must be an rlc.Config, got {type(config).__name__}")
    lib = _native.lib()
    steps: list[tuple[str, Callable[..., int], tuple[Any, ...]]] = []

    if config.base_url is not None:
        steps.append(("base_url", lib.rlc_config_set_base_url, (check_str(config.base_url, "base_url"),)))
    if config.rate_limit is not None:
        limits = [config.rate_limit] if isinstance(config.rate_limit, RateLimit) else list(config.rate_limit)
        if not limits:
            raise ValueError("rlc: rate_limit must not be an empty sequence")
        for i, limit in enumerate(limits):
            what = "rate_limit" if i == 0 else f"rate_limit[{i}]"
            if not isinstance(limit, RateLimit):
                raise TypeError(f"rlc: {what} must be an rlc.RateLimit, got {type(limit).__name__}")
            max_requests = check_int(limit.max_requests, f"{what}.max_requests", 1, U32_MAX)
            window_ms = seconds_to_ms(limit.per, f"{what}.per")
            burst = None if limit.burst is None else check_int(limit.burst, f"{what}.burst", 1, U32_MAX)
            if i == 0:
                steps.append((what, lib.rlc_config_set_rate_limit, (max_requests, window_ms)))
                if burst is not None:
                    steps.append((f"{what}.burst", lib.rlc_config_set_burst, (burst,)))
            else:
                steps.append(
                    (what, lib.rlc_config_add_rate_limit, (max_requests, window_ms, burst or max_requests))
                )
    if config.strict_window:
        if config.rate_limit is None:
            raise ValueError("rlc: strict_window needs a rate_limit")
        steps.append(("strict_window", lib.rlc_config_set_strict_window, (True,)))
    if config.retry is not None:
        r = config.retry
        if not isinstance(r, Retry):
            raise TypeError(f"rlc: retry must be an rlc.Retry, got {type(r).__name__}")
        max_retries = check_int(r.max_retries, "retry.max_retries", 0, U32_MAX)
        base = seconds_to_ms(r.base_delay, "retry.base_delay")
        top = seconds_to_ms(r.max_delay, "retry.max_delay")
        if top < base:
            raise ValueError(f"rlc: retry.max_delay ({r.max_delay}) is below retry.base_delay ({r.base_delay})")
        steps.append(("retry", lib.rlc_config_set_retry, (max_retries, base, top)))
    if config.breaker is not None:
        b = config.breaker
        if not isinstance(b, Breaker):
            raise TypeError(f"rlc: breaker must be an rlc.Breaker, got {type(b).__name__}")
        threshold = check_int(b.failure_threshold, "breaker.failure_threshold", 0, U32_MAX)
        recovery = seconds_to_ms(b.recovery_timeout, "breaker.recovery_timeout")
        steps.append(("breaker", lib.rlc_config_set_circuit_breaker, (threshold, recovery)))
    if config.max_queue_size is not None:
        size = check_int(config.max_queue_size, "max_queue_size", 1)
        steps.append(("max_queue_size", lib.rlc_config_set_max_queue_size, (size,)))
    if config.workers is not None:
        workers = check_int(config.workers, "workers", 1, 1024)
        steps.append(("workers", lib.rlc_config_set_workers, (workers,)))
    if config.timeout is not None:
        steps.append(("timeout", lib.rlc_config_set_timeout, (seconds_to_ms(config.timeout, "timeout"),)))
    if not isinstance(config.headers, Mapping):
        raise TypeError(f"rlc: headers must be a mapping of names to values, got {type(config.headers).__name__}")
    for name, value in config.headers.items():
        steps.append(
            (
                f"header {name!r}",
                lib.rlc_config_set_default_header,
                (check_str(name, "header name"), check_str(value, f"header {name!r}")),
            )
        )
    if config.max_response_bytes is not None:
        cap = check_int(config.max_response_bytes, "max_response_bytes", 1)
        steps.append(("max_response_bytes", lib.rlc_config_set_max_response_bytes, (cap,)))
    if config.user_agent is not None:
        steps.append(("user_agent", lib.rlc_config_set_user_agent, (check_str(config.user_agent, "user_agent"),)))
    if config.name is not None:
        steps.append(("name", lib.rlc_config_set_name, (check_str(config.name, "name"),)))
    if config.ca_bundle is not None:
        steps.append(("ca_bundle", lib.rlc_config_set_ca_bundle, (check_str(config.ca_bundle, "ca_bundle"),)))
    if config.redirects is not None:
        redirects = config.redirects
        if not isinstance(redirects, Redirects):
            raise TypeError(f"rlc: redirects must be an rlc.Redirects, got {type(redirects).__name__}")
        hops = check_int(redirects.max, "redirects.max", 0, U32_MAX)
        to_http = redirects.allow_https_to_http
        if not isinstance(to_http, bool):
            raise TypeError(f"rlc: redirects.allow_https_to_http must be a bool, got {type(to_http).__name__}")
        steps.append(("redirects.max", lib.rlc_config_set_max_redirects, (hops,)))
        steps.append(("redirects.allow_https_to_http", lib.rlc_config_set_redirect_to_http, (to_http,)))
    # A lone str is a sequence too, of letters: refuse it rather than mark "X", "-", ...
    if isinstance(config.sensitive_headers, (str, bytes)) or not isinstance(config.sensitive_headers, Sequence):
        raise TypeError(
            f"rlc: sensitive_headers must be a sequence of names, got {type(config.sensitive_headers).__name__}"
        )
    for i, name in enumerate(config.sensitive_headers):
        what = f"sensitive_headers[{i}]"
        steps.append((what, lib.rlc_config_add_sensitive_header, (check_str(name, what),)))
    if config.max_server_pause is not None:
        pause = seconds_to_ms(config.max_server_pause, "max_server_pause")
        steps.append(("max_server_pause", lib.rlc_config_set_max_server_pause, (pause,)))
    if not isinstance(config.callbacks_on_workers, bool):
        raise TypeError(
            f"rlc: callbacks_on_workers must be a bool, got {type(config.callbacks_on_workers).__name__}"
        )
    if config.callbacks_on_workers:
        steps.append(("callbacks_on_workers", lib.rlc_config_set_callbacks_on_workers, (True,)))
    steps.extend(config_steps(config, lib))
    steps.extend(journal_steps(config, lib))
    steps.extend(graphql_config_steps(config, lib))
    steps.extend(redis_steps(config, lib))

    cfg: Optional[int] = lib.rlc_config_new()
    if not cfg:
        raise MemoryError("rlc: rlc_config_new failed")
    try:
        for what, setter, args in steps:
            checked(lib, setter(cfg, *args), what)
    except BaseException:
        lib.rlc_config_free(cfg)
        raise
    return cfg
