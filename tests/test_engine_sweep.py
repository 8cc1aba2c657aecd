"""The engine's sweep: nothing beyond the teaser may remain anywhere in a gated document.

The pages here carry distinctive marker words in the withheld paragraphs and
copy them into every place publishers are known to copy article text to:
metadata, JSON-LD, application state, noscript, templates, comments, hidden
elements, attributes, plain, HTML-escaped and JSON-escaped.
"""

from __future__ import annotations

import base64
import html
import json
import re
from urllib.parse import quote, unquote_plus

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode

from paywall.engine import Page, code, sweep
from paywall.engine.fingerprint import Fingerprint
from paywall.engine.text import base64_payloads, decode_layers, readings, streams, words

CTA_MARK = "Need to access the insight? Start your 7-day free trial now"
CTA = f'<div class="paywall-cta"><p>{CTA_MARK}</p><a href="/_paywall/trial?next=/story">Start</a></div>'

TEASER = [
    "Harbour officials confirmed on Monday that the old lighthouse would reopen to visitors this spring.",
    "The restoration took four years and cost considerably more than the council first planned.",
    "Local historians say the tower is among the oldest working lights on this stretch of coast.",
]
WITHHELD = [
    "Engineers found that zephyrquill mortar had crumbled behind the granite facing of the upper gallery.",
    "The glazier Marta Quistovar rebuilt the lantern room using moonbrackle glass salvaged from a wreck.",
    "Visitors will climb one hundred and twelve steps to reach the trindlewhap balcony at the top.",
    "Tickets go on sale next week, and the council expects the florvexian season to sell out quickly.",
]
MARKERS = ("zephyrquill", "quistovar", "moonbrackle", "trindlewhap", "florvexian")


def _unescape_all(text: str) -> str:
    """Every reading of the output a scraper could make: raw, HTML-, JSON-, URL-unescaped."""
    for _ in range(4):
        before = text
        text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
        text = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)
        text = text.replace("\\/", "/").replace('\\"', '"').replace("\\n", " ")
        text = html.unescape(text)
        text = unquote_plus(text) if "%" in text else text
        if text == before:
            break
    return text


def assert_no_leak(output: bytes, markers: tuple[str, ...] = MARKERS, phrases: tuple[str, ...] = ()) -> None:
    """Fail if any marker word or withheld phrase appears anywhere in the output.

    The output is read raw, HTML-unescaped, JSON-unescaped and with markup
    stripped (so a copy split over inline tags is found too).
    """
    raw = output.decode("utf-8")
    readings = [raw, _unescape_all(raw)]
    readings.append(re.sub(r"<[^>]*>", "", readings[-1]))
    for reading in readings:
        folded = reading.casefold()
        squeezed = re.sub(r"\W+", "", folded)
        for marker in markers:
            assert marker.casefold() not in folded, f"withheld word {marker!r} leaked"
            assert marker.casefold() not in squeezed, f"withheld word {marker!r} leaked (split)"
        spaced = " ".join(re.findall(r"\w+", folded))
        for phrase in phrases:
            assert " ".join(re.findall(r"\w+", phrase.casefold())) not in spaced, f"{phrase!r} leaked"


def assert_cta_once(output: bytes) -> None:
    assert output.decode("utf-8").count(CTA_MARK) == 1


def paragraphs_html(texts: list[str]) -> str:
    return "".join(f"<p>{t}</p>" for t in texts)


def full_text() -> str:
    return " ".join(TEASER + WITHHELD)


def leaky_page() -> str:
    """A news page that copies its article everywhere a publisher might."""
    body = full_text()
    body_html = paragraphs_html(TEASER + WITHHELD)
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "The lighthouse reopens",
        "description": body[:400],
        "articleBody": body,
        "hasPart": {"@type": "WebPageElement", "isAccessibleForFree": False, "text": WITHHELD[1]},
        "author": {"@type": "Person", "name": "Ada Reporter"},
    }
    ld_text = json.dumps(ld).replace("/", "\\/")
    next_data = json.dumps({"props": {"pageProps": {"story": {"html": body_html, "wordCount": 120}}}})
    state = json.dumps({"article": {"body": body_html, "id": 7}}, ensure_ascii=True).replace("<", "\\u003c")
    state = state.replace("\u2019", "\\u2019")
    escaped_attr = html.escape(body_html)
    nuxt_args = ", ".join(json.dumps(w) for w in WITHHELD)
    apollo = json.dumps({"Article:7": {"content": WITHHELD[2] + " " + WITHHELD[3]}})
    split_hidden = (
        "Engineers found that zephyr<em>quill</em> mortar had <b>crumbled</b> behind the granite "
        "facing of the upper gallery."
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>The lighthouse reopens | Coast Times</title>
<meta name="description" content="{html.escape(body)}">
<meta property="og:description" content="{html.escape(body)}">
<meta name="twitter:description" content="{html.escape(WITHHELD[0])}">
<meta name="keywords" content="lighthouse, coast, restoration">
<script type="application/ld+json">{ld_text}</script>
<script id="__NEXT_DATA__" type="application/json">{next_data}</script>
<script>window.__INITIAL_STATE__ = {state};
window.__NUXT__=(function(a,b,c,d){{return {{data:[a,b,c,d]}}}}({nuxt_args}));
window.__APOLLO_STATE__ = {apollo};
var greeting = 'don\\'t panic'; // it's fine
</script>
<noscript><p>{WITHHELD[3]}</p></noscript>
<style>.x::after {{ content: "{WITHHELD[0]}"; }}</style>
</head>
<body>
<header><a href="/">Coast Times</a><nav><a href="/news">News</a> <a href="/sport">Sport</a></nav></header>
<main>
<article class="story" data-summary="{html.escape(WITHHELD[2])}">
<h1>The lighthouse reopens</h1>
<div class="byline">By Ada Reporter</div>
<div class="story-body">{body_html}</div>
<footer class="tags"><a href="/tag/coast">coast</a></footer>
</article>
<div hidden>{WITHHELD[0]}</div>
<div style="display: none">{split_hidden}</div>
<div aria-hidden="true">{WITHHELD[1]}</div>
<template><section>{body_html}</section></template>
<div data-story-html="{escaped_attr}" data-plain="{html.escape(WITHHELD[3])}" title="{html.escape(WITHHELD[2])}">x</div>
<iframe srcdoc="{html.escape(body_html)}"></iframe>
<a class="share" href="https://twitter.com/intent/tweet?text={quote(WITHHELD[1])}">Share</a>
<textarea class="copy">{html.escape(WITHHELD[0])}</textarea>
<!-- cached body: {WITHHELD[3]} -->
</main>
<aside class="related"><h2>Read more insights</h2>
<article><h3><a href="/a">Harbour fees rise</a></h3>
<p>The port authority raised berthing fees again this year.</p></article>
<article><h3><a href="/b">Ferry timetable changes</a></h3>
<p>Summer sailings start earlier than usual this season.</p></article>
</aside>
<section class="newsletter"><h2>Subscribe to Top Insights Today</h2>
<p>By clicking subscribe you agree to our privacy and cookie policy.</p></section>
<footer><p>Stay informed</p><p>Copyright Coast Times</p></footer>
</body></html>"""


def parse(out: bytes) -> LexborHTMLParser:
    """The gated page as a browser reads it."""
    return LexborHTMLParser(out.decode("utf-8"))


def one(tree: LexborHTMLParser, selector: str) -> LexborNode:
    node = tree.css_first(selector)
    assert node is not None, f"no {selector} in the output"
    return node


def script_json(tree: LexborHTMLParser, selector: str) -> object:
    return json.loads(one(tree, selector).text())


def gate(markup: str | bytes, teaser: int = 3, **kwargs: object) -> tuple[Page, bytes]:
    data = markup.encode("utf-8") if isinstance(markup, str) else markup
    page = Page.parse(data, None, **kwargs)  # type: ignore[arg-type]
    assert page.has_article()
    return page, page.gate(teaser_paragraphs=teaser, cta_html=CTA)


# --------------------------------------------------------------------------- the leak checker itself


def test_leak_checker_finds_every_escaping() -> None:
    for form in (
        "zephyrquill",
        "ZEPHYRQUILL",
        "zephyr<b>quill</b>",
        "\\u007aephyrquill",
        "&#122;ephyrquill",
        "&amp;#122;ephyrquill",
        "%7Aephyrquill",
    ):
        with pytest.raises(AssertionError):
            assert_no_leak(f"<p>{form}</p>".encode())
    assert_no_leak(b"<p>nothing here</p>")


# --------------------------------------------------------------------------- whole pages


def test_leaky_page_has_no_copy_left_anywhere() -> None:
    page, out = gate(leaky_page())
    assert_no_leak(out, phrases=tuple(WITHHELD))
    assert_cta_once(out)
    text = out.decode()
    for kept in TEASER:
        assert kept in text
    for chrome in (
        "Coast Times",
        "Read more insights",
        "Harbour fees rise",
        "Subscribe to Top Insights Today",
        "By clicking subscribe you agree",
        "Stay informed",
        "Copyright Coast Times",
    ):
        assert chrome in text, chrome
    # Copies in the head and on the kept elements are swept; those after the teaser go with the cut.
    swept = page.report.swept
    assert swept.meta_shortened == 3
    assert swept.scripts_rewritten >= 3
    assert "attribute data-summary of <article.story>" in swept.places


def test_structured_data_stays_valid_and_keeps_the_teaser() -> None:
    _, out = gate(leaky_page())
    tree = parse(out)
    ld = script_json(tree, 'script[type="application/ld+json"]')
    assert isinstance(ld, dict)
    assert ld["headline"] == "The lighthouse reopens"
    assert ld["author"]["name"] == "Ada Reporter"
    assert ld["articleBody"].startswith(TEASER[0])
    assert "zephyrquill" not in ld["articleBody"]
    next_data = script_json(tree, "script#__NEXT_DATA__")
    assert isinstance(next_data, dict)
    assert next_data["props"]["pageProps"]["story"]["wordCount"] == 120
    state_script = next(s.text() for s in tree.css("script") if "__INITIAL_STATE__" in s.text())
    match = re.search(r"window.__INITIAL_STATE__ = (\{.*?\});\n", state_script)
    assert match is not None
    state = json.loads(match.group(1))
    assert state["article"]["id"] == 7
    assert "var greeting = 'don\\'t panic'" in state_script


def test_a_large_state_keeps_its_own_bytes_around_the_shortened_copy() -> None:
    """An app's state of thousands of strings, one of them the story: only that string changes.

    Its escapes (``\\u002F``), spacing and key order are the site's; a
    hydration that compares the state with what the server rendered sees the
    same bytes everywhere but in the story's string, which is the JSON string
    of its teaser part.
    """
    cards = [{"id": n, "url": f"https://news.example/story-{n}", "title": f"Harbour note {n}"} for n in range(3000)]
    state = {"cards": cards, "story": {"body": " ".join(TEASER + WITHHELD), "words": 120}, "after": cards[:50]}
    written = json.dumps(state, indent=1).replace("/", "\\u002F")
    script = f'<script id="__APP_STATE__" type="application/json">{written}</script>'
    page = leaky_page().replace("</body>", script + "</body>")
    _, out = gate(page)
    assert_no_leak(out)
    body = parse(out).css_first("script#__APP_STATE__").text()
    value = json.loads(body)
    assert value["cards"] == cards and value["after"] == cards[:50] and value["story"]["words"] == 120
    assert value["story"]["body"].startswith(TEASER[0]) and value["story"]["body"].endswith("\u2026")
    start = written.index('"body": "') + len('"body": ')
    end = written.index('"', start + 1) + 1
    shortened = body[start : len(body) - (len(written) - end)]
    assert body[:start] == written[:start] and body[start + len(shortened) :] == written[end:]
    assert json.loads(shortened) == value["story"]["body"]


def _fragments(text: str, size: int = 3) -> list[str]:
    """A sentence stored a few words a string."""
    found = text.split()
    return [" ".join(found[at : at + size]) + " " for at in range(0, len(found), size)]


@pytest.mark.parametrize("shape", ["state", "assignment"])
def test_a_story_split_into_short_strings_in_a_state_is_withheld_too(shape: str) -> None:
    """Every sentence stored a few words a string, so that no one string holds five of its words: read in
    their order, the strings are the story, and the search of the page's bytes finds it so. Each string that
    is part of a withheld run read across them goes; the rest of the state, the teaser's strings among them,
    stays, and the state still parses."""
    texts = TEASER + WITHHELD
    paragraphs = [_fragments(text) for text in texts]
    if shape == "state":
        script = f'<script id="__STATE__" type="application/json">{json.dumps({"body": paragraphs, "n": 1})}</script>'
    else:
        script = f"<script id='__STATE__'>window.parts = {json.dumps(paragraphs)};</script>"
    article = f"<article class='story'><h1>The lighthouse reopens</h1>{paragraphs_html(texts)}</article>"
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Coast Times</title></head>'
        f"<body><main>{article}</main>{script}</body></html>"
    )
    _, out = gate(page)
    assert_no_leak(out)
    held = parse(out).css_first("script#__STATE__").text()
    value = json.loads(
        held[held.index("[" if shape == "assignment" else "{") : held.rindex("]" if shape == "assignment" else "}") + 1]
    )
    assert json.dumps(value).count(_fragments(TEASER[0])[0]) == 1


def _rich_text(text: str, shape: str) -> object:
    """One paragraph as a headless CMS stores rich text: a few words a span, each span an object of its own."""
    pieces = _fragments(text)
    if shape == "portable-text":  # Sanity: spans with their marks
        return {"_type": "block", "children": [{"_type": "span", "marks": ["em"], "text": p} for p in pieces]}
    if shape == "jsonml":  # markup as arrays, [tag, attributes, ...children]: every other piece a link or emphasis
        children: list[object] = [
            (["a", {"href": f"/topics/{index}"}, piece] if index % 4 == 1 else ["em", piece]) if index % 2 else piece
            for index, piece in enumerate(pieces)
        ]
        return ["p", {}, *children]
    # Contentful: text nodes, every other one inside a link of its own
    nodes: list[dict[str, object]] = []
    for index, piece in enumerate(pieces):
        node = {"nodeType": "text", "value": piece, "marks": [], "data": {}}
        if index % 2:
            node = {"nodeType": "hyperlink", "data": {"uri": f"https://example.com/{index}"}, "content": [node]}
        nodes.append(node)
    return {"nodeType": "paragraph", "data": {}, "content": nodes}


@pytest.mark.parametrize("holder", ["json", "json-parse", "attribute"])
@pytest.mark.parametrize(
    "shape",
    [
        "portable-text",
        "contentful",
        "jsonml",
    ],
)
def test_a_story_in_short_spans_between_markup_is_withheld_too(shape: str, holder: str) -> None:
    """Rich text stored as spans puts a type, marks or a link's address between every few words: no withheld run
    stands in the page's bytes or in any one string. Read by key (every span's text in order), the spans are the
    story; each span a withheld run touches goes, the teaser's spans stay, and the state still parses: held as
    JSON, as JSON text in a script's string (``JSON.parse("…")``, as Apollo's and others' states are), or in an
    element's attribute (a component's props, ``data-props="{&quot;body&quot;: …}"``)."""
    texts = TEASER + WITHHELD
    state = json.dumps({"body": [_rich_text(text, shape) for text in texts], "n": 1})
    if holder == "json":
        holding = f'<script id="__STATE__" type="application/json">{state}</script>'
    elif holder == "json-parse":
        holding = f'<script id="__STATE__">window.__STATE__ = JSON.parse({json.dumps(state)});</script>'
    else:
        holding = f'<div id="__STATE__" data-props="{html.escape(state)}"></div>'
    article = f"<article class='story'><h1>The lighthouse reopens</h1>{paragraphs_html(texts)}</article>"
    page = f"<!DOCTYPE html><html><head><title>Coast Times</title></head><body><main>{article}</main>{holding}</body>"
    _, out = gate(page)
    assert_no_leak(out)
    node = parse(out).css_first("#__STATE__")
    held = node.attributes["data-props"] or "" if holder == "attribute" else node.text()
    if holder == "json-parse":
        held = json.loads(held[held.index("(") + 1 : held.rindex(")")])
    value = json.loads(held)
    assert value["n"] == 1
    assert json.dumps(value).count(json.dumps(_fragments(TEASER[0])[0])) == 1


@pytest.mark.parametrize(
    "holder",
    [
        "<!-- {state} -->",
        "<script>window.__STATE__ = {state}; start(window.__STATE__);</script>",
        "<div hidden>{state}</div>",
    ],
)
@pytest.mark.parametrize("shape", ["portable-text", "jsonml"])
def test_a_story_in_short_spans_is_withheld_wherever_its_json_stands(holder: str, shape: str) -> None:
    """The same spans' JSON in a comment, in a script that does more than hold it, in hidden text: read by key."""
    texts = TEASER + WITHHELD
    state = json.dumps({"body": [_rich_text(text, shape) for text in texts]})
    article = f"<article class='story'><h1>The lighthouse reopens</h1>{paragraphs_html(texts)}</article>"
    holding = holder.format(state=state if "<script" in holder else html.escape(state, quote=False))
    page = f"<!DOCTYPE html><html><head><title>Coast Times</title></head><body><main>{article}</main>{holding}</body>"
    _, out = gate(page)
    assert_no_leak(out)


def test_strings_read_by_key_from_a_window_that_starts_inside_a_string() -> None:
    """A window of the page's bytes starts anywhere: its strings are paired from its first key on."""
    window = 'ing lights on "}, {"_type": "span", "marks": ["em"], "text": "this stretch "}, {"text": "of the coast"}'
    assert code.keyed_strings(window) == ["this stretch  of the coast"]
    assert code.keyed_strings('"no key here", "nor here"') == []
    # JSON text held in a script's string: read with its escapes undone too.
    escaped = json.dumps(window)[1:-1]
    assert code.keyed_strings(escaped) == ["this stretch  of the coast"]


def test_metadata_is_shortened_to_the_teaser_with_an_ellipsis() -> None:
    _, out = gate(leaky_page())
    tree = parse(out)
    description = one(tree, 'meta[name="description"]').attributes["content"] or ""
    assert description.startswith(TEASER[0])
    assert description.endswith("\u2026")
    assert one(tree, 'meta[name="keywords"]').attributes["content"] == "lighthouse, coast, restoration"
    assert one(tree, "title").text() == "The lighthouse reopens | Coast Times"


def test_script_written_json_cannot_close_its_element() -> None:
    state = json.dumps({"body": "</script><script>alert(1)</script>" + WITHHELD[0], "n": 1})
    state = state.replace("</", "<\\/")
    page = f"""<html><head><script type="application/json" id="s">{state}</script></head>
    <body><article>{paragraphs_html(TEASER + WITHHELD)}</article></body></html>"""
    _, out = gate(page)
    assert_no_leak(out)
    assert b"</script><script>alert" not in out
    value = script_json(parse(out), "script#s")
    assert isinstance(value, dict) and value["n"] == 1


def test_script_that_cannot_be_cut_is_emptied() -> None:
    tokens = " ".join(WITHHELD).split()
    literals = " + ".join(json.dumps(w) for w in tokens)  # every literal too short to match alone
    page = f"""<html><head><script id="s">var story = {literals};</script></head>
    <body><article>{paragraphs_html(TEASER + WITHHELD)}</article></body></html>"""
    _, out = gate(page)
    assert_no_leak(out)
    assert one(parse(out), "script#s").text() == ""


def test_unrelated_scripts_are_left_byte_for_byte() -> None:
    code = "var a = 1; /* don't */ if (a < 2) { console.log('ok \\u2019'); }"
    page = f"""<html><head><script>{code}</script></head>
    <body><article>{paragraphs_html(TEASER + WITHHELD)}</article></body></html>"""
    _, out = gate(page)
    assert code.encode() in out


@pytest.mark.xfail(
    strict=True,
    reason="a copy of a withheld paragraph shorter than five words is not found when more text is withheld "
    "with it: the fingerprint holds only five-word runs, and a four-word copy contains none",
)
def test_short_withheld_paragraph_does_not_leak() -> None:
    # The teaser is capped at 60% of the article: TEASER[1:] are withheld with the short paragraph.
    page = f"""<html><head><meta name="description" content="{TEASER[0]} Quiet zorblax harbour tonight.">
    </head><body><article>{paragraphs_html(TEASER)}<p>Quiet zorblax harbour tonight.</p></article>
    <div hidden>Quiet zorblax harbour tonight.</div></body></html>"""
    _, out = gate(page, teaser=3)
    assert_no_leak(out, markers=("zorblax",))
    assert TEASER[0].encode() in out


QUOTE = "We will not let the river district become a place only the rich can live"
"""A withheld sentence whose words but one ("rich") readers see elsewhere on the page: one marker."""


def quoted_page(place: str) -> str:
    """A story whose withheld part holds :data:`QUOTE`, quoted again at ``place`` outside the article."""
    teaser = [
        "The city council met on Tuesday night to vote on the new housing plan for the river district.",
        "Residents filled the hall and spoke about rents, schools and the old docks, a place that could become "
        "anything.",
    ]
    withheld = [
        f"Council member {n} said the plan would change the district for twenty years, and that the vote had "
        "been close, with several people in the hall asking for more time before the final decision."
        for n in range(10)
    ]
    withheld.insert(5, f'Speaking after the vote, the mayor was blunt. "{QUOTE}," she said, leaving the hall.')
    share = html.escape(QUOTE)
    quotes = {
        "meta": ("", f'<meta name="twitter:description" content="{share}">'),
        "footer attribute": (f'<button class="share" data-share-text="{share}">Share</button>', ""),
        "footer link": (f'<a href="https://twitter.com/intent/tweet?text={quote(QUOTE)}">Tweet</a>', ""),
        "footer script": (f"<script>window.share = {json.dumps({'quote': QUOTE})};</script>", ""),
        "footer text": (f"<p hidden>{share}</p>", ""),
        "footer markup": (f"<p hidden>{share.replace(' rich ', ' <em>rich</em> ')}</p>", ""),
        "footer entities": (f"<p hidden>{share.replace(' ', '&nbsp;')}</p>", ""),
    }
    footer, head = quotes[place]
    nav = " ".join(f'<a href="/{w.lower()}">{w}</a>' for w in ["Home", "News", "Politics", "Housing", "Opinion"])
    return f"""<!DOCTYPE html><html><head><title>Council backs housing plan</title>{head}</head><body>
    <header><nav>{nav} <a href="/live">The river district live</a></nav></header>
    <main><article><h1>Council backs housing plan</h1>{paragraphs_html(teaser + withheld)}</article></main>
    <footer><p>The river district news</p>{footer}</footer></body></html>"""


@pytest.mark.parametrize(
    "place",
    ["meta", "footer attribute", "footer link", "footer script", "footer text", "footer markup", "footer entities"],
)
def test_a_withheld_sentence_with_one_rare_word_quoted_outside_the_article_is_swept(place: str) -> None:
    """A pull quote repeated for sharing, in the head or the page's footer: a sentence of the withheld text
    holds a single marker, so its copy holds no cluster of them, and it is still found and swept."""
    page, out = gate(quoted_page(place), teaser=2)
    assert page.report.fingerprint is not None
    assert page.report.fingerprint.markers.intersection(words(QUOTE)) == {"rich"}
    assert_no_leak(out, markers=(), phrases=(QUOTE,))
    assert b"The river district news" in out and b"Council backs housing plan" in out


@pytest.mark.parametrize("joiner", ["-", ".", "/", ":", ",", "\u2014", "\u00a0", "\u00b7", "\u3001"])
def test_withheld_words_joined_by_punctuation_in_a_short_attribute_are_swept(joiner: str) -> None:
    """A slug of a withheld sentence (an anchor's id, an analytics label): no space in it, but a run of its words."""
    slug = joiner.join(words(WITHHELD[1])[:5])
    assert len(slug.encode()) < 48
    page = f"""<html><head><title>Coast Times</title></head><body>
    <article>{paragraphs_html(TEASER + WITHHELD)}</article>
    <nav><a id="{slug}" data-label="{slug}" href="#top">Back to top</a></nav></body></html>"""
    _, out = gate(page)
    assert slug.encode() not in out
    assert b"Back to top" in out


def test_phrases_shared_with_the_chrome_survive() -> None:
    shared = "Subscribe to Top Insights Today for the week's best analysis"
    page = f"""<html><body><article>{paragraphs_html(TEASER)}
    <p>{WITHHELD[0]}</p><p>{shared}.</p></article>
    <section class="newsletter"><h2>{shared}</h2></section></body></html>"""
    _, out = gate(page)
    assert_no_leak(out)
    assert f"<h2>{shared}</h2>".encode() in out


def test_a_sign_up_box_in_the_withheld_part_leaves_the_same_box_elsewhere_whole() -> None:
    """A newsletter box inside the article (Nature) and again in a banner: its words are the site's, not the story's."""
    box = (
        '<form action="/briefing" method="post"><p class="pitch">Sign up for the Coast Briefing newsletter, what '
        'matters on the coast, free to your inbox daily.</p><input type="email" name="email" id="{0}">'
        '<label for="{0}">I agree my information will be processed in accordance with the Coast Times and its '
        'owners <a href="/privacy">Privacy Policy</a>.</label><button type="submit">Sign up for the briefing '
        "now and every morning</button></form>"
    )
    page = f"""<html><body><article>{paragraphs_html(TEASER + WITHHELD[:2])}{box.format("inline")}
    {paragraphs_html(WITHHELD[2:])}</article>
    <div class="banner">{box.format("banner")}</div></body></html>"""
    _, out = gate(page)
    assert_no_leak(out)
    banner = one(parse(out), "div.banner")
    assert "Sign up for the Coast Briefing newsletter, what matters on the coast" in banner.text()
    assert "I agree my information will be processed in accordance with the Coast Times" in banner.text()
    assert "Sign up for the briefing now and every morning" in one(banner, "button").text()


def test_related_links_repeating_removed_headlines_survive() -> None:
    related = "".join(
        f'<li><a href="/s{i}">{title}</a></li>'
        for i, title in enumerate(
            [
                "Council approves new budget for the coastal path repairs",
                "Storm damage closes the northern pier for three weeks",
                "Fishing fleet celebrates its best season in a decade",
                "School children paint a mural on the harbour wall",
            ]
        )
    )
    page = f"""<html><body><article>{paragraphs_html(TEASER + WITHHELD)}
    <div class="inline-related"><h3>Related coverage</h3><ul>{related}</ul></div></article>
    <div class="more"><h3>Related coverage</h3><ul>{related}</ul></div></body></html>"""
    _, out = gate(page)
    assert_no_leak(out)
    assert out.count(b"Fishing fleet celebrates its best season in a decade") == 1


def test_long_visible_copy_outside_the_article_is_removed() -> None:
    page = f"""<html><body><article>{paragraphs_html(TEASER + WITHHELD)}</article>
    <div class="print-only">{paragraphs_html(WITHHELD)}</div></body></html>"""
    _, out = gate(page)
    assert_no_leak(out)


def test_copy_inside_the_teaser_attributes_is_removed() -> None:
    page = f"""<html><body><article><figure><img src="a.jpg" alt="{WITHHELD[0]}"></figure>
    {paragraphs_html(TEASER + WITHHELD)}</article></body></html>"""
    _, out = gate(page)
    assert_no_leak(out)
    assert b'src="a.jpg"' in out


def test_deeply_nested_json_in_a_script_fails_closed_or_is_emptied() -> None:
    deep = "[" * 5000 + json.dumps(WITHHELD[0]) + "]" * 5000
    page = f"""<html><head><script type="application/json">{deep}</script></head>
    <body><article>{paragraphs_html(TEASER + WITHHELD)}</article></body></html>"""
    _, out = gate(page)
    assert_no_leak(out)


# --------------------------------------------------------------------------- building blocks


def test_words_normalise_case_width_and_compatibility_forms() -> None:
    fullwidth = "".join(chr(0xFEE0 + ord(c)) for c in "Zephyr")
    assert words(f"{fullwidth} QUILL \ufb01ne") == ["zephyr", "quill", "fine"]
    assert words("Straße") == ["strasse"]


def test_decode_layers_undoes_nested_escaping() -> None:
    text = '\\u003cp\\u003eDon\\u2019t \\"stop\\"\\n&amp;lt;b&amp;gt;now&amp;#8217;s\\/end'
    assert words(decode_layers(text)) == ["don", "t", "stop", "now", "s", "end"]
    assert "quill pen" in decode_layers("quill%20pen", url=True)


def test_fingerprint_subtracts_teaser_and_chrome() -> None:
    fp = Fingerprint.build(["one two three four five six seven"], ["zero one two three four five"])
    assert ("one", "two", "three", "four", "five") not in fp.runs
    assert ("three", "four", "five", "six", "seven") in fp.runs
    assert fp.safe_prefix("zero one two three four five six seven") == "zero one"


def test_fingerprint_of_short_text_uses_its_words() -> None:
    fp = Fingerprint.build(["Quiet zorblax"], ["Other words"])
    assert fp.k == 2
    assert fp.leaks("a quiet  ZORBLAX b")
    assert not fp.leaks("quiet other zorblax")


def test_runs_are_made_only_when_a_copy_is_read() -> None:
    """A page whose bytes hold no cluster of markers is served without the runs being made; they are right after."""
    page, out = gate(f"<html><body><article>{paragraphs_html(TEASER + WITHHELD)}</article></body></html>")
    assert_no_leak(out)
    fingerprint = page.report.fingerprint
    assert fingerprint is not None and not fingerprint.runs_made
    assert fingerprint.runs == Fingerprint.build(WITHHELD, TEASER).runs
    assert ("engineers", "found", "that", "zephyrquill", "mortar") in fingerprint.runs
    leaky, out = gate(leaky_page())
    assert_no_leak(out, phrases=tuple(WITHHELD))
    assert leaky.report.fingerprint is not None and leaky.report.fingerprint.runs_made
    # The page's JSON-LD is read for the declaration and for copies: without one in it, no runs either.
    ld = '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Harbour works"}</script>'
    body = f"<article>{paragraphs_html(TEASER + WITHHELD)}</article>"
    page, out = gate(f"<html><head>{ld}</head><body>{body}</body></html>")
    assert_no_leak(out)
    assert b'"isAccessibleForFree":false' in out.replace(b" ", b"")
    assert page.report.fingerprint is not None and not page.report.fingerprint.runs_made


def test_repeated_pieces_are_read_once_into_the_same_words() -> None:
    """Pieces that repeat are tokenised once; the stream is that of the pieces joined."""
    pieces = ["Zephyr", "quill \u00e9\u00adtude,", "\u6e2f\u53e3\u5b98\u5458", "ﬁne  Ⅻ", "", "moon\u0301"] * 8
    assert streams(pieces) == [words(" ".join(pieces)), words("".join(pieces))]
    assert streams(pieces[:7]) == [words(" ".join(pieces[:7])), words("".join(pieces[:7]))]


def test_empty_fingerprint_finds_nothing() -> None:
    fp = Fingerprint.build([], ["teaser"])
    assert not fp
    assert not fp.leaks("anything at all")


@pytest.mark.parametrize(
    "hint", ["%20", "%2520", "\\u0041", "\\x41", "\\41 \\42 \\43 \\44 ", "&#65;", "base64", "atob(", "b" * 49]
)
def test_place_that_looks_encoded_is_read_even_without_markers(hint: str) -> None:
    """The pre-filter lets through every place a decoding could reveal withheld text in."""
    fp = Fingerprint.build(WITHHELD, TEASER)
    plain = "an ordinary attribute value without any withheld word in it"
    assert not sweep.may_hold(plain, fp)
    assert sweep.may_hold(f"{plain} {hint} more", fp)
    assert sweep.may_hold(f"{plain} {MARKERS[2].upper()}", fp)


@pytest.mark.parametrize("hint", [hint.decode() for hint in sweep._ENCODED_HINTS])
def test_every_hint_the_pre_filter_names_lets_a_place_through(hint: str) -> None:
    """The hints the sweep documents are the ones it reads (soft hyphens and zero-width joiners too)."""
    fp = Fingerprint.build(WITHHELD, TEASER)
    assert sweep.may_hold(f"an ordinary attribute value without any withheld word in it {hint} more", fp)


# --------------------------------------------------------------------------- scripts written without spaces


CJK_TEASER = [
    "港口官员周一证实旧灯塔将在今年春天重新向游客开放。",
    "修复工作历时四年费用远超议会最初的计划。",
    "当地历史学家说这座塔是这段海岸上最古老的灯塔之一。",
]
CJK_WITHHELD = [
    "工程师发现泽菲尔灰浆在上层回廊的花岗岩饰面后面已经碎裂。",
    "玻璃匠用从沉船中打捞的月光玻璃重建了灯室。",
]
CJK_MARKERS = ("泽菲尔灰浆", "月光玻璃")


def test_words_split_scripts_without_spaces_per_character() -> None:
    assert words("泽菲尔 ok") == ["泽", "菲", "尔", "ok"]
    assert words("ひらがなカタカナ") == list("ひらがなカタカナ")
    assert words("한국어 뉴스") == ["한", "국", "어", "뉴", "스"]
    assert words("ภาษาไทย") == ["ภา", "ษา", "ไท", "ย"]  # a letter with its vowels and marks
    assert words("café 東京abc") == ["café", "東", "京", "abc"]
    halfwidth = "\uff76\uff80\uff76\uff85"  # ｶﾀｶﾅ
    assert words(halfwidth) == list("カタカナ")


def test_cjk_copies_in_metadata_and_hidden_elements_are_scrubbed_and_chrome_kept() -> None:
    chrome = "订阅我们的新闻通讯获取每日要闻"
    page = f"""<html><head><meta name="description" content="{CJK_WITHHELD[0]}">
    <meta property="og:description" content="{CJK_TEASER[0]}{CJK_WITHHELD[1]}">
    <script type="application/ld+json">{json.dumps({"articleBody": "".join(CJK_TEASER + CJK_WITHHELD)})}</script>
    </head><body><nav><a href="/">首页</a><a href="/n">新闻</a></nav>
    <article><h1>灯塔重新开放</h1>{paragraphs_html(CJK_TEASER + CJK_WITHHELD)}</article>
    <div hidden>{CJK_WITHHELD[1]}</div><section class="newsletter"><p>{chrome}</p></section></body></html>"""
    page_, out = gate(page)
    assert_no_leak(out, markers=CJK_MARKERS)
    text = out.decode()
    assert chrome in text and "首页" in text and "灯塔重新开放" in text
    tree = parse(out)
    assert (one(tree, 'meta[property="og:description"]').attributes["content"] or "").startswith(CJK_TEASER[0])
    ld = script_json(tree, 'script[type="application/ld+json"]')
    assert isinstance(ld, dict) and ld["articleBody"].startswith("".join(CJK_TEASER))
    assert page_.report.withheld_words == len("".join(CJK_WITHHELD)) - 2  # punctuation is not a token


# --------------------------------------------------------------------------- invisible characters


def test_invisible_characters_do_not_split_words() -> None:
    assert words("zeph\u00adyr\u200bquill wo\u2060rd \ufeffbom") == ["zephyrquill", "word", "bom"]
    assert words("foo\u200b \u200dbar") == ["foo", "bar"]


def test_withheld_word_split_by_invisible_characters_and_inline_tags_is_found() -> None:
    page = f"""<html><body><article>{paragraphs_html(TEASER + WITHHELD)}</article>
    <div hidden>Engineers found that zeph&shy;yr<em>qu&#8203;ill</em> mortar had crumbled</div></body></html>"""
    _, out = gate(page)
    assert_no_leak(out.replace("\u00ad".encode(), b"").replace("\u200b".encode(), b""))


def test_soft_hyphenated_article_loses_its_plain_copies() -> None:
    hyphenated = [re.sub(r"\b(\w{3})(\w{3,})", "\\1&shy;\\2", p) for p in WITHHELD]
    ld = json.dumps({"@type": "NewsArticle", "articleBody": full_text()})
    page = f"""<html><head><script type="application/ld+json">{ld}</script>
    <meta name="description" content="{html.escape(WITHHELD[1])}"></head>
    <body><article>{paragraphs_html(TEASER)}{paragraphs_html(hyphenated)}</article>
    <div hidden>{WITHHELD[2].replace("e", "e&#8203;")}</div></body></html>"""
    _, out = gate(page)
    assert_no_leak(out.replace("\u00ad".encode(), b"").replace("\u200b".encode(), b""))


@pytest.mark.parametrize("tag", ["span", "b", "i"])
@pytest.mark.parametrize("where", ["<div hidden>{}</div>", '<div class="sr-only">{}</div>', "<noscript>{}</noscript>"])
def test_withheld_text_split_a_letter_per_tag_is_found(where: str, tag: str) -> None:
    """A copy written a letter per element (as text effects and obfuscations write it) holds no word in the
    page's bytes, and the browser shows it, and a scraper reads it, as the text it spells."""
    spelt = "".join(f"<{tag}>{html.escape(letter)}</{tag}>" for letter in " ".join(WITHHELD))
    page = f"""<html><body><article>{paragraphs_html(TEASER + WITHHELD)}</article>
    {where.format(spelt)}</body></html>"""
    _, out = gate(page)
    assert_no_leak(out)
    assert TEASER[0].encode() in out


def test_inspect_counts_a_copy_written_a_letter_per_element_on_one_line() -> None:
    """``paywall inspect`` lists every element of such a copy as swept, but as one line with its count."""
    from paywall.inspect import inspect_page
    from paywall.settings import PaywallSettings

    spelt = "".join(f"<span>{html.escape(letter)}</span>" for letter in " ".join(WITHHELD))
    page = f"<html><body><article>{paragraphs_html(TEASER + WITHHELD)}</article><div hidden>{spelt}</div></body></html>"
    report = inspect_page(page.encode(), PaywallSettings(secret_key="inspect-spelt-copy-5be1c09a7d"), source="s.html")
    lines = report.lines()
    assert len(report.copies) > 100
    assert f"  - hidden text in <span> ({len(report.copies)} in a row)" in lines
    assert_no_leak(report.gated)


def test_markup_written_a_few_letters_an_element_that_holds_no_withheld_text_stays() -> None:
    """Navigation of letters (an index A to Z) and drop caps are text split by tags too: they stay as they are."""
    index = "".join(f'<a href="/names/{c}">{c}</a>' for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    page = f"""<html><body><nav>{index}</nav><article>{paragraphs_html(TEASER + WITHHELD)}</article></body></html>"""
    _, out = gate(page)
    assert index.encode() in out
    assert_no_leak(out)


# --------------------------------------------------------------------------- encodings the scrubber undoes


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_decode_layers_knows_js_code_point_and_css_escapes() -> None:
    assert decode_layers("\\u{7a}eph\\u{1F600}") == "zeph\U0001f600"
    assert decode_layers("\\7a eph\\79 r", css=True) == "zephyr"
    assert decode_layers("\\0000bf", css=True) == "\u00bf"  # not JavaScript's \b
    assert decode_layers("\\\\7a eph") == "zeph"  # CSS escape written in a JS string
    assert decode_layers("\\u{110000}") == "\ufffd"


def test_readings_include_base64_and_percent_encoded_text() -> None:
    found = list(readings(f"atob('{b64('<p>zephyr quill</p>')}')"))
    assert any("zephyr quill" in r for r in found)
    assert any("zephyr quill" in r for r in readings("decodeURIComponent('zephyr%20quill')"))
    urlsafe = base64.urlsafe_b64encode(b"zephyr quill ?>~~ mortar").decode().rstrip("=")
    assert any("zephyr quill" in r for r in readings(urlsafe))
    inner = b64(f"data={quote('zephyr quill mortar')}")
    assert any("zephyr quill" in r for r in readings(f"data:text/plain;base64,{b64(inner)}", url=True))


def test_binary_base64_and_ordinary_identifiers_are_not_read_as_text() -> None:
    assert base64_payloads(base64.b64encode(bytes(range(256)) * 4).decode()) is not None
    assert list(base64_payloads(base64.b64encode(bytes(range(256)) * 4).decode())) == []
    assert list(base64_payloads("getElementsByClassName addEventListener")) == []


@pytest.mark.parametrize(
    "copy",
    [
        f'<iframe src="data:text/html;base64,{b64(paragraphs_html(WITHHELD))}"></iframe>',
        f'<div data-content="{b64(paragraphs_html(WITHHELD))}">x</div>',
        f'<img src="/i.png" data-alt="{base64.urlsafe_b64encode(" ".join(WITHHELD).encode()).decode()}">',
        f"<script>var body = atob('{b64(paragraphs_html(WITHHELD))}');</script>",
        f"<script>var body = decodeURIComponent('{quote(' '.join(WITHHELD))}');</script>",
        "<script>var body = '" + "".join(f"\\u{{{ord(c):x}}}" for c in " ".join(WITHHELD)) + "';</script>",
        "<style>.more::after{content:'" + "".join(f"\\{ord(c):x} " for c in " ".join(WITHHELD)) + "'}</style>",
        "<p style=\"--x:'" + "".join(f"\\{ord(c):x} " for c in WITHHELD[0]) + "'\">x</p>",
        f"<!-- {b64(' '.join(WITHHELD))} -->",
        f"<div hidden>{b64(' '.join(WITHHELD))}</div>",
        f"<div hidden>{quote(' '.join(WITHHELD))}</div>",
        f'<meta name="x-body" content="{b64(" ".join(WITHHELD))}">',
        f'<script type="application/json">{json.dumps({"b": b64(" ".join(WITHHELD)), "n": 1})}</script>',
    ],
    ids=[
        "data-uri",
        "data-attribute",
        "urlsafe",
        "atob",
        "percent-in-script",
        "js-code-points",
        "css-escapes",
        "css-escapes-in-style-attribute",
        "base64-comment",
        "base64-hidden-text",
        "percent-hidden-text",
        "base64-meta",
        "base64-json",
    ],
)
def test_encoded_copies_are_removed(copy: str) -> None:
    page = f"""<html><head></head><body><article>{paragraphs_html(TEASER + WITHHELD)}</article>
    {copy}<footer><p>Stay informed</p></footer></body></html>"""
    _, out = gate(page)
    text = out.decode()
    text = re.sub(r"\\u\{([0-9a-f]+)\}", lambda m: chr(int(m.group(1), 16)), text)
    text = re.sub(r"\\([0-9a-f]{1,6}) ?", lambda m: chr(int(m.group(1), 16)), text)
    decoded = [text] + [
        base64.urlsafe_b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace")
        for run in re.findall(r"[A-Za-z0-9_-]{16,}", text.replace("+", "-").replace("/", "_"))
    ]
    for reading in decoded:
        assert_no_leak(reading.encode())
    assert "Stay informed" in text


def test_encoded_copies_do_not_touch_unrelated_encoded_data() -> None:
    image = base64.b64encode(bytes(range(256)) * 8).decode()
    note = b64("A note about the harbour that has nothing withheld in it at all.")
    page = f"""<html><head><style>.logo{{background:url(data:image/png;base64,{image})}}</style>
    <script>var note = atob('{note}'); var q = decodeURIComponent('harbour%20news');</script></head>
    <body><article>{paragraphs_html(TEASER + WITHHELD)}</article>
    <img src="data:image/png;base64,{image}" data-note="{note}"></body></html>"""
    page_, out = gate(page)
    assert_no_leak(out)
    for kept in (image, note, "harbour%20news"):
        assert kept.encode() in out
    assert page_.report.scrub.total == 0


# --------------------------------------------------------------------------- a copy of the article from its start


def _ld_page(article_body: str) -> str:
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "articleBody": article_body})
    return f"""<html><head><title>Lighthouse</title><script type="application/ld+json">{ld}</script></head>
    <body><article><h1>The lighthouse reopens</h1>{paragraphs_html(TEASER + WITHHELD)}</article></body></html>"""


def _article_body(out: bytes) -> str:
    ld = json.loads(LexborHTMLParser(out.decode()).css_first('script[type="application/ld+json"]').text())  # type: ignore[union-attr]
    body = ld["articleBody"]
    assert isinstance(body, str)
    return body


@pytest.mark.parametrize("before", ["", "The lighthouse reopens. ", "<h2>The lighthouse reopens</h2>"])
def test_a_copy_of_the_article_from_its_start_keeps_the_teaser_and_ends_where_it_ends(before: str) -> None:
    """The story's copy in the JSON-LD is cut where the teaser ends, whatever stands before the teaser."""
    _, out = gate(_ld_page(before + " ".join(TEASER + WITHHELD)))
    assert_no_leak(out)
    kept = _article_body(out)
    assert kept.endswith(TEASER[-1] + "\u2026")
    assert words(kept) == words(decode_layers(before)) + words(" ".join(TEASER))


@pytest.mark.parametrize(
    "article_body",
    [
        # Withheld text before the teaser's last words: the teaser ends late in the copy.
        " ".join([WITHHELD[0], *TEASER, *WITHHELD[1:]]),
        # The teaser's last sentence quoted early in the story, then the withheld text.
        " ".join([WITHHELD[0], TEASER[-1], *WITHHELD[1:], *TEASER]),
        # The copy holds the teaser's end twice, the withheld text between.
        " ".join([*TEASER, *WITHHELD[:2], TEASER[-1], *WITHHELD[2:]]),
    ],
)
def test_withheld_text_before_the_teasers_end_in_a_copy_does_not_stay_with_the_teaser(article_body: str) -> None:
    page, out = gate(_ld_page(article_body))
    assert_no_leak(out)
    assert TEASER[0] in out.decode() and not page.report.swept.full_sweep  # the teaser shown, the copy cut in place
