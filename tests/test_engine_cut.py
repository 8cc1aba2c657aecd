"""The engine's cut: decoding, finding the article, the teaser, the call to action, head injection.

Outputs are read back with a parser and compared by meaning (text,
structure, order), never by the serialiser's formatting.
"""

from __future__ import annotations

import codecs
import random

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode

from paywall.engine import Page, decode_body
from paywall.engine.headscan import encode_tags, inject
from paywall.engine.text import words
from paywall.errors import RewriteError
from tests.test_engine_sweep import (
    CTA,
    CTA_MARK,
    MARKERS,
    TEASER,
    WITHHELD,
    assert_cta_once,
    assert_no_leak,
    one,
    parse,
)

ALL = TEASER + WITHHELD
OG_ARTICLE = '<meta property="og:type" content="article">'
"""A sign that the page is an article: without one, a page needs 150 words of prose to be gated."""


def paras(texts: list[str]) -> str:
    return "".join(f"<p>{t}</p>" for t in texts)


def news(article: str, *, head: str = "", charset: str = "utf-8") -> str:
    return f"""<!DOCTYPE html><html><head><meta charset="{charset}"><title>Coast Times</title>{head}</head>
<body><header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<main>{article}</main>
<aside class="related"><h2>Read more insights</h2>
<article><h3>Harbour fees rise</h3><p>The port authority raised berthing fees again.</p></article>
<article><h3>Ferry timetable</h3><p>Summer sailings start earlier this season.</p></article></aside>
<section class="newsletter"><h2>Subscribe to Top Insights Today</h2>
<p>By clicking subscribe you agree to our privacy and cookie policy.</p></section>
<footer><p>Stay informed</p></footer></body></html>"""


CHROME = (
    "Home",
    "Read more insights",
    "Harbour fees rise",
    "The port authority raised berthing fees again.",
    "Subscribe to Top Insights Today",
    "By clicking subscribe you agree",
    "Stay informed",
)


def gate(
    markup: str | bytes,
    teaser: int = 3,
    *,
    charset: str | None = None,
    selector: str | None = None,
    head_html: str = "",
) -> bytes:
    data = markup.encode("utf-8") if isinstance(markup, str) else markup
    page = Page.parse(data, charset, selector=selector)
    assert page.has_article()
    out = page.gate(teaser_paragraphs=teaser, cta_html=CTA, head_html=head_html)
    assert_cta_once(out)
    assert_well_formed(out)
    return out


def shape(tree: LexborHTMLParser) -> list[tuple[str, tuple[tuple[str, str | None], ...], str]]:
    """Every element in document order: tag, attributes, own text (whitespace folded)."""
    root = tree.root
    assert root is not None
    return [
        (
            node.tag or "",
            tuple(sorted((name, value or "") for name, value in node.attributes.items())),
            " ".join(node.text(deep=False).split()),
        )
        for node in root.traverse()
    ]


def assert_well_formed(out: bytes) -> None:
    """The output is what a parser reads back: reading its serialisation again gives the same document."""
    tree = parse(out)
    assert shape(LexborHTMLParser(tree.html or "")) == shape(tree)
    assert len(tree.css("[data-paywall-article]")) == 1


def in_cta(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if "paywall-cta" in (parent.attributes.get("class") or "").split():
            return True
        parent = parent.parent
    return False


def article_of(out: bytes) -> LexborNode:
    article = parse(out).css_first("[data-paywall-article]")
    assert article is not None
    return article


def kept_paragraphs(out: bytes) -> list[str]:
    return [p.text() for p in article_of(out).css("p") if not in_cta(p)]


def element_children(node: LexborNode) -> list[LexborNode]:
    return [child for child in node.iter() if child.tag and not child.tag.startswith("-")]


def previous_element(node: LexborNode) -> LexborNode | None:
    sibling = node.prev
    while sibling is not None and (sibling.tag or "-").startswith("-"):
        sibling = sibling.prev
    return sibling


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    ("body", "charset", "expected"),
    [
        ("café".encode("latin-1"), "iso-8859-1", "café"),
        ("it\u2019s".encode("cp1252"), "windows-1252", "it\u2019s"),
        ("it\u2019s".encode("cp1252"), "ISO-8859-1", "it\u2019s"),  # browsers read latin-1 as cp1252
        ('<meta charset="windows-1252"><p>it\u2019s'.encode("cp1252"), None, "it\u2019s"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>caf\xe9', None, "café"),
        ('<meta charset="shift_jis"><p>日本語の記事'.encode("shift_jis"), None, "日本語の記事"),
        ("<p>日本語".encode("shift_jis"), "Shift_JIS", "日本語"),
        (codecs.BOM_UTF8 + "<p>é".encode(), "iso-8859-1", "é"),  # a byte-order mark wins
        (codecs.BOM_UTF16_LE + "<p>é".encode("utf-16-le"), None, "é"),
        (b"<p>caf\xe9 ok", None, "caf\ufffd ok"),  # undeclared, not UTF-8: replacement, no crash
        (b"<p>caf\xc3\xa9", "no-such-charset", "café"),
        (b"<p>caf\xc3\xa9", "rot13", "café"),  # not a text encoding
        (b"<p>a\x00b\x01c", None, "a\ufffdb\ufffdc"),
        (b"<p>a\x7fb\x0bc", "utf-8", "a\ufffdb\ufffdc"),
        ("<p>caf\u00e9 \ufffe \uffff".encode(), "utf-8", "caf\u00e9 \ufffd \ufffd"),  # noncharacters, no controls
    ],
)
def test_decode_body(body: bytes, charset: str | None, expected: str) -> None:
    assert expected in decode_body(body, charset)


def test_latin1_page_is_served_as_utf8_with_matching_declaration() -> None:
    markup = news(f"<article>{paras(['Le café est ouvert à Noël.', *ALL])}</article>", charset="iso-8859-1")
    out = gate(markup.encode("latin-1", errors="xmlcharrefreplace"), charset=None)
    assert "Le café est ouvert à Noël.".encode() in out
    tree = parse(out)
    assert [m.attributes["charset"] for m in tree.css("meta[charset]")] == ["utf-8"]


def test_http_equiv_is_rewritten() -> None:
    markup = f"""<html><head><meta http-equiv="content-type" content="text/html; charset=windows-1252">
    </head><body><article>{paras(ALL)}</article></body></html>"""
    tree = parse(gate(markup.encode("cp1252")))
    assert [m.attributes["content"] for m in tree.css("meta[http-equiv]")] == ["text/html; charset=utf-8"]
    assert tree.css("meta[charset]") == []


def test_missing_charset_declaration_is_added() -> None:
    tree = parse(gate(f"<html><body><article>{paras(ALL)}</article></body></html>"))
    assert [m.attributes["charset"] for m in tree.css("meta[charset]")] == ["utf-8"]


def test_shift_jis_page() -> None:
    article = paras(
        [
            "東京の港で古い灯台が今年の春に再び公開されることが月曜日に発表されました。",
            "修復工事には四年かかり、費用は当初の計画を大きく上回りました。",
            "地元の歴史家によると、この塔は海岸で最も古い灯台の一つです。",
            "秘密の第四段落ゼフィルは会員だけが読むことができる長い文章です。",
        ]
    )
    body = news(f"<article>{article}</article>", charset="shift_jis").encode("shift_jis")
    text = gate(body).decode("utf-8")
    assert "東京の港で古い灯台が" in text
    assert "ゼフィル" not in text


# --------------------------------------------------------------------------- hostile input


def test_deep_nesting_is_refused_or_gated_without_a_leak() -> None:
    deep = "<div>" * 10_000 + "x" + "</div>" * 10_000
    body = f"<html><body><article>{deep}{paras(ALL)}</article></body></html>".encode()
    try:
        page = Page.parse(body, None)
        assert page.has_article()
        out = page.gate(teaser_paragraphs=3, cta_html=CTA)
    except RewriteError:
        return
    assert_no_leak(out)
    assert_cta_once(out)


def test_moderate_nesting_is_gated() -> None:
    depth = 200
    nested = "<div>" * depth + paras(ALL) + "</div>" * depth
    out = gate(f"<html><body><article>{nested}</article></body></html>")
    assert_no_leak(out)
    assert kept_paragraphs(out) == TEASER


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\x00\x00",
        b"<<<>>>&&&",
        b"\xff\xfe\x00",
        b"<html><body><article><p>unclosed <b>bold <i>italic",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><html>&a;</html>",
    ],
)
def test_odd_bodies_parse_or_raise_rewrite_error(body: bytes) -> None:
    try:
        page = Page.parse(body, None)
    except RewriteError:
        return
    assert isinstance(page.has_article(), bool)
    assert isinstance(page.declared_free(), bool)


def test_unclosed_tags_and_nul_bytes_are_gated() -> None:
    body = (
        ("<html><body><article><p>" + "</p><p>".join(ALL) + "<div><span>unclosed <b>tail")
        .encode()
        .replace(b"Harbour", b"Har\x00bour")
    )
    out = gate(body)
    assert_no_leak(out)
    assert "Har\ufffdbour".encode() in out
    assert b"\x00" not in out


def test_gate_without_article_raises_and_gate_twice_raises() -> None:
    page = Page.parse(b"<html><body><p>no article here</p></body></html>", None)
    assert not page.has_article()
    with pytest.raises(RewriteError):
        page.gate(teaser_paragraphs=3, cta_html=CTA)
    page = Page.parse(news(f"<article>{paras(ALL)}</article>").encode(), None)
    page.gate(teaser_paragraphs=3, cta_html=CTA)
    with pytest.raises(RewriteError):
        page.gate(teaser_paragraphs=3, cta_html=CTA)


def test_bad_selector_raises_rewrite_error() -> None:
    with pytest.raises(RewriteError):
        Page.parse(b"<html><body><p>x</p></body></html>", None, selector="p[[")


# --------------------------------------------------------------------------- free pages


@pytest.mark.parametrize(
    ("meta", "free"),
    [
        ('<meta name="paywall" content="free">', True),
        ('<meta name=" PayWall " content=" FREE ">', True),
        ('<META NAME="paywall" CONTENT="Free">', True),
        ('<meta name="paywall" content="metered">', False),
        ('<meta property="paywall" content="free">', False),
        ("", False),
    ],
)
def test_declared_free(meta: str, free: bool) -> None:
    page = Page.parse(news(f"<article>{paras(ALL)}</article>", head=meta).encode(), None)
    assert page.declared_free() is free


def test_free_mark_in_the_body_does_not_free_the_page() -> None:
    markup = news(f'<article><meta name="paywall" content="free">{paras(ALL)}</article>')
    assert not Page.parse(markup.encode(), None).declared_free()


# --------------------------------------------------------------------------- finding the article


@pytest.mark.parametrize(
    "wrapper",
    [
        '<div itemprop="articleBody">{}</div>',
        "<article>{}</article>",
        '<div class="entry-content">{}</div>',
        '<div class="post-content">{}</div>',
        '<div class="article-body">{}</div>',
        '<div class="story-body">{}</div>',
        '<div id="article-body">{}</div>',
        '<div class="td-post-content">{}</div>',
        '<div data-paywall-article class="x">{}</div>',
    ],
)
def test_usual_article_places_are_found(wrapper: str) -> None:
    out = gate(news(wrapper.format(paras(ALL)), head=OG_ARTICLE))
    assert kept_paragraphs(out) == TEASER
    assert_no_leak(out)
    for chrome in CHROME:
        assert chrome.encode() in out


def plain_news(article: str) -> str:
    """:func:`news` whose chrome holds no ``<article>`` cards: no sign at all that the page is an article."""
    return news(article).replace("<article>", "<div>").replace("</article>", "</div>")


def test_unmarked_page_is_an_article_only_with_150_words_of_prose() -> None:
    short = plain_news(f"<div class='text'>{paras(ALL)}</div>")  # 108 words
    assert not Page.parse(short.encode(), None).has_article()
    longer = [*ALL[:5], *(f"{t} It was the talk of the quay all week." for t in ALL[:5]), *ALL[5:]]
    out = gate(plain_news(f"<div class='text'>{paras(longer)}</div>"))
    assert_no_leak(out)
    assert kept_paragraphs(out)[:3] == TEASER


def test_no_article_means_no_gate() -> None:
    page = Page.parse(plain_news(f"<div class='content'>{paras(ALL)}</div>").encode(), None)
    assert not page.has_article()


def test_article_cards_in_the_chrome_are_no_sign_that_the_page_is_an_article() -> None:
    page = Page.parse(news(f"<div class='content'>{paras(ALL)}</div>").encode(), None)
    assert not page.has_article()


def test_empty_or_tiny_article_is_not_an_article_without_selector() -> None:
    assert not Page.parse(news("<article></article>").encode(), None).has_article()
    assert not Page.parse(news("<article><p>One card.</p></article>").encode(), None).has_article()


def test_main_article_wins_over_article_cards() -> None:
    cards = "".join(
        f"<article class='card'><h3>Card {i}</h3><p>Short summary of story {i}.</p></article>" for i in range(6)
    )
    out = gate(news(f"{cards}<article class='main'>{paras(ALL)}</article>{cards}"))
    tree = parse(out)
    marked = tree.css("[data-paywall-article]")
    assert [(m.tag, m.attributes.get("class")) for m in marked] == [("article", "main paywall-gated")]
    assert out.count(b"Short summary of story 3.") == 2
    assert_no_leak(out)


def test_listing_of_comparable_cards_is_not_an_article() -> None:
    cards = "".join(
        f"<article><h3>Story {i}</h3><p>First line of story {i}.</p><p>Second line {i}.</p></article>" for i in range(5)
    )
    assert not Page.parse(news(cards).encode(), None).has_article()


@pytest.mark.parametrize("post", ["article", "div"])
def test_whole_posts_in_a_listing_are_each_gated(post: str) -> None:
    """A blog's home page or archive that shows its posts whole (WordPress's "full text" setting) holds
    several articles, not cards: each ``<article>`` is cut at its own teaser, with its own call to action.
    Posts that say nothing of being one (``<div>`` each) read as one story told in parts: it is cut once,
    and nothing of the posts after its teaser is shown."""
    desks = ("harbour", "council", "ferry", "weather")
    posts = [
        [f"{text[:-1]}, the {desk} desk reports." for text in ALL]
        + [f"{text[:-1]}, the {desk} desk adds." for text in WITHHELD]
        for desk in desks
    ]
    markup = news(
        "".join(
            f"<{post} class='post'><h2><a href='/p/{i}'>Post {i}</a></h2>"
            f"<div class='entry-content'>{paras(texts)}</div></{post}>"
            for i, texts in enumerate(posts)
        )
    )
    page = Page.parse(markup.encode(), None)
    assert page.has_article()
    out = page.gate(teaser_paragraphs=2, cta_html=CTA)
    shown = posts if post == "article" else posts[:1]
    assert out.decode().count(CTA_MARK) == len(shown)
    for texts in shown:
        assert texts[0] in out.decode() and texts[1] in out.decode()
    assert_no_leak(out, phrases=tuple(text for texts in posts for text in texts[2:]))
    assert_well_formed(out)


@pytest.mark.parametrize(
    ("canonical", "prev", "continues"),
    [
        ("https://coast.example/story/2/", "https://coast.example/story/", True),  # WordPress's <!--nextpage-->
        ("https://coast.example/story/page/3", "/story/page/2", True),
        ("https://coast.example/story?page=2", "https://coast.example/story", True),
        ("https://coast.example/story?id=7&page=3", "https://coast.example/story?id=7&page=2", True),
        ("https://coast.example/story/", "https://coast.example/an-older-story/", False),  # the previous post
        ("https://coast.example/story/2/", "https://other.example/story/", False),
        ("https://coast.example/news/12345", "https://coast.example/news/12344", False),  # ids, not pages
        pytest.param("https://coast.example/story?page=\u00b2", "/story", False, id="a-digit-no-page-has"),
        pytest.param("https://coast.example/story?page=" + "9" * 5000, "/story", False, id="five-thousand-digits"),
        pytest.param(" https://coast.example/story/2/\n", " /story/ ", True, id="addresses-with-spaces-around"),
        pytest.param("http://[::1/story/2/", "/story/", False, id="a-malformed-canonical-address"),
        pytest.param("https://coast.example/story/2/", "http://[x/story/", False, id="a-malformed-previous-address"),
    ],
)
def test_a_later_page_of_an_article_split_over_pages_shows_no_teaser(
    canonical: str, prev: str, continues: bool
) -> None:
    """Page 2 and on of an article split over several pages are all withheld text: their first paragraphs
    are the middle of the story, and a teaser of each page would give the article away a page at a time.
    Such a page names its previous page as the same address but for a page number."""
    head = f'{OG_ARTICLE}<link rel="canonical" href="{canonical}"><link rel="prev" href="{prev}">'
    out = gate(news(f"<article>{paras(ALL)}</article>", head=head), teaser=2)
    if continues:
        assert_no_leak(out, phrases=tuple(ALL))
    else:
        assert ALL[0] in out.decode() and ALL[1] in out.decode()
        assert_no_leak(out, phrases=tuple(ALL[2:]))


def test_candidates_in_chrome_are_ignored() -> None:
    sidebar = f"<aside><article>{paras([w + ' extra words here' for w in ALL])}</article></aside>"
    out = gate(news(f"{sidebar}<div class='entry-content'>{paras(ALL)}</div>"))
    assert article_of(out).attributes.get("class") == "entry-content paywall-gated"


def test_outermost_candidate_is_preferred() -> None:
    out = gate(news(f"<article id='outer'><h1>Title</h1><div class='entry-content'>{paras(ALL)}</div></article>"))
    article = article_of(out)  # <article id="outer">, or <main> around nothing else
    assert article.attributes.get("id") == "outer" or article.css_first("article#outer") is not None
    assert article.css_first("h1") is not None


def test_configured_selector_wins() -> None:
    markup = news(f"<article>{paras(ALL)}</article><div id='mine'>{paras(ALL[::-1])}</div>")
    out = gate(markup, selector="#mine")
    assert article_of(out).attributes.get("id") == "mine"
    page = Page.parse(plain_news("<p>x</p>").encode(), None, selector="#missing")
    assert not page.has_article()


def test_empty_article_by_selector_gets_the_cta() -> None:
    out = gate(news("<div id='a'></div>"), selector="#a")
    article = article_of(out)
    assert article.attributes.get("id") == "a"
    assert [c.attributes.get("class") for c in element_children(article)] == ["paywall-cta"]


# --------------------------------------------------------------------------- the teaser


@pytest.mark.parametrize(
    "marker",
    [
        "<!--more-->",
        "<!-- paywall -->",
        "<!--members-only-->",
        "<!--  MORE  -->",
        "<!-- Members Only -->",
        "<hr data-paywall-break>",
        '<div data-paywall-break=""></div>',
    ],
)
def test_explicit_break_wins(marker: str) -> None:
    out = gate(news(f"<article>{paras(TEASER[:1])}{marker}{paras(TEASER[1:] + WITHHELD)}</article>"), teaser=3)
    assert kept_paragraphs(out) == TEASER[:1]
    assert_no_leak(out, markers=(*MARKERS, "restoration took four years"))
    assert b"data-paywall-break" not in out


NESTED_BREAK = (
    f"<article><div class='body'><p>{TEASER[0]}</p><p>{TEASER[1]}<!--more--> {WITHHELD[0]}</p>"
    f"{paras(WITHHELD[1:])}</div><div class='share'>Share zephyrquill</div></article>"
)


def test_break_inside_a_nested_block_cuts_the_rest_of_the_story() -> None:
    out = gate(news(NESTED_BREAK))
    assert kept_paragraphs(out) == TEASER[:2]
    assert_no_leak(out.replace(b"Share zephyrquill", b""))


def test_break_inside_a_paragraph_puts_the_cta_after_the_teaser() -> None:
    text = " ".join(parse(gate(news(NESTED_BREAK))).text().split())
    assert text.index(TEASER[1]) < text.index(CTA_MARK)


def test_break_withholds_everything_after_it_in_the_article() -> None:
    assert_no_leak(gate(news(NESTED_BREAK)))


@pytest.mark.parametrize(
    ("teaser", "count", "kept"),
    [
        (3, 7, 3),
        (1, 7, 2),  # one paragraph of 15 words is topped up to 25 words
        (3, 3, 1),  # the teaser holds at most 60% of the article's words
        (5, 3, 1),
        (3, 2, 1),
        (3, 1, 0),  # a one-sentence article is withheld whole
    ],
)
def test_paragraph_count_always_withholds_something(teaser: int, count: int, kept: int) -> None:
    markup = news(f"<article data-paywall-article><h1>Headline</h1>{paras(ALL[:count])}</article>")
    out = gate(markup, teaser=teaser)
    assert [p for p in kept_paragraphs(out) if p.strip()] == ALL[:kept]
    assert ALL[count - 1].encode() not in out
    headline = parse(out).css("[data-paywall-article] > h1")
    assert [h.text() for h in headline] == ["Headline"]


def test_empty_paragraphs_do_not_count() -> None:
    article = "<p> </p><p></p>" + "<p>&nbsp;</p>".join(f"<p>{t}</p>" for t in ALL)
    out = gate(news(f"<article>{article}</article>"))
    assert [p for p in kept_paragraphs(out) if p.strip()] == TEASER


def test_short_blocks_and_headings_are_shown_but_not_counted() -> None:
    article = (
        "<header><p>By Ada Reporter, coast correspondent</p></header><h2>The lighthouse reopens this spring</h2>"
        f"<p>{TEASER[0]}</p><figure><figcaption>{TEASER[1]}</figcaption></figure><p>Updated at noon</p>"
        f"<aside><p>{TEASER[2]}</p></aside>{paras(WITHHELD)}"
    )
    out = gate(news(f"<article>{article}</article>"), teaser=2)
    text = " ".join(article_of(out).text().split())
    for shown in ("By Ada Reporter", "The lighthouse reopens this spring", *TEASER, "Updated at noon"):
        assert shown in text
    assert WITHHELD[0] in text  # the second counted paragraph
    assert_no_leak(out, markers=MARKERS[1:])


@pytest.mark.parametrize(
    "photo",
    [
        # WordPress before blocks: the caption is a paragraph of a <div class="wp-caption">.
        '<div class="wp-caption alignnone"><img src="/pier.jpg" alt=""><p class="wp-caption-text">{}</p></div>',
        # A caption and its copy for the enlarged view (NPR), in <div>s named for what they hold.
        '<div class="imagewrap"><img src="/pier.jpg" alt=""></div><div class="credit-caption"><div class="caption">'
        '<p>{}</p></div></div><div class="enlarge_html"><p class="caption">{}</p></div>',
    ],
)
def test_a_photo_caption_named_as_one_is_shown_but_not_counted(photo: str) -> None:
    caption = "The restored lantern room of the lighthouse seen from the harbour wall at dawn on Tuesday."
    article = f"<h1>Headline</h1>{photo.format(caption, caption)}{paras(ALL)}"
    out = gate(news(f"<article>{article}</article>", head=OG_ARTICLE), teaser=2)
    text = " ".join(article_of(out).text().split())
    assert caption in text
    assert TEASER[0] in text and TEASER[1] in text, "the teaser counts the story's paragraphs, not the caption"
    assert TEASER[2] not in text
    assert_no_leak(out, markers=MARKERS)


def test_a_story_container_named_for_its_captions_still_counts_its_paragraphs() -> None:
    article = f'<h1>Headline</h1><div class="story-body has-captions">{paras(ALL)}</div>'
    out = gate(news(f"<article>{article}</article>", head=OG_ARTICLE), teaser=2)
    text = " ".join(article_of(out).text().split())
    assert TEASER[0] in text and TEASER[1] in text
    assert TEASER[2] not in text
    assert_no_leak(out, markers=MARKERS)


@pytest.mark.parametrize(
    "article",
    [
        "<table>" + "".join(f"<tr><td>{t}</td></tr>" for t in ALL) + "</table>",
        "<ol>" + "".join(f"<li>{t}</li>" for t in ALL) + "</ol>",
        f"<p>{TEASER[0]}</p><p>Pictures of the lighthouse and the harbour wall from the air</p>"
        f"<p>{TEASER[1]}</p>{paras(WITHHELD)}",
    ],
    ids=["table-cells", "list-items", "line-not-ending-a-sentence"],
)
def test_cells_and_items_are_counted_and_lines_that_end_no_sentence_are_not(article: str) -> None:
    out = gate(news(f"<article>{article}</article>"), teaser=2)
    text = article_of(out).text()
    assert TEASER[0] in text and TEASER[1] in text
    assert_no_leak(out)


def test_article_without_paragraphs_uses_blocks() -> None:
    article = "".join(f"<div>{t}</div>" for t in ALL)
    out = gate(news(f"<article><section>{article}</section></article>"))
    assert all(t.encode() in out for t in TEASER)
    assert_no_leak(out)


def test_article_of_text_and_line_breaks() -> None:
    out = gate(news("<div id='a'>" + "<br><br>".join(ALL) + "</div>"), selector="#a")
    assert all(t.encode() in out for t in TEASER)
    assert_no_leak(out)


def test_nested_paragraphs_and_quotes() -> None:
    article = (
        f"<p>{TEASER[0]}</p><blockquote><p>{TEASER[1]}</p></blockquote>"
        f"<div><p>{TEASER[2]}<div>block in p</div></p></div>{paras(WITHHELD)}"
    )
    out = gate(news(f"<article>{article}</article>"))
    assert TEASER[2].encode() in out
    assert_no_leak(out)


def test_cta_stands_right_after_the_teasers_last_block() -> None:
    article = f"<article><h1>T</h1><div class='body'>{paras(ALL)}</div><div class='tags'>coast</div></article>"
    out = gate(news(article))
    tree = parse(out)
    cta = one(tree, ".paywall-cta")
    before = previous_element(cta)
    assert before is not None and before.tag == "p" and before.text() == TEASER[-1]
    assert cta.next is None or not (cta.next.text() or "").strip()  # nothing of the article after it
    story = tree.css_first("main article")
    assert story is not None
    assert [c.tag for c in element_children(story)] == ["h1", "div"]
    assert story.css("div.tags") == [] and "coast" not in story.text().replace(TEASER[-1], "")
    assert out.decode().count(CTA_MARK) == 1


def test_page_around_the_article_is_left_as_it_was() -> None:
    markup = news(f"<article>{paras(ALL)}</article>")
    out = gate(markup)
    for chrome in CHROME:
        assert chrome.encode() in out
    before = LexborHTMLParser(markup)
    after = parse(out)
    for selector in ("header", "aside.related", "section.newsletter", "footer"):
        old, new = before.css_first(selector), after.css_first(selector)
        assert old is not None and new is not None
        assert new.html == old.html


def test_head_html_is_appended_to_head_and_head_created_if_missing() -> None:
    tag = '<script defer src="/_paywall/protect.abc.js" data-mode="on"></script>'
    for markup in (news(f"<article>{paras(ALL)}</article>"), f"<article>{paras(ALL)}</article>"):
        tree = parse(gate(markup, head_html=tag))
        head = tree.head
        assert head is not None
        last = element_children(head)[-1]
        assert (last.tag, last.attributes.get("src"), last.attributes.get("data-mode")) == (
            "script",
            "/_paywall/protect.abc.js",
            "on",
        )
        assert len(tree.css("script[src]")) == 1


def test_cta_with_head_only_elements_is_kept_in_order() -> None:
    page = Page.parse(news(f"<article>{paras(ALL)}</article>").encode(), None)
    tree = parse(page.gate(teaser_paragraphs=3, cta_html=f"<style>.c{{color:red}}</style>{CTA}"))
    cta = one(tree, ".paywall-cta")
    style = previous_element(cta)
    assert style is not None and style.tag == "style" and style.text() == ".c{color:red}"
    before = previous_element(style)
    assert before is not None and before.text() == TEASER[-1]


# --------------------------------------------------------------------------- tags at the end of the head


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html><head><title>t</title></head><body>x</body></html>", b"<title>t</title>[X]</head>"),
        (b"<HTML><HEAD></HEAD ><BODY>", b"<HEAD>[X]</HEAD >"),
        (b"<html><head><!-- </head> --><script>var s='</head>';</script></head>", b"</script>[X]</head>"),
        (b"<html><body class='a'><p>x</p></body>", b"<html>[X]<body class='a'><p>"),
        (b"<p>fragment</p>", b"[X]<p>fragment</p>"),
        (b"<html><bodyguard></bodyguard></html>", b"<html>[X]<bodyguard>"),
        (b"<head><!-- unterminated", b"<head>[X]<!--"),
    ],
)
def test_inject_head(body: bytes, expected: bytes) -> None:
    out = inject(body, encode_tags("[X]"))
    assert expected in out
    assert out.count(b"[X]") == 1


def test_inject_head_escapes_non_ascii_and_keeps_body_without_html() -> None:
    assert inject(b"<head></head>", encode_tags("<meta content='é'>")) == b"<head><meta content='&#233;'></head>"
    assert inject(b"<head></head>", encode_tags("")) == b"<head></head>"


# --------------------------------------------------------------------------- UTF-16, UTF-32, undecodable bodies


@pytest.mark.parametrize(
    ("encoding", "label"),
    [
        ("utf-16-le", "utf-16le"),
        ("utf-16-le", "UTF-16"),  # WHATWG: the utf-16 label is UTF-16LE
        ("utf-16-le", "unicode"),
        ("utf-16-be", "utf-16be"),
        ("utf-16-le", None),  # no label, no byte-order mark: read from where the NULs are
        ("utf-16-be", None),
        ("utf-32-le", None),
        ("utf-32-be", "utf-8"),  # a wrong label does not matter either
        ("utf-32-le", "utf-32"),
    ],
)
def test_wide_encodings_without_byte_order_mark_are_decoded_and_gated(encoding: str, label: str | None) -> None:
    markup = news(f"<article>{paras(['Le café est ouvert.', *ALL])}</article>")
    assert "Le café est ouvert." in decode_body(markup.encode(encoding), label)
    out = gate(markup.encode(encoding), charset=label)
    assert_no_leak(out)
    assert "Le café est ouvert.".encode() in out


def test_utf16_label_on_ascii_compatible_markup_is_ignored() -> None:
    """A <meta> cannot declare UTF-16 (WHATWG: it means UTF-8), and a header that does is wrong about markup."""
    assert decode_body(b'<meta charset="utf-16"><p>caf\xc3\xa9</p>', None).endswith("café</p>")
    assert decode_body(b"<p>caf\xc3\xa9</p>", "utf-16le") == "<p>café</p>"


@pytest.mark.parametrize("body", [bytes(range(256)) * 16, random.Random(7).randbytes(20_000)])
def test_body_that_is_not_text_in_any_reading_is_refused(body: bytes) -> None:
    with pytest.raises(RewriteError):
        decode_body(body, None)
    with pytest.raises(RewriteError):
        Page.parse(body, "utf-8")


# --------------------------------------------------------------------------- stray end tags


@pytest.mark.parametrize(
    "article",
    [
        f'<div class="wrap"><article>{paras(TEASER)}<div class="embed"></div></div>{paras(WITHHELD)}</article></div>',
        f"<article>{paras(TEASER)}<div class='embed'></body></html></div>{paras(WITHHELD)}</article>",
        f"<article>{paras(TEASER[:1])}</div>{paras(TEASER[1:] + WITHHELD)}</article>",
        f"<article>{paras(TEASER)}</div><h2>Underground</h2>{paras(WITHHELD[:2])}<blockquote>{WITHHELD[2]}</blockquote>"
        f"<ul><li>{WITHHELD[3]}</li></ul></article>",
        f"<article>{paras(ALL)}</div>{' '.join(WITHHELD)} <em>and</em> more</article>",
    ],
    ids=["close-div", "close-body-html", "early-close", "headings-quotes-lists", "bare-text"],
)
def test_story_pushed_out_of_the_article_by_a_stray_end_tag_is_cut(article: str) -> None:
    # A stray </div> closes up to an open <div>; the selector: a one-paragraph article is not found otherwise.
    out = gate(news(f'<div class="story">{article}</div>'), selector="article")
    assert_no_leak(out)
    kept = [p for p in kept_paragraphs(out) if p.strip()]
    assert kept == TEASER[: len(kept)]
    for chrome in CHROME:
        assert chrome.encode() in out


def test_story_pushed_out_by_a_stray_end_tag_keeps_its_whole_teaser() -> None:
    article = f"<article>{paras(TEASER)}</div>{paras(WITHHELD)}</article>"
    out = gate(news(f'<div class="story">{article}</div>'), selector="article")
    assert kept_paragraphs(out) == TEASER


CONTINUED = (
    f"<html><body><main><article>{paras(ALL)}</article><p>More of the zephyrquill story.</p><!-- c -->"
    "<script>x()</script> Bare moonbrackle text<h3>Related</h3><ul><li><a href='/a'>Other story</a></li></ul>"
    "<p>After the list</p></main><footer>f</footer></body></html>"
)


def test_what_continues_the_story_goes_and_the_first_chrome_stays() -> None:
    out = gate(CONTINUED, selector="article")
    assert_no_leak(out, markers=("zephyrquill",))
    tree = parse(out)
    text = " ".join(tree.body.text().split()) if tree.body else ""
    for kept in ("Related", "Other story", "After the list"):
        assert kept in text
    for stop in ("<div>x</div>", "<aside>x</aside>", "<section>x</section>", "<nav>x</nav>", "<form>x</form>"):
        out = gate(f"<html><body><article>{paras(ALL)}</article>{stop}<p>Later paragraph</p></body></html>")
        assert b"Later paragraph" in out


def test_bare_text_pushed_out_before_the_chrome_goes() -> None:
    assert_no_leak(gate(CONTINUED, selector="article"), markers=("moonbrackle",))


def test_withheld_count_includes_the_continuation() -> None:
    markup = news(f"<article>{paras(TEASER)}</div>{paras(WITHHELD)}</article>")
    page = Page.parse(markup.encode(), None)
    page.gate(teaser_paragraphs=3, cta_html=CTA)
    assert page.report.withheld_words == len(words(" ".join(WITHHELD)))


# --------------------------------------------------------------------------- hidden candidates


@pytest.mark.parametrize(
    "hiding",
    [
        '<div class="article-body" hidden>{}</div>',
        '<div class="article-body" aria-hidden="true">{}</div>',
        '<div class="entry-content" style="display: none">{}</div>',
        '<div style="visibility:hidden"><article>{}</article></div>',
        '<template><div class="article-body">{}</div></template>',
        '<noscript><div class="article-body">{}</div></noscript>',
    ],
)
def test_hidden_duplicate_of_the_body_is_not_a_rival_and_is_scrubbed(hiding: str) -> None:
    markup = news(f"<article>{paras(ALL)}</article>").replace("<footer>", hiding.format(paras(ALL)) + "<footer>")
    out = gate(markup)
    assert_no_leak(out)
    assert kept_paragraphs(out) == TEASER


@pytest.mark.parametrize("head", ["", OG_ARTICLE])
def test_only_article_hidden_is_still_gated(head: str) -> None:
    out = gate(news(f'<div class="article-body" hidden>{paras(ALL)}</div>', head=head))
    assert_no_leak(out)


def test_code_withheld_with_the_article_is_no_prose() -> None:
    # An ad snippet inside the story after the teaser, and the same snippet in the page's head:
    # the code's words and URLs are not withheld text, so the head's copy stays as it is.
    snippet = "googletag.cmd.push(function () { loadAd('https://ads.example/slot/inline-lighthouse.js'); });"
    styles = ".inline-widget { border: 1px solid #ccc; margin: 2em auto; }"
    story = (
        f"<article>{paras(TEASER)}<script>{snippet}</script><style>{styles}</style>"
        f"<noscript><img src='https://ads.example/pixel.gif'></noscript>{paras(WITHHELD)}</article>"
    )
    head = f"<script>{snippet}</script><style>{styles}</style><meta name='description' content='{WITHHELD[2]}'>"
    after = "<footer><img src='https://ads.example/slot/inline-lighthouse.js'></footer>"
    page = Page.parse(news(story + after, head=head).encode(), None)
    out = page.gate(teaser_paragraphs=3, cta_html=CTA)
    text = out.decode()
    assert snippet in text and styles in text
    assert "https://ads.example/slot/inline-lighthouse.js'" in text.replace('"', "'")
    assert_no_leak(out, phrases=tuple(WITHHELD))
    withheld = " ".join(page.report.withheld)
    assert "googletag" not in withheld and "border" not in withheld and "pixel" not in withheld
    assert WITHHELD[2] in withheld
