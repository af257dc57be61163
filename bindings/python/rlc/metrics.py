"""The client's metrics as a dataclass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Optional

from ._native import NativeMetrics

BREAKER_STATES = {0: "closed", 1: "open", 2: "half_open"}
_NO_LIMIT = 2**64 - 1

#: The counters kept beyond struct rlc_metrics (whose layout is fixed), read one by
#: one with rlc_client_metric: the field names, in the order of the rlc_metric enum.
EXTRA_METRICS = ("server_pauses_capped", "redirects", "worker_panics", "retries_refused_by_budget", "rate_limit")


@dataclass(frozen=True)
class Metrics:
    """A snapshot: counters since the client started, gauges as of now; latencies in
    microseconds (0 before any request)."""

    submitted: int
    succeeded: int
    http_4xx: int
    http_5xx: int
    timeouts: int
    connect_errors: int
    circuit_open: int
    queue_full: int
    cancelled: int
    shutdown: int
    retries: int
    queue_depth: int
    in_flight: int
    #: "closed", "open" or "half_open".
    breaker_state: str
    latency_p50_us: int
    latency_p90_us: int
    latency_p99_us: int
    other_errors: int
    breaker_transitions: int
    server_pauses: int
    paused_ms: int
    #: Whole tokens in the tightest rate limit; None when there is no limit.
    tokens_available: Optional[int]
    queue_wait_p50_us: int
    queue_wait_p90_us: int
    queue_wait_p99_us: int
    attempt_p50_us: int
    attempt_p90_us: int
    attempt_p99_us: int
    #: Server-requested pauses and retry delays cut to Config.max_server_pause.
    server_pauses_capped: int
    #: Redirect hops followed (each took a token).
    redirects: int
    #: Attempts that panicked inside librlc (a bug), failed with PanicError.
    worker_panics: int
    #: Retries the retry budget refused (Config.retry_budget).
    retries_refused_by_budget: int
    #: The rate limit in force, in requests per its window (0 without one): where
    #: Config.adaptive or set_rate_limit has put it.
    rate_limit: int

    @classmethod
    def from_native(cls, m: NativeMetrics, extras: Sequence[int]) -> Metrics:
        """From the struct and the EXTRA_METRICS values, in that order."""
        values: dict[str, object] = dict(zip(EXTRA_METRICS, extras))
        values.update((f.name, getattr(m, f.name)) for f in fields(cls) if f.name not in values)
        values["breaker_state"] = BREAKER_STATES.get(m.breaker_state, str(m.breaker_state))
        values["tokens_available"] = None if m.tokens_available == _NO_LIMIT else m.tokens_available
        return cls(**values)  # type: ignore[arg-type]
