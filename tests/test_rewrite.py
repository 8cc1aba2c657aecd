"""The HTML engine: decoding, finding the article, the teaser cut, the call to action."""

from __future__ import annotations

import codecs
import random

import pytest
from bs4 import BeautifulSoup

from paywall import leaks
from paywall.errors import RewriteError
from paywall.rewrite import MAX_DEPTH, Page, continuation, decode_body, inject_head
from tests.test_leaks import CTA, CTA_MARK, MARKERS, TEASER, WITHHELD, assert_cta_once, assert_no_leak

ALL = TEASER + WITHHELD


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
    assert_well_formed(out, exact=not head_html)
    return out


def assert_well_formed(out: bytes, *, exact: bool = True) -> None:
    """The output is what a parser reads back: serialising it again changes nothing.

    ``head_html`` is inserted verbatim, so with it only the reading is compared.
    """
    text = out.decode("utf-8")
    again = BeautifulSoup(text, "lxml").decode(formatter="minimal")
    if exact:
        assert again == text
    else:
        assert BeautifulSoup(again, "lxml").decode(formatter="minimal") == again


def kept_paragraphs(out: bytes) -> list[str]:
    article = BeautifulSoup(out, "lxml").select_one("[data-paywall-article]")
    assert article is not None
    return [p.get_text() for p in article.find_all("p") if p.find_parent(class_="paywall-cta") is None]


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
    ],
)
def test_decode_body(body: bytes, charset: str | None, expected: str) -> None:
    assert expected in decode_body(body, charset)


def test_latin1_page_is_served_as_utf8_with_matching_declaration() -> None:
    markup = news(f"<article>{paras(['Le café est ouvert à Noël.', *ALL])}</article>", charset="iso-8859-1")
    out = gate(markup.encode("latin-1", errors="xmlcharrefreplace"), charset=None)
    assert "Le café est ouvert à Noël.".encode() in out
    soup = BeautifulSoup(out, "lxml")
    assert [m["charset"] for m in soup.find_all("meta", charset=True)] == ["utf-8"]


def test_http_equiv_is_rewritten_and_missing_declaration_added() -> None:
    markup = f"""<html><head><meta http-equiv="content-type" content="text/html; charset=windows-1252">
    </head><body><article>{paras(ALL)}</article></body></html>"""
    out = gate(markup.encode("cp1252"))
    assert b'content="text/html; charset=utf-8"' in out
    out = gate(f"<html><body><article>{paras(ALL)}</article></body></html>")
    assert b'<meta charset="utf-8"/>' in out


def test_shift_jis_page() -> None:
    article = paras(["東京の記事です。", "二番目の段落。", "三番目の段落。", "秘密の第四段落ゼフィル。"])
    body = news(f"<article>{article}</article>", charset="shift_jis").encode("shift_jis")
    out = gate(body)
    text = out.decode("utf-8")
    assert "東京の記事です。" in text
    assert "ゼフィル" not in text


# --------------------------------------------------------------------------- hostile input


def test_deep_nesting_is_refused_with_rewrite_error() -> None:
    deep = "<div>" * 10_000 + "x" + "</div>" * 10_000
    with pytest.raises(RewriteError):
        Page.parse(f"<html><body><article>{deep}{paras(ALL)}</article></body></html>".encode(), None)


def test_nesting_below_the_bound_is_fine() -> None:
    depth = MAX_DEPTH - 20
    nested = "<div>" * depth + paras(ALL) + "</div>" * depth
    out = gate(f"<html><body><article>{nested}</article></body></html>")
    assert_no_leak(out)


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
    out = gate(news(wrapper.format(paras(ALL))))
    assert kept_paragraphs(out) == TEASER
    assert_no_leak(out)
    for chrome in CHROME:
        assert chrome.encode() in out


def test_no_article_means_no_gate() -> None:
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
    assert out.count(b'data-paywall-article=""') == 1
    assert b'<article class="main" data-paywall-article=""' in out
    assert out.count(b"Short summary of story 3.") == 2
    assert_no_leak(out)


def test_listing_of_comparable_cards_is_not_an_article() -> None:
    cards = "".join(
        f"<article><h3>Story {i}</h3><p>First line of story {i}.</p><p>Second line {i}.</p></article>" for i in range(5)
    )
    assert not Page.parse(news(cards).encode(), None).has_article()


def test_candidates_in_chrome_are_ignored() -> None:
    sidebar = f"<aside><article>{paras([w + ' extra words here' for w in ALL])}</article></aside>"
    out = gate(news(f"{sidebar}<div class='entry-content'>{paras(ALL)}</div>"))
    assert b'<div class="entry-content" data-paywall-article=""' in out


def test_outermost_candidate_is_preferred() -> None:
    out = gate(news(f"<article id='outer'><h1>Title</h1><div class='entry-content'>{paras(ALL)}</div></article>"))
    assert b'<article data-paywall-article="" id="outer"' in out


def test_configured_selector_wins() -> None:
    markup = news(f"<article>{paras(ALL)}</article><div id='mine'>{paras(ALL[::-1])}</div>")
    out = gate(markup, selector="#mine")
    assert b'<div data-paywall-article="" id="mine"' in out
    page = Page.parse(news("<p>x</p>").encode(), None, selector="#missing")
    assert not page.has_article()


def test_empty_article_by_selector_gets_the_cta() -> None:
    out = gate(news("<div id='a'></div>"), selector="#a")
    assert b'<div data-paywall-article="" id="a"><div class="paywall-cta">' in out


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


def test_break_inside_a_nested_block_cuts_the_rest_of_the_article() -> None:
    article = (
        f"<article><div class='body'><p>{TEASER[0]}</p><p>{TEASER[1]}<!--more--> {WITHHELD[0]}</p>"
        f"{paras(WITHHELD[1:])}</div><div class='share'>Share zephyrquill</div></article>"
    )
    out = gate(news(article))
    assert kept_paragraphs(out) == TEASER[:2]
    assert_no_leak(out)
    assert b'</div><div class="paywall-cta">' in out  # after the top-level block


@pytest.mark.parametrize(
    ("teaser", "count", "kept"), [(3, 7, 3), (1, 7, 1), (3, 3, 2), (5, 3, 2), (3, 2, 1), (3, 1, 0)]
)
def test_paragraph_count_always_withholds_something(teaser: int, count: int, kept: int) -> None:
    markup = news(f"<article data-paywall-article><h1>Headline</h1>{paras(ALL[:count])}</article>")
    out = gate(markup, teaser=teaser)
    assert kept_paragraphs(out) == ALL[:kept]
    assert ALL[count - 1].encode() not in out
    assert b"<h1>Headline</h1>" in out


def test_empty_paragraphs_do_not_count() -> None:
    article = "<p> </p><p></p>" + "<p>&nbsp;</p>".join(f"<p>{t}</p>" for t in ALL)
    out = gate(news(f"<article>{article}</article>"))
    assert [p for p in kept_paragraphs(out) if p.strip()] == TEASER


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


def test_cta_is_at_the_article_top_level_right_after_the_teaser() -> None:
    article = f"<article><h1>T</h1><div class='body'>{paras(ALL)}</div><div class='tags'>coast</div></article>"
    out = gate(news(article))
    soup = BeautifulSoup(out, "lxml")
    art = soup.select_one("[data-paywall-article]")
    children = [c for c in art.children if getattr(c, "name", None)]
    assert [c.name for c in children] == ["h1", "div", "div"]
    assert children[-1]["class"] == ["paywall-cta"]
    assert b"coast</div>" not in out
    assert out.decode().count(CTA_MARK) == 1


def test_page_around_the_article_is_left_as_it_was() -> None:
    markup = news(f"<article>{paras(ALL)}</article>")
    out = gate(markup)
    for chrome in CHROME:
        assert chrome.encode() in out
    before = BeautifulSoup(markup, "lxml")
    after = BeautifulSoup(out, "lxml")
    for selector in ("header", "aside.related", "section.newsletter", "footer"):
        assert str(before.select_one(selector)) == str(after.select_one(selector))


def test_head_html_is_appended_to_head_and_head_created_if_missing() -> None:
    tag = '<script defer src="/_paywall/protect.abc.js" data-mode="on"></script>'
    out = gate(news(f"<article>{paras(ALL)}</article>"), head_html=tag)
    assert (tag + "</head>").encode() in out
    out = gate(f"<article>{paras(ALL)}</article>", head_html=tag)
    assert tag.encode() in out
    assert b"<head>" in out


def test_cta_with_head_only_elements_is_kept_in_order() -> None:
    page = Page.parse(news(f"<article>{paras(ALL)}</article>").encode(), None)
    out = page.gate(teaser_paragraphs=3, cta_html=f"<style>.c{{color:red}}</style>{CTA}")
    assert b'<style>.c{color:red}</style><div class="paywall-cta">' in out


# --------------------------------------------------------------------------- inject_head


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html><head><title>t</title></head><body>x</body></html>", b"<title>t</title>[X]</head>"),
        (b"<HTML><HEAD></HEAD ><BODY>", b"<HEAD>[X]</HEAD >"),
        (b"<html><head><!-- </head> --><script>var s='</head>';</script></head>", b"</script>[X]</head>"),
        (b"<html><body class='a'><p>x</p></body>", b"<body class='a'>[X]<p>"),
        (b"<p>fragment</p>", b"[X]<p>fragment</p>"),
        (b"<html><bodyguard></bodyguard></html>", b"[X]<html>"),
        (b"<head><!-- unterminated", b"[X]<head>"),
    ],
)
def test_inject_head(body: bytes, expected: bytes) -> None:
    out = inject_head(body, "[X]")
    assert expected in out
    assert out.count(b"[X]") == 1


def test_inject_head_escapes_non_ascii_and_keeps_body_without_html() -> None:
    assert inject_head(b"<head></head>", "<meta content='é'>") == b"<head><meta content='&#233;'></head>"
    assert inject_head(b"<head></head>", "") == b"<head></head>"


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
    assert kept_paragraphs(out) == TEASER
    for chrome in CHROME:
        assert chrome.encode() in out


def test_continuation_stops_at_the_first_chrome() -> None:
    soup = BeautifulSoup(
        f"<body><main><article>{paras(TEASER)}</article><p>more</p><!-- c --><script>x()</script> text"
        "<h3>Related</h3><ul><li><a href='/a'>Other story</a></li></ul><p>after</p></main></body>",
        "lxml",
    )
    article = soup.article
    assert article is not None
    taken = continuation(article)
    assert [str(node) for node in taken] == ["<p>more</p>", " text"]
    for stop in ("<div>x</div>", "<aside>x</aside>", "<section>x</section>", "<nav>x</nav>", "<form>x</form>"):
        soup = BeautifulSoup(f"<body><article>{paras(TEASER)}</article>{stop}<p>later</p></body>", "lxml")
        assert soup.article is not None and continuation(soup.article) == []


def test_trailing_layout_whitespace_is_not_taken() -> None:
    soup = BeautifulSoup(f"<body><main><article>{paras(TEASER)}</article>\n</main>\n<footer>f</footer></body>", "lxml")
    assert soup.article is not None and continuation(soup.article) == []


def test_withheld_count_includes_the_continuation() -> None:
    markup = news(f"<article>{paras(TEASER)}</div>{paras(WITHHELD)}</article>")
    page = Page.parse(markup.encode(), None)
    page.gate(teaser_paragraphs=3, cta_html=CTA)
    assert page.report.withheld_words == len(leaks.words(" ".join(WITHHELD)))


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


def test_only_article_hidden_is_still_gated() -> None:
    out = gate(news(f'<div class="article-body" hidden>{paras(ALL)}</div>'))
    assert_no_leak(out)
