"""Cancelling, closing and concurrency (the Node binding's cancel.test.js, and more)."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

import rlc
from conftest import run, until, until_async
from server import LocalServer


def test_a_task_cancelled_before_it_ran_submits_nothing(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(base_url=server.url) as client:
            task = asyncio.create_task(client.get("/tag/pre-cancelled"))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert client.get_metrics().submitted == 0
        assert server.arrived("/tag/pre-cancelled") == []

    run(main())


def test_cancelling_the_task_of_a_queued_request_cancels_it_in_rlc(server: LocalServer) -> None:
    async def main() -> None:
        client = rlc.AsyncClient(
            base_url=server.url, rate_limit=rlc.RateLimit(1, per=60.0, burst=1), workers=1
        )
        try:
            assert (await client.get("/tag/q-first")).status == 200
            queued = asyncio.create_task(client.get("/tag/q-never"))
            other = asyncio.create_task(client.get("/tag/q-other"))
            await until_async(lambda: client.get_metrics().queue_depth == 2, what="both queued")
            queued.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(queued, 5)
            await until_async(lambda: client.get_metrics().cancelled == 1, what="rlc cancelled it")
            assert server.arrived("/tag/q-never") == []
            assert client.get_metrics().queue_depth == 1, "the other request is still queued"
        finally:
            await asyncio.wait_for(client.aclose(), 15)
        with pytest.raises(rlc.ShutdownError):
            await other

    run(main())


def test_cancelling_an_in_flight_request_returns_promptly(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(base_url=server.url, retry=rlc.Retry(0)) as client:
            task = asyncio.create_task(client.get("/slow/abort-inflight?ms=1500"))
            await until_async(lambda: client.get_metrics().in_flight == 1, what="in flight")
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 1.0)
            assert time.monotonic() - started < 1.0
            # rlc still completes it (RLC_E_CANCELLED when the attempt ends).
            await until_async(lambda: client.get_metrics().in_flight == 0, what="the attempt ended")
            assert (await client.get("/hello")).status == 200, "the client is still usable"

    run(main())


def test_wait_for_timeout_cancels_the_request(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(
            base_url=server.url, rate_limit=rlc.RateLimit(1, per=60.0, burst=1), workers=1
        ) as client:
            await client.get("/tag/wf-first")
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.get("/tag/wf-never"), 0.2)
            await until_async(lambda: client.get_metrics().cancelled == 1, what="rlc cancelled it")
            assert server.arrived("/tag/wf-never") == []

    run(main())


def test_a_thousand_concurrent_requests_all_complete(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(base_url=server.url, workers=8) as client:
            n = 1000
            responses = await asyncio.gather(*(client.get(f"/tag/c{i}", priority=i % 7) for i in range(n)))
            assert len(responses) == n
            for i, res in enumerate(responses):
                assert (res.status, res.text) == (200, f"c{i}")
            m = client.get_metrics()
            assert (m.submitted, m.succeeded) == (n, n)

    run(main(), timeout=60)


def test_closing_with_requests_pending_settles_every_one(server: LocalServer) -> None:
    async def main() -> None:
        client = rlc.AsyncClient(
            base_url=server.url, rate_limit=rlc.RateLimit(1, per=0.2, burst=1), workers=1
        )
        in_flight = asyncio.create_task(client.get("/slow/close-inflight?ms=500"))
        queued = [asyncio.create_task(client.get(f"/tag/close-{i}")) for i in range(1, 21)]
        await until_async(lambda: bool(server.arrived("/slow/close-inflight")), what="in flight")

        ticks = 0

        async def ticker() -> None:  # proves the loop runs while the client closes
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        await asyncio.wait_for(asyncio.gather(client.aclose(), client.aclose()), 20)
        ticking.cancel()
        assert client.closed
        assert ticks >= 5, f"the loop ran only {ticks} ticks while closing"

        assert (await in_flight).status == 200, "the request in flight finished"
        outcomes = await asyncio.gather(*queued, return_exceptions=True)
        assert len(outcomes) == 20
        assert all(isinstance(o, rlc.Response) or isinstance(o, rlc.ShutdownError) for o in outcomes), outcomes
        assert any(isinstance(o, rlc.ShutdownError) for o in outcomes)
        with pytest.raises(rlc.ShutdownError):
            await client.get("/hello")
        await client.aclose()  # again: nothing happens

    run(main())


def test_close_after_a_completion_and_many_clients_in_a_row(server: LocalServer) -> None:
    threads_before = os_threads()

    async def main() -> None:
        for _ in range(20):
            client = rlc.AsyncClient(base_url=server.url, workers=2)
            future = asyncio.ensure_future(client.get("/hello"))
            closed = asyncio.get_running_loop().create_future()
            # Close from the completion's own callback, as soon as it settles.
            future.add_done_callback(
                lambda _f, c=client: asyncio.ensure_future(c.aclose()).add_done_callback(
                    lambda _g: closed.set_result(None)
                )
            )
            assert (await asyncio.wait_for(future, 10)).status == 200
            await asyncio.wait_for(closed, 10)

    run(main(), timeout=60)
    # No thread is left behind: rlc's threads are joined and its closing threads end
    # (each a moment after it has reported the client closed).
    until(lambda: os_threads() <= threads_before, 10, "every thread ended")


def os_threads() -> int:
    """The threads of this process as the OS sees them, rlc's native ones included."""
    return len(os.listdir("/proc/self/task"))


def test_the_blocking_client(server: LocalServer) -> None:
    with rlc.Client(base_url=server.url, retry=rlc.Retry(0)) as client:
        res = client.get("/hello")
        assert (res.status, res.text) == (200, "hello")
        futures = [client.submit("GET", f"/tag/s{i}") for i in range(50)]
        assert [f.result(timeout=20).text for f in futures] == [f"s{i}" for i in range(50)]
        assert client.post("/echo", json=[1, 2]).json() == [1, 2]
        with pytest.raises(rlc.TimeoutError):
            client.get("/slow/sync-timeout?ms=2000", timeout=0.2)
        assert client.get_metrics().submitted == 53


def test_the_blocking_client_cancels_and_closes(server: LocalServer) -> None:
    client = rlc.Client(base_url=server.url, rate_limit=rlc.RateLimit(1, per=60.0, burst=1), workers=1)
    try:
        assert client.get("/tag/sc-first").status == 200
        never = client.submit("GET", "/tag/sc-never")
        later = client.submit("GET", "/tag/sc-later")
        assert never.cancel()
        deadline = time.monotonic() + 10
        while client.get_metrics().cancelled != 1:
            assert time.monotonic() < deadline, "rlc did not cancel it"
            time.sleep(0.01)
        # A blocking call from inside a completion callback would deadlock: refused.
        seen: list[BaseException] = []
        done = threading.Event()

        def on_done(_f: object) -> None:
            try:
                client.get("/hello")
            except rlc.InvalidStateError as e:
                seen.append(e)
            client.close()  # does not wait here; the closing finishes afterwards
            done.set()

        later.add_done_callback(on_done)
    finally:
        client.close()
    with pytest.raises(rlc.ShutdownError):
        later.result(timeout=10)
    assert done.wait(10) and len(seen) == 1
    assert server.arrived("/tag/sc-never") == [] and server.arrived("/tag/sc-later") == []
