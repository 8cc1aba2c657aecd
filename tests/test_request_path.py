"""Every HTTP route to a page is judged by what the page is; personalised answers are never shared.

The site (``tests/apps/edge_site.py``) answers ranges, conditionals and odd
types the way real servers do; each case runs against the middleware alone and
against the middleware in front of the reverse proxy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from paywall import PaywallMiddleware, PaywallSettings
from paywall.http.proxy import ProxyApp
from tests.apps import edge_site
from tests.apps.edge_site import SECRET_WORDS, TEASER
from tests.asgi import Result, call, http_scope
from tests.browser import chromium
from tests.conftest import SECRET, assert_no_leak
from tests.servers import run_uvicorn

Make = Callable[..., PaywallSettings]
CTA = 'class="paywall-cta"'


def fetch(settings: PaywallSettings, via: str, path: str, **options: Any) -> Result:
    """One request through the middleware, wrapping the site itself or a proxy to it."""

    async def go() -> Result:
        if via == "app":
            mw = PaywallMiddleware(edge_site.app, settings=settings)
            try:
                return await call(mw, path, **options)
            finally:
                await mw.store.aclose()
        proxy = ProxyApp("http://edge.internal", settings, transport=httpx.ASGITransport(app=edge_site.app))
        mw = PaywallMiddleware(proxy, settings=settings)
        try:
            return await call(mw, path, **options)
        finally:
            await proxy.aclose()
            await mw.store.aclose()

    return asyncio.run(go())


def assert_gated(result: Result) -> None:
    assert result.status == 200
    assert_no_leak(result.body, SECRET_WORDS)
    assert result.body.count(CTA.encode()) == 1
    assert TEASER[0].encode() in result.body


VIA = ["app", "proxy"]


@pytest.mark.parametrize("shape", [tuple, iter])
@pytest.mark.parametrize("coding", [b"gzip, zstd", b"gzip"])
def test_request_headers_in_any_iterable_of_pairs_are_read(
    make_settings: Make, shape: Callable[..., Any], coding: bytes
) -> None:
    """ASGI allows any iterable of pairs: a tuple, or an iterator read once, is read as the list a server gives,
    by the paywall and by the app, whether the paywall changes the headers (narrows the codings) or not."""
    seen: list[list[tuple[bytes, bytes]]] = []

    async def site(scope: Any, receive: Any, send: Any) -> None:
        seen.append(list(scope["headers"]))
        await edge_site.app(scope, receive, send)

    async def go() -> Result:
        mw = PaywallMiddleware(site, settings=make_settings())
        scope = http_scope("/story", headers=[(b"accept-encoding", coding), (b"user-agent", b"Mozilla/5.0")])
        scope["headers"] = shape(scope["headers"])
        result = Result(0)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                result.status, result.headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                result.body += message.get("body", b"")

        try:
            await mw(scope, receive, send)
        finally:
            await mw.store.aclose()
        return result

    assert_gated(asyncio.run(go()))
    assert (b"accept-encoding", b"gzip") in seen[0] and (b"user-agent", b"Mozilla/5.0") in seen[0]


# --------------------------------------------------------------------------- ranges and conditionals


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("accept", [b"application/json", b"image/webp,*/*", b"text/css", None])
@pytest.mark.parametrize("ranges", [b"bytes=0-99, 100-", b"bytes=0-", b"bytes=0-0,1-1,2-"])
def test_range_request_never_gets_the_article(
    make_settings: Make, via: str, accept: bytes | None, ranges: bytes
) -> None:
    headers = [(b"range", ranges)] + ([(b"accept", accept)] if accept is not None else [])
    result = fetch(make_settings(), via, "/story", headers=headers)
    assert_gated(result)
    assert result.header("content-range") is None


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("accept", [b"application/json", b"image/webp,*/*"])
def test_conditional_request_with_another_accept_is_judged_by_the_page(
    make_settings: Make, via: str, accept: bytes
) -> None:
    headers = [(b"if-none-match", edge_site.ETAG), (b"accept", accept)]
    result = fetch(make_settings(), via, "/story", headers=headers)
    assert_gated(result)


@pytest.mark.parametrize("via", VIA)
def test_range_request_for_a_page_by_post_is_refused_too(make_settings: Make, via: str) -> None:
    headers = [(b"range", b"bytes=0-99, 100-"), (b"accept", b"application/json")]
    result = fetch(make_settings(), via, "/story", method="POST", headers=headers)
    assert_no_leak(result.body, SECRET_WORDS)
    assert CTA.encode() in result.body


@pytest.mark.parametrize("via", VIA)
def test_member_range_request_is_answered_as_the_site_answered(make_settings: Make, via: str) -> None:
    settings = make_settings(member_resolver=lambda request: True, copy_protection="off")
    result = fetch(settings, via, "/story", headers=[(b"range", b"bytes=0-99, 100-")])
    assert result.status == 206
    assert (result.header("content-type") or "").startswith("multipart/byteranges")


# --------------------------------------------------------------------------- types


MALFORMED_TYPES = ["text/html charset=utf-8", "text /html", "html", "text/html;charset=utf-8, text/html x", ""]


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("content_type", MALFORMED_TYPES)
def test_malformed_content_type_is_sniffed_as_a_browser_does(make_settings: Make, via: str, content_type: str) -> None:
    result = fetch(make_settings(), via, "/story", query=b"type=" + quote(content_type).encode())
    assert_gated(result)
    assert result.header("content-type") == "text/html; charset=utf-8"


# --------------------------------------------------------------------------- head injection


def member_page(make_settings: Make, kind: str, via: str = "app") -> bytes:
    settings = make_settings(member_resolver=lambda request: True, copy_protection="block")
    result = fetch(settings, via, f"/head/{kind}")
    assert result.status == 200
    assert all(word.encode() in result.body for word in SECRET_WORDS), "a member reads the whole article"
    return result.body


TAG = b"<script defer src="


@pytest.mark.parametrize("via", VIA)
def test_tags_after_a_large_head_keep_the_doctype_first(make_settings: Make, via: str) -> None:
    body = member_page(make_settings, "big", via)
    assert body.startswith(b"<!DOCTYPE html>")
    assert body.count(TAG) == 1
    at = body.index(TAG)
    assert body.index(b"</script>", body.index(b"application/ld+json")) < at < body.index(b"</head>")
    assert body.replace(body[body.rindex(b"<link", 0, at) : body.index(b"</script>", at) + 9], b"") == (
        edge_site.head_page("big")
    )


@pytest.mark.parametrize("kind", ["title", "attr", "comment"])
def test_tags_never_land_in_text_or_attributes(make_settings: Make, kind: str) -> None:
    body = member_page(make_settings, kind)
    original = edge_site.head_page(kind)
    at = body.index(TAG)
    link = body.rindex(b"<link", 0, at)
    assert body[:link] + body[body.index(b"</script>", at) + 9 :] == original
    real_end = original.rindex(b"</head><body>")
    assert link == real_end, "the tags go right before the real end of the head"


# --------------------------------------------------------------------------- shared caches

CDN_NAMES = ["surrogate-control", "cdn-cache-control", "cloudflare-cdn-cache-control", "x-accel-expires"]


def assert_not_shared(result: Result) -> None:
    cache_control = result.header("cache-control") or ""
    assert "private" in cache_control and "public" not in cache_control
    for name in CDN_NAMES:  # removed: every layer falls back to Cache-Control
        assert result.header_list(name) == [], name
    assert "cookie" in (result.header("vary") or "").lower()


@pytest.mark.parametrize("via", VIA)
def test_gated_page_tells_every_cache_not_to_share_it(make_settings: Make, via: str) -> None:
    result = fetch(make_settings(), via, "/story")
    assert_gated(result)
    assert_not_shared(result)


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("protection", ["off", "block"])
def test_member_page_tells_every_cache_not_to_share_it(make_settings: Make, via: str, protection: str) -> None:
    settings = make_settings(member_resolver=lambda request: True, copy_protection=protection)
    result = fetch(settings, via, "/story")
    assert SECRET_WORDS[0].encode() in result.body
    assert_not_shared(result)


def test_metered_read_tells_every_cache_not_to_share_it(make_settings: Make) -> None:
    result = fetch(make_settings(free_articles=3), "app", "/story")
    assert SECRET_WORDS[0].encode() in result.body
    assert_not_shared(result)


# --------------------------------------------------------------------------- in a browser


@pytest.mark.browser
def test_member_pages_render_as_the_site_made_them_in_chromium(tmp_path: Path) -> None:
    env = {
        "PAYWALL_SECRET_KEY": SECRET,
        "PAYWALL_STORE": f"sqlite:///{tmp_path / 'paywall.db'}",
        "PAYWALL_MEMBER_RESOLVER": "tests.apps.edge_site:always_member",
        "PAYWALL_COPY_PROTECTION": "block",
    }
    with run_uvicorn("tests.apps.edge_site:build_app", env, factory=True) as url, chromium() as browser:
        page = browser.new_page()
        for kind, title in [
            ("big", "Story"),
            ("title", "Why </head> matters"),
            ("attr", "Story"),
            ("comment", "Story"),
        ]:
            page.goto(f"{url}/head/{kind}")
            seen = page.evaluate(
                """() => ({
                    mode: document.compatMode,
                    title: document.title,
                    inHead: !!document.head.querySelector('script[data-paywall-protect]'),
                    meta: document.querySelector('meta[name=x]')?.getAttribute('content') ?? null,
                    text: document.body.innerText,
                })"""
            )
            assert seen["mode"] == "CSS1Compat", f"{kind}: quirks mode"
            assert seen["title"] == title and seen["inHead"], kind
            assert seen["meta"] == ("</head><body>" if kind == "attr" else None)
            assert all(word in seen["text"] for word in SECRET_WORDS)


# --------------------------------------------------------------------------- cost


def test_a_page_known_to_have_no_article_needs_no_reader(make_settings: Make) -> None:
    from starlette.testclient import TestClient

    from tests.apps import gate_app

    asked: list[str] = []

    def resolver(request: Any) -> bool:
        asked.append(request.url.path)
        return request.headers.get("x-member") == "yes"

    client = TestClient(PaywallMiddleware(gate_app.site, settings=make_settings(member_resolver=resolver)))
    home = gate_app.page("<div class='home'><h1>Front page</h1><p>Latest news.</p></div>").encode()
    assert client.get("/").content == home  # a non-member's view: the page is parsed, its verdict kept
    assert asked == ["/"]
    for headers in ({}, {"x-member": "yes"}):
        again = client.get("/", headers=headers)
        assert again.content == home and "private" not in again.headers.get("cache-control", "")
    assert asked == ["/"], "a page known to have no article is sent without asking who reads it"
    assert "tessellwyn" in client.get("/article", headers={"x-member": "yes"}).text
    assert asked == ["/", "/article"], "articles still ask"


def test_repeat_views_reuse_the_page_made_from_the_cut_only_when_it_is_the_same(make_settings: Make) -> None:
    async def go() -> list[Result]:
        mw = PaywallMiddleware(edge_site.app, settings=make_settings())
        try:
            return [await call(mw, "/story", query=query) for query in (b"", b"", b"from=home", b"")]
        finally:
            await mw.store.aclose()

    plain, again, other, last = asyncio.run(go())
    for result in (plain, again, other, last):
        assert_gated(result)
    assert plain.body == again.body == last.body and plain.header("etag") == last.header("etag")
    assert b"from%3Dhome" in other.body and other.header("etag") != plain.header("etag")
    assert b"from%3Dhome" not in last.body


# --------------------------------------------------------------------------- rules that hold on a cache hit


def test_article_paths_fail_closed_on_every_view_of_a_page_the_cache_knows(
    make_settings: Make, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    odd = "<!DOCTYPE html><html><head><title>Odd</title></head><body><p>Ibbotson ledger, in one line.</p></body></html>"
    asked: list[str] = []

    def resolver(request: Any) -> bool:
        asked.append(request.url.path)
        return request.headers.get("x-member") == "yes"

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse(odd)

    site = Starlette(routes=[Route("/news/odd", page), Route("/about", page)])
    settings = make_settings(article_paths=("/news/",), member_resolver=resolver)
    client = TestClient(PaywallMiddleware(site, settings=settings))
    assert client.get("/about").text == odd  # parsed: its verdict (no article) is kept for these bytes
    for _ in range(2):
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="paywall"):
            news, about = client.get("/news/odd"), client.get("/about")
        assert "Ibbotson" not in news.text and CTA in news.text
        assert about.text == odd
        warned = [r for r in caplog.records if "where articles live" in r.message]
        assert [r.levelno for r in warned] == [logging.WARNING]
        assert any("served whole" in r.message and r.levelno == logging.DEBUG for r in caplog.records)
    assert "Ibbotson" in client.get("/news/odd", headers={"x-member": "yes"}).text, "a member reads it whole"
    assert asked.count("/about") == 1, "a page known to have no article, off article paths, needs no reader"


def test_cookies_of_a_reader_the_app_asked_about_reach_an_answer_the_gate_passes(make_settings: Make) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    calls: list[str] = []

    async def resolver(request: Request) -> bool:
        calls.append(request.url.path)
        return False

    async def whoami(request: Request) -> JSONResponse:
        access = await request.state.paywall.access()
        return JSONResponse(access.as_json())

    settings = make_settings(free_articles=3, member_resolver=resolver)
    client = TestClient(PaywallMiddleware(Starlette(routes=[Route("/api/whoami", whoami)]), settings=settings))
    response = client.get("/api/whoami")
    assert response.json()["free_articles_left"] == 3
    assert settings.device_cookie in response.headers.get("set-cookie", ""), "the new reader's device is kept"
    assert calls == ["/api/whoami"]
