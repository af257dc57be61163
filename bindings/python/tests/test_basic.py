"""Requests, responses, errors and arguments (the Node binding's basic.test.js, and more)."""

from __future__ import annotations

import asyncio
import builtins
import json
from pathlib import Path

import pytest

import rlc
from conftest import run, run_python
from server import LocalServer


def test_version_is_a_non_empty_string() -> None:
    assert isinstance(rlc.version(), str) and rlc.version()
    assert rlc.library_path()


def test_a_get_gives_status_headers_content_and_attempts(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(base_url=server.url) as client:
            res = await client.get("/hello")
            assert res.status == 200 and res.ok
            assert res.attempts == 1
            assert isinstance(res.content, bytes) and res.content == b"hello"
            assert res.text == "hello"
            assert res.headers["content-type"] == "text/plain"
            assert res.headers["X-RLC-Test"] == "yes", "headers are case-insensitive"
            assert "x-rlc-TEST" in res.headers
            assert res.method == "GET" and res.url == "/hello"

            absolute = await client.request("get", f"{server.url}/hello")
            assert absolute.status == 200

    run(main())


def test_repeated_response_headers_are_joined_and_kept_apart(mock_api: str) -> None:
    with rlc.Client(base_url=mock_api) as client:
        res = client.get("/headers")
        assert res.headers["X-Multi"] == "a, b"
        assert res.headers.get_all("x-multi") == ["a", "b"]
        assert res.headers["x-one"] == "1" and "content-type" in set(res.headers)
        assert ("x-multi", "b") in res.headers.items_raw()


def test_http_errors_are_responses_until_raise_for_status(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(base_url=server.url, retry=rlc.Retry(0)) as client:
            not_found = await client.get("/status/404")
            assert not_found.status == 404 and not not_found.ok
            server_error = await client.get("/status/500")
            assert server_error.status == 500 and server_error.content == b""
            with pytest.raises(rlc.HTTPStatusError) as caught:
                not_found.raise_for_status()
            assert caught.value.status == 404 and caught.value.response is not_found
            assert isinstance(caught.value, rlc.RlcError)
            assert (await client.get("/hello")).raise_for_status().status == 200

    run(main())


def test_headers_and_binary_bodies_go_both_ways(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(base_url=server.url, headers={"x-default": "d1"}) as client:
            sent = bytes((i * 31 + 7) & 0xFF for i in range(64 * 1024 + 7))
            sent = b"\0" + sent[1:]  # a NUL in a body is fine
            res = await client.post(
                "/echo", content=sent, headers={"X-Custom": "v1", "content-type": "application/octet-stream"}
            )
            assert res.status == 200
            assert res.content == sent, "the echoed body is the sent body, byte for byte"
            seen = json.loads(res.headers["x-echo-headers"])
            assert seen["x-custom"] == "v1" and seen["x-default"] == "d1"
            assert res.headers["x-echo-method"] == "POST"

            # Other body types: str (UTF-8), bytearray, memoryview; headers as pairs.
            s = await client.put("/echo", content="héllo ✓")
            assert s.content.decode("utf-8") == "héllo ✓"
            b = await client.post("/echo", content=bytearray([1, 2, 3]), headers=[("x-a", "b")])
            assert list(b.content) == [1, 2, 3]
            assert json.loads(b.headers["x-echo-headers"])["x-a"] == "b"
            m = await client.post("/echo", content=memoryview(b"\x09\x08"))
            assert m.content == b"\x09\x08"
            j = await client.post("/echo", json={"a": [1, None]})
            assert j.json() == {"a": [1, None]}
            assert json.loads(j.headers["x-echo-headers"])["content-type"] == "application/json"

            big = await client.get("/bytes?n=100000")
            assert big.content == bytes(i & 0xFF for i in range(100000))
            empty = await client.get("/bytes?n=0")
            assert empty.content == b"" and empty.text == ""

            # Repeated request headers are sent as separate lines.
            multi = await client.get("/echo", headers={"x-multi": ["a", "b"]})
            assert json.loads(multi.headers["x-echo-headers"])["x-multi"] == "a, b"

    run(main())


def test_metrics_count_what_happened(server: LocalServer) -> None:
    async def main() -> None:
        client = rlc.AsyncClient(base_url=server.url, retry=rlc.Retry(max_retries=0))
        try:
            await asyncio.gather(client.get("/hello"), client.get("/hello"), client.get("/status/404"))
            m = client.get_metrics()
            assert isinstance(m, rlc.Metrics)
            assert (m.submitted, m.succeeded, m.http_4xx) == (3, 2, 1)
            assert m.breaker_state == "closed"
            assert m.queue_depth == 0 and m.in_flight == 0
            assert m.tokens_available is None, "no rate limit"
            assert isinstance(m.latency_p50_us, int) and m.latency_p99_us >= m.latency_p50_us
            assert "rlc_" in client.metrics_prometheus()
        finally:
            await client.aclose()
        with pytest.raises(rlc.ShutdownError):
            client.get_metrics()

    run(main())


def test_bad_options_raise_clear_errors(server: LocalServer) -> None:
    with pytest.raises(TypeError, match="config must be an rlc.Config"):
        rlc.AsyncClient("http://x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="base_url must be a str"):
        rlc.AsyncClient(base_url=42)
    with pytest.raises(TypeError, match="unknown option.*ratelimit"):
        rlc.AsyncClient(ratelimit=rlc.RateLimit(1))
    with pytest.raises(TypeError, match="max_requests must be an int"):
        rlc.AsyncClient(rate_limit=rlc.RateLimit("ten", 1.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers must be from 1 to 1024"):
        rlc.Client(workers=0)
    with pytest.raises(TypeError):
        rlc.Client(workers=1.5)
    with pytest.raises(TypeError):
        rlc.Client(workers=True)
    with pytest.raises(TypeError):
        rlc.Client(retry="yes")
    with pytest.raises(ValueError, match="at least 0.001 seconds"):
        rlc.Client(timeout=0)
    with pytest.raises(ValueError, match="finite"):
        rlc.Client(timeout=float("nan"))
    with pytest.raises(ValueError, match="max_delay"):
        rlc.Client(retry=rlc.Retry(3, base_delay=1.0, max_delay=0.5))
    with pytest.raises(ValueError, match="NUL"):
        rlc.Client(headers={"x-a": "b\0c"})

    # Values of the right type that only the library can judge.
    for options, what in [
        ({"base_url": "not a url"}, "base_url"),
        ({"headers": {"x-bad": "a\r\nb"}}, "CR/LF header"),
        ({"headers": {"bad name": "v"}}, "header name"),
    ]:
        with pytest.raises(rlc.InvalidArgumentError) as caught:
            rlc.Client(**options)
        assert caught.value.name == "RLC_E_INVALID_ARGUMENT", what
        assert isinstance(caught.value, ValueError)
        assert str(caught.value), what

    async def main() -> None:
        async with rlc.AsyncClient(base_url=server.url) as client:
            with pytest.raises(TypeError):
                await client.request(5, "/hello")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await client.get("/hello", priority="high")
            with pytest.raises(ValueError):
                await client.get("/hello", priority=2**31)
            with pytest.raises(TypeError, match="unexpected keyword argument 'prio'"):
                await client.get("/hello", prio=1)
            with pytest.raises(TypeError):
                await client.get("/hello", content=42)
            with pytest.raises(TypeError, match="content or json"):
                await client.post("/hello", content=b"x", json={})
            with pytest.raises(rlc.InvalidArgumentError):
                await client.get("/hello", headers={"x-bad": "a\nb"})
            with pytest.raises(rlc.InvalidArgumentError) as caught:
                await client.get("/has space")
            assert str(caught.value)
            assert client.get_metrics().submitted == 0, "nothing refused was submitted"

        # A relative path needs a base URL.
        async with rlc.AsyncClient() as bare:
            with pytest.raises(rlc.InvalidArgumentError):
                await bare.get("/hello")

    run(main())


def test_the_name_labels_every_prometheus_sample(server: LocalServer) -> None:
    with rlc.Client(rlc.Config(base_url=server.url, name="orders")) as client:
        assert client.get("/hello").status == 200
        lines = client.metrics_prometheus().splitlines()
        assert 'rlc_requests_submitted_total{client="orders"} 1' in lines
        assert 'rlc_latency_seconds_count{client="orders"} 1' in lines
    with pytest.raises(TypeError):
        rlc.Client(name=42)
    for bad in ["", "line\nbreak", "x" * 129]:
        with pytest.raises(rlc.InvalidArgumentError):
            rlc.Client(name=bad)


def test_a_transport_failure_raises_its_error(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(retry=rlc.Retry(0), timeout=5.0) as client:
            with pytest.raises(rlc.ConnectError) as caught:
                await client.get("http://127.0.0.1:1/")  # nothing listens on port 1
            assert isinstance(caught.value, ConnectionError)
            assert caught.value.name == "RLC_E_CONNECT" and caught.value.code == 5
            assert caught.value.message and caught.value.attempts == 1

    run(main())


def test_timeouts_raise_rlc_and_builtin_timeout_error(server: LocalServer) -> None:
    async def main() -> None:
        async with rlc.AsyncClient(base_url=server.url, retry=rlc.Retry(0)) as client:
            with pytest.raises(rlc.TimeoutError) as caught:
                await client.get("/slow/timeout?ms=3000", timeout=0.2)
            assert isinstance(caught.value, builtins.TimeoutError)
            assert caught.value.message
            with pytest.raises(builtins.TimeoutError):
                await client.get("/slow/deadline?ms=3000", deadline=0.3)

    run(main())


def test_each_result_code_has_its_exception_class() -> None:
    expected = {
        1: rlc.InvalidArgumentError, 2: rlc.QueueFullError, 3: rlc.CircuitOpenError,
        4: rlc.TimeoutError, 5: rlc.ConnectError, 6: rlc.TLSError, 7: rlc.ReadError,
        8: rlc.BodyTooLargeError, 9: rlc.RequestCancelledError, 10: rlc.ShutdownError,
        11: rlc.UnknownRequestError, 12: rlc.InvalidStateError, 13: rlc.PanicError,
        14: rlc.RedirectError, 16: rlc.JournalError, 18: rlc.InvalidQueryError,
        19: rlc.RedisError,
    }
    for code, cls in expected.items():
        assert rlc.error_class(code) is cls
        assert cls.result == code
        assert issubclass(cls, rlc.RlcError)
    assert set(rlc.RESULT_NAMES) == {0, *expected}
    assert rlc.error_class(99) is rlc.RlcError, "a code newer than the binding maps to the base"
    assert issubclass(rlc.TimeoutError, builtins.TimeoutError)


def test_the_interpreter_exits_on_its_own(server: LocalServer) -> None:
    # Request, close, exit.
    closed = run_python(f"""
        import asyncio, rlc
        async def main():
            async with rlc.AsyncClient(base_url={server.url!r}) as client:
                res = await client.get("/hello")
            print("done", res.status)
        asyncio.run(main())
    """)
    assert closed.returncode == 0, closed.stderr
    assert "done 200" in closed.stdout

    # Clients never closed, an asyncio one and a blocking one, do not keep the
    # interpreter alive, nor make it crash at exit.
    forgotten = run_python(f"""
        import asyncio, rlc
        client = rlc.AsyncClient(base_url={server.url!r})
        res = asyncio.run(client.get("/slow?ms=300"))
        print("got", res.text)
        script = rlc.Client(base_url={server.url!r})
        script.submit("GET", "/slow?ms=300")  # still in flight at exit
        print("sync", script.get("/hello").status)
    """)
    assert forgotten.returncode == 0, forgotten.stderr
    assert "got slow" in forgotten.stdout and "sync 200" in forgotten.stdout
    assert forgotten.stderr == ""


def test_a_missing_library_names_every_place_tried(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "librlc.so"
    result = run_python("""
        import rlc
        try:
            print("loaded", rlc.library_path())
        except rlc.LibraryNotFoundError as e:
            print("error", e)
    """, RLC_LIBRARY_PATH=str(missing))
    assert result.returncode == 0, result.stderr
    if result.stdout.startswith("error"):
        assert str(missing) in result.stdout and "librlc.so" in result.stdout
        assert "RLC_LIBRARY_PATH" in result.stdout
    else:  # an installed librlc on the loader's path was found after it
        assert str(missing) not in result.stdout


def test_callbacks_on_workers_still_complete_every_request_once(server: LocalServer) -> None:
    with rlc.Client(base_url=server.url, workers=4, callbacks_on_workers=True) as client:
        futures = [client.submit("GET", "/hello") for _ in range(100)]
        assert [f.result(timeout=30).status for f in futures] == [200] * 100
        assert client.get("/hello").status == 200

    async def main() -> None:
        async with rlc.AsyncClient(base_url=server.url, callbacks_on_workers=True) as client:
            answers = await asyncio.gather(*(client.get("/hello") for _ in range(50)))
            assert [a.status for a in answers] == [200] * 50

    run(main())
    with pytest.raises(TypeError, match="callbacks_on_workers"):
        rlc.Client(base_url=server.url, callbacks_on_workers="yes")  # type: ignore[arg-type]
