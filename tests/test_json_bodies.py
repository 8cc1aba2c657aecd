"""JSON APIs are gated like pages: article bodies in JSON cut at their teaser, the JSON valid and in its shape.

The same site as ``test_feeds`` (``tests/apps/feeds_site.py``), behind the
middleware in a real uvicorn and behind a real ``paywall proxy``: WordPress
REST, Portable Text, Next.js data routes, a Nuxt payload, compressed answers,
a second copy of the text in a field no shape names, and answers that carry
no article at all (which must come through byte for byte).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_profile
from hypothesis import strategies as st
from lxml import etree

from paywall import PaywallMiddleware, PaywallSettings, issue_member_token
from paywall.formats import Formats
from paywall.formats.json_body import dumps_like
from tests.apps import feeds_site
from tests.apps.feeds_site import BRIDGE, HARBOUR, ORIGIN
from tests.asgi import call
from tests.conftest import SECRET, assert_no_leak
from tests.test_feeds import (
    READ_ON,
    assert_whole,
    assert_withheld_absent,
    get,
    site_fixtures,
)
from tests.test_leak_routes import raw_app
from tests.test_proxy import spawn_proxy
from tests.test_wordpress import POSTS, secret_words, wordpress

SettingsFactory = Callable[..., PaywallSettings]


tmp, settings, bare, gated = site_fixtures("json")


def shape(value: Any) -> Any:
    """The keys and types of a JSON value, without its strings' contents."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


# --------------------------------------------------------------------------- WordPress REST


def test_a_wordpress_post_is_cut_and_keeps_its_shape(gated: str, bare: str) -> None:
    response = get(gated, "/wp-json/wp/v2/posts/1")
    original = get(bare, "/wp-json/wp/v2/posts/1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["cache-control"] == "private, no-cache" and response.headers["etag"].startswith('"pw-')
    assert_withheld_absent(response.content, HARBOUR)
    post = response.json()
    assert shape(post) == shape(original.json())
    rendered = post["content"]["rendered"]
    assert all(f"<p>{p}</p>" in rendered for p in HARBOUR.teaser)
    assert rendered.count(READ_ON) == 1 and f'href="{HARBOUR.link}"' in rendered
    # Everything else is as the site sent it: the excerpt and Yoast's short descriptions stay.
    for key in ("excerpt", "yoast_head", "yoast_head_json", "title", "link", "_links"):
        assert post[key] == original.json()[key], key
    # Written as PHP writes JSON: compact, with escaped slashes.
    assert response.content.startswith(b'{"id":1,"date":"2026-11-30T08:00:00","guid":{"rendered":"https:\\/\\/news')


def test_a_wordpress_post_asked_for_as_jsonp_is_cut_and_stays_jsonp(gated: str, bare: str) -> None:
    """WordPress answers any REST route with ``?_jsonp=callback`` as a script: ``/**/callback({…})``. It is JSON
    all the same: cut like the post, and still the call the page's script tag runs."""
    response = get(gated, "/wp-json/wp/v2/posts/1?_jsonp=show")
    original = get(bare, "/wp-json/wp/v2/posts/1?_jsonp=show")
    assert original.content.startswith(b"/**/show({") and HARBOUR.markers[0] in original.text
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "private, no-cache"
    assert_withheld_absent(response.content, HARBOUR)
    assert response.content.startswith(b"/**/show({") and response.content.endswith(b"})")
    post = json.loads(response.content[len(b"/**/show(") : -1])
    assert shape(post) == shape(json.loads(original.content[len(b"/**/show(") : -1]))
    assert all(f"<p>{p}</p>" in post["content"]["rendered"] for p in HARBOUR.teaser)


@pytest.mark.parametrize("path", ["/static/app.js", "/api/health.js"])
def test_scripts_that_carry_no_article_pass_byte_for_byte(gated: str, bare: str, path: str) -> None:
    """A script of the site's own, and JSONP without an article, go on as the site sent them."""
    response, original = get(gated, path), get(bare, path)
    assert response.status_code == 200 and response.content == original.content
    assert response.headers["content-type"] == original.headers["content-type"]
    assert "cache-control" not in response.headers and "vary" not in response.headers


@pytest.mark.parametrize(
    "query", ["{ post(id: 2) { x: content } }", "{ post(id: 2) { editorBlocks { renderedHtml } } }"]
)
def test_an_article_under_a_key_the_client_chose_is_cut(gated: str, query: str) -> None:
    """A GraphQL client names the fields it gets, and may rename them: the story under ``x``, or as a block
    editor's blocks, is an article all the same (by its prose, not by its key), and is cut."""
    response = httpx.post(f"{gated}/graphql", json={"query": query}, timeout=20)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-cache"
    assert_withheld_absent(response.content, BRIDGE)
    assert BRIDGE.teaser[0] in response.text and READ_ON in response.text


@pytest.mark.parametrize(
    "value",
    [
        {"data": {"post": {"x": BRIDGE.html()}}},
        {"story": {"words": BRIDGE.text()}},
        {"story": {"chunks": list(BRIDGE.paragraphs)}},
        {
            "blocks": [
                {
                    "blockName": "core/paragraph",
                    "attrs": {},
                    "innerHTML": f"<p>{p}</p>",
                    "innerContent": [f"<p>{p}</p>"],
                }
                for p in BRIDGE.paragraphs
            ]
        },
        {"ops": [{"insert": p + "\n\n"} for p in BRIDGE.paragraphs]},
    ],
    ids=["alias", "text", "paragraphs", "gutenberg", "delta"],
)
def test_prose_under_keys_no_shape_names_is_cut(value: Any) -> None:
    data = json.dumps(value).encode()
    out = Formats(PaywallSettings(secret_key=SECRET)).gate("json", data, charset=None, path="/api/x", origin=ORIGIN)
    assert out.body is not None
    assert_withheld_absent(out.body, BRIDGE)
    assert BRIDGE.teaser[0] in out.body.decode()


LEXICAL = {
    "root": {
        "type": "root",
        "children": [{"type": "paragraph", "children": [{"type": "text", "text": p}]} for p in BRIDGE.paragraphs],
    }
}


@pytest.mark.parametrize(
    ("value", "held"),
    [
        ({"post": {"title": BRIDGE.title, "body": json.dumps(LEXICAL)}}, ("post", "body")),
        ({"post": {"title": BRIDGE.title, "lexical": json.dumps(LEXICAL)}}, ("post", "lexical")),
        ({"props": json.dumps({"story": {"x": BRIDGE.html()}})}, ("props",)),
    ],
    ids=["under-a-body-key", "under-another-key", "props"],
)
def test_json_held_as_text_is_cut_as_json_and_stays_json(value: Any, held: tuple[str, ...]) -> None:
    """An editor's state or a component's props stored as JSON text in a string: read as JSON, cut inside, and
    written back as JSON text, so that the app that parses it still can."""
    data = json.dumps(value).encode()
    out = Formats(PaywallSettings(secret_key=SECRET)).gate("json", data, charset=None, path="/api/x", origin=ORIGIN)
    assert out.body is not None
    assert_withheld_absent(out.body, BRIDGE)
    inner: Any = json.loads(out.body)
    for key in held:
        inner = inner[key]
    assert BRIDGE.teaser[0] in json.dumps(json.loads(inner))


def test_json_text_under_a_body_key_that_no_rule_reads_is_cut_as_text() -> None:
    """A body held as JSON text of a shape no rule reads (Ghost's Mobiledoc): cut as the text it is, as before
    JSON text was read, rather than sent whole."""
    doc = {"version": "0.3.1", "sections": [[1, "p", [[0, [], 0, p]]] for p in BRIDGE.paragraphs]}
    data = json.dumps({"post": {"title": BRIDGE.title, "body": json.dumps(doc)}}).encode()
    out = Formats(PaywallSettings(secret_key=SECRET)).gate("json", data, charset=None, path="/api/x", origin=ORIGIN)
    assert out.body is not None
    assert_withheld_absent(out.body, BRIDGE)


def test_a_flat_payload_of_strings_is_read_string_by_string() -> None:
    """SvelteKit's ``__data.json`` (devalue) puts every string of the page's data in one flat array, each object
    pointing at its values by index: the story is an item of that array, under no key at all."""
    value = {
        "type": "data",
        "nodes": [{"type": "data", "data": [{"post": 1}, {"title": 2, "html": 3}, "Bridge", BRIDGE.html()]}],
    }
    data = json.dumps(value).encode()
    out = Formats(PaywallSettings(secret_key=SECRET)).gate(
        "json", data, charset=None, path="/x/__data.json", origin=ORIGIN
    )
    assert out.body is not None
    assert_withheld_absent(out.body, BRIDGE)
    cut = json.loads(out.body)["nodes"][0]["data"]
    assert cut[:3] == value["nodes"][0]["data"][:3] and BRIDGE.teaser[0] in cut[3]


@pytest.mark.parametrize(
    "value",
    [
        {"results": [{"title": f"Story {n}", "url": f"/s/{n}", "excerpt": p} for n, p in enumerate(BRIDGE.paragraphs)]},
        {"author": {"bio": " ".join(BRIDGE.teaser)}},
        {"tags": ["bridge", "river", "city"], "note": BRIDGE.paragraphs[0]},
        {"settings": json.dumps({"theme": "dark", "items": [1, 2, 3]})},
        {
            "items": [
                {"id": n, "sku": f"S-{n}", "price": 9.5, "description": p} for n, p in enumerate(BRIDGE.paragraphs)
            ]
        },
        {"items": [{"name": f"Item {n}", "description": p} for n, p in enumerate(BRIDGE.paragraphs)]},
    ],
    ids=["search-results", "short-bio", "tags", "json-text", "products", "plain-descriptions"],
)
def test_json_under_other_keys_that_is_no_article_passes(value: Any) -> None:
    """Records (a title, a link, an id, a price: search results, products) are no blocks of one story, nor are
    objects of plain text under a key no shape names, and a paragraph or two is no article: they pass as the site
    made them."""
    data = json.dumps(value).encode()
    out = Formats(PaywallSettings(secret_key=SECRET)).gate("json", data, charset=None, path="/api/x", origin=ORIGIN)
    assert out.body is None


def test_a_page_of_posts_and_the_edit_context_are_cut(gated: str, bare: str) -> None:
    for path in ("/wp-json/wp/v2/posts?per_page=10", "/wp-json/wp/v2/posts?context=edit"):
        response = get(gated, path)
        assert response.status_code == 200, path
        assert_withheld_absent(response.content, HARBOUR, BRIDGE)
        harbour, bridge, free = response.json()
        assert free == get(bare, path).json()[2], "a post marked free in WordPress (meta.paywall) stays whole"
        assert (
            BRIDGE.teaser[2] in bridge["content"]["rendered"]
            and f'href="{BRIDGE.link}"' in bridge["content"]["rendered"]
        )
        assert HARBOUR.teaser[1] in harbour["content"]["rendered"]
    raw = get(gated, "/wp-json/wp/v2/posts/2?context=edit").json()["content"]["raw"]
    assert raw.startswith(f"<p>{BRIDGE.teaser[0]}</p>") and READ_ON in raw


def test_comments_are_no_articles(gated: str, bare: str) -> None:
    response = get(gated, "/wp-json/wp/v2/comments")
    assert response.content == get(bare, "/wp-json/wp/v2/comments").content


# --------------------------------------------------------------------------- headless shapes


def test_portable_text_is_truncated_to_the_teasers_spans(gated: str, bare: str) -> None:
    response = get(gated, "/api/portable")
    assert_withheld_absent(response.content, HARBOUR)
    body = response.json()["body"]
    original = get(bare, "/api/portable").json()["body"]
    # The heading and the teaser's three blocks, as they were; then one block of the same shape with the call to action.
    assert body[:4] == original[:4]
    assert len(body) == 5 and set(body[4]) == set(original[4]) and body[4]["style"] == "normal"
    assert [set(span) for span in body[4]["children"]] == [set(span) for span in original[4]["children"]]
    assert body[4]["_key"] == "paywall-read-on" and body[4]["markDefs"] == [], "no key or mark points elsewhere"
    # The document names no page of its own: the call to action links to the trial page.
    assert body[4]["children"][0]["text"].endswith(f"{READ_ON}: {ORIGIN}/_paywall/trial?next=/")
    assert response.json()["title"] == HARBOUR.title


def test_next_js_data_routes_are_cut(gated: str) -> None:
    article = get(gated, "/_next/data/build-7/bridge-repairs.json")
    assert article.status_code == 200
    assert_withheld_absent(article.content, BRIDGE)
    page = article.json()
    assert page["__N_SSG"] is True and set(page["pageProps"]["article"]) == {"title", "body"}
    assert BRIDGE.teaser[0] in page["pageProps"]["article"]["body"]
    assert f'href="{ORIGIN}/bridge-repairs"' in page["pageProps"]["article"]["body"], "the link goes to the page"
    assert article.content.startswith(b'{"pageProps":{"article":{"title":'), "compact, as the site wrote it"

    spans = get(gated, "/_next/data/build-7/harbour-deal.json")
    assert_withheld_absent(spans.content, HARBOUR)
    content = spans.json()["pageProps"]["story"]["content"]
    assert ["".join(child["text"] for child in block["children"]) for block in content[:3]] == list(HARBOUR.teaser)
    assert content[-1]["children"][0]["text"].endswith(f"{READ_ON}: {ORIGIN}/harbour-deal")
    assert content[-1]["children"][1] == {"text": "", "bold": True}


def test_a_nuxt_payload_is_cut_in_place(gated: str, bare: str) -> None:
    response = get(gated, "/bridge-repairs/_payload.json")
    assert_withheld_absent(response.content, BRIDGE)
    payload, original = response.json(), get(bare, "/bridge-repairs/_payload.json").json()
    assert payload[:5] == original[:5] and payload[6:] == original[6:]
    assert BRIDGE.teaser[0] in payload[5] and f'href="{ORIGIN}/bridge-repairs"' in payload[5]


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_compressed_json_is_decoded_and_cut(gated: str, coding: str) -> None:
    response = httpx.get(f"{gated}/api/compressed/{coding}", headers={"accept-encoding": coding}, timeout=20)
    assert response.status_code == 200 and "content-encoding" not in response.headers
    assert_withheld_absent(response.content, BRIDGE)
    assert BRIDGE.teaser[1] in response.json()["story"]["body_html"]


def test_the_full_text_in_a_second_field_is_found_and_cut(gated: str) -> None:
    """The whole text again under a key no shape names is an article all the same: cut like the body."""
    response = get(gated, "/api/second-copy")
    assert response.status_code == 200
    assert_withheld_absent(response.content, HARBOUR)
    value = response.json()
    assert value["meta"]["search_index"].startswith(HARBOUR.teaser[0]) and HARBOUR.teaser[0] in value["content"]


# --------------------------------------------------------------------------- what stays as it was


@pytest.mark.parametrize("path", ["/api/health", "/api/ids"])
def test_json_without_an_article_passes_byte_for_byte(gated: str, bare: str, path: str) -> None:
    response, original = get(gated, path), get(bare, path)
    assert response.content == original.content
    for header in ("content-length", "cache-control", "etag", "content-type"):
        assert response.headers.get(header) == original.headers.get(header), header
    assert "vary" not in response.headers


def test_members_get_the_json_as_the_site_made_it(gated: str, bare: str, settings: PaywallSettings) -> None:
    token = issue_member_token(settings, "member-1", 30)
    for path in ("/wp-json/wp/v2/posts/1", "/api/portable", "/api/second-copy"):
        response = get(gated, path, cookies={"paywall_member": token})
        assert response.content == get(bare, path).content, path
        assert response.headers["cache-control"] == "private, no-store"


def test_an_answer_marked_free_passes_whole(gated: str) -> None:
    assert_whole(get(gated, "/api/free-story").content, HARBOUR)


# --------------------------------------------------------------------------- failing closed


@pytest.mark.parametrize("path", ["/wp-json/wp/v2/broken", "/api/broken", "/api/duplicate", "/api/members-note"])
def test_json_that_cannot_be_cut_safely_is_refused(gated: str, path: str) -> None:
    response = get(gated, path)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "private, no-store"
    assert response.json()["error"] == "members_only"
    assert_withheld_absent(response.content, HARBOUR)


def test_named_fields_and_paths_are_settings(make_settings: SettingsFactory) -> None:
    from starlette.testclient import TestClient

    default = TestClient(PaywallMiddleware(feeds_site.site, settings=make_settings()))
    assert_whole(default.get("/api/custom").content, BRIDGE)  # a key no shape names: the site must name it
    configured = TestClient(
        PaywallMiddleware(
            feeds_site.site, settings=make_settings(json_body_fields=("copy_text",), json_paths=("/api/*",))
        )
    )
    response = configured.get("/api/custom")
    assert_withheld_absent(response.content, BRIDGE)
    assert response.json()["story"]["copy_text"].startswith(BRIDGE.teaser[0])
    assert configured.get("/api/ids").content == feeds_site.IDS, "read on a json path, and nothing to cut"


@pytest.mark.anyio
async def test_large_json_streams_until_a_body_key_shows(make_settings: SettingsFactory) -> None:
    """Over max_body_bytes: rows without a body key stream whole; a body key further on ends the answer there."""
    app = PaywallMiddleware(feeds_site.site, settings=make_settings(max_body_bytes=64 * 1024))
    rows = await call(app, "/api/large", chunks=[b""])
    assert rows.status == 200 and rows.body == feeds_site.large_rows(3000)
    assert rows.header("content-length") is None
    late = await call(app, "/api/large-late")
    assert late.status == 200 and len(late.body) < len(feeds_site.large_rows(3000, body_at=2000))
    assert_withheld_absent(late.body, HARBOUR)
    member = issue_member_token(app.settings, "m", 1)
    whole = await call(app, "/api/large-late", headers=[(b"cookie", f"paywall_member={member}".encode())])
    assert whole.body == feeds_site.large_rows(3000, body_at=2000)


@pytest.mark.anyio
async def test_large_json_that_carries_an_article_early_is_refused(make_settings: SettingsFactory) -> None:
    app = PaywallMiddleware(feeds_site.site, settings=make_settings(max_body_bytes=2048))
    result = await call(app, "/wp-json/wp/v2/posts")
    assert result.status == 403
    assert_withheld_absent(result.body, HARBOUR, BRIDGE)


# --------------------------------------------------------------------------- writing JSON back


@pytest.mark.parametrize(
    "original",
    [
        json.dumps({"a": "x/y", "b": [1, 2], "c": "\u00e9<"}, separators=(",", ":")).replace("/", "\\/").encode(),
        json.dumps({"a": "x/y", "b": [1, 2], "c": "\u00e9<"}, indent=2, ensure_ascii=False).encode() + b"\n",
        json.dumps({"a": "x/y", "b": [1, 2], "c": "\u00e9<"}).replace("<", "\\u003c").encode(),
    ],
)
def test_json_is_written_back_in_the_originals_style(original: bytes) -> None:
    assert dumps_like(json.loads(original), original) == original


@pytest.mark.anyio
@pytest.mark.parametrize("key", ["Body", "CONTENT", "articlebody", "ContentHtml"])
async def test_body_keys_are_found_in_any_case(make_settings: SettingsFactory, key: str) -> None:
    """APIs written in C# or Java often name their keys in PascalCase."""
    body = json.dumps({"Title": BRIDGE.title, "Url": BRIDGE.link, key: BRIDGE.html()}).encode()
    app = PaywallMiddleware(raw_app(body, headers=[(b"content-type", b"application/json")]), settings=make_settings())
    result = await call(app, "/api/v1/stories/7")
    assert result.status == 200
    assert_withheld_absent(result.body, BRIDGE)
    assert BRIDGE.teaser[0] in json.loads(result.body)[key] and f'href="{BRIDGE.link}"' in json.loads(result.body)[key]


# --------------------------------------------------------------------------- a WordPress without the plugin


@pytest.fixture(scope="module")
def wordpress_proxy(tmp: Path) -> Iterator[str]:
    """The PHP WordPress stand-in of test_wordpress, its plugin left out, behind a real ``paywall proxy``."""
    with wordpress({"STUB_WITHOUT_PLUGIN": "1"}) as site, spawn_proxy(site, tmp) as (url, _):
        yield url


def test_a_wordpress_feed_and_rest_api_are_cut_by_the_paywall(wordpress_proxy: str, settings: PaywallSettings) -> None:
    words = [w for post in POSTS for w in secret_words(post)]
    for path in ("/feed/", "/wp-json/wp/v2/posts/1", "/wp-json/wp/v2/posts/3"):
        response = get(wordpress_proxy, path)
        assert response.status_code == 200, path
        assert_no_leak(response.content, words)
        assert READ_ON in response.text
    feed = etree.fromstring(get(wordpress_proxy, "/feed/").content)
    assert len(feed.findall("channel/item")) == len(POSTS)
    post = get(wordpress_proxy, "/wp-json/wp/v2/posts/1").json()
    assert post["content"]["protected"] is False and POSTS[1]["paragraphs"][0] in post["content"]["rendered"]
    free = get(wordpress_proxy, "/wp-json/wp/v2/posts/2").json()
    assert free["meta"] == {"paywall": "free"} and all(word in free["content"]["rendered"] for word in secret_words(2))
    member = issue_member_token(settings, "member-1", 30)
    whole = get(wordpress_proxy, "/wp-json/wp/v2/posts/1", cookies={"paywall_member": member})
    assert all(word in whole.text for word in secret_words(1))


# --------------------------------------------------------------------------- any JSON, the article anywhere

_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _keys_of(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [sorted(value), *(_keys_of(v) for v in value.values())]
    if isinstance(value, list):
        return [_keys_of(v) for v in value]
    return []


@settings_profile(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def jsonml_paragraph(text: str) -> list[Any]:
    """A paragraph as markup written as arrays (JsonML) stores it: a few words a string, every other piece a link or
    an emphasis of its own."""
    found = text.split()
    pieces = [" ".join(found[at : at + 3]) + " " for at in range(0, len(found), 3)]
    children = [
        (["a", {"href": f"/topics/{n}"}, piece] if n % 4 == 1 else ["em", piece]) if n % 2 else piece
        for n, piece in enumerate(pieces)
    ]
    return ["p", {}, *children]


def test_a_body_of_markup_written_as_arrays_is_cut_to_the_teasers_elements() -> None:
    """A headless CMS's answer whose body is JsonML (``["p", {}, "words ", ["a", {"href": …}, "a link"]]``): the
    teaser's paragraphs stay as they were, one paragraph of the same shape carries the call to action, the rest goes."""
    paragraphs = [jsonml_paragraph(p) for p in BRIDGE.paragraphs]
    for body in (paragraphs, ["div", {"class": "body"}, *paragraphs]):
        data = json.dumps({"story": {"title": BRIDGE.title, "body": body}}).encode()
        out = Formats(PaywallSettings(secret_key=SECRET)).gate("json", data, charset=None, path="/api/x", origin=ORIGIN)
        assert out.body is not None
        assert_withheld_absent(out.body, BRIDGE)
        cut = json.loads(out.body)["story"]["body"]
        kept = cut[2:] if body[0] == "div" else cut
        assert cut[:2] == body[:2] or body[0] != "div"
        assert kept[: len(BRIDGE.teaser)] == paragraphs[: len(BRIDGE.teaser)]
        assert len(kept) == len(BRIDGE.teaser) + 1 and kept[-1][0] == "p"
        assert READ_ON in json.dumps(kept[-1])


@given(
    frame=_JSON,
    key=st.sampled_from(["content", "body", "Body", "articleBody", "body_html", "html"]),
    form=st.sampled_from(["html", "text", "rendered", "spans", "paragraphs", "jsonml", "jsonml-root"]),
    path=st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=4), max_size=3),
)
def test_an_article_anywhere_in_any_json_is_cut_and_the_json_keeps_its_shape(
    frame: Any, key: str, form: str, path: list[str]
) -> None:
    body: Any = {
        "html": BRIDGE.html(),
        "text": BRIDGE.text(),
        "rendered": {"rendered": BRIDGE.html(), "protected": False},
        "spans": [{"_type": "block", "children": [{"_type": "span", "text": p}]} for p in BRIDGE.paragraphs],
        "paragraphs": list(BRIDGE.paragraphs),
        "jsonml": [jsonml_paragraph(p) for p in BRIDGE.paragraphs],
        "jsonml-root": ["div", {"class": "body"}, *(jsonml_paragraph(p) for p in BRIDGE.paragraphs)],
    }[form]
    article: Any = {key: body}
    for name in reversed(path):
        article = {name: article}
    value = {"frame": frame, "story": article}
    data = json.dumps(value).encode()
    out = Formats(PaywallSettings(secret_key=SECRET)).gate("json", data, charset=None, path="/api/x", origin=ORIGIN)
    assert out.body is not None
    assert_withheld_absent(out.body, BRIDGE)
    cut = json.loads(out.body)
    assert cut["frame"] == frame
    if form in ("html", "text", "rendered"):
        assert _keys_of(cut) == _keys_of(value)
