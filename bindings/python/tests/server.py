"""A real HTTP server on 127.0.0.1 for the tests, in a thread of the test process,
with the routes of the Node binding's test server (bindings/node/testing/helpers.js):

    /hello               200 "hello" with an x-rlc-test header
    /echo                the request body back, the request's headers as JSON in x-echo-headers
    /bytes?n=N           N bytes 0,1,...,255,0,1,... (application/octet-stream)
    /status/CODE         an empty response with that status
    /slow[/NAME]?ms=N    200 "slow" after N ms
    /flaky/KEY?fail=N    503 for the first N calls with that KEY, then 200 "ok after K"
    /tag/NAME            200 NAME
    /to?u=URL            302 to URL
    /loop                302 to itself
    /busy                503 asking, with Retry-After, for a year's pause

Every request is recorded in `arrivals`, in arrival order, so tests can check what
reached the server and when.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Arrival:
    method: str
    path: str
    at: float  # time.monotonic()


class LocalServer:
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._flaky: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as rlc's connection pool expects

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                url = urlsplit(self.path)
                with owner._lock:
                    owner.arrivals.append(Arrival(self.command, url.path, time.monotonic()))
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                parts = [p for p in url.path.split("/") if p]
                route = parts[0] if parts else ""
                if route == "hello":
                    self._send(200, b"hello", {"content-type": "text/plain", "x-rlc-test": "yes"})
                elif route == "echo":
                    seen: dict[str, str] = {}
                    for name, value in self.headers.items():
                        key = name.lower()
                        seen[key] = f"{seen[key]}, {value}" if key in seen else value
                    self._send(200, body, {
                        "content-type": "application/octet-stream",
                        "x-echo-method": self.command,
                        "x-echo-headers": json.dumps(seen),
                    })
                elif route == "bytes":
                    n = int(query.get("n", "256"))
                    self._send(200, bytes(i & 0xFF for i in range(n)), {"content-type": "application/octet-stream"})
                elif route == "status":
                    self._send(int(parts[1]), b"", {})
                elif route == "slow":
                    time.sleep(int(query.get("ms", "1000")) / 1000)
                    self._send(200, b"slow", {})
                elif route == "flaky":
                    with owner._lock:
                        n = owner._flaky.get(parts[1], 0) + 1
                        owner._flaky[parts[1]] = n
                    if n <= int(query.get("fail", "2")):
                        self._send(503, b"try again", {})
                    else:
                        self._send(200, f"ok after {n}".encode(), {})
                elif route == "tag":
                    self._send(200, (parts[1] if len(parts) > 1 else "").encode(), {})
                elif route == "to":
                    self._send(302, b"", {"location": query["u"]})
                elif route == "loop":
                    self._send(302, b"", {"location": "/loop"})
                elif route == "busy":
                    self._send(503, b"", {"retry-after": "31536000"})
                else:
                    self._send(404, b"no such route", {})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True  # keep-alive connections must not hold up close()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="test-server", daemon=True)
        self._thread.start()

    def arrived(self, prefix: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.path.startswith(prefix)]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
