"""Find the article in a page: content scoring in the spirit of Readability.

Every block of visible text with some length scores points (one, plus one per
comma, plus one per hundred characters, up to three) for the elements above
it: all of it for its parent, half for its grandparent, a third of that
further up (five levels). A paragraph is a ``<p>`` (or a list item, a cell...),
or a ``<div>`` holding text and no block; a ``<div>`` that wraps one alone is
passed over, and runs between ``<br><br>`` score as the paragraphs they are.
A block mostly of link text is no prose and scores nothing. Class and id
names that read like content
(``article``, ``body``, ``content``, ``entry``, ``post``, ``story``, ``text``...)
add to an element's score, names that read like page chrome (``comment``,
``footer``, ``related``, ``sidebar``, ``share``, ``promo``...) subtract;
``<nav>``, ``<aside>``, ``<footer>``, ``<header>`` and the matching ARIA roles
never hold the article. Structured hints confirm: ``itemprop="articleBody"``
and ``<article>`` raise a score. The best element, its score scaled by how
little of its text is link text, is the article; siblings that carry the same
story (a story split over containers, text a stray end tag pushed out) are
taken with it.

A page whose best region is mostly links, too short, or a run of comparable
cards (home, section and search pages) has no article and is not gated.
Articles beside the main one (a next story preloaded for infinite scroll)
are found too, and gated each at its own teaser; so are the posts of a
listing that shows them whole (a blog's home page set to "full text"), each
an ``<article>`` with an article's prose: a listing of cards is let through,
a listing of whole stories would give every one of them away.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from paywall.engine.outline import HEADINGS, INLINE_TAGS, Element, Outline

_POSITIVE = re.compile(
    r"article|body|content|entry|hentry|h-entry|main|page|post|text|blog|story|itemprop-articlebody", re.IGNORECASE
)
_NEGATIVE = re.compile(
    r"-ad-|hidden|\bhid\b|banner|combx|comment|com-|contact|footer|gdpr|masthead|media|meta|outbrain|promo|"
    r"related|scroll|share|shoutbox|sidebar|skyscraper|sponsor|shopping|tags|widget|byline|author|caption|"
    r"newsletter|subscribe|signup|breadcrumb|social|popup|modal|cookie|consent|teaser-list|recirc|trending|"
    r"most-popular|mostread|more-stories|read-more|readmore|toolbar|navbar|menu|nav\b",
    re.IGNORECASE,
)
_UNLIKELY = re.compile(
    r"-ad-|ai2html|banner|breadcrumbs|combx|comment|community|cover-wrap|disqus|extra|footer|gdpr|header|legends|"
    r"menu|related|remark|replies|rss|shoutbox|sidebar|skyscraper|social|sponsor|supplemental|ad-break|agegate|"
    r"pagination|pager|popup|yom-remote|newsletter|recirc|outbrain|taboola|cookie|consent|navbar|\bnav\b",
    re.IGNORECASE,
)
_APPARATUS = re.compile(r"\b(?:footnotes?|endnotes?|reflist|references|citations|bibliography)\b")
"""Names of a story's notes and references: its apparatus, never the story (a list of citations, each with many
commas, scores as prose would)."""
_MAYBE = re.compile(r"and|article|body|column|content|main|shadow|story|entry|post", re.IGNORECASE)
_CHROME_TAGS = frozenset({"nav", "aside", "footer", "header", "form", "menu", "dialog", "button", "select"})
_FRAME_TAGS = frozenset({"form", "dialog"})
"""Chrome tags that are the page's frame when they hold much of its text."""
_CHROME_ROLES = re.compile(
    r"\b(?:navigation|complementary|contentinfo|banner|menu|menubar|dialog|alertdialog|search)\b"
)
_TAG_SCORES = {
    "div": 5.0, "article": 10.0, "main": 5.0, "section": 2.0, "pre": 3.0, "td": 3.0, "blockquote": 3.0,
    "address": -3.0, "ol": -3.0, "ul": -3.0, "dl": -3.0, "dd": -3.0, "dt": -3.0, "li": -3.0, "form": -3.0,
    "h1": -5.0, "h2": -5.0, "h3": -5.0, "h4": -5.0, "h5": -5.0, "h6": -5.0, "th": -5.0,
}  # fmt: skip
_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f\u061f\u0964]['\"\u201d\u2019)]?\s*$")

MIN_BLOCK_CHARS = 25
"""Blocks shorter than this score nothing (labels, buttons, bylines)."""
MIN_MARKED_CHARS = 50
"""A page marked as an article holds at least this much prose (characters outside links) to be gated."""
MAX_LINK_DENSITY = 0.5
"""A region with more of its text in links than this is navigation or a listing."""
CARD_SHARE = 0.6
ENCLOSING_SHARE = 1.5
"""The ``<article>`` around the found story is taken as the article when it holds at most this much more text."""
MIN_SIBLING_CHARS = 200
"""A sibling of the article joins it on its score only when it holds this much text (not a card)."""
PART_LINK_DENSITY = 0.5
"""A sibling of the story's own kind and names is a part of it below this share of text in links (a list of
links is above it; a short part whose one sentence points elsewhere is not)."""
TRAILING_MIN_WORDS = 8
"""Prose after the article in its element (:func:`trailing`) is withheld from this many words (a label is not)."""
RIVER_POSTS = 3
"""This many sibling posts of one kind make a listing (a blog's home page), whose posts are not gated."""
CARD_MAX_CHARS = 800
"""A card (headline and summary) is shorter than this."""
"""In a region made of ``<article>`` cards, one must hold this share of the text to be the article."""
CHROME_MAX_SHARE = 0.4
"""An element holding more than this share of the page's visible text is not chrome, whatever its names."""
UNMARKED_MIN_WORDS = 150
"""A page with no sign of being an article (no ``<article>``, ``og:type`` article, article JSON-LD,
``articleBody``, ``<time>``, author link) is one only with this many words of prose: short pages
such as "about", "terms" or a sign-up page are not gated."""
PAGE_SIGNS = 'meta[property="og:type"][content*=article i], meta[property^="article:"]'
REGION_SIGNS = (
    "article, [itemprop~=articleBody], [itemtype*=Article], [itemtype*=BlogPosting], time, [rel~=author], "
    "[class*=article-body i], [class*=article-content i], [class*=article__body i], [class*=entry-content i], "
    "[class*=post-content i], [class*=post-body i], [class*=story-body i]"
)
_CONTENT_NAMES = re.compile(
    r"itemprop-articlebody|\barticle[_-]?(?:body|content|text)|\b(?:entry|post|story)[_-]?(?:content|body|text)\b"
)
_LD_ARTICLE = re.compile(r'"@type"\s*:\s*\[?[^\]]{0,200}?"(?:\w*Article|BlogPosting|Report|LiveBlogPosting)"')
BLURB_PARAGRAPHS = 3
"""An unmarked region of fewer paragraphs than this (and under twice :data:`UNMARKED_MIN_WORDS`), on a page
mostly of links, is a listing's blurb."""
EXTRA_ARTICLE_CHARS = 1200
"""A second article on the page (preloaded for infinite scroll) holds at least this much prose."""


@dataclass
class Region:
    """The article as found: one or more sibling elements, in document order."""

    members: list[Element]
    continuation: list[LexborNode] = field(default_factory=list)
    """Nodes after the article that carry on its story (a stray end tag pushed them out)."""
    trailing: list[Element] = field(default_factory=list)
    """Blocks of prose after the article in the element that holds it (:func:`trailing`): withheld, not counted."""
    how: str = "scored"

    @property
    def first(self) -> Element:
        return self.members[0]

    @property
    def spans(self) -> list[tuple[int, int]]:
        """The document-order ranges of the members' visible text."""
        return [(m.order, m.end_order) for m in self.members if m.order >= 0]

    def holds(self, element: Element) -> bool:
        """Whether an element with visible text stands inside the article (its text nests in a member's)."""
        return element.order >= 0 and any(start <= element.order < end for start, end in self.spans)

    def blocks(self, outline: Outline) -> list[Element]:
        """The article's blocks of text, in document order."""
        return outline.within(self.spans)


def is_chrome(element: Element, total: int = 0) -> bool:
    """Whether the element is page chrome by its tag, role or names (not a place for the article).

    An element that holds much of the page's text is not chrome, whatever its
    names say (a layout wrapper called ``two-col-sidebar-right`` around the story);
    ``<nav>``, ``<aside>``, ``<footer>``... always are, and a ``<form>`` or a ``<dialog>`` unless it holds much
    of the page.
    """
    if element.tag in _CHROME_TAGS:
        # A <form> around much of the page is its frame, not a form in it (ASP.NET's one <form> a page); so is
        # a <dialog> around much of it (a story opened in a reader's overlay), not a box asking for an address.
        return not (element.tag in _FRAME_TAGS and total and element.chars > CHROME_MAX_SHARE * total)
    if total and element.chars > CHROME_MAX_SHARE * total:
        return False
    hints = element.hints
    if not hints.strip():
        return False
    return _chrome_names(hints) if len(hints) <= MEMO_HINTS_CHARS else _chrome_names.__wrapped__(hints)


@functools.lru_cache(maxsize=4096)
def _chrome_names(hints: str) -> bool:
    """Whether class, id and role names read like chrome (remembered: a page repeats a few names many times)."""
    if _CHROME_ROLES.search(hints):
        return True
    return bool(_UNLIKELY.search(hints)) and not _MAYBE.search(hints)


def _in_chrome(element: Element, memo: dict[int, bool], total: int, holders: frozenset[int] = frozenset()) -> bool:
    chain: list[Element] = []
    node: Element | None = element
    result = False
    while node is not None:
        cached = memo.get(id(node))
        if cached is not None:
            result = cached
            break
        if node.tag == "html":
            break
        chain.append(node)
        node = node.parent
    for item in reversed(chain):
        if not result:
            result = _chrome_itself(item, total, holders)
        memo[id(item)] = result
    return memo.get(id(element), result)


def _chrome_itself(element: Element, total: int, holders: frozenset[int] = frozenset()) -> bool:
    """Whether the element is chrome by itself (not by an ancestor).

    ``holders`` are the elements most of whose text is an ``<article>``'s (:func:`_article_holders`):
    names do not make them chrome (a layout column called ``col-1 highfooter`` around the story).
    """
    if not is_chrome(element, total):
        return False
    if id(element) in holders and element.tag not in _CHROME_TAGS:
        return False
    # Within an <article>, a <header> or <footer> is the article's own (headline, byline).
    return not (element.tag in ("header", "footer") and _inside_article(element))


def _article_holders(outline: Outline) -> frozenset[int]:
    """The elements around an ``<article>`` (or an ``articleBody``) that holds at least half of their text."""
    holders: set[int] = set()
    for node in outline.tree.css(_ARTICLE_ELEMENTS):
        article = outline.elements.get(node.mem_id)
        above = article.parent if article is not None else None
        while article is not None and above is not None and article.chars * 2 >= above.chars:
            holders.add(id(above))
            above = above.parent
    return frozenset(holders)


def _inside_article(element: Element) -> bool:
    parent = element.parent
    while parent is not None:
        if parent.tag in ("article", "main"):
            return True
        parent = parent.parent
    return False


def _initial(element: Element) -> float:
    score = _TAG_SCORES.get(element.tag, 0.0)
    hints = element.hints
    if hints.strip():
        score += _name_points(hints) if len(hints) <= MEMO_HINTS_CHARS else _name_points.__wrapped__(hints)
    return score


@functools.lru_cache(maxsize=4096)
def _name_points(hints: str) -> float:
    """What class, id and role names add to an element's score (remembered, as :func:`_chrome_names`)."""
    points = 0.0
    if _NEGATIVE.search(hints):
        points -= 25
    if _POSITIVE.search(hints):
        points += 25
    if "itemprop-articlebody" in hints:
        points += 25
    return points


MEMO_HINTS_CHARS = 200
"""Names up to this long have their reading remembered (a few thousand of them: a bounded memory)."""


_SCORED_FROM_PARENT = frozenset({"p", "li", "td", "pre", "blockquote", "dd", "h1", "h2", "h3"})
"""Blocks whose points go to their parent first; other blocks (a ``<div>`` holding text) score themselves first."""


def score(outline: Outline) -> list[Element]:
    """Score the page's elements; the candidates, best first.

    Consecutive blocks that score the same elements (the paragraphs of one
    parent) share one walk up the tree; each element still gets its points
    block by block, in document order, so its score is the same sum.
    """
    memo: dict[int, bool] = {}
    scored: dict[int, Element] = {}
    total = outline.total_chars
    holders = _article_holders(outline)
    start_of_run: Element | None = None
    levels: list[tuple[Element, int]] = []
    kinds: dict[int, Counter[tuple[str, str]]] = {}
    for block in outline.blocks:
        if block.own_chars < MIN_BLOCK_CHARS or block.own_link_chars * 2 > block.own_chars:
            continue  # a label, or a line of links (a list of names with commas between them is no prose)
        # Blocks mostly share their parent, whose answer is known after the first: _in_chrome's walk, shortened.
        above = memo.get(id(block.parent))
        if above is None:
            chrome = _in_chrome(block, memo, total, holders)
        elif above:
            chrome = True
        elif block.hints.isspace() and block.tag not in _CHROME_TAGS:
            chrome = False  # neither names nor a tag of chrome (most paragraphs)
        else:
            chrome = _chrome_itself(block, total, holders)
        if chrome:
            continue
        # Paragraphs typed as runs between <br><br> in one block score as paragraphs of their average length in
        # blocks of their own would (runs too short to score, lines of an address, count as one).
        runs = 1 + block.breaks
        if runs > 1 and block.own_chars < MIN_BLOCK_CHARS * runs:
            runs = 1
        points = block.own_commas + runs * (1 + min(block.own_chars // runs // 100, 3))
        # The block's own element counts as its first level when it is a container
        # holding text directly beside other blocks (a <div> with text around its paragraphs).
        start = _scored_from(block, outline, kinds)
        if start is not start_of_run or start is None:
            start_of_run = start
            levels = _levels(start, scored)
        for node, divider in levels:
            node.score += points / divider
    # Notes and references are never the story; their points still go to the story around them.
    candidates = [
        c for c in scored.values() if not _in_chrome(c, memo, total, holders) and not _APPARATUS.search(c.hints)
    ]
    for candidate in candidates:
        candidate.score *= 1 - candidate.link_density
    candidates.sort(key=lambda c: c.score, reverse=True)
    return candidates


def _scored_from(block: Element, outline: Outline, kinds: dict[int, Counter[tuple[str, str]]]) -> Element | None:
    """The first element a block's points go to: its parent for a paragraph (past a ``<div>`` that wraps it
    alone, when the ``<div>`` is one of several of its kind: a site that wraps each paragraph in one), else the
    block itself (a container of text). ``kinds`` remembers the kinds of each parent's children."""
    if block.tag not in _SCORED_FROM_PARENT and not _a_paragraph(block):
        return block
    child, start = block, block.parent
    while start is not None and start.tag == "div" and start.own_chars == 0 and start.chars == child.chars:
        above = start.parent
        if above is None:
            break
        siblings = kinds.get(id(above))
        if siblings is None:  # read from the tree once per parent (most pages have no such wrapper)
            records = (outline.elements.get(node.mem_id) for node in above.node.iter())
            siblings = kinds[id(above)] = Counter((r.tag, r.names) for r in records if r is not None and r.chars)
        if siblings[(start.tag, start.names)] < 2:
            break
        child, start = start, above
    return start


def _a_paragraph(block: Element) -> bool:
    """A ``<div>`` or a custom element (``<story-paragraph>``) holding text and no block with text of its own: a
    paragraph, whatever its tag (as a site that writes its paragraphs as ``<div>`` elements or as components
    does); not one that holds paragraphs as runs between ``<br><br>``, which is their container."""
    return (block.tag == "div" or "-" in block.tag) and block.chars == block.own_chars and not block.breaks


def _levels(start: Element | None, scored: dict[int, Element]) -> list[tuple[Element, int]]:
    """The elements a block's points go to, from ``start`` up five levels (never ``<html>``), with their
    dividers; each gets its initial score when first met."""
    levels: list[tuple[Element, int]] = []
    level = 0
    node = start
    while node is not None and level < 5 and node.tag != "html":
        if id(node) not in scored:
            node.score = _initial(node)
            scored[id(node)] = node
        levels.append((node, 1 if level == 0 else 2 if level == 1 else level * 3))
        node = node.parent
        level += 1
    return levels


def find(outline: Outline, *, view: bool = False) -> list[Region]:
    """The articles of the page (the main one first), or [] when it has none.

    ``view``: the page's address names another view of an article (an AMP or
    print view), which says it is one as metadata would: its prose needs no
    further sign (:data:`UNMARKED_MIN_WORDS` does not apply).
    """
    candidates = score(outline)
    if not candidates:
        return []
    top = _refine(candidates[0], candidates, outline)
    region = _enclosing_article(_widened(_grow(top, outline), outline), outline)
    # A listing is no article; where its items are whole posts (a blog's home page set to show them
    # in full), they are several.
    posts = _river(region.first, outline)
    if _in_a_river(region, posts):
        return _more_articles([], posts, outline, how="a whole post", any_kind=True)
    if _is_listing(region, outline):
        return _more_articles([], candidates, outline, how="a whole post")
    if _is_article(region, outline, view=view):
        return _more_articles([region], candidates[1:], outline, how="another article")
    return []


def _more_articles(
    regions: list[Region], candidates: list[Element], outline: Outline, *, how: str, any_kind: bool = False
) -> list[Region]:
    """``regions`` with each of ``candidates`` that is an article of its own added: an ``<article>`` (or
    ``articleBody``; any element with ``any_kind``) that is not inside or around one found, with
    :data:`EXTRA_ARTICLE_CHARS` of prose and few links (a card is a headline and a summary)."""
    for candidate in candidates:
        if not any_kind and candidate.tag != "article" and "itemprop-articlebody" not in candidate.hints:
            continue
        if any(candidate.within(m) or m.within(candidate) for r in regions for m in r.members):
            continue
        extra = Region([candidate], how=how)
        if prose_chars(extra, outline) >= EXTRA_ARTICLE_CHARS and candidate.link_density < 0.3:
            regions.append(extra)
    return regions


def _enclosing_article(region: Region, outline: Outline) -> Region:
    """The ``<article>`` (or ``articleBody``) element around the region, when it is the story's own wrapper.

    Its other parts (a share box, a standfirst, the byline) belong to the
    story: an explicit break or the cut withholds what of them follows the teaser.
    """
    held = sum(m.chars for m in region.members)
    for ancestor in region.first.ancestors():
        if ancestor.tag in ("body", "html"):
            break
        if ancestor.tag == "article" or "itemprop-articlebody" in ancestor.hints:
            if ancestor.chars <= ENCLOSING_SHARE * held and all(m.within(ancestor) for m in region.members):
                wider = Region([ancestor], how=region.how)
                wider.continuation = continuation(wider, outline)
                return wider
            break
    return region


def _refine(top: Element, candidates: list[Element], outline: Outline) -> Element:
    """Readability's corrections: several near-equal candidates mean their common ancestor holds the story."""
    close = [c for c in candidates[1:8] if c.score >= 0.75 * top.score and not c.within(top) and not top.within(c)]
    if len(close) >= 2:
        for ancestor in top.ancestors():
            if ancestor.tag in ("body", "html"):
                break
            if sum(1 for c in close if c.within(ancestor)) >= 2:
                top = ancestor
                break
    # An element whose parent holds (almost) nothing else stands for the parent: a caption or a byline
    # beside it may be up to a tenth of its text, chrome beside it (a box of related links) only a fiftieth.
    while top.parent is not None and top.parent.tag not in ("body", "html"):
        parent = top.parent
        extra = parent.chars - top.chars
        if extra > min(100, 0.1 * top.chars):
            break
        if extra > min(100, 0.02 * top.chars) and any(
            is_chrome(child, outline.total_chars) for child in outline.children(parent) if child is not top
        ):
            break
        top = parent
    return top


def _grow(top: Element, outline: Outline) -> Region:
    """The top candidate and the siblings that carry the same story."""
    parent = top.parent
    members = [top]
    if top.tag == "body":
        # Text straight in <body>: the body is the article's element.
        region = Region([top])
        return region
    if parent is not None and parent.tag not in ("html",):
        threshold = max(10.0, top.score * 0.2)
        members = []
        for node in parent.node.iter():
            record = outline.elements.get(node.mem_id)
            if record is None:
                continue
            if record is top:
                members.append(record)
                continue
            if record.chars == 0 or is_chrome(record, outline.total_chars):
                continue
            # A sibling that only wraps a block in inline markup (``<span><div>...</div></span>``) is read as
            # that block, which browsers lay out as if the wrapper were not there.
            inner = _unwrapped(record, outline)
            same_names = inner.names == top.names
            bonus = top.score * 0.2 if inner.names.strip() and same_names else 0.0
            same_kind = same_names and inner.tag == top.tag
            if record.score + bonus >= threshold and record.score > 0 and record.chars >= MIN_SIBLING_CHARS:
                members.append(record)
            elif same_kind and inner.score > 0 and record.link_density < PART_LINK_DENSITY and _a_part(inner):
                # A container of the same kind and names holding prose (or, like the story's, of no names: a
                # reference page's plain <section>s): the next step or section of one story, whatever its
                # length and whatever the names are (hashed class names give no hint of a story's parts),
                # and however much of a short one is its link ("See <a>the examples</a> for details.").
                members.append(record)
            elif record.tag in ("p", "blockquote", "pre") or (record.own_chars and record.tag not in INLINE_TAGS):
                density = record.link_density
                if (record.chars > 80 and density < 0.25) or (
                    0 < record.chars <= 80 and density == 0 and _SENTENCE_END.search(_text(record))
                ):
                    members.append(record)
        # Only siblings next to the story, not a stray paragraph far away in the chrome.
        members = _contiguous(members, top, parent, outline)
    region = Region(members)
    region.continuation = continuation(region, outline)
    return region


def _widened(region: Region, outline: Outline) -> Region:
    """The story around ``region`` where the region is the whole of one section of it.

    A region that holds (nearly) all the text of the element around it, when that
    element has siblings of its own kind holding prose (a book's chapter in
    ``<div class="sect1">`` sections, ``<section>``s in ``<section>``s), is one part of a
    longer story: the story is grown again from that element, and so on up. (Without
    this, the longest section was taken for the story, those before it were shown
    whole and those after it sent whole after the call to action.)
    """
    while True:
        parent = region.first.parent
        if parent is None or parent.tag in ("body", "html", "article"):
            return region
        if sum(member.chars for member in region.members) < WHOLE_SHARE * parent.chars:
            return region
        wider = _grow(parent, outline)
        if len(wider.members) < 2 or not _a_part(parent):  # (the selector last: most parents have no siblings)
            return region
        region = wider


#: The share of an element's text that a region holding it all holds at least (the rest: its heading, a caption).
WHOLE_SHARE = 0.9


def _unwrapped(record: Element, outline: Outline) -> Element:
    """The block that an inline element with no text of its own wraps alone, through any depth of such
    wrappers (its only text is that block's, so a headline linking elsewhere would be in it); else ``record``."""
    while record.tag in INLINE_TAGS and record.own_chars == 0:
        inside = outline.children(record)
        if len(inside) != 1:
            break
        record = inside[0]
    return record


def _a_part(element: Element) -> bool:
    """Whether a container may be a part of a story rather than a post of its own: not an ``<article>``, and
    no headline that links elsewhere (a post in a river of posts has one; a heading's link to its own anchor,
    ``<a href="#id">#</a>``, as documentation and blog generators write them, links nowhere else)."""
    return element.tag != "article" and element.node.css_first(_LINKED_HEADLINE) is None


def _contiguous(members: list[Element], top: Element, parent: Element, outline: Outline) -> list[Element]:
    """Members in a run around ``top``: chrome siblings with text between them end the run."""
    chosen = {id(m) for m in members}
    siblings = [outline.elements.get(node.mem_id) for node in parent.node.iter()]
    records = [s for s in siblings if s is not None and s.chars > 0]
    at = next(i for i, r in enumerate(records) if r is top)
    run = [top]
    for step in (-1, 1):
        i = at + step
        while 0 <= i < len(records):
            record = records[i]
            if id(record) in chosen:
                (run.insert(0, record) if step < 0 else run.append(record))
            elif record.chars > 200:
                break
            i += step
    return run


def _text(element: Element) -> str:
    return "".join(text for text, _ in element.pieces).strip()


def prose_chars(region: Region, outline: Outline) -> int:
    """Characters of the region's prose outside links, in blocks long enough to score."""
    return sum(block.own_chars - block.own_link_chars for block in _prose_blocks(region, outline))


def _prose_blocks(region: Region, outline: Outline) -> list[Element]:
    """The region's blocks with enough text outside links to score."""
    return [b for b in region.blocks(outline) if b.own_chars - b.own_link_chars >= MIN_BLOCK_CHARS]


def _names_a_story(element: Element) -> bool:
    """An ``<article>``, or an element named as a story's body (``article-body``, ``itemprop="articleBody"``...)."""
    return element.tag == "article" or _CONTENT_NAMES.search(element.hints) is not None


def has_article_signs(outline: Outline, region: Region) -> bool:
    """Whether the page says the region is an article: its metadata, structured data, or the region's markup.

    Metadata counts wherever it is; ``<article>``, ``<time>`` or an author link
    count only in or around the region (cards of a related-stories box are no sign).
    """
    tree = outline.tree
    if tree.css_first(PAGE_SIGNS) is not None:
        return True
    for member in region.members:
        node = member.node
        if member.tag == "article" or node.css_first(REGION_SIGNS) is not None:
            return True
        for element in [member, *member.ancestors()]:
            if _names_a_story(element):
                return True
    if outline.shadow_roots and _marked_inside(region, outline):
        return True
    return _declares_an_article(tree)


def says_it_is_an_article(tree: LexborHTMLParser) -> bool:
    """Whether the page's metadata or structured data says it is an article (wherever its markup holds it)."""
    return tree.css_first(PAGE_SIGNS) is not None or _declares_an_article(tree)


def _declares_an_article(tree: LexborHTMLParser) -> bool:
    return any(_LD_ARTICLE.search(script.text()) for script in tree.css('script[type="application/ld+json"]'))


def _marked_inside(region: Region, outline: Outline) -> bool:
    """Whether an element between the region's blocks and its members is an ``<article>`` or named as a story's
    body: read from the records, which reach into declarative shadow roots where selectors do not."""
    members = {id(member) for member in region.members}
    for block in region.blocks(outline):
        element: Element | None = block
        while element is not None and id(element) not in members:
            if _names_a_story(element):
                return True
            element = element.parent
    return False


def prose_words(region: Region, outline: Outline) -> int:
    """Words of the region's text outside links (formulas and inline markup split text into small blocks)."""
    return sum(b.own_words for b in region.blocks(outline) if b.own_link_chars * 2 < b.own_chars)


def _is_article(region: Region, outline: Outline, *, view: bool = False) -> bool:
    """Whether a region that is no listing (:func:`find` asks that first) tells a story."""
    chars = sum(m.chars for m in region.members)
    links = sum(m.link_chars for m in region.members)
    if not chars or links / chars > MAX_LINK_DENSITY:
        return False
    if view or has_article_signs(outline, region):
        # A page that says it is an article is gated even when short (or cut off in transit).
        return prose_chars(region, outline) >= MIN_MARKED_CHARS
    words = prose_words(region, outline)
    if words < UNMARKED_MIN_WORDS:
        return False
    # A paragraph or two, short, on a page that is mostly links, with no sign of an article: the description of
    # a section, an "about" box beside the stories a home page lists (whose cards may be links whole).
    links = sum(block.own_link_chars for block in outline.blocks)
    if words >= 2 * UNMARKED_MIN_WORDS or 2 * links <= outline.total_chars:
        return True
    return sum(1 + block.breaks for block in _prose_blocks(region, outline)) >= BLURB_PARAGRAPHS


def _in_a_river(region: Region, posts: list[Element]) -> bool:
    """Whether the article is one of a run of posts of one kind (a blog's home page, an archive): ``posts``
    is :func:`_river` of its first member."""
    first = region.first
    return len([post for post in posts if post is first or post not in region.members]) >= RIVER_POSTS


def _river(first: Element, outline: Outline) -> list[Element]:
    """``first`` and its siblings of its kind (tag and names, ids aside) that hold text and a headline of their own: the
    posts of a run of them, in order (a story split over containers has one headline)."""
    parent = first.parent
    if parent is None or first.tag in ("body", "html"):
        return []
    posts = []
    for node in parent.node.iter():
        sibling = outline.elements.get(node.mem_id)
        if sibling is None or sibling.tag != first.tag or sibling.names != first.names or not sibling.chars:
            continue
        if node.css_first("h1, h2, h3") is not None:
            posts.append(sibling)
    return posts


def _is_listing(region: Region, outline: Outline) -> bool:
    """A region made of cards (home, section and search pages) is a listing, not an article.

    Cards are ``<article>`` elements inside the region, or three or more
    siblings of one kind (same tag and class) that each hold a link; when
    they hold most of the region's text and none of them dominates, the
    region lists stories instead of telling one.
    """
    total = sum(m.chars for m in region.members)
    if not total:
        return False
    groups: list[list[Element]] = []
    cards: list[Element] = []
    for record in outline.elements.values():
        inside = record.tag == "article" and region.holds(record) and record not in region.members
        if inside and record.chars and not any(record.within(card) for card in cards):
            cards = [c for c in cards if not c.within(record)] + [record]
    groups.append(cards)
    for member in region.members:
        for container in [member, *_only_children(member, outline)]:
            kinds: dict[tuple[str, str], list[Element]] = {}
            for child in outline.children(container):
                if child.chars:
                    kinds.setdefault((child.tag, child.names), []).append(child)
            groups.extend(group for group in kinds.values() if all(_is_card(c) for c in group))
    for group in groups:
        if len(group) < 3:
            continue
        held = sum(card.chars for card in group)
        if held >= CARD_SHARE * total and max(card.chars for card in group) < CARD_SHARE * total:
            return True
    return False


def _is_card(element: Element) -> bool:
    """A short item led by a link: a headline and a summary, not a page of the story.

    A paragraph (an element holding its text itself, no block with text inside it) is a card only when its
    text starts in a link (``<li><a>Headline</a> summary</li>``): a paragraph of a story that links mid-sentence
    ("according to <a>the report</a>, ...") is none, however many of the story's paragraphs do.
    """
    if element.chars > CARD_MAX_CHARS or element.link_chars * 10 < element.chars:
        return False
    return element.chars != element.own_chars or bool(element.pieces and element.pieces[0][1])


def _only_children(element: Element, outline: Outline) -> list[Element]:
    """The chain of single wrappers below ``element`` (a list inside a div inside a section)."""
    chain: list[Element] = []
    current = element
    while True:
        children = [c for c in outline.children(current) if c.chars]
        if len(children) != 1:
            return chain
        current = children[0]
        chain.append(current)


_PROSE_TAGS = frozenset({"p", "blockquote", "pre"})
_CONTROLS = "form, input, select, textarea, button, iframe"
_ARTICLE_ELEMENTS = "article, [itemprop=articleBody]"
_LINKED_HEADLINE = ", ".join(f"{h} a[href]:not([href^='#'])" for h in ("h1", "h2", "h3", "h4"))
_STORY_NAMES = re.compile(r"article|story|post|entry|content|text|body")
#: Names of a section of readers' comments (WordPress's ``#comments`` and ``#respond``, Disqus's thread...).
_COMMENTS = re.compile(r"comment|disqus|replies|respond|discussion")
_HEADINGS_SELECTOR = ", ".join(sorted(HEADINGS))
_FORM_TAGS = frozenset({"form", "button", "select", "textarea", "label", "dialog", "menu"})
_PASSED_OVER = frozenset({"script", "style", "link", "meta", "template", "noscript"})
_HEADINGS = frozenset({"h2", "h3", "h4", "h5", "h6"})


def continuation(region: Region, outline: Outline) -> list[LexborNode]:
    """Prose right after the article that belongs to it: what a stray end tag pushed out.

    A stray ``</div>`` or ``</article>`` in the story closes the article's
    element early, and the parser puts the rest of the story after it. This
    returns the nodes that directly continue the article in document order:
    following siblings of the article and of each ancestor, as long as they
    are paragraphs, bare text, inline markup, quotes, lists that are not
    lists of links, or headings followed by a paragraph. The first other
    element (a ``<div>``, ``<section>``, ``<aside>``, ``<footer>``, a list of
    links...) is page chrome and ends it.
    """
    taken: list[LexborNode] = []
    level: LexborNode | None = region.members[-1].node
    while level is not None and level.tag not in ("body", "html", None):
        sibling = level.next
        stop = False
        while sibling is not None:
            tag = sibling.tag
            if tag == "-text":
                if (sibling.text_content or "").strip():
                    taken.append(sibling)
            elif tag in _PASSED_OVER or tag == "-comment" or tag is None:
                pass
            elif (
                tag in INLINE_TAGS
                or tag in _PROSE_TAGS
                or (tag in ("ul", "ol", "dl") and not is_link_list(sibling))
                or (tag in _HEADINGS and _next_is_paragraph(sibling))
            ):
                taken.append(sibling)
            else:
                stop = True
                break
            sibling = sibling.next
        if stop:
            break
        level = level.parent
    while taken and taken[-1].tag == "-text" and not (taken[-1].text_content or "").strip():
        taken.pop()  # layout whitespace before the chrome stays where it is
    return taken


def trailing(region: Region, outline: Outline, regions: list[Region]) -> list[Element]:
    """The prose that follows the article in the element holding it (a note to readers, a bio), and its comments.

    What stands there after the story (past a share box or an ad slot, where
    :func:`continuation` stops) may be taken for its end by a reader of the
    page, and readers' comments further down quote it. Every later sibling of
    the article's last element that is not chrome nor another article (when
    the element holding them is the story's own: an ``<article>``, ``<main>``,
    or one named for a story or a post, not a layout's row of columns), and
    every later section of comments around it (below ``<body>``), gives up its
    blocks of prose: not those in a form, a menu or other chrome inside it,
    nor lines of links, nor one around a form's fields, and only when they
    hold :data:`TRAILING_MIN_WORDS` words or more. The siblings themselves,
    their links, images and forms stay.
    """
    last = region.members[-1]
    total = outline.total_chars
    skipped = {node.mem_id for node in region.continuation}
    others = [m for other in regions if other is not region for m in other.members]
    taken: list[Element] = []
    # Notes and bios stand in the story's own element; a layout's element holds other columns instead.
    holder = last.parent
    story_element = holder is not None and (
        holder.tag in ("article", "main") or bool(_STORY_NAMES.search(holder.hints))
    )
    level = last
    while level.parent is not None and level.parent.tag not in ("body", "html"):
        memo: dict[int, bool] = {id(level.parent): False}
        sibling = level.node.next
        while sibling is not None:
            record = outline.elements.get(sibling.mem_id)
            sibling = sibling.next
            if record is None or not record.chars or record.node.mem_id in skipped:
                continue
            comments = bool(_COMMENTS.search(record.hints))
            if not (comments or (level is last and story_element)):
                continue
            if any(m.within(record) or record.within(m) for m in others):
                continue
            if not comments and record.node.css_first(_HEADINGS_SELECTOR) is not None:
                continue  # a box of its own (related stories, downloads), not a word to the story's readers
            blocks = [
                block
                for block in outline.within([(record.order, record.end_order)])
                if (_outside_forms(block, record) if comments else _prose_outside_chrome(block, memo, total))
                and block.node.css_first(_CONTROLS) is None
            ]
            if sum(block.own_words for block in blocks) < TRAILING_MIN_WORDS:
                continue
            if comments or any(_SENTENCE_END.search(_text(block)) for block in blocks):
                taken.extend(blocks)
        level = level.parent
    return taken


def _prose_outside_chrome(block: Element, memo: dict[int, bool], total: int) -> bool:
    """Whether ``block`` is prose (not a line of links) outside the page's chrome."""
    return block.own_link_chars * 2 < block.own_chars and not _in_chrome(block, memo, total)


def _outside_forms(block: Element, top: Element) -> bool:
    """Whether no element from ``block`` up to ``top`` is a form or a control (a comment's reply form stays)."""
    node: Element | None = block
    while node is not None and node is not top:
        if node.tag in _FORM_TAGS:
            return False
        node = node.parent
    return True


def _next_is_paragraph(node: LexborNode) -> bool:
    sibling = node.next
    while sibling is not None:
        tag = sibling.tag
        if tag == "-text":
            if (sibling.text_content or "").strip():
                return True
        elif tag not in _PASSED_OVER and tag != "-comment":
            return tag == "p"
        sibling = sibling.next
    return False


def is_link_list(node: LexborNode) -> bool:
    """Whether at least half of the element's text is the text of its links."""
    total = len(node.text(deep=True).strip())
    linked = sum(len(a.text(deep=True).strip()) for a in node.css("a"))
    return linked * 2 >= total
