"""Gated pages declare themselves to search engines: JSON-LD amended once, the gated part's class, noarchive.

Google's "Subscription and paywalled content" markup: the article's object
says ``"isAccessibleForFree": false`` and has a ``WebPageElement`` part, not
free either, whose ``cssSelector`` names the class on the gated element.
Every test reads the non-member's page as sent by the middleware (in front of
the site, and of the proxy app), and checks that nothing of the withheld text
came back with the markup.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from paywall import PaywallMiddleware, PaywallSettings
from paywall.engine import Page
from paywall.engine.structured import declare, gated_part
from paywall.http.headers import with_robots_rule
from paywall.http.proxy import ProxyApp
from tests.apps import crawler_site
from tests.apps.crawler_site import NEWS_ARTICLE, SECRET_WORDS, TEASER, article_page, ld_json, withheld_runs
from tests.asgi import Result, call
from tests.conftest import assert_no_leak

Make = Callable[..., PaywallSettings]
PART = gated_part("paywall-gated")
CTA = b"Need to access the insight?"


def fetch(
    settings: PaywallSettings,
    path: str,
    *,
    via: str = "app",
    app: Any = None,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> Result:
    async def go() -> Result:
        site = app or crawler_site.app
        proxy = None
        if via == "proxy":
            proxy = ProxyApp("http://site.internal", settings, transport=httpx.ASGITransport(app=site))
        mw = PaywallMiddleware(proxy or site, settings=settings)
        try:
            return await call(mw, path, headers=list(headers))
        finally:
            if proxy is not None:
                await proxy.aclose()
            await mw.store.aclose()

    return asyncio.run(go())


def gated(result: Result) -> BeautifulSoup:
    """The teaser view, with nothing withheld in it."""
    assert result.status == 200
    assert_no_leak(result.body, SECRET_WORDS)
    assert withheld_runs(result.body) == []
    assert result.body.count(CTA) == 1
    assert TEASER[0].encode() in result.body
    return BeautifulSoup(result.body, "html.parser")


def blocks(soup: BeautifulSoup) -> list[str]:
    return [script.string or "" for script in soup.select('script[type="application/ld+json"]')]


def articles(value: Any) -> list[dict[str, Any]]:
    """Every object of a JSON-LD value whose ``@type`` is an article's."""
    out: list[dict[str, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if str(item.get("@type", "")).endswith("Article"):
                out.append(item)
            stack.extend(item.get(k) for k in ("@graph", "mainEntity") if k in item)
    return out


def assert_declared(obj: dict[str, Any]) -> None:
    assert obj["isAccessibleForFree"] is False
    assert obj["hasPart"] == PART


VIA = ["app", "proxy"]


@pytest.mark.parametrize("via", VIA)
def test_the_pages_news_article_is_amended_not_duplicated(make_settings: Make, via: str) -> None:
    soup = gated(fetch(make_settings(), "/news/story", via=via))
    [block] = blocks(soup)
    [article] = articles(json.loads(block))
    assert_declared(article)
    assert article["headline"] == NEWS_ARTICLE["headline"]
    assert article["articleBody"].startswith(TEASER[0][:40])  # shortened to the teaser by the sweep
    [element] = soup.select(".paywall-gated")
    assert TEASER[0] in element.get_text()
    assert element.select_one("[data-paywall-cta]") is not None  # the gated part is where the story was cut


@pytest.mark.parametrize(
    ("path", "where"),
    [("/news/graph", "@graph"), ("/news/array", "a top-level array"), ("/news/main-entity", "mainEntity")],
)
def test_the_article_inside_a_graph_an_array_or_a_main_entity_is_amended(
    make_settings: Make, path: str, where: str
) -> None:
    soup = gated(fetch(make_settings(), path))
    [block] = blocks(soup)
    value = json.loads(block)
    [article] = articles(value)
    assert_declared(article)
    others = [obj for obj in (value if isinstance(value, list) else value.get("@graph", [value])) if obj is not article]
    assert all("hasPart" not in obj and "isAccessibleForFree" not in obj for obj in others), where


def test_a_page_without_json_ld_gets_one_minimal_block(make_settings: Make) -> None:
    soup = gated(fetch(make_settings(), "/news/plain"))
    [block] = blocks(soup)
    assert json.loads(block) == {
        "@context": "https://schema.org",
        "@type": "Article",
        "isAccessibleForFree": False,
        "hasPart": PART,
    }
    assert soup.head is not None and soup.head.select_one('script[type="application/ld+json"]') is not None


def test_invalid_json_ld_is_left_intact_and_a_block_added(make_settings: Make) -> None:
    soup = gated(fetch(make_settings(), "/news/invalid"))
    invalid, added = blocks(soup)
    assert invalid == '{"@type": "NewsArticle", '
    assert_declared(json.loads(added))


def test_what_the_page_said_before_gives_way_and_nothing_is_added_twice() -> None:
    """A page that says it is free, or already names parts, ends up declared once; amending again changes nothing."""
    ld = {
        "@context": "https://schema.org",
        "@type": ["BlogPosting", "Thing"],
        "isAccessibleForFree": True,
        "hasPart": [
            {"@type": "WebPageElement", "isAccessibleForFree": True, "cssSelector": ".paywall-gated"},
            {"@type": "WebPageElement", "isAccessibleForFree": False, "cssSelector": ".premium"},
        ],
    }
    page = Page.parse(article_page(ld_json(ld)).encode(), None)
    out = BeautifulSoup(page.gate(teaser_paragraphs=2, cta_html="<aside>CTA</aside>"), "html.parser")
    [value] = [json.loads(block) for block in blocks(out)]
    assert value["isAccessibleForFree"] is False
    assert value["hasPart"] == [
        PART,
        {"@type": "WebPageElement", "isAccessibleForFree": False, "cssSelector": ".premium"},
    ]
    tree = Page.parse(str(out).encode(), None)._tree
    assert declare(tree, "paywall-gated") == 1
    [again] = [json.loads(s.text()) for s in tree.css('script[type="application/ld+json"]')]
    assert again == value


def test_json_ld_that_would_end_its_script_stays_inside_it(make_settings: Make) -> None:
    """The page escapes ``</`` in its JSON as ``<\\/``; the amended JSON, written again, escapes every ``<``."""
    ld = {**NEWS_ARTICLE, "headline": "A </script><script>alert(1)</script> headline"}
    escaped = json.dumps(ld).replace("</", "<\\/")
    script = f'<script type="application/ld+json">{escaped}</script>'

    async def odd(request: Request) -> Response:
        return HTMLResponse(article_page(script))

    soup = gated(fetch(make_settings(), "/news/odd", app=Starlette(routes=[Route("/news/odd", odd)])))
    [block] = blocks(soup)
    assert json.loads(block)["headline"] == ld["headline"]
    assert "<" not in block
    assert [s.string for s in soup.find_all("script") if s.string and "alert(1)" in s.string] == [block]


def test_the_gated_class_is_a_setting(make_settings: Make) -> None:
    soup = gated(fetch(make_settings(gated_class="members-only"), "/news/story"))
    [article] = articles(json.loads(blocks(soup)[0]))
    assert article["hasPart"]["cssSelector"] == ".members-only"
    assert len(soup.select(".members-only")) == 1
    assert soup.select(".paywall-gated") == []


# --------------------------------------------------------------------------- X-Robots-Tag


@pytest.mark.parametrize("via", VIA)
def test_gated_pages_say_noarchive(make_settings: Make, via: str) -> None:
    result = fetch(make_settings(), "/news/story", via=via)
    gated(result)
    assert result.header_list("x-robots-tag") == ["noarchive"]


@pytest.mark.parametrize("via", VIA)
def test_noarchive_is_merged_into_the_sites_own_header(make_settings: Make, via: str) -> None:
    result = fetch(make_settings(), "/news/robots", via=via)
    gated(result)
    assert result.header_list("x-robots-tag") == ["noindex, noarchive"]


def test_noarchive_keeps_rules_for_one_crawler_and_is_not_said_twice() -> None:
    assert with_robots_rule([(b"X-Robots-Tag", b"otherbot: noindex")], b"noarchive") == [
        (b"X-Robots-Tag", b"otherbot: noindex"),
        (b"x-robots-tag", b"noarchive"),
    ]
    for value in (b"noarchive", b"NOARCHIVE", b"noindex, noarchive", b"max-snippet: 20, noarchive"):
        assert with_robots_rule([(b"x-robots-tag", value)], b"noarchive") == [(b"x-robots-tag", value)]
    assert with_robots_rule([(b"x-robots-tag", b"max-snippet: 20")], b"noarchive") == [
        (b"x-robots-tag", b"max-snippet: 20, noarchive")
    ]


def test_noarchive_can_be_turned_off_and_is_not_sent_with_pages_without_an_article(make_settings: Make) -> None:
    off = fetch(make_settings(noarchive=False), "/news/story")
    gated(off)
    assert off.header_list("x-robots-tag") == []
    about = fetch(make_settings(), "/about")
    assert about.status == 200 and about.header_list("x-robots-tag") == []


def test_the_call_to_action_page_says_noarchive_too(make_settings: Make) -> None:
    """A page the engine cannot cut is replaced by the call to action alone, noarchive as well."""

    async def broken(request: Request) -> Response:
        return Response(b"\x1f\x8b not gzip", headers={"content-type": "text/html", "content-encoding": "gzip"})

    result = fetch(make_settings(), "/news/broken", app=Starlette(routes=[Route("/news/broken", broken)]))
    assert result.status == 200 and CTA in result.body
    assert result.header_list("x-robots-tag") == ["noarchive"]


OPENINGS = ["<script type='application/ld+json'>", "<script>", "<style>", "<!--", "<noscript>"]


@pytest.mark.parametrize("opening", OPENINGS)
def test_a_head_element_left_open_that_swallows_the_page_fails_closed(make_settings: Make, opening: str) -> None:
    """A JSON-LD block whose end tag was escaped away (or any script, style or comment left open in the head)
    holds the whole rest of the page as its text: browsers show nothing of it, but the bytes carry the article."""
    body = article_page(opening + '{"@type": "NewsArticle", "headline": "x"}')

    async def swallowed(request: Request) -> Response:
        return HTMLResponse(body)

    result = fetch(make_settings(), "/news/open", app=Starlette(routes=[Route("/news/open", swallowed)]))
    assert result.status == 200
    assert_no_leak(result.body, SECRET_WORDS)
    assert withheld_runs(result.body) == []
