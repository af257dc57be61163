"""Limits: the retry budget, the retried statuses, adaptive limiting (config fields),
weighted requests and per-request retries (request arguments), and live rate-limit
changes (set_rate_limit), checked here before anything native exists."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from . import _native
    from .config import Config


@dataclass(frozen=True)
class RetryBudget:
    """Bounds retries so that a failing API never sees a retry storm: over any ten
    seconds, at most `percent` % of the first attempts plus `min_per_second` per
    second. RetryBudget(0, 0) turns retries off. A retry the budget refuses completes
    the request with its last response or error, and counts in
    Metrics.retries_refused_by_budget."""

    percent: int = 20
    min_per_second: int = 10


Step = tuple[str, Callable[..., int], tuple[Any, ...]]


def config_steps(config: Config, lib: _native.Library) -> list[Step]:
    """The setters for the limit fields of `config`, as build_native_config runs them."""
    from .config import U32_MAX, check_int

    steps: list[Step] = []
    budget = config.retry_budget
    if budget is not None:
        if not isinstance(budget, RetryBudget):
            raise TypeError(f"rlc: retry_budget must be an rlc.RetryBudget, got {type(budget).__name__}")
        percent = check_int(budget.percent, "retry_budget.percent", 0, U32_MAX)
        floor = check_int(budget.min_per_second, "retry_budget.min_per_second", 0, U32_MAX)
        steps.append(("retry_budget", lib.rlc_config_set_retry_budget, (percent, floor)))
    codes = config.retry_on_status
    if codes is not None:
        if isinstance(codes, (str, bytes)) or not isinstance(codes, Sequence):
            raise TypeError(f"rlc: retry_on_status must be a sequence of statuses, got {type(codes).__name__}")
        checked = [check_int(code, f"retry_on_status[{i}]", 100, 599) for i, code in enumerate(codes)]
        array = (ctypes.c_uint16 * len(checked))(*checked) if checked else None
        steps.append(("retry_on_status", lib.rlc_config_set_retry_on_status, (array, len(checked))))
    if not isinstance(config.adaptive, bool):
        raise TypeError(f"rlc: adaptive must be a bool, got {type(config.adaptive).__name__}")
    if config.adaptive:
        if config.rate_limit is None:
            raise ValueError("rlc: adaptive needs a rate_limit: the rate to start from and climb back to")
        steps.append(("adaptive", lib.rlc_config_set_adaptive, (True,)))
    return steps


def request_limits(cost: Optional[int], max_retries: Optional[int]) -> tuple[Optional[int], Optional[int]]:
    """The checked `cost` and `max_retries` of a request (None: the client's)."""
    from .config import U32_MAX, check_int

    return (
        None if cost is None else check_int(cost, "cost", 1, U32_MAX),
        None if max_retries is None else check_int(max_retries, "max_retries", 0, U32_MAX),
    )


def apply_request_limits(lib: _native.Library, handle: int, cost: Optional[int], max_retries: Optional[int]) -> None:
    """Sets the checked cost and retry count on the rlc_request `handle`."""
    from .config import checked

    if cost is not None:
        checked(lib, lib.rlc_request_set_cost(handle, cost), "cost")
    if max_retries is not None:
        checked(lib, lib.rlc_request_set_max_retries(handle, max_retries), "max_retries")


def rate_limit_args(max_requests: int, per: float) -> tuple[int, int]:
    """rlc_client_set_rate_limit's arguments: the checked maximum, the window in ms."""
    from .config import U32_MAX, check_int, seconds_to_ms

    return check_int(max_requests, "max_requests", 1, U32_MAX), seconds_to_ms(per, "per")
