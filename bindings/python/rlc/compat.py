"""The seed's API, running on rlc: RateLimitedAPIClient with RateLimitConfig and
RetryConfig, same names, same arguments, same units (seconds as floats).

`await client.get(path)` and `await client.request(method, path, ...)` return what
the seed's aiohttp code returned after `raise_for_status()`: the parsed JSON body
when the response says it is JSON, else the body as text. A 4xx or 5xx (after
rlc's retries) raises rlc.HTTPStatusError, whose `.response` has everything; other
failures raise the rlc.RlcError subclass of their rlc_result. Use
`request_response()` (or rlc.AsyncClient) to get the Response itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Coroutine, Optional

from ._core import MISSING, Content, HeadersArg
from .client import AsyncClient
from .config import Breaker, Config, RateLimit, Retry
from .metrics import Metrics
from .response import Response


@dataclass(frozen=True)
class RateLimitConfig:
    """At most `max_requests` per `time_window_seconds`; `burst` requests may go at
    once after an idle spell (default `max_requests`)."""

    max_requests: int
    time_window_seconds: float = 1.0
    burst: Optional[int] = None


@dataclass(frozen=True)
class RetryConfig:
    """Up to `max_retries` further attempts after min(max_delay, base_delay * 2^n)
    seconds, with full jitter. rlc's backoff is always base 2 with jitter, so
    `exponential_base` must be 2 and `jitter` True (they exist so the seed's calls
    that spell them out still work)."""

    max_retries: int = 3
    base_delay: float = 0.1
    max_delay: float = 30.0
    exponential_base: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.exponential_base != 2.0:
            raise ValueError(f"rlc: RetryConfig.exponential_base must be 2.0 (rlc doubles the delay), got {self.exponential_base}")
        if self.jitter is not True:
            raise ValueError("rlc: RetryConfig.jitter must be True (rlc always uses full jitter)")


class RateLimitedAPIClient:
    """An asyncio client for one API: rate limit, priority queue, retries and a
    circuit breaker, all inside librlc. Use it with `async with`, or call close()."""

    def __init__(
        self,
        base_url: str,
        rate_limit_config: Optional[RateLimitConfig] = None,
        retry_config: Optional[RetryConfig] = None,
        circuit_breaker_threshold: int = 5,
        circuit_breaker_timeout: float = 30.0,
        max_queue_size: int = 10_000,
        *,
        headers: Optional[dict[str, str]] = None,
        timeout: Optional[float] = None,
        workers: Optional[int] = None,
    ) -> None:
        rate_limit = None
        if rate_limit_config is not None:
            if not isinstance(rate_limit_config, RateLimitConfig):
                raise TypeError(f"rlc: rate_limit_config must be a RateLimitConfig, got {type(rate_limit_config).__name__}")
            rate_limit = RateLimit(
                rate_limit_config.max_requests, rate_limit_config.time_window_seconds, rate_limit_config.burst
            )
        retry = None
        if retry_config is not None:
            if not isinstance(retry_config, RetryConfig):
                raise TypeError(f"rlc: retry_config must be a RetryConfig, got {type(retry_config).__name__}")
            retry = Retry(retry_config.max_retries, retry_config.base_delay, retry_config.max_delay)
        self._client = AsyncClient(
            Config(
                base_url=base_url,
                rate_limit=rate_limit,
                retry=retry,
                breaker=Breaker(circuit_breaker_threshold, circuit_breaker_timeout),
                max_queue_size=max_queue_size,
                headers=headers or {},
                timeout=timeout,
                workers=workers,
            )
        )

    async def request_response(
        self,
        method: str,
        path: str,
        priority: int = 0,
        *,
        json: Any = MISSING,
        data: Content = None,
        headers: HeadersArg = None,
        timeout: Optional[float] = None,
    ) -> Response:
        """The Response itself, whatever its status."""
        return await self._client.request(
            method, path, priority=priority, json=json, content=data, headers=headers, timeout=timeout
        )

    async def request(
        self,
        method: str,
        path: str,
        priority: int = 0,
        *,
        json: Any = MISSING,
        data: Content = None,
        headers: HeadersArg = None,
        timeout: Optional[float] = None,
    ) -> Any:
        """The parsed JSON body, or the text when the response is not JSON; raises
        HTTPStatusError for a 4xx or 5xx (see the module's docstring)."""
        response = await self.request_response(
            method, path, priority, json=json, data=data, headers=headers, timeout=timeout
        )
        response.raise_for_status()
        if response.is_json:
            return response.json() if response.content else None
        return response.text

    def get(self, path: str, priority: int = 0, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        return self.request("GET", path, priority, **kwargs)

    def post(self, path: str, priority: int = 0, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        return self.request("POST", path, priority, **kwargs)

    def put(self, path: str, priority: int = 0, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        return self.request("PUT", path, priority, **kwargs)

    def patch(self, path: str, priority: int = 0, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        return self.request("PATCH", path, priority, **kwargs)

    def delete(self, path: str, priority: int = 0, **kwargs: Any) -> Coroutine[Any, Any, Any]:
        return self.request("DELETE", path, priority, **kwargs)

    def get_metrics(self) -> Metrics:
        return self._client.get_metrics()

    async def close(self) -> None:
        """Closes without blocking the event loop; see AsyncClient.aclose."""
        await self._client.aclose()

    async def __aenter__(self) -> RateLimitedAPIClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
