"""AMP and print views of an article are gated like the article, and AMP pages stay AMP.

The site (``tests/apps/crawler_site.py``) serves one story as a page, as an
AMP page the way WordPress's AMP plugin makes them (no ``<article>``: the
story in ``div.amp-wp-article-content``, images as ``<amp-img>``), as print
views (``?print=1``, ``/print/...``), and as views whose text no detection
finds (in an ``<aside>``) but whose canonical link names the article. No
response to a non-member may hold any run of five words from beyond the
teaser, in any encoding.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup

from paywall import PaywallMiddleware, PaywallSettings, issue_member_token
from paywall.engine import is_amp
from paywall.http.decision import view_paths
from paywall.http.proxy import ProxyApp
from tests.apps import crawler_site
from tests.apps.crawler_dns import ADDRESSES, NAMES, TableResolver
from tests.apps.crawler_site import SECRET_WORDS, TEASER, withheld_runs
from tests.asgi import Result, call
from tests.conftest import SECRET, assert_no_leak
from tests.servers import free_port, run_process

Make = Callable[..., PaywallSettings]
CTA = b"Need to access the insight?"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
VIA = ["app", "proxy"]


def fetch_all(
    settings: PaywallSettings,
    *paths: str,
    via: str = "app",
    headers: tuple[tuple[bytes, bytes], ...] = (),
    client: str = "198.51.100.7",
) -> list[Result]:
    """Requests in turn through one middleware (in front of the site, or of the proxy app)."""

    async def go() -> list[Result]:
        proxy = None
        if via == "proxy":
            proxy = ProxyApp("http://site.internal", settings, transport=httpx.ASGITransport(app=crawler_site.app))
        mw = PaywallMiddleware(proxy or crawler_site.app, settings=settings)
        try:
            results = []
            for target in paths:
                path, _, query = target.partition("?")
                results.append(await call(mw, path, query=query.encode(), headers=list(headers), client=(client, 1)))
            return results
        finally:
            if proxy is not None:
                await proxy.aclose()
            await mw.store.aclose()

    return asyncio.run(go())


def fetch(settings: PaywallSettings, path: str, **options: Any) -> Result:
    [result] = fetch_all(settings, path, **options)
    return result


def assert_cut(body: bytes) -> BeautifulSoup:
    """The teaser and the call to action, and no run of five withheld words anywhere."""
    assert_no_leak(body, SECRET_WORDS)
    assert withheld_runs(body) == []
    assert body.count(CTA) == 1
    assert TEASER[0].encode() in body
    return BeautifulSoup(body, "html.parser")


def assert_call_to_action_alone(result: Result | httpx.Response) -> None:
    body = result.body if isinstance(result, Result) else result.content
    assert_no_leak(body, SECRET_WORDS)
    assert withheld_runs(body) == []
    assert CTA in body and TEASER[0].encode() not in body


def assert_still_amp(soup: BeautifulSoup) -> None:
    """What AMP asks of the page's head: no script of the site's own, no stylesheet link, one custom style."""
    html = soup.find("html")
    assert html is not None and "\u26a1" in html.attrs
    scripts = [s for s in soup.find_all("script") if s.get("type") != "application/ld+json"]
    assert [s.get("src") for s in scripts] == ["https://cdn.ampproject.org/v0.js"]
    assert soup.select('link[rel="stylesheet"]') == []
    assert soup.select("[data-paywall-protect]") == []
    [custom] = soup.select("style[amp-custom]")
    assert ".amp-wp-article{max-width:40rem}" in (custom.string or "")


# --------------------------------------------------------------------------- AMP


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("path", ["/news/story/amp", "/amp/news/story"])
def test_an_amp_page_without_an_article_element_is_found_and_cut(make_settings: Make, via: str, path: str) -> None:
    result = fetch(make_settings(), path, via=via)
    assert result.status == 200
    soup = assert_cut(result.body)
    assert_still_amp(soup)
    [gated] = soup.select(".paywall-gated")
    assert any(name.startswith("amp-wp-article") for name in gated.get("class", []))
    assert gated.select_one("amp-img") is not None and gated.select_one("[data-paywall-cta]") is not None
    [custom] = soup.select("style[amp-custom]")
    assert ".paywall-cta" in (custom.string or "")  # the call to action's look, inline


def test_an_amp_page_gets_no_trial_form_that_amp_would_refuse(make_settings: Make) -> None:
    soup = assert_cut(fetch(make_settings(cta_inline_form=True), "/news/story/amp").body)
    assert soup.find("form") is None
    assert soup.select_one("[data-paywall-cta] a[href*='/_paywall/trial']") is not None
    assert_still_amp(soup)
    # The same page outside AMP keeps the form the settings ask for.
    assert BeautifulSoup(fetch(make_settings(cta_inline_form=True), "/news/story").body, "html.parser").find("form")


def test_a_members_amp_page_streams_without_tags(make_settings: Make) -> None:
    settings = make_settings()
    cookie = ((b"cookie", f"paywall_member={issue_member_token(settings, 'ann', 30)}".encode()),)
    amp, plain = fetch_all(settings, "/news/story/amp", "/news/story", headers=cookie)
    assert all(word.encode() in amp.body for word in SECRET_WORDS)
    assert amp.body == crawler_site.PAGES["/news/story/amp"].encode()
    assert b"data-paywall-protect" in plain.body  # the protection tags still go on pages that are not AMP


def test_a_free_article_read_on_an_amp_page_gets_no_tags(make_settings: Make) -> None:
    [result] = fetch_all(make_settings(free_articles=2), "/news/story/amp")
    assert all(word.encode() in result.body for word in SECRET_WORDS)
    assert_still_amp(BeautifulSoup(result.body, "html.parser"))


def test_a_crawlers_amp_view_is_whole_declared_and_still_amp(make_settings: Make) -> None:
    settings = make_settings(crawler_resolver=TableResolver(NAMES, ADDRESSES))
    result = fetch(settings, "/news/story/amp", client="203.0.113.10", headers=((b"user-agent", GOOGLEBOT.encode()),))
    assert all(word.encode() in result.body for word in SECRET_WORDS)
    soup = BeautifulSoup(result.body, "html.parser")
    assert_still_amp(soup)
    [gated] = soup.select(".paywall-gated")
    assert all(word in gated.get_text() for word in SECRET_WORDS)
    [ld] = [json.loads(s.string or "") for s in soup.select('script[type="application/ld+json"]')]
    assert ld["isAccessibleForFree"] is False and ld["hasPart"]["cssSelector"] == ".paywall-gated"
    assert "noarchive" in (result.header("x-robots-tag") or "")


def test_amp_is_recognised_by_the_html_tags_attributes_only() -> None:
    assert is_amp(b"<!doctype html><html amp lang=en><head>")
    assert is_amp('<!DOCTYPE html>\n<!-- built --><html lang="en" \u26a1><head>'.encode())
    assert is_amp(b"<html AMP=''>")
    for page in (b"<html class='amp'>", b"<html data-amp>", b"<!-- <html amp> --><html>", b"<htmlamp>", b"<p amp>"):
        assert not is_amp(page), page


# --------------------------------------------------------------------------- print views


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("path", ["/news/story?print=1", "/print/news/story"])
def test_print_views_are_cut_like_the_article(make_settings: Make, via: str, path: str) -> None:
    result = fetch(make_settings(), path, via=via)
    assert result.status == 200
    soup = assert_cut(result.body)
    assert soup.select_one(".print-story.paywall-gated") is not None


# --------------------------------------------------------------------------- views without a found article


def test_the_article_path_a_view_url_names_fails_closed(make_settings: Make) -> None:
    """``/amp/news/hidden`` is a view of ``/news/hidden``, where articles live: no article found means no page."""
    assert_call_to_action_alone(fetch(make_settings(article_paths=("/news/*",)), "/amp/news/hidden"))


def test_a_canonical_link_into_article_paths_fails_closed(make_settings: Make) -> None:
    """``/m/hidden`` names no view in its path, but its canonical link says it is ``/news/story``."""
    for path in ("/m/hidden", "/m/hidden?amp=1"):
        assert_call_to_action_alone(fetch(make_settings(article_paths=("/news/*",)), path))


def test_a_view_of_an_article_gated_lately_fails_closed_without_article_paths(make_settings: Make) -> None:
    settings = make_settings()
    unseen, story, view, again = fetch_all(settings, "/m/hidden", "/news/story", "/m/hidden", "/m/hidden")
    # Until its article has been gated by this process, nothing says the page is a view of one
    # (article_paths says so from the first request on).
    assert unseen.status == 200 and TEASER[0].encode() in unseen.body and CTA not in unseen.body
    assert_cut(story.body)
    assert_call_to_action_alone(view)
    assert_call_to_action_alone(again)  # the cache knows the page: still judged by its canonical link


def test_protect_paths_hold_for_a_view_by_its_canonical_link(make_settings: Make) -> None:
    result = fetch(make_settings(protect_paths=("/news/",)), "/m/hidden")
    assert b"data-paywall-protect" in result.body
    assert b"data-paywall-protect" not in fetch(make_settings(), "/m/hidden").body


def test_view_paths() -> None:
    assert view_paths("/news/story") == ("/news/story",)
    assert view_paths("/news/story/amp/") == ("/news/story/amp/", "/news/story")
    assert view_paths("/amp/news/story") == ("/amp/news/story", "/news/story")
    assert view_paths("/print/news/story", "/news/story?id=1") == ("/print/news/story", "/news/story")
    assert view_paths("/news/story.amp.html") == ("/news/story.amp.html", "/news/story.html")
    assert view_paths("/news/../amp/x/./y") == ("/amp/x/y", "/x/y")
    assert view_paths("/amp") == ("/amp",)
    assert view_paths("/news/champion/sample") == ("/news/champion/sample",)


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("views")
    env = {
        "PAYWALL_SECRET_KEY": SECRET,
        "PAYWALL_STORE": f"sqlite:///{folder / 'paywall.db'}",
        "PAYWALL_ARTICLE_PATHS": "/news/*",
        "PAYWALL_CTA_INLINE_FORM": "true",
    }
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "tests.apps.crawler_site:build_app", "--factory", "--no-proxy-headers"]
    with run_process([*argv, "--port", str(port), "--log-level", "warning"], port, env) as url:
        yield url


def test_end_to_end_every_view_of_the_story(server: str) -> None:
    def get(path: str) -> httpx.Response:
        return httpx.get(server + path, timeout=10)

    for path in ("/news/story/amp", "/amp/news/story"):
        response = get(path)
        assert response.status_code == 200
        soup = assert_cut(response.content)
        assert_still_amp(soup)
        assert soup.find("form") is None
    for path in ("/news/story?print=1", "/print/news/story", "/news/story"):
        assert_cut(get(path).content)
    for path in ("/amp/news/hidden", "/m/hidden"):
        assert_call_to_action_alone(get(path))


def test_an_address_made_to_look_like_a_view_remembers_no_article(make_settings: Make) -> None:
    """Anyone can put ``?print=1`` on an address: the short note's prose is taken for an article there, but
    nothing is remembered, so the pages that name the note as their canonical page are served as before."""
    settings = make_settings()
    printed, note, comments = fetch_all(settings, "/notes/tides?print=1", "/notes/tides", "/notes/tides/comments")
    assert CTA in printed.body  # a view: its prose is the article
    assert CTA not in note.body and TEASER[2].encode() in note.body  # the note itself: no article
    assert CTA not in comments.body and b"very useful" in comments.body


def test_an_address_named_as_a_view_never_ungates_a_hidden_story(make_settings: Make) -> None:
    """The same bytes can hold two candidates: at the plain address a short visible note is no article, and
    the story hidden until a script shows it is gated. ``?print=1`` (anyone can add it) must not make the
    note the article instead, nor may a cut made there answer the plain address: the hidden story would go
    out whole."""
    markers = ["vellicant", "obrudesk", "quarnival", "tessimore", "plovenard", "grisquell", "umbervane", "castelloop"]
    hidden = "".join(
        f"<p>The {marker} report says the harbour dredging needs a second permit from the regional authority "
        f"before the winter season begins, and the council was told so twice.</p>"
        for marker in markers
    )
    body = crawler_site.page(
        f"<main><h1>Notes</h1>{crawler_site.paragraphs(TEASER)}</main><section hidden>{hidden}</section>"
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": body.encode()})

    async def go() -> list[Result]:
        mw = PaywallMiddleware(app, settings=make_settings())
        try:
            return [await call(mw, "/notes/mixed", query=query) for query in (b"print=1", b"", b"print=1")]
        finally:
            await mw.store.aclose()

    for result in asyncio.run(go()):
        assert CTA in result.body
        assert_no_leak(result.body, markers[3:])  # the hidden story, cut at its teaser on every address


def test_the_memory_of_gated_articles_is_bounded_whatever_the_keys() -> None:
    from paywall.http.cache import SHORT_KEY, RecentKeys

    recent = RecentKeys(2)
    long_key = "/news/story?page=" + "x" * 100_000  # a client chooses the query of an article without canonical link
    for key in ("/news/a", "/news/b", long_key):
        recent.add(key)
    assert "/news/a" not in recent and "/news/b" in recent and long_key in recent
    assert len(recent) == 2 and all(len(k) <= SHORT_KEY for k in recent._keys)
    assert hashlib.blake2b(long_key.encode(), digest_size=16).digest() in recent._keys  # the long key: its digest
