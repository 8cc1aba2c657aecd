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

import h11
import httpx
import pytest

from paywall.http.proxy import ProxyApp
from paywall.settings import PaywallSettings
from tests.apps import upstream_app
from tests.asgi import call
from tests.conftest import SECRET, assert_no_leak
from tests.servers import ROOT, UVICORN_SERVERS, free_port, run_process, run_uvicorn, spawned

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


@pytest.fixture(scope="module", params=UVICORN_SERVERS, ids=[http for http, _ in UVICORN_SERVERS])
def proxied(upstream: str, tmp: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The upstream app behind the proxy; the connecting peer (127.0.0.1) is not trusted.

    Served behind each of uvicorn's HTTP parsers and loops (:data:`~tests.servers.UVICORN_SERVERS`).
    """
    http, loop = request.param
    args = ["--http", http, "--loop", loop]
    with spawn_proxy(upstream, tmp, env={"PAYWALL_UPSTREAM_TIMEOUT": "1"}, args=args) as running:
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


# ---------------------------------------------------------------------------
# in process: what the upstream receives is what the paywall judged


class _Recorder:
    """An upstream (``httpx.MockTransport``) that records every request it gets."""

    def __init__(self, *, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.headers = list(headers)
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.content)
        return httpx.Response(200, headers=self.headers, stream=httpx.ByteStream(b"ok"))


async def _asgi(app: ProxyApp, path: str, **options: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One request straight into the ASGI app, with an exact scope (what a server such as uvicorn builds)."""
    result = await call(app, path, **options)
    return result.status, result.headers, result.body


def _proxy(upstream: _Recorder | httpx.AsyncBaseTransport, **settings: Any) -> ProxyApp:
    transport = upstream.transport if isinstance(upstream, _Recorder) else upstream
    return ProxyApp("http://up.internal", PaywallSettings(secret_key=SECRET, **settings), transport=transport)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "raw_path"),
    [
        ("/static/../articles/story", None),
        ("/static/./../articles/story", None),
        ("/./x", None),
        ("/a/..", None),
        ("/..", None),
        ("/../articles/story", None),
        ("/static/../articles/story", b"/static/%2e%2e/articles/story"),  # uvicorn decodes path
        ("/static/../articles/story", b"/static/%2E./articles/story"),
        ("/static/../articles/story", b"/static%2F..%2Farticles/story"),
        ("/static/..\\articles/story", b"/static/..%5Carticles/story"),  # IIS reads \ as /
        ("/static/..;/articles/story", None),  # Tomcat strips ;params before resolving
        ("/static/.;x/../articles", None),
    ],
)
async def test_paths_with_dot_segments_are_refused_not_forwarded(path: str, raw_path: bytes | None) -> None:
    upstream = _Recorder()
    app = _proxy(upstream)
    status, headers, body = await _asgi(app, path, raw_path=raw_path)
    await app.aclose()
    assert status == 400
    assert (b"content-type", b"text/html; charset=utf-8") in headers
    assert b"path segments are not accepted" in body
    assert upstream.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path", ["/.well-known/security.txt", "/a..b/c.", "/.../x", "/a/.hidden/..more", "/v1.2/..x;..", "/;../x"]
)
async def test_paths_that_only_contain_dots_are_forwarded_as_sent(path: str) -> None:
    upstream = _Recorder()
    app = _proxy(upstream)
    status, _, _ = await _asgi(app, path)
    await app.aclose()
    assert status == 200
    assert [r.url.raw_path for r in upstream.requests] == [path.encode()]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "raw_path", "query", "forwarded"),
    [
        # raw_path decodes to the judged path: the reader's bytes go on unchanged
        ("/echo/a/b/~user", b"/echo/a%2Fb/%7Euser", b"", b"/echo/a%2Fb/%7Euser"),
        ("/caf\ufffd", b"/caf%FF", b"", b"/caf%FF"),
        ("/a#b?c", b"/a#b?c", b"x=1#y", b"/a%23b%3Fc?x=1%23y"),  # httpx would split a literal # or ?
        # raw_path that says something else than the judged path: the judged path wins
        ("/static/x", b"/articles/story", b"", b"/static/x"),
        ("/articles/a/b", b"/articles/a%252Fb", b"", b"/articles/a/b"),
        ("/100%/a b", b"", b"q=1", b"/100%25/a%20b?q=1"),  # no raw_path at all
        ("/caf\u00e9", b"/caf\xc3\xa9", b"", b"/caf%C3%A9"),
    ],
)
async def test_the_upstream_gets_the_path_that_was_judged(
    path: str, raw_path: bytes, query: bytes, forwarded: bytes
) -> None:
    upstream = _Recorder()
    app = _proxy(upstream)
    status, _, _ = await _asgi(app, path, raw_path=raw_path, query=query)
    await app.aclose()
    assert status == 200
    assert [r.url.raw_path for r in upstream.requests] == [forwarded]
    assert upstream.requests[0].url.host == "up.internal"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "http://evil.example/articles/story"),
        ("GET", "http://news.example/articles/story"),  # even the proxy's own host: the whole URL was judged
        ("OPTIONS", "*"),
        ("GET", ""),
        ("GET", "articles/story"),
    ],
)
async def test_targets_that_are_not_paths_get_a_400_page(method: str, target: str) -> None:
    upstream = _Recorder()
    app = _proxy(upstream)
    status, headers, body = await _asgi(app, target, method=method)
    await app.aclose()
    assert status == 400
    assert (b"content-type", b"text/html; charset=utf-8") in headers
    assert b"not a path on this site" in body
    assert upstream.requests == []


SPOOFABLE = [
    b"X-Forwarded-Prefix",
    b"x-forwarded-ssl",
    b"x-forwarded-scheme",
    b"x-forwarded-server",
    b"x-forwarded-port",
    b"x-forwarded-uri",
    b"x-forwarded",
    b"forwarded",
    b"x-real-ip",
    b"true-client-ip",
    b"x-client-ip",
    b"x-cluster-client-ip",
    b"cf-connecting-ip",
    b"x-original-url",
    b"x-rewrite-url",
    b"x-original-host",
    b"x-host",
    b"x_forwarded_prefix",  # PHP and WSGI read it as X-Forwarded-Prefix
    b"X_Real_IP",
]


@pytest.mark.anyio
async def test_every_forwarding_header_from_an_untrusted_peer_is_dropped() -> None:
    upstream = _Recorder()
    app = _proxy(upstream, trusted_proxies=("10.0.0.0/8",))
    sent = [(name, b"/evil") for name in SPOOFABLE]
    sent += [(b"x_forwarded_for", b"6.6.6.6"), (b"x-forwarded-host", b"evil.example")]
    sent += [(b"x-http-method-override", b"PUT"), (b"x-forwarded-by-the-site", b"kept?")]
    status, _, _ = await _asgi(app, "/echo", headers=sent)
    await app.aclose()
    assert status == 200
    received = upstream.requests[0].headers
    for name in SPOOFABLE:
        assert name.decode() not in received, name
    assert "x_forwarded_for" not in received
    assert "x-forwarded-by-the-site" not in received  # every X-Forwarded-* name
    assert received.get_list("x-forwarded-for") == ["203.0.113.9"]
    assert received.get_list("x-forwarded-host") == ["news.example"]
    assert received.get_list("x-forwarded-proto") == ["http"]
    # Method override is the site's own (app-level) feature: the paywall judges responses, not methods.
    assert received["x-http-method-override"] == "PUT"


@pytest.mark.anyio
async def test_forwarding_headers_from_a_trusted_peer_are_kept_and_the_chain_extended() -> None:
    upstream = _Recorder()
    app = _proxy(upstream, trusted_proxies=("10.0.0.0/8",))
    sent = [
        (b"x-forwarded-prefix", b"/blog"),
        (b"x-real-ip", b"198.51.100.7"),
        (b"x-forwarded-for", b"198.51.100.7"),
        (b"x_forwarded_for", b"6.6.6.6"),  # a second spelling of the rebuilt header never goes on
        (b"x-forwarded-proto", b"https"),
    ]
    status, _, _ = await _asgi(app, "/echo", headers=sent, client=("10.0.0.2", 40000))
    await app.aclose()
    assert status == 200
    received = upstream.requests[0].headers
    assert received["x-forwarded-prefix"] == "/blog"
    assert received["x-real-ip"] == "198.51.100.7"
    assert received.get_list("x-forwarded-for") == ["198.51.100.7, 10.0.0.2"]
    assert received["x-forwarded-proto"] == "https"
    assert "x_forwarded_for" not in received


@pytest.mark.anyio
@pytest.mark.parametrize(
    "framing",
    [
        [(b"content-length", b"4"), (b"transfer-encoding", b"chunked")],
        [(b"transfer-encoding", b"chunked"), (b"Content-Length", b"4")],
        [(b"content-length", b"999"), (b"transfer-encoding", b"gzip, chunked")],
    ],
)
async def test_content_length_is_not_forwarded_with_transfer_encoding(framing: list[tuple[bytes, bytes]]) -> None:
    upstream = _Recorder()
    app = _proxy(upstream)
    chunks = [b"abcd", b"GET /SMUGGLED HTTP/1.1\r\nHost: up\r\n\r\n"]
    status, _, _ = await _asgi(app, "/upload", method="POST", headers=framing, chunks=chunks)
    await app.aclose()
    assert status == 200
    (request,) = upstream.requests
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"  # httpx frames the de-chunked body anew
    assert upstream.bodies == [b"".join(chunks)]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("length", "chunks"),
    [
        ([b"4"], [b"abcd", b"efgh"]),  # a body longer than announced (a server that does not check)
        ([b"8"], [b"abcd"]),  # shorter
        ([b"4", b"5"], [b"abcd"]),  # two lengths that disagree
        ([b"4, 5"], [b"abcd"]),
        ([b"-4"], [b"abcd"]),
        ([b"0x4"], [b"abcd"]),
    ],
)
async def test_a_body_that_does_not_match_its_length_gets_a_400(length: list[bytes], chunks: list[bytes]) -> None:
    upstream = _Recorder()
    app = _proxy(upstream)
    headers = [(b"content-length", value) for value in length]
    status, _, body = await _asgi(app, "/upload", method="POST", headers=headers, chunks=chunks)
    await app.aclose()
    assert status == 400
    assert b"Error 400" in body
    assert upstream.requests == []


@pytest.mark.anyio
async def test_repeated_equal_content_lengths_go_on_once() -> None:
    upstream = _Recorder()
    app = _proxy(upstream)
    headers = [(b"content-length", b"4"), (b"content-length", b"4, 4")]
    status, _, _ = await _asgi(app, "/upload", method="POST", headers=headers, chunks=[b"ab", b"cd"])
    await app.aclose()
    assert status == 200
    assert upstream.requests[0].headers.get_list("content-length") == ["4"]
    assert upstream.bodies == [b"abcd"]


def test_no_byte_beyond_content_length_reaches_a_real_upstream() -> None:
    """Over a socket: a body longer than its Content-Length stops at the length, and the reader gets a 400."""

    async def go() -> tuple[int, bytes]:
        received = bytearray()
        done = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                with contextlib.suppress(TimeoutError, ConnectionError):
                    while data := await asyncio.wait_for(reader.read(65536), 1):
                        received.extend(data)
            finally:
                writer.close()
                done.set()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        upstream = f"http://127.0.0.1:{port}"
        app = ProxyApp(upstream, PaywallSettings(secret_key=SECRET, upstream_timeout=3.0))
        try:
            chunks = [b"abcd", b"GET /SMUGGLED HTTP/1.1\r\nHost: up\r\n\r\n"]
            headers = [(b"content-length", b"4")]
            status, _, _ = await _asgi(app, "/upload", method="POST", headers=headers, chunks=chunks)
        finally:
            await app.aclose()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 3)
            server.close()
            await server.wait_closed()
        return status, bytes(received)

    status, received = asyncio.run(go())
    assert status == 400
    assert b"SMUGGLED" not in received
    _, _, body = received.partition(b"\r\n\r\n")
    assert body == b"abcd"


class _Exploding(httpx.AsyncBaseTransport):
    """A transport failing with an error httpx does not map (as h11's LocalProtocolError escapes it)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise h11.LocalProtocolError("Too much data for declared Content-Length")


@pytest.mark.anyio
async def test_an_unmapped_transport_error_gets_a_502_page_not_a_500() -> None:
    app = _proxy(_Exploding())
    status, headers, body = await _asgi(
        app, "/upload", method="POST", headers=[(b"content-length", b"2")], chunks=[b"ab"]
    )
    await app.aclose()
    assert status == 502
    assert (b"cache-control", b"no-store") in headers
    assert b"cannot be reached" in body


@pytest.mark.anyio
async def test_cookie_domain_naming_the_upstream_is_dropped_however_it_is_written() -> None:
    cookies = [
        "a=1; Domain=up.internal; Path=/",
        "b=2; Domain = up.internal; Path=/",
        "c=3;domain=.UP.Internal;Path=/",
        "d=4; Path=/;  DOMAIN\t=\t.up.internal. ; HttpOnly",
        "e=5; Domain=example.org; Path=/",  # another domain: the site's choice, left alone
        "f=6; Domain=sub.up.internal; Path=/",
        "g=7; Path=/; X-Domain=up.internal",
    ]
    upstream = _Recorder(headers=[("set-cookie", c) for c in cookies])
    app = _proxy(upstream)
    status, headers, _ = await _asgi(app, "/cookie")
    await app.aclose()
    assert status == 200
    assert [v.decode() for k, v in headers if k == b"set-cookie"] == [
        "a=1; Path=/",
        "b=2; Path=/",
        "c=3;Path=/",
        "d=4; Path=/; HttpOnly",
        "e=5; Domain=example.org; Path=/",
        "f=6; Domain=sub.up.internal; Path=/",
        "g=7; Path=/; X-Domain=up.internal",
    ]
