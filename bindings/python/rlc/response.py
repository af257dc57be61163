"""Responses: copied out of librlc inside the completion callback, then plain Python."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterator, Mapping
from typing import Any, Optional

from .errors import HTTPStatusError


class Headers(Mapping[str, str]):
    """Response headers, looked up without regard to case.

    A name received more than once maps to its values joined with ", " (as HTTP
    allows); `get_all(name)` gives them one by one, which is what Set-Cookie needs.
    Iteration yields lower-case names in the order first received.
    """

    __slots__ = ("_raw", "_lines", "_joined")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        # Kept as the bytes librlc gave and decoded on first use: most responses'
        # headers are never read, and this runs on the completion thread per response.
        self._raw = raw
        self._lines: list[tuple[str, str]] | None = None
        self._joined: dict[str, str] | None = None

    @property
    def _decoded(self) -> list[tuple[str, str]]:
        if self._lines is None:
            self._lines = [(n.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for n, v in self._raw]
        return self._lines

    @property
    def _by_name(self) -> dict[str, str]:
        if self._joined is None:
            joined: dict[str, str] = {}
            for name, value in self._decoded:
                key = name.lower()
                joined[key] = f"{joined[key]}, {value}" if key in joined else value
            self._joined = joined
        return self._joined

    def __getitem__(self, name: str) -> str:
        return self._by_name[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def get_all(self, name: str) -> list[str]:
        """Every value of `name`, one per header line, in the order received."""
        key = name.lower()
        return [v for n, v in self._decoded if n.lower() == key]

    def items_raw(self) -> list[tuple[str, str]]:
        """Every header line as received: (name, value) pairs, repeats included."""
        return list(self._decoded)

    def __repr__(self) -> str:
        return f"Headers({self._by_name!r})"


class Response:
    """An HTTP response of any status. A 4xx or 5xx is a response too, not an
    exception: call raise_for_status() to turn it into one."""

    __slots__ = ("status", "headers", "content", "attempts", "method", "url", "graphql_errors", "tag")

    def __init__(
        self,
        *,
        status: int,
        headers: Headers,
        content: bytes,
        attempts: int,
        method: str,
        url: str,
        tag: str = "",
        graphql_errors: Optional[list[Any]] = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.content = content
        #: How many attempts the request took (1 when the first one answered).
        self.attempts = attempts
        #: The method and the path or URL as the request was made.
        self.method = method
        self.url = url
        #: The request's tag ("" when it had none; see Config.journal).
        self.tag = tag
        #: A GraphQL answer's `errors` array; None for other requests or when it had none.
        self.graphql_errors = graphql_errors

    @property
    def ok(self) -> bool:
        """True for 1xx-3xx."""
        return self.status < 400

    @property
    def encoding(self) -> str:
        """The charset named by Content-Type, else UTF-8."""
        ctype = self.headers.get("content-type", "")
        for param in ctype.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip('"').strip()
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded with `encoding`; undecodable bytes become U+FFFD."""
        try:
            return self.content.decode(self.encoding, "replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (json.JSONDecodeError, a ValueError, if it is not)."""
        return jsonlib.loads(self.content)

    @property
    def is_json(self) -> bool:
        """Whether Content-Type says JSON (application/json or any +json type)."""
        mime = self.headers.get("content-type", "").split(";")[0].strip().lower()
        return mime == "application/json" or mime.endswith("+json")

    def raise_for_status(self) -> Response:
        """Raises HTTPStatusError for a 4xx or 5xx; returns the response otherwise."""
        if self.status >= 400:
            raise HTTPStatusError(self)
        return self

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.method} {self.url} ({len(self.content)} bytes)>"

