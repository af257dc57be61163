"""The persistent queue through the Python binding: a client closed with requests
unsent leaves them in its journal; the next one's recover() (blocking and asyncio)
finishes them, each with its tag. A second live client on the journal, and recover
without one, are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

import rlc
from conftest import run
from server import LocalServer


def leave_unsent(server: LocalServer, journal: Path, tags: list[str]) -> None:
    """A client that sends the first request and closes with the others queued."""
    with rlc.Client(base_url=server.url, journal=journal, rate_limit=rlc.RateLimit(1, per=60)) as client:
        with pytest.raises(rlc.JournalError, match="locked"):
            rlc.Client(base_url=server.url, journal=journal)
        futures = [client.submit("POST", f"/tag/{tag}", tag=tag, content=tag) for tag in tags]
        assert futures[0].result(timeout=30).tag == tags[0]
    for f in futures[1:]:
        with pytest.raises(rlc.ShutdownError):
            f.result(timeout=30)


def test_a_blocking_client_recovers_what_a_closed_one_left(server: LocalServer, tmp_path: Path) -> None:
    journal = tmp_path / "queue.db"
    leave_unsent(server, journal, ["a", "b", "c"])
    with rlc.Client(base_url=server.url, journal=str(journal)) as client:
        results = client.recover()
        assert sorted((r.tag, r.response.status if r.response else None, r.error) for r in results) == [
            ("b", 200, None),
            ("c", 200, None),
        ]
        assert all(r.response is not None and r.response.text == r.tag for r in results)
        assert client.recover(priority=3) == []


def test_an_async_client_recovers_too(server: LocalServer, tmp_path: Path) -> None:
    journal = tmp_path / "queue.db"
    leave_unsent(server, journal, ["x", "y"])

    async def main() -> list[rlc.Recovered]:
        async with rlc.AsyncClient(base_url=server.url, journal=journal) as client:
            return await client.recover()

    results = run(main())
    assert [(r.tag, r.response.status if r.response else None) for r in results] == [("y", 200)]


def test_recover_needs_a_journal_and_tags_are_checked(server: LocalServer, tmp_path: Path) -> None:
    with rlc.Client(base_url=server.url) as client:
        with pytest.raises(rlc.InvalidStateError):
            client.recover()
        with pytest.raises(TypeError):
            client.get("/hello", tag=7)
        with pytest.raises(ValueError):
            client.get("/hello", tag="x" * 5000)
        assert client.get("/hello", tag="t-1").tag == "t-1"
        assert client.get("/hello").tag == ""
    with pytest.raises(rlc.JournalError, match="not an rlc journal"):
        notes = tmp_path / "notes.txt"
        notes.write_text("my notes\n")
        rlc.Client(base_url=server.url, journal=notes)
    assert notes.read_text() == "my notes\n"
