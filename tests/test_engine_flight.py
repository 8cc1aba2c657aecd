"""A React Server Components page (Next.js's App Router) stays a working app when its story is withheld.

The page carries its React tree twice: as markup, and as the rows of the
flight payload that React hydrates from, pushed by inline scripts
(``self.__next_f.push([1, "…"])``). Each push's string holds rows (``0:{…}``,
``1:I[…]``, ``5:HL[…]``, ``6:null``, ``2:T<length>,<text>``) whose JSON holds strings that are
themselves escaped again (a style's ``"Segoe UI"``). A row whose JSON or
whose length no longer holds makes React throw, and the reader sees a blank
page instead of the teaser. Found on a real Next.js 15 build behind
``paywall proxy``, in Chromium.
"""

from __future__ import annotations

import json
import re

from paywall.engine import Page
from tests.conftest import assert_no_leak

TEASER = [
    "The harbour board approved the long awaited expansion of the northern quay on Tuesday night after a debate.",
    "Shipping companies had asked for deeper berths for years, citing larger vessels and longer queues at the gates.",
    "The plan now goes to the regional council, which has the final word on the funding of the works next year.",
]
MARKERS = ["quillwhistle", "brambleton", "ferrowind", "cobblemast", "saltmarrow"]
REST = [
    f"Later that evening the committee heard that the {MARKERS[0]} proposal had been rewritten twice in secret.",
    f"Two officials said the {MARKERS[1]} fund would pay for the dredging only if the council agreed before spring.",
    f"A leaked letter shows the {MARKERS[2]} consortium asked for an exemption that nobody on the board had seen.",
    f"Dock workers who spoke at the meeting called the {MARKERS[3]} plan a quiet giveaway to the largest operators.",
    f"The final vote on the {MARKERS[4]} contract is expected next month, after an audit few expect to be public.",
]
NOTE = "Correction: an earlier version of this story misnamed the harbour board's chair, who is Ada Brook."


def _element(tag: str, key: str | None, props: dict[str, object]) -> list[object]:
    return ["$", tag, key, props]


def flight_rows() -> str:
    """The rows of the story's page, as React writes them: a module row, the tree (its not-found page's style
    holding quotes of its own), a text row, the metadata."""
    paragraphs = [_element("p", str(n), {"children": p}) for n, p in enumerate(TEASER + REST)]
    article = _element(
        "article", None, {"children": [_element("h1", None, {"children": "Harbour deal approved"}), *paragraphs]}
    )
    font = 'system-ui,"Segoe UI",Roboto,Helvetica,Arial,sans-serif,"Apple Color Emoji"'
    not_found = _element("div", None, {"style": {"fontFamily": font}, "children": "This page could not be found."})
    main = _element("main", None, {"children": article})
    tree = {"b": "build-7", "f": [[["", {"children": ["story"]}], [not_found, main]]]}
    note = f"<p>{NOTE}</p>"
    return "".join(
        [
            # Pushed two lines a script (see page()): a hint row with the tree, a null row with the text row.
            '5:HL["/_next/static/css/app.css","style"]\n',
            f"0:{json.dumps(tree, separators=(',', ':'))}\n",
            f"2:T{len(note.encode()):x},{note}",
            '3:[["$","meta","0",{"charSet":"utf-8"}]]\n',
            "6:null\n",
            '1:I[9766,[],""]\n',
            '4:{"metadata":[["$","title","0",{"children":"Harbour deal approved"}]]}\n',
        ]
    )


def page(rows: str, pushes: int = 3) -> str:
    """The page as Next.js serves it: the markup, then the rows in ``pushes`` scripts (split between lines)."""
    lines = rows.splitlines(keepends=True)
    size = -(-len(lines) // pushes)
    scripts = "".join(
        f"<script>self.__next_f.push({json.dumps([1, ''.join(lines[i : i + size])])})</script>"
        for i in range(0, len(lines), size)
    )
    body = "".join(f"<p>{p}</p>" for p in TEASER + REST)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Harbour deal approved</title>'
        '<script src="/_next/static/chunks/webpack.js" async=""></script></head><body>'
        '<header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>'
        f"<main><article><h1>Harbour deal approved</h1>{body}<p>{NOTE}</p></article></main>"
        "<script>(self.__next_f=self.__next_f||[]).push([0])</script>"
        f"{scripts}</body></html>"
    )


def rows_of(html: str) -> str:
    """The flight payload a gated page pushes: each push must be a JSON array, as React reads it."""
    pushes = re.findall(r"self\.__next_f\.push\((\[1,.*?\])\)</script>", html, re.S)
    assert pushes
    return "".join(json.loads(push)[1] for push in pushes)


def assert_rows_hold(rows: str) -> None:
    """Every row of the payload reads as React reads it: JSON rows parse, a text row is as long as it says."""
    at = 0
    while at < len(rows):
        head = re.compile(r"([0-9a-f]+):").match(rows, at)
        assert head is not None, rows[at : at + 80]
        at = head.end()
        text = re.compile(r"T([0-9a-f]+),").match(rows, at)
        if text is not None:
            data = rows[text.end() :].encode()
            length = int(text.group(1), 16)
            assert len(data) >= length
            at = text.end() + len(data[:length].decode())
            continue
        end = rows.index("\n", at)
        json.loads(rows[at:end].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        at = end + 1


def gated(markup: str) -> str:
    parsed = Page.parse(markup.encode(), None)
    assert parsed.has_article()
    return parsed.gate(teaser_paragraphs=2, cta_html='<aside class="cta">Start your trial</aside>').decode()


def test_the_payload_react_hydrates_from_stays_valid_and_is_the_pages_tree() -> None:
    source = page(flight_rows())
    assert_rows_hold(rows_of(source))
    out = gated(source)
    rows = rows_of(out)
    assert_rows_hold(rows)
    assert_no_leak(out.encode(), MARKERS)
    assert TEASER[0] in rows and TEASER[1] in rows
    # The style's own quotes are still escaped quotes inside its JSON string.
    assert 'system-ui,\\"Segoe UI\\",Roboto' in rows
    assert '["$","meta","0",{"charSet":"utf-8"}]' in rows
    # React's tree is the page's: the withheld paragraphs are gone from it as from the markup, and the call
    # to action stands where the markup has it, so hydrating keeps the page as it is.
    tree = json.loads(next(row for row in rows.splitlines() if row.startswith("0:"))[2:])
    article = tree["f"][0][1][1][3]["children"][3]["children"]
    assert [child[1] for child in article] == ["h1", "p", "p", "aside"]
    assert article[3][3] == {"className": "cta", "dangerouslySetInnerHTML": {"__html": "Start your trial"}}
    markup = out[out.index("<article") : out.index("</article>")]
    assert re.findall(r"<(h1|p|aside)\b", markup) == ["h1", "p", "p", "aside"]


def test_a_withheld_text_row_keeps_its_length_right() -> None:
    """A text row (``T``) that holds withheld words is shortened, and its length says what it holds now."""
    long_note = " ".join(REST)
    rows = (
        flight_rows()
        .replace(NOTE, long_note)
        .replace(f"2:T{len(f'<p>{NOTE}</p>'.encode()):x}", f"2:T{len(f'<p>{long_note}</p>'.encode()):x}")
    )
    source = page(rows).replace(f"<p>{NOTE}</p>", "")
    assert_rows_hold(rows_of(source))
    out = gated(source)
    assert_rows_hold(rows_of(out))
    assert_no_leak(out.encode(), MARKERS)
