"""Limits (tests/limits.rs) through the Python binding, against rlc-mock-api: weighted
requests, the retry budget against /down, the retried statuses and per-request
retries, a live rate-limit change, and adaptive limiting against /hidden-limit/{n}.
Counts and bounds with slack; no tight timings."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

import pytest

import rlc
from conftest import run


def received(mock_api: str) -> int:
    """How many requests the mock API has received (its /__stats is not counted)."""
    with urllib.request.urlopen(f"{mock_api}/__stats", timeout=10) as r:
        stats: dict[str, Any] = json.load(r)
    return int(stats["received"])


def test_a_weighted_request_takes_its_cost_from_every_limit(mock_api: str) -> None:
    with rlc.Client(base_url=mock_api, rate_limit=rlc.RateLimit(10, per=3600)) as client:
        before = received(mock_api)
        assert client.get("/ok", cost=7).status == 200
        assert client.get_metrics().tokens_available == 3
        # More than any limit holds can never go: refused at submit, nothing spent.
        with pytest.raises(rlc.InvalidArgumentError):
            client.get("/ok", cost=11)
        with pytest.raises(ValueError):
            client.get("/ok", cost=0)
        with pytest.raises(TypeError):
            client.get("/ok", cost="2")  # type: ignore[arg-type]
        assert client.get_metrics().tokens_available == 3
        assert received(mock_api) - before == 1


def test_a_failing_server_sees_no_more_retries_than_the_budget_allows(mock_api: str) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(
            base_url=mock_api,
            retry_budget=rlc.RetryBudget(percent=20, min_per_second=0),
            workers=8,
            # The breaker would cut this short; the budget alone is under test.
            breaker=rlc.Breaker(failure_threshold=0),
        ) as client:
            before = received(mock_api)
            n = 200
            answers = await asyncio.gather(*(client.get("/down") for _ in range(n)))
            # A refused retry completes with the last answer.
            assert all(r.status == 503 for r in answers)
            m = client.get_metrics()
            # 3 retries each would be 600; the budget allows 20 % of the 200 first attempts.
            assert m.retries <= 50, m.retries
            assert received(mock_api) - before == n + m.retries
            assert m.retries_refused_by_budget >= 100, m.retries_refused_by_budget

    run(main())


def test_a_zero_retry_budget_turns_retries_off(mock_api: str) -> None:
    with rlc.Client(base_url=mock_api, retry_budget=rlc.RetryBudget(0, 0)) as client:
        assert client.get("/down").attempts == 1
        assert client.get_metrics().retries_refused_by_budget == 1


def test_retried_statuses_and_per_request_retries_are_the_callers_choice(mock_api: str) -> None:
    with rlc.Client(base_url=mock_api, retry_on_status=[500]) as client:
        r = client.get("/flaky/py-five-hundred/2?status=500")
        assert (r.status, r.attempts) == (200, 3)
        r = client.get("/flaky/py-not-503/1")
        assert (r.status, r.attempts) == (503, 1), "503 is no longer retried"
        r = client.get("/flaky/py-once/5?status=500", max_retries=1)
        assert (r.status, r.attempts) == (500, 2)
        r = client.get("/flaky/py-never/5?status=500", max_retries=0)
        assert (r.status, r.attempts) == (500, 1)
        with pytest.raises(ValueError):
            client.get("/ok", max_retries=-1)
    with rlc.Client(base_url=mock_api, retry_on_status=()) as client:
        assert client.get("/flaky/py-none/1").attempts == 1


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"retry_on_status": [99]}, ValueError),
        ({"retry_on_status": [500, 600]}, ValueError),
        ({"retry_on_status": 500}, TypeError),
        ({"retry_on_status": ["500"]}, TypeError),
        ({"retry_budget": (20, 10)}, TypeError),
        ({"retry_budget": rlc.RetryBudget(percent=-1)}, ValueError),
        ({"adaptive": "yes"}, TypeError),
        ({"adaptive": True}, ValueError),  # adaptive needs a rate limit to start from
    ],
)
def test_bad_limit_options_raise_clear_errors(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        rlc.Client(**options)


def test_a_live_limit_change_takes_effect_at_once(mock_api: str) -> None:
    client = rlc.Client(base_url=mock_api, rate_limit=rlc.RateLimit(1, per=3600), retry=rlc.Retry(0))
    with client:
        assert client.get_metrics().rate_limit == 1
        client.get("/ok")
        # The hour's only token is spent: the next two wait until the limit is raised.
        waiting = [client.submit("GET", "/ok") for _ in range(2)]
        time.sleep(0.3)
        assert not any(f.done() for f in waiting), "a request went without a token"
        client.set_rate_limit(100, per=1.0)
        assert [f.result(timeout=10).status for f in waiting] == [200, 200]
        assert client.get_metrics().rate_limit == 100
        with pytest.raises(ValueError):
            client.set_rate_limit(0)
        with pytest.raises(ValueError):
            client.set_rate_limit(10, per=0)
        with pytest.raises(TypeError):
            client.set_rate_limit(10, per="1")  # type: ignore[arg-type]
    with pytest.raises(rlc.ShutdownError):
        client.set_rate_limit(10)


def test_adaptive_limiting_finds_a_limit_nobody_published(mock_api: str) -> None:
    async def main() -> None:
        # 40/s configured; the server takes 20 per rolling second and says nothing.
        async with rlc.AsyncClient(
            base_url=mock_api,
            rate_limit=rlc.RateLimit(40, per=1.0, burst=1),
            retry=rlc.Retry(0),
            adaptive=True,
        ) as client:
            answers = await asyncio.gather(*(client.get("/hidden-limit/20") for _ in range(120)))
            throttled = sum(r.status == 429 for r in answers)
            rate = client.get_metrics().rate_limit
            assert 10 <= rate < 40, f"the rate came down from 40, but not to nothing: {rate}"
            # A fixed 40/s client would see about half its requests refused.
            assert throttled <= 40, f"{throttled} of 120 throttled"
            # set_rate_limit on an adaptive client moves its ceiling; it returns at once.
            client.set_rate_limit(30)
            assert client.get_metrics().rate_limit <= 30

    run(main())
