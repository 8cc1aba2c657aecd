"""Start real servers as subprocesses for end-to-end tests.

Every server binds 127.0.0.1 on a free port and is stopped when the context
exits; a server that does not come up in time fails the test (never skips).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

#: uvicorn's HTTP parsers and event loops as ``(--http, --loop)``: the pure-Python ones of a plain
#: ``pip install uvicorn``, and the compiled ones of ``paywall[server]`` (``uvicorn[standard]``). A test run
#: behind both asks for each by name: one that is not installed stops the server, and the test fails.
UVICORN_SERVERS = [("h11", "asyncio"), ("httptools", "uvloop")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}:\n{out}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start within {timeout}s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate politely, then kill; never leave a server behind a test."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def spawned(
    argv: Sequence[str], port: int, *, env: Mapping[str, str], cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` with exactly ``env`` until it listens on ``port``; stop it on exit."""
    proc = subprocess.Popen(
        list(argv), env=dict(env), cwd=str(cwd or ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, proc)
        yield proc
    finally:
        stop_process(proc)


@contextlib.contextmanager
def run_process(
    argv: Sequence[str], port: int, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Iterator[str]:
    """Run ``argv`` (which must listen on ``port``) and yield its base URL."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with spawned(argv, port, env=full_env, cwd=cwd):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def run_uvicorn(app: str, env: Mapping[str, str] | None = None, *, factory: bool = False) -> Iterator[str]:
    """Serve the ASGI app ``module:attr`` with a real uvicorn and yield its base URL."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    if factory:
        argv.append("--factory")
    with run_process(argv, port, env) as url:
        yield url


@contextlib.contextmanager
def run_paywalled(factory: str, folder: Path, secret: str) -> Iterator[str]:
    """Serve the app ``factory`` (``module:attr``) makes behind the paywall, its SQLite store in ``folder``."""
    env = {"PAYWALL_SECRET_KEY": secret, "PAYWALL_STORE": f"sqlite:///{folder / 'paywall.db'}"}
    with run_uvicorn(factory, env, factory=True) as url:
        yield url


def get(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(url, timeout=10, **kwargs)  # type: ignore[arg-type]
