"""The gating middleware, driven in-process through real requests."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable
from typing import Any

import pytest
from bs4 import BeautifulSoup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from paywall import ConfigError, PaywallMiddleware, PaywallSettings
from tests.apps import gate_app
from tests.apps.gate_app import PNG, SECRET_WORDS, TEASER, site
from tests.asgi import call, http_scope
from tests.conftest import assert_no_leak

CTA_TITLE = "Need to access the insight?"
CTA_ACTION = "Start your 7-day free trial now"

SettingsFactory = Callable[..., PaywallSettings]


@pytest.fixture
def client(make_settings: SettingsFactory) -> TestClient:
    return TestClient(PaywallMiddleware(site, settings=make_settings()))


def assert_gated(response: Any, *, action: str = CTA_ACTION, teaser: str = TEASER[0]) -> BeautifulSoup:
    assert response.status_code == 200
    body = response.content
    assert_no_leak(body, SECRET_WORDS)
    text = body.decode("utf-8")
    assert text.count(CTA_TITLE) == 1, "exactly one call to action"
    assert text.count(action) == 1
    assert teaser in text
    soup = BeautifulSoup(body, "lxml")
    assert soup.select_one("header nav") is not None, "site chrome survives"
    assert "Read more insights" in text and "Stay informed" in text
    assert "By clicking subscribe you agree" in text
    assert int(response.headers["content-length"]) == len(body)
    assert "private" in response.headers["cache-control"]
    assert "cookie" in response.headers["vary"].lower()
    return soup


# --------------------------------------------------------------------------- gating


def test_article_is_cut_at_the_teaser_with_one_call_to_action(client: TestClient) -> None:
    response = client.get("/article")
    soup = assert_gated(response)
    link = soup.find("a", string=CTA_ACTION)
    assert link is not None and link["href"] == "/_paywall/trial?next=/article"
    kept = [p.get_text() for p in soup.select("article p") if p.get_text() in TEASER]
    assert kept == TEASER
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["etag"].startswith('"pw-')


def test_call_to_action_tells_the_configured_trial_length(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings(trial_days=14)))
    assert_gated(client.get("/article"), action="Start your 14-day free trial now")


def test_call_to_action_links_back_with_the_query(client: TestClient) -> None:
    soup = assert_gated(client.get("/article?ref=home&x=1"))
    link = soup.find("a", string=CTA_ACTION)
    assert link is not None and link["href"] == "/_paywall/trial?next=/article%3Fref%3Dhome%26x%3D1"


def test_publisher_template_replaces_the_call_to_action(make_settings: SettingsFactory) -> None:
    template = '<div class="mine"><a href="$url">$action</a> ($trial_days days)</div>'
    client = TestClient(PaywallMiddleware(site, settings=make_settings(cta_template=template)))
    response = client.get("/article")
    assert response.text.count('class="mine"') == 1
    assert "(7 days)" in response.text
    assert_no_leak(response.content, SECRET_WORDS)


def test_copies_of_the_text_elsewhere_in_the_document_are_removed(client: TestClient) -> None:
    response = client.get("/leaky")
    soup = assert_gated(response)
    # the page's scripts still hold valid data
    assert soup.select_one("script#__NEXT_DATA__") is not None


def test_related_cards_do_not_multiply_the_call_to_action(client: TestClient) -> None:
    response = client.get("/cards")
    soup = assert_gated(response)
    assert len(soup.select("article.card")) == 4
    assert soup.select_one("article.story [data-paywall-cta]") is not None


@pytest.mark.parametrize("kind", ["more", "paywall", "members", "attr"])
def test_explicit_break_wins_over_the_paragraph_count(client: TestClient, kind: str) -> None:
    response = client.get(f"/marker/{kind}")
    assert_gated(response)
    assert TEASER[1] not in response.text, "the break came after the first paragraph"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_compressed_bodies_are_decoded_before_gating(client: TestClient, coding: str) -> None:
    response = client.get(f"/encoded/{coding}", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in response.headers
    assert_gated(response)


def test_body_streamed_in_chunks_is_gated_as_a_whole(client: TestClient) -> None:
    response = client.get("/chunked")
    assert_gated(response, teaser=TEASER[1])
    assert "Grid opérateurs — «ünïcode» 電力" in response.text


def test_declared_charset_matches_the_bytes(client: TestClient) -> None:
    response = client.get("/latin1")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert_gated(response, teaser=TEASER[1])
    assert "Grid opérateurs" in response.content.decode("utf-8")


def test_xhtml_and_odd_content_type_case_are_gated(client: TestClient) -> None:
    response = client.get("/xhtml")
    assert response.headers["content-type"].startswith("application/xhtml+xml")
    assert_gated(response)


# --------------------------------------------------------------------------- what passes through


def test_free_by_header_passes_whole_and_header_is_removed(client: TestClient) -> None:
    response = client.get("/free-header")
    assert "x-paywall" not in response.headers
    assert response.text == gate_app.article_html()


def test_free_by_meta_passes_whole(client: TestClient) -> None:
    response = client.get("/free-meta")
    assert SECRET_WORDS[0] in response.text
    assert CTA_TITLE not in response.text


def test_excluded_paths_pass_whole(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings(exclude_paths=("/static/",))))
    assert client.get("/static/article").text == gate_app.article_html()


def test_json_that_carries_the_article_is_cut(client: TestClient) -> None:
    """``{"body": <the article's text>}`` is the article again: non-members get its teaser (see test_json_bodies)."""
    response = client.get("/api")
    assert response.status_code == 200
    assert response.json()["body"].startswith(TEASER[0])
    assert_no_leak(response.content, SECRET_WORDS)


@pytest.mark.parametrize(
    ("path", "status"),
    [("/image.png", 200), ("/missing", 404), ("/", 200), ("/plain", 200)],
)
def test_other_responses_pass_through_byte_for_byte(client: TestClient, path: str, status: int) -> None:
    direct = TestClient(site).get(path)
    through = client.get(path)
    assert through.status_code == status
    assert through.content == direct.content
    assert through.headers.get("content-length") == direct.headers.get("content-length")


def test_redirects_pass_through(client: TestClient) -> None:
    response = client.get("/redirect", follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == "/article"


def test_image_bytes_are_identical(client: TestClient) -> None:
    assert client.get("/image.png").content == PNG


def test_websocket_passes_through(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "hello"


def test_members_only_page_without_article_shows_only_the_call_to_action(client: TestClient) -> None:
    response = client.get("/members-only")
    assert "x-paywall" not in response.headers
    assert "tessellwyn" not in response.text
    assert response.text.count(CTA_TITLE) == 1


@pytest.mark.anyio
async def test_non_html_streams_unbuffered(make_settings: SettingsFactory) -> None:
    """Each chunk the app sends goes out before the app sends the next one."""
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(3):
            events.append(f"app {i}")
            await send({"type": "http.response.body", "body": f"{i}".encode(), "more_body": i < 2})

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            events.append(f"sent {message['body'].decode()}")

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    mw = PaywallMiddleware(app, settings=make_settings())
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "query_string": b""}
    await mw(scope, receive, send)
    assert events == ["app 0", "sent 0", "app 1", "sent 1", "app 2", "sent 2"]


# --------------------------------------------------------------------------- HTTP correctness


def test_head_agrees_with_get(client: TestClient) -> None:
    get = client.get("/article")
    head = client.head("/article")
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-length", "etag", "content-type", "cache-control", "vary"):
        assert head.headers[name] == get.headers[name], name


def test_gated_etag_revalidates_to_304(client: TestClient) -> None:
    first = client.get("/article")
    again = client.get("/article", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_full_version_validators_never_yield_304(client: TestClient) -> None:
    full = TestClient(site).get("/cached")
    response = client.get("/cached", headers={"If-None-Match": full.headers["etag"]})
    assert_gated(response)
    assert response.headers["etag"] != full.headers["etag"]
    assert "last-modified" not in response.headers
    assert "public" not in response.headers["cache-control"]


def test_range_request_never_gets_a_partial_article(client: TestClient) -> None:
    full = TestClient(site).get("/cached").content
    middle = full.index(b"tessellwyn")
    response = client.get("/cached", headers={"Range": f"bytes={middle - 10}-{middle + 200}"})
    assert response.status_code == 200
    assert "content-range" not in response.headers
    assert_gated(response)


def test_teaser_etag_sent_by_a_member_is_not_taken_for_the_full_page(make_settings: SettingsFactory) -> None:
    anon = TestClient(PaywallMiddleware(site, settings=make_settings()))
    etag = anon.get("/cached").headers["etag"]
    member = TestClient(PaywallMiddleware(site, settings=make_settings(member_resolver=lambda r: True)))
    response = member.get("/cached", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert "tessellwyn" in response.text


# --------------------------------------------------------------------------- members


def test_member_gets_the_page_as_the_app_made_it(make_settings: SettingsFactory) -> None:
    calls: list[str] = []

    def resolver(request: Request) -> bool:
        calls.append(request.url.path)
        return True

    client = TestClient(
        PaywallMiddleware(site, settings=make_settings(member_resolver=resolver, copy_protection="off"))
    )
    response = client.get("/article")
    assert response.text == gate_app.article_html()
    assert response.headers["cache-control"] == "private, no-store"
    assert calls == ["/article"], "the resolver runs once per request"


def test_async_resolver_is_awaited(make_settings: SettingsFactory) -> None:
    async def resolver(request: Request) -> bool:
        return request.headers.get("x-test-member") == "yes"

    client = TestClient(PaywallMiddleware(site, settings=make_settings(member_resolver=resolver)))
    assert "tessellwyn" in client.get("/article", headers={"x-test-member": "yes"}).text
    assert_gated(client.get("/article"))


def test_resolver_that_raises_means_non_member_and_is_logged(
    make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    def resolver(request: Request) -> bool:
        raise RuntimeError("identity provider down")

    client = TestClient(PaywallMiddleware(site, settings=make_settings(member_resolver=resolver)))
    with caplog.at_level(logging.ERROR, logger="paywall"):
        assert_gated(client.get("/article"))
    assert any("/article" in record.getMessage() for record in caplog.records)


def test_member_page_gets_protection_tags_without_losing_text(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings(member_resolver=lambda r: True)))
    response = client.get("/article")
    assert "tessellwyn" in response.text
    assert "/_paywall/protect." in response.text
    assert int(response.headers["content-length"]) == len(response.content)


# --------------------------------------------------------------------------- fail closed


def test_oversized_page_fails_closed(make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings(max_body_bytes=64 * 1024)))
    with caplog.at_level(logging.WARNING, logger="paywall"):
        response = client.get("/huge")
    assert response.status_code == 200
    assert_no_leak(response.content, SECRET_WORDS)
    assert response.text.count(CTA_TITLE) == 1
    assert any("max_body_bytes" in r.getMessage() for r in caplog.records)


def test_compression_bomb_fails_closed(make_settings: SettingsFactory) -> None:
    bomb = gzip.compress(b"<html><body><article>" + b"<p>a</p>" * 2_000_000 + b"</article></body></html>")

    async def endpoint(request: Request) -> HTMLResponse:
        return HTMLResponse(bomb, headers={"Content-Encoding": "gzip"})

    app = Starlette(routes=[Route("/bomb", endpoint)])
    client = TestClient(PaywallMiddleware(app, settings=make_settings(max_body_bytes=1024 * 1024)))
    response = client.get("/bomb", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.text.count(CTA_TITLE) == 1
    assert len(response.content) < 10_000


def test_hostile_nesting_never_leaks_or_500s(client: TestClient) -> None:
    response = client.get("/deep")
    assert response.status_code == 200
    assert_no_leak(response.content, SECRET_WORDS)
    assert response.text.count(CTA_TITLE) == 1


def test_app_that_stops_mid_body_never_leaks(make_settings: SettingsFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": gate_app.article_html().encode(), "more_body": True})

    client = TestClient(PaywallMiddleware(app, settings=make_settings()))
    response = client.get("/article")
    assert_no_leak(response.content, SECRET_WORDS)
    assert response.text.count(CTA_TITLE) == 1


# --------------------------------------------------------------------------- settings


KEY = "k-0123456789abcdefghijklmnopqrst"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trial_days", 0),
        ("teaser_paragraphs", 0),
        ("prefix", "paywall"),
        ("article_selector", "div[["),
        ("max_body_bytes", -1),
        ("cta_template", "<a href='/x'>$nope</a>"),
        ("store", "ftp://x"),
        ("secret_key", "short"),
    ],
)
def test_bad_settings_fail_at_start_up(field: str, value: object) -> None:
    values: dict[str, Any] = {"secret_key": KEY, field: value}
    with pytest.raises(ConfigError) as info:
        PaywallSettings(**values)
    assert info.value.field == field


def test_settings_are_immutable() -> None:
    settings = PaywallSettings(secret_key=KEY)
    with pytest.raises(AttributeError):
        settings.trial_days = 3  # type: ignore[misc]


def test_settings_from_env_reads_every_kind_of_field() -> None:
    settings = PaywallSettings.from_env(
        {
            "PAYWALL_SECRET_KEY": KEY,
            "PAYWALL_TRIAL_DAYS": "10",
            "PAYWALL_EXCLUDE_PATHS": "/static/, /api/",
            "PAYWALL_COOKIE_SECURE": "true",
            "PAYWALL_ARTICLE_SELECTOR": "main .story",
            "PAYWALL_UPSTREAM_TIMEOUT": "2.5",
            "OTHER": "ignored",
        }
    )
    assert settings.trial_days == 10
    assert settings.exclude_paths == ("/static/", "/api/")
    assert settings.cookie_secure is True
    assert settings.article_selector == "main .story"
    assert settings.upstream_timeout == 2.5
    with pytest.raises(ConfigError):
        PaywallSettings.from_env({"PAYWALL_SECRET_KEY": KEY, "PAYWALL_TRIAL_DAYS": "seven"})


def test_add_middleware_style_mounting(make_settings: SettingsFactory) -> None:
    app = Starlette(routes=gate_app.routes)
    app.add_middleware(PaywallMiddleware, settings=make_settings())
    assert_gated(TestClient(app).get("/article"))


def test_resolver_sees_what_inner_middleware_put_in_the_scope(make_settings: SettingsFactory) -> None:
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware

    async def login(request: Request) -> HTMLResponse:
        request.session["member"] = True
        return HTMLResponse("<p>signed in</p>")

    app = Starlette(
        routes=[*gate_app.routes, Route("/login", login)],
        middleware=[Middleware(SessionMiddleware, secret_key="session-secret")],
    )
    settings = make_settings(member_resolver=lambda request: bool(request.session.get("member")))
    client = TestClient(PaywallMiddleware(app, settings=settings))
    assert_gated(client.get("/article"))
    client.get("/login")
    assert "tessellwyn" in client.get("/article").text


def _untyped_app(chunks: list[bytes]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1})
        if not chunks:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def test_untyped_html_is_sniffed_and_gated(make_settings: SettingsFactory) -> None:
    body = gate_app.article_html().encode()
    pieces = [body[i : i + 100] for i in range(0, len(body), 100)]
    response = TestClient(PaywallMiddleware(_untyped_app(pieces), settings=make_settings())).get("/x")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert_gated(response)


@pytest.mark.parametrize("chunks", [[PNG], [b"plain words, not markup"], [], [b"{", b'"json": true}']])
def test_untyped_non_html_passes_through(make_settings: SettingsFactory, chunks: list[bytes]) -> None:
    response = TestClient(PaywallMiddleware(_untyped_app(chunks), settings=make_settings())).get("/x")
    assert response.status_code == 200
    assert response.content == b"".join(chunks)


def test_lifespan_reaches_the_app(make_settings: SettingsFactory) -> None:
    import contextlib
    from collections.abc import AsyncIterator

    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = Starlette(routes=gate_app.routes, lifespan=lifespan)
    with TestClient(PaywallMiddleware(app, settings=make_settings())) as client:
        assert_gated(client.get("/article"))
    assert events == ["startup", "shutdown"]


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-type", b"text/html; charset=bogus")],
        [(b"content-type", b"text/html; charset=utf-16")],
        [(b"content-type", b"text/html"), (b"content-encoding", b"compress")],
        [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")],
        [(b"content-type", b"text/html;;;charset=;=")],
        [(b"content-type", b"text/plain"), (b"content-type", b"text/html")],
        [(b"content-type", b"text/plain, text/html")],
        [(b"content-type", b"text/html"), (b"x-paywall", b"\xff\xfe")],
        [(b"content-type", b"text/html"), (b"content-encoding", b"gzip"), (b"content-encoding", b"gzip")],
    ],
    ids=[
        "bogus-charset",
        "wrong-charset",
        "unknown-encoding",
        "false-gzip",
        "mangled",
        "repeated",
        "joined",
        "garbage",
        "gzip-twice",
    ],
)
def test_odd_response_headers_never_let_the_article_out(
    make_settings: SettingsFactory, headers: list[tuple[bytes, bytes]]
) -> None:
    body = gate_app.article_html().encode()
    if len([h for h in headers if h[0] == b"content-encoding"]) == 2:
        body = gzip.compress(gzip.compress(body))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    response = TestClient(PaywallMiddleware(app, settings=make_settings())).get("/a")
    assert response.status_code == 200
    assert_no_leak(response.content, SECRET_WORDS)
    assert response.text.count(CTA_TITLE) == 1
    assert response.headers["content-type"] == "text/html; charset=utf-8"


@pytest.mark.anyio
async def test_member_page_streams_after_its_head(make_settings: SettingsFactory) -> None:
    """Only the bytes up to </head> wait for the protection tags; the rest streams as it comes."""
    events: list[str] = []
    parts = [b"<html><head><title>x</title></he", b"ad><body><article><p>one</p>", b"<p>two</p>", b"</article>"]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        length = str(sum(len(p) for p in parts)).encode()
        headers = [(b"content-type", b"text/html"), (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, part in enumerate(parts):
            events.append(f"app {i}")
            await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            events.append("sent")

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    mw = PaywallMiddleware(app, settings=make_settings(member_resolver=lambda request: True))
    scope = {"type": "http", "method": "GET", "path": "/a", "headers": [], "query_string": b""}
    await mw(scope, receive, send)
    assert events == ["app 0", "app 1", "sent", "app 2", "sent", "app 3", "sent"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    start = sent[0]
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()
    assert dict(start["headers"])[b"cache-control"] == b"private, no-store"
    head_end = body.index(b"</head>")
    assert b"/_paywall/protect." in body[:head_end]
    assert body.replace(body[body.index(b"<link") : head_end], b"") == b"".join(parts)


def test_member_head_agrees_with_get(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings(member_resolver=lambda r: True)))
    get = client.get("/article")
    head = client.head("/article")
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))


def test_member_page_without_a_head_still_gets_the_tags(make_settings: SettingsFactory) -> None:
    body = b"<p>" + b"no head here " * 10_000 + b"</p>"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        for i in range(0, len(body), 4096):
            await send({"type": "http.response.body", "body": body[i : i + 4096], "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    settings = make_settings(member_resolver=lambda r: True)
    response = TestClient(PaywallMiddleware(app, settings=settings)).get("/a")
    assert response.content.startswith(b"<link")
    assert response.content.endswith(body)


def test_member_page_that_ends_early_is_still_delivered(make_settings: SettingsFactory) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<html><head><title>t", "more_body": True})

    settings = make_settings(member_resolver=lambda r: True)
    response = TestClient(PaywallMiddleware(app, settings=settings)).get("/a")
    assert response.status_code == 200
    # Every byte the app sent, with the tags inside the head (never inside the unfinished title).
    assert response.content.startswith(b"<html><head><link") and response.content.endswith(b"</script><title>t")


@pytest.mark.parametrize(
    ("accept", "offered", "seen"),
    [
        ("text/html", "gzip, deflate, br, zstd", b"gzip, deflate, br"),
        ("text/html", "zstd", b"identity"),
        ("text/html", "br;q=1.0, gzip;q=0.8, *;q=0.1", b"br;q=1.0, gzip;q=0.8"),
        ("image/avif,image/webp,*/*", "gzip, zstd", b"gzip, zstd"),
    ],
)
def test_pages_are_asked_for_in_compressions_we_can_undo(
    make_settings: SettingsFactory, accept: str, offered: str, seen: bytes
) -> None:
    received: list[bytes | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        received.append(dict(scope["headers"]).get(b"accept-encoding"))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
        await send({"type": "http.response.body", "body": PNG})

    client = TestClient(PaywallMiddleware(app, settings=make_settings()))
    client.get(
        "/logo.png" if accept.startswith("image") else "/page", headers={"Accept": accept, "Accept-Encoding": offered}
    )
    assert received == [seen]


def test_call_to_action_has_a_default_look_any_site_rule_overrides(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings(copy_protection="off")))
    soup = assert_gated(client.get("/article"))
    link = soup.select_one('head link[rel="stylesheet"][href*="/_paywall/cta."]')
    assert link is not None
    css = client.get(str(link["href"]))
    assert css.headers["content-type"].startswith("text/css")
    assert "immutable" in css.headers["cache-control"]
    assert ":where(.paywall-cta)" in css.text
    cta = soup.select_one("[data-paywall-cta]")
    assert cta is not None and cta["aria-labelledby"] == "paywall-cta-title"
    fallback = TestClient(PaywallMiddleware(site, settings=make_settings(max_body_bytes=64 * 1024))).get("/huge")
    assert link["href"] in fallback.text


@pytest.mark.anyio
async def test_an_excluded_page_whose_headers_are_lists_passes_without_the_control_headers(
    make_settings: SettingsFactory,
) -> None:
    """On a path the paywall leaves alone, the app's own ``X-Paywall`` headers are still taken off, whatever
    shape the app gives its header pairs in."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [[b"content-type", b"text/plain"], [b"x-paywall", b"free"], [b"x-paywall-access", b"member"]]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    mw = PaywallMiddleware(app, settings=make_settings(exclude_paths=["/healthz"]))
    result = await call(mw, "/healthz")
    assert result.status == 200 and result.body == b"ok"
    assert [bytes(name) for name, _ in result.headers] == [b"content-type"]


@pytest.mark.anyio
@pytest.mark.parametrize("shape", [list, tuple])
@pytest.mark.parametrize("member", [False, True])
async def test_request_headers_as_lists_are_read_like_tuples(
    make_settings: SettingsFactory, member: bool, shape: type
) -> None:
    """A server may give the request's header pairs as lists, in a list or a tuple (ASGI allows any iterable):
    the reader is recognised from them, and the teaser or the member's page is made, as for tuples."""

    async def resolver(request: Request) -> bool:
        return request.headers.get("x-member") == "yes"

    mw = PaywallMiddleware(site, settings=make_settings(member_resolver=resolver))
    pairs = [[b"host", b"news.example"], [b"accept", b"text/html"], [b"x-member", b"yes" if member else b"no"]]
    scope = http_scope("/article")
    scope["headers"] = shape(pairs)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    await mw(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()
    assert sent[0]["status"] == 200 and TEASER[0] in body
    if member:
        assert all(word in body for word in SECRET_WORDS)
    else:
        assert_no_leak(body, SECRET_WORDS)


@pytest.mark.anyio
@pytest.mark.parametrize("member", [False, True])
async def test_headers_as_lists_are_gated_like_tuples(make_settings: SettingsFactory, member: bool) -> None:
    """ASGI allows header pairs as lists: the teaser, or the member's page with its tags, is made for them too."""
    page = gate_app.article_html().encode()

    async def resolver(request: Request) -> bool:
        return member

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [[b"content-type", b"text/html; charset=utf-8"], [b"content-length", str(len(page)).encode()]]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page})

    mw = PaywallMiddleware(app, settings=make_settings(member_resolver=resolver))
    for _ in range(2):
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)  # noqa: B023 (read right after the call)

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        scope = {"type": "http", "method": "GET", "path": "/article", "headers": [], "query_string": b""}
        await mw(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()
        assert sent[0]["status"] == 200 and TEASER[0] in body
        if member:
            assert all(word in body for word in SECRET_WORDS) and "data-paywall-protect" in body
        else:
            assert_no_leak(body, SECRET_WORDS)
        lengths = [v for k, v in sent[0]["headers"] if bytes(k).lower() == b"content-length"]
        assert lengths == [str(len(body.encode())).encode()]
