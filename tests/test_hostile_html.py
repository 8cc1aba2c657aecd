"""Hostile HTML through the public surface: a gated page served by a small app behind the middleware.

Whatever the page is made of (unclosed and misnested tags, unterminated
comments, deep nesting, huge attributes, bytes that are not UTF-8, a charset
that lies, byte-order marks, NULs, break markers where they are no break,
several documents in one), a non-member's response:

* is never a 500;
* holds no word from after the teaser, in any encoding (``assert_no_leak``);
* is UTF-8 that an HTML parser reads into a document.

The fixed cases are the nasty ones reviewers found or feared; the property
test mixes hostile fragments into an article at random (derandomised, so the
run is the same every time, and kept small for the suite's time).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paywall import PaywallMiddleware, PaywallSettings
from tests.asgi import Result, call
from tests.conftest import SECRET, assert_no_leak

TEASER = [
    "Ferry timetables on the western isles change with the spring tides this year.",
    "Harbour masters expect longer queues at the slipways during the first weeks.",
    "Islanders asked the council for an extra sailing on market days.",
]
SECRET_WORDS = ["quillothrane", "vessibrack", "ombertide", "glimmerhask", "zanderwick"]
HIDDEN = [f"The {word} report names the operator that will lose the contract next winter." for word in SECRET_WORDS]


def paras(items: list[str]) -> str:
    return "".join(f"<p>{text}</p>" for text in items)


def document(article: str, *, head: str = "", before: str = "", after: str = "") -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Ferries</title>{head}</head>'
        f"<body><header><a href='/'>Home</a></header>{before}<main>{article}</main>{after}"
        "<footer><p>Island News</p></footer></body></html>"
    )


ARTICLE = f"<article><h1>Ferries</h1>{paras(TEASER)}{paras(HIDDEN)}</article>"


@dataclass
class Served:
    """What the app behind the middleware answers: the body and its Content-Type."""

    body: bytes = b""
    content_type: bytes = b"text/html; charset=utf-8"


def make_app(served: Served) -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", served.content_type)]})
        await send({"type": "http.response.body", "body": served.body, "more_body": False})

    return app


def serve(body: bytes, content_type: bytes = b"text/html; charset=utf-8") -> Result:
    with tempfile.TemporaryDirectory() as folder:
        settings = PaywallSettings(secret_key=SECRET, store=f"sqlite:///{Path(folder) / 'paywall.db'}")
        middleware = PaywallMiddleware(make_app(Served(body, content_type)), settings=settings)
        try:
            return asyncio.run(call(middleware, "/news/ferries"))
        finally:
            asyncio.run(middleware.store.aclose())


def check(result: Result, words: list[str] = SECRET_WORDS) -> None:
    """The three promises: no 500, no hidden word, output that parses."""
    assert result.status != 500 and result.status < 500, result.status
    assert_no_leak(result.body, words)
    if result.status == 200 and (result.header("content-type") or "").startswith("text/html"):
        text = result.body.decode("utf-8")  # the gated page says UTF-8, and is
        tree = lxml.html.document_fromstring(text or "<html></html>")
        assert tree.tag == "html" and tree.find("body") is not None


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


# ---------------------------------------------------------------------------
# fixed cases

NESTED = "<div>" * 10_000
CASES: dict[str, bytes] = {
    "unclosed tags": utf8(document(f"<article><h1>Ferries{paras(TEASER)}<p>{'<p><b><i>'.join(HIDDEN)}<section><span>")),
    "misnested tags": utf8(
        document(
            "<article><h1>Ferries</h1>"
            + "".join(f"<p><b>{t}</p></b>" for t in TEASER)
            + "".join(f"<p><i><b>{t}</i></b></p><table><td>x</p></table>" for t in HIDDEN)
            + "</article>"
        )
    ),
    "unterminated comment after the teaser": utf8(
        document(f"<article><h1>Ferries</h1>{paras(TEASER)}<!-- {paras(HIDDEN)}</article>")
    ),
    "10,000 levels of nesting around the article": utf8(document(NESTED + ARTICLE + "</div>" * 10_000)),
    "10,000 levels of nesting inside the article": utf8(
        document(f"<article><h1>Ferries</h1>{paras(TEASER)}{NESTED}{paras(HIDDEN)}</article>")
    ),
    "a megabyte attribute on the article": utf8(
        document(f'<article data-blob="{"A" * 1_048_576}"><h1>Ferries</h1>{paras(TEASER)}{paras(HIDDEN)}</article>')
    ),
    "a megabyte attribute holding the hidden text": utf8(
        document(
            f"<article><h1>Ferries</h1>{paras(TEASER)}"
            f'<p data-rest="{" ".join(HIDDEN) * (1_048_576 // 400)}">{HIDDEN[0]}</p>{paras(HIDDEN[1:])}</article>'
        )
    ),
    "invalid UTF-8": utf8(document(f"<article><h1>Ferries</h1>{paras(TEASER)}{paras(HIDDEN)}</article>"))
    .replace(b"spring", b"spr\xffing")
    .replace(b"The quillothrane", b"\xc3\x28 \xe2\x82 The quillothrane\xf0\x28\x8c\x28")
    .replace(b"zanderwick", b"zanderwick\xed\xa0\x80"),
    "a charset header that lies (says latin-1, is UTF-8)": utf8(
        document(f"<article><h1>Fähren — Zürich</h1>{paras(TEASER)}{paras(HIDDEN)}</article>")
    ),
    "a meta charset that lies (says shift_jis)": utf8(
        document(ARTICLE).replace('<meta charset="utf-8">', '<meta charset="shift_jis">')
    ),
    "a UTF-8 byte-order mark": b"\xef\xbb\xbf" + utf8(document(ARTICLE)),
    "a UTF-16 byte-order mark under a UTF-8 header": b"\xff\xfe" + document(ARTICLE).encode("utf-16-le"),
    "a byte-order mark in the middle": utf8(
        document(f"<article><h1>Ferries</h1>{paras(TEASER)}\ufeff{paras(HIDDEN)}</article>")
    ),
    "NUL bytes": utf8(
        document(
            f"<article><h1>Fer\x00ries</h1>{paras(TEASER)}<p\x00>{HIDDEN[0]}</p><p>\x00{HIDDEN[1]}\x00</p>"
            f"{paras(HIDDEN[2:])}</article>"
        )
    ),
    "break marker inside a script": utf8(
        document(
            ARTICLE,
            head='<script>var tpl = "<article><p>x</p><!--more--></article>";</script>',
        )
    ),
    "break marker inside an attribute": utf8(
        document(
            f'<article><h1 title="<!--more-->">Ferries</h1><p data-paywall-break-note="<!--more-->">{TEASER[0]}</p>'
            f"{paras(TEASER[1:])}{paras(HIDDEN)}</article>"
        )
    ),
    "break marker inside a comment": utf8(
        document(f"<article><h1>Ferries</h1><!-- <!--more--> -->{paras(TEASER)}{paras(HIDDEN)}</article>")
    ),
    "two html and body elements": utf8(
        document(ARTICLE) + f"<html><body><article><h1>Again</h1>{paras(TEASER)}{paras(HIDDEN)}</article></body></html>"
    ),
    "a second body inside the article": utf8(
        document(f"<article><h1>Ferries</h1>{paras(TEASER)}<body data-x='1'>{paras(HIDDEN)}</body></article>")
    ),
    "article text after </html>": utf8(
        document(f"<article><h1>Ferries</h1>{paras(TEASER)}{paras(HIDDEN[:2])}") + paras(HIDDEN[2:]) + "</article>"
    ),
    "a page made only of an unterminated comment": utf8("<!--" + document(ARTICLE)),
    "an unterminated comment before the article": utf8(
        "<!DOCTYPE html><html><head><title>x</title></head><body><!-- " + ARTICLE
    ),
    "an unterminated script before the article": utf8(
        "<!DOCTYPE html><html><head><title>x</title></head><body><script>var a = 1;" + ARTICLE
    ),
    "an unterminated textarea around the article": utf8(
        f"<!DOCTYPE html><html><body><main><article><h1>Ferries</h1>{paras(TEASER)}<textarea>{paras(HIDDEN)}"
    ),
    # Declarative shadow DOM: browsers render a <template shadowrootmode> as its host's shadow root, in place.
    "the article in a declarative shadow root": utf8(
        document(f'<story-view><template shadowrootmode="open">{ARTICLE}</template></story-view>')
    ),
    "the article in a closed declarative shadow root": utf8(
        document(f'<story-view><template shadowrootmode="closed">{ARTICLE}</template></story-view>')
    ),
    "the article in a shadow root inside a shadow root": utf8(
        document(
            '<site-page><template shadowrootmode="open"><header>Island News</header><story-view>'
            f'<template shadowrootmode="open">{ARTICLE}</template></story-view></template></site-page>'
        )
    ),
    "the story's end in a shadow root after its teaser": utf8(
        document(
            f"<article><h1>Ferries</h1>{paras(TEASER)}<story-rest>"
            f'<template shadowrootmode="open">{paras(HIDDEN)}</template></story-rest></article>'
        )
    ),
    "the article in an open dialog (a reader's overlay)": utf8(document(f"<dialog open>{ARTICLE}</dialog>")),
    "a plaintext element": utf8(
        f"<!DOCTYPE html><html><body><article><h1>Ferries</h1>{paras(TEASER)}<plaintext>{paras(HIDDEN)}"
    ),
}
CONTENT_TYPES = {
    "a charset header that lies (says latin-1, is UTF-8)": b"text/html; charset=iso-8859-1",
}
#: Cases today's engine gets wrong; the new engine must turn them green (strict: an unexpected pass fails).
KNOWN_FAILURES: dict[str, str] = {}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[name]))
        if name in KNOWN_FAILURES
        else name
        for name in CASES
    ],
)
def test_hostile_page(case: str) -> None:
    check(serve(CASES[case], CONTENT_TYPES.get(case, b"text/html; charset=utf-8")))


# ---------------------------------------------------------------------------
# property: hostile fragments anywhere in an article

#: Fragments that swallow the rest of the document as text when left open (comments and raw-text
#: elements): today's engine lets the swallowed article through.
SWALLOWING = ["<!--", "<!-- <p>x</p>", "<script>", "<style>", "<xmp>", "<iframe>", "<noscript>", "<textarea>"]
FRAGMENTS = [
    "-->",
    "<!--more-->",
    "<div>",
    "</div>",
    "</p>",
    "<p>",
    "<b><i>",
    "</b>",
    "</article>",
    "<article>",
    "<body>",
    "</body>",
    "<html>",
    "</html>",
    "</script>",
    "<template>",
    "<table><td>",
    "<svg><p>",
    "<math><mi>",
    '<p title="',
    "'>",
    "\x00",
    "\ufeff",
    "\ud7ff",
    "&amp",
    "&#0;",
    "<![CDATA[",
    "]]>",
    "<?xml?>",
    "<br/>",
    "<select><option>",
    '<span data-paywall-break="">',
    "</iframe>",
]


@st.composite
def hostile_documents(draw: st.DrawFn, fragments: list[str]) -> bytes:
    pieces = ["<article><h1>Ferries</h1>", *(f"<p>{t}</p>" for t in TEASER)]
    hidden_at = len(pieces)
    pieces += [f"<p>{t}</p>" for t in HIDDEN] + ["</article>"]
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        # Fragments go anywhere after the teaser's first paragraph: never into the title.
        position = draw(st.integers(min_value=2, max_value=len(pieces)))
        pieces.insert(position, draw(st.sampled_from(fragments)))
        if position <= hidden_at:
            hidden_at += 1
    text = document("".join(pieces))
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = draw(st.sampled_from([b"\xef\xbb\xbf", b"", b"\xff"])) + data
    return data


PROPERTY = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(hostile_documents(FRAGMENTS))
def test_hostile_fragments_never_leak_or_break(body: bytes) -> None:
    check(serve(body))


@PROPERTY
@given(hostile_documents(FRAGMENTS + SWALLOWING))
def test_swallowing_fragments_never_leak_or_break(body: bytes) -> None:
    check(serve(body))


@settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_around_an_article_never_500(noise: bytes) -> None:
    page = utf8(document(ARTICLE))
    cut = len(page) // 3
    check(serve(page[:cut] + noise + page[cut:]))
