"""A story the page declares but does not show in its markup: a script renders it from the page's data.

A site whose pages are rendered in the browser (a single-page application,
a page hydrated from its state) sends a shell, the story's data, and
JSON-LD whose ``articleBody`` holds the story. Nothing in the markup is an
article, yet the page carries the whole story: it is gated on what it
declares. The teaser is the story's opening, the call to action goes at
the end of the body, and every copy of the rest (the JSON-LD, the state
the script renders from) is shortened. A page that declares no story of
an article's length (a video's summary) is no article.

So is a story another reading of the page shows: a browser with scripts off
renders a ``<noscript>``'s markup, every browser an ``<iframe srcdoc>``
document, and a script a ``<template>``'s content when it stamps it.
"""

from __future__ import annotations

import asyncio
import html
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from paywall import PaywallMiddleware, PaywallSettings
from paywall.engine import Page, sweep
from paywall.engine.fingerprint import Fingerprint
from tests.asgi import call
from tests.conftest import SECRET
from tests.test_engine_cut import CHROME, news, parse
from tests.test_engine_heldout_shapes import first_view
from tests.test_engine_sweep import CTA, CTA_MARK, TEASER, WITHHELD, paragraphs_html

LOG = [
    f"The keeper's log for day {day} records calm seas, a steady wind from the south-west and a tanker at dusk."
    for day in ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
]
STORY = TEASER + WITHHELD + LOG
LINES = "\n".join(STORY)
SECRETS = ("zephyrquill", "Quistovar", "moonbrackle", "trindlewhap", "florvexian", "day seven", "day ten")


def json_ld(body: str, kind: str = "NewsArticle") -> str:
    block = {"@context": "https://schema.org", "@type": kind, "headline": "Lighthouse reopens", "articleBody": body}
    return f'<script type="application/ld+json">{json.dumps(block)}</script>'


def application(head: str = "") -> str:
    """A page rendered in the browser: a shell, the story as the application's state, and its JSON-LD."""
    state = json.dumps({"props": {"pageProps": {"story": {"title": "Lighthouse reopens", "paragraphs": STORY}}}})
    return news(
        '<div id="__next"><div class="spinner">Loading</div></div>',
        head=f'{json_ld(LINES)}<script id="__NEXT_DATA__" type="application/json">{state}</script>{head}',
    )


def test_a_story_rendered_from_the_page_s_state_is_cut_in_its_data() -> None:
    page = Page.parse(application().encode(), None)
    assert page.report.how_found == "declared"
    out = first_view(application())
    for secret in SECRETS:
        assert secret not in out
    tree = parse(out.encode())
    state = json.loads(tree.css_first("#__NEXT_DATA__").text())  # the application still reads its state
    paragraphs = state["props"]["pageProps"]["story"]["paragraphs"]
    assert paragraphs[:2] == TEASER[:2] and len(paragraphs) == len(STORY)  # the teaser, for the script to show
    declared = json.loads(tree.css_first("script[type='application/ld+json']").text())
    assert declared["isAccessibleForFree"] is False and TEASER[0] in declared["articleBody"]
    assert out.rindex(CTA_MARK) > out.index("Stay informed")  # at the end of the body, below the page
    for chrome in CHROME:
        assert chrome in out


ARTICLE_META = '<meta property="og:type" content="article">'


@pytest.mark.parametrize(
    "state",
    [
        '<script id="__NEXT_DATA__" type="application/json">{}</script>'.format(
            json.dumps({"props": {"pageProps": {"story": {"title": "Lighthouse reopens", "paragraphs": STORY}}}})
        ),
        "<script>window.__APOLLO_STATE__ = {};</script>".format(
            json.dumps({"Story:1": {"__typename": "Story", "id": 1, "html": paragraphs_html(STORY)}})
        ),
        '<script type="application/json" id="store">{}</script>'.format(
            json.dumps({"story": {"x": "\n\n".join(STORY)}})
        ),
    ],
    ids=["paragraphs", "markup", "text"],
)
def test_a_story_only_the_page_s_state_holds_is_withheld_there(state: str) -> None:
    """A page rendered in the browser that declares no ``articleBody``: its metadata says it is an article, its
    markup holds none, and its state holds the story (a list of paragraphs, markup, text). The story is taken
    from the state, and the state keeps the teaser only (it still parses)."""
    markup = news('<div id="__next"><div class="spinner">Loading</div></div>', head=ARTICLE_META + state)
    page = Page.parse(markup.encode(), None)
    assert page.has_article() and page.report.how_found == "declared"
    assert "state" in page.report.article_path
    out = first_view(markup)
    for secret in SECRETS:
        assert secret not in out
    assert TEASER[0] in out and CTA_MARK in out
    for chrome in CHROME:
        assert chrome in out


def story_as(shape: str) -> object:
    """The story as a state stores it: a paragraph a string, markup, or a paragraph an object (rich text)."""
    if shape == "paragraphs":
        return list(STORY)
    if shape == "markup":
        return paragraphs_html(STORY)
    if shape == "portable text":  # Sanity: blocks of spans
        return [
            {"_type": "block", "_key": f"k{n}", "style": "normal", "markDefs": [],
             "children": [{"_type": "span", "_key": f"s{n}", "marks": [], "text": line}]}
            for n, line in enumerate(STORY)
        ]  # fmt: skip
    if shape == "typed blocks":  # a block editor's output, a figure among the paragraphs
        blocks: list[object] = [{"type": "paragraph", "text": line} for line in STORY]
        blocks.insert(5, {"type": "image", "url": "/harbour.jpg", "caption": "The harbour at dawn"})
        return blocks
    if shape == "slate":  # Slate, Plate, Payload: elements of leaves
        return [{"type": "p", "children": [{"text": line}]} for line in STORY]
    if shape == "grouped blocks":  # WordPress's blocks, the later paragraphs in a group of columns

        def paragraph(line: str) -> dict[str, object]:
            return {"blockName": "core/paragraph", "attrs": {}, "innerBlocks": [], "innerHTML": f"<p>{line}</p>"}

        column = {
            "blockName": "core/column",
            "innerHTML": "<div></div>",
            "innerBlocks": [paragraph(line) for line in STORY[6:]],
        }
        group = {"blockName": "core/columns", "innerHTML": "<div></div>", "innerBlocks": [column]}
        return [*(paragraph(line) for line in STORY[:6]), group]
    return [[line] for line in STORY]  # one-string arrays


SHAPES = ["paragraphs", "markup", "portable text", "typed blocks", "slate", "one-string arrays", "grouped blocks"]


@pytest.mark.parametrize("shown", [4, 6])
@pytest.mark.parametrize("shape", SHAPES)
def test_the_rest_of_a_story_only_the_state_holds_is_withheld_there(shown: int, shape: str) -> None:
    """A page that renders the story's opening on the server and the rest from its state: the state holds every
    paragraph, most of which the markup never shows. What follows the first withheld paragraph in the state is
    the rest of the story, withheld too: a paragraph a string, every later string of the array goes; a paragraph
    an object, the text of every later object (under the key that held the withheld paragraph's)."""
    value = story_as(shape)
    state = '<script id="__NEXT_DATA__" type="application/json">{}</script>'.format(
        json.dumps({"props": {"pageProps": {"story": {"title": "Lighthouse reopens", "body": value, "id": 7}}}})
    )
    shell = f"<article><h1>Lighthouse reopens</h1>{paragraphs_html(STORY[:shown])}<div id='more'></div></article>"
    out = first_view(news(shell, head=ARTICLE_META + state))
    for secret in SECRETS:
        assert secret not in out
    held = json.loads(parse(out.encode()).css_first("#__NEXT_DATA__").text())["props"]["pageProps"]["story"]
    assert held["id"] == 7 and held["title"] == "Lighthouse reopens"  # the state still parses, its keys kept
    assert TEASER[0] in json.dumps(held["body"])


@pytest.mark.parametrize("shape", [shape for shape in SHAPES if shape != "markup"])
def test_the_rest_of_a_story_goes_from_state_read_whole(shape: str) -> None:
    """A script read whole (parsed, shortened and written again) loses the rest of the story as one read where
    the copies stand does: each item of the story's array is kept, its text after the first withheld one gone."""
    value = {"story": {"body": story_as(shape), "id": 7}}
    shortened = sweep.shorten_json(value, Fingerprint.build(STORY[3:5], STORY[:3]))
    assert shortened is not None
    text = json.dumps(shortened)
    for secret in SECRETS:
        assert secret not in text
    assert TEASER[0] in text and shortened["story"]["id"] == 7
    body = shortened["story"]["body"]
    assert len(body) == len(value["story"]["body"])  # type: ignore[arg-type]


@pytest.mark.parametrize("wrapping", ["json", "assignment", "comment"])
def test_the_rest_of_a_story_goes_from_state_read_as_text(wrapping: str) -> None:
    """A large state is read as text where the copies stand (not parsed whole): the rest of the story goes
    there too, past strings that hold quotes, backslashes and brackets, in each place the state keeps the story
    (read on after the first), and the state still parses."""
    filler = [{"id": n, "name": f'Item "{n}" \\ [x] {{y}}', "tags": ["a", "b"]} for n in range(400)]
    state = {
        "catalog": filler,
        "story": {"body": story_as("portable text")},
        "between": {"note": "kept [\\"},
        "preview": {"blocks": story_as("typed blocks")},
        "after": {"note": "kept \\"},
    }
    text = json.dumps(state)
    script = {
        "json": f'<script id="state" type="application/json">{text}</script>',
        "assignment": f'<script id="state">window.__STATE__ = {text};</script>',
        "comment": f'<script id="state" type="application/json"><!--{text}--></script>',
    }[wrapping]
    shell = f"<article><h1>Lighthouse reopens</h1>{paragraphs_html(STORY[:4])}<div id='more'></div></article>"
    out = first_view(news(shell, head=ARTICLE_META + script))
    for secret in SECRETS:
        assert secret not in out
    body = parse(out.encode()).css_first("#state").text()
    body = body.removeprefix("window.__STATE__ = ").removesuffix(";").removeprefix("<!--").removesuffix("-->")
    held = json.loads(body)
    assert held["catalog"] == filler and held["after"] == state["after"] and held["between"] == state["between"]
    assert held["story"]["body"][0] == state["story"]["body"][0]  # type: ignore[index]
    assert held["preview"]["blocks"][0] == state["preview"]["blocks"][0]  # type: ignore[index]


def test_the_rest_of_a_story_is_its_own_array_s_not_the_page_s() -> None:
    """A state that is the page's tree of components keeps the story's blocks in one of them: the rest of the
    story goes, the text other components keep (a menu, the next story, the footer's links) stays."""
    other = [{"type": "p", "children": [{"text": f"The ferry timetable changes on day {n} of the winter season."}]}
             for n in range(3)]  # fmt: skip
    components = [
        {"type": "Nav", "items": [{"text": "Harbour news home"}, {"text": "Coastal weather"}]},
        {"type": "Story", "body": story_as("slate")},
        {"type": "Story", "body": other},  # the next story, preloaded
        {"type": "Footer", "links": [{"text": "About the harbour gazette"}, {"text": "Contact the newsroom"}]},
    ]
    state = '<script id="__NEXT_DATA__" type="application/json">{}</script>'.format(
        json.dumps({"props": {"pageProps": {"components": components}}})
    )
    shell = f"<article><h1>Lighthouse reopens</h1>{paragraphs_html(STORY[:4])}<div id='more'></div></article>"
    out = first_view(news(shell, head=ARTICLE_META + state))
    for secret in SECRETS:
        assert secret not in out
    held = json.loads(parse(out.encode()).css_first("#__NEXT_DATA__").text())["props"]["pageProps"]["components"]
    assert held[0] == components[0] and held[2] == components[2] and held[3] == components[3]
    assert held[1]["body"][0] == components[1]["body"][0]  # type: ignore[index]


def test_a_long_text_in_the_state_of_a_page_that_says_it_is_no_article_is_left_alone() -> None:
    """A home page's state may hold a long text (a notice, a policy): without metadata that says the page is an
    article, it is no story."""
    state = '<script type="application/json" id="store">{}</script>'.format(json.dumps({"notice": "\n\n".join(STORY)}))
    assert not Page.parse(news('<div id="app"></div>', head=state).encode(), None).has_article()


def test_a_declared_story_shown_where_no_article_is_looked_for_is_cut_there_too() -> None:
    """The story in the markup where detection never takes an article (a sidebar): what the page declares
    still says what it is, and its copy in the sidebar keeps the teaser only."""
    out = first_view(news(f'<aside class="story-rail">{paragraphs_html(STORY)}</aside>', head=json_ld(LINES)))
    assert TEASER[0] in out
    for secret in SECRETS:
        assert secret not in out


def test_a_story_in_one_line_is_counted_in_sentences() -> None:
    """As a long paragraph in a page is: the teaser is its first groups of sentences, the rest withheld."""
    out = first_view(news('<div id="app"></div>', head=json_ld(" ".join(STORY), kind="BlogPosting")))
    assert TEASER[0] in out
    for secret in ("day five", "day seven", "day ten"):
        assert secret not in out


def test_a_short_declared_body_is_no_article() -> None:
    """A video page's summary, a teaser the JSON-LD calls the body: too short to be a story."""
    markup = news('<div id="player"></div>', head=json_ld(" ".join(TEASER)))
    assert not Page.parse(markup.encode(), None).has_article()


def test_a_page_with_an_article_in_its_markup_is_cut_there_whatever_it_declares() -> None:
    markup = news(f"<article><h1>Lighthouse reopens</h1>{paragraphs_html(STORY)}</article>", head=json_ld(LINES))
    page = Page.parse(markup.encode(), None)
    assert page.report.how_found != "declared"
    out = first_view(markup)
    assert out.index(CTA_MARK) < out.index("Read more insights")  # after the teaser, not at the page's end


STORY_MARKUP = f"<article><h1>Lighthouse reopens</h1>{paragraphs_html(STORY)}</article>"
FRAMED = f'<iframe title="story" srcdoc="{html.escape(STORY_MARKUP)}"></iframe>'


@pytest.mark.parametrize(
    ("shell", "where"),
    [
        (f'<div id="app"></div><noscript>{STORY_MARKUP}</noscript>', "noscript"),
        (FRAMED, "srcdoc"),
        (f'<iframe srcdoc="{html.escape(FRAMED)}"></iframe>', "srcdoc"),
        (f'<div id="app"></div><template id="story">{STORY_MARKUP}</template>', "template"),
    ],
    ids=["noscript", "srcdoc", "srcdoc in srcdoc", "template"],
)
def test_a_story_only_another_reading_of_the_page_shows_is_withheld(shell: str, where: str) -> None:
    page = Page.parse(news(shell).encode(), None)
    assert page.report.how_found == "declared" and where in page.report.article_path
    out = first_view(news(shell))
    for secret in SECRETS:
        assert secret not in out


def test_a_tracking_pixel_s_noscript_makes_no_article() -> None:
    markup = news(
        "<div><p>Welcome to the harbour guide: tides, ferries and the weather.</p></div>"
        f'<noscript><img src="/pixel.gif" alt="" width="1" height="1">{"&nbsp;" * 200}</noscript>'
    )
    assert not Page.parse(markup.encode(), None).has_article()


@pytest.fixture
def paywalled() -> Iterator[PaywallMiddleware]:
    async def story(request: Request) -> HTMLResponse:
        return HTMLResponse(application())

    with tempfile.TemporaryDirectory() as folder:
        settings = PaywallSettings(secret_key=SECRET, store=f"sqlite:///{Path(folder) / 'paywall.db'}")
        middleware = PaywallMiddleware(Starlette(routes=[Route("/news/lighthouse", story)]), settings=settings)
        yield middleware
        asyncio.run(middleware.store.aclose())


def test_a_non_member_gets_the_application_with_the_teaser_only(paywalled: PaywallMiddleware) -> None:
    first, again = asyncio.run(call(paywalled, "/news/lighthouse")), asyncio.run(call(paywalled, "/news/lighthouse"))
    for result in (first, again):  # judged, then from the cache
        assert result.status == 200
        body = result.body.decode()
        assert TEASER[0] in body and body.count("Start your 7-day free trial now") == 1
        for secret in SECRETS:
            assert secret not in body
        assert "private" in (result.header("cache-control") or "")


def test_the_rest_of_a_story_behind_a_read_more_button_and_its_copy_in_the_state_are_withheld() -> None:
    """The story's opening shown, its rest in a ``<template>`` that a "Read more" button stamps, and the whole
    story in the application's state: the template's words are withheld words, and their copy goes."""
    state = json.dumps({"story": {"paragraphs": STORY}})
    markup = news(
        f"<article><h1>Lighthouse reopens</h1>{paragraphs_html(TEASER)}<button>Read more</button>"
        f'<template id="rest">{paragraphs_html(WITHHELD + LOG)}</template></article>',
        head=f'<script id="__NEXT_DATA__" type="application/json">{state}</script>',
    )
    out = first_view(markup)
    assert TEASER[0] in out
    for secret in SECRETS:
        assert secret not in out


def test_the_rest_a_script_renders_from_the_page_s_data_is_withheld_there() -> None:
    """The server renders the story's first paragraphs and a script the rest, from the state the page carries
    (its JSON-LD declares the whole story): the rest's words are withheld words, and their copy in the state
    goes, not only that of the paragraphs the page showed."""
    state = json.dumps({"story": {"paragraphs": STORY}})
    markup = news(
        f'<article><h1>Lighthouse reopens</h1>{paragraphs_html(STORY[:5])}<div id="more"></div></article>',
        head=f'{json_ld(LINES)}<script id="__NEXT_DATA__" type="application/json">{state}</script>',
    )
    out = first_view(markup)
    assert TEASER[0] in out
    for secret in (*SECRETS, "day one", "day two"):
        assert secret not in out


def test_a_declared_story_written_as_markup_is_read_as_its_paragraphs() -> None:
    """Some sites put the story's markup in ``articleBody``: its paragraphs are the story's, its tags no words."""
    page = Page.parse(news('<div id="app"></div>', head=json_ld(paragraphs_html(STORY))).encode(), None)
    assert page.story_lines().splitlines() == STORY
    out = page.gate(teaser_paragraphs=2, cta_html=CTA).decode()
    assert TEASER[0] in out
    for secret in SECRETS:
        assert secret not in out


CONSENT = " ".join(
    f"We and our {n} partners store and read cookies on your device, measure how our pages are used, and show"
    " advertising that may be personalised, for which you can withdraw consent at any time in the settings."
    for n in range(8)
)


def test_a_long_notice_in_a_home_page_s_template_is_no_story() -> None:
    """A component's template of a consent notice (plain paragraphs, no sign of an article) on a page that
    says nothing of being an article: the page is no article, and goes out as it is."""
    markup = news(
        '<div class="cards"><a href="/a">Harbour fees rise</a> <a href="/b">Ferry timetable</a></div>'
        f'<template id="consent"><div class="notice"><p>{CONSENT}</p><p>{CONSENT}</p></div></template>'
    )
    assert not Page.parse(markup.encode(), None).has_article()


def test_an_unmarked_story_in_a_noscript_counts_where_the_page_says_it_is_an_article() -> None:
    head = '<meta property="og:type" content="article">'
    story = f"<div>{paragraphs_html(STORY)}</div>"  # no <article>, no <time>: the page's metadata speaks for it
    page = Page.parse(news(f'<div id="app"></div><noscript>{story}</noscript>', head=head).encode(), None)
    assert page.has_article() and page.report.how_found == "declared"
    without = Page.parse(news(f'<div id="app"></div><noscript>{story}</noscript>').encode(), None)
    assert not without.has_article()
