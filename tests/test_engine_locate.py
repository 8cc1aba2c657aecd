"""Copies found in the serialised bytes and swept where they stand (``paywall.engine.locate``).

The sweep reads only the nodes whose serialisation holds a copy, and checks
its result with the same search over the new bytes instead of a second
parse. These tests hold it to three promises:

* a page whose code and markup merely use some of the article's rarer words
  is served as cut, untouched, without reading every node;
* a copy is removed from the place that holds it, and the places beside it
  stay byte for byte;
* no copy survives in any structure that a parser reads differently from
  how it was written (raw text, templates, foreign content, foster-parented
  table text, attributes holding markup...): the bytes are searched, so what
  any parser makes of them is covered. Where the bytes cannot be followed
  down the tree (template content), every place is read as before.
"""

from __future__ import annotations

import base64
import html
import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from paywall.engine import Page, decode, locate, scan, sweep
from paywall.engine.fingerprint import CLUSTER_MARKERS, Fingerprint
from paywall.errors import RewriteError
from tests.sources import on_sources
from tests.test_engine_sweep import CTA, MARKERS, TEASER, WITHHELD, assert_no_leak, paragraphs_html

ARTICLE = f"<article class='story'><h1>The lighthouse reopens</h1>{paragraphs_html(TEASER + WITHHELD)}</article>"


def document(article: str = ARTICLE, *, head: str = "", after: str = "") -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Coast Times</title>{head}</head>'
        f"<body><header><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></header>"
        f"<main>{article}</main>{after}<footer><p>Stay informed</p></footer></body></html>"
    )


def gate(markup: str) -> tuple[Page, bytes]:
    page = Page.parse(markup.encode(), None)
    assert page.has_article()
    return page, page.gate(teaser_paragraphs=3, cta_html=CTA)


# --------------------------------------------------------------------------- no copy, no sweep


def test_code_and_markup_using_rare_words_of_the_article_are_not_swept() -> None:
    # Every marker word of the withheld text stands in code and markup, several of them
    # close together, but never five words of the article in a row.
    css = "".join(f".{word}-panel{{margin:0}} .{word}-title{{color:red}}" for word in MARKERS)
    script = "var config = {" + ", ".join(f"{word}: {n}, {word}Mode: 'on'" for n, word in enumerate(MARKERS)) + "};"
    classes = " ".join(f"{word}-box" for word in MARKERS)
    head = f"<style>{css}</style><script>{script}</script>"
    after = f"<div class='{classes}' data-keys='{' '.join(MARKERS)}'><span>Related</span></div>"
    page, out = gate(document(head=head, after=after))
    assert_no_leak(out, markers=(), phrases=tuple(WITHHELD))
    for kept in (css, script, classes, " ".join(MARKERS)):
        assert kept.encode() in out
    report = page.report.swept
    assert report.total == 0
    assert not report.full_sweep


def test_a_copy_is_removed_where_it_stands_and_its_neighbours_stay_byte_for_byte() -> None:
    before = "".join(f"window.a{n} = function (x) {{ return x < {n} ? 'small {n}' : \"large\"; }};" for n in range(300))
    after = "".join(f"window.b{n} = ['item {n}', /re{n}/g, `tpl {n}`];" for n in range(300))
    script = f"{before}var story = {json.dumps(WITHHELD[1] + ' ' + WITHHELD[2])};{after}"
    widget = '<div class="weather"><p>Sunny spells along the coast, light winds.</p></div>'
    page, out = gate(document(head=f"<script id='app'>{script}</script>", after=widget))
    assert_no_leak(out)
    assert before.encode() in out and after.encode() in out
    assert widget.encode() in out
    report = page.report.swept
    assert report.scripts_rewritten == 1 and report.scripts_emptied == 0
    assert not report.full_sweep


def test_copies_in_every_kind_of_place_are_swept_without_reading_every_node() -> None:
    copy = WITHHELD[0]
    head = (
        f'<meta name="description" content="{html.escape(copy)}">'
        f'<script type="application/ld+json">{json.dumps({"@type": "NewsArticle", "articleBody": copy})}</script>'
        f"<noscript><p>{copy}</p></noscript>"
    )
    after = (
        f"<div hidden><p>{WITHHELD[1]}</p></div>"
        f"<div data-story='{html.escape(WITHHELD[2])}'>x</div>"
        f"<!-- {WITHHELD[3]} -->"
        f"<textarea>{html.escape(WITHHELD[0])}</textarea>"
        f"<a href='https://share.example/?text={quote(WITHHELD[1])}'>Share</a>"
    )
    page, out = gate(document(head=head, after=after))
    assert_no_leak(out, phrases=tuple(WITHHELD))
    report = page.report.swept
    assert not report.full_sweep
    assert report.meta_shortened == 1
    assert report.comments == 1
    assert report.scripts_rewritten == 1
    assert report.text_nodes >= 3
    assert report.attributes >= 2


# --------------------------------------------------------------------------- from bytes to nodes


def test_byte_ranges_are_followed_down_to_the_nodes_that_hold_them() -> None:
    markup = (
        "<!DOCTYPE html><html><head><script>var s = 'quill';</script></head><body><div id='a' title='tower gallery'>"
        "<p>first <b>bold</b> text</p><!-- note here --><ul><li>one</li><li>two words</li></ul></div></body></html>"
    )
    tree = LexborHTMLParser(markup, scripting=True)
    serialised = tree.html or ""
    data = serialised.encode()

    def at(needle: str) -> list[tuple[int, int]]:
        start = data.index(needle.encode())
        return [(start, start + len(needle))]

    def located(needle: str) -> locate.Places:
        found = locate.places(tree, serialised, data, at(needle))
        assert found is not None
        return found

    # The places reach 1 KB around a range: on this small page every node is a candidate,
    # so each kind is checked by what it holds.
    assert any(node.attributes.get("id") == "a" for node, _, _ in located("tower gallery").elements)
    assert any((node.comment_content or "").strip() == "note here" for node, _ in located("note here").comments)
    assert any(node.tag == "script" for node, _, _, _ in located("quill").code)
    texts = [node.text_content for run, _ in located("two words").texts for node, _ in run]
    assert "two words" in texts and "first " in texts
    for run, (start, end) in located("bold").texts:
        assert serialised[start:end].startswith(run[0][0].text_content or "")


def test_offsets_of_pages_that_are_not_ascii_follow_characters_not_bytes() -> None:
    markup = "<html><body><p>caf\u00e9 \u4e2d\u6587 \u00fcber</p><div title='zephyrquill'>x</div></body></html>"
    tree = LexborHTMLParser(markup, scripting=True)
    serialised = tree.html or ""
    data = serialised.encode()
    start = data.index(b"zephyrquill")
    found = locate.places(tree, serialised, data, [(start, start + 11)])
    assert found is not None
    for node, (first, last), _whole in found.elements:
        if node.tag == "div":
            assert "zephyrquill" in serialised[first:last]
            break
    else:
        pytest.fail("the div holding the attribute was not found")


_PIECES = [b"ab", b"abc", b"b", b"zz", b"\xc3\xa9", b" ", b"  ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c", b"\x00"]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), max_size=60).map(b"".join),
    st.sets(st.lists(st.sampled_from(_PIECES), max_size=3).map(b"".join), max_size=6),
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), max_size=3),
)
@example(b" ab" * 5000, {b"ab"}, [])  # more places than the first allocation holds
@example(b"abc\x0bab\x0c", {b"ab", b"", b"ab c"}, [])  # every whitespace ends a word; no word is empty or spaced
@example(b" abab ab", {b"ab"}, [(0.0, 0.5), (0.5, 1.0)])  # a range's edge ends a word
def test_the_compiled_word_scan_answers_as_its_definition(
    table: bytes, words: set[bytes], shares: list[tuple[float, float]]
) -> None:
    """Every place of every word asked for, in the order of the ranges, and the longest word read."""
    assert scan.COMPILED, "the C word scan was not built (pip builds it where a C compiler is)"
    size = len(table)
    ranges = [(int(min(a, b) * size), int(max(a, b) * size)) for a, b in shares] or [(0, size)]
    hits, longest = scan.word_hits(table, frozenset(words), ranges)
    assert (hits, longest) == scan.reference_word_hits(table, words, ranges)
    assert all(table[at : at + len(word)] == word for at, word in hits)
    if ranges == [(0, size)]:
        assert longest == max(map(len, table.split()), default=0)
        assert len(hits) == sum(table.split().count(word) for word in words)


@pytest.mark.parametrize("find", [scan.word_hits, scan.reference_word_hits])
def test_the_word_scan_refuses_what_is_not_bytes_or_stands_outside_the_table(find: object) -> None:
    assert callable(find)
    with pytest.raises(ValueError):
        find(b"text", frozenset(), [(2, 5)])
    with pytest.raises(ValueError):
        find(b"text", frozenset(), [(3, 2)])
    if find is scan.word_hits:
        for table, words, ranges in [("text", frozenset(), []), (b"text", frozenset({"x"}), []), (b"t", [b"t"], [])]:
            with pytest.raises(TypeError):
                find(table, words, ranges)
        with pytest.raises(TypeError):
            find(b"text", frozenset(), [(0,)])


CONTROLS = decode._CONTROL_BYTES
"""The control characters the decoder looks for (its own question to the search)."""


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=10_000), st.one_of(st.binary(max_size=40), st.just(CONTROLS)))
@example(b"a" * 5000 + b"\x7f", b"\x7f")  # found in a later block than the first
@example(b"", b"\x00")
@example(b"abc", b"")
@example(b"line\none\tand\r\x0c" * 9 + b"\x7f", CONTROLS)  # controls: eight bytes at a time, DEL last
@example(b"caf\xc3\xa9 \x80\xff" * 3 + b"\x1f", CONTROLS)  # bytes above 0x7f are not below 0x20
@example(b"line\none\t" * 20, CONTROLS)
def test_the_compiled_byte_search_answers_as_its_definition(data: bytes, wanted: bytes) -> None:
    assert scan.COMPILED, "the C scan was not built (pip builds it where a C compiler is)"
    assert scan.holds_any(data, wanted) is scan.reference_holds_any(data, wanted) is any(b in wanted for b in data)
    with pytest.raises(TypeError):
        scan.holds_any("text", b"t")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2_000))
@example(bytes(range(256)) * 2)  # every byte, in every place of a block of sixteen
@example(b"Zephyr_Quill 42 \xc3\xa9t\xc3\xa9 @[`{ \x7f\x80\xff" * 3)  # the edges of each range
@example(b"")
def test_the_compiled_word_table_answers_as_its_definition(data: bytes) -> None:
    """Byte for byte as ``bytes.translate`` with the table, whatever the length (blocks of sixteen and the rest)."""
    assert scan.COMPILED, "the C scan was not built (pip builds it where a C compiler is)"
    for size in {len(data), len(data) // 2, max(0, len(data) - 15)}:
        part = data[:size]
        assert scan.word_table(part) == scan.reference_word_table(part)
    # ASCII's word characters (re.ASCII's \w) lower-cased, its other bytes spaces; bytes above it kept.
    ascii_word = re.compile(r"\w", re.ASCII)
    expected = bytes(c if c >= 128 else ord(chr(c).lower()) if ascii_word.match(chr(c)) else 32 for c in range(256))
    assert expected == scan.WORD_TABLE
    with pytest.raises(TypeError):
        scan.word_table("text")  # type: ignore[arg-type]


def _accented_paragraph(seed: int) -> str:
    """Forty words of three syllables, each with a letter of Vietnamese (no marker of it is ASCII), and no
    word of it in another paragraph."""
    consonants, vowels = "bcdghklmnpqrstvx", "\u1ebf\u1ed9\u1eef\u1eb7\u1edd\u1edb\u1ef1\u1eb1\u1ea9\u1ed7"
    syllables = [c + v for c in consonants for v in vowels]
    size = len(syllables)
    numbers = range(seed * 40, seed * 40 + 40)
    return " ".join(syllables[n % size] + syllables[n // size] + syllables[(7 * n + 3) % size] for n in numbers) + "."


@pytest.mark.parametrize("holder", ["script", "json", "attribute"])
def test_a_copy_whose_markers_all_have_other_characters_than_ascii_is_found(holder: str) -> None:
    """Vietnamese, Czech, Polish: in a copy every rare word may carry a diacritic. Such a word of the page is
    read apart from the ASCII ones, and the markers it stands for count towards a cluster as ASCII markers do:
    a chunk holding three of them is searched, and the copy goes."""
    texts = [_accented_paragraph(seed) for seed in range(8)]
    copy = texts[6]
    holders = {
        "script": f"<script>var config = {{a: 1}}; window.story = '{copy}';</script>",
        "json": f"<script type='application/json'>{json.dumps({'body': copy}, ensure_ascii=False)}</script>",
        "attribute": f"<div data-story='{copy}'></div>",
    }
    article = f"<article class='story'><h1>Ng\u1ecdn h\u1ea3i \u0111\u0103ng</h1>{paragraphs_html(texts)}</article>"
    _, out = gate(document(article, after=holders[holder]))
    assert_no_leak(out, markers=tuple(copy.split()[:3]), phrases=(copy, texts[7]))


def _escaped(text: str, wide: str, latin: str | None = None) -> str:
    """``text`` with each character other than ASCII written as the escape ``wide`` spells its code point
    (``latin`` for those of Latin-1, where given)."""
    return "".join(c if ord(c) < 128 else (latin if latin and ord(c) < 256 else wide).format(ord(c)) for c in text)


_ESCAPED_HOLDERS = {
    # json.dumps and PHP's json_encode escape every character other than ASCII by default.
    "json": lambda copy: f"<script>window.__STATE__ = {json.dumps({'story': {'body': copy}})};</script>",
    "javascript": lambda copy: "<script>var story = '" + _escaped(copy, "\\u{0:04x}") + "';</script>",
    "javascript-braces": lambda copy: "<script>var story = `" + _escaped(copy, "\\u{{{0:x}}}") + "`;</script>",
    "latin-1": lambda copy: "<script>var story = '" + _escaped(copy, "\\u{0:04x}", "\\x{0:02x}") + "';</script>",
    "entities-in-script": lambda copy: "<script>el.innerHTML = '" + _escaped(copy, "&#{0};") + "';</script>",
    # JSON in a script's string, its escapes escaped again: Apollo's state, Next.js's streamed payload.
    "json-parse": lambda copy: f"<script>window.s = JSON.parse({json.dumps(json.dumps({'body': copy}))});</script>",
    "next-stream": lambda copy: (
        f"<script>self.__next_f.push([1, {json.dumps('0:' + json.dumps({'b': copy}))}])</script>"
    ),
}


@pytest.mark.parametrize("holder", sorted(_ESCAPED_HOLDERS))
def test_a_copy_whose_letters_with_diacritics_are_escaped_between_plain_ones_is_found(holder: str) -> None:
    """``n\\u1ebfb\\u1ed9n\\u1eb7``: in the bytes the words of such a copy are cut at every escape, and no
    six escapes stand in a row. A run of escapes of characters other than ASCII with a few plain characters
    between them is read decoded, as a run of escapes in a row is, and so is one escaped again (JSON in a
    string)."""
    texts = [_accented_paragraph(seed) for seed in range(8)]
    if holder == "latin-1":  # some of the letters of Latin-1, as in Czech or Hungarian
        texts = [text.replace("\u1ebf", "\u00e9").replace("\u1ed9", "\u00f4") for text in texts]
    copy = texts[6]
    article = f"<article class='story'><h1>Ng\u1ecdn h\u1ea3i \u0111\u0103ng</h1>{paragraphs_html(texts)}</article>"
    _, out = gate(document(article, after=_ESCAPED_HOLDERS[holder](copy)))
    assert_no_leak(out, markers=tuple(copy.split()[:3]), phrases=(copy, texts[7]))


def _hyphenated(text: str, joiner: str) -> str:
    """``text`` with ``joiner`` in the middle of every word of more than three letters (hyphenation)."""
    return " ".join(w[: len(w) // 2] + joiner + w[len(w) // 2 :] if len(w) > 3 else w for w in text.split())


_JOINED_HOLDERS = {
    "comment": lambda copy: f"<!-- {_hyphenated(copy, '&shy;')} -->",
    "noscript": lambda copy: f"<noscript><p>{_hyphenated(copy, '&shy;')}</p></noscript>",
    "html-in-json": lambda copy: f"<script>var post = {json.dumps({'content': _hyphenated(copy, '&shy;')})};</script>",
    "number-in-script": lambda copy: f"<script>el.innerHTML = '{_hyphenated(copy, '&#173;')}';</script>",
    "escape-in-json": lambda copy: f"<script>var post = {json.dumps({'body': _hyphenated(copy, chr(173))})};</script>",
    "zero-width-in-json": lambda copy: (
        f"<script>var post = {json.dumps({'body': _hyphenated(copy, chr(0x200B))})};</script>"
    ),
    "wbr-in-hidden-text": lambda copy: f"<div hidden>{_hyphenated(copy, '<wbr>')}</div>",
}


@pytest.mark.parametrize("holder", sorted(_JOINED_HOLDERS))
def test_a_copy_whose_words_are_split_by_soft_hyphens_as_markup_or_escapes_is_found(holder: str) -> None:
    """Hyphenation puts a soft hyphen in every long word (``Bundes&shy;regierung``). Where the page keeps it
    as it was written (a comment, a script, ``<noscript>``), or as an escape, or where ``<wbr>`` splits the
    words, the bytes show no word of the copy whole: the words a joiner splits are read joined."""
    copy = " ".join(WITHHELD)
    _, out = gate(document(after=_JOINED_HOLDERS[holder](copy)))
    assert_no_leak(out, phrases=tuple(WITHHELD))


def test_template_content_is_not_followed_and_every_place_is_read() -> None:
    page, out = gate(document(after=f"<template><section><p>{WITHHELD[2]}</p></section></template>"))
    assert_no_leak(out)
    assert page.report.swept.full_sweep


# --------------------------------------------------------------------------- the check on bytes

# Structures a parser reads otherwise than they were written: raw text, templates, foreign
# content, foster-parented table text, markup inside attributes, unclosed elements at the end.
WRAPPERS = [
    "<noscript>{}</noscript>",
    "<noscript><p>{}</p></noscript>",
    "<template>{}</template>",
    "<svg><style>{}</style></svg>",
    "<svg><title>{}</title><desc>{}</desc></svg>",
    "<math><mtext>{}</mtext><annotation-xml encoding='text/html'><p>{}</p></annotation-xml></math>",
    "<svg><![CDATA[{}]]></svg>",
    "<table><tr><td>cell</td></tr>{}</table>",
    "<select><option>{}</option></select>",
    "<textarea>{}</textarea>",
    "<xmp>{}</xmp>",
    "<iframe>{}</iframe>",
    "<noembed>{}</noembed>",
    "<div title='{}'>x</div>",
    "<iframe srcdoc='<p>{}</p>'></iframe>",
    "<p>{}",
    "<object><param name='x' value='{}'></object>",
    "<button formaction='/s?q={}'>go</button>",
    "<div hidden><div><div><span>{}</span></div></div></div>",
    "<div style='display:none'>{}<!-- -->{}</div>",
]


def encodings(text: str) -> list[str]:
    return [
        text,
        html.escape(text),
        "".join(f"&#{ord(c)};" for c in text),
        text.replace(" ", "&nbsp;"),
        quote(text),
        base64.b64encode(text.encode()).decode(),
    ]


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_copies_in_structures_that_parse_otherwise_never_reach_a_reader(wrapper: str) -> None:
    for copy in encodings(WITHHELD[1]):
        after = wrapper.replace("{}", copy)
        try:
            _, out = gate(document(after=after))
        except RewriteError:
            continue  # refused: fails closed
        assert_no_leak(out, phrases=(WITHHELD[1],))


def test_text_joined_by_removing_what_stood_between_is_checked_again() -> None:
    # Removing the hidden copy between two halves of a run of visible words must not leave a
    # run that only appears once the copy is gone.
    first, second = WITHHELD[3].split(" and ", 1)
    after = f"<p class='x'>{first}<span hidden>{WITHHELD[0]}</span> and {second}</p>"
    _, out = gate(document(after=after))
    assert_no_leak(out, phrases=(WITHHELD[0], WITHHELD[3]))


PLACES = st.sampled_from(WRAPPERS)
COPIES = st.sampled_from(WITHHELD)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.tuples(PLACES, COPIES, st.integers(0, 5)), min_size=1, max_size=4))
def test_any_mix_of_copies_and_structures_is_swept_or_refused(mix: list[tuple[str, str, int]]) -> None:
    after = "".join(wrapper.replace("{}", encodings(copy)[form]) for wrapper, copy, form in mix)
    try:
        _, out = gate(document(after=after))
    except RewriteError:
        return
    assert_no_leak(out, phrases=tuple(WITHHELD))


def test_the_check_on_bytes_agrees_with_a_check_on_a_second_parse() -> None:
    after = "".join(wrapper.replace("{}", WITHHELD[n % 4]) for n, wrapper in enumerate(WRAPPERS))
    page, out = gate(document(after=after))
    fingerprint = Fingerprint.build(page.report.withheld, [page.report.teaser_text])
    again = LexborHTMLParser(out.decode(), scripting=True)
    assert sweep.find_leaks(again, fingerprint) == []
    assert locate.copies(out, fingerprint, sweep.CLUSTER_BYTES, CLUSTER_MARKERS, {}) == []


@on_sources
def test_a_copy_the_targeted_sweep_leaves_is_caught_by_the_check_and_every_place_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Fault injection: a targeted sweep that removes nothing. The search over the new bytes
    # still finds the copies, and the page is swept whole and checked on a second parse.
    monkeypatch.setattr(sweep, "sweep_places", lambda places, fingerprint, report, thorough: locate.Changed())
    head = f'<meta name="description" content="{html.escape(WITHHELD[0])}">'
    page, out = gate(document(head=head, after=f"<div hidden>{WITHHELD[2]}</div>"))
    assert_no_leak(out, phrases=tuple(WITHHELD))
    assert page.report.swept.full_sweep
    assert page.report.swept.meta_shortened == 1


@on_sources
def test_the_check_reads_where_the_page_changed_and_where_the_copies_stood(monkeypatch: pytest.MonkeyPatch) -> None:
    old = "aaaa<meta content='copy'>bbbbbbbbbb<!-- copy -->cccccccccc<p>tail</p>"
    new = "aaaa<meta content='co…'>bbbbbbbbbbcccccccccc<p>tail</p>"
    meta = (old.index("<meta"), old.index("bbbb"))
    comment = (old.index("<!--"), old.index("cccc"))
    edits = [(meta, "<meta content='co…'>"), (comment, "")]
    window = (old.index("<p>"), len(old))
    assert locate.recheck(old, new, edits, [window]) == [(0, len(new))]  # the widened edits cover it all
    monkeypatch.setattr(locate, "RECHECK_CHARACTERS", 2)
    ranges = locate.recheck(old, new, edits, [window])
    assert ranges is not None
    covered = "".join(new[start:end] for start, end in ranges)
    assert "<meta content='co…'>" in covered and "<p>tail</p>" in covered
    assert "bbbbbbbbbbcccccccccc" not in covered
    # Edits that do not make the new page out of the old one: the whole page is read again.
    assert locate.recheck(old, new + "x", edits, [window]) is None
    assert locate.recheck(old, new, edits[:1], [window]) is None


def test_byte_ranges_widen_to_whole_runs_and_follow_utf8() -> None:
    text = "caf\u00e9 \u00fcber data:AAAAQUJDREVGR0g=, \\54 \\68 \\65 (end)"
    data = text.encode()
    start = text.index("QUJD")
    ((first, last),) = locate.byte_ranges(text, data, [(start, start + 2)])
    assert data[first:last] == b"AAAAQUJDREVGR0g="
    start = text.index("68")
    ((first, last),) = locate.byte_ranges(text, data, [(start, start + 1)])
    assert data[first:last] == b" \\54 \\68 \\65 "


def test_a_copy_in_the_attributes_of_markup_held_as_text_is_found() -> None:
    # A share widget's HTML in a script string and in an attribute: the description of each
    # share link quotes the story. Reading the markup as a browser renders it drops the
    # attributes; the copy is in them.
    link = f'<a href="https://share.example/?d={quote(WITHHELD[1])}" role="link">Share</a>'
    script = f"<script>window.shareHtml = {json.dumps(link)};</script>"
    attribute = f"<div data-widget='{html.escape(link)}'>x</div>"
    noscript = f"<noscript>{link}</noscript>"
    for after in (script, attribute, noscript):
        page, out = gate(document(after=after))
        assert_no_leak(out, phrases=(WITHHELD[1],))
        assert not page.report.swept.full_sweep


def test_a_long_json_string_reads_the_same_whether_escapes_are_many_or_few() -> None:
    from paywall.engine.text import MANY_ESCAPES, decode_layers, words

    sentence = WITHHELD[1].replace(" ", "\\u0020", 3).replace("a", "\\u0061")
    escaped = json.dumps(WITHHELD[1])[1:-1].replace("e", "\\u0065") + ' \\"quoted\\" \\\\ back\\/slash \\n'
    few = escaped
    many = " ".join([escaped] * (MANY_ESCAPES // max(1, escaped.count("\\")) + 2))
    assert escaped.count("\\") <= MANY_ESCAPES < many.count("\\")
    assert words(decode_layers(many)) == words(decode_layers(few)) * (
        len(words(decode_layers(many))) // len(words(decode_layers(few)))
    )
    assert words(decode_layers(sentence * 40)) == words(WITHHELD[1]) * 40


def text_of(pieces: list[str]) -> st.SearchStrategy[str]:
    """Text made of up to forty of ``pieces`` in any order."""
    return st.lists(st.sampled_from(pieces), max_size=40).map("".join)


#: Text of JavaScript, JSON and CSS escapes, well-formed or not, and what stands around them.
ESCAPE_TEXT = text_of(
    ["\\u0041", "\\u00e9", "\\u{1F600}", "\\u{110000}", "\\x41", "\\x3c", "\\n", "\\t", '\\"', "\\'",
     "\\/", "\\\\", "\\", "\\u00", "\\x4", "\\u{}", "\\41 ", "\\e9\r\n", "\\0", "\\D800", "\\zz", "u0041",
     "x41", "caf", "é", " ", "b", "f"]
)  # fmt: skip


@settings(max_examples=400)
@given(ESCAPE_TEXT)
@example("\\\\u0041 \\\\\\u0041 \\\\\\\\x41")
@example("\\41\\41 \\\\41 \\u0041")
def test_many_escapes_read_as_one_substitution_reads_them(text: str) -> None:
    """Text with many escapes has each kind read once; it must read as a substitution of every match reads it."""
    from paywall.engine import text as module

    assert module.json_unescaped(text, many=-1) == module._JSON_ESCAPE.sub(module._json_escape_value, text)
    assert module.css_unescaped(text, many=-1) == module._CSS_ESCAPE.sub(module._css_escape_value, text)


#: Text of character references, well-formed or not, and what stands around them.
REFERENCE_TEXT = text_of(
    ["&amp;", "&lt;", "&gt;", "&quot;", "&#38;", "&#x26;", "&#39;", "&#8217;", "&eacute;", "&nbsp;", "&notit;",
     "&amp", "&lt", "&#38", "&", "amp;", "lt;", "#38;", "quot;", ";", "<b>", "caf", "é", " ", "x", "&zz;",
     "&" + "a" * 40 + ";", "&#x110000;", "&#0;"]
)  # fmt: skip


@settings(max_examples=400)
@given(REFERENCE_TEXT)
@example("&amp;#38; &#38;amp; &#x26;lt; &amp;amp;")
@example("&#38;#38; &amp;")
def test_many_character_references_read_as_html_reads_them(text: str) -> None:
    """Text with many references has each kind replaced at once; it must read as ``html.unescape`` reads it."""
    from paywall.engine.text import html_unescaped

    assert html_unescaped(text, many=0) == html.unescape(text)
    assert html_unescaped(text) == html.unescape(text)


def test_the_byte_tests_of_words_see_the_characters_the_text_tests_see() -> None:
    from paywall.engine import text

    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        character = chr(code)
        data = character.encode()
        assert bool(text.IGNORABLE.fullmatch(character)) == bool(text._IGNORABLE_UTF8.fullmatch(data)), hex(code)
        if text._UNSPACED.fullmatch(character):
            assert text._UNSPACED_UTF8.search(data), hex(code)


MIXED_TEXT = st.text(
    alphabet=st.sampled_from(
        "aZ9_ \u00ad\u00e9\u00df\u0130\u2019\u2018\u201c\u201d\u2013\u2014\u2026\u00a0\u00ab\u00bb"
        "\x0b\x1c\u200b\u2060\ufeff\u3000\u4e2d\u6587\u30a2\uff71\uf900\ufb01\uff21\u2044\u0345\u2126\u0308"
        "\u3200\U0001f200\u0e01\u0e31\u0e40\u1000\u103a\u1100\uac00\u0301\u00bd\u2160\U000e0041,.;"
    ),
    max_size=40,
)
"""Text of many scripts, with invisible characters, combining marks and compatibility forms among it."""


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(MIXED_TEXT)
def test_words_read_text_as_the_plain_definition_does(sample: str) -> None:
    import unicodedata

    from paywall.engine import text

    expected = text.WORD.findall(unicodedata.normalize("NFKC", text.IGNORABLE.sub("", sample)).casefold())
    assert text.words(sample) == expected


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(MIXED_TEXT, st.integers(min_value=0, max_value=12))
def test_a_word_s_offset_is_where_that_word_starts(sample: str, index: int) -> None:
    """Where :func:`word_offset` tells a word starts, the text read from there starts with that word."""
    from paywall.engine import text

    at = text.word_offset(sample, index)
    tokens = text.words(sample)
    if at is None:
        assert index >= len(tokens) or not text.read_as_bytes(sample)
        return
    assert text.words(sample[at:])[:1] == tokens[index : index + 1]
    assert text.words(sample[:at]) == tokens[:index]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    st.text(
        alphabet=st.sampled_from("aZ9_ -'\t\n\u2019\u2018\u201c\u201d\u2013\u2014\u2026\u00a0\u00ab\u00bb,.;<&"),
        max_size=60,
    )
)
def test_text_read_as_bytes_has_the_words_word_spans_reads(sample: str) -> None:
    """ASCII but for prose punctuation: :func:`word_spans` reads the words :func:`words` reads (so where
    :func:`words` finds no withheld run, none is looked for word by word)."""
    from paywall.engine import text

    assert text.read_as_bytes(sample)
    assert [token for token, _ in text.word_spans(sample)] == text.words(sample)


@on_sources
def test_the_call_to_action_s_words_mark_no_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Withheld text that uses the call to action's words: on the page the call to action is no
    # cluster of markers to read (it is on screen, as the chrome is).
    cta = '<div class="paywall-cta"><p>Quistovar moonbrackle trindlewhap: subscribe to read on</p></div>'
    read: list[str] = []
    suspects = locate.suspects

    def watched(data: bytes, *args: object) -> list[tuple[int, int]]:
        found = suspects(data, *args)  # type: ignore[arg-type]
        read.extend(data[start:end].decode("utf-8", "replace") for start, end in found)
        return found

    monkeypatch.setattr(locate, "suspects", watched)
    page = Page.parse(document().encode(), None)
    out = page.gate(teaser_paragraphs=3, cta_html=cta)
    assert b"Quistovar moonbrackle trindlewhap" in out
    assert not any("Quistovar" in window for window in read)
    assert page.report.swept.total == 0 and not page.report.swept.full_sweep


# --------------------------------------------------------------------------- a site's stylesheets and scripts


def _big_style(extra: str = "") -> str:
    rules = "".join(f".card-{n}{{margin:{n % 7}px;padding:{n % 5}px}}" for n in range(300))
    return f"<style>{rules}{extra}</style>"


def _big_script(extra: str = "") -> str:
    calls = "".join(f"window.slot{n}=function(a,b){{return a<b?a:{n};}};" for n in range(200))
    return f"<script>{calls}{extra}</script>"


def test_a_large_stylesheet_or_script_without_markers_is_passed_over_and_remembered_by_its_words() -> None:
    head = _big_style() + _big_script()
    markup = document(head=head)
    page, out = gate(markup)
    assert_no_leak(out)
    table = b" " + locate._word_bytes(out) + b" "
    fingerprint = page.report.fingerprint
    assert fingerprint is not None
    passed = locate._passed_blocks(out, table, fingerprint.ascii_markers, ())
    style_body = out[out.index(b"<style>") + 7 : out.index(b"</style>")]
    assert len(passed) == 2 and table[passed[0][0] : passed[0][1]] == locate._word_bytes(style_body)
    assert out[passed[0][0] - 1 : passed[0][1] - 1] == style_body
    # What is remembered is the words, not an answer: the same stylesheet is read again for another article.
    assert passed[0][2] is locate.BLOCK_WORDS.read(style_body, 0, len(style_body), table[passed[0][0] : passed[0][1]])
    assert locate.BLOCK_WORDS.words(style_body, b"") == frozenset(locate._word_bytes(style_body).split())


@pytest.mark.parametrize("encoding", ["escapes", "base64"])
def test_a_packed_script_remembered_from_another_article_is_read_for_this_one(encoding: str) -> None:
    """A site's packed script spells its text in escapes or base64; one page withholds what it spells, another not.

    The words such a script decodes to are remembered with its bytes: a page
    that withholds none of them keeps it as it is, and a page that withholds
    them finds the copy in it, whichever of the two comes first.
    """
    text = " ".join(WITHHELD[1:3]).encode()
    if encoding == "escapes":
        spelt = "".join(f"\\x{byte:02x}" for byte in text)
        head = _big_script(f'var _p="{spelt}";eval(_p);')
    else:
        spelt = base64.b64encode(text).decode()
        head = _big_script(f'var _p=atob("{spelt}");')
    board = (f"The harbour board met for the {n}th time to weigh the cost of the new breakwater." for n in range(6))
    other = paragraphs_html([*TEASER, *board])
    _, kept = gate(document(f"<article class='story'><h1>The board meets</h1>{other}</article>", head=head))
    assert spelt.encode() in kept  # nothing of this page's article is in it: left as the site made it
    _, out = gate(document(head=head))
    assert spelt.encode() not in out
    assert_no_leak(out, phrases=tuple(WITHHELD[1:3]))


@pytest.mark.parametrize("where", ["style", "script"])
def test_a_copy_in_a_stylesheet_or_script_seen_before_without_it_is_still_found(where: str) -> None:
    """The same large block comes with every page; one day it carries the article: its words are new bytes."""
    copy = " ".join(WITHHELD)
    clean = _big_style() + _big_script()
    gate(document(head=clean))  # the clean blocks are remembered
    if where == "style":
        head = _big_style(f'.x::after{{content:"{copy}"}}') + _big_script()
    else:
        head = _big_style() + _big_script(f"window.story={json.dumps(copy)};")
    _, out = gate(document(head=head))
    assert_no_leak(out, phrases=tuple(WITHHELD))


def test_a_copy_right_after_a_passed_block_is_found() -> None:
    """The search passes over a clean block and resumes at its end: a copy just after it is read."""
    copy = " ".join(WITHHELD)
    head = _big_style() + f"<script type='application/json'>{json.dumps({'text': copy})}</script>"
    _, out = gate(document(head=head))
    assert_no_leak(out, phrases=tuple(WITHHELD))


def test_the_words_of_blocks_are_bounded() -> None:
    words = locate.BlockWords(max_words=200, max_entries=3)
    for n in range(10):
        body = " ".join(f"w{n}x{i}" for i in range(8)).encode() * 10
        words.words(body, body)
    assert len(words._entries) <= 3 and words._size <= 200
    block = (" ".join(f"w{i}" for i in range(5000)) + " ").encode()
    assert words.words(block, block) == frozenset(block.split())  # split a chunk at a time, the same words
    # The bytes are the key: the same bytes are one entry, other bytes with the same words another, even
    # with the same length, start and end (which find the entry: its bytes must be the page's).
    remembered = locate.BlockWords()
    size = len(block)
    assert remembered.read(block, 0, size, block) is remembered.read(b"<" + block, 1, size + 1, block)
    assert remembered.read(block + b" ", 0, size + 1, block) is not remembered.read(block, 0, size, block)
    other = block[:2000] + block[2000:3000].replace(b"w", b"v") + block[3000:]
    assert len(other) == size and other[:64] == block[:64] and other[-64:] == block[-64:]
    first = remembered.read(block, 0, size, block)
    assert remembered.read(other, 0, size, other) is not first
    assert remembered.read(other, 0, size, other).words == frozenset(other.split())
    assert remembered.read(block, 0, size, block).words == frozenset(block.split())


def test_the_search_for_bodies_goes_on_after_a_passed_one_as_a_search_of_every_start_tag_would() -> None:
    """A passed body is not searched for start tags, except after its last ">": a tag begun there ends
    past the body, and the body it opens is judged on its own."""
    rules = "".join(f".card-{n}{{margin:{n % 7}px}}" for n in range(400))
    inner = "".join(f"window.slot{n}=function(a,b){{return a<b?a:{n};}};" for n in range(200))
    data = (
        f"<style>{rules} a>b{{}} <script type='x'</style><p>{inner}</p></script>"
        f"<style>{rules}</style><script>{inner}</script>"
    ).encode()
    table = b" " + locate._word_bytes(data) + b" "
    passed = [(low - 1, high - 1) for low, high, _block in locate._passed_blocks(data, table, frozenset(), ())]
    first = data.index(b"</style>")
    second = data.index(b"<p>")  # the body of the start tag begun inside the first style
    third = data.index(b"<style>", first) + len(b"<style>")
    fourth = data.rindex(b"<script>") + len(b"<script>")
    assert passed == [
        (len(b"<style>"), first),
        (second, data.index(b"</script>")),
        (third, data.index(b"</style>", third)),
        (fourth, data.rindex(b"</script>")),
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"<", b"</", b"</s", b"</style", b"</script", b"a", b"<b>", b" "]), max_size=40))
@example([b"<"] * 20 + [b"</style"])  # more "<" than are looked at one by one
def test_the_end_of_a_style_or_script_body_is_the_first_end_tag_after_it(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    for name in (b"style", b"script"):
        for start in range(len(data) + 1):
            assert locate._body_end(data, start, name) == data.find(b"</" + name, start)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"<", b"<s", b"<st", b"s", b"a", b"<b>", b" "]), max_size=30))
@example([b"<"] * 20 + [b"<s"])  # more "<" than are looked at one by one
def test_a_tag_is_found_in_a_range_as_a_search_of_the_range_finds_it(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    for tag in (b"<s", b"<st"):
        for start in range(len(data) + 1):
            for end in range(start, len(data) + 1):
                assert locate._find_tag(data, tag, start, end) == data.find(tag, start, end)
