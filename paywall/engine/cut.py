"""Cut the article at its teaser: a point in document order, everything after it withheld.

The teaser is counted in *units of prose*: paragraphs, list items, table
cells, ``<div>`` blocks of text, runs of text between ``<br><br>``, and the
sentences of a very long paragraph, each with at least :data:`MIN_UNIT_WORDS`
words (bylines, labels, captions and headings are shown when they come before
the cut but are not counted; a caption is a ``<figure>``'s, a ``<caption>``, or
an element named for one). An explicit break wins: ``<!--more-->``,
``<!-- paywall -->``, ``<!--members-only-->`` or an element with
``data-paywall-break`` (the marker goes too).

Whatever comes before the cut is the teaser; whatever comes after it in the
article's elements, in the siblings that carry the story on, and in the prose
a stray end tag pushed out, is removed from the tree, wherever the parser put
it. At least one unit is always withheld, and the teaser never holds more
than :data:`MAX_TEASER_SHARE` of the article's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborNode

from paywall.engine.detect import Region, is_link_list
from paywall.engine.outline import HEADINGS, INLINE_TAGS, UNSEEN_TAGS, Element, Outline, text_with_templates
from paywall.engine.text import unspaced_count

BREAK_COMMENT = re.compile(r"^\s*(?:more|paywall|members[\s_-]*only)\s*$", re.IGNORECASE)
BREAK_ATTRIBUTE = "data-paywall-break"
MIN_UNIT_WORDS = 8
"""A block of fewer words is not counted as a paragraph of the teaser."""
LONG_UNIT_WORDS = 120
"""A paragraph longer than this counts as several units, split at sentence ends."""
SENTENCE_UNIT_WORDS = 50
"""Sentences of a long paragraph are counted in groups of about this many words."""
MAX_TEASER_SHARE = 0.6
"""The teaser holds at most this share of the article's words (the last 40% is always withheld)."""
MIN_TEASER_WORDS = 25
"""Units are added to the teaser past ``teaser_paragraphs`` until it has this many words (within the share)."""
SHORT_UNIT_WORDS = 20
"""A unit shorter than this counts only when it ends a sentence (bylines, labels and data cells do not)."""

_NOT_COUNTED = frozenset(
    {"header", "figure", "figcaption", "aside", "h1", "h2", "h3", "h4", "h5", "h6", "caption", "th"}
)
_CAPTION = re.compile(r"caption")
"""An element named for a caption (``wp-caption``, ``caption``, ``credit-caption``): a photo's words, not the story's,
where no ``<figure>`` says so."""
CAPTION_MAX_CHARS = 600
"""A caption holds no more text than this: a larger element named for captions (``story-body has-captions``) holds
the story."""
_AFTER_BLOCKS = frozenset(
    {"p", "pre", "blockquote", "li", "td", "th", "tr", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption"}
)
_SENTENCE = re.compile(
    r"[.!?\u061f\u0964]['\"\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]['\"\u201d\u2019)\]\u300d\u300f\uff09]*\s*"
)
"""A sentence's end: its stop and closing quotes, then a space, which Chinese and Japanese do not write."""
_SENTENCE_END = re.compile(r"[.!?:;\u3002\uff01\uff1f\u061f\u0964\u2026]['\"\u201d\u2019)\]]*$")


@dataclass(slots=True)
class Unit:
    """One counted unit of prose and where it ends: after ``node``, or inside it at ``offset``."""

    words: int
    node: LexborNode
    offset: int | None = None
    start: LexborNode | None = None
    """Where the unit starts, when the teaser is to show none of it."""


@dataclass
class Cut:
    withheld: list[str] = field(default_factory=list)
    """Text of everything removed, in document order."""
    how: str = ""
    cta_after: LexborNode | None = None
    """The call to action goes right after this node..."""
    cta_inside: LexborNode | None = None
    """...or at the end of this one..."""
    cta_before: LexborNode | None = None
    """...or right before this one (an article withheld from its first block)."""
    doomed: list[LexborNode] = field(default_factory=list)
    replace: tuple[LexborNode, str] | None = None
    shadow_hosts: dict[int, LexborNode] = field(default_factory=dict)
    """:attr:`Outline.shadow_hosts <paywall.engine.outline.Outline.shadow_hosts>` of the page cut."""
    templates: bool = False
    """The page holds templates: the text of those withheld is withheld text too (:func:`remove`)."""


def cut(outline: Outline, region: Region, teaser_units: int) -> Cut:
    """Remove everything after the teaser from the tree; report what went and where the call to action goes."""
    result = Cut(shadow_hosts=outline.shadow_hosts, templates=outline.templates > 0)
    marker = _find_break(region)
    if marker is not None:
        result.how = "break"
        _remove_after(marker, region, result, include=True, cta_before=False)
        return result
    units = _units(outline, region)
    if not units:
        # Prose too short to count: everything of the article goes but its first block.
        blocks = region.blocks(outline)
        if not blocks:
            result.how = "empty"
            result.cta_inside = region.first.node
            return result
        result.how = "units:0"
        _remove_after(blocks[0].node, region, result, include=True)
        return result
    # The story a stray end tag pushed out counts toward the article's length too.
    total = sum(u.words for u in units) + sum(_words_in(node.text(deep=True)) for node in region.continuation)
    keep = _teaser_size([u.words for u in units], teaser_units, total)
    if keep == 0 and units[0].offset is None and teaser_units > 0 and units[0].node.parent is not None:
        # The first unit alone is more than the teaser may show: count its sentences instead.
        sentences = _split(units[0].node.parent, True, target=MIN_TEASER_WORDS)
        if len(sentences) > 1:
            sentences[0].start = units[0].start
            units = sentences + units[1:]
            keep = _teaser_size([u.words for u in units], teaser_units, total)
    result.how = f"units:{keep}"
    if keep == 0:
        first = units[0]
        _remove_after(first.start or first.node, region, result, include=True)
        return result
    last = units[keep - 1]
    _remove_after(last.node, region, result, include=False, offset=last.offset)
    return result


def _teaser_size(units: list[int], wanted: int, total: int) -> int:
    """How many units (given by their words) the teaser shows: ``wanted``, topped up to a few sentences, within
    the share.

    At least one unit is withheld, unless the story goes on beyond the article's
    element (``total`` counts more words than the units hold).
    """
    limit = MAX_TEASER_SHARE * total
    counted = sum(units)
    keep = min(max(wanted, 0), len(units) if total > counted else len(units) - 1)
    if wanted > 0:
        while keep < len(units) - 1 and sum(units[:keep]) < MIN_TEASER_WORDS:
            keep += 1
    while keep > 0 and sum(units[:keep]) > limit:
        keep -= 1
    return min(keep, len(units) - 1) if keep == len(units) and total <= counted else keep


def text_teaser(text: str, teaser_units: int) -> tuple[list[str], list[str]]:
    """The teaser and the withheld rest of an article known only as text (the ``articleBody`` a page declares
    and a script renders), counted as the same article in the page would be: its lines are its paragraphs,
    and a long one counts in groups of sentences."""
    units: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        start = 0
        if _words_in(line) > LONG_UNIT_WORDS:
            for match in _SENTENCE.finditer(line):
                if _words_in(line[start : match.end()]) >= SENTENCE_UNIT_WORDS:
                    units.append(line[start : match.end()].strip())
                    start = match.end()
        if line[start:].strip():
            units.append(line[start:].strip())
    counts = [_words_in(unit) for unit in units]
    keep = _teaser_size(counts, teaser_units, sum(counts))
    return units[:keep], units[keep:]


def _find_break(region: Region) -> LexborNode | None:
    for member in region.members:
        # Elements are asked for their attributes only where a selector says one has the mark.
        marked = member.node.css_first(f"[{BREAK_ATTRIBUTE}]") is not None
        # The node kind is read as a flag, not as a tag name made into a string for every node.
        for node in member.node.traverse(include_text=True):
            if node.is_comment_node:
                if BREAK_COMMENT.match(node.comment_content or ""):
                    return node
            elif marked and node.is_element_node and BREAK_ATTRIBUTE in node.attributes:
                return node
    return None


def _counted(block: Element, members: dict[int, bool], memo: dict[int, bool]) -> bool:
    """Whether no element from ``block`` up to the article's member is a heading, caption, header...

    ``members`` tells, by the ``id`` of each member, whether its text counts
    (not that of a member that is a heading). The answer of every element
    passed is kept in ``memo`` (by ``id``): the blocks of an article mostly
    share their parent, which is then asked once.
    """
    chain: list[Element] = []
    node: Element | None = block
    result = True
    while node is not None:
        known = members.get(id(node))
        if known is None:
            known = memo.get(id(node))
        if known is not None:
            result = known
            break
        chain.append(node)
        node = node.parent
    for item in reversed(chain):
        result = result and item.tag not in _NOT_COUNTED and not _is_caption(item)
        memo[id(item)] = result
    return result


def _is_caption(element: Element) -> bool:
    """Whether ``element`` is named for a caption and small enough to be one."""
    return element.chars <= CAPTION_MAX_CHARS and _CAPTION.search(element.hints) is not None


def _units(outline: Outline, region: Region) -> list[Unit]:
    units: list[Unit] = []
    memo: dict[int, bool] = {}
    # A headline found as a part of the article (its <h1> beside the story's element) is shown, not counted.
    members = {id(m): m.tag not in HEADINGS for m in region.members}
    runs_on = False
    for block in region.blocks(outline):
        prose = block.own_words
        if prose < MIN_UNIT_WORDS:
            continue
        # Blocks mostly share their parent, whose answer is known after the first: _counted's walk, shortened.
        above = memo.get(id(block.parent))
        if above is None:
            counted = _counted(block, members, memo)
        else:
            member = members.get(id(block))
            counted = member if member is not None else above and block.tag not in _NOT_COUNTED
        if not counted:
            continue
        if block.runs_on:
            # Its own text stands before other blocks inside it and again after them (a container's line on
            # top and colophon below; lines between <br>s around headings and tables): each run between them
            # is a unit of its own, ending where the next block starts. Units are put in document order below.
            runs_on = True
            runs = [u for u in _split(block.node, prose > LONG_UNIT_WORDS) if u.words >= MIN_UNIT_WORDS]
            if runs:  # known by where they end: the first starts where the block's text does
                runs[0].start = block.first_text
            units.extend(runs)
            continue
        if prose < SHORT_UNIT_WORDS and not _SENTENCE_END.search(_text(block)):
            continue
        if block.own_link_chars * 2 > block.own_chars:
            continue
        if block.brs >= 2 or prose > LONG_UNIT_WORDS:
            split = _split(block.node, prose > LONG_UNIT_WORDS)
            if len(split) > 1:
                split[0].start = block.first_text
                units.extend(split)
                continue
        assert block.last_text is not None
        units.append(Unit(prose, block.last_text, start=block.first_text))
    if runs_on:
        # The runs of such a block were listed with it, before the blocks between them: in document order.
        position = {
            node.mem_id: at
            for at, node in enumerate(node for m in region.members for node in m.node.traverse(include_text=True))
        }
        units.sort(key=lambda unit: (position.get(unit.node.mem_id, -1), unit.offset or 0))
    return units


def _text(block: Element) -> str:
    return "".join(text for text, _ in block.pieces).rstrip()


def _words_in(text: str) -> int:
    """Words of ``text`` as the outline counts them: a character of a script without spaces is one."""
    return len(text.split()) + unspaced_count(text)


def _split(node: LexborNode, long: bool, target: int = 0) -> list[Unit]:
    """Units inside one block: runs between ``<br><br>``, and groups of sentences or lines of a long one."""
    children = list(node.iter(include_text=True))
    while True:
        solid = [c for c in children if c.tag not in ("-text", "-comment") or (c.text_content or "").strip()]
        if len(solid) != 1 or solid[0].tag in ("-text", "br") or solid[0].tag not in INLINE_TAGS:
            break
        children = list(solid[0].iter(include_text=True))
    units: list[Unit] = []
    words = 0
    previous_br = False
    last: LexborNode | None = None
    for child in children:
        tag = child.tag
        if tag not in ("-text", "-comment", "br") and tag not in INLINE_TAGS and tag not in UNSEEN_TAGS:
            # A block inside (a heading, a paragraph after the block's own opening lines) counts on its own:
            # the run before it ends where it starts, and its words are not the run's (or the last run
            # would end past it, and the story's words would count twice).
            if words >= MIN_UNIT_WORDS and last is not None:
                units.append(Unit(words, last))
            words, previous_br = 0, False
            continue
        last = child
        if tag == "br":
            # A long block typed as lines (a changelog, a poem, a post with no paragraphs) has few
            # sentence ends to cut at: its single line breaks close a group of lines as sentences would.
            at_line = long and words >= (target or SENTENCE_UNIT_WORDS)
            if (previous_br or at_line) and words >= MIN_UNIT_WORDS:
                units.append(Unit(words, child))
                words = 0
            previous_br = True
            continue
        if tag == "-comment":
            continue
        if tag == "-text":
            text = child.text_content or ""
            if not text.strip():
                continue
            previous_br = False
            start = 0
            if long:
                end_of_text = len(text.rstrip())
                for match in _SENTENCE.finditer(text):
                    count = _words_in(text[start : match.end()])
                    if words + count >= (target or SENTENCE_UNIT_WORDS) and match.end() < end_of_text:
                        units.append(Unit(words + count, child, match.end()))
                        words, start = 0, match.end()
            words += _words_in(text[start:])
            continue
        previous_br = False
        text = child.text(deep=True)
        words += _words_in(text)
        if long and words >= (target or SENTENCE_UNIT_WORDS) and _SENTENCE_END.search(text.rstrip()):
            # Inline markup that ends a sentence (paragraphs typed as <span>s styled as blocks) closes a group too.
            units.append(Unit(words, child))
            words = 0
    if units and words > 0 and last is not None:
        units.append(Unit(words, last))
    return units


def _remove_after(
    node: LexborNode,
    region: Region,
    result: Cut,
    *,
    include: bool,
    offset: int | None = None,
    cta_before: bool | None = None,
) -> None:
    """Remove what follows ``node`` in the region (and ``node`` itself with ``include``).

    With ``offset``, ``node`` is a text node cut inside: its text from ``offset`` on goes.
    The call to action's place is recorded in ``result`` before anything is removed.
    """
    doomed: list[LexborNode] = []
    if include and offset is None:
        doomed.append(node)
    current = node
    path: list[LexborNode] = []
    member: Element | None = None
    while True:
        member = next((m for m in region.members if m.node.mem_id == current.mem_id), None)
        if member is not None:
            break
        path.append(current)
        sibling = current.next
        while sibling is not None:
            if sibling.tag != "nav" or not is_link_list(sibling):  # the site's links to other pages stay
                doomed.append(sibling)
            sibling = sibling.next
        parent = current.parent or result.shadow_hosts.get(current.mem_id)  # up through a shadow root's host
        if parent is None:
            break
        current = parent
    if member is not None:
        later = region.members[region.members.index(member) + 1 :]
        doomed.extend(m.node for m in later)
        _place(result, member, path, before=include if cta_before is None else cta_before)
    doomed.extend(region.continuation)
    doomed.extend(block.node for block in region.trailing)
    result.doomed = doomed
    if offset is not None and node.tag == "-text":
        text = node.text_content or ""
        keep, rest = text[:offset], text[offset:]
        if rest.strip():
            result.withheld.append(rest)
        if include or not keep.strip():
            doomed.append(node)
        else:
            result.replace = (node, keep.rstrip() + " ")


_STRUCTURE = frozenset(
    {"li", "dd", "dt", "td", "th", "tr", "tbody", "thead", "tfoot", "ul", "ol", "dl", "table", "p", "pre"}
)
_HEADING_OR_TEXT = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "figcaption", "caption"})


def _place(result: Cut, member: Element, path: list[LexborNode], *, before: bool) -> None:
    """Where the call to action stands: right after the teaser's last block (or before the first
    withheld one), outside any list, table or paragraph it would break, never inside inline markup."""
    if not path:
        if before:
            result.cta_before = member.node
        elif member.tag in _AFTER_BLOCKS or member.tag in INLINE_TAGS:
            result.cta_after = member.node
        else:
            result.cta_inside = member.node
        return
    # Outermost list, table or paragraph around the cut below the member; else the member's child.
    anchor = path[-1]
    for item in reversed(path):
        tag = item.tag or ""
        if tag in _STRUCTURE or tag in _HEADING_OR_TEXT:
            anchor = item
            break
        if item.tag is None or tag.startswith("-") or tag in INLINE_TAGS:  # None: a shadow root's fragment
            break
        anchor = item
    if member.tag in _AFTER_BLOCKS and not before:
        result.cta_after = member.node
    elif before:
        result.cta_before = anchor
    else:
        result.cta_after = anchor


def remove(result: Cut) -> None:
    """Take what the cut withholds out of the tree, its text kept in ``result.withheld``.

    A doomed node inside another doomed element goes with it (its text is
    part of the element's; a node is never read after it is removed).
    """
    doomed = _outermost(result.doomed, result.shadow_hosts)
    templates = result.templates
    if templates:
        # What withheld templates hold (a shadow root's story, the rest behind a "Read more" button) is withheld
        # text too, so that its copies elsewhere are swept: read before the templates inside go with the code.
        texts = {
            key: text_with_templates(item)
            for item, tag, key, *_ in doomed
            if tag == "template" or (tag not in _NODES and tag not in _NOT_PROSE)
        }
    _strip_code(doomed)
    for item, tag, key, *_ in doomed:
        if templates and key in texts:
            text = texts[key]
        elif tag in _NOT_PROSE:
            text = ""
        elif tag not in ("-text", "-comment", None):
            text = item.text(deep=True, separator=" ")
        elif tag == "-text":
            text = item.text_content or ""
        else:
            text = ""
        if text.strip():
            result.withheld.append(text)
        item.decompose()
    if result.replace is not None:
        node, text = result.replace
        node.replace_with(text)


_Doomed = tuple[LexborNode, str | None, int, LexborNode | None, int]
"""A doomed node, its tag and ``mem_id``, its parent and the parent's ``mem_id``, each read once from the tree."""


def _outermost(doomed: list[LexborNode], hosts: dict[int, LexborNode]) -> list[_Doomed]:
    """The doomed nodes that are not inside another doomed element, in their order, with what was read of them.

    ``hosts`` leads from the fragment holding a shadow root's content to its host (:attr:`Cut.shadow_hosts`): a
    node in it is inside a doomed host too.

    Whether a node has a doomed ancestor is kept for every ancestor passed:
    doomed nodes are mostly siblings (the rest of a long article), whose common
    parent and its ancestors are then looked at once, not once per node.
    """
    read = [(item, item.tag, item.mem_id) for item in doomed]
    ids = {key for _, tag, key in read if tag not in ("-text", "-comment", None)}
    covered: dict[int, bool] = {}
    """Ancestors passed: whether they are, or are inside, a doomed element."""
    kept: list[_Doomed] = []
    seen: set[int] = set()
    for item, tag, key in read:
        if key in seen:
            continue
        seen.add(key)
        parent = item.parent
        parent_key = parent.mem_id if parent is not None else 0
        node = parent if parent is not None else hosts.get(key)
        above = node.mem_id if node is not None else 0
        passed: list[int] = []
        inside = False
        while node is not None:
            if above in ids:
                inside = True
                break
            known = covered.get(above)
            if known is not None:
                inside = known
                break
            passed.append(above)
            node = node.parent or hosts.get(above)
            above = node.mem_id if node is not None else 0
        for one in passed:
            covered[one] = inside
        if not inside:
            kept.append((item, tag, key, parent, parent_key))
    return kept


def _strip_code(doomed: list[_Doomed]) -> None:
    """Remove the scripts, styles, templates, noscripts, frames and controls inside the doomed elements (their text
    is no prose).

    The doomed elements are mostly siblings: their code is looked up once per
    parent, not once per element (a long article is hundreds of paragraphs).
    """
    elements = [(item, key, parent, parent_key) for item, tag, key, parent, parent_key in doomed if tag not in _NODES]
    scopes = {parent_key: parent for _, _, parent, parent_key in elements if parent is not None}
    scopes.update((key, item) for item, key, parent, _ in elements if parent is None)
    ids: set[int] | None = None
    # One scope may hold another: each is searched after the code found before is gone, never twice.
    for scope_key, scope in scopes.items():
        for found in scope.css(_STRIPPED):
            if found.mem_id == scope_key:
                continue  # css() matches the element it is asked on too
            if ids is None:
                ids = {key for _, key, _, _ in elements}
            node: LexborNode | None = found.parent  # inside a doomed element, not one itself
            while node is not None and node.mem_id != scope_key:
                if node.mem_id in ids:
                    found.decompose()
                    break
                node = node.parent


_NODES = frozenset({"-text", "-comment", None})
"""Tags of the doomed nodes that are not elements."""
_CODE = frozenset({"script", "style", "template", "noscript", "iframe", "noembed", "noframes"})
"""Withheld elements whose content is code or markup kept as text (scripts, an ad frame's fallback link), not
prose: they add nothing to the fingerprint (their URLs and code words would mark every copy of the same code
elsewhere as withheld)."""
_CONTROLS = frozenset({"form", "button", "label", "select"})
"""Withheld controls (a newsletter's sign-up box in the article): their words are the site's, shown again elsewhere
(the same box in a banner), not the story's, and add nothing to the fingerprint either."""
_NOT_PROSE = _CODE | _CONTROLS
_STRIPPED = ", ".join(sorted(_NOT_PROSE))
