"""The Pythonic clients: AsyncClient for asyncio, Client for scripts."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import threading
from collections.abc import Mapping
from typing import Any, Callable, Coroutine, Optional

from . import _graphql, _native
from ._core import MISSING, Content, HeadersArg, NativeClient, Outcome, Prepared, attach_finalizer
from ._events import AsyncSink, blocking_sink, check_on_event
from ._journal import Collector, Recovered
from ._redis import RedisStatus
from .config import Config
from .errors import RlcError, make_error
from .metrics import Metrics
from .response import Response


def _config(config: Optional[Config], options: dict[str, Any]) -> Config:
    """`config` with `options` (Config's field names) laid over it."""
    if config is not None and not isinstance(config, Config):
        raise TypeError(f"rlc: config must be an rlc.Config, got {type(config).__name__}")
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"rlc: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return dataclasses.replace(config or Config(), **options)


class _LoopInbox:
    """Completions bound for one event loop. The completion thread appends; the loop
    drains. One call_soon_threadsafe (one wake-up of the loop) per batch rather than
    per response keeps a busy client from flooding the loop's self-pipe."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # (None, fn) is an event's call of on_event (rlc/_events.py), kept in order.
        self._items: list[tuple[Optional[asyncio.Future[Response]], Any]] = []
        self._lock = threading.Lock()

    def put_call(self, fn: Callable[[], None]) -> None:
        self.put(None, fn)

    def put(self, future: Optional[asyncio.Future[Response]], outcome: Any) -> None:
        with self._lock:
            self._items.append((future, outcome))
            first = len(self._items) == 1
        if first:
            try:
                self.loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed: nobody can await these any more
                with self._lock:
                    self._items.clear()

    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        for future, outcome in items:
            if future is None:
                outcome()
                continue
            if future.done():  # the awaiting task was cancelled
                continue
            if isinstance(outcome, RlcError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


class AsyncClient:
    """An rlc client for asyncio.

    `await client.get(path)` gives a Response for any HTTP status and raises an
    RlcError subclass when no response came. Cancelling the awaiting task cancels the
    request (rlc_cancel). `async with` closes the client without blocking the loop.
    The client may be used from any event loop and any thread.
    """

    def __init__(self, config: Optional[Config] = None, /, **options: Any) -> None:
        self.config = _config(config, options)
        on_event = check_on_event(self.config.on_event)
        self._events = AsyncSink(on_event) if on_event is not None else None
        self._native = NativeClient(self.config, self._events)
        self._inboxes: dict[asyncio.AbstractEventLoop, _LoopInbox] = {}
        self._inboxes_lock = threading.Lock()
        self._finalizer = attach_finalizer(self, self._native)

    def _inbox(self, loop: asyncio.AbstractEventLoop) -> _LoopInbox:
        inbox = self._inboxes.get(loop)
        if inbox is None:
            with self._inboxes_lock:
                for old in [lp for lp in self._inboxes if lp.is_closed()]:
                    del self._inboxes[old]
                inbox = self._inboxes.setdefault(loop, _LoopInbox(loop))
        return inbox

    # The verb methods return request()'s coroutine rather than awaiting it in one of
    # their own: the same for the caller, one coroutine fewer per request.

    async def request(
        self,
        method: str,
        url: str,
        *,
        priority: int = 0,
        headers: HeadersArg = None,
        content: Content = None,
        json: Any = MISSING,
        timeout: Optional[float] = None,
        deadline: Optional[float] = None,
        retry_non_idempotent: Optional[bool] = None,
        cost: Optional[int] = None,
        max_retries: Optional[int] = None,
        tag: Optional[str] = None,
    ) -> Response:
        """Sends `method` to `url` (a path joined to base_url, or an absolute URL).

        priority: higher goes first (100 before 1). content: bytes or str (UTF-8);
        json: any JSON-serialisable value (sets Content-Type). timeout: seconds per
        attempt; deadline: seconds for the whole request, queueing and retries
        included. retry_non_idempotent: allow retries of e.g. a POST. cost: the
        tokens it takes from every rate limit (default 1; more than the smallest
        burst raises InvalidArgumentError). max_retries: its own retry count instead
        of the client's (0: never). tag: the application's own name for the
        request, kept in the journal and handed back as Response.tag and by recover().
        """
        prepared = Prepared(
            method, url, priority=priority, headers=headers, content=content, json=json,
            timeout=timeout, deadline=deadline, retry_non_idempotent=retry_non_idempotent,
            cost=cost, max_retries=max_retries, tag=tag,
        )
        return await self._send(prepared)

    async def _send(self, prepared: Prepared) -> Response:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Response] = loop.create_future()
        inbox = self._inbox(loop)
        if self._events is not None:
            self._events.inbox = inbox  # events go to the loop of the latest request
        deliver = functools.partial(inbox.put, future)
        request_id = self._native.submit(prepared, deliver, owner=self)
        try:
            return await future
        except asyncio.CancelledError:
            if future.cancelled():  # our task was cancelled, not the request
                self._native.cancel(request_id)
            raise

    def get(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        return self.request("DELETE", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> Coroutine[Any, Any, Response]:
        return self.request("OPTIONS", url, **kwargs)

    async def graphql(
        self,
        query: str,
        variables: Optional[Mapping[str, Any]] = None,
        *,
        operation_name: Optional[str] = None,
        cost: Optional[int] = None,
        path: str = "/graphql",
        priority: int = 0,
        headers: HeadersArg = None,
        timeout: Optional[float] = None,
        deadline: Optional[float] = None,
        retry_non_idempotent: Optional[bool] = None,
        max_retries: Optional[int] = None,
    ) -> Any:
        """Runs a GraphQL operation (a POST of {query, variables, operationName} to
        `path`) and returns its `data`. Raises GraphQLError carrying `errors` when the
        answer has any, an RlcError when no answer came, and InvalidQueryError at once
        for a query that does not parse. cost: its points (default: GitHub's estimate).
        THROTTLED answers are retried, never seen."""
        prepared = _graphql_request(query, variables, operation_name, cost, path, priority, headers,
                                    timeout, deadline, retry_non_idempotent, max_retries)
        response = await self._send(prepared)
        return _graphql.result(response)

    def get_graphql_metrics(self) -> dict[str, int]:
        """graphql_throttled, graphql_points (the actual costs reported) and
        graphql_errors, counted since the client started."""
        return self._native.graphql_metrics()
    def redis_status(self) -> RedisStatus:
        """The shared limit's state and counters (state "off" without Config.redis):
        round trips, time without Redis, tokens leased, clients seen on the key."""
        return self._native.redis_status()

    def set_rate_limit(self, max_requests: int, per: float = 1.0) -> None:
        """Changes the rate limit of the running client at once: at most `max_requests`
        per `per` seconds, with a burst of `max_requests`. The tokens held carry over
        (none lost, none invented) and waiting requests see the new rate at once.
        On an adaptive client it is the new ceiling. Returns at once; callable from
        any thread (ShutdownError once closed)."""
        self._native.set_rate_limit(max_requests, per)

    async def recover(self, *, priority: int = 0) -> list[Recovered]:
        """Queues every request that the journal (Config.journal) holds from an
        earlier process, oldest first, with `priority`, and returns once each has
        completed: one Recovered (tag, response or error) per request. A request whose
        deadline passed while no process ran has a TimeoutError and was not sent. Only
        the first call finds anything. InvalidStateError without a journal."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[Recovered]] = loop.create_future()

        def settle(results: list[Recovered]) -> None:
            def set_result() -> None:
                if not done.done():
                    done.set_result(results)

            loop.call_soon_threadsafe(set_result)

        collector = Collector(settle)
        try:
            self._native.recover(priority, collector)
            return await done
        finally:
            self._native.forget_recovery(collector)

    def get_metrics(self) -> Metrics:
        """A snapshot of the metrics (ShutdownError once closed)."""
        return self._native.metrics()

    def metrics_prometheus(self) -> str:
        """The metrics in the Prometheus text exposition format: every sample labelled
        `client` with Config.name, latencies as histograms in seconds."""
        return self._native.metrics_prometheus()

    @property
    def closed(self) -> bool:
        return self._native.closed

    async def aclose(self) -> None:
        """Stops intake, completes queued requests with ShutdownError, waits for those
        in flight and frees the client. librlc does that on a thread of its own
        (rlc_client_free_async): neither the loop nor any Python thread is held up
        meanwhile. Every pending request has settled when this returns. Safe to call
        more than once, and cancelling it does not stop the closing."""
        self._finalizer.detach()
        closing = self._native.close()
        if closing.done():
            return
        loop = asyncio.get_running_loop()
        closed: asyncio.Future[None] = loop.create_future()

        def wake(_: concurrent.futures.Future[None]) -> None:
            # On librlc's closing thread (or here, had it finished meanwhile).
            try:
                loop.call_soon_threadsafe(_resolve, closed)
            except RuntimeError:  # the loop is closed: nobody awaits any more
                pass

        closing.add_done_callback(wake)
        await closed

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # the awaiting task may have been cancelled
        future.set_result(None)


def _settle(future: concurrent.futures.Future[Response], outcome: Outcome) -> None:
    try:
        if isinstance(outcome, RlcError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
    except concurrent.futures.InvalidStateError:  # cancelled by its owner first
        pass


class Client:
    """A blocking rlc client for scripts and threads.

    `client.get(path)` blocks until the response (Ctrl-C cancels the request);
    `client.submit(...)` returns a concurrent.futures.Future at once, so many
    requests can be in the queue together. Close it with `with` or close().
    """

    def __init__(self, config: Optional[Config] = None, /, **options: Any) -> None:
        self.config = _config(config, options)
        on_event = check_on_event(self.config.on_event)
        self._native = NativeClient(self.config, blocking_sink(on_event) if on_event is not None else None)
        self._finalizer = attach_finalizer(self, self._native)

    def submit(
        self,
        method: str,
        url: str,
        *,
        priority: int = 0,
        headers: HeadersArg = None,
        content: Content = None,
        json: Any = MISSING,
        timeout: Optional[float] = None,
        deadline: Optional[float] = None,
        retry_non_idempotent: Optional[bool] = None,
        cost: Optional[int] = None,
        max_retries: Optional[int] = None,
        tag: Optional[str] = None,
    ) -> concurrent.futures.Future[Response]:
        """Queues a request (arguments as AsyncClient.request) and returns its future.
        Cancelling the future cancels the request. The future's callbacks run on
        librlc's completion thread: keep them short and do not wait there."""
        prepared = Prepared(
            method, url, priority=priority, headers=headers, content=content, json=json,
            timeout=timeout, deadline=deadline, retry_non_idempotent=retry_non_idempotent,
            cost=cost, max_retries=max_retries, tag=tag,
        )
        future: concurrent.futures.Future[Response] = concurrent.futures.Future()
        request_id = self._native.submit(prepared, functools.partial(_settle, future), owner=self)
        native = self._native

        def cancel_if_cancelled(f: concurrent.futures.Future[Response]) -> None:
            if f.cancelled():
                native.cancel(request_id)

        future.add_done_callback(cancel_if_cancelled)
        return future

    def request(self, method: str, url: str, **kwargs: Any) -> Response:
        """Sends a request and blocks until its response (arguments as
        AsyncClient.request)."""
        if self._native.on_completion_thread():
            raise make_error(_native.RLC_E_INVALID_STATE,
                             "rlc: a blocking request inside a completion callback would deadlock")
        future = self.submit(method, url, **kwargs)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt: do not leave the request running
            raise

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> Response:
        return self.request("OPTIONS", url, **kwargs)

    def graphql(
        self,
        query: str,
        variables: Optional[Mapping[str, Any]] = None,
        *,
        operation_name: Optional[str] = None,
        cost: Optional[int] = None,
        path: str = "/graphql",
        priority: int = 0,
        headers: HeadersArg = None,
        timeout: Optional[float] = None,
        deadline: Optional[float] = None,
        retry_non_idempotent: Optional[bool] = None,
        max_retries: Optional[int] = None,
    ) -> Any:
        """As AsyncClient.graphql, blocking: the operation's `data`, or GraphQLError."""
        if self._native.on_completion_thread():
            raise make_error(_native.RLC_E_INVALID_STATE,
                             "rlc: a blocking request inside a completion callback would deadlock")
        prepared = _graphql_request(query, variables, operation_name, cost, path, priority, headers,
                                    timeout, deadline, retry_non_idempotent, max_retries)
        future: concurrent.futures.Future[Response] = concurrent.futures.Future()
        self._native.submit(prepared, functools.partial(_settle, future), owner=self)
        return _graphql.result(future.result())

    def get_graphql_metrics(self) -> dict[str, int]:
        """As AsyncClient.get_graphql_metrics."""
        return self._native.graphql_metrics()

    def set_rate_limit(self, max_requests: int, per: float = 1.0) -> None:
        """As AsyncClient.set_rate_limit: at most `max_requests` per `per` seconds from
        now on, keeping the tokens held; callable from any thread."""
        self._native.set_rate_limit(max_requests, per)

    def recover(self, *, priority: int = 0) -> list[Recovered]:
        """Queues every request that the journal (Config.journal) holds from an
        earlier process, oldest first, with `priority`, and blocks until each has
        completed: one Recovered (tag, response or error) per request. A request whose
        deadline passed while no process ran has a TimeoutError and was not sent. Only
        the first call finds anything. InvalidStateError without a journal, and inside
        a completion callback (it would deadlock)."""
        if self._native.on_completion_thread():
            raise make_error(_native.RLC_E_INVALID_STATE,
                             "rlc: a blocking recover inside a completion callback would deadlock")
        done: concurrent.futures.Future[list[Recovered]] = concurrent.futures.Future()
        collector = Collector(done.set_result)
        try:
            self._native.recover(priority, collector)
            return done.result()
        finally:
            self._native.forget_recovery(collector)

    def get_metrics(self) -> Metrics:
        return self._native.metrics()

    def redis_status(self) -> RedisStatus:
        """The shared limit's state and counters (state "off" without Config.redis)."""
        return self._native.redis_status()

    def metrics_prometheus(self) -> str:
        return self._native.metrics_prometheus()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def close(self) -> None:
        """Stops intake, completes queued requests with ShutdownError, waits for those
        in flight, delivers every callback and frees the client; blocks until then.
        Called from a future's callback it returns at once and the closing finishes
        after it, on a thread of librlc's."""
        self._finalizer.detach()
        done = self._native.close()
        if not self._native.on_completion_thread():
            done.result()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _graphql_request(
    query: str,
    variables: Optional[Mapping[str, Any]],
    operation_name: Optional[str],
    cost: Optional[int],
    path: str,
    priority: int,
    headers: HeadersArg,
    timeout: Optional[float],
    deadline: Optional[float],
    retry_non_idempotent: Optional[bool],
    max_retries: Optional[int],
) -> Prepared:
    """The checked arguments of graphql(), before anything native exists."""
    encoded = _graphql.encode(query, variables, operation_name)
    return Prepared(
        "POST", path, priority=priority, headers=headers, content=None, json=MISSING, timeout=timeout,
        deadline=deadline, retry_non_idempotent=retry_non_idempotent, cost=cost, max_retries=max_retries,
        graphql=encoded,
    )


def version() -> str:
    """The version of the loaded librlc, such as "0.1.0"."""
    raw: bytes = _native.lib().rlc_version()
    return raw.decode()


def library_path() -> str:
    """The file or name librlc was loaded from."""
    return _native.lib().path
