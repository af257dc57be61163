"""The shared limit (tests/redis.rs) through the Python binding, sync and asyncio:
two clients on one key of a real redis-server started here, the status they report,
RedisError for a Redis that refuses, without the password."""

from __future__ import annotations

from typing import Iterator

import pytest

import redis_server
import rlc
from conftest import run


@pytest.fixture()
def redis_url() -> Iterator[str]:
    server = redis_server.start()
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    yield server.url
    server.stop()


def config(base: str, url: str) -> rlc.Config:
    return rlc.Config(
        base_url=base,
        rate_limit=rlc.RateLimit(40, 1.0),
        redis=rlc.Redis(url, "py-test", failure="closed", local_share=50, max_lease=2),
    )


def test_two_clients_share_one_limit(mock_api: str, redis_url: str) -> None:
    with rlc.Client(config(mock_api, redis_url)) as a, rlc.Client(config(mock_api, redis_url)) as b:
        for _ in range(4):
            assert a.get("/ok").status == 200
            assert b.get("/ok").status == 200
        status = b.redis_status()
        assert status.state == "connected" and status.clients == 2
        assert status.tokens_leased >= 4 and status.round_trips >= 2 and status.down == 0
    with rlc.Client(rlc.Config(base_url=mock_api)) as plain:
        assert plain.redis_status().state == "off"


def test_asyncio_client_shares_it_too(mock_api: str, redis_url: str) -> None:
    async def main() -> rlc.RedisStatus:
        async with rlc.AsyncClient(config(mock_api, redis_url)) as c:
            for _ in range(3):
                assert (await c.get("/ok")).status == 200
            return c.redis_status()

    status = run(main())
    assert status.state == "connected" and status.tokens_leased >= 3


def test_a_redis_that_refuses_is_redis_error_without_the_password(mock_api: str) -> None:
    server = redis_server.start("the-right-one")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    try:
        wrong = rlc.Redis(f"redis://:s3cret-py@127.0.0.1:{server.port}/0", "k")
        assert "s3cret-py" not in repr(wrong)
        with pytest.raises(rlc.RedisError) as info:
            rlc.Client(rlc.Config(base_url=mock_api, rate_limit=rlc.RateLimit(5, 1.0), redis=wrong))
        assert info.value.code == 19 and "s3cret-py" not in str(info.value)
    finally:
        server.stop()
    with pytest.raises(rlc.InvalidArgumentError):
        rlc.Client(rlc.Config(redis=rlc.Redis("http://x", "k")))
    with pytest.raises(ValueError):
        rlc.Client(rlc.Config(redis=rlc.Redis("redis://127.0.0.1:1/0", "k", failure="maybe")))  # type: ignore[arg-type]
