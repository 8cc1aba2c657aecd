"""Hostile requests: headers, cookies, redirects, bodies and clients that misbehave.

Straight into the middleware where exact bytes matter, and through a real
uvicorn where the connection itself is the attack (HTTP/1.0, a client that
leaves mid-response or mid-body). Every answer is a clear, safe one: never a
500, never the article for a non-member, never a redirect off the site.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlencode

import httpx
import pytest

from paywall import PaywallMiddleware, PaywallSettings
from tests.apps.gate_app import SECRET_WORDS, site
from tests.asgi import Result, call, http_scope
from tests.conftest import SECRET, assert_no_leak
from tests.servers import ROOT, UVICORN_SERVERS, free_port, stop_process, wait_for_port

pytestmark = pytest.mark.anyio

Make = Callable[..., PaywallSettings]


@pytest.fixture
async def app(make_settings: Make) -> AsyncIterator[PaywallMiddleware]:
    middleware = PaywallMiddleware(site, settings=make_settings())
    yield middleware
    await middleware.store.aclose()


def teaser_only(result: Result) -> None:
    assert result.status == 200, result.status
    assert b"data-paywall-cta" in result.body
    assert_no_leak(result.body, SECRET_WORDS)


# ---------------------------------------------------------------------------
# headers and cookies


async def test_oversized_and_malformed_cookies_give_the_teaser(app: PaywallMiddleware) -> None:
    hostile = [
        b"paywall_trial=" + b"A" * 200_000,
        b"paywall_member=" + b"x." * 50_000 + b"; paywall_jwt=" + b"e" * 100_000,
        b'paywall_trial="unterminated; paywall_device=\x00\xff\xfe;;;=;=x; ;paywall_member',
        b"paywall_device=" + "\u202e\u0000".encode() + b"; paywall_trial=%00%ff%zz",
        b";;;;;;;;",
        b"=" * 10_000,
        b"\xff\xfe" * 1000,
    ]
    for cookie in hostile:
        teaser_only(await call(app, "/article", headers=[(b"cookie", cookie)]))


async def test_thousands_of_cookies(app: PaywallMiddleware) -> None:
    many = "; ".join(f"c{i}=v{i}" for i in range(5000)).encode()
    started = time.monotonic()
    teaser_only(await call(app, "/article", headers=[(b"cookie", many)]))
    # ... and as many separate Cookie headers, as HTTP/2 clients send them.
    split = [(b"cookie", f"c{i}=v".encode()) for i in range(5000)]
    teaser_only(await call(app, "/article", headers=split))
    assert time.monotonic() - started < 5


async def test_oversized_and_malformed_headers(app: PaywallMiddleware) -> None:
    odd = [
        (b"accept", b"text/html" + b",*/*;q=0.1" * 20_000),
        (b"accept-encoding", b"gzip;q=" + b"9" * 10_000),
        (b"if-none-match", b'"' + b"x" * 100_000),
        (b"range", b"bytes=0-1," * 10_000),
        (b"authorization", b"Bearer " + b"a.b." * 30_000),
        (b"x-forwarded-for", b"1.2.3.4, " * 10_000),
        (b"host", b"\xff\xfe\x00" * 100),
        (b"content-type", b"\x00"),
    ]
    for header in odd:
        teaser_only(await call(app, "/article", headers=[header]))
    teaser_only(await call(app, "/article", headers=odd))


async def test_status_and_form_survive_hostile_cookies(app: PaywallMiddleware) -> None:
    cookie = b"paywall_device=" + b"\xff" * 3000 + b"; paywall_trial=" + b"A" * 50_000
    for path in ("/_paywall/status", "/_paywall/trial"):
        result = await call(app, path, headers=[(b"cookie", cookie)])
        assert result.status == 200


# ---------------------------------------------------------------------------
# next: header injection, open redirect


HOSTILE_NEXT = [
    "/%0d%0aSet-Cookie:%20paywall_member=forged",
    "/\r\nSet-Cookie: x=1",
    "//evil.example/",
    "/\\evil.example",
    "/%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "https://evil.example/",
    "\t//evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "/%5Cevil.example",
    "/\u3002evil.example",
    "/" + "a" * 10_000,
]


def same_site(path: str) -> bool:
    """A path on this site however often a browser or server decodes it: no scheme, no host, no CR/LF."""
    for _ in range(3):
        if not path.startswith("/") or path.startswith(("//", "/\\")) or any(c in path for c in "\r\n\t\\"):
            return False
        path = unquote(path)
    return True


async def _signed_up(app: PaywallMiddleware, next_value: str, client: tuple[str, int]) -> Result:
    form = await call(app, "/_paywall/trial", query=urlencode({"next": next_value}).encode(), client=client)
    assert form.status == 200
    page = form.body.decode()
    shown = re.search(r'name="next" value="([^"]*)"', page)
    assert shown is not None and same_site(shown.group(1))
    device = next(c for c in form.header_list("set-cookie") if c.startswith("paywall_device="))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    body = urlencode({"email": f"r{client[1]}@example.com", "consent": "yes", "next": next_value, "csrf": csrf[1]})
    return await call(
        app,
        "/_paywall/trial",
        method="POST",
        chunks=[body.encode()],
        client=client,
        headers=[
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"cookie", device.split(";")[0].encode()),
        ],
    )


async def test_next_never_injects_headers_nor_leaves_the_site(make_settings: Make) -> None:
    app = PaywallMiddleware(site, settings=make_settings(trial_ip_daily_cap=0, trial_network_daily_cap=0))
    for i, value in enumerate(HOSTILE_NEXT):
        result = await _signed_up(app, value, ("198.51.100.7", 1000 + i))
        assert result.status == 303
        location = result.header("location")
        assert location is not None and same_site(location), location
        assert all(not c.startswith(("x=", "paywall_member=")) for c in result.header_list("set-cookie"))
        for name, value_bytes in result.headers:
            assert b"\r" not in value_bytes and b"\n" not in value_bytes and b"\r" not in name
    await app.store.aclose()


# ---------------------------------------------------------------------------
# bodies


async def test_huge_form_bodies_are_refused_before_they_are_read(app: PaywallMiddleware) -> None:
    declared = await call(
        app,
        "/_paywall/trial",
        method="POST",
        chunks=[b"email=a"],
        headers=[(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"104857600")],
    )
    assert declared.status == 413
    # Undeclared (chunked): reading stops at the cap, well before the 10 MB are in.
    received = 0

    async def receive() -> dict[str, object]:
        nonlocal received
        received += 16_384
        return {"type": "http.request", "body": b"a" * 16_384, "more_body": received < 10 * 1024 * 1024}

    answer: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        answer.append(message)

    scope = http_scope(
        "/_paywall/trial", method="POST", headers=[(b"content-type", b"application/x-www-form-urlencoded")]
    )
    await app(scope, receive, send)
    assert answer[0]["status"] == 413 and received <= 2 * 16_384
    assert b"Form too large" in answer[1]["body"]  # type: ignore[operator]
    bad_length = await call(
        app,
        "/_paywall/trial",
        method="POST",
        headers=[(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"-1, 5")],
    )
    assert bad_length.status == 413


async def test_many_fields_and_odd_encodings_are_a_clear_400(app: PaywallMiddleware) -> None:
    form_type = (b"content-type", b"application/x-www-form-urlencoded")
    for body in (b"&".join(b"f%d=x" % i for i in range(500)), b"email=%ff%fe", b"email=a\x00b&email=c"):
        result = await call(app, "/_paywall/trial", method="POST", chunks=[body], headers=[form_type])
        assert result.status in (400, 403, 413), result.status
    multipart = await call(
        app, "/_paywall/trial", method="POST", chunks=[b"--x--"], headers=[(b"content-type", b"multipart/form-data")]
    )
    assert multipart.status == 415


# ---------------------------------------------------------------------------
# real connections: HTTP/1.0, clients that leave


@contextlib.contextmanager
def gate_server(tmp: Path, *, http: str = "auto", loop: str = "auto") -> Iterator[tuple[int, Path]]:
    """The gate site behind the paywall in a real uvicorn (with the HTTP parser and event loop named, as its
    ``--http`` and ``--loop`` take them); yields its port and its log file."""
    port = free_port()
    log = tmp / "uvicorn.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PAYWALL_SECRET_KEY": SECRET,
        "PAYWALL_STORE": f"sqlite:///{tmp / 'paywall.db'}",
    }
    argv = [sys.executable, "-m", "uvicorn", "tests.apps.gate_app:build_app", "--factory"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--http", http, "--loop", loop]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, proc)
            yield port, log
        finally:
            stop_process(proc)


def raw_exchange(port: int, request: bytes, *, read: int | None = None) -> bytes:
    """Send raw bytes, read the answer (or its first ``read`` bytes); a reset connection reads as empty."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(request)
            while read is None or len(data) < read:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        return data


@pytest.mark.parametrize(("http", "loop"), UVICORN_SERVERS)
def test_real_server_with_hostile_clients(http: str, loop: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        text = _hostile_clients(Path(folder), http, loop)
    assert "Exception in ASGI application" not in text and "Traceback" not in text, text


def _hostile_clients(folder: Path, http: str, loop: str) -> str:
    """Drive the hostile clients; returns what the server logged."""
    with gate_server(folder, http=http, loop=loop) as (port, log):
        # HTTP/1.0, no Host: the teaser, and the connection closes after it.
        reply = raw_exchange(port, b"GET /article HTTP/1.0\r\n\r\n")
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0]
        assert b"data-paywall-cta" in body
        assert_no_leak(body, SECRET_WORDS)

        # Clients that leave mid-response, many times over, on a large page.
        for _ in range(20):
            partial = raw_exchange(port, b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n", read=100)
            assert partial.startswith(b"HTTP/1.1")
        # ... and mid-request-body on the trial form.
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(
                    b"POST /_paywall/trial HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    b"Content-Length: 5000\r\n\r\nemail=a"
                )
        # A header section far beyond what most servers accept: refused by the server (h11), or, where the
        # server sets no limit (httptools), the teaser like any other request; never a crash or the article.
        huge = raw_exchange(port, b"GET /article HTTP/1.1\r\nHost: x\r\nCookie: " + b"a" * 200_000 + b"\r\n\r\n")
        assert b"tessellwyn" not in huge
        if huge.startswith(b"HTTP/1.1 200"):
            assert b"data-paywall-cta" in huge
        else:
            assert huge.startswith(b"HTTP/1.1 4") or not huge

        # The server still serves, and logged no application error.
        response = httpx.get(f"http://127.0.0.1:{port}/article", timeout=10)
        assert response.status_code == 200
        assert_no_leak(response.content, SECRET_WORDS)
        time.sleep(0.3)
    return log.read_text(errors="replace")


async def test_client_gone_before_the_answer_is_quiet(app: PaywallMiddleware) -> None:
    """The reader disconnects while the form body is read: nothing is sent, nothing raised."""
    sent: list[dict[str, object]] = []
    messages = [{"type": "http.request", "body": b"email=", "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = http_scope(
        "/_paywall/trial", method="POST", headers=[(b"content-type", b"application/x-www-form-urlencoded")]
    )
    await asyncio.wait_for(app(scope, receive, send), 5)
    assert sent == []


def test_next_values_are_quoted_in_the_call_to_action(make_settings: Make) -> None:
    """The page path itself is hostile: the call to action's link stays one safe attribute."""
    app = PaywallMiddleware(site, settings=make_settings())
    result = asyncio.run(call(app, "/article", query=b'x="><script>alert(1)</script>'))
    teaser_only(result)
    assert b"<script>alert(1)" not in result.body and b'x="><' not in result.body
    asyncio.run(app.store.aclose())
