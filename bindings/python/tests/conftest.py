"""Fixtures: the library, a test server in this process, and the mock API binary."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterator, TypeVar

import pytest

from server import LocalServer

ROOT = Path(__file__).resolve().parents[3]
RELEASE = ROOT / "target" / "release"
PACKAGE_DIR = str(Path(__file__).resolve().parents[1])

# The tests use the library built in this repository unless told otherwise.
if "RLC_LIBRARY_PATH" not in os.environ and (RELEASE / "librlc.so").exists():
    os.environ["RLC_LIBRARY_PATH"] = str(RELEASE / "librlc.so")

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Runs a test coroutine on a fresh loop; a hang fails after `timeout` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def run_python(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs `script` (dedented) in a new interpreter that imports this package."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "PYTHONPATH": PACKAGE_DIR, **env},
    )


def until(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Polls `cond` (blocking) until true; fails after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.01)


async def until_async(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.01)


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    s = LocalServer()
    yield s
    s.close()


@pytest.fixture(scope="session")
def mock_api() -> Iterator[str]:
    """rlc-mock-api on a free port; it exits when its stdin closes, so it cannot
    outlive the tests even if they are killed."""
    binary = Path(os.environ.get("RLC_MOCK_API", RELEASE / "rlc-mock-api"))
    if not binary.exists():
        pytest.fail(f"{binary} is missing: build it with `cargo build --release -p mock-api --bin rlc-mock-api`")
    proc = subprocess.Popen(
        [str(binary), "--port", "0", "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        pytest.fail(f"rlc-mock-api said {line!r} instead of where it listens")
    try:
        yield line.removeprefix("listening on ")
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
