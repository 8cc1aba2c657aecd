"""The engine's per-block bookkeeping: the shortcuts it takes on long articles give what the plain reading gives."""

from __future__ import annotations

import itertools

import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode

from paywall.engine.cut import Cut, remove
from paywall.engine.outline import Element, Outline

PROSE = "The council deferred its vote until the estuary trust publishes its sediment report next spring."

PAGES = {
    "paragraphs": "<main><article>" + "".join(f"<p>{n} {PROSE}</p>" for n in range(12)) + "</article></main>",
    # A block with text after its child blocks takes the order of its first text inside: the blocks'
    # orders then do not increase along the outline.
    "text after blocks": (
        "<div class='story'><p>one " + PROSE + "</p><p>two " + PROSE + "</p>three " + PROSE + "</div>"
        "<div><p>four " + PROSE + "</p>five<p>six</p>seven</div><p>eight</p>"
    ),
    "nested": (
        "<section>lead<div><p>a " + PROSE + "</p><blockquote>b<p>c</p>d</blockquote></div>tail</section>"
        "<ul><li>x<ul><li>y</li></ul>z</li></ul>"
    ),
}


def _plain(blocks: list[Element], spans: list[tuple[int, int]], inside: bool) -> list[Element]:
    return [b for b in blocks if any(start <= b.order < end for start, end in spans) == inside]


@pytest.mark.parametrize("name", sorted(PAGES))
def test_blocks_within_and_outside_spans_are_those_the_plain_test_finds(name: str) -> None:
    outline = Outline(LexborHTMLParser(f"<html><body>{PAGES[name]}</body></html>"))
    assert outline.blocks
    last = max(b.end_order for b in outline.blocks) + 2
    bounds = range(-1, last)
    pairs = [(a, b) for a, b in itertools.product(bounds, bounds) if a <= b]
    cases = [[pair] for pair in pairs] + [list(two) for two in itertools.combinations(pairs[::3], 2)]
    # Spans as regions give them: those of elements, one or several, overlapping or not.
    cases += [[(e.order, e.end_order)] for e in outline.elements.values()]
    for spans in cases:
        assert outline.within(spans) == _plain(outline.blocks, spans, True), spans
        assert outline.outside(spans) == _plain(outline.blocks, spans, False), spans


def test_removing_nested_and_repeated_doomed_nodes_reads_each_text_once() -> None:
    tree = LexborHTMLParser(
        "<html><body><main><p id=keep>Kept lede.</p>"
        "<div id=outer><p id=inner>Inner words <b id=bold>bolded</b> here.</p><script>var code = 1;</script>"
        "<p id=sibling>Sibling words.</p></div><p id=after>After words.</p>tail text</main></body></html>"
    )

    def one(selector: str) -> LexborNode:
        node = tree.css_first(selector)
        assert node is not None
        return node

    after = one("#after")
    tail = after.next
    assert tail is not None and tail.tag == "-text"
    # Inner nodes before and after their ancestor, a node twice, a text node: each ancestor goes whole.
    doomed = [one("#bold"), one("#outer"), one("#inner"), one("#outer"), one("#sibling"), after, tail, one("#after")]
    result = Cut(doomed=doomed)
    remove(result)
    assert [" ".join(text.split()) for text in result.withheld] == [
        "Inner words bolded here. Sibling words.",
        "After words.",
        "tail text",
    ]
    body = tree.body
    assert body is not None
    assert " ".join(body.text(deep=True).split()) == "Kept lede."
    assert tree.css_first("script") is None


@pytest.mark.parametrize("name", sorted(PAGES))
def test_children_of_a_record_are_the_records_of_its_child_elements(name: str) -> None:
    outline = Outline(LexborHTMLParser(f"<html><body>{PAGES[name]}</body></html>"))
    for record in outline.elements.values():
        in_tree = [outline.elements.get(node.mem_id) for node in record.node.iter()]
        expected = sorted(id(child) for child in in_tree if child is not None)
        assert sorted(id(child) for child in outline.children(record)) == expected, record


def test_code_in_doomed_elements_at_two_levels_is_removed_once() -> None:
    tree = LexborHTMLParser(
        "<html><body><main><div id=wrap><p>Kept lede.</p><div id=one>First <script>var a = 1;</script>words.</div>"
        "</div><div id=two>Second <style>p{}</style>words.</div></main></body></html>"
    )
    doomed = [tree.css_first("#one"), tree.css_first("#two")]
    assert all(node is not None for node in doomed)
    result = Cut(doomed=[node for node in doomed if node is not None])
    remove(result)
    assert [" ".join(text.split()) for text in result.withheld] == ["First words.", "Second words."]
    assert tree.css_first("script, style") is None
    body = tree.body
    assert body is not None and " ".join(body.text(deep=True).split()) == "Kept lede."
