"""Faults in the middle of a run, against real servers: the store stops or hangs, the SQLite file is
locked, the app raises or stalls, a client reads slowly.

What must hold: gated pages fail closed (the teaser, never the article, never
a 500 from the paywall), the trial form says to try again later, nothing
already granted is lost, and service comes back by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from paywall import PaywallMiddleware, PaywallSettings
from tests.apps.gate_app import SECRET_WORDS, article_html
from tests.asgi import call, http_scope
from tests.conftest import SECRET, assert_no_leak
from tests.redis_server import RedisServerMissing
from tests.servers import ROOT, free_port, stop_process, wait_for_port


class DurableRedis:
    """A redis-server that keeps its data across a stop and a start (append-only file, fsync always)."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerMissing("redis-server is not on PATH: the fault tests need it; they do not skip")
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)]
        argv += ["--protected-mode", "no", "--loglevel", "warning"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


@contextlib.contextmanager
def paywalled_site(store: str, folder: Path, **settings: str) -> Iterator[str]:
    """The gate site behind the paywall in a real uvicorn; yields its base URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAYWALL_SECRET_KEY": SECRET, "PAYWALL_STORE": store}
    env.update({f"PAYWALL_{k.upper()}": v for k, v in settings.items()})
    argv = [sys.executable, "-m", "uvicorn", "tests.apps.gate_app:build_app", "--factory"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = folder / f"uvicorn-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_process(proc)
    text = log.read_text(errors="replace")
    assert "Exception in ASGI application" not in text, text


def start_trial(client: httpx.Client, email: str) -> httpx.Response:
    form = client.get("/_paywall/trial", params={"next": "/article"})
    assert form.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return client.post("/_paywall/trial", data={"email": email, "consent": "yes", "next": "/article", "csrf": csrf[1]})


def is_full(response: httpx.Response) -> bool:
    return response.status_code == 200 and all(word in response.text for word in SECRET_WORDS)


def is_teaser(response: httpx.Response) -> bool:
    assert response.status_code == 200, response.status_code
    assert_no_leak(response.content, SECRET_WORDS)
    return "data-paywall-cta" in response.text


def _until(check: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


@contextlib.contextmanager
def trial_reader_on_durable_redis() -> Iterator[tuple[DurableRedis, str, httpx.Client]]:
    """A durable Redis, the paywalled site on it, and a reader whose trial started there."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        redis = DurableRedis(folder)
        redis.start()
        try:
            with paywalled_site(redis.url, folder) as url, httpx.Client(base_url=url, timeout=20) as reader:
                assert start_trial(reader, "before@example.com").status_code == 303
                assert is_full(reader.get("/article"))
                yield redis, url, reader
        finally:
            redis.stop()


@pytest.mark.redis
def test_redis_stops_in_the_middle_of_a_run() -> None:
    with trial_reader_on_durable_redis() as (redis, url, trial_reader):
        redis.stop()
        anonymous = httpx.Client(base_url=url, timeout=10)
        assert is_teaser(anonymous.get("/article"))  # fail closed
        # The trial reader sees the teaser while the store cannot vouch for the trial...
        assert is_teaser(trial_reader.get("/article"))
        # ... and keeps the cookie that proves it.
        assert "paywall_trial" in trial_reader.cookies
        newcomer = httpx.Client(base_url=url, timeout=10, follow_redirects=False)
        refused = start_trial(newcomer, "during@example.com")
        assert refused.status_code == 503 and "try again" in refused.text.lower()
        assert refused.headers.get("retry-after")

        redis.start()  # same port, same data
        assert _until(lambda: is_full(trial_reader.get("/article")))  # nothing granted was lost
        assert start_trial(newcomer, "during@example.com").status_code == 303  # service is back
        assert is_full(newcomer.get("/article"))
        for client in (anonymous, newcomer):
            client.close()


@pytest.mark.redis
def test_redis_that_hangs_costs_a_moment_not_the_page() -> None:
    with trial_reader_on_durable_redis() as (redis, _, reader):
        redis.pause()
        try:
            started = time.monotonic()
            assert is_teaser(reader.get("/article"))
            assert time.monotonic() - started < 5
        finally:
            redis.resume()
        assert _until(lambda: is_full(reader.get("/article")))


def test_sqlite_file_locked_in_the_middle_of_a_run() -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        db = folder / "paywall.db"
        with paywalled_site(f"sqlite:///{db}?timeout=0.3", folder, free_articles="2") as url:
            trial_reader = httpx.Client(base_url=url, timeout=10, follow_redirects=False)
            assert start_trial(trial_reader, "before@example.com").status_code == 303
            metered = httpx.Client(base_url=url, timeout=10)
            assert is_full(metered.get("/article"))  # the first free article

            locker = sqlite3.connect(db, isolation_level=None, timeout=0)
            locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
            try:
                assert is_teaser(metered.get("/article?p=2"))  # the meter cannot count: fail closed
                newcomer = httpx.Client(base_url=url, timeout=10, follow_redirects=False)
                refused = start_trial(newcomer, "during@example.com")
                assert refused.status_code == 503 and "try again" in refused.text.lower()
                response = trial_reader.get("/article")  # readers are not blocked by a writer in WAL mode
                assert is_full(response)
            finally:
                locker.execute("ROLLBACK")
                locker.close()
            assert is_full(metered.get("/article?p=2"))  # back by itself
            assert start_trial(newcomer, "during@example.com").status_code == 303
            for client in (trial_reader, metered, newcomer):
                client.close()


def test_sqlite_file_unreadable_then_back(tmp_path: Path) -> None:
    """The database file is replaced by something that is not a database, then restored."""
    db = tmp_path / "paywall.db"
    with paywalled_site(f"sqlite:///{db}", tmp_path) as url:
        reader = httpx.Client(base_url=url, timeout=10, follow_redirects=False)
        assert start_trial(reader, "reader@example.com").status_code == 303
        assert is_full(reader.get("/article"))
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        saved = db.read_bytes()
        db.write_bytes(b"this is not a database" * 100)
        try:
            assert is_teaser(reader.get("/article"))
        finally:
            db.write_bytes(saved)
        assert _until(lambda: is_full(reader.get("/article")))
        reader.close()


# ---------------------------------------------------------------------------
# the app raises or stalls; a client reads slowly


async def _app_that_fails(scope: dict[str, Any], receive: Any, send: Any) -> None:
    page = article_html().encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
    await send({"type": "http.response.body", "body": page[: len(page) * 3 // 4], "more_body": True})
    if scope["path"] == "/raises":
        raise RuntimeError("the template engine failed half way")
    if scope["path"] == "/stalls":
        await asyncio.sleep(3600)
    # "/ends-early": returns without the last body message


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/raises", "/ends-early"])
async def test_an_app_that_fails_half_way_never_sends_half_the_article(tmp_path: Path, path: str) -> None:
    settings = PaywallSettings(secret_key=SECRET, store=f"sqlite:///{tmp_path / 'p.db'}")
    app = PaywallMiddleware(_app_that_fails, settings=settings)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with contextlib.suppress(RuntimeError):  # the app's own error reaches the server, which logs it
        await app(http_scope(path), receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert_no_leak(body, SECRET_WORDS)
    assert b"Grid operators" not in body or b"data-paywall-cta" in body
    await app.store.aclose()


@pytest.mark.anyio
async def test_an_app_that_stalls_holds_only_its_own_reader(tmp_path: Path) -> None:
    settings = PaywallSettings(secret_key=SECRET, store=f"sqlite:///{tmp_path / 'p.db'}")
    app = PaywallMiddleware(_app_that_fails, settings=settings)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    stalled = asyncio.ensure_future(app(http_scope("/stalls"), receive, send))
    await asyncio.sleep(0.2)
    other = await asyncio.wait_for(call(app, "/ends-early"), 5)  # another reader is served meanwhile
    assert other.status == 200
    assert sent == []  # nothing of the stalled page went out: it is buffered until complete
    stalled.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stalled
    await app.store.aclose()


def test_a_slow_client_does_not_hold_other_readers(tmp_path: Path) -> None:
    with paywalled_site(f"sqlite:///{tmp_path / 'p.db'}", tmp_path) as url:
        port = int(url.rsplit(":", 1)[1])
        slow = socket.create_connection(("127.0.0.1", port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n")
        slow.recv(100)  # then reads nothing more
        try:
            started = time.monotonic()
            for _ in range(10):
                assert is_teaser(httpx.get(f"{url}/article", timeout=10))
            assert time.monotonic() - started < 5
        finally:
            slow.close()
