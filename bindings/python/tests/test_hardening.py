"""Redirects as rlc's own rule (credentials stay with their origin, loops fail with
RedirectError), the cap on server-requested pauses, the counters beyond the metrics
struct, and closing through rlc_client_free_async (Go's hardening_test.go, Node's
hardening.test.js, and more)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest

import rlc
from conftest import run, run_python, until_async
from rlc import _native
from server import LocalServer


@pytest.fixture(scope="module")
def other() -> Iterator[LocalServer]:
    """A second server: another origin (another port) than `server`."""
    s = LocalServer()
    yield s
    s.close()


def echoed(res: rlc.Response) -> dict[str, str]:
    """The request headers the /echo route saw."""
    seen: dict[str, str] = json.loads(res.headers["x-echo-headers"])
    return seen


def test_a_redirect_to_another_origin_drops_the_credentials(server: LocalServer, other: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(
            base_url=server.url,
            headers={"X-Api-Key": "k1", "X-Trace": "t1"},
            sensitive_headers=["x-api-key"],  # names are compared without case
        ) as client:
            res = await client.get(
                "/to?u=" + quote(f"{other.url}/echo", safe=""),
                headers={"Authorization": "Bearer secret", "Cookie": "c=1", "X-Keep": "kept"},
            )
            assert res.status == 200
            seen = echoed(res)
            for dropped in ("authorization", "cookie", "x-api-key"):
                assert dropped not in seen, f"{dropped} reached another origin"
            assert (seen.get("x-keep"), seen.get("x-trace")) == ("kept", "t1"), seen
            assert client.get_metrics().redirects == 1

    run(main())


def test_a_redirect_to_the_same_origin_keeps_every_header(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(
            base_url=server.url, headers={"X-Api-Key": "k1"}, sensitive_headers=["X-Api-Key"]
        ) as client:
            res = await client.get("/to?u=/echo", headers={"Authorization": "Bearer secret"})
            assert res.status == 200
            seen = echoed(res)
            assert (seen.get("authorization"), seen.get("x-api-key")) == ("Bearer secret", "k1"), seen

    run(main())


def test_a_redirect_loop_raises_redirect_error_and_max_0_returns_the_3xx(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(base_url=server.url) as client, rlc.AsyncClient(
            base_url=server.url, redirects=rlc.Redirects(max=0)
        ) as off:
            with pytest.raises(rlc.RedirectError) as caught:
                await client.get("/loop")
            assert (caught.value.code, caught.value.name) == (14, "RLC_E_REDIRECT")
            assert caught.value.message
            m = client.get_metrics()
            assert m.retries == 0, "a redirect failure is never retried"
            assert m.breaker_state == "closed"

            res = await off.get("/loop")
            assert (res.status, res.headers["location"]) == (302, "/loop")
            assert off.get_metrics().redirects == 0

    run(main())


def test_a_year_long_retry_after_is_cut_to_max_server_pause(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(base_url=server.url, retry=rlc.Retry(0), max_server_pause=0.2) as client:
            assert (await client.get("/busy")).status == 503
            # Without the cap this would wait a year; the generous bound says it did not.
            started = time.monotonic()
            assert (await asyncio.wait_for(client.get("/hello"), 20)).status == 200
            assert time.monotonic() - started < 10
            m = client.get_metrics()
            assert (m.server_pauses_capped, m.server_pauses) == (1, 1)

    run(main())


def test_the_counters_beyond_the_struct_start_at_zero(server: LocalServer) -> None:
    with rlc.Client(base_url=server.url) as client:
        assert client.get("/hello").status == 200
        m = client.get_metrics()
        assert (m.server_pauses_capped, m.redirects, m.worker_panics) == (0, 0, 0)


def test_bad_hardening_options_raise_clear_errors() -> None:
    cases: list[tuple[type[BaseException], dict[str, object]]] = [
        (ValueError, {"redirects": rlc.Redirects(max=-1)}),
        (ValueError, {"redirects": rlc.Redirects(max=2**32)}),
        (TypeError, {"redirects": 3}),
        (TypeError, {"redirects": rlc.Redirects(allow_https_to_http=1)}),
        (TypeError, {"sensitive_headers": "X-Api-Key"}),  # a str, not a sequence of names
        (TypeError, {"sensitive_headers": [7]}),
        (rlc.InvalidArgumentError, {"sensitive_headers": ["bad name"]}),
        (ValueError, {"max_server_pause": 0}),
        (ValueError, {"max_server_pause": -1.0}),
        (TypeError, {"max_server_pause": "5m"}),
    ]
    for error, options in cases:
        with pytest.raises(error) as caught:
            rlc.Client(**options)
        assert str(caught.value), options
    # Accepted values, librlc's defaults among them.
    rlc.Client(redirects=rlc.Redirects(), sensitive_headers=("X-Api-Key",), max_server_pause=300.0).close()
    rlc.Client(redirects=rlc.Redirects(max=0, allow_https_to_http=True), max_server_pause=0.001).close()


def test_result_names_agree_with_the_library() -> None:
    lib = _native.lib()
    for code, name in rlc.RESULT_NAMES.items():
        assert lib.result_name(code) == name
    # rlc_result_str takes a uint32_t: any number is defined behaviour.
    assert lib.result_name(1000) == "RLC_E_UNKNOWN_1000"
    assert lib.result_name(-1) == "RLC_E_UNKNOWN_-1"


def test_aclose_with_a_slow_request_in_flight_does_not_block_the_loop(server: LocalServer) -> None:
    async def main() -> None:
        client = rlc.AsyncClient(
            base_url=server.url, rate_limit=rlc.RateLimit(1, per=60.0, burst=1), workers=1, retry=rlc.Retry(0)
        )
        slow = asyncio.create_task(client.get("/slow/aclose-inflight?ms=2000"))
        queued = [asyncio.create_task(client.get(f"/tag/aclose-{i}")) for i in range(10)]
        await until_async(lambda: client.get_metrics().in_flight == 1, what="in flight")
        await until_async(lambda: client.get_metrics().queue_depth == 10, what="all queued")
        threads_before = threading.active_count()

        ticks: list[float] = []

        async def ticker() -> None:  # other tasks keep running while the client closes
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        started = time.monotonic()
        closing = asyncio.create_task(client.aclose())
        await asyncio.sleep(0.2)
        assert not closing.done(), "the slow request is still in flight"
        assert threading.active_count() == threads_before, "closing started a Python thread"
        await asyncio.wait_for(closing, 15)
        took = time.monotonic() - started
        ticking.cancel()

        assert took >= 1.2, f"aclose returned after {took:.2f} s, before the request in flight ended"
        assert len(ticks) >= 40, f"the loop ran only {len(ticks)} ticks in {took:.2f} s of closing"
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        assert max(gaps) < 0.75, f"the loop stalled for {max(gaps):.2f} s"

        # Every pending future has settled, by the time aclose returned.
        assert slow.done() and all(task.done() for task in queued)
        assert (await slow).text == "slow"
        for task in queued:
            with pytest.raises(rlc.ShutdownError):
                await task
        assert server.arrived("/tag/aclose-") == []

    run(main())


def test_a_cancelled_aclose_does_not_stop_the_closing(server: LocalServer) -> None:
    async def main() -> None:
        client = rlc.AsyncClient(base_url=server.url, retry=rlc.Retry(0))
        slow = asyncio.create_task(client.get("/slow/aclose-cancelled?ms=800"))
        await until_async(lambda: client.get_metrics().in_flight == 1, what="in flight")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.aclose(), 0.1)
        assert client.closed
        with pytest.raises(rlc.ShutdownError):
            await client.get("/hello")
        # The closing went on: awaiting it again waits for the same one.
        await asyncio.wait_for(asyncio.gather(client.aclose(), client.aclose()), 15)
        assert slow.done() and (await slow).status == 200

    run(main())


def test_an_aclose_nobody_awaited_finishes_before_the_interpreter_exits(server: LocalServer) -> None:
    # The loop ends with the aclose() task still pending (asyncio.run cancels it); the
    # closing still has a request in flight, and it calls back into Python after the
    # loop is gone: the interpreter waits for it at exit, and exits cleanly.
    result = run_python(f"""
        import asyncio, rlc
        async def main():
            client = rlc.AsyncClient(base_url={server.url!r}, retry=rlc.Retry(0))
            asyncio.ensure_future(client.get("/slow/unawaited?ms=500"))
            while client.get_metrics().in_flight == 0:
                await asyncio.sleep(0.01)
            asyncio.ensure_future(client.aclose())
            await asyncio.sleep(0)
            print("left", client.closed)
        asyncio.run(main())
    """)
    assert result.returncode == 0, result.stderr
    assert "left True" in result.stdout
    assert result.stderr == ""
    assert server.arrived("/slow/unawaited")


def test_exiting_right_after_a_close_never_aborts() -> None:
    # librlc's closing thread wakes the waiter, then takes the GIL once more on its
    # way out of Python; an interpreter finalizing meanwhile would end that thread
    # with pthread_exit, which aborts the process ("FATAL: exception not rethrown")
    # one exit in three or so unless the exit waits for it. One after the other: in
    # parallel they load the machine and the race hides.
    scripts = [
        "import asyncio, rlc\n"
        "async def main():\n"
        "    async with rlc.AsyncClient():\n"
        "        pass\n"
        "asyncio.run(main())\n",
        "import rlc\nrlc.Client().close()\n",
    ]
    for script in scripts:
        for _ in range(8):
            done = run_python(script)
            assert (done.returncode, done.stderr) == (0, ""), script
