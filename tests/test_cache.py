"""The bounded cache of the HTML engine's results."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from paywall import PaywallMiddleware, PaywallSettings
from paywall.http.cache import REFUSED, SAMPLE_BYTES, Cut, GateCache, Known, page_key
from tests.apps.gate_app import SECRET_WORDS, site
from tests.conftest import assert_no_leak

SettingsFactory = Callable[..., PaywallSettings]


def cut(fill: bytes) -> Cut:
    return Cut(b"", (fill,), b"digest")


def test_entries_stay_within_the_byte_budget() -> None:
    cache = GateCache(max_bytes=10_000)
    keys = [page_key(f"page {i}".encode(), "utf-8") for i in range(20)]
    for key in keys:
        cache.put_cut(key, "<cta>", cut(b"x" * 1000))
    assert cache.size <= 10_000
    assert cache.cut(keys[0], "<cta>") is None, "the oldest entries went first"
    assert cache.cut(keys[-1], "<cta>") == cut(b"x" * 1000)


def test_recently_used_entries_survive_eviction() -> None:
    cache = GateCache(max_bytes=4_000)  # each cut counts twice, for its last page
    a, b, c = (page_key(x, None) for x in (b"a", b"b", b"c"))
    cache.put_cut(a, "", cut(b"1" * 800))
    cache.put_cut(b, "", cut(b"2" * 800))
    assert cache.cut(a, "") is not None
    cache.put_cut(c, "", cut(b"3" * 800))
    assert cache.cut(a, "") is not None
    assert cache.cut(b, "") is None


def test_key_covers_body_encoding_charset_and_call_to_action() -> None:
    cache = GateCache(max_bytes=1_000_000)
    key = page_key(b"<p>body</p>", "utf-8")
    cache.put_cut(key, "<cta one>", cut(b"one"))
    known = Known("article", key)
    cache.put_known(b"<p>body</p>", None, "utf-8", known)
    assert cache.cut(key, "<cta two>") is None
    assert cache.known(b"<p>body</p>", None, "latin-1") is None
    assert cache.known(b"<p>body</p>", b"gzip", "utf-8") is None
    assert cache.known(b"<p>body!</p>", None, "utf-8") is None
    assert cache.known(b"<p>body</p>", None, "UTF-8") == known
    assert cache.known(bytes(bytearray(b"<p>body</p>")), None, "utf-8") == known, "equal bytes, another object"


def test_zero_budget_caches_nothing() -> None:
    cache = GateCache(max_bytes=0)
    key = page_key(b"x", None)
    cache.put_known(b"x", None, None, Known("free", key))
    cache.put_cut(key, "", REFUSED)
    assert cache.known(b"x", None, None) is None and cache.cut(key, "") is None


def test_a_popular_article_is_parsed_once(make_settings: SettingsFactory) -> None:
    mw = PaywallMiddleware(site, settings=make_settings())
    client = TestClient(mw)
    first = client.get("/article")
    for _ in range(5):
        again = client.get("/article")
        assert again.content == first.content
        assert_no_leak(again.content, SECRET_WORDS)
    assert mw.cache.parses == 1
    client.get("/")
    client.get("/")
    assert mw.cache.parses == 2, "a page without an article is judged once too"


def test_the_call_to_action_is_not_shared_between_pages(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings()))
    assert "next=/article?a=1" in client.get("/article?a=1").text.replace("%3F", "?").replace("%3D", "=")
    assert "next=/article?a=2" in client.get("/article?a=2").text.replace("%3F", "?").replace("%3D", "=")


def test_cache_off_still_gates(make_settings: SettingsFactory) -> None:
    mw = PaywallMiddleware(site, settings=make_settings(gate_cache_bytes=0))
    client = TestClient(mw)
    for _ in range(3):
        assert_no_leak(client.get("/article").content, SECRET_WORDS)
    assert mw.cache.parses == 3, "parsed afresh each time"


def test_hostile_page_is_refused_once_and_then_from_memory(
    make_settings: SettingsFactory,
) -> None:
    mw = PaywallMiddleware(site, settings=make_settings())
    client = TestClient(mw)
    for _ in range(3):
        response = client.get("/deep")
        assert response.status_code == 200
        assert_no_leak(response.content, SECRET_WORDS)
    assert mw.cache.parses == 1


def test_query_string_variants_of_one_page_are_cut_once(make_settings: SettingsFactory) -> None:
    """fbclid and friends make every URL unique; the cut is cached per page, the link filled in per request."""
    mw = PaywallMiddleware(site, settings=make_settings())
    client = TestClient(mw)
    for i in range(5):
        response = client.get(f"/article?fbclid={i}")
        assert_no_leak(response.content, SECRET_WORDS)
        assert f"next=/article%3Ffbclid%3D{i}" in response.text
    assert mw.cache.parses <= 2, "judged once and cut once, not once per URL"


def test_a_verdict_is_for_the_exact_body_however_alike_two_bodies_look() -> None:
    """The slot is found by the body's length and ends; the verdict is given only for the same bytes."""
    cache = GateCache(max_bytes=1_000_000)
    head, tail = b"<html><head></head><body><main>" + b" " * SAMPLE_BYTES, b" " * SAMPLE_BYTES + b"</main></html>"
    story = b"<article>" + b"<p>story</p>" * 50 + b"</article>"
    article = head + story + tail
    listing = head + (b"<ul>" + b"<li>item</li>" * 40 + b"</ul>").ljust(len(story)) + tail
    assert len(article) == len(listing) and article != listing
    cache.put_known(article, None, "utf-8", Known("article", page_key(article, "utf-8")))
    assert cache.known(bytes(bytearray(article)), None, "utf-8") == Known("article", page_key(article, "utf-8"))
    assert cache.known(listing, None, "utf-8") is None, "alike ends and length are not the same page"
    assert cache.known(article, b"gzip", "utf-8") is None and cache.known(article, None, "latin-1") is None
    # The other body's verdict takes the slot; the first is simply judged again when it comes back.
    cache.put_known(listing, None, "utf-8", Known("no_article", page_key(listing, "utf-8")))
    assert cache.known(listing, None, "utf-8") == Known("no_article", page_key(listing, "utf-8"))
    assert cache.known(article, None, "utf-8") is None
    # Small bodies are keyed whole.
    cache.put_known(b"<p>a</p>", None, None, Known("no_article", b"k"))
    assert cache.known(b"<p>b</p>", None, None) is None
    assert cache.known(b"<p>a</p>", None, None) == Known("no_article", b"k")


def test_a_refused_page_is_remembered_as_refused_not_as_an_empty_cut() -> None:
    cache = GateCache(max_bytes=1 << 20)
    key = page_key(b"<p>hostile</p>", None)
    cache.put_cut(key, "offer", REFUSED)
    assert cache.cut(key, "offer") is REFUSED
    assert cache.cut(key, "ended") is None
