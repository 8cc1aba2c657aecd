"""The Lexbor-based engine (``paywall.engine``) on the shapes that misled the first engine."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from paywall import PaywallSettings
from paywall.engine import Page, code
from paywall.engine.outline import SHORT_TEXT, ascii_word_count

OG_ARTICLE = '<meta property="og:type" content="article">'
CTA = '<aside class="paywall-cta" data-paywall-cta><p>Need to access the insight?</p></aside>'
LEDE = "The harbour council met on Tuesday evening to weigh the dredging plan for the old quay."
SECOND = "Fishermen told the meeting that the channel had silted up faster than any survey predicted."
TAIL = [
    "Quartermaster Ibbotson produced ledgers showing tonnage falling every winter since the floodgates closed.",
    "Engineers from Vantrell Marine argued that a cheaper sluice would restore the scouring current within months.",
    "The council deferred its vote until the estuary trust publishes its sediment report next spring.",
]


def article(paragraphs: list[str], before: str = "", after: str = "", head: str = "") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head><title>Quay</title>{head}</head><body>"
        f"<header><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></header>"
        f"{before}<main><article><h1>Dredging the quay</h1>{body}</article></main>{after}"
        f"<footer><a href='/about'>About us</a></footer></body></html>"
    ).encode()


def gate(body: bytes, teaser: int = 2) -> str:
    page = Page.parse(body, None)
    assert page.has_article()
    return page.gate(teaser_paragraphs=teaser, cta_html=CTA).decode()


def assert_withheld(out: str) -> None:
    for sentence in TAIL:
        for word in ("Ibbotson", "Vantrell", "sediment report"):
            if word in sentence:
                assert word not in out, f"{word!r} reached a non-member"


def test_teaser_kept_and_tail_withheld() -> None:
    out = gate(article([LEDE, SECOND, *TAIL]))
    assert LEDE in out and SECOND in out
    assert out.count("data-paywall-cta") == 1
    assert_withheld(out)
    assert out.startswith("<!DOCTYPE html>")
    assert "/about" in out and "/news" in out


def test_json_ld_wrapped_in_cdata_with_code_around_it_is_swept_and_stays_valid() -> None:
    full = " ".join([LEDE, SECOND, *TAIL])
    data = json.dumps({"@type": "NewsArticle", "headline": "Dredging the quay", "articleBody": full})
    head = (
        f'<script type="application/ld+json">//<![CDATA[\n{data}\n//]]></script>'
        f"<script>if (w < 768) {{ var body = {json.dumps(full)}; }} var f = () => body;</script>"
    )
    out = gate(article([LEDE, SECOND, *TAIL], head=head))
    assert_withheld(out)
    tree = LexborHTMLParser(out)
    ld = tree.css_first('script[type="application/ld+json"]')
    assert ld is not None
    value = json.loads(ld.text())
    assert value["headline"] == "Dredging the quay"
    assert value["articleBody"].startswith(LEDE[:40])


def test_stray_end_tag_inside_the_story_does_not_free_the_rest() -> None:
    body = (
        f"<!DOCTYPE html><html><head><title>Quay</title>{OG_ARTICLE}</head><body><div class='story'>"
        f"<p>{LEDE}</p><p>{SECOND}</p></div></div><p>{TAIL[0]}</p><p>{TAIL[1]}</p>"
        f"<figure><img src='x.jpg'><figcaption>The quay at dawn</figcaption></figure><p>{TAIL[2]}</p>"
        "<footer><a href='/about'>About us</a></footer></body></html>"
    ).encode()
    out = gate(body)
    assert LEDE in out
    assert_withheld(out)


def test_paragraphs_split_by_double_breaks_count_as_paragraphs() -> None:
    text = "<br><br>".join([LEDE, SECOND, *TAIL])
    body = (
        f"<!DOCTYPE html><html><head><title>Q</title>{OG_ARTICLE}</head>"
        f"<body><div class='content'>{text}</div></body></html>"
    )
    out = gate(body.encode())
    assert LEDE in out
    assert_withheld(out)


def test_one_very_long_paragraph_is_cut_at_a_sentence() -> None:
    filler = " ".join(f"Sentence number {i} about the quay and its long history of trade." for i in range(40))
    text = " ".join([LEDE, SECOND, filler, *TAIL])
    out = gate(article([text]))
    assert LEDE in out
    assert_withheld(out)


def test_lists_and_tables_before_the_cut_are_counted() -> None:
    items = "".join(f"<li>{sentence}</li>" for sentence in [LEDE, SECOND, *TAIL])
    body = f"<!DOCTYPE html><html><head><title>Q</title></head><body><article><ul>{items}</ul></article></body></html>"
    page = Page.parse(body.encode(), None, selector="article")
    out = page.gate(teaser_paragraphs=2, cta_html=CTA).decode()
    assert LEDE in out and SECOND in out
    assert_withheld(out)


def test_listing_of_cards_is_not_an_article() -> None:
    cards = "".join(
        f"<article><h2><a href='/s{i}'>Story number {i} in the harbour series</a></h2>"
        f"<p>A short summary of story {i}, about the quay, the council and the dredging plan.</p></article>"
        for i in range(8)
    )
    body = f"<!DOCTYPE html><html><head><title>News</title></head><body><main>{cards}</main></body></html>"
    assert not Page.parse(body.encode(), None).has_article()


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=3 * SHORT_TEXT))
def test_the_outline_counts_the_words_of_ascii_as_split_does(text: str) -> None:
    """Short texts are split, long ones counted in C: either way the count is ``len(text.split())``."""
    assert ascii_word_count(text) == len(text.split())


def test_script_literals_are_read_as_code() -> None:
    body = 'if (a < b) { x = "one"; } /* two */ var r = /three/g; y = `four`;'
    assert [text for _, _, text in code.js_literals(body)] == ["one", " two ", "/three/g", "four"]


#: JSON values whose strings hold quotes, backslashes, escapes and markup, as an app's state does.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab "\\/<>:,{}[]\u00e9\u2028\n', max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet='k "\\:'), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300)
@given(JSON_VALUES, st.booleans(), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 20)), max_size=4))
def test_the_strings_of_json_are_the_literals_the_tokenizer_reads(
    value: object, indent: bool, spans: list[tuple[int, int]]
) -> None:
    """A script that is JSON has its strings found by a search for quotes: the same literals, in the same places."""
    body = json.dumps(value, indent=1 if indent else None, ensure_ascii=False)
    ranges = code._union([(start, start + size) for start, size in spans])
    assert list(code._json_literals(body, ranges)) == list(code._js_literals(body, ranges))
    assert list(code._json_literals(body, [])) == list(code._js_literals(body, []))


@settings(max_examples=300)
@given(JSON_VALUES)
def test_the_groups_of_json_are_counted_in_the_order_its_strings_are_rewritten(value: object) -> None:
    """A string emptied by its place among the values must be the one map_json visits at that place."""
    visited: list[str] = []
    code.map_json(value, lambda text: visited.append(text) or text)  # type: ignore[func-returns-value]
    values, groups = code.json_groups(value)
    assert values == visited
    for group in groups:
        assert len(group) > 1 and group == sorted(set(group))


def test_a_short_page_with_no_sign_of_being_an_article_is_not_gated() -> None:
    about = "".join(f"<p>{sentence}</p>" for sentence in [LEDE, SECOND, TAIL[0]])
    body = f"<!DOCTYPE html><html><head><title>About</title></head><body><main>{about}</main></body></html>"
    assert not Page.parse(body.encode(), None).has_article()
    marked = body.replace("<title>", OG_ARTICLE + "<title>")
    assert Page.parse(marked.encode(), None).has_article()


def test_selector_rules_by_path_and_detection_after_them() -> None:
    from paywall.settings import selector_rules

    rules = selector_rules(("/news/* article.story", ".content"))
    assert rules == [("/news/*", "article.story"), (None, ".content")]
    body = article([LEDE, SECOND, *TAIL]).replace(b"<main>", b"<main><div class='promo'><p>Short promo.</p></div>")
    page = Page.parse(body, None, selector=["div.missing", "article"])
    assert page.has_article() and page.report.how_found == "selector"
    page = Page.parse(body, None, selector=["div.missing"])
    assert page.has_article() and page.report.how_found == "scored"


def test_article_paths_fail_closed_where_no_article_is_found(
    make_settings: Callable[..., PaywallSettings], caplog: pytest.LogCaptureFixture
) -> None:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from paywall import PaywallMiddleware

    odd = "<!DOCTYPE html><html><head><title>Odd</title></head><body><p>Ibbotson ledger, in one line.</p></body></html>"

    async def page(request: object) -> HTMLResponse:
        return HTMLResponse(odd)

    site = Starlette(routes=[Route("/news/odd", page), Route("/about", page)])
    client = TestClient(PaywallMiddleware(site, settings=make_settings(article_paths=("/news/",))))
    with caplog.at_level(logging.DEBUG, logger="paywall"):
        news = client.get("/news/odd")
        about = client.get("/about")
    assert "Ibbotson" not in news.text and "Need to access the insight?" in news.text
    assert about.text == odd
    assert any("where articles live" in r.message and r.levelno == logging.WARNING for r in caplog.records)
    assert any("served whole" in r.message and r.levelno == logging.DEBUG for r in caplog.records)


def test_paywall_inspect_reports_the_article_teaser_copies_and_times(tmp_path: Path) -> None:
    import subprocess
    import sys

    full = " ".join([LEDE, SECOND, *TAIL])
    head = f'<meta name="description" content="{TAIL[0]}">'
    page = tmp_path / "story.html"
    page.write_bytes(article([LEDE, SECOND, *TAIL], head=head))
    out = tmp_path / "gated.html"
    done = subprocess.run(
        [sys.executable, "-m", "paywall.cli", "inspect", str(page), "--html", str(out), "--set", "teaser_paragraphs=2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = done.stdout
    assert "article: body > main" in report
    assert "The harbour council met" in report and "faster than any survey predicted." in report
    assert "withheld: 44 words" in report
    assert "  - <meta description>" in report
    assert "another parser (BeautifulSoup) reads and ours does not: none" in report
    assert all(stage in report for stage in ("decode", "parse", "detect", "cut", "sweep"))
    gated = out.read_text()
    assert "Ibbotson" not in gated and LEDE in gated and full not in gated
