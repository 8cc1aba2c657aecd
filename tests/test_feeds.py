"""Feeds are gated like pages: RSS, Atom and JSON Feed items cut at their teaser, for a feed reader without a cookie.

The site (``tests/apps/feeds_site.py``) runs in a real uvicorn behind the
middleware, and bare behind a real ``paywall proxy``. Every withheld paragraph
carries a made-up marker word; :func:`assert_withheld_absent` also looks for
every run of five words of the withheld text, in the body as sent and after
undoing HTML and JSON escapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from starlette.types import Receive, Scope, Send

from paywall import PaywallMiddleware, PaywallSettings, issue_member_token, private_feed_url
from paywall.access.member_feeds import issue_member_feed_key, issue_trial_feed_key
from paywall.access.store import open_store
from paywall.engine import cut_fragment
from paywall.errors import FormatError
from paywall.formats import Formats, sniffs_as_feed
from tests.apps import feeds_site
from tests.apps.feeds_site import BRIDGE, FREE, HARBOUR, ORIGIN, SHORT_NOTE, Story
from tests.asgi import call
from tests.conftest import SECRET, assert_no_leak, readable_variants
from tests.servers import run_uvicorn
from tests.test_leak_routes import raw_app
from tests.test_proxy import spawn_proxy

SettingsFactory = Callable[..., PaywallSettings]
RSS_TYPE = [(b"content-type", b"application/rss+xml")]
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
ATOM = "{http://www.w3.org/2005/Atom}"
READ_ON = "Read the whole article"
_WORD = re.compile(r"\w+")
_TAG = re.compile(r"<[^<>]*>")


# --------------------------------------------------------------------------- what must not leak


def _runs(text: str) -> set[tuple[str, ...]]:
    tokens = _WORD.findall(text.casefold())
    return {tuple(tokens[i : i + 5]) for i in range(len(tokens) - 4)}


def withheld_runs(story: Story) -> set[tuple[str, ...]]:
    """Every run of five words of the story's withheld paragraphs that its teaser does not show."""
    return _runs(" ".join(story.rest)) - _runs(" ".join(story.teaser))


def assert_withheld_absent(body: bytes | str, *stories: Story) -> None:
    """No marker word and no five-word run of any story's withheld part, in any reading of ``body``."""
    variants = readable_variants(body)
    variants += [_TAG.sub(" ", variant) for variant in variants]
    for story in stories:
        assert_no_leak(body, story.markers)
        runs = withheld_runs(story)
        for variant in variants:
            found = _runs(variant) & runs
            assert not found, f"withheld run of {story.slug} leaked: {' '.join(sorted(found)[0])!r}"


def assert_whole(body: bytes | str, *stories: Story) -> None:
    text = body.decode() if isinstance(body, bytes) else body
    for story in stories:
        assert all(marker in text for marker in story.markers), story.slug


# --------------------------------------------------------------------------- servers


def site_env(tmp: Path) -> dict[str, str]:
    return {
        "PAYWALL_SECRET_KEY": SECRET,
        "PAYWALL_STORE": f"sqlite:///{tmp / 'feeds.db'}",
        "PAYWALL_PUBLIC_URL": ORIGIN,
        "PAYWALL_EXCLUDE_PATHS": "/free/",
    }


@contextlib.contextmanager
def gated_site(tmp: Path) -> Iterator[str]:
    """The site behind the middleware, in a real uvicorn."""
    with run_uvicorn("tests.apps.feeds_site:build_app", site_env(tmp), factory=True) as url:
        yield url


@contextlib.contextmanager
def bare_site() -> Iterator[str]:
    with run_uvicorn("tests.apps.feeds_site:site") as url:
        yield url


@contextlib.contextmanager
def proxied_site(upstream: str, tmp: Path) -> Iterator[str]:
    """The bare site behind a real ``paywall proxy``, on the same store as :func:`gated_site`."""
    with spawn_proxy(upstream, tmp, env=site_env(tmp)) as (url, _):
        yield url


def site_fixtures(name: str) -> tuple[Any, Any, Any, Any]:
    """The module's fixtures ``tmp``, ``settings``, ``bare`` and ``gated``, with a store folder named ``name``
    (a module assigns them to those names: ``tmp, settings, bare, gated = site_fixtures("feeds")``)."""

    @pytest.fixture(scope="module")
    def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
        return tmp_path_factory.mktemp(name)

    @pytest.fixture(scope="module")
    def settings(tmp: Path) -> PaywallSettings:
        """The settings the servers run with, for signing keys and tokens in the test."""
        return PaywallSettings.from_env(site_env(tmp))

    @pytest.fixture(scope="module")
    def bare() -> Iterator[str]:
        with bare_site() as url:
            yield url

    @pytest.fixture(scope="module", params=["middleware", "proxy"])
    def gated(request: pytest.FixtureRequest, tmp: Path, bare: str) -> Iterator[str]:
        """Each attack runs against the middleware in uvicorn and against ``paywall proxy``."""
        with gated_site(tmp) if request.param == "middleware" else proxied_site(bare, tmp) as url:
            yield url

    return tmp, settings, bare, gated


tmp, settings, bare, gated = site_fixtures("feeds")


def get(base: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(base + path, timeout=20, **kwargs)  # type: ignore[arg-type]


def items(response: httpx.Response) -> list[etree._Element]:
    root = etree.fromstring(response.content)
    return list(root.iter("item", f"{ATOM}entry"))


# --------------------------------------------------------------------------- a feed reader without a cookie


def test_rss_items_are_cut_at_their_teaser(gated: str) -> None:
    response = get(gated, "/feed/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert response.headers["cache-control"] == "private, no-cache" and "Cookie" in response.headers["vary"]
    assert_withheld_absent(response.content, HARBOUR, BRIDGE)
    harbour, bridge, short, free = items(response)
    # content:encoded: the teaser's paragraphs, then one line linking to the article.
    encoded = harbour.find(CONTENT).text
    assert all(f"<p>{p}</p>" in encoded for p in HARBOUR.teaser)
    assert encoded.count(READ_ON) == 1 and f'href="{HARBOUR.link}"' in encoded
    assert harbour.find("description").text == HARBOUR.teaser[0], "a summary without withheld text stays"
    # A body in an escaped description is cut the same way.
    description = bridge.find("description").text
    assert BRIDGE.teaser[0] in description and f'href="{BRIDGE.link}"' in description
    # A short item is kept as the engine keeps a short article; a free one (its page is in exclude_paths) whole.
    assert short.find("description").text == SHORT_NOTE
    assert_whole(free.find(CONTENT).text, FREE)


def test_rss_keeps_every_byte_outside_the_bodies(gated: str, bare: str) -> None:
    """The declaration, the stylesheet, namespaces, comments and other elements are the site's own bytes."""
    original = get(bare, "/feed/").text
    cut = get(gated, "/feed/").text
    assert cut.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet type="text/xsl" href="/feed.xsl"?>')
    assert f'<rss version="2.0" {feeds_site.RSS_NAMESPACES}>' in cut
    for kept in (
        "<!-- generated by the site -->",
        "<dc:creator>Ann Reporter</dc:creator>",
        "News from the coast &amp;",
    ):
        assert kept in original and kept in cut
    assert "<content:encoded><![CDATA[<p>" in cut, "CDATA stays CDATA"
    assert cut.split("<item>")[3:] == original.split("<item>")[3:], "the short and the free items are untouched"


def test_atom_content_and_a_summary_holding_the_body_are_cut(gated: str) -> None:
    response = get(gated, "/feed/atom")
    assert response.status_code == 200
    assert_withheld_absent(response.content, HARBOUR, BRIDGE)
    harbour, bridge = items(response)
    for tag in ("content", "summary"):
        text = harbour.find(ATOM + tag).text
        assert HARBOUR.teaser[0] in text and f'href="{HARBOUR.link}"' in text, tag
    content = bridge.find(ATOM + "content")
    assert content.get("type") == "html", "XHTML content is written back as escaped HTML"
    assert BRIDGE.teaser[0] in content.text and READ_ON in content.text
    assert bridge.find(ATOM + "summary").text == BRIDGE.teaser[0]


def test_json_feed_items_are_cut(gated: str) -> None:
    response = get(gated, "/feed.json")
    assert response.status_code == 200
    assert_withheld_absent(response.content, HARBOUR, BRIDGE)
    harbour, bridge = response.json()["items"]
    assert HARBOUR.teaser[2] in harbour["content_html"] and f'href="{HARBOUR.link}"' in harbour["content_html"]
    assert harbour["summary"] == HARBOUR.teaser[0]
    for field in ("content_text", "summary"):  # a summary that holds the whole text is cut too
        assert bridge[field].startswith(BRIDGE.teaser[0]) and bridge[field].endswith(f"{READ_ON}: {BRIDGE.link}")
    assert set(harbour) == {"id", "url", "title", "summary", "content_html"}


def test_generic_xml_with_a_feed_root_and_compressed_feeds_are_cut(gated: str) -> None:
    for path in ("/feed.xml", "/feed/gzip", "/feed/latin1"):
        response = get(gated, path)
        assert response.status_code == 200, path
        assert "content-encoding" not in response.headers
        assert_withheld_absent(response.content, HARBOUR, BRIDGE)
        assert HARBOUR.teaser[1] in response.text and BRIDGE.teaser[2] in response.text
    latin1 = get(gated, "/feed/latin1")
    assert latin1.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "Tuesday night \u00e0 la" in latin1.text and latin1.headers["content-type"].endswith("charset=utf-8")


def test_a_feed_marked_free_passes_whole(gated: str) -> None:
    response = get(gated, "/feed/free")
    assert_whole(response.content, HARBOUR, BRIDGE)
    assert "x-paywall" not in response.headers


def test_head_of_a_feed_sends_no_body(gated: str) -> None:
    response = httpx.head(gated + "/feed/", timeout=20)
    assert response.status_code == 200 and response.content == b""


# --------------------------------------------------------------------------- members and their private feeds


def test_members_get_the_feed_as_the_site_made_it(gated: str, bare: str, settings: PaywallSettings) -> None:
    token = issue_member_token(settings, "member-1", 30)
    for path in ("/feed/", "/feed/atom", "/feed.json"):
        response = get(gated, path, cookies={"paywall_member": token})
        assert response.content == get(bare, path).content, path
        assert response.headers["cache-control"] == "private, no-store"


def test_a_private_feed_url_opens_the_items_to_a_feed_reader_without_cookies(
    gated: str, settings: PaywallSettings
) -> None:
    url = private_feed_url(settings, gated + "/feed/", "member-1", ends_at=time.time() + 30 * 86400)
    response = httpx.get(url, timeout=20)
    assert_whole(response.content, HARBOUR, BRIDGE)
    assert response.headers["cache-control"] == "private, no-store"
    # The key opens feeds, nothing else: the same key on a JSON API is no member.
    key = url.split("paywall_key=", 1)[1]
    api = get(gated, f"/wp-json/wp/v2/posts/1?paywall_key={key}")
    assert_withheld_absent(api.content, HARBOUR)


def test_forged_expired_and_foreign_keys_get_the_cut_feed(gated: str, settings: PaywallSettings) -> None:
    now = time.time()
    good = issue_member_feed_key(settings, "member-1", now + 86400)
    payload, stamp, signature = good.split(".")
    other = settings.replace(secret_key="another-secret-key-9876543210zyxwvu")
    keys = {
        "tampered": f"{payload}.{stamp}.{signature[:-4]}AAAA",
        "another subject": issue_member_feed_key(settings, "member-2", now + 86400)[: -len(signature)] + signature,
        "expired": issue_member_feed_key(settings, "member-1", now - 60, now=now - 3600),
        "foreign key": issue_member_feed_key(other, "member-1", now + 86400),
        "member cookie as key": issue_member_token(settings, "member-1", 30),
        "garbage": "x" * 5000,
    }
    for name, key in keys.items():
        response = get(gated, "/feed/", params={"paywall_key": key})
        assert response.status_code == 200, name
        assert_withheld_absent(response.content, HARBOUR, BRIDGE)


def test_a_trial_readers_key_ends_when_the_trial_is_revoked(gated: str, settings: PaywallSettings) -> None:
    store = open_store(settings.store)
    now = time.time()
    email = f"trial-{gated.rsplit(':', 1)[1]}@example.com"

    async def start() -> str:
        result = await store.start_trial(
            trial_id=f"t-{email}", email=email, device_id=f"device-{email}", started_at=now - 60, ends_at=now + 86400
        )
        assert result.trial is not None
        return result.trial.trial_id

    trial_id = asyncio.run(start())
    key = issue_trial_feed_key(settings, trial_id)
    assert_whole(get(gated, "/feed/", params={"paywall_key": key}).content, HARBOUR, BRIDGE)
    assert asyncio.run(store.revoke_trial(email)) == 1
    assert_withheld_absent(get(gated, "/feed/", params={"paywall_key": key}).content, HARBOUR, BRIDGE)


def test_a_member_gets_their_private_feed_url_from_the_paywall(gated: str, settings: PaywallSettings) -> None:
    token = issue_member_token(settings, "member-7", 30)
    answer = get(gated, "/_paywall/feed-url", params={"feed": "/feed/atom"}, cookies={"paywall_member": token})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    url = answer.json()["url"]
    assert url.startswith(f"{ORIGIN}/feed/atom?paywall_key=")
    response = get(gated, url.removeprefix(ORIGIN))
    assert_whole(response.content, HARBOUR, BRIDGE)
    refused = get(gated, "/_paywall/feed-url", params={"feed": "/feed/"})
    assert refused.status_code == 403 and refused.json()["error"] == "not_a_member"
    elsewhere = get(gated, "/_paywall/feed-url", params={"feed": "//evil.example/x"}, cookies={"paywall_member": token})
    assert elsewhere.json()["url"].startswith(f"{ORIGIN}/?paywall_key=")


def test_a_members_key_ends_with_their_member_cookie(settings: PaywallSettings) -> None:
    from starlette.requests import Request

    from paywall.access.credentials import Credentials
    from paywall.access.member_feeds import feed_reader, key_for
    from paywall.access.readers import Reader

    now = 1_800_000_000.0
    token = issue_member_token(settings, "member-9", 2, now=now)
    request = Request({"type": "http", "headers": [(b"cookie", f"paywall_member={token}".encode())]})
    credentials = Credentials.load(settings)
    key = key_for(request, Reader(level="member", subject="member:member-9"), settings, credentials, now=now)
    assert key is not None
    store = open_store(settings.store)
    query = f"paywall_key={key}".encode()
    assert asyncio.run(feed_reader(credentials, store, query, now=now + 86400)) is not None
    assert asyncio.run(feed_reader(credentials, store, query, now=now + 3 * 86400)) is None
    # A member the site's own code recognised has no end the paywall knows: the site gives the key itself.
    nobody = Request({"type": "http", "headers": []})
    assert key_for(nobody, Reader(level="member"), settings, credentials, now=now) is None


# --------------------------------------------------------------------------- hostile feeds fail closed, and fast


@pytest.mark.parametrize("kind", ["laughs", "xxe", "broken", "not-a-feed"])
def test_hostile_or_broken_xml_is_refused_to_non_members(gated: str, kind: str) -> None:
    started = time.monotonic()
    response = get(gated, f"/feed/hostile/{kind}")
    assert time.monotonic() - started < 5
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "Need to access the insight?" in response.text
    assert_withheld_absent(response.content, HARBOUR)
    assert "hahaha" not in response.text


def test_an_external_dtd_is_never_fetched_and_the_feed_is_cut(gated: str) -> None:
    """The DTD's address is a socket that would see the fetch; the feed is read without it, and cut."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        feed = feeds_site.HOSTILE["dtd"].replace("http://127.0.0.1:9/", f"http://127.0.0.1:{port}/")
        out = Formats(PaywallSettings(secret_key=SECRET)).gate(
            "feed", feed.encode(), charset=None, path="/", origin=ORIGIN
        )
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert out.body is not None and HARBOUR.teaser[0] in out.body.decode()
    assert_withheld_absent(out.body, HARBOUR)
    response = get(gated, "/feed/hostile/dtd")
    assert response.status_code == 200
    assert_withheld_absent(response.content, HARBOUR)


def test_hostile_xml_costs_no_memory_or_time_in_the_parser() -> None:
    formats = Formats(PaywallSettings(secret_key=SECRET))
    for kind in ("laughs", "xxe"):
        tracemalloc.start()
        started = time.perf_counter()
        with pytest.raises(FormatError):
            formats.gate("feed", feeds_site.HOSTILE[kind].encode(), charset=None, path="/feed/", origin=ORIGIN)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert elapsed < 0.5 and peak < 2 * 1024 * 1024, (kind, elapsed, peak)


def test_a_member_gets_even_an_unreadable_feed_as_made(gated: str, settings: PaywallSettings) -> None:
    token = issue_member_token(settings, "member-1", 30)
    response = get(gated, "/feed/hostile/broken", cookies={"paywall_member": token})
    assert response.status_code == 200 and response.text == feeds_site.HOSTILE["broken"]


@pytest.mark.anyio
async def test_an_oversized_feed_is_refused_to_non_members(make_settings: SettingsFactory) -> None:
    settings = make_settings(max_body_bytes=2048)
    app = PaywallMiddleware(feeds_site.site, settings=settings)
    result = await call(app, "/feed/")
    assert result.status == 403
    assert_withheld_absent(result.body, HARBOUR, BRIDGE)
    member = issue_member_token(settings, "m", 1)
    whole = await call(app, "/feed/", headers=[(b"cookie", f"paywall_member={member}".encode())])
    assert whole.status == 200 and whole.body == feeds_site.rss().encode()


@pytest.mark.anyio
async def test_a_feed_the_app_leaves_unfinished_is_refused(make_settings: SettingsFactory) -> None:
    async def unfinished(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": RSS_TYPE})
        await send({"type": "http.response.body", "body": feeds_site.rss().encode()[:3000], "more_body": True})

    result = await call(PaywallMiddleware(unfinished, settings=make_settings()), "/feed/")  # type: ignore[operator]
    assert result.status == 403
    assert_withheld_absent(result.body, HARBOUR, BRIDGE)


# --------------------------------------------------------------------------- copies of the body elsewhere in a feed


@pytest.mark.anyio
async def test_a_copy_of_the_body_in_another_element_of_the_item_is_emptied(make_settings: SettingsFactory) -> None:
    copy = f"<media:description>{feeds_site._xml(' '.join(HARBOUR.rest))}</media:description>"
    feed = feeds_site.rss().replace("<dc:creator>", copy + "<dc:creator>", 1)
    feed = feed.replace('<rss version="2.0" ', '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" ', 1)

    result = await call(PaywallMiddleware(raw_app(feed.encode(), headers=RSS_TYPE), settings=make_settings()), "/feed/")  # type: ignore[operator]
    assert result.status == 200
    assert b"<media:description></media:description>" in result.body
    assert_withheld_absent(result.body, HARBOUR, BRIDGE)


def test_a_body_in_media_description_alone_is_cut() -> None:
    feed = (
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><item>'
        f"<title>{BRIDGE.title}</title><link>{BRIDGE.link}</link>"
        f"<media:description>{feeds_site._xml(BRIDGE.text())}</media:description></item></channel></rss>"
    )
    out = Formats(PaywallSettings(secret_key=SECRET)).gate("feed", feed.encode(), charset=None, path="/", origin=ORIGIN)
    assert out.body is not None and BRIDGE.teaser[0].encode() in out.body
    assert out.body.decode().endswith(f"{READ_ON}: {BRIDGE.link}</media:description></item></channel></rss>")
    assert_withheld_absent(out.body, BRIDGE)


@pytest.mark.parametrize(
    "element",
    [
        "<x:fulltext>{html}</x:fulltext>",
        "<x:body><![CDATA[{raw}]]></x:body>",
        '<media:content url="https://news.example/v.mp4"><media:text>{text}</media:text></media:content>',
    ],
    ids=["namespaced", "cdata", "nested"],
)
def test_a_body_in_an_element_no_format_names_is_cut(element: str) -> None:
    """An item whose known fields hold a short summary and whose story stands in an element of another name
    (a namespace of the site's own, Media RSS's ``media:text``): the story is found by its prose, and cut."""
    feed = (
        '<rss version="2.0" xmlns:x="https://news.example/ns" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        f"<item><title>{BRIDGE.title}</title><link>{BRIDGE.link}</link><description>The bridge, briefly.</description>"
        + element.format(html=feeds_site._xml(BRIDGE.html()), raw=BRIDGE.html(), text=feeds_site._xml(BRIDGE.text()))
        + "<category>City</category></item></channel></rss>"
    )
    out = Formats(PaywallSettings(secret_key=SECRET)).gate("feed", feed.encode(), charset=None, path="/", origin=ORIGIN)
    assert out.body is not None and out.items == 1
    assert_withheld_absent(out.body, BRIDGE)
    assert BRIDGE.teaser[0].encode() in out.body
    assert b"<description>The bridge, briefly.</description>" in out.body and b"<category>City</category>" in out.body


@pytest.mark.anyio
async def test_a_copy_in_an_attribute_refuses_the_feed(make_settings: SettingsFactory) -> None:
    feed = feeds_site.rss().replace("<dc:creator>", f'<dc:creator note="{" ".join(HARBOUR.rest)}">', 1)

    result = await call(PaywallMiddleware(raw_app(feed.encode(), headers=RSS_TYPE), settings=make_settings()), "/feed/")  # type: ignore[operator]
    assert result.status == 403
    assert_withheld_absent(result.body, HARBOUR, BRIDGE)


def test_a_copy_in_a_comment_goes_and_rss_1_items_are_cut_too() -> None:
    copy = f"<!-- draft: {' '.join(HARBOUR.rest)} -->"
    feed = (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f'<channel rdf:about="{ORIGIN}/"><title>The Gazette</title></channel>{copy}'
        f'<item rdf:about="{HARBOUR.link}"><title>{HARBOUR.title}</title><link>{HARBOUR.link}</link>'
        f"<content:encoded><![CDATA[{HARBOUR.html()}]]></content:encoded></item></rdf:RDF>"
    )
    out = Formats(PaywallSettings(secret_key=SECRET)).gate("feed", feed.encode(), charset=None, path="/", origin=ORIGIN)
    assert out.body is not None and out.items == 1
    assert b"<!--" not in out.body and b"</channel><item" in out.body
    assert HARBOUR.teaser[0].encode() in out.body and f'href="{HARBOUR.link}"'.encode() in out.body
    assert_withheld_absent(out.body, HARBOUR)


def test_cdata_that_holds_its_own_end_is_written_back_safely() -> None:
    """Kept text that holds ``]]>`` (plain text may) is split across CDATA sections, never ends one early."""
    text = HARBOUR.text().replace("Tuesday night.", "Tuesday night ]]> <b> & later.")
    cdata = "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"
    feed = (
        f'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link href="{HARBOUR.link}"/>'
        f'<content type="text">{cdata}</content></entry></feed>'
    )
    out = Formats(PaywallSettings(secret_key=SECRET)).gate(
        "feed", feed.encode(), charset=None, path="/f", origin=ORIGIN
    )
    assert out.body is not None and b"]]]]><![CDATA[>" in out.body
    kept = etree.fromstring(out.body).find(f"{ATOM}entry/{ATOM}content").text
    assert kept.startswith(HARBOUR.teaser[0].replace("Tuesday night.", "Tuesday night ]]> <b> & later."))
    assert kept.endswith(f"{READ_ON}: {HARBOUR.link}")
    assert_withheld_absent(out.body, HARBOUR)


# --------------------------------------------------------------------------- the engine's part


def test_an_article_body_is_cut_as_its_page_would_be() -> None:
    cut = cut_fragment(HARBOUR.html(), teaser_paragraphs=3)
    assert not cut.whole and cut.how == "units:3"
    assert cut.html == "\n".join(f"<p>{p}</p>" for p in HARBOUR.teaser)
    assert cut.withheld_words == sum(len(p.split()) for p in HARBOUR.rest)
    assert cut.fingerprint.leaks(HARBOUR.rest[2]) and not cut.fingerprint.leaks(HARBOUR.teaser[1])


def test_a_short_body_stays_whole_and_a_hidden_one_is_withheld() -> None:
    assert cut_fragment(f"<p>{SHORT_NOTE}</p>", teaser_paragraphs=3).whole
    # An excerpt and its link (what the WordPress plugin hands non-members): no longer than a teaser.
    excerpt = f'<p>{HARBOUR.teaser[0]}</p>\n<p><a href="{HARBOUR.link}">Read the whole article</a></p>'
    assert cut_fragment(excerpt, teaser_paragraphs=3).whole
    # Two paragraphs of 30 words: longer than the shortest teaser, so the second is withheld.
    two = cut_fragment(f"<p>{HARBOUR.teaser[0]} {HARBOUR.teaser[1]}</p><p>{HARBOUR.rest[0]}</p>", teaser_paragraphs=3)
    assert not two.whole and HARBOUR.markers[0] not in two.html
    hidden = cut_fragment(f"<p>Note.</p><div hidden>{HARBOUR.html()}</div>", teaser_paragraphs=3)
    assert not hidden.whole and hidden.html == ""
    assert hidden.fingerprint.leaks(HARBOUR.rest[0])


@pytest.mark.parametrize(
    "markup",
    [
        "</paywall-fragment></body></html>" + HARBOUR.html(),
        HARBOUR.html() + "</paywall-fragment><p>" + " ".join(HARBOUR.rest) + "</p>",
        "<p>" + HARBOUR.teaser[0] + "</p><!-- " + " ".join(HARBOUR.rest),
        "<table><tr><td>" + HARBOUR.html() + "</td></tr></table>" + "</div></div></div>",
        "<template>" + HARBOUR.html() + "</template>" + HARBOUR.html(),
    ],
)
def test_a_body_cannot_break_out_of_its_fragment(markup: str) -> None:
    try:
        cut = cut_fragment(markup, teaser_paragraphs=3)
    except Exception as exc:
        assert type(exc).__name__ == "RewriteError"
        return
    assert not cut.whole
    assert_withheld_absent(cut.html, HARBOUR)


def test_feed_roots_are_sniffed_after_the_prolog() -> None:
    assert sniffs_as_feed(
        b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- x -->\n<?xml-stylesheet href="a"?><rss version="2.0">'
    )
    assert sniffs_as_feed(b'<feed xmlns="http://www.w3.org/2005/Atom">')
    assert sniffs_as_feed(b"<rdf:RDF xmlns:rdf='x'>")
    assert not sniffs_as_feed(b"<?xml version='1.0'?><sitemap>")
    assert not sniffs_as_feed(b"<rsstuff>")
