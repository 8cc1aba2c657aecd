"""Declarative shadow DOM: a story rendered inside ``<template shadowrootmode>`` is gated like any other.

Browsers (Chrome 111+, Safari 16.4+, Firefox 123+) render such a template's
content in place, as the shadow root of the element around it: web components
rendered on the server (Lit, Stencil, Enhance) send their markup this way. The
parser keeps a template's content apart from the tree, out of reach of its
traversals and selectors, so the engine reads declarative shadow roots where
they stand. An inert ``<template>`` is no text of the page (a script shows it
when it stamps it: see ``tests/test_engine_declared.py``).
"""

from __future__ import annotations

import json

from paywall.engine.outline import Outline
from tests.test_engine_cut import CHROME, news, parse
from tests.test_engine_heldout_shapes import first_view
from tests.test_engine_sweep import CTA_MARK, TEASER, WITHHELD, paragraphs_html

STORY = f"<article><h1>Lighthouse reopens</h1>{paragraphs_html(TEASER)}{paragraphs_html(WITHHELD)}</article>"


def assert_gated(out: str) -> None:
    assert TEASER[0] in out and TEASER[1] in out
    for sentence in WITHHELD:
        assert sentence not in out
    for word in ("zephyrquill", "Quistovar", "moonbrackle", "trindlewhap", "florvexian"):
        assert word not in out
    for chrome in CHROME:
        assert chrome in out


def test_a_story_in_a_declarative_shadow_root_is_cut_at_its_teaser() -> None:
    out = first_view(news(f'<story-view><template shadowrootmode="open">{STORY}</template></story-view>'))
    assert_gated(out)
    # The call to action stands beside the host, in the page's own tree, where the page's stylesheet reaches it.
    assert out.index("</story-view>") < out.index(CTA_MARK)


def test_a_story_in_a_closed_shadow_root_inside_another_is_cut_too() -> None:
    inner = f'<story-view><template shadowrootmode="closed">{STORY}</template></story-view>'
    out = first_view(news(f'<site-frame><template shadowrootmode="open"><p>Edition</p>{inner}</template></site-frame>'))
    assert_gated(out)


def test_the_json_ld_copy_of_a_story_in_a_shadow_root_is_shortened() -> None:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "articleBody": " ".join(TEASER + WITHHELD)}
    head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    out = first_view(news(f'<story-view><template shadowrootmode="open">{STORY}</template></story-view>', head=head))
    assert_gated(out)
    assert (
        TEASER[0]
        in json.loads(parse(out.encode()).css_first("script[type='application/ld+json']").text())["articleBody"]
    )


def test_the_story_s_end_in_a_shadow_root_after_its_teaser_goes_with_its_copy() -> None:
    """The teaser in the page's own tree, the rest of the story in a component's shadow root after it, and
    the page's description quoting that rest: the words of the shadow root are withheld words too."""
    head = f'<meta name="description" content="{WITHHELD[1]}">'
    article = (
        f"<article><h1>Lighthouse reopens</h1>{paragraphs_html(TEASER)}"
        f'<story-rest><template shadowrootmode="open">{paragraphs_html(WITHHELD)}</template></story-rest></article>'
    )
    out = first_view(news(article, head=head))
    assert_gated(out)


def test_text_at_the_top_of_a_shadow_root_is_its_host_s() -> None:
    lines = "<br><br>".join(TEASER + WITHHELD)
    out = first_view(news(f'<article><h1>Lighthouse reopens</h1><div><template shadowrootmode="open">{lines}'
                          "</template></div></article>"))  # fmt: skip
    assert TEASER[0] in out
    for sentence in WITHHELD[1:]:
        assert sentence not in out


def test_an_inert_template_is_no_text_of_the_page() -> None:
    """Only a script shows it, when it stamps it: read as a page of its own where the page has no article
    (``tests/test_engine_declared.py``), never as the page's visible text."""
    markup = news(f"<template>{STORY}</template><div><p>Opening hours are on the door.</p></div>")
    outline = Outline(parse(markup.encode()))
    assert outline.shadow_roots == 0 and outline.templates == 1
    assert all(TEASER[0] not in text for block in outline.blocks for text, _ in block.pieces)
