"""GraphQL (tests/graphql.rs) through the Python binding, sync and asyncio, against a
small GraphQL endpoint in this process: data back, errors as GraphQLError, garbage
refused before anything is sent, THROTTLED answers retried and counted, the cost limit."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import rlc
from conftest import run


class Endpoint:
    """Answers like Shopify: {data, extensions.cost}; `fail` in the query gives an
    error; while `throttle_next` > 0, THROTTLED at HTTP 200."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.throttle_next = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.received.append(body)
                status = {"maximumAvailable": 1000, "currentlyAvailable": 990, "restoreRate": 50}
                answer: dict[str, Any]
                if endpoint.throttle_next > 0:
                    endpoint.throttle_next -= 1
                    answer = {
                        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                        "extensions": {"cost": {"requestedQueryCost": 10, "actualQueryCost": None,
                                                "throttleStatus": {**status, "currentlyAvailable": 9}}},
                    }
                elif "fail" in body["query"]:
                    answer = {"data": {"partial": 1}, "errors": [{"message": "Field 'fail' doesn't exist"}]}
                else:
                    answer = {
                        "data": {"echo": body.get("variables"), "operationName": body.get("operationName")},
                        "extensions": {"cost": {"requestedQueryCost": 10, "actualQueryCost": 4,
                                                "throttleStatus": status}},
                    }
                raw = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    e = Endpoint()
    yield e
    e.close()


def test_a_query_returns_its_data(endpoint: Endpoint) -> None:
    with rlc.Client(base_url=endpoint.url, cost_limit=rlc.CostLimit(1000, per=20)) as client:
        data = client.graphql("query Q($n: Int) { items(first: $n) { id } }", {"n": 5}, operation_name="Q")
        assert data == {"echo": {"n": 5}, "operationName": "Q"}
        assert endpoint.received[-1]["query"] == "query Q($n: Int) { items(first: $n) { id } }"
        assert client.get_graphql_metrics()["graphql_points"] == 4


def test_errors_raise_graphql_error(endpoint: Endpoint) -> None:
    with rlc.Client(base_url=endpoint.url) as client:
        with pytest.raises(rlc.GraphQLError) as caught:
            client.graphql("{ fail }")
        assert caught.value.errors == [{"message": "Field 'fail' doesn't exist"}]
        assert caught.value.data == {"partial": 1}
        assert caught.value.response.status == 200
        assert client.get_graphql_metrics()["graphql_errors"] == 1


def test_garbage_is_refused_before_anything_is_sent(endpoint: Endpoint) -> None:
    before = len(endpoint.received)
    with rlc.Client(base_url=endpoint.url) as client:
        with pytest.raises(rlc.InvalidQueryError, match="does not parse") as caught:
            client.graphql("query {")
        assert caught.value.name == "RLC_E_GRAPHQL"
        assert isinstance(caught.value, ValueError)
        with pytest.raises(rlc.InvalidQueryError):
            client.graphql("query A { a } query B { b }")
        with pytest.raises(TypeError):
            client.graphql("{ a }", [1])  # type: ignore[arg-type]
    assert len(endpoint.received) == before


def test_async_throttled_is_retried_and_counted(endpoint: Endpoint) -> None:
    async def main() -> None:
        retry = rlc.Retry(max_retries=5, base_delay=0.005, max_delay=0.05)
        async with rlc.AsyncClient(base_url=endpoint.url, retry=retry) as client:
            endpoint.throttle_next = 2
            data = await client.graphql("mutation { add { id } }")
            assert data == {"echo": None, "operationName": None}
            assert client.get_graphql_metrics()["graphql_throttled"] == 2
            assert client.get_metrics().retries >= 2
            with pytest.raises(rlc.GraphQLError):
                await client.graphql("{ fail }")

    try:
        run(main())
    finally:
        endpoint.throttle_next = 0


def test_a_cost_above_the_cost_limit_is_refused(endpoint: Endpoint) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(base_url=endpoint.url, cost_limit=[rlc.CostLimit(100, per=1.0)]) as client:
            with pytest.raises(rlc.InvalidArgumentError):
                await client.graphql("{ a }", cost=101)
            assert await client.graphql("{ a }", cost=100) == {"echo": None, "operationName": None}

    run(main())
    with pytest.raises(rlc.InvalidArgumentError):
        rlc.Client(cost_limit=rlc.CostLimit(0))
    with pytest.raises(TypeError):
        rlc.Client(cost_limit=(1000, 20))
