"""Shapes of markup met on real article pages the engine was not developed on, each written from scratch.

Each test builds the smallest page with the shape, gates it as a first view
would be gated, and checks both sides: the reader sees a teaser of the story,
and what comes after the teaser reaches no one who has not paid.
"""

from __future__ import annotations

from paywall.engine import Page
from tests.test_engine_cut import CHROME, assert_well_formed, news
from tests.test_engine_sweep import CTA, assert_cta_once

LINES = [
    f"+ Line {n} of the changelog adds the {word} block, with a recipe and new sounds"
    for n, word in enumerate(
        (
            "amber", "basalt", "cinder", "dune", "ember", "fern", "glacier", "heath", "iris", "juniper",
            "kelp", "lichen", "marble", "nettle", "opal", "pumice", "quartz", "reed", "slate", "thistle",
            "umber", "violet", "willow", "xenolith", "yarrow", "zinnia",
        ),
        start=1,
    )
]  # fmt: skip
"""Lines of one post, a few words each, none ending a sentence: a changelog, a list typed as lines."""


def first_view(markup: str, teaser: int = 2) -> str:
    page = Page.parse(markup.encode(), None)
    assert page.has_article()
    out = page.gate(teaser_paragraphs=teaser, cta_html=CTA)
    assert_cta_once(out)
    assert_well_formed(out)
    return out.decode()


def test_one_paragraph_of_lines_shows_its_first_lines_and_withholds_the_rest() -> None:
    """A post whose whole body is one paragraph of lines split by single ``<br>``.

    Counted as one block, the teaser could show none of it (one block is always
    withheld); counted in groups of lines, the reader sees the opening lines.
    """
    body = "<br>".join(LINES)
    out = first_view(news(f"<article><h1>Update notes</h1><p>{body}</p></article>"))
    assert LINES[0] in out
    assert LINES[1] in out
    for line in LINES[len(LINES) // 2 :]:
        assert line not in out
    for chrome in CHROME:
        assert chrome in out
    assert out.index(LINES[0]) < out.index(CTA[:30])


def test_lines_in_a_short_block_are_not_split() -> None:
    """A short address or signature typed as lines stays one block: only long blocks are split at lines."""
    address = "<br>".join(("Harbour Office", "12 Quay Street", "Portsmouth"))
    story = "".join(
        f"<p>The {word} council met again on Tuesday to weigh the harbour plan, and members asked for more time.</p>"
        for word in ("first", "second", "third", "fourth", "fifth", "sixth")
    )
    out = first_view(news(f"<article><h1>Harbour plan</h1>{story}<p>{address}</p></article>"))
    assert "The first council met" in out
    assert "The sixth council met" not in out
    assert "12 Quay Street" not in out
