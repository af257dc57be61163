"""A redis-server for a test: started on a free 127.0.0.1 port with persistence off,
killed at the end; None when redis-server is not installed (CI installs it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from typing import Optional


class RedisServer:
    def __init__(self, password: Optional[str] = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--loglevel", "warning"]
        if password:
            args += ["--requirepass", password]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not answer within 10 s")

    def stop(self) -> None:
        self._proc.kill()
        self._proc.wait()


def start(password: Optional[str] = None) -> Optional[RedisServer]:
    if shutil.which("redis-server") is None:
        return None
    return RedisServer(password)
