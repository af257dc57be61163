"""The exceptions of rlc: one class per rlc_result code, under RlcError.

Each class also subclasses the built-in exception a Python user would reach for, so
`except TimeoutError` (the built-in) catches rlc's timeouts and `except ValueError`
catches arguments the library refuses.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .response import Response


class RlcError(Exception):
    """An error reported by librlc.

    `code` is the rlc_result value (an int), `name` its C name such as
    "RLC_E_QUEUE_FULL", and `attempts` how many tries reached the network when a
    request failed (None for errors that are not a request's completion).
    """

    #: The rlc_result this class stands for (None for the base class and HTTPStatusError).
    result: Optional[int] = None

    def __init__(
        self, message: str, *, code: int, name: str, attempts: Optional[int] = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.name = name
        self.attempts = attempts

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.message != self.name else self.name


class InvalidArgumentError(RlcError, ValueError):
    """RLC_E_INVALID_ARGUMENT: the library refused a value (bad URL, CR/LF in a header...)."""

    result = 1


class QueueFullError(RlcError):
    """RLC_E_QUEUE_FULL: refused at submit, nothing was queued."""

    result = 2


class CircuitOpenError(RlcError):
    """RLC_E_CIRCUIT_OPEN: the circuit breaker is open; the request failed fast."""

    result = 3


class TimeoutError(RlcError, builtins.TimeoutError):
    """RLC_E_TIMEOUT: an attempt's timeout or the request's deadline passed."""

    result = 4


class ConnectError(RlcError, ConnectionError):
    """RLC_E_CONNECT: DNS failure, connection refused or reset before a response."""

    result = 5


class TLSError(RlcError):
    """RLC_E_TLS: the TLS handshake or the certificate check failed."""

    result = 6


class ReadError(RlcError):
    """RLC_E_IO: the connection broke mid-response, or the HTTP was malformed."""

    result = 7


class BodyTooLargeError(RlcError):
    """RLC_E_BODY_TOO_LARGE: the response body exceeded the configured cap."""

    result = 8


class RequestCancelledError(RlcError):
    """RLC_E_CANCELLED: the request was cancelled through rlc_cancel.

    Cancelling the asyncio task that awaits a request raises asyncio.CancelledError
    in that task, as asyncio code expects; this error is what other waiters see.
    """

    result = 9


class ShutdownError(RlcError):
    """RLC_E_SHUTDOWN: the client closed before the request could be sent."""

    result = 10


class UnknownRequestError(RlcError):
    """RLC_E_UNKNOWN_REQUEST: cancel of a request that is done or never was."""

    result = 11


class InvalidStateError(RlcError):
    """RLC_E_INVALID_STATE: not allowed in this state."""

    result = 12


class PanicError(RlcError):
    """RLC_E_PANIC: a bug, caught at librlc's boundary (or, in this binding, while
    copying a completion). Please report it."""

    result = 13


class RedirectError(RlcError):
    """RLC_E_REDIRECT: following a redirect failed (too many, or not allowed)."""

    result = 14


class JournalError(RlcError):
    """RLC_E_JOURNAL: the journal (Config.journal) cannot be used: locked by another
    live client, corrupt, from a newer rlc, read-only, or not rlc's file (never
    overwritten); or a journal write failed. The message says which."""

    result = 16


class InvalidQueryError(RlcError, ValueError):
    """RLC_E_GRAPHQL: a GraphQL query that does not parse, holds several operations
    and no operation name, is a subscription, or variables that are not an object."""

    result = 18


class RedisError(RlcError):
    """RLC_E_REDIS: the shared limit's Redis refused the client at its start (a wrong
    password, no such database). The message never holds the password."""

    result = 19


class HTTPStatusError(RlcError):
    """A 4xx or 5xx response, raised by Response.raise_for_status() and by the
    compatibility layer. The request itself completed (rlc_result RLC_OK)."""

    def __init__(self, response: Response) -> None:
        reason = f"{response.status} for {response.method} {response.url}"
        super().__init__(reason, code=0, name="HTTP_STATUS", attempts=response.attempts)
        self.response = response
        self.status = response.status


_BY_CODE: dict[int, type[RlcError]] = {
    cls.result: cls
    for cls in (
        InvalidArgumentError,
        QueueFullError,
        CircuitOpenError,
        TimeoutError,
        ConnectError,
        TLSError,
        ReadError,
        BodyTooLargeError,
        RequestCancelledError,
        ShutdownError,
        UnknownRequestError,
        InvalidStateError,
        PanicError,
        RedirectError,
        JournalError,
        InvalidQueryError,
        RedisError,
    )
    if cls.result is not None
}

#: C names of the codes this binding knows, by value.
RESULT_NAMES: dict[int, str] = {
    0: "RLC_OK",
    1: "RLC_E_INVALID_ARGUMENT",
    2: "RLC_E_QUEUE_FULL",
    3: "RLC_E_CIRCUIT_OPEN",
    4: "RLC_E_TIMEOUT",
    5: "RLC_E_CONNECT",
    6: "RLC_E_TLS",
    7: "RLC_E_IO",
    8: "RLC_E_BODY_TOO_LARGE",
    9: "RLC_E_CANCELLED",
    10: "RLC_E_SHUTDOWN",
    11: "RLC_E_UNKNOWN_REQUEST",
    12: "RLC_E_INVALID_STATE",
    13: "RLC_E_PANIC",
    14: "RLC_E_REDIRECT",
    16: "RLC_E_JOURNAL",
    18: "RLC_E_GRAPHQL",
    19: "RLC_E_REDIS",
}


def error_class(code: int) -> type[RlcError]:
    """The class for an rlc_result code; RlcError itself for a code newer than this
    binding (codes are only ever appended)."""
    return _BY_CODE.get(code, RlcError)


def make_error(
    code: int, message: str, *, name: Optional[str] = None, attempts: Optional[int] = None
) -> RlcError:
    name = name or RESULT_NAMES.get(code) or f"RLC_E_UNKNOWN_{code}"
    return error_class(code)(message or name, code=code, name=name, attempts=attempts)
