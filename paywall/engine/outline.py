"""One pass over the parsed page: where its text is, for detection and cutting.

The parser (Lexbor, through selectolax) builds the tree a browser builds.
This module walks its text once, in document order, and attributes every
visible piece of text to its *block*: the nearest ancestor that is not inline
markup (``<p>``, ``<li>``, ``<td>``, a ``<div>`` holding text directly...).
Detection scores blocks and their ancestors; the cut counts blocks.

Only text nodes and the elements above them are looked at (a few hundred
records on a real page, not every element), so the pass costs about what the
parser's own traversal costs.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from selectolax.lexbor import LexborHTMLParser, LexborNode

from paywall.engine.text import WORD_INLINE_TAGS, unspaced_count

MATH_TAGS = frozenset(
    {
        "math", "mi", "mo", "mn", "ms", "mtext", "mrow", "msup", "msub", "msubsup", "mfrac", "msqrt", "mroot",
        "mstyle", "mtable", "mtr", "mtd", "mlabeledtr", "munder", "mover", "munderover", "mspace", "mpadded",
        "mphantom", "menclose", "merror", "mfenced", "mmultiscripts", "mprescripts", "none", "semantics",
        "annotation", "annotation-xml", "maction", "maligngroup", "malignmark", "mglyph", "mlongdiv", "mscarries",
        "mscarry", "msgroup", "msline", "msrow", "mstack",
    }
)  # fmt: skip
"""MathML: a formula is part of the sentence it stands in (its symbols are no blocks of their own)."""

INLINE_TAGS = WORD_INLINE_TAGS | {"br", "img", "label"} | MATH_TAGS
"""Markup inside a line of text (formulas too): its text belongs to the enclosing block."""


UNSEEN_TAGS = frozenset(
    {"script", "style", "noscript", "template", "title", "textarea", "iframe", "noembed", "noframes"}
)
"""Elements whose text is not part of what readers see (scripting on, as in browsers): code, and the markup
that browsers keep as text for those that cannot show a frame or an embedded object (an ad's fallback link)."""

HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
"""Headings: their text names a story or a part of one (see :class:`~paywall.engine.label.Label`)."""

_PROBE = LexborHTMLParser("<p>a<br></p><template></template>")
_TEXT_ID = _PROBE.css_first("p").child.tag_id  # type: ignore[union-attr]
_BR_ID = _PROBE.css_first("br").tag_id  # type: ignore[union-attr]
_TEMPLATE_ID = _PROBE.css_first("template").tag_id  # type: ignore[union-attr]
"""Lexbor's numbers for a text node, ``<br>`` and ``<template>``, read from the parser itself."""
del _PROBE

SHADOW_ROOT_ATTRIBUTES = ("shadowrootmode", "shadowroot")
"""A ``<template>`` with one of these is a declarative shadow root: browsers render its content in place, as its
host's (the parser keeps it apart, as any template's content, out of the tree's traversals and selectors)."""

HIDING_SELECTOR = "[hidden], [aria-hidden=true], [style*=display], [style*=visibility]"
STYLE_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


class Element:
    """An element that holds visible text, or is an ancestor of one."""

    __slots__ = (
        "breaks", "brs", "chars", "end_order", "first_text", "hints", "in_link", "last_text", "link_chars", "names",
        "node", "order", "own_chars", "own_commas", "own_link_chars", "own_words", "parent", "pieces", "runs_on",
        "score", "tag",
    )  # fmt: skip

    def __init__(self, node: LexborNode, tag: str, parent: Element | None) -> None:
        self.node = node
        self.tag = tag
        self.parent = parent
        self.in_link: bool = parent is not None and (parent.in_link or parent.tag == "a")
        """Inside a link (``<a><h3>headline</h3></a>``, a card made clickable): its text is link text too."""
        attrs = node.attributes
        if attrs:
            names = f"{attrs.get('class') or ''} {attrs.get('role') or ''}".lower()
            itemprop = attrs.get("itemprop")
            if itemprop:
                names += " itemprop-" + itemprop.lower()
            self.names = names
            element_id = attrs.get("id")
            self.hints = f"{names} {element_id.lower()}" if element_id else names + " "
        else:
            self.names = " "
            self.hints = "  "  # what the names of an element without attributes read (most paragraphs)
        # ``names`` (class, role, itemprop) say what kind of element this is: siblings of one kind have the same.
        # ``hints`` add its id, which says what it holds (``id="article-body"``) but names one element, never a
        # kind (``<div class="paragraph" id="p-4037">``).
        self.order = -1
        """Document order of its first visible text (-1 when it holds none directly)."""
        self.end_order = -1
        """Document order of the last visible text inside it."""
        self.own_chars = 0
        self.own_link_chars = 0
        self.own_commas = 0
        self.own_words = 0
        self.brs = 0
        self.breaks = 0
        """Paragraph breaks typed as ``<br><br>`` (two line breaks with no text between) in its own text."""
        self.runs_on = False
        """Its own text stands before other blocks inside it and again after them (its last text is past them)."""
        self.chars = 0
        self.link_chars = 0
        self.score = 0.0
        self.pieces: list[tuple[str, bool]] = []
        self.first_text: LexborNode | None = None
        self.last_text: LexborNode | None = None
        """Its own visible text, in order, each with whether it is link text."""

    def ancestors(self) -> list[Element]:
        found = []
        parent = self.parent
        while parent is not None:
            found.append(parent)
            parent = parent.parent
        return found

    def within(self, other: Element) -> bool:
        """Whether this element is ``other`` or inside it."""
        node: Element | None = self
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False

    @property
    def link_density(self) -> float:
        return self.link_chars / self.chars if self.chars else 0.0

    def __repr__(self) -> str:
        return f"<{self.tag} {self.hints.strip()!r} chars={self.chars} score={self.score:.1f}>"


_Places = dict[int, tuple[Element, bool] | None]
"""The block (and whether it is link text) of each text node's parent, by ``mem_id``; None where it is unseen."""


class Outline:
    """The blocks of a page in document order, and the elements above them.

    Text hidden by the markup is left out, unless ``include_hidden`` (an article
    hidden until a script reveals it is still an article).
    """

    def __init__(self, tree: LexborHTMLParser, *, include_hidden: bool = False) -> None:
        self.tree = tree
        self.blocks: list[Element] = []
        self.elements: dict[int, Element] = {}
        self.hidden: set[int] = set()
        self.total_chars = 0
        self._orders: list[int] | None = None
        self._children: dict[int, list[Element]] | None = None
        self._indexed = 0
        #: The hosts of the shadow roots being walked, innermost last.
        self._hosts: list[LexborNode] = []
        #: Declarative shadow roots walked (their content is out of reach of the tree's selectors).
        self.shadow_roots = 0
        #: Templates met in the body, of any kind (see :func:`text_with_templates`).
        self.templates = 0
        #: The host of each shadow root's content, by the ``mem_id`` of the fragment that holds it (the parser
        #: gives the fragment no parent): what leads up from the content to the host, where browsers render it.
        self.shadow_hosts: dict[int, LexborNode] = {}
        for root in () if include_hidden else tree.css(HIDING_SELECTOR):
            attrs = root.attributes
            style = attrs.get("style")
            aria = (attrs.get("aria-hidden") or "").strip().lower() == "true"
            if style is not None and "hidden" not in attrs and not aria and not STYLE_HIDDEN.search(style):
                continue
            self.hidden.add(root.mem_id)
            self.hidden.update(node.mem_id for node in root.traverse())
        # Visible text is in the body: the parser moves any text out of the head.
        start = tree.body if tree.body is not None else tree.root
        if start is not None:
            self._walk(start)

    def _in_order(self) -> list[int] | None:
        """The blocks' document orders when they increase along :attr:`blocks` (else None).

        They almost always do; a block that holds text directly after a child block
        (``<div><p>one</p>two</div>``) takes the order of its first text inside,
        which can come before that of blocks listed ahead of it.
        """
        if self._orders is None or len(self._orders) != len(self.blocks):
            orders = [block.order for block in self.blocks]
            self._orders = orders if orders == sorted(orders) else []
        return self._orders or None

    def within(self, spans: list[tuple[int, int]]) -> list[Element]:
        """The blocks whose document order falls in one of ``spans`` (``start <= order < end``), in order.

        Where orders increase along the blocks, each span is two binary searches
        rather than a test of every block (a long article is hundreds of them, and
        the article's blocks are asked for several times).
        """
        blocks = self.blocks
        orders = self._in_order()
        if orders is None:
            return [b for b in blocks if any(start <= b.order < end for start, end in spans)]
        keep = _merged([(bisect_left(orders, start), bisect_left(orders, end)) for start, end in spans])
        return [block for low, high in keep for block in blocks[low:high]]

    def outside(self, spans: list[tuple[int, int]]) -> list[Element]:
        """The blocks whose document order falls in none of ``spans``, in order."""
        blocks = self.blocks
        orders = self._in_order()
        if orders is None:
            return [b for b in blocks if not any(start <= b.order < end for start, end in spans)]
        found: list[Element] = []
        at = 0
        for low, high in _merged([(bisect_left(orders, start), bisect_left(orders, end)) for start, end in spans]):
            found.extend(blocks[at:low])
            at = high
        found.extend(blocks[at:])
        return found

    def children(self, element: Element) -> list[Element]:
        """The records of ``element``'s child elements, in the order they were made (not document order).

        Read from the records themselves, not the tree: a container of hundreds
        of paragraphs is not walked node by node to find them.
        """
        if self._children is None or self._indexed != len(self.elements):
            index: dict[int, list[Element]] = {}
            for record in self.elements.values():
                if record.parent is not None:
                    index.setdefault(id(record.parent), []).append(record)
            self._children, self._indexed = index, len(self.elements)
        return self._children.get(id(element), [])

    def element(self, node: LexborNode) -> Element:
        """The record of ``node``, made (with its ancestors') on first use."""
        return self._record(node, node.mem_id, node.tag or "")

    def _record(self, node: LexborNode, key: int, tag: str) -> Element:
        """:meth:`element` for a node whose ``mem_id`` and tag are read already."""
        elements = self.elements
        found = elements.get(key)
        if found is not None:
            return found
        parent = node.parent
        record = elements.get(parent.mem_id) if parent is not None else None
        if record is not None:  # the usual case: a paragraph of a container already met
            found = elements[key] = Element(node, tag, record)
            return found
        chain: list[tuple[LexborNode, int, str]] = [(node, key, tag)]
        while parent is not None:
            above = parent.mem_id
            record = elements.get(above)
            if record is not None:
                break
            above_tag = parent.tag
            if above_tag is None or above_tag.startswith("-"):
                break
            chain.append((parent, above, above_tag))
            parent = parent.parent
        if record is None and self._hosts:
            # The top of the content of the shadow root being walked: rendered inside its host, whose record is
            # its parent's (the host stands in the shadow root around it, if any).
            host = self._hosts.pop()
            try:
                record = self._record(host, host.mem_id, host.tag or "")
            finally:
                self._hosts.append(host)
        for item, item_key, item_tag in reversed(chain):
            record = Element(item, item_tag, record)
            elements[item_key] = record
        assert record is not None
        return record

    def _place(self, parent: LexborNode, key: int) -> tuple[Element, bool] | None:
        """The block the text children of ``parent`` (whose ``mem_id`` is ``key``) belong to and whether
        they are link text (None: unseen)."""
        hidden = self.hidden
        tag = parent.tag or ""
        if tag in UNSEEN_TAGS or key in hidden:
            return None
        link = False
        if tag in INLINE_TAGS:
            while tag in INLINE_TAGS:
                if tag == "a":
                    link = True
                up = parent.parent
                if up is None:
                    break
                up_tag = up.tag
                if up_tag is None:  # the fragment holding a shadow root's content: its host holds the line
                    if not self._hosts:
                        break
                    up = self._hosts[-1]
                    up_tag = up.tag
                parent, tag = up, up_tag or ""
            key = parent.mem_id
            if key in hidden:
                return None
        block = self._record(parent, key, tag)
        return block, link or block.in_link

    def _walk(self, root: LexborNode) -> None:
        blocks = self.blocks
        self._walk_text(root, 0, {})
        self._sum_up(blocks)

    def _walk_text(self, root: LexborNode, order: int, places: _Places) -> int:
        """Attribute the visible text under ``root`` to its blocks, numbering it in document order from
        ``order``, the content of declarative shadow roots in its place; the next number."""
        blocks = self.blocks
        host = self._hosts[-1] if self._hosts else None
        broken: Element | None = None  # the block of the last <br>, while no text has come after it
        # Whitespace between tags is skipped by the parser's own walk, and nodes are told by their tag's number.
        for node in root.traverse(include_text=True, skip_empty=True):
            tag_id = node.tag_id
            if tag_id != _TEXT_ID:
                if tag_id == _BR_ID:
                    parent = node.parent
                    while parent is not None and parent.tag in INLINE_TAGS:
                        parent = parent.parent
                    record = self.elements.get(parent.mem_id) if parent is not None else None
                    if record is not None:
                        record.brs += 1
                        if broken is record:
                            record.breaks += 1
                        broken = record
                elif tag_id == _TEMPLATE_ID:
                    self.templates += 1
                    order = self._walk_shadow_root(node, order, places)
                continue
            text = node.text_content
            if not text or text.isspace():
                continue
            broken = None
            parent = node.parent
            if parent is None:
                continue
            if host is not None and parent.tag is None:  # text at the top of a shadow root is its host's
                parent = host
            # Text nodes of one parent share their block: it is looked up once.
            key = parent.mem_id
            place = places[key] if key in places else places.setdefault(key, self._place(parent, key))
            if place is None:
                continue
            block, link = place
            if block.order < 0:  # the block's first text
                block.order = order
                block.first_text = node
                blocks.append(block)
            order += 1
            block.end_order = order
            block.last_text = node
            block.pieces.append((text, link))
            size = len(text.strip())
            if text.isascii():
                block.own_commas += text.count(",")
                block.own_words += ascii_word_count(text)
            else:
                unspaced = unspaced_count(text)
                size += 2 * unspaced  # a character of Chinese weighs about a word
                block.own_commas += text.count(",") + text.count("\u060c") + text.count("\uff0c") + text.count("\u3001")
                block.own_words += len(text.split()) + unspaced
            block.own_chars += size
            if link:
                block.own_link_chars += size
        return order

    def _walk_shadow_root(self, template: LexborNode, order: int, places: _Places) -> int:
        """:meth:`_walk_text` of a declarative shadow root's content (a ``<template>`` of any other kind is inert)."""
        attrs = template.attributes
        host = template.parent
        if host is None or host.tag is None or not any(name in attrs for name in SHADOW_ROOT_ATTRIBUTES):
            return order  # an inert template, or one with no element to be the shadow root of
        self._hosts.append(host)
        self.shadow_roots += 1
        try:
            for content in template.template_fragments():
                self.shadow_hosts[content.mem_id] = host
                order = self._walk_text(content, order, places)
        finally:
            self._hosts.pop()
        return order

    def _sum_up(self, blocks: list[Element]) -> None:
        """Totals, and each element's sums and extents of the blocks inside it."""
        self.total_chars = sum(block.own_chars for block in blocks)
        for block in blocks:  # before the extents below make ``order`` and ``end_order`` those of all it holds
            if block.end_order - block.order > len(block.pieces):
                block.runs_on = True
        # Sums and extents of each element's blocks, children before parents: a record is always
        # made after its parent's, so the records in reverse order of making go up the tree.
        records = list(self.elements.values())
        for record in records:
            record.chars = record.own_chars
            record.link_chars = record.own_link_chars
        for record in reversed(records):
            above = record.parent
            if above is None:
                continue
            above.chars += record.chars
            above.link_chars += record.link_chars
            if above.end_order < record.end_order:
                above.end_order = record.end_order
            if record.order >= 0 and (above.order < 0 or above.order > record.order):
                above.order = record.order


_SPACE_MARKS = bytes(32 if c in b" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f" else 120 for c in range(256))
"""ASCII as ``str.split`` reads it: its whitespace as spaces, every other character as ``x``."""


SHORT_TEXT = 100
"""A text shorter than this (a link's, a label's: most of a page's) is split: fewer steps than the count."""


def ascii_word_count(text: str) -> int:
    """``len(text.split())`` for ASCII ``text``, without making a string per word where it is long: the
    starts of words (a character that is not whitespace after one that is, or first) are counted in C."""
    if len(text) < SHORT_TEXT:
        return len(text.split())
    marks = text.encode("ascii").translate(_SPACE_MARKS)
    return marks.count(b" x") + marks.startswith(b"x")


def text_with_templates(node: LexborNode) -> str:
    """``node``'s text (words apart), with that of the templates inside it (``node`` itself too, when it is one):
    a declarative shadow root's, which browsers show, and an inert one's, which a script shows when it
    stamps it (the rest of a story behind a "Read more" button)."""
    text = node.text(deep=True, separator=" ")
    for template in node.css("template"):  # ``node`` itself too, when it is one
        for content in template.template_fragments():
            text += " " + " ".join(text_with_templates(child) for child in content.iter(include_text=True))
    return text


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Index ranges, empty ones dropped, overlapping ones joined, in order."""
    merged: list[tuple[int, int]] = []
    for low, high in sorted(r for r in ranges if r[0] < r[1]):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged
