"""Events: what on_event sees, in what order, on which thread, against the mock API."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from typing import Any

import pytest

from conftest import run, until

import rlc
from rlc import Event, EventKind


def describe(e: Event) -> str:
    if e.kind is EventKind.BREAKER:
        return f"breaker {e.breaker_from}->{e.breaker_to}"
    if e.kind is EventKind.RETRY:
        return f"retry {e.attempt} {e.status} {e.reason}"
    if e.kind is EventKind.PAUSE:
        return f"pause {e.status} {e.header} {e.capped}"
    if e.kind is EventKind.DROPPED:
        return f"dropped {e.request_id is not None} {e.reason}"
    return e.kind.value


def key() -> str:
    return uuid.uuid4().hex


def test_async_retries_come_on_the_loop_before_their_completion(mock_api: str) -> None:
    log: list[str] = []
    events: list[Event] = []
    threads: set[int] = set()

    def on_event(e: Event) -> None:
        threads.add(threading.get_ident())
        events.append(e)
        log.append(describe(e))

    async def main() -> None:
        retry = rlc.Retry(max_retries=3, base_delay=0.001, max_delay=0.005)
        async with rlc.AsyncClient(base_url=mock_api, retry=retry, on_event=on_event) as client:
            response = await client.get(f"/flaky/{key()}/2")
            log.append(f"done {response.status}")

    run(main())
    assert log == ["retry 1 503 None", "retry 2 503 None", "done 200"]
    assert threads == {threading.get_ident()}  # the loop's thread (asyncio.run's)
    for e in events:
        assert e.request_id is not None and e.request_id > 0
        assert 0 <= e.delay <= 0.005


def test_the_breakers_whole_round_is_delivered(mock_api: str) -> None:
    log: list[str] = []
    with rlc.Client(
        base_url=mock_api,
        retry=rlc.Retry(0),
        breaker=rlc.Breaker(failure_threshold=1, recovery_timeout=0.05),
        on_event=lambda e: log.append(describe(e)),
    ) as client:
        client.get("/status/500")
        with pytest.raises(rlc.CircuitOpenError):
            client.get("/status/200")
        time.sleep(0.1)
        client.get("/status/200")
    assert log == [
        "breaker closed->open",
        "dropped False RLC_E_CIRCUIT_OPEN",
        "breaker open->half_open",
        "breaker half_open->closed",
    ]


def test_pauses_name_their_header(mock_api: str) -> None:
    events: list[Event] = []
    with rlc.Client(base_url=mock_api, retry=rlc.Retry(0), on_event=events.append) as client:
        client.get("/status/429?retry_after=1")
    assert [describe(e) for e in events] == ["pause 429 Retry-After False"]
    assert events[0].delay == pytest.approx(1.0, abs=0.01)


def test_blocking_client_events_run_on_rlcs_thread(mock_api: str) -> None:
    threads: list[int] = []
    done: list[str] = []
    with rlc.Client(
        base_url=mock_api, workers=1, max_queue_size=1,
        on_event=lambda e: (threads.append(threading.get_ident()), done.append(describe(e))),
    ) as client:
        slow = client.submit("GET", "/slow/300")
        until(lambda: client.get_metrics().in_flight == 1, what="the slow request in flight")
        short = client.submit("GET", "/status/200", deadline=0.05)
        with pytest.raises(rlc.QueueFullError):
            client.submit("GET", "/status/200")
        with pytest.raises(rlc.TimeoutError):
            short.result(timeout=10)
        assert slow.result(timeout=10).status == 200
    assert done == ["dropped False RLC_E_QUEUE_FULL", "dropped True RLC_E_TIMEOUT"]
    assert threads and threading.get_ident() not in threads


def test_a_raising_handler_is_reported_and_loses_nothing(
    mock_api: str, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(e: Event) -> None:
        raise RuntimeError("a watcher's bug")

    retry = rlc.Retry(max_retries=1, base_delay=0.001)
    with caplog.at_level(logging.ERROR, logger="rlc"):
        with rlc.Client(base_url=mock_api, retry=retry, on_event=boom) as client:
            response = client.get(f"/flaky/{key()}/1")
    assert (response.status, response.attempts) == (200, 2)
    assert "on_event raised on a retry event" in caplog.text

    reported: list[dict[str, Any]] = []

    async def main() -> int:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reported.append(ctx))
        async with rlc.AsyncClient(base_url=mock_api, retry=retry, on_event=boom) as client:
            return (await client.get(f"/flaky/{key()}/1")).attempts

    assert run(main()) == 2
    assert [type(c["exception"]) for c in reported] == [RuntimeError]


def test_on_event_must_be_callable() -> None:
    with pytest.raises(TypeError, match="on_event must be callable"):
        rlc.Client(on_event=42)
