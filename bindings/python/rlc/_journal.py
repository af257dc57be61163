"""The persistent queue: Config.journal, the `tag` of a request (Response.tag), and
recover(), which queues what an earlier process left in the journal and hands back
every outcome with its tag. Delivery is at least once: a request that was in flight
when the earlier process died is sent again, with the same Idempotency-Key header."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from .errors import RlcError

if TYPE_CHECKING:
    from . import _native
    from .config import Config
    from .response import Response

#: The longest tag librlc keeps.
MAX_TAG_BYTES = 4096


@dataclass(frozen=True)
class Recovered:
    """One request recovered from the journal: its tag, and its response (any HTTP
    status) or why none came (`error`; a TimeoutError, unsent, when its deadline
    passed while no process ran)."""

    tag: str
    response: Optional[Response]
    error: Optional[RlcError]


Step = tuple[str, Callable[..., int], tuple[Any, ...]]


def journal_steps(config: Config, lib: _native.Library) -> list[Step]:
    """The setter of Config.journal, as build_native_config runs it."""
    from .config import check_str

    if config.journal is None:
        return []
    return [("journal", lib.rlc_config_set_journal, (check_str(config.journal, "journal"),))]


def check_tag(tag: Optional[str]) -> Optional[bytes]:
    """The checked tag of a request, as UTF-8 (None: no tag)."""
    from .config import check_str

    if tag is None:
        return None
    encoded = check_str(tag, "tag")
    if len(encoded) > MAX_TAG_BYTES:
        raise ValueError(f"rlc: a tag must be at most {MAX_TAG_BYTES} bytes, got {len(encoded)}")
    return encoded


class Collector:
    """Gathers the outcomes of one recover() call. Callbacks may come (on librlc's
    completion thread) before rlc_client_recover has said how many there will be, so
    `expect` and `add` meet under a lock, and `on_done` runs once, when both agree."""

    def __init__(self, on_done: Callable[[list[Recovered]], None]) -> None:
        self._lock = threading.Lock()
        self._results: list[Recovered] = []
        self._expected: Optional[int] = None
        self._fired = False
        self._on_done = on_done

    def add(self, tag: str, outcome: Union[Response, RlcError]) -> None:
        if isinstance(outcome, RlcError):
            item = Recovered(tag=tag, response=None, error=outcome)
        else:
            item = Recovered(tag=tag, response=outcome, error=None)
        with self._lock:
            self._results.append(item)
        self._maybe_done()

    def expect(self, count: int) -> None:
        with self._lock:
            self._expected = count
        self._maybe_done()

    def _maybe_done(self) -> None:
        with self._lock:
            if self._fired or self._expected is None or len(self._results) < self._expected:
                return
            self._fired = True
            results = list(self._results)
        self._on_done(results)
