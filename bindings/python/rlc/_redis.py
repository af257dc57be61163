"""A rate limit shared through Redis: the `redis` field of Config (a Redis) and
Client.redis_status() / AsyncClient.redis_status(), checked here before anything
native exists."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal

if TYPE_CHECKING:
    from . import _native
    from .config import Config

_FAILURE = {"closed": 0, "local": 1, "open": 2}
_STATES = ("off", "connected", "disconnected")
#: RLC_METRIC_REDIS_STATE .. RLC_METRIC_REDIS_CLIENTS.
_METRICS = (50, 51, 52, 53, 54)


@dataclass(frozen=True)
class Redis:
    """Shares the client's rate limits with every client, in any process or host, on
    the same Redis and `key`: each decision is one atomic Lua step on Redis's own
    clock. A lease thread takes tokens in batches when demand is high (one at a time
    when low): the shared rate may exceed the limit by at most `max_lease` per client
    in any window. A pause a server asks for (429, Retry-After, RateLimit) is shared
    too. Making the client raises RedisError when Redis refuses (wrong password, no
    such database); an unreachable Redis does not: `failure` applies until it is
    back. No message ever holds the password."""

    #: redis://[user:password@]host[:port][/db], or rediss:// for TLS.
    url: str
    #: Names the shared limit: 1 to 256 bytes, no control character.
    key: str
    #: While Redis is away: "local" (a share of the rate; the default), "closed"
    #: (requests wait; those with a deadline time out) or "open" (own full rate).
    failure: Literal["closed", "local", "open"] = "local"
    #: The share of the rate, 1 to 100 %, that "local" allows; None: 100 / the
    #: clients seen on the key.
    local_share: int | None = None
    #: The most tokens per round trip; None: 5 % of the rate per second, 1 to 64.
    max_lease: int | None = None

    def __repr__(self) -> str:
        # The URL may hold a password: never show it.
        return f"Redis(url=<hidden>, key={self.key!r}, failure={self.failure!r})"


@dataclass(frozen=True)
class RedisStatus:
    """The shared limit's state and counters."""

    #: "off" (no shared limit), "connected", or "disconnected" (the failure policy applies).
    state: str
    #: Calls made to Redis.
    round_trips: int
    #: Seconds spent without Redis, the current outage included.
    down: float
    #: Tokens granted by Redis.
    tokens_leased: int
    #: Clients seen on the key in the last ten seconds.
    clients: int


Step = tuple[str, Callable[..., int], tuple[Any, ...]]


def config_steps(config: Config, lib: _native.Library) -> list[Step]:
    """The setters for the `redis` field of `config`, as build_native_config runs them."""
    from .config import check_int

    r = config.redis
    if r is None:
        return []
    if not isinstance(r, Redis):
        raise TypeError(f"rlc: redis must be an rlc.Redis, got {type(r).__name__}")
    if not isinstance(r.url, str) or not isinstance(r.key, str):
        raise TypeError("rlc: Redis.url and Redis.key must be str")
    if r.failure not in _FAILURE:
        raise ValueError(f"rlc: Redis.failure must be 'closed', 'local' or 'open', got {r.failure!r}")
    steps: list[Step] = [
        ("redis", lib.rlc_config_set_redis, (r.url.encode(), r.key.encode())),
        ("redis.failure", lib.rlc_config_set_redis_failure, (_FAILURE[r.failure],)),
    ]
    if r.local_share is not None:
        share = check_int(r.local_share, "Redis.local_share", 1, 100)
        steps.append(("redis.local_share", lib.rlc_config_set_redis_local_share, (share,)))
    if r.max_lease is not None:
        lease = check_int(r.max_lease, "Redis.max_lease", 1, 0xFFFFFFFF)
        steps.append(("redis.max_lease", lib.rlc_config_set_redis_max_lease, (lease,)))
    return steps


def status(lib: _native.Library, ptr: int) -> RedisStatus:
    """Reads the shared limit's metrics of the client `ptr` (the caller holds it open)."""
    from .config import checked

    values = []
    value = ctypes.c_uint64()
    for metric in _METRICS:
        checked(lib, lib.rlc_client_metric(ptr, metric, ctypes.byref(value)), "rlc_client_metric")
        values.append(value.value)
    state = _STATES[values[0]] if values[0] < len(_STATES) else "unknown"
    return RedisStatus(state, values[1], values[2] / 1000.0, values[3], values[4])
