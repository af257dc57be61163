"""rlc: a rate-limited HTTP client (priority queue, token bucket, retries with
backoff, circuit breaker) running in librlc's native threads, for asyncio and for
scripts.

    async with rlc.AsyncClient(base_url="https://api.example.com",
                               rate_limit=rlc.RateLimit(10, per=1.0)) as client:
        response = await client.get("/users/1", priority=100)

The seed's API is here too: rlc.RateLimitedAPIClient, rlc.RateLimitConfig,
rlc.RetryConfig. librlc is loaded on first use: from beside this package, then
RLC_LIBRARY_PATH, then the system loader's path.
"""

from ._events import Event, EventKind
from ._graphql import CostLimit, GraphQLError
from ._native import LibraryNotFoundError
from .client import AsyncClient, Client, library_path, version
from .compat import RateLimitConfig, RateLimitedAPIClient, RetryConfig
from .config import Breaker, Config, RateLimit, Redirects, Retry
from .errors import (
    RESULT_NAMES,
    BodyTooLargeError,
    CircuitOpenError,
    ConnectError,
    HTTPStatusError,
    InvalidArgumentError,
    InvalidQueryError,
    InvalidStateError,
    JournalError,
    PanicError,
    QueueFullError,
    ReadError,
    RedirectError,
    RedisError,
    RequestCancelledError,
    RlcError,
    ShutdownError,
    TimeoutError,
    TLSError,
    UnknownRequestError,
    error_class,
)
from ._journal import Recovered
from .limits import RetryBudget
from .metrics import Metrics
from ._redis import Redis, RedisStatus
from .response import Headers, Response

__all__ = [
    "AsyncClient",
    "BodyTooLargeError",
    "Breaker",
    "CircuitOpenError",
    "Client",
    "Config",
    "ConnectError",
    "CostLimit",
    "Event",
    "EventKind",
    "GraphQLError",
    "HTTPStatusError",
    "Headers",
    "InvalidArgumentError",
    "InvalidQueryError",
    "InvalidStateError",
    "JournalError",
    "LibraryNotFoundError",
    "Metrics",
    "PanicError",
    "QueueFullError",
    "RESULT_NAMES",
    "RateLimit",
    "RateLimitConfig",
    "RateLimitedAPIClient",
    "ReadError",
    "Recovered",
    "RedirectError",
    "Redis",
    "RedisError",
    "RedisStatus",
    "Redirects",
    "RequestCancelledError",
    "Response",
    "Retry",
    "RetryBudget",
    "RetryConfig",
    "RlcError",
    "ShutdownError",
    "TLSError",
    "TimeoutError",
    "UnknownRequestError",
    "error_class",
    "library_path",
    "version",
]
__version__ = "0.1.0"
