"""GraphQL: client.graphql(query, variables) returns `data` or raises GraphQLError
with the server's `errors`; Config.cost_limit adds a limit counted in points. A query
that does not parse is refused before anything is sent (InvalidQueryError). librlc
builds the request (rlc_graphql_request_new), charges its cost in points, corrects
the charge from the server's report and retries THROTTLED answers."""

from __future__ import annotations

import ctypes
import json as jsonlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

if TYPE_CHECKING:
    from . import _native
    from .config import Config
    from .response import Response

#: rlc_metric numbers of the GraphQL counters.
METRICS = {"graphql_throttled": 40, "graphql_points": 41, "graphql_errors": 42}


@dataclass(frozen=True)
class CostLimit:
    """A limit counted in points (a GraphQL API's cost budget): a bucket of `points`
    refilled at `points` per `per` seconds. Shopify's 1,000 points restored at 50 a
    second is CostLimit(1000, per=20); GitHub's 5,000 an hour is CostLimit(5000,
    per=3600). A GraphQL query takes its cost from it, corrected afterwards to what
    the server reports."""

    points: int
    per: float = 1.0


class GraphQLError(Exception):
    """A GraphQL answer with errors, or one that is not GraphQL at all (then `errors`
    is empty). `errors` as the server sent them, `data` whatever came beside them,
    `response` the whole answer."""

    def __init__(self, errors: list[Any], data: Any, response: Response) -> None:
        first = errors[0].get("message") if errors and isinstance(errors[0], dict) else None
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first}{more}" if isinstance(first, str) else f"not a GraphQL answer: HTTP {response.status}")
        self.errors = errors
        self.data = data
        self.response = response


Step = tuple[str, Callable[..., int], tuple[Any, ...]]


def config_steps(config: Config, lib: _native.Library) -> list[Step]:
    """The setters for Config.cost_limit."""
    from .config import U32_MAX, check_int, seconds_to_ms

    limit = config.cost_limit
    if limit is None:
        return []
    limits = [limit] if isinstance(limit, CostLimit) else list(limit)
    steps: list[Step] = []
    for i, c in enumerate(limits):
        if not isinstance(c, CostLimit):
            raise TypeError(f"rlc: cost_limit must be an rlc.CostLimit or a sequence of them, got {type(c).__name__}")
        what = "cost_limit" if isinstance(limit, CostLimit) else f"cost_limit[{i}]"
        points = check_int(c.points, f"{what}.points", 0, U32_MAX)
        steps.append((what, lib.rlc_config_set_cost_limit, (points, seconds_to_ms(c.per, f"{what}.per"))))
    return steps


def encode(
    query: str, variables: Optional[Mapping[str, Any]], operation_name: Optional[str]
) -> tuple[bytes, Optional[bytes], Optional[bytes]]:
    """The checked query, variables (JSON) and operation name, as librlc takes them."""
    from .config import check_str

    q = check_str(query, "query")
    if variables is not None and not isinstance(variables, Mapping):
        raise TypeError(f"rlc: GraphQL variables must be a mapping, got {type(variables).__name__}")
    v = None if variables is None else jsonlib.dumps(dict(variables), separators=(",", ":")).encode()
    n = None if operation_name is None else check_str(operation_name, "operation_name")
    return q, v, n


def new_request(lib: _native.Library, target: bytes, graphql: tuple[bytes, Optional[bytes], Optional[bytes]]) -> int:
    """An rlc_request for the GraphQL operation (InvalidQueryError when it does not parse)."""
    from .config import checked

    out = ctypes.c_void_p()
    checked(lib, lib.rlc_graphql_request_new(target, *graphql, ctypes.byref(out)), "graphql")
    return out.value or 0


def read_errors(lib: _native.Library, resp: Optional[int]) -> Optional[list[Any]]:
    """The response's GraphQL errors, read inside the callback (it is borrowed)."""
    raw: Optional[bytes] = lib.rlc_response_graphql_errors(resp)
    if not raw:
        return None
    errors = jsonlib.loads(raw)
    return errors if isinstance(errors, list) else None


def result(response: Response) -> Any:
    """`data`, or GraphQLError."""
    try:
        body = jsonlib.loads(response.content)
    except ValueError:
        body = None
    errors = response.graphql_errors
    if errors or not isinstance(body, dict) or "data" not in body:
        data = body.get("data") if isinstance(body, dict) else None
        raise GraphQLError(errors or [], data, response)
    return body["data"]


def metrics(lib: _native.Library, ptr: int) -> dict[str, int]:
    """The GraphQL counters of the client at `ptr`."""
    from .config import checked

    out: dict[str, int] = {}
    value = ctypes.c_uint64()
    for name, number in METRICS.items():
        checked(lib, lib.rlc_client_metric(ptr, number, ctypes.byref(value)), "rlc_client_metric")
        out[name] = int(value.value)
    return out


GraphQLCostLimit = Union[CostLimit, Sequence[CostLimit], None]
