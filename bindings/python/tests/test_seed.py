"""The seed's own usage, from issue 19, run verbatim against the mock API (rlc-mock-api):
only the base URL changes, to the mock API's `/json` route, which answers any path
below it with JSON. And the rest of the compatibility layer."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import rlc
from conftest import run
from rlc import RateLimitConfig, RateLimitedAPIClient, RetryConfig

SNIPPET_ONE = '''
async with RateLimitedAPIClient(
    base_url="https://api.example.com",
    rate_limit_config=RateLimitConfig(100, 60),  # 100 req/min
) as client:
    response = await client.get("/endpoint")
'''

SNIPPET_TWO = '''
client = RateLimitedAPIClient(
    base_url="https://api.example.com",
    rate_limit_config=RateLimitConfig(1000, 60),
    retry_config=RetryConfig(max_retries=5, base_delay=0.5, max_delay=30.0),
    circuit_breaker_threshold=10,
    circuit_breaker_timeout=120.0,
    max_queue_size=5000,
)
urgent_data = await client.request('POST', '/critical-endpoint', priority=100, json={'data': 'urgent'})
normal_data = await client.request('GET', '/regular-endpoint', priority=1)
'''


def as_coroutine(snippet: str, base_url: str) -> str:
    """The snippet, its base URL changed, as the body of `async def snippet()` that
    returns its local variables."""
    assert snippet.count('"https://api.example.com"') == 1
    body = snippet.replace('"https://api.example.com"', repr(base_url))
    return "async def snippet():\n" + textwrap.indent(body, "    ") + "    return locals()\n"


def run_snippet(snippet: str, base_url: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {
        "RateLimitedAPIClient": RateLimitedAPIClient,
        "RateLimitConfig": RateLimitConfig,
        "RetryConfig": RetryConfig,
    }
    exec(as_coroutine(snippet, base_url), namespace)
    result: dict[str, Any] = run(namespace["snippet"]())
    return result


def stats(mock_api: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{mock_api}/__stats", timeout=10) as r:
        data: dict[str, Any] = json.load(r)
    return data


def test_seed_snippet_one_runs_verbatim(mock_api: str) -> None:
    before = stats(mock_api)["by_path"].get("/json/endpoint", 0)
    names = run_snippet(SNIPPET_ONE, f"{mock_api}/json")
    # get() gives the parsed JSON body, as the seed's aiohttp code did.
    assert names["response"] == {"method": "GET", "path": "/json/endpoint", "json": None}
    assert names["client"]._client.closed, "async with closed it"
    assert stats(mock_api)["by_path"]["/json/endpoint"] == before + 1


def test_seed_snippet_two_runs_verbatim(mock_api: str) -> None:
    names = run_snippet(SNIPPET_TWO, f"{mock_api}/json")
    assert names["urgent_data"] == {"method": "POST", "path": "/json/critical-endpoint", "json": {"data": "urgent"}}
    assert names["normal_data"] == {"method": "GET", "path": "/json/regular-endpoint", "json": None}
    client: RateLimitedAPIClient = names["client"]
    m = client.get_metrics()
    assert (m.submitted, m.succeeded) == (2, 2)
    assert m.tokens_available is not None and m.tokens_available <= 1000
    run(client.close())  # the snippet never closes it; the next test shows that is fine too


def test_seed_snippet_two_lets_the_interpreter_exit(mock_api: str) -> None:
    """The snippet never closes its client: the interpreter must still exit by itself."""
    program = "import asyncio\nfrom rlc import RateLimitedAPIClient, RateLimitConfig, RetryConfig\n"
    program += as_coroutine(SNIPPET_TWO, f"{mock_api}/json")
    program += "print(sorted(asyncio.run(snippet())['urgent_data']['json'].items()))\n"
    package = str(Path(__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30,
        env={**os.environ, "PYTHONPATH": package},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('data', 'urgent')]"
    assert done.stderr == ""


def test_compat_returns_text_and_raises_for_http_errors(mock_api: str) -> None:
    async def main() -> None:
        async with RateLimitedAPIClient(
            base_url=mock_api, retry_config=RetryConfig(max_retries=0), circuit_breaker_threshold=100
        ) as client:
            assert await client.get("/ok") == "ok", "a body that is not JSON comes back as text"
            with pytest.raises(rlc.HTTPStatusError) as caught:
                await client.get("/status/404")
            assert caught.value.status == 404 and caught.value.response.text == "404"
            response = await client.request_response("GET", "/status/503")
            assert response.status == 503
            echoed = await client.post("/echo", data=b"\x00\x01")
            assert echoed == "\x00\x01"
            assert await client.request("DELETE", "/json/x", 5) == {"method": "DELETE", "path": "/json/x", "json": None}

    run(main())


def test_compat_configs_take_seconds_and_refuse_what_rlc_cannot_do(mock_api: str) -> None:
    with pytest.raises(ValueError, match="exponential_base"):
        RetryConfig(exponential_base=3.0)
    with pytest.raises(ValueError, match="jitter"):
        RetryConfig(jitter=False)
    with pytest.raises(TypeError, match="rate_limit_config"):
        RateLimitedAPIClient(mock_api, rate_limit_config=(10, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 0.001 seconds"):
        RateLimitedAPIClient(mock_api, circuit_breaker_timeout=0.0)

    async def main() -> None:
        # Half a second's window: 3 requests with 1 per 0.5 s and burst 1 take >= 1 s.
        client = RateLimitedAPIClient(mock_api, rate_limit_config=RateLimitConfig(1, 0.5, burst=1))
        try:
            started = time.monotonic()
            await asyncio.gather(*(client.get("/ok") for _ in range(3)))
            assert time.monotonic() - started >= 0.9
        finally:
            await client.close()

    run(main())

