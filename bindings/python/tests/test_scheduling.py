"""Priority, rate limit, queue bound, breaker and retries (the Node binding's
scheduling.test.js). Bounds have generous slack: the machine may be busy."""

from __future__ import annotations

import asyncio

import pytest

import rlc
from conftest import run, until_async
from server import LocalServer


def test_higher_priority_goes_first_under_a_slow_limit(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(
            base_url=server.url, rate_limit=rlc.RateLimit(1, per=0.15, burst=1), workers=1, retry=rlc.Retry(0)
        ) as client:
            # The first takes the only token and the only worker for half a second;
            # once it has reached the server, the rest wait in the queue together.
            first = asyncio.create_task(client.get("/slow/prio-first?ms=500"))
            await until_async(lambda: bool(server.arrived("/slow/prio-first")), what="the first arrived")
            specs = [("a", 1), ("b", 5), ("c", 3), ("d", 10), ("e", 2), ("f", 10), ("g", -4)]
            rest = [asyncio.create_task(client.get(f"/tag/prio-{name}", priority=p)) for name, p in specs]
            responses = await asyncio.gather(first, *rest)
            assert all(r.status == 200 for r in responses)
        arrivals = [a for a in server.arrivals if "/prio-" in a.path]
        order = [a.path.split("/prio-")[1] for a in arrivals]
        # Priority descending, first come first served among equals (d before f).
        assert order == ["first", "d", "f", "b", "c", "e", "a", "g"]
        # The limit held: 7 sends a token (150 ms) apart span at least ~900 ms.
        span = arrivals[7].at - arrivals[1].at
        assert span >= 0.7, f"the queued sends spanned {span:.3f} s"

    run(main())


def test_the_rate_limit_holds_from_the_first_request(server: LocalServer) -> None:
    async def main() -> None:
        # 10 per second with a burst of 2: 12 requests need at least (12-2)/10 = 1 s.
        async with rlc.AsyncClient(base_url=server.url, rate_limit=rlc.RateLimit(10, per=1.0, burst=2)) as client:
            await asyncio.gather(*(client.get(f"/tag/rate-{i}") for i in range(12)))
        times = [a.at for a in server.arrived("/tag/rate-")]
        assert len(times) == 12
        assert times[-1] - times[0] >= 0.9, f"12 sends took {times[-1] - times[0]:.3f} s"

    run(main())


def test_a_submit_past_max_queue_size_raises_queue_full_at_once(server: LocalServer) -> None:
    async def main() -> None:
        client = rlc.AsyncClient(
            base_url=server.url, rate_limit=rlc.RateLimit(1, per=60.0, burst=1), workers=1, max_queue_size=3
        )
        try:
            assert (await client.get("/tag/qf-first")).status == 200
            # No token for a minute: everything else waits, until the queue is full.
            tasks = [asyncio.create_task(client.get(f"/tag/qf-{i}")) for i in range(10)]
            # A refused submit raises in its task's first step, before any await.
            await until_async(lambda: sum(t.done() for t in tasks) >= 6, what="the refusals")
            refused = [t for t in tasks if t.done() and isinstance(t.exception(), rlc.QueueFullError)]
            assert len(refused) >= 6, "at most the queue (+1 waiting for a token) was accepted"
            error = refused[0].exception()
            assert isinstance(error, rlc.QueueFullError) and str(error)
            assert client.get_metrics().queue_full >= 6
        finally:
            await asyncio.wait_for(client.aclose(), 15)
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(o, (rlc.QueueFullError, rlc.ShutdownError)) for o in outcomes), outcomes
        assert server.arrived("/tag/qf-") == server.arrived("/tag/qf-first")

    run(main())


def test_the_breaker_opens_after_two_failures_and_fails_fast(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(
            base_url=server.url, retry=rlc.Retry(0), breaker=rlc.Breaker(2, recovery_timeout=60.0)
        ) as client:
            assert (await client.get("/status/500")).status == 500
            assert (await client.get("/status/503")).status == 503
            before = len(server.arrivals)
            with pytest.raises(rlc.CircuitOpenError) as caught:
                await client.get("/hello")
            assert caught.value.name == "RLC_E_CIRCUIT_OPEN" and str(caught.value)
            assert len(server.arrivals) == before, "nothing reached the server while open"
            m = client.get_metrics()
            assert m.breaker_state == "open" and m.circuit_open >= 1

    run(main())


def test_a_flaky_route_is_retried(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(
            base_url=server.url,
            retry=rlc.Retry(3, base_delay=0.01, max_delay=0.05),
            breaker=rlc.Breaker(100),  # this test fails on purpose more than 5 times
        ) as client:
            res = await client.get("/flaky/get1?fail=2")
            assert (res.status, res.attempts, res.text) == (200, 3, "ok after 3")
            # Out of retries: the last response is the completion.
            out = await client.get("/flaky/get2?fail=100")
            assert (out.status, out.attempts) == (503, 4)
            # POST is not idempotent: no retry unless asked for.
            post = await client.post("/flaky/post1?fail=2", content="x")
            assert (post.status, post.attempts) == (503, 1)
            opted = await client.post("/flaky/post2?fail=2", content="x", retry_non_idempotent=True)
            assert (opted.status, opted.attempts) == (200, 3)
            assert client.get_metrics().retries >= 5

    run(main())
