"""``paywall proxy`` end to end: real upstreams, a real proxy process, real sockets.

Two upstreams run as subprocesses: Python's ``http.server`` over
``tests/static_site`` (plus a large generated file) and the small app in
``tests/apps/upstream_app.py``. Each is put behind ``python -m paywall.cli
proxy``, and every request goes through a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from paywall.proxy import ProxyApp
from paywall.settings import PaywallSettings
from tests.apps import upstream_app
from tests.conftest import SECRET, assert_no_leak
from tests.servers import ROOT, free_port, run_process, run_uvicorn, spawned

STATIC_SITE = ROOT / "tests" / "static_site"
CTA_TITLE = "Need to access the insight?"
CTA = 'class="paywall-cta"'  # the call to action element, once per gated page
TIDES_SECRET_WORDS = ["Wendeline", "Quarrybrook", "fennimore", "plumtree", "dredging"]
BRIDGE_SECRET_WORDS = ["grimsditch", "valmorrow", "foundry"]
UPSTREAM_SECRET_WORDS = ["zeppelin", "quokka", "Octarine", "gondola", "xylophone", "Saffron"]
MB = 1024 * 1024


# ---------------------------------------------------------------------------
# processes


@contextlib.contextmanager
def spawn_proxy(
    upstream: str, tmp: Path, *, env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``python -m paywall.cli proxy`` on a free port; yield its URL and process."""
    port = free_port()
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PAYWALL_SECRET_KEY": SECRET,
        "PAYWALL_STORE": f"sqlite:///{tmp / f'paywall-{port}.db'}",
        **(env or {}),
    }
    argv = [sys.executable, "-m", "paywall.cli", "proxy", "--upstream", upstream, "--port", str(port)]
    argv += ["--log-level", "warning", *args]
    with spawned(argv, port, env=full_env) as proc:
        yield f"http://127.0.0.1:{port}", proc


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxy")


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with run_uvicorn("tests.apps.upstream_app:app") as url:
        yield url


@pytest.fixture(scope="module")
def proxied(upstream: str, tmp: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The upstream app behind the proxy; the connecting peer (127.0.0.1) is not trusted."""
    with spawn_proxy(upstream, tmp, env={"PAYWALL_UPSTREAM_TIMEOUT": "1"}) as running:
        yield running


@pytest.fixture(scope="module")
def proxy(proxied: tuple[str, subprocess.Popen[bytes]]) -> str:
    return proxied[0]


@pytest.fixture(scope="module")
def trusting_proxy(upstream: str, tmp: Path) -> Iterator[str]:
    """Same upstream, two worker processes, and 127.0.0.1 is a trusted proxy."""
    with spawn_proxy(upstream, tmp, env={"PAYWALL_TRUSTED_PROXIES": "127.0.0.1/32"}, args=["--workers", "2"]) as (
        url,
        _,
    ):
        yield url


@pytest.fixture(scope="module")
def narrow_proxy(upstream: str, tmp: Path) -> Iterator[str]:
    """One upstream connection at most, and a short wait for it."""
    env = {"PAYWALL_UPSTREAM_MAX_CONNECTIONS": "1", "PAYWALL_UPSTREAM_TIMEOUT": "0.5"}
    with spawn_proxy(upstream, tmp, env=env) as (url, _):
        yield url


@pytest.fixture(scope="module")
def static_root(tmp: Path) -> Path:
    root = tmp / "site"
    shutil.copytree(STATIC_SITE, root)
    (root / "data" / "archive.bin").write_bytes(os.urandom(6 * MB))
    return root


@pytest.fixture(scope="module")
def static_upstream(static_root: Path) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(static_root)]
    with run_process(argv, port) as url:
        yield url


@pytest.fixture(scope="module")
def static_proxy(static_upstream: str, tmp: Path) -> Iterator[str]:
    with spawn_proxy(static_upstream, tmp) as (url, _):
        yield url


@pytest.fixture(scope="module")
def dead_proxy(tmp: Path) -> Iterator[str]:
    with spawn_proxy(f"http://127.0.0.1:{free_port()}", tmp) as (url, _):
        yield url


# ---------------------------------------------------------------------------
# helpers


def raw_request(base: str, head: bytes, body: bytes = b"") -> tuple[int, list[tuple[str, str]], bytes]:
    """Send exactly ``head`` (+ ``body``) on a fresh socket; parse the answer (Connection: close)."""
    url = httpx.URL(base)
    assert url.port is not None
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        sock.sendall(head + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    header_block, _, rest = data.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    if ("transfer-encoding", "chunked") in headers:
        decoded = b""
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            decoded += rest[:size]
            rest = rest[size + 2 :]
        rest = decoded
    return status, headers, rest


def echo(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def received_headers(data: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in data["headers"]:
        out.setdefault(name, []).append(value)
    return out


def peak_rss(proc: subprocess.Popen[bytes]) -> int:
    """Peak resident memory of the process so far, in bytes (Linux)."""
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("VmHWM not found")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# gating through the proxy


def test_static_article_is_gated_for_a_non_member(static_proxy: str) -> None:
    response = httpx.get(f"{static_proxy}/articles/tides.html", timeout=10)
    assert response.status_code == 200
    text = response.text
    assert "The harbour office has published its tide tables online" in text
    assert "Skippers used to queue" in text
    assert text.count(CTA) == 1
    assert "/_paywall/trial?next=/articles/tides.html" in text
    assert '<aside class="related">' in text  # the page around the article is left as it was
    assert_no_leak(response.content, TIDES_SECRET_WORDS)


def test_static_article_with_explicit_break(static_proxy: str) -> None:
    response = httpx.get(f"{static_proxy}/articles/bridge.html", timeout=10)
    assert "A small crowd gathered on both banks" in response.text
    assert response.text.count(CTA) == 1
    assert_no_leak(response.content, BRIDGE_SECRET_WORDS)


def test_static_free_page_and_home_page_pass_whole(static_proxy: str, static_root: Path) -> None:
    notice = httpx.get(f"{static_proxy}/articles/notice.html", timeout=10)
    assert "quillonberry cup" in notice.text
    assert CTA_TITLE not in notice.text
    home = httpx.get(f"{static_proxy}/", timeout=10)
    assert home.status_code == 200
    assert "Tide tables get a digital makeover" in home.text
    assert CTA_TITLE not in home.text


@pytest.mark.parametrize(
    "path",
    ["/images/lighthouse.png", "/styles/site.css", "/data/moorings.json", "/data/notes.txt", "/data/archive.bin"],
)
def test_files_pass_byte_identical(static_proxy: str, static_upstream: str, static_root: Path, path: str) -> None:
    through = httpx.get(f"{static_proxy}{path}", timeout=30)
    direct = httpx.get(f"{static_upstream}{path}", timeout=30)
    on_disk = (static_root / path.lstrip("/")).read_bytes()
    assert through.status_code == 200
    assert sha256(through.content) == sha256(on_disk) == sha256(direct.content)
    assert through.headers["content-type"] == direct.headers["content-type"]
    assert through.headers["content-length"] == str(len(on_disk))
    assert through.headers.get("last-modified") == direct.headers.get("last-modified")


def test_png_is_a_real_png(static_proxy: str) -> None:
    body = httpx.get(f"{static_proxy}/images/lighthouse.png", timeout=10).content
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    assert body.endswith(b"IEND\xaeB`\x82")


def test_static_404_passes_through(static_proxy: str) -> None:
    response = httpx.get(f"{static_proxy}/no/such/page.html", timeout=10)
    assert response.status_code == 404


def test_upstream_article_is_gated(proxy: str) -> None:
    response = httpx.get(f"{proxy}/article", timeout=10)
    assert response.status_code == 200
    assert upstream_app.ARTICLE_TEASER[2] in response.text
    assert response.text.count(CTA) == 1
    assert_no_leak(response.content, UPSTREAM_SECRET_WORDS)


def test_x_paywall_free_header_gives_whole_page_and_is_removed(proxy: str) -> None:
    response = httpx.get(f"{proxy}/article/free", timeout=10)
    assert upstream_app.ARTICLE_REST[0] in response.text
    assert CTA_TITLE not in response.text
    assert "x-paywall" not in response.headers


def test_x_paywall_members_header_gates_and_is_removed(proxy: str) -> None:
    response = httpx.get(f"{proxy}/article/members", timeout=10)
    assert response.text.count(CTA) == 1
    assert_no_leak(response.content, UPSTREAM_SECRET_WORDS)
    assert "x-paywall" not in response.headers


def test_x_paywall_access_member_from_the_site_counts_as_membership(proxy: str) -> None:
    logged_in = httpx.get(f"{proxy}/article/login", cookies={"cms_login": "ok"}, timeout=10)
    assert upstream_app.ARTICLE_REST[2] in logged_in.text
    assert CTA_TITLE not in logged_in.text
    assert "x-paywall-access" not in logged_in.headers
    anonymous = httpx.get(f"{proxy}/article/login", timeout=10)
    assert anonymous.text.count(CTA) == 1
    assert_no_leak(anonymous.content, UPSTREAM_SECRET_WORDS)
    assert "x-paywall-access" not in anonymous.headers


def test_reader_cannot_claim_membership_with_a_request_header(proxy: str) -> None:
    response = httpx.get(f"{proxy}/article", headers={"X-Paywall-Access": "member", "X-Paywall": "free"}, timeout=10)
    assert response.text.count(CTA) == 1
    assert_no_leak(response.content, UPSTREAM_SECRET_WORDS)


# ---------------------------------------------------------------------------
# methods, bodies, streaming


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_every_method_with_its_body(proxy: str, method: str) -> None:
    body = os.urandom(50_000)
    data = echo(httpx.request(method, f"{proxy}/echo", content=body, timeout=10))
    assert data["method"] == method
    assert data["body_size"] == len(body)
    assert data["body_sha256"] == sha256(body)


def test_get_head_and_options(proxy: str) -> None:
    assert echo(httpx.get(f"{proxy}/echo", timeout=10))["method"] == "GET"
    assert echo(httpx.options(f"{proxy}/echo", timeout=10))["method"] == "OPTIONS"
    head = httpx.head(f"{proxy}/echo", timeout=10)
    get = httpx.get(f"{proxy}/echo", timeout=10)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_form_post(proxy: str) -> None:
    form = httpx.get(f"{proxy}/form", timeout=10)
    assert "<form" in form.text
    response = httpx.post(f"{proxy}/form", data={"name": "Ada Lovelace", "comment": "ça & 100%"}, timeout=10)
    assert response.json() == {
        "fields": [["name", "Ada Lovelace"], ["comment", "ça & 100%"]],
        "content_type": "application/x-www-form-urlencoded",
    }


def test_multipart_upload(proxy: str) -> None:
    payload = os.urandom(300_000)
    response = httpx.post(f"{proxy}/echo", files={"file": ("photo.jpg", payload, "image/jpeg")}, timeout=10)
    data = echo(response)
    assert data["body_size"] > len(payload)
    assert received_headers(data)["content-type"][0].startswith("multipart/form-data; boundary=")


def test_large_upload_streams_in_bounded_memory(proxied: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, proc = proxied
    size = 32 * MB
    block = os.urandom(MB)
    expected = hashlib.sha256()
    for _ in range(size // MB):
        expected.update(block)

    def chunks() -> Iterator[bytes]:
        for _ in range(size // MB):
            yield block

    httpx.get(f"{url}/echo", timeout=10)  # warm up
    before = peak_rss(proc)
    chunked = echo(httpx.put(f"{url}/echo", content=chunks(), timeout=60))
    sized = echo(httpx.put(f"{url}/echo", content=chunks(), headers={"content-length": str(size)}, timeout=60))
    grown = peak_rss(proc) - before
    for data in (chunked, sized):
        assert data["body_size"] == size
        assert data["body_sha256"] == expected.hexdigest()
    assert "transfer-encoding" in received_headers(chunked)
    assert received_headers(sized)["content-length"] == [str(size)]
    assert grown < 16 * MB, f"proxy memory grew by {grown / MB:.1f} MB for a {size // MB} MB upload"


def test_large_download_streams_in_bounded_memory(proxied: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, proc = proxied
    size = 32 * MB
    expected = hashlib.sha256()

    async def reference() -> None:
        async for piece in upstream_app.download_bytes(size):
            expected.update(piece)

    asyncio.run(reference())
    before = peak_rss(proc)
    for length in ("0", "1"):
        got = hashlib.sha256()
        received = 0
        with httpx.stream("GET", f"{url}/download?bytes={size}&length={length}", timeout=60) as response:
            assert response.status_code == 200
            if length == "1":
                assert response.headers["content-length"] == str(size)
            else:
                assert response.headers["transfer-encoding"] == "chunked"
            for piece in response.iter_raw():
                got.update(piece)
                received += len(piece)
        assert received == size
        assert got.hexdigest() == expected.hexdigest()
    grown = peak_rss(proc) - before
    assert grown < 16 * MB, f"proxy memory grew by {grown / MB:.1f} MB for a {size // MB} MB download"


def test_streaming_response_is_not_buffered(proxy: str, upstream: str) -> None:
    token = uuid.uuid4().hex
    with httpx.stream("GET", f"{proxy}/stream-gate?token={token}", timeout=10) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        pieces = response.iter_raw()
        first = next(pieces)
        # The upstream has not finished (it waits for the release), yet the first chunk is here.
        assert first == b"first chunk\n"
        assert httpx.get(f"{upstream}/release?token={token}", timeout=10).text == "released"
        rest = b"".join(pieces)
    assert rest == b"second chunk\n"


def test_chunked_response_passes_whole(proxy: str) -> None:
    response = httpx.get(f"{proxy}/stream?chunks=20", timeout=10)
    assert response.text == "".join(f"chunk {i}\n" for i in range(20))
    assert "content-length" not in response.headers


def test_compressed_body_passes_untouched(proxy: str, upstream: str) -> None:
    head = b"GET /compressed HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    status, headers, body = raw_request(proxy, head)
    assert status == 200
    assert ("content-encoding", "gzip") in headers
    assert body == upstream_app.COMPRESSED


# ---------------------------------------------------------------------------
# status codes, redirects, cookies, URLs


@pytest.mark.parametrize("code", [201, 204, 304, 400, 404, 418, 500, 503])
def test_status_codes_pass_through(proxy: str, code: int) -> None:
    response = httpx.get(f"{proxy}/status/{code}", timeout=10)
    assert response.status_code == code
    if code not in (204, 304):
        assert response.text == f"status {code}"


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirects_are_passed_on_with_location_pointing_at_the_proxy(proxy: str, code: int) -> None:
    response = httpx.get(f"{proxy}/redirect/{code}", follow_redirects=False, timeout=10)
    assert response.status_code == code
    assert response.headers["location"] == f"{proxy}/landed?from=redirect&x=%2F"


def test_other_redirects_are_left_alone(proxy: str) -> None:
    external = httpx.get(f"{proxy}/redirect-external", timeout=10)
    assert external.status_code == 302
    assert external.headers["location"] == "https://example.org/elsewhere?a=1"
    relative = httpx.get(f"{proxy}/redirect-relative", timeout=10)
    assert relative.status_code == 303
    assert relative.headers["location"] == "/landed?rel=1"


def test_several_set_cookie_headers_are_kept(proxy: str) -> None:
    response = httpx.get(f"{proxy}/cookies", timeout=10)
    cookies = response.headers.get_list("set-cookie")
    assert cookies == [
        "session=abc123; Path=/; HttpOnly",
        "prefs=dark; Path=/; SameSite=Lax",  # Domain=<upstream host> dropped: the cookie is the proxy's
        "tracker=xyz; Path=/; Domain=.example.org",
    ]


def test_query_string_and_path_are_byte_exact(proxy: str) -> None:
    target = b"/echo/a%2Fb/%7Euser?x=1&y=%20z&y=2&empty=&flag&q=a+b;c='d'&e=%zz&s=a/b?c&u=%E2%82%AC"
    head = b"GET " + target + b" HTTP/1.1\r\nHost: reader.example\r\nConnection: close\r\n\r\n"
    status, _, body = raw_request(proxy, head)
    assert status == 200
    data = json.loads(body)
    path, _, query = target.partition(b"?")
    assert data["raw_path"].encode("latin-1") == path
    assert data["query_string"].encode("latin-1") == query


def test_request_cookies_reach_the_upstream_and_are_never_shared(proxy: str) -> None:
    first = echo(httpx.get(f"{proxy}/echo", cookies={"session": "reader-one"}, timeout=10))
    assert "session=reader-one" in received_headers(first)["cookie"][0]
    httpx.get(f"{proxy}/cookies", timeout=10)  # the upstream sets cookies on the shared client's way back
    second = echo(httpx.get(f"{proxy}/echo", timeout=10))
    assert "cookie" not in received_headers(second)


# ---------------------------------------------------------------------------
# headers


def test_host_and_forwarding_headers(proxy: str, upstream: str) -> None:
    data = echo(httpx.get(f"{proxy}/echo", timeout=10))
    headers = received_headers(data)
    assert headers["host"] == [httpx.URL(upstream).netloc.decode()]
    assert headers["x-forwarded-host"] == [httpx.URL(proxy).netloc.decode()]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-forwarded-for"] == ["127.0.0.1"]


def test_hop_by_hop_request_headers_are_dropped(proxy: str) -> None:
    head = (
        b"POST /echo HTTP/1.1\r\nHost: reader.example\r\n"
        b"Connection: close, X-Hop-Secret\r\nX-Hop-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
        b"Trailer: X-Sum\r\nProxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\n"
        b"Transfer-Encoding: chunked\r\nX-End-To-End: yes\r\n\r\n"
    )
    status, _, body = raw_request(proxy, head, b"5\r\nhello\r\n0\r\n\r\n")
    assert status == 200
    data = json.loads(body)
    headers = received_headers(data)
    for name in ("x-hop-secret", "keep-alive", "te", "trailer", "proxy-authorization", "proxy-connection"):
        assert name not in headers, name
    assert "x-hop-secret" not in ",".join(headers.get("connection", []))
    assert headers["x-end-to-end"] == ["yes"]
    assert data["body_size"] == 5


def test_hop_by_hop_response_headers_are_dropped(proxy: str) -> None:
    response = httpx.get(f"{proxy}/hop", timeout=10)
    assert response.text == "hop"
    for name in ("x-hop-secret", "keep-alive", "proxy-authenticate", "trailer"):
        assert name not in response.headers, name
    assert "x-hop-secret" not in response.headers.get("connection", "")
    assert response.headers["x-end-to-end"] == "kept"


def test_forwarding_headers_from_an_untrusted_peer_are_ignored(proxy: str) -> None:
    spoofed = {
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Real-IP": "203.0.113.9",
        "Forwarded": "for=203.0.113.9",
    }
    headers = received_headers(echo(httpx.get(f"{proxy}/echo", headers=spoofed, timeout=10)))
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert headers["x-forwarded-host"] == [httpx.URL(proxy).netloc.decode()]
    assert headers["x-forwarded-proto"] == ["http"]
    assert "x-real-ip" not in headers
    assert "forwarded" not in headers
    redirect = httpx.get(f"{proxy}/redirect/302", headers=spoofed, timeout=10)
    assert redirect.headers["location"].startswith(f"{proxy}/landed")


def test_forwarding_headers_from_a_trusted_proxy_are_extended(trusting_proxy: str, upstream: str) -> None:
    sent = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "news.example", "X-Forwarded-Proto": "https"}
    headers = received_headers(echo(httpx.get(f"{trusting_proxy}/echo", headers=sent, timeout=10)))
    assert headers["x-forwarded-for"] == ["203.0.113.9, 127.0.0.1"]
    assert headers["x-forwarded-host"] == ["news.example"]
    assert headers["x-forwarded-proto"] == ["https"]
    assert headers["host"] == [httpx.URL(upstream).netloc.decode()]
    redirect = httpx.get(f"{trusting_proxy}/redirect/302", headers=sent, timeout=10)
    assert redirect.headers["location"] == "https://news.example/landed?from=redirect&x=%2F"


def test_several_workers_serve_the_same_settings(trusting_proxy: str) -> None:
    for _ in range(6):
        response = httpx.get(f"{trusting_proxy}/article", timeout=10)
        assert response.text.count(CTA) == 1
        assert_no_leak(response.content, UPSTREAM_SECRET_WORDS)


# ---------------------------------------------------------------------------
# failures


def test_upstream_down_gets_a_502_page(dead_proxy: str) -> None:
    response = httpx.get(f"{dead_proxy}/articles/anything", timeout=10)
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "cannot be reached" in response.text
    assert response.headers["cache-control"] == "no-store"


def test_slow_upstream_gets_a_504_page(proxy: str) -> None:
    response = httpx.get(f"{proxy}/slow?seconds=5", timeout=10)
    assert response.status_code == 504
    assert "took too long" in response.text


def test_connection_limit_is_applied(narrow_proxy: str, upstream: str) -> None:
    token = uuid.uuid4().hex
    with httpx.stream("GET", f"{narrow_proxy}/stream-gate?token={token}&trickle=1", timeout=10) as held:
        pieces = held.iter_raw()
        assert next(pieces).startswith(b"first chunk\n")  # the only upstream connection is busy now
        busy = httpx.get(f"{narrow_proxy}/echo", timeout=10)
        assert busy.status_code == 503
        assert "busy" in busy.text
        httpx.get(f"{upstream}/release?token={token}", timeout=10)
        assert b"".join(pieces).endswith(b"second chunk\n")
    assert echo(httpx.get(f"{narrow_proxy}/echo", timeout=10))["method"] == "GET"


def test_a_reader_who_hangs_up_frees_the_upstream_connection(narrow_proxy: str, upstream: str) -> None:
    token = uuid.uuid4().hex
    with httpx.stream("GET", f"{narrow_proxy}/stream-gate?token={token}&trickle=1", timeout=10) as held:
        pieces = held.iter_raw()
        assert next(pieces).startswith(b"first chunk\n")
    # The reader is gone while the upstream still streams: its one connection must be free again.
    assert echo(httpx.get(f"{narrow_proxy}/echo", timeout=10))["method"] == "GET"
    httpx.get(f"{upstream}/release?token={token}", timeout=10)


def test_proxy_still_works_after_failures(proxy: str) -> None:
    assert httpx.get(f"{proxy}/slow?seconds=5", timeout=10).status_code == 504
    assert echo(httpx.get(f"{proxy}/echo", timeout=10))["method"] == "GET"


# ---------------------------------------------------------------------------
# in process: lifespan, websockets, the upstream's base path


@pytest.mark.anyio
async def test_lifespan_opens_and_closes_the_shared_client() -> None:
    app = ProxyApp("http://127.0.0.1:9", PaywallSettings(secret_key=SECRET))
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []
    clients: list[Any] = []

    async def receive() -> dict[str, Any]:
        clients.append(app._client)
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert clients[1] is not None  # created at start-up
    assert app._client is None  # closed at shutdown


@pytest.mark.anyio
async def test_websocket_is_refused_politely() -> None:
    app = ProxyApp("http://127.0.0.1:9", PaywallSettings(secret_key=SECRET))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "websocket", "path": "/live", "headers": []}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1000, "reason": "websockets are not proxied"}]


@pytest.mark.anyio
async def test_upstream_base_path_is_added_and_removed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"location": "http://cms.internal:8080/blog/landed?a=1"}, stream=_Empty())

    app = ProxyApp(
        "http://cms.internal:8080/blog/",
        PaywallSettings(secret_key=SECRET),
        transport=httpx.MockTransport(handler),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://news.example") as client:
        response = await client.get("/story?x=%2F")
    await app.aclose()
    assert seen[0].url.raw_path == b"/blog/story?x=%2F"
    assert seen[0].headers["host"] == "cms.internal:8080"
    assert response.headers["location"] == "https://news.example/landed?a=1"


def test_a_bad_upstream_url_is_refused() -> None:
    with pytest.raises(ValueError, match="upstream"):
        ProxyApp("ftp://example.org", PaywallSettings(secret_key=SECRET))


@pytest.mark.anyio
async def test_public_url_is_the_origin_the_upstream_is_told_about() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(301, headers={"location": "http://cms.internal/next"}, stream=_Empty())

    settings = PaywallSettings(secret_key=SECRET, public_url="https://news.example")
    app = ProxyApp("http://cms.internal", settings, transport=httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://evil.example") as client:
        response = await client.get("/story", headers={"X-Forwarded-Host": "evil.example"})
    await app.aclose()
    assert seen[0].headers["x-forwarded-host"] == "news.example"
    assert seen[0].headers["x-forwarded-proto"] == "https"
    assert seen[0].headers["host"] == "cms.internal"
    assert response.headers["location"] == "https://news.example/next"


class _Empty(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b""
