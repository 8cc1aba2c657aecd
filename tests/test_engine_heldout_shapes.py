"""Shapes of markup met on real article pages the engine was not developed on, each written from scratch.

Each test builds the smallest page with the shape, gates it as a first view
would be gated, and checks both sides: the reader sees a teaser of the story,
and what comes after the teaser reaches no one who has not paid.
"""

from __future__ import annotations

import re
from itertools import starmap

import pytest

from paywall.engine import Page
from paywall.errors import RewriteError
from tests.sources import on_sources
from tests.test_engine_cut import CHROME, assert_well_formed, news
from tests.test_engine_sweep import CTA, assert_cta_once

LINE_WORDS = (
    "amber", "basalt", "cinder", "dune", "ember", "fern", "glacier", "heath", "iris", "juniper",
    "kelp", "lichen", "marble", "nettle", "opal", "pumice", "quartz", "reed", "slate", "thistle",
    "umber", "violet", "willow", "xenolith", "yarrow", "zinnia",
)  # fmt: skip
LINES = [
    f"+ Line {n} of the changelog adds the {word} block, with a recipe and new sounds"
    for n, word in enumerate(LINE_WORDS, start=1)
]
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


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def paragraphs(sentence: str) -> str:
    """``sentence`` as eight paragraphs, its ``{word}`` the first to the eighth."""
    return "".join(f"<p>{sentence.format(word=word)}</p>" for word in ORDINALS)


STORY = paragraphs(
    "The {word} session of the harbour council weighed the sale of the old quay to a developer from inland."
)
AFTER_STORY = (
    '<div class="share"><a href="https://example.social/share">Share</a> <a href="/print">Print</a></div>'
    '<div class="credit">Photographs by the Coast Times</div>'
    '<div class="error-report"><p>Spotted a mistake in this story about the quay? Tell us through the contact form.'
    "</p></div>"
    '<div class="author-box"><p>Ann Reed has covered the harbour and its council for the Coast Times since 2019.'
    '</p><form action="/follow"><input type="hidden" name="a" value="ann"><button>Follow Ann Reed</button>'
    "</form></div>"
    '<ul class="tags"><li><a href="/t/harbour">Harbour</a></li><li><a href="/t/council">Council</a></li></ul>'
)


def test_prose_after_the_story_in_its_element_is_withheld_past_a_share_box() -> None:
    """A note to readers and the author's bio follow the story in its element, past a share box.

    A reader of the page takes them for its end: their prose is withheld with it.
    The share links, a short credit (a label, no prose), the tags and the follow
    form stay where they were, and so does everything outside the story's element.
    """
    out = first_view(news(f'<div class="story"><h1>Quay sale</h1>{STORY}</div>{AFTER_STORY}'))
    assert "The first session" in out
    assert "The eighth session" not in out
    assert "Spotted a mistake" not in out
    assert "Ann Reed has covered" not in out
    kept = ('href="https://example.social/share"', ">Share<", "Photographs by", "Follow Ann Reed", 'action="/follow"')
    for part in (*kept, "/t/harbour"):
        assert part in out
    for chrome in CHROME:
        assert chrome in out


def test_prose_after_an_article_element_stays_outside_the_element_holding_it() -> None:
    """Only the siblings of the story's own element give up their prose: the page's chrome around it keeps its
    text (the related box and the newsletter outside ``<main>``)."""
    out = first_view(news(f"<article><h1>Quay sale</h1>{STORY}</article>"))
    assert "The eighth session" not in out
    for chrome in CHROME:
        assert chrome in out


COMMENTS = (
    '<section id="comments"><h2>2 comments on “Quay sale”</h2><ol class="comment-list">'
    '<li class="comment"><article><footer class="comment-meta"><a href="https://marlow.example">Marlow</a> wrote on'
    " 3 May 2026 at 10:16</footer>"
    "<p>So the eighth session agreed to sell the quay for a song, and nobody asked the fishermen at all.</p>"
    '<a class="reply" href="#reply">Reply</a></article></li>'
    '<li class="comment"><article><footer class="comment-meta"><a href="/u/ines">Ines</a> wrote on 4 May 2026'
    "</footer><p>Thanks for the report.</p></article></li></ol>"
    '<div id="respond"><h3>Post a comment</h3><form action="/comment"><label>Comment</label>'
    '<textarea name="c"></textarea><button>Post comment</button></form></div></section>'
)


def test_readers_comments_below_the_story_are_withheld_and_their_form_stays() -> None:
    """Comments under the story (here outside the element holding it) quote and carry on what was withheld.

    Their text goes with the story, the comment form stays: whoever may read the story may read them.
    """
    story = f'<div class="content"><article><h1>Quay sale</h1>{STORY}</article></div>{COMMENTS}'
    out = first_view(news(story))
    assert "The first session" in out
    for withheld in ("The eighth session", "agreed to sell the quay for a song", "Marlow", "wrote on 3 May"):
        assert withheld not in out
    for kept in ('<form action="/comment">', "Post comment", "<textarea"):
        assert kept in out
    for chrome in CHROME:
        assert chrome in out


def test_a_box_of_its_own_after_the_story_stays() -> None:
    """A box with its own heading after the story (most read, similar articles) is the site's, not the story's."""
    box = (
        '<section class="most-popular"><h2>Most popular</h2>'
        "<p>The ferry company changed its timetable for the summer, and islanders are not pleased about it.</p>"
        '<div class="byline">Ann Reed, 2 May</div></section>'
    )
    out = first_view(news(f'<div class="story"><h1>Quay sale</h1>{STORY}</div>{AFTER_STORY}{box}'))
    assert "The eighth session" not in out
    assert "The ferry company changed its timetable" in out
    assert "Spotted a mistake" not in out


def test_links_to_the_previous_and_next_posts_inside_the_article_stay() -> None:
    """A ``<nav>`` of links at the end of the article element (previous and next post) is the site's navigation:
    it stays where it was. A ``<nav>`` that holds prose rather than links is withheld like the rest."""
    links = (
        '<nav class="post-nav"><a class="prev" href="/2026/ferry-timetable">Ferry timetable changes</a> | '
        '<a class="next" href="/2026/harbour-fees">Harbour fees rise again</a></nav>'
    )
    out = first_view(news(f"<article><h1>Quay sale</h1>{STORY}<hr>{links}</article>"))
    assert "The eighth session" not in out
    assert 'href="/2026/ferry-timetable"' in out and "Harbour fees rise again" in out
    prose = "<nav><p>The ninth session of the harbour council sold the quay to a developer from inland.</p></nav>"
    out = first_view(news(f"<article><h1>Quay sale</h1>{STORY}{prose}</article>"))
    assert "The ninth session" not in out


def test_formulas_in_mathml_are_part_of_their_sentence() -> None:
    """A paragraph that is mostly a MathML formula is one block of prose: its symbols are not blocks of one word
    each (too short to count), so the teaser shows the opening paragraphs, formulas and all, and withholds the rest.
    """
    symbols = "".join(f"<mi>{c}</mi><mo>+</mo>" for c in "abcdefghijk")
    paragraphs = "".join(
        f"<p>Case {word} gives <math><mrow>{symbols}<mn>{n}</mn></mrow></math> exactly.</p>"
        for n, word in enumerate(("one", "two", "three", "four", "five", "six"), start=1)
    )
    out = first_view(news(f"<article><h1>Sums</h1>{paragraphs}</article>"))
    assert "Case one gives" in out and "Case two gives" in out
    assert "Case six gives" not in out and "Case five gives" not in out
    assert out.index("Case two gives") < out.index(CTA[:30])


def test_inspect_says_how_much_after_the_story_was_withheld() -> None:
    """``paywall inspect`` tells a publisher that comments and notes after the story go with it."""
    from paywall.inspect import inspect_page
    from paywall.settings import PaywallSettings

    markup = news(f'<div class="content"><article><h1>Quay sale</h1>{STORY}</article></div>{COMMENTS}')
    report = inspect_page(
        markup.encode(), PaywallSettings(secret_key="inspect-after-story-9f3c2a71d0b8e4"), source="story.html"
    )
    line = next(line for line in report.lines() if line.startswith("withheld:"))
    assert "after the story" in line and report.after_story >= 20


def test_text_of_a_container_before_and_after_its_paragraphs_does_not_move_the_cut_to_the_end() -> None:
    """A container whose own text stands before its paragraphs and again after them (a document in ``<body>``
    with a line of links on top and a colophon at the bottom) is one block whose text ends at the page's end.

    Each run of its own text is a unit of the teaser that ends where the next paragraph starts, in its place
    among them: the story is withheld, whatever ``teaser_paragraphs`` says (the cut once fell after the
    colophon, and with one paragraph of teaser the whole story went out).
    """
    sections = paragraphs(
        "The {word} section of the draft describes how the client asks the storage server for a token."
    )
    markup = (
        '<!DOCTYPE html><html><head><title>Draft</title><meta property="og:type" content="article"></head><body>'
        "Documents and trackers for this draft, with links to the text and the pdf versions of it"
        f"{sections}Markup produced by the draft formatter, version one, available from "
        '<a href="https://tools.example/">tools</a></body></html>'
    )
    for teaser in (1, 2, 3):
        out = first_view(markup, teaser=teaser)
        assert "The eighth section" not in out and "The seventh section" not in out
        assert "Markup produced by the draft formatter" not in out
    assert "Documents and trackers" in first_view(markup, teaser=1)


@on_sources
def test_a_cut_that_withholds_nothing_of_a_long_article_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever goes wrong in finding the teaser's end, a long article is never served whole as a teaser.

    The cut is made to withhold nothing (a fault in its reading of the page): the page refuses to be
    gated, and the middleware answers with the call to action alone.
    """
    from paywall.engine import cut as cutting

    monkeypatch.setattr(cutting, "cut", lambda outline, region, teaser: cutting.Cut(how="units:1"))
    page = Page.parse(news(f"<article><h1>Quay sale</h1>{STORY}</article>").encode(), None)
    assert page.has_article()
    with pytest.raises(RewriteError, match="withheld nothing"):
        page.gate(teaser_paragraphs=2, cta_html=CTA)


def test_a_long_opening_in_a_block_that_holds_the_paragraphs_ends_where_they_start() -> None:
    """A cell or a container opens with a long run of its own text, then holds the story's paragraphs (an old
    page laid out in a table). The run is counted in groups of sentences that end where the first paragraph
    starts: however many units the teaser shows, what follows them is withheld (the last group once ended
    after the last paragraph, and a teaser of four units withheld nothing)."""
    opening = " ".join(
        f"The {word} clerk of the office copied deeds by candlelight, and nobody thanked him for it."
        for word in ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
    )
    rest = "".join(
        f"<p>In the {word} winter the scrivener preferred not to, and the office went on around him regardless. "
        "The lawyer asked again in the morning and once more at noon, and had the same answer each time. "
        "Turkey and Nippers took turns at the copying, one sober before noon and the other after it.</p>"
        for word in ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")
    )
    markup = news(f"<table><tr><td><h2>A story of the office</h2>{opening}{rest}</td></tr></table>")
    for teaser in (1, 2, 3, 4, 5):
        out = first_view(markup, teaser=teaser)
        assert "The first clerk" in out
        assert "In the eighth winter" not in out and "In the seventh winter" not in out


def test_lines_between_headings_and_tables_of_a_post_without_paragraphs_are_units_in_their_order() -> None:
    """A post typed as lines between ``<br><br>``, with headings, a table and a list among them (a blog
    without paragraphs): each run of lines is a unit, in its place among the list's items, so the teaser
    is the opening runs and what follows them is withheld, not only what follows the list."""

    def run(name: str) -> str:
        return f"The {name} run of this post explains how the chip routes its signals between the cells."

    items = "".join(f"<li>{run(name)}</li>" for name in ("listed", "second listed", "third listed", "last listed"))
    post = (
        f'<div class="post-body">{run("first")}<br><br>{run("second")}<br><br><h2>Placing cells</h2>'
        f"{run('third')}<br><br><table><tr><td>Cells placed by the tool in the first pass</td></tr></table>"
        f"{run('fourth')}<ul>{items}</ul>{run('fifth')}</div>"
    )
    out = first_view(news(f"<article><h1>Routing a small chip</h1>{post}</article>"))
    assert "The first run" in out and "The second run" in out
    for withheld in ("The third run", "The fourth run", "The listed run", "The fifth run", "Cells placed"):
        assert withheld not in out


def test_a_column_named_like_chrome_around_the_article_is_not_chrome() -> None:
    """A layout column whose class reads like chrome (``col-1 highfooter``) holds the ``<article>``: its names
    do not hide the story, which is found there (not the whole page around it), so the site's navigation
    in the page's other parts stays."""
    page = (
        '<!DOCTYPE html><html><head><title>Coast Times</title></head><body><div class="page">'
        '<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav></header>'
        '<div class="menu-extra"><p>Listen to the morning bulletin and the evening review, live and on demand.</p>'
        "<p>Our apps bring the news to your phone, with alerts for the stories you follow.</p></div>"
        f'<div class="col-1 highfooter"><article class="article-long"><h1>Quay sale</h1>{STORY}</article></div>'
        '<div class="col-2"><p>Weather for the coast: sunny spells and a light breeze from the west.</p></div>'
        "</div></body></html>"
    )
    out = first_view(page)
    assert "The first session" in out and "The eighth session" not in out
    for kept in ('href="/sport"', "Listen to the morning bulletin", "Our apps bring the news", "Weather for the coast"):
        assert kept in out


def test_a_story_in_steps_under_hashed_class_names_is_found_whole() -> None:
    """A how-to whose lead and steps each stand in a container of one kind, under class names a build tool
    hashed (no name says "article" or "content"), the steps short: the steps are parts of the story, found
    with the lead, and the last of them withheld."""
    lead = (
        "<p>Glass cloche terrariums are not only appealing to the eye, they also bring a bit of the outdoors in."
        " They take an afternoon to build, cost little, and keep for years on a shelf with some light, which"
        " makes them a good first project for anyone who likes plants but has no garden of their own.</p>"
    )
    steps = "".join(
        f'<div class="css-a81f css-27c4"><h3>Step {n}</h3><p>In step {word} you lay the {part} in the glass,'
        " pressing it down gently so that it settles.</p></div>"
        for n, (word, part) in enumerate(
            [("one", "gravel"), ("two", "charcoal"), ("three", "moss"), ("four", "soil"), ("five", "plants")],
            start=1,
        )
    )
    page = news(
        '<div class="css-35f6"><header class="css-1afe"><h1>How to build a terrarium</h1></header>'
        f'<div class="css-a81f css-27c4"><div class="css-9a03">{lead}</div><figcaption>By Lucy</figcaption></div>'
        f'{steps}<aside class="css-90ed">Share this project</aside></div>'
    )
    out = first_view(page)
    assert "Glass cloche terrariums" in out
    assert "In step five" not in out and "In step four" not in out


def test_steps_each_wrapped_in_inline_markup_are_parts_of_the_story() -> None:
    """A how-to like the one above, each step after the lead wrapped in ``<span>`` elements (a template's
    leftovers), past an ad slot, one step sharing its wrapper with a box of related links, and the lead long
    enough to score alone. Browsers lay each step out as a block all the same, so a wrapper is read as the
    step it holds: the story is the lead and its steps, the teaser its opening, and the last steps withheld
    (not the lead alone taken for the story, withheld whole, and a step beside the box sent in full)."""
    lead = (
        "<p>Glass cloche terrariums are not only appealing to the eye, they also bring a bit of the outdoors in,"
        " and they take an afternoon to build, cost little, keep for years, need little water, little light,"
        " little care, and make a good first project for anyone who likes plants, moss, ferns or stones but has"
        " no garden, balcony or yard of their own.</p>"
    )
    related = (
        '<div class="css-77aa"><h3>Other people are reading</h3><ul><li><a href="/fern">How to repot a fern</a>'
        '</li><li><a href="/dark">Ten plants for a dark flat</a></li></ul></div>'
    )

    def step(word: str, part: str, beside: str = "") -> str:
        return (
            f'<span><span><div class="css-a81f css-27c4"><div class="css-9a03"><p>In step {word} you lay the'
            f" {part} in the glass, pressing it down gently so that it settles, then wait a minute before the"
            f" next layer goes in.</p></div></div>{beside}</span></span>"
        )

    steps = [step("one", "gravel"), step("two", "charcoal"), step("three", "moss"), step("four", "soil", related)]
    page = news(
        "<article><h1>How to build a terrarium</h1>"
        f'<div class="css-a81f css-27c4"><div class="css-9a03">{lead}</div><figcaption>By Lucy</figcaption></div>'
        '<div class="css-ad1"><script>googletag.display("slot-1")</script></div>'
        f'{"".join(steps)}{step("five", "plants")}<aside class="css-90ed">Share this project</aside></article>'
    )
    out = first_view(page)
    assert "Glass cloche terrariums" in out and "In step one" in out
    assert "In step four" not in out and "In step five" not in out


HEADLINE = "Harbour council agrees to sell the old quay to an inland developer after eight sessions"


def test_a_headline_that_the_story_repeats_at_its_end_stays_in_the_title_and_the_heading() -> None:
    """The story's last line repeats its headline word for word. The headline is the page's title and its
    heading above the story: a label readers see on every listing, not a copy of the story to sweep away."""
    story = f"{STORY}<p>In short: {HEADLINE.lower()}, and the fishermen were never asked about it.</p>"
    markup = news(f'<header class="headline"><h1>{HEADLINE}</h1></header><div class="story">{story}</div>')
    out = first_view(markup.replace("<title>Coast Times</title>", f"<title>{HEADLINE} | Coast Times</title>"))
    assert f"<title>{HEADLINE} | Coast Times</title>" in out
    assert f"<h1>{HEADLINE}</h1>" in out
    assert "The eighth session" not in out
    assert "the fishermen were never asked" not in out


_BURMESE_SYLLABLES = (  # noqa: SIM905
    "က ကာ ကိ ကု ကေ ခ ခံ ဂ ဂို င် စ စွဲ ဆို ည ညို တ တော် ထ ထား ဒ် န နဲ့ ပ ပု ဖ ဗ မ မှု ယ ယ် ရ ရေး လ လွှ သ သတ် သိ ဟ ဟု အ အာ ဦး ကြ ကျ ပြ မြ"
).split()


def _burmese(seed: int, phrases: int) -> str:
    """Text written in the Myanmar script, made of its syllables: phrases between spaces, a sentence's end."""
    import random

    pick = random.Random(seed)
    return " ".join("".join(pick.choices(_BURMESE_SYLLABLES, k=pick.randint(4, 9))) for _ in range(phrases)) + "။"


def test_a_burmese_headline_that_the_story_quotes_stays_and_the_story_is_withheld() -> None:
    """Burmese is written without spaces between words, and each letter carries signs written as characters of
    their own. A token is a letter with its signs: counted per character, the name of a law in the headline,
    quoted again by the story, made a long copy of the story out of the heading, and the title and the
    heading were swept from the page."""
    name = "နိုင်ငံတော်အကြည်ညိုပျက်စေမှုပုဒ်မနဲ့"
    headline = f"{name} တရားစွဲခံထားရတဲ့ သတင်းသမား သုံးဦး"
    paragraphs = [_burmese(n, 6) for n in range(12)]
    paragraphs[8] = f"{_burmese(80, 2)} {name} {_burmese(81, 3)}"
    story = "".join(f"<p>{text}</p>" for text in paragraphs)
    markup = news(f'<header class="headline"><h1>{headline}</h1></header><div class="story">{story}</div>')
    out = first_view(markup.replace("<title>Coast Times</title>", f"<title>{headline}</title>"))
    assert f"<title>{headline}</title>" in out
    assert f"<h1>{headline}</h1>" in out
    assert paragraphs[0] in out
    for withheld in paragraphs[4:]:
        assert withheld not in out


def test_a_letter_of_a_script_without_spaces_is_one_token_with_its_signs() -> None:
    import unicodedata

    from paywall.engine.text import DEPENDENT, words

    assert words("နိုင်ငံတော်") == ["နို", "င်", "ငံ", "တော်"]
    assert words("ภาษาไทย") == ["ภา", "ษา", "ไท", "ย"]
    assert words("ភាសាខ្មែរ")[0] == "ភា"
    signs = {chr(code) for code in range(0x0E00, 0x1800) if re.fullmatch(f"[{DEPENDENT}]", chr(code))}
    blocks = [*range(0x0E00, 0x0F00), *range(0x1000, 0x10A0), *range(0x1780, 0x1800)]
    assert signs == {chr(code) for code in blocks if unicodedata.category(chr(code)) in ("Mn", "Mc")}


JAPANESE = [
    "港の評議会は月曜日、古い岸壁を内陸の開発業者に売却する案を八回目の会合で承認した。",
    "漁師たちは会合に招かれず、決定を地元の新聞で初めて知ったと話している。",
    "売却額は公表されていないが、議会の資料によれば評価額を大きく下回るという。",
    "開発業者は岸壁の跡地にホテルと立体駐車場を建てる計画を示している。",
    "反対する住民は来月、署名を集めて議会に再考を求める予定だという。",
    "評議会の議長は取材に対し、手続きに問題はなかったと繰り返し述べた。",
]
"""A Japanese story: sentences end with "。" and no space, and no space stands between words."""


@pytest.mark.parametrize(
    "heading", ["岸壁の売却を承認", "港の評議会が古い岸壁の売却を承認、招かれなかった漁師たちは反発"]
)
def test_a_japanese_story_in_one_block_shows_its_first_sentences(heading: str) -> None:
    """The story is one block of sentences, under a headline beside it. Sentences are found without the space
    that other languages write after them, and counted in characters as the outline counts them; a long
    headline taken with the story is shown and not counted as its first paragraph (the teaser was the
    headline alone)."""
    markup = news(
        f'<div class="section"><h1 class="article_title"><span>{heading}</span><br><span>編集委員 山田花子</span></h1>'
        f'<div class="article_text">{"".join(JAPANESE)}</div>'
        '<div class="regist">この記事は会員限定です。電子版に登録すると続きをお読みいただけます。</div></div>'
    )
    out = first_view(markup)
    assert heading in out
    assert JAPANESE[0] in out
    for withheld in JAPANESE[-2:]:
        assert withheld not in out


def test_the_keywords_of_a_japanese_story_stay_and_a_copy_of_its_withheld_sentences_goes() -> None:
    """The page's keywords name things the withheld sentences name too (``評議会の議長``, the council's
    chairman: six characters). Counted in characters, five in a row made them a withheld run, and the
    keywords went out cut; a run is eight characters of such text, so a name is no copy, and a sentence
    of the story in the page's description and in a script still is."""
    keywords = "岸壁,評議会の議長,立体駐車場"
    head = (
        f'<meta name="keywords" content="{keywords}"><meta name="description" content="{JAPANESE[-1]}">'
        f'<script>var share = {{title: "岸壁の売却", text: "{JAPANESE[-2]}"}};</script>'
    )
    markup = news(
        '<div class="section"><h1 class="article_title">岸壁の売却を承認</h1>'
        f'<div class="article_text">{"".join(JAPANESE)}</div></div>',
        head=head,
    )
    out = first_view(markup)
    assert JAPANESE[0] in out
    assert f'<meta name="keywords" content="{keywords}">' in out
    for withheld in JAPANESE[-2:]:
        assert withheld not in out
        assert withheld[:8] not in out


def test_a_closing_line_that_the_page_repeats_as_its_description_is_withheld_everywhere() -> None:
    """The story's last line is short and made of common words but one, and the page repeats it as its
    description: in its ``<meta>`` tags, in a script and in a comment. A copy of it holds too few of the
    words that mark the story (words readers see nowhere else: "search" is on the menu) to be found by
    their clusters; any one of its marking words is enough to read the place around it."""
    closing = "The lesson, as always: you are what you search."
    head = (
        f'<meta name="description" content="{closing}"><meta property="og:description" content="{closing}">'
        f'<!-- <PageMap><Attribute name="description">{closing}</Attribute></PageMap> -->'
        f"<script>var share = {{title: 'Quay sale', desc: '{closing}'}};</script>"
    )
    story = "".join(
        f"<p>The {a} report from the {b} committee found that the {c} fund had paid for the quay twice.</p>"
        for a, b, c in zip(LINE_WORDS[:8], LINE_WORDS[8:16], LINE_WORDS[16:24], strict=True)
    )
    markup = news(f'<div class="story"><h1>Quay sale</h1>{story}<p>{closing}</p></div>', head=head)
    out = first_view(markup.replace("</nav>", ' <a href="/search">Search</a> <a href="/lesson-plans">Plans</a></nav>'))
    assert "The amber report" in out
    assert "The heath report" not in out
    assert "as always: you are what you search" not in out
    assert '<meta name="description"' in out
    assert '<a href="/lesson-plans">Plans</a>' in out  # the word alone, in an address: no copy, untouched


def ad_frame(slot: str) -> str:
    """An ad frame with its fallback link, which browsers keep as text and never show."""
    ad = f"https://ads.example/RealMedia/ads/adstream_nx.ads/2026.coast.example/news/harbour/quay@{slot}"
    return (
        f"<iframe width='300' height='250' src='{ad}'><a href='{ad}/click'><img src='{ad}' alt='banner'></a></iframe>"
    )


def test_the_fallback_markup_of_ad_frames_in_the_withheld_story_is_no_withheld_text() -> None:
    """Ad frames stand in the story past its teaser and at the top of the page. Read as the story's text, the
    fallback links in the story's frames were withheld runs, and the frame at the top, whose address shares
    them, lost its address (a page of a Korean news site lost twenty)."""
    story = "".join(
        f"<p>The {word} session of the harbour council weighed the sale of the old quay to a developer from inland"
        f" and heard the fishermen again.</p>{ad_frame(f'Middle{n}') if n > 3 else ''}"
        for n, word in enumerate(ORDINALS)
    )
    markup = news(f'<div class="story"><h1>Quay sale</h1>{story}</div>').replace(
        "<main>", f'<div class="ad-top">{ad_frame("Top")}</div><main>'
    )
    out = first_view(markup)
    assert "The first session" in out
    assert "The eighth session" not in out
    assert 'src="https://ads.example/RealMedia/ads/adstream_nx.ads/2026.coast.example/news/harbour/quay@Top"' in out


MORE_STORY = paragraphs("In its {word} hearing the council also heard the harbour master on the state of the old quay.")
SIDEBAR = (
    '<aside class="sidebar"><h2>Most read</h2><ul>'
    + "".join(
        f'<li><a href="/{n}">The {word} most read story of the week on the coast</a></li>'
        for n, word in enumerate(ORDINALS)
    )
    + "</ul><p>Our newsletter brings the harbour's news to your inbox every morning, with the tides.</p></aside>"
)


@pytest.mark.parametrize("slip", ["<iframe src='/ad' />", "<!-- sidebar", "<script src='/ads.js' />"])
def test_a_page_whose_end_an_unterminated_frame_swallows_shows_its_teaser(slip: str) -> None:
    """An ``<iframe/>`` (or a script, or a comment) written as if it closed itself swallows the rest of the page
    as text, which browsers never show: the story before it is gated as any other, and the swallowed end is
    dropped (it held the story's end too: its words are in the bytes). The page was refused before, and its
    readers saw the call to action alone."""
    story = STORY + f"{slip}{MORE_STORY}"
    out = first_view(news(f'<div class="story"><h1>Quay sale</h1>{story}</div>{SIDEBAR}'))
    assert "The first session" in out
    assert "The eighth session" not in out and "its second hearing" not in out and "its eighth hearing" not in out
    assert "Our newsletter brings" not in out


def test_a_page_whose_end_an_open_textarea_holds_is_still_refused() -> None:
    """Browsers show a ``<textarea>``'s text: the story's end in one left open is on screen, not swallowed."""
    story = STORY + f"<textarea>{MORE_STORY}"
    with pytest.raises(RewriteError):
        Page.parse(news(f'<div class="story"><h1>Quay sale</h1>{story}</div>{SIDEBAR}').encode(), None)


def test_a_page_framed_by_one_form_is_read_as_any_other() -> None:
    """ASP.NET pages put the whole page in one ``<form>``. A form is chrome (a search box, a login), but not
    one that holds most of the page: the story in it was never found, and the page went out whole."""
    markup = news(f'<div class="story"><h1>Quay sale</h1>{STORY}</div>')
    markup = markup.replace("<body>", '<body><form method="post" action="./story.aspx" id="aspnetForm">')
    out = first_view(markup.replace("</body>", "</form></body>"))
    assert "The first session" in out
    assert "The eighth session" not in out
    assert 'id="aspnetForm"' in out


def test_a_passage_of_the_withheld_story_set_as_a_heading_beside_it_is_still_a_copy() -> None:
    """Headings outside the story are labels, but not one that holds a whole passage of the withheld part."""
    passage = (
        "The eighth session of the harbour council weighed the sale of the old quay to a developer from inland,"
        " and the fishermen who were never asked about it walked out of the hall before the vote was taken"
    )
    story = STORY.replace(
        "<p>The eighth session of the harbour council weighed the sale", f"<p>{passage}. And the sale"
    )
    markup = news(f'<div class="story"><h1>Quay sale</h1>{story}</div><div class="quote"><h3>{passage}</h3></div>')
    out = first_view(markup)
    assert "The first session" in out
    assert "walked out of the hall" not in out


def test_a_headline_the_withheld_part_quotes_stays_in_the_title_when_no_heading_shows_it() -> None:
    """No heading on the page shows the headline (the page's ``<title>`` and social cards do), and the story's
    withheld part quotes it: the title stays, as the headline of every listing of the page."""
    story = STORY + f"<p>As the minutes put it: {HEADLINE.lower()}, and nobody asked the fishermen.</p>"
    head = f'<meta property="og:title" content="{HEADLINE}">'
    markup = news(f'<div class="story">{story}</div>', head=head)
    out = first_view(markup.replace("<title>Coast Times</title>", f"<title>{HEADLINE} | Coast Times</title>"))
    assert f"<title>{HEADLINE} | Coast Times</title>" in out
    assert f'<meta property="og:title" content="{HEADLINE}">' in out
    assert "nobody asked the fishermen" not in out and "The eighth session" not in out


PARTS = [
    f"In part {n} of the story the harbour council met again, argued about the budget, the ferries and the new"
    " school, and voted late at night."
    for n in range(18)
]


@pytest.mark.parametrize(
    "between",
    ["", '<div class="ad"><span>Advertisement</span></div>', '<aside><h3>Related</h3><a href="/x">Fares</a></aside>'],
    ids=["sections", "columns and ad slots", "columns and related boxes"],
)
def test_a_story_in_sibling_parts_is_one_story(between: str) -> None:
    """A story split over sibling containers of three paragraphs each (a CMS's columns or sections), with ad
    slots or boxes of links between them: one story, its opening shown, its middle and end withheld."""
    parts = "".join(
        f'<section class="c">{"".join(f"<p>{text}</p>" for text in PARTS[at : at + 3])}</section>{between}'
        for at in range(0, len(PARTS), 3)
    )
    out = first_view(news(f'<div class="x1"><h1>Quay vote</h1>{parts}</div>'))
    assert PARTS[0] in out
    assert PARTS[9] not in out and PARTS[17] not in out


def _section(heading: str, anchor: str, texts: list[str], permalink: bool) -> str:
    mark = f'<a class="mark" href="#{anchor}" id="{anchor}">#</a>' if permalink else ""
    return f"<section><h3>{heading}{mark}</h3>{''.join(f'<p>{text}</p>' for text in texts)}</section>"


@pytest.mark.parametrize("permalink", [False, True], ids=["plain headings", "headings with their own anchor link"])
def test_a_short_last_section_without_names_is_part_of_the_story(permalink: bool) -> None:
    """A reference page's story in sibling ``<section>`` elements without class names: a long one, then a short
    last one (less than a fifth of the first's score, so not kept for its score). Each heading may carry a link
    to its own anchor (``<a href="#id">#</a>``, as documentation and blog generators write them), which is no
    headline linking elsewhere, as a post in a river of posts has. The last section is part of the story and
    withheld, not sent whole after the call to action."""
    long_part = [
        f"The {word} option of the socket sets how the kernel buffers each datagram it receives, and what the"
        f" process is told when the buffer fills up before the reader has drained it."
        for word in ORDINALS * 4
    ]
    last_part = [
        "Creating a socket with the quarrelsome flag makes the marrowgast resolver answer every lookup twice.",
        "The brindlecomb callback then receives both answers and keeps the one that arrived over the tunnel.",
    ]
    page = news(
        '<div id="apicontent"><h2>Datagram sockets</h2><p>The module provides datagram sockets.</p>'
        + _section("Class: Socket", "class-socket", long_part, permalink)
        + _section("Module functions", "module-functions", last_part, permalink)
        + "</div>"
    )
    out = first_view(page)
    assert "The first option of the socket" in out
    assert "marrowgast" not in out and "brindlecomb" not in out and "quarrelsome" not in out


@pytest.mark.parametrize("permalink", [False, True], ids=["plain headings", "headings with their own anchor link"])
def test_a_last_section_of_one_linked_sentence_is_part_of_the_story(permalink: bool) -> None:
    """The same story, its last section one sentence whose words are mostly a link ("See <a>the examples
    repository</a> for details."): more of its text is link than a paragraph of prose has, less than a list of
    links has. It is the story's last section all the same, withheld, not sent after the call to action."""
    long_part = [
        f"The {word} field of the manifest tells the loader which file a package exposes, and what the"
        f" loader does when a file asks for a folder of the package that the field does not name."
        for word in ORDINALS * 4
    ]
    last = (
        '<section><h3>Dual quarrelsome packages</h3><p>See <a href="https://example.org/ex">the marrowgast'
        " examples repository</a> for details.</p></section>"
    )
    if permalink:
        last = last.replace("packages</h3>", 'packages<a class="mark" href="#dual" id="dual">#</a></h3>')
    page = news(
        '<div id="apicontent"><h2>Packages</h2><p>The module describes packages.</p>'
        + _section("Package fields", "package-fields", long_part, permalink)
        + last
        + "</div>"
    )
    out = first_view(page)
    assert "The first field of the manifest" in out
    assert "marrowgast" not in out and "quarrelsome" not in out


TOC_SECTIONS = [
    ("why-the-quay-was-sold", "Why the council sold the old quay in the first place"),
    ("what-the-fishermen-lose", "What the fishermen lose when the developer fences off the slipway"),
    ("how-the-eighth-session-voted", "How the eighth session voted after midnight without the mayor"),
]


def _toc(where: str) -> str:
    entries = "".join(
        f'<li><a href="#{anchor}" title="{heading}" class="entry">{heading}</a></li>'
        for anchor, heading in TOC_SECTIONS
    )
    return (
        f'<{where} class="toc"><ul><li><a href="#intro">Introduction</a></li>{entries}'
        f'<li><a href="/archive">Archive</a></li></ul></{where}>'
    )


def _withheld_sections() -> str:
    return "".join(
        f'<h2 id="{anchor}">{heading}</h2>'
        + paragraphs(f"The {{word}} point of the part on {anchor.replace('-', ' ')} is argued at length here.")
        for anchor, heading in TOC_SECTIONS
    )


def _assert_no_withheld_entry(out: str) -> None:
    for anchor, heading in TOC_SECTIONS:
        assert heading not in out and anchor not in out
        assert anchor.replace("-", " ") not in out
    assert out.count('<a class="entry">\u2026</a>') == len(TOC_SECTIONS)


@pytest.mark.parametrize("where", ["nav", "header", "aside"])
def test_a_table_of_contents_outside_the_story_keeps_no_heading_of_a_withheld_section(where: str) -> None:
    """A long read whose table of contents stands outside the story (a sidebar, the page's header, a ``<nav>``),
    each entry a link to a section's anchor: the headings of the withheld sections, long enough to tell what
    they say, are withheld text, and so are their anchors' names, spelled from them. Their entries keep their
    place and class, show an ellipsis and link nowhere. The entry of the section the teaser shows keeps its
    heading, and the other links of the table and of the page stay."""
    story = f'<article><h1 id="intro">Quay sale</h1>{STORY}{_withheld_sections()}</article>'
    out = first_view(news(_toc(where) + story))
    assert "The first session" in out
    _assert_no_withheld_entry(out)
    assert 'href="#intro">Introduction</a>' in out and 'href="/archive">Archive</a>' in out
    for chrome in CHROME:
        assert chrome in out


def test_a_table_of_contents_at_the_top_of_the_story_keeps_no_heading_of_a_withheld_section() -> None:
    """The same table of contents inside the story, after its first paragraph (as blog plugins put it): it comes
    before the cut, and its entries of withheld sections go as above. A link in the teaser's prose to a
    withheld section keeps its words (they are the teaser's own) and loses the anchor it named."""
    lead = (
        '<p>The council met eight times; <a href="#how-the-eighth-session-voted">the last vote</a> came after'
        " midnight, as the harbour master had warned the week before in a letter to every member.</p>"
    )
    out = first_view(
        news(f'<article><h1 id="intro">Quay sale</h1>{lead}{_toc("div")}{STORY}{_withheld_sections()}</article>')
    )
    assert "The council met eight times; <a>the last vote</a> came after midnight" in out
    _assert_no_withheld_entry(out)


def test_a_table_of_contents_that_names_the_page_keeps_no_heading_of_a_withheld_section() -> None:
    """A manual's table of contents as DocBook writes it, at the top of a chapter: each entry a ``<dt>`` holding
    a ``<span>`` holding the link, which names the chapter's own file before the anchor
    (``chapter.html#how-the-eighth-session-voted``). Its entries of withheld sections go as above."""
    entries = "".join(
        f'<dt><span class="sect1"><a href="quay-chapter.html#{anchor}" class="entry">{heading}</a></span></dt>'
        for anchor, heading in TOC_SECTIONS
    )
    toc = f'<div class="toc"><p><b>Table of Contents</b></p><dl class="toc">{entries}</dl></div>'
    chapter = f'<div class="chapter"><h1 id="intro">Quay sale</h1>{toc}{STORY}{_withheld_sections()}</div>'
    out = first_view(news(chapter))
    assert "The first session" in out
    _assert_no_withheld_entry(out)


def test_a_chapter_whose_longest_section_holds_subsections_is_one_story() -> None:
    """A book's chapter as DocBook writes it: ``<div class="sect1">`` sections, the longest of them in
    ``<div class="sect2">`` subsections, one of which scores highest. With the other subsections and the
    section's paragraphs it makes a region that is the whole of its section: the section is one part of the
    chapter, and the chapter is the story. Its opening is the teaser, and the sections after the longest are
    withheld, not sent whole after the call to action (nor those before it shown whole)."""

    def sect(tag: str, title: str, texts: list[str], inner: str = "") -> str:
        return (
            f'<div class="{tag}"><div class="titlepage"><h2 class="title">{title}</h2></div>'
            + "".join(f"<p>{text}</p>" for text in texts)
            + inner
            + "</div>"
        )

    def lines(topic: str, count: int) -> list[str]:
        return [
            f"Paragraph {n} on {topic} explains how the harbour tool reads its options, and why it keeps each"
            " record of the berths it has seen until the end of the run."
            for n in range(count)
        ]

    opening = ["The harbour tool counts the berths a port uses, and the ships that wait for one, hour by hour."]
    overview = sect("sect1", "9.1. Overview", [*opening, *lines("the overview", 2)])
    using = sect(
        "sect1",
        "9.2. Using the tool",
        lines("using the tool", 2),
        sect("sect2", "9.2.1. Reading its output", lines("reading its output", 24))
        + sect("sect2", "9.2.2. Its viewer", lines("its viewer", 3)),
    )
    options = sect(
        "sect1",
        "9.3. Options",
        [
            "The quarrelsome option makes the marrowgast counter report every berth twice over the night.",
            "The brindlecomb option then folds both reports into one, keeping the later of the two.",
        ],
    )
    out = first_view(news(f'<div class="chapter"><h1>Chapter 9. The harbour tool</h1>{overview}{using}{options}</div>'))
    assert "The harbour tool counts the berths" in out
    assert "Paragraph 20 on reading its output" not in out and "Paragraph 2 on its viewer" not in out
    assert "marrowgast" not in out and "brindlecomb" not in out and "quarrelsome" not in out


WRAPPED = [
    "The harbour council voted at midnight to sell the old quay to a developer from the city.",
    "Six members voted for the sale and five against it after a debate of four hours.",
    "The fishermen said the fence would cut them off from the slipway their families have used.",
    "A petition with nine hundred names was handed to the clerk a week too late to be read.",
    "The harbour master said he would stay on until the fence goes up and not a day longer.",
    "The developer said the company would keep a public path along the water for walkers.",
    "The marrowgast clause lets the council buy the quay back within ten years at the same price.",
    "The brindlecomb report on the state of the harbour walls is due in the spring of next year, and the council,"
    " which has not read it, will vote again then, whether or not the developer, the fishermen, the harbour"
    " master, or the mayor, who was not in the room, wants it to; until then, the slipway stays open, the fence"
    " stays in its crates, and the quay, for now, stays the town's.",
]


@pytest.mark.parametrize("ids", [False, True], ids=["wrappers of one kind", "wrappers of one kind, each its own id"])
def test_a_story_whose_paragraphs_are_each_wrapped_is_one_story(ids: bool) -> None:
    """A CMS that wraps each paragraph in a ``<div>`` of one class, and gives each wrapper an id of its own
    (``<div class="paragraph" id="p-4037">``, as paragraph and block editors number them). An id names one
    element, never a kind: the wrappers are siblings of one kind, and their points go to the story around
    them, not each to its own. (Told apart by their ids, the one long paragraph outscored the story, the region
    grown from it was too short for an article, and the page was sent whole.)"""

    def wrapped(at: int, text: str) -> str:
        named = f' id="p-{4000 + 37 * at}"' if ids else ""
        return f'<div class="paragraph"{named}><p>{text}</p></div>'

    out = first_view(news(f'<div class="col"><h1>Quay sale</h1>{"".join(starmap(wrapped, enumerate(WRAPPED)))}</div>'))
    assert WRAPPED[0] in out
    assert "marrowgast" not in out and "brindlecomb" not in out


def test_a_long_list_of_references_is_not_taken_for_the_story() -> None:
    """A story in sections of three paragraphs, followed by its references: forty citations, each with many
    commas (publisher, title, volume, pages, place, year), in ``<ol class="references">``. Counted as prose, the
    list outscored the story and was taken for it: the story was shown whole above it. Notes and references
    (``footnotes``, ``endnotes``, ``references``, ``reflist``, ``citations``, ``bibliography``) are a story's
    apparatus, never the story: the story is found around them, and they are withheld with its end."""
    texts = [
        f"The {word} finding of the harbour survey, published by the council, shows the quay walls losing stone to"
        f" the tide, year after year, faster than the engineers had thought."
        for word in ORDINALS * 2
    ]
    texts[-1] = "The marrowgast survey, the last of them, says the brindlecomb wall needs rebuilding within a decade."
    sections = "".join(
        f'<section class="chunk" id="s{at}">{"".join(f"<p>{text}</p>" for text in texts[at : at + 3])}</section>'
        for at in range(0, len(texts), 3)
    )
    notes = "".join(
        f'<li id="cite-{n}"><a href="#ref-{n}">^</a> Harbour Office, <i>Survey of the quay walls</i>, volume {n},'
        f" pages {n * 4}-{n * 4 + 3}, Portsmouth, 20{n:02d}, archived, retrieved 2024.</li>"
        for n in range(40)
    )
    references = f'<h2>References</h2><div class="reflist"><ol class="references">{notes}</ol></div>'
    out = first_view(news(f'<div class="content"><h1>Quay walls</h1>{sections}{references}</div>'))
    assert texts[0] in out
    assert "marrowgast" not in out and "brindlecomb" not in out and "volume 39" not in out


WITNESSES = [
    f"The {word} witness told the inquiry that the harbour gates were open on the night of the storm, and that the"
    f" quay was dark."
    for word in ORDINALS
]
WITNESSES[-1] = "The marrowgast log, the last witness said, shows the brindlecomb gate was never closed that night."


def test_a_story_in_custom_elements_is_found_around_its_paragraphs() -> None:
    """A story written as components (``<story-paragraph>``), each linking to the witness's page, below a
    standfirst whose class name reads like content (``lead-text``). A custom element holding text and no block
    is a paragraph, as a ``<div>`` is: its points go to the story around it. (Scored as containers of their
    own, the standfirst outscored the story, the paragraphs, a third of their text in links, did not join it,
    and the page, no article found, was sent whole.)"""
    paragraphs = "".join(
        f'<story-paragraph>{text[:4]}<a href="/inquiry/{at}">{text[4:44]}</a>{text[44:]}</story-paragraph>'
        for at, text in enumerate(WITNESSES)
    )
    lead = (
        '<story-paragraph class="lead-text"><strong>The harbour gates were left open on the night of the storm, the'
        " inquiry heard on its first day.</strong></story-paragraph>"
    )
    out = first_view(news(f'<div class="wrap"><h1>Gates left open</h1>{lead}{paragraphs}</div>'))
    assert "inquiry heard on its first day" in out
    assert "marrowgast" not in out and "brindlecomb" not in out


def test_a_story_whose_short_paragraphs_each_hold_a_link_is_no_listing() -> None:
    """Short paragraphs, each with a link after its first word ("The <a>first witness told the inquiry that
    the</a> harbour gates..."), as link-rich reporting writes them. Cards are led by their link (a headline, then a
    summary); a paragraph that links mid-sentence is prose, however many of them there are. (Each was taken for a
    card, the story for a listing, and the page was sent whole.)"""
    paragraphs = "".join(
        f'<p>{text[:4]}<a href="/inquiry/{at}">{text[4:44]}</a>{text[44:]}</p>' for at, text in enumerate(WITNESSES)
    )
    out = first_view(news(f'<div class="wrap"><h1>Gates left open</h1>{paragraphs}</div>'))
    assert WITNESSES[0][44:] in out
    assert "marrowgast" not in out and "brindlecomb" not in out


def test_paragraphs_typed_as_spans_count_as_paragraphs() -> None:
    """A story whose paragraphs are ``<span>`` elements styled as blocks, one after another in a ``<div>``, then
    paragraphs of its own. Inline markup that ends a sentence closes a group of sentences as a sentence's end
    does: the teaser shows the opening spans and withholds the rest. (The spans made one unit, too long to show:
    the teaser showed nothing of the story.)"""
    spans = "".join(f'<span class="para">{text}</span> ' for text in WITNESSES)
    board = "".join(
        f"<p>The {word} member of the board said the inquiry should hear the coastguard before the council.</p>"
        for word in ORDINALS[:4]
    )
    out = first_view(news(f'<div class="col"><h1>Gates left open</h1><div class="txt">{spans}</div>{board}</div>'))
    assert WITNESSES[0] in out
    assert "marrowgast" not in out and "fourth member" not in out


def test_a_first_unit_too_long_to_show_goes_whole_when_its_block_runs_on() -> None:
    """A story whose text stands in its ``<div>`` itself, around a subheading: its first run one sentence of
    several hundred words, split by inline markup (``<em>``), too long for the teaser to show any of it. A run of
    such a block is known by where it ends; it goes from where it starts. (From its last node only, everything
    of the run before its ``<em>`` stayed: most of the story, shown above the call to action.)"""
    clause = "and the {} witness said the gates were open and the quay was dark and nobody on the wall had been told"
    first = "The inquiry heard " + " ".join(clause.format(word) for word in ORDINALS * 2) + " until the marrowgast"
    rest = " keeper came to the stand and said the brindlecomb log was kept by the harbour master's clerk."
    after = "The board said the inquiry would sit again on Friday, when the coastguard and the council give evidence."
    body = f'<div class="body">{first}<em>at last</em>{rest}<h3>Next</h3>{after}</div>'
    out = first_view(news(f'<div class="story"><h1>Gates left open</h1>{body}</div>'))
    assert "Gates left open" in out
    assert "sixth witness" not in out and "marrowgast" not in out and "brindlecomb" not in out
