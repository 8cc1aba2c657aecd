"""Detection scores prose however a site types its paragraphs, and does not take a list of names for prose.

Readability's scoring gives each paragraph points for the elements above it.
Sites type paragraphs in other ways than ``<p>``: a ``<div>`` holding text
and no block (read as a paragraph, as Readability turns such a ``<div>`` into
a ``<p>``), runs between ``<br><br>`` in one block (each run a paragraph of
the block's average length), or a ``<p>`` that a ``<div>`` wraps alone (the
points go past the wrapper, as Readability puts such a ``<p>`` in its place).
A block that is mostly link text (a list of names with commas between them,
"left kudos" under a story) is no prose and scores nothing: by its commas
alone it would outscore the story, and the page would be taken for a list of
links and sent whole.
"""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser

from paywall.engine import Page, detect
from paywall.engine.outline import Outline
from tests.test_engine_cut import news
from tests.test_engine_sweep import CTA

PARAGRAPHS = [
    f"On day {day} of the crossing the crew logged the wind, the swell and the sightings, and the cook kept a"
    " tally of what was left in the stores, the water casks and the flour."
    for day in range(40)
]


def top(markup: str) -> detect.Element:
    return detect.score(Outline(LexborHTMLParser(markup, scripting=True)))[0]


def story(form: str, paragraphs: list[str] = PARAGRAPHS) -> str:
    if form == "p":
        return "".join(f"<p>{text}</p>" for text in paragraphs)
    if form == "div":
        return "".join(f"<div>{text}</div>" for text in paragraphs)
    return "<div>" + "<br><br>".join(paragraphs) + "</div>"


def test_a_div_holding_only_text_scores_for_its_parent_as_a_paragraph_does() -> None:
    """Its standfirst named as text: as an element of its own, it would outscore the story it opens."""
    lead = '<div class="lead-text">The password manager now makes one-time codes for a second factor itself.</div>'
    markup = news(f'<div class="x81">{lead}{story("div", PARAGRAPHS[:8])}</div>')
    assert top(markup).hints.strip() == "x81"  # the story's element, not one of its paragraphs


def test_runs_between_br_br_score_as_the_paragraphs_they_are() -> None:
    as_paragraphs = top(news(f'<div class="x81">{story("p")}</div>')).score
    as_runs = top(news(f'<div class="x81">{story("br")}</div>')).score
    assert as_runs > 0.8 * as_paragraphs


def test_lines_of_an_address_between_br_br_are_no_paragraphs() -> None:
    lines = "<br><br>".join(["Harbour Office", "12 Quay Street", "Portsmouth", "Hampshire", "PO1 2AB"] * 4)
    outline = Outline(LexborHTMLParser(news(f"<div>{lines}</div>"), scripting=True))
    assert detect.score(outline) == [] or detect.score(outline)[0].score < 10


def test_a_list_of_names_with_commas_does_not_outscore_the_story_beside_it() -> None:
    names = ", ".join(f'<a href="/users/{n}">reader{n}</a>' for n in range(1500))
    for form in ("p", "div", "br"):
        markup = news(
            f'<div class="x9a"><div class="x4d"><h2>Chapter one</h2><div class="x7b">{story(form, PARAGRAPHS[:30])}'
            f'</div></div><div class="x5e"><p>{names} left kudos on this story.</p></div></div>'
        )
        page = Page.parse(markup.encode(), None)
        assert page.has_article(), form
        out = page.gate(teaser_paragraphs=2, cta_html=CTA).decode()
        assert PARAGRAPHS[0] in out and PARAGRAPHS[29] not in out, form


def test_paragraphs_each_wrapped_in_a_div_score_for_the_story_not_its_reference_list() -> None:
    """Each paragraph wrapped in a ``<div>`` of its own (a component per paragraph): their points go to the
    story's element, not half of them, or the citations below (commas in every one) outscore the story and
    the page is taken for a list of links, sent whole."""
    references = "".join(
        f'<li>Smith, J.; Jones, K.; Brown, L. ({1990 + n}). <a href="/doi/{n}">Tides, currents and winds of the'
        f" northern seas, volume {n}</a>. Journal of the Sea, {n}, pp. {n * 10}-{n * 10 + 9}. Retrieved {n} May"
        " 2020.</li>"
        for n in range(20)
    )
    paragraphs = "".join(f'<div class="c-para"><p>{text}</p></div>' for text in PARAGRAPHS[:20])
    markup = news(
        f'<div class="x-body"><h1>The crossing</h1>{paragraphs}<h2>References</h2>'
        f'<div class="x-refs"><ol>{references}</ol></div></div>'
    )
    page = Page.parse(markup.encode(), None)
    assert page.has_article()
    out = page.gate(teaser_paragraphs=2, cta_html=CTA).decode()
    assert PARAGRAPHS[0] in out and PARAGRAPHS[19] not in out


SUMMARY = "The council met late into the night to argue over the budget for the harbour, the ferries and the school."
ABOUT = (
    "The Coast Times is an independent newspaper founded in 1887 by fishermen, teachers and printers, and it has"
    " reported on the life of the harbour towns ever since, from storms and strikes to weddings and regattas."
)


def home_page(prose: str) -> str:
    """A home page whose cards are links whole (headline and summary inside the link), and ``prose`` below."""
    cards = "".join(
        f'<a class="card" href="/s/{n}"><h3>Story {n} from the harbour</h3><p>{SUMMARY}</p></a>' for n in range(20)
    )
    return (
        "<!DOCTYPE html><html><head><title>Coast Times</title></head><body><header><nav><a href='/'>Home</a>"
        f"</nav></header><main><section class='grid'>{cards}</section></main>{prose}"
        "<footer><p>Stay informed</p></footer></body></html>"
    )


def test_the_about_box_of_a_home_page_of_link_cards_is_no_article() -> None:
    """A paragraph of 180 words beside the stories a home page lists, no sign of an article: its blurb."""
    assert not Page.parse(home_page(f"<div class='about'><p>{ABOUT * 5}</p></div>").encode(), None).has_article()


@pytest.mark.parametrize(
    "prose",
    [
        "<div class='story'>" + "".join(f"<p>{ABOUT}</p>" for _ in range(5)) + "</div>",  # five paragraphs
        f"<div class='story'><p>{ABOUT * 10}</p></div>",  # one paragraph of 360 words
        "<div class='story'>" + "<br><br>".join([ABOUT] * 5) + "</div>",  # five paragraphs typed as runs
    ],
    ids=["paragraphs", "one long paragraph", "runs"],
)
def test_an_unmarked_story_on_a_page_of_links_is_still_an_article(prose: str) -> None:
    assert Page.parse(home_page(prose).encode(), None).has_article()
