"""The HTML engine: find the article in a page, cut it at its teaser, scrub copies.

Everything that touches the HTML parser lives here and in :mod:`paywall.leaks`,
so the engine can be replaced without touching the middleware. The public
surface is :class:`Page`, the byte-level helpers that need no parse
(:func:`inject_head`, :func:`head_insertion_point`, :func:`encode_head_html`,
:func:`canonical_path`), and :func:`decode_body`.

Parsing is done with a real HTML parser (lxml through BeautifulSoup): the cut
respects the tree, and the output is serialised from the tree, so it is well
formed whatever the input looked like. Any failure becomes
:class:`~paywall.errors.RewriteError`, so that callers fail closed on exactly
that error.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Comment, Tag, XMLParsedAsHTMLWarning
from bs4.element import NavigableString, PageElement, ProcessingInstruction

from paywall import leaks
from paywall.engine.decode import decode_body
from paywall.engine.head import canonical_path, encode_head_html, head_insertion_point, inject_head
from paywall.errors import RewriteError

# XHTML served as XML is parsed as HTML on purpose (browsers render it as a page);
# the warning would be logged on every such request.
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)

MAX_DEPTH = 512
"""Deeper element nesting than this is treated as hostile input.

Real pages stay far below it; very deep trees make tree walks and the
parser itself slow or fragile, so they are refused rather than half-handled.
"""

ARTICLE_SELECTORS: tuple[str, ...] = (
    "[itemprop~=articleBody]",
    "article",
    ".entry-content",
    ".post-content",
    ".post-body",
    ".article-body",
    ".article-content",
    ".article__body",
    ".article__content",
    ".articleBody",
    ".story-body",
    ".story-content",
    ".c-entry-content",
    ".td-post-content",
    ".field--name-body",
    "#article-body",
    "#articleBody",
    "#story-body",
)
"""Where CMSs commonly put the article, when no selector is configured."""

EXPLICIT_ARTICLE = "[data-paywall-article]"
"""A publisher's own mark of the article: wins over every heuristic."""

MIN_TEXT_BLOCKS = 2
"""A heuristic candidate needs this many paragraphs: a one-paragraph card is not an article."""

DOMINANCE = 1.5
"""The chosen article must have this many times the text of any unrelated candidate.

Several comparable candidates mean a listing (home page, section page made
of ``<article>`` cards), which is not gated.
"""

MAX_CANDIDATES = 200
"""Heuristic candidates scored per page; more is a hostile page (scoring nested ones costs their size)."""

_OUTSIDE_ARTICLE_TAGS = frozenset({"nav", "aside", "footer", "header", "template", "noscript"})
_OUTSIDE_ARTICLE_ROLES = frozenset({"navigation", "complementary", "contentinfo", "banner"})
_OUTSIDE_ARTICLE_NAMES = re.compile(r"(?:comments?|related|recommended|sidebar|promo)(?:[_-].*)?", re.IGNORECASE)
_BREAK_COMMENT = re.compile(r"^\s*(?:more|paywall|members[\s_-]*only)\s*$", re.IGNORECASE)
_BREAK_ATTRIBUTE = "data-paywall-break"
_NOT_TEASER_TAGS = frozenset({"template", "noscript", "aside", "figure", "script", "style"})
_PASSED_OVER_TAGS = frozenset({"script", "style", "link", "meta", "template", "noscript"})
_HEADING_TAGS = frozenset({"h2", "h3", "h4", "h5", "h6"})
_INLINE_TAGS = frozenset(
    {
        "a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "data", "del", "dfn", "em", "i", "img", "ins",
        "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr",
    }
)  # fmt: skip
_XML_ENCODING = re.compile(r"encoding\s*=\s*[\"'][^\"']*[\"']")

ArticleFinder = Callable[[BeautifulSoup], Tag | None]
"""Finds the main article of a parsed page; replaceable by a smarter detector."""


# --------------------------------------------------------------------------- finding the article


def _has_text(node: PageElement) -> bool:
    if isinstance(node, Tag):
        if node.name in ("script", "style", "template"):
            return False
        return any(s.strip() for s in leaks.text_pieces([node]))
    return leaks.is_text(node) and bool(str(node).strip())


def _word_count(node: Tag) -> int:
    return len(leaks.words(" ".join(leaks.text_pieces([node]))))


def _is_outside_content(tag: Tag) -> bool:
    """Whether a candidate sits in page chrome (navigation, sidebars, comments...)."""
    for parent in tag.parents:
        if not isinstance(parent, Tag) or parent.name in ("body", "html", "[document]"):
            break
        if parent.name in _OUTSIDE_ARTICLE_TAGS:
            return True
        if str(parent.get("role", "")).lower() in _OUTSIDE_ARTICLE_ROLES:
            return True
        names = [str(parent.get("id", "")), *(str(c) for c in parent.get_attribute_list("class"))]
        if any(_OUTSIDE_ARTICLE_NAMES.fullmatch(name) for name in names):
            return True
    return False


def _is_hidden(tag: Tag) -> bool:
    """Whether the markup hides this element from readers (``hidden``, ``<template>``...)."""
    if leaks.is_hiding(tag):
        return True
    return any(isinstance(parent, Tag) and leaks.is_hiding(parent) for parent in tag.parents)


def paragraphs(article: Tag) -> list[PageElement]:
    """The article's text units, in order: what ``teaser_paragraphs`` counts.

    Non-empty ``<p>`` elements (a ``<p>`` holding another one counts through
    the inner one; ones inside figures, asides, templates are not the story's
    paragraphs). An article without ``<p>`` falls back to its blocks with text:
    descending through single wrappers, the children that hold text.
    """
    found: list[PageElement] = []
    for p in article.find_all("p"):
        if p.find("p") is not None or not _has_text(p):
            continue
        if any(isinstance(a, Tag) and a.name in _NOT_TEASER_TAGS for a in _ancestors_within(p, article)):
            continue
        found.append(p)
    if found:
        return found
    container = article
    while True:
        kids = [child for child in container.children if _has_text(child)]
        if len(kids) == 1 and isinstance(kids[0], Tag) and kids[0].find(True) is not None:
            container = kids[0]
            continue
        return kids


def _ancestors_within(node: PageElement, root: Tag) -> Iterator[Tag]:
    for parent in node.parents:
        if parent is root:
            return
        yield parent


def _score(tag: Tag) -> tuple[int, int]:
    """(number of text units, words in them) of a candidate."""
    units = paragraphs(tag)
    total = 0
    for unit in units:
        total += _word_count(unit) if isinstance(unit, Tag) else len(leaks.words(str(unit)))
    return len(units), total


def _contains(outer: Tag, inner: Tag) -> bool:
    """Whether ``inner`` is inside ``outer`` (by identity: tags compare by content)."""
    return any(parent is outer for parent in inner.parents)


def _depth(tag: Tag) -> int:
    return sum(1 for _ in tag.parents)


def find_article_heuristic(soup: BeautifulSoup) -> Tag | None:
    """The page's main article from common markup, or None.

    Candidates are the usual article containers (:data:`ARTICLE_SELECTORS`)
    that are not in navigation, sidebars, headers, footers or comment
    sections. The one with the most paragraph text wins; on a tie the
    outermost (an ``<article>`` around its ``.entry-content``). Too little text
    (:data:`MIN_TEXT_BLOCKS`) or a rival of comparable size elsewhere on the
    page (:data:`DOMINANCE`, a listing of cards) means no article.
    Candidates hidden by the markup (``hidden``, ``aria-hidden``, inline
    ``display:none``, ``<template>``, ``<noscript>``) only count when no
    visible one qualifies: a hidden duplicate of the body is not a rival (it
    is scrubbed as a copy), and an article revealed by script is still gated.
    """
    visible: list[tuple[int, int, Tag]] = []
    hidden: list[tuple[int, int, Tag]] = []
    for tag in soup.select(", ".join(ARTICLE_SELECTORS), limit=MAX_CANDIDATES):
        if _is_outside_content(tag):
            continue
        units, words = _score(tag)
        if units >= MIN_TEXT_BLOCKS and words > 0:
            (hidden if _is_hidden(tag) else visible).append((words, -_depth(tag), tag))
    scored = visible or hidden
    if not scored:
        return None
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    best_words, _, best = scored[0]
    for words, _, tag in scored[1:]:
        related = _contains(best, tag) or _contains(tag, best)  # nested: the same article
        if not related and words * DOMINANCE > best_words:
            return None
    return best


def find_article(soup: BeautifulSoup, selector: str | None, finder: ArticleFinder | None = None) -> Tag | None:
    """The article element: configured selector, explicit mark, then ``finder``."""
    if selector:
        try:
            return soup.select_one(selector)
        except Exception as exc:  # soupsieve raises several types for bad selectors
            raise RewriteError(f"invalid article selector {selector!r}: {exc}") from exc
    marked = soup.select_one(EXPLICIT_ARTICLE)
    if marked is not None:
        return marked
    return (finder or find_article_heuristic)(soup)


# --------------------------------------------------------------------------- the page


@dataclass
class GateReport:
    """What a gate did: the teaser kept, the words withheld, the copies scrubbed."""

    teaser_text: str = ""
    withheld_words: int = 0
    cut: str = ""
    scrub: leaks.ScrubReport = field(default_factory=leaks.ScrubReport)


class Page:
    """A parsed HTML document that can be gated once."""

    def __init__(self, soup: BeautifulSoup, *, selector: str | None = None, finder: ArticleFinder | None = None):
        self._soup = soup
        self._article = find_article(soup, selector, finder)
        self._gated = False
        self.report = GateReport()

    @classmethod
    def parse(
        cls,
        body: bytes,
        charset: str | None,
        *,
        selector: str | None = None,
        finder: ArticleFinder | None = None,
    ) -> Page:
        """Parse a response body; ``charset`` is the one from the Content-Type header.

        Raises :class:`RewriteError` on anything the engine cannot handle
        safely: parser failure, nesting deeper than :data:`MAX_DEPTH`.
        """
        try:
            text = decode_body(body, charset)
            soup = BeautifulSoup(text, "lxml")
            _check_depth(soup)
            return cls(soup, selector=selector, finder=finder)
        except RewriteError:
            raise
        except (Exception, RecursionError) as exc:  # the parser's failures have many types
            raise RewriteError(f"cannot parse the page: {type(exc).__name__}: {exc}") from exc

    def declared_free(self) -> bool:
        """Whether the page's head says it is free: ``<meta name="paywall" content="free">``.

        Only the head counts: a tag in the body could come from anyone who can
        post markup on the page (a comment, an embed) and would free the article.
        """
        head = self._soup.head
        if head is None:
            return False
        for meta in head.find_all("meta"):
            name = str(meta.get("name", "")).strip().lower()
            content = str(meta.get("content", "")).strip().lower()
            if name == "paywall" and content == "free":
                return True
        return False

    def has_article(self) -> bool:
        """Whether an article was found (configured selector or heuristics)."""
        return self._article is not None

    def article_text(self) -> str:
        """Text of the found article as it is now ("" when none)."""
        if self._article is None:
            return ""
        return " ".join(leaks.text_pieces([self._article]))

    def gate(self, *, teaser_paragraphs: int, cta_html: str, head_html: str = "") -> bytes:
        """Cut the article at its teaser and return the page as UTF-8 bytes.

        The cut is the first explicit break in the article (comment
        ``<!--more-->``, ``<!-- paywall -->``, ``<!--members-only-->``, or an
        element with ``data-paywall-break``; the marker goes too), otherwise
        after ``teaser_paragraphs`` paragraphs (see :func:`paragraphs`).
        Prose right after the article that a stray end tag pushed out of it
        (:func:`continuation`) is moved back into it first, so it is cut with it.
        Something is always withheld: an article with no more paragraphs than
        the teaser keeps one fewer than it has (so 1 of 2, and none of 1).
        Everything after the cut inside the article goes; ``cta_html`` stands
        once right after the teaser at the article's top level; every copy of
        the withheld text elsewhere is scrubbed (:mod:`paywall.leaks`);
        ``head_html`` ends ``<head>``. A page can be gated once. If a copy
        survives scrubbing, this raises :class:`RewriteError` rather than
        serve it.
        """
        if self._gated:
            raise RewriteError("page already gated")
        self._gated = True
        if self._article is None:
            raise RewriteError("no article found in the page")
        try:
            return self._gate(self._article, teaser_paragraphs, cta_html, head_html)
        except RewriteError:
            raise
        except (Exception, RecursionError) as exc:
            raise RewriteError(f"cannot gate the page: {type(exc).__name__}: {exc}") from exc

    def _gate(self, article: Tag, teaser_paragraphs: int, cta_html: str, head_html: str) -> bytes:
        soup = self._soup
        # The rest of a story pushed out of the article by a stray end tag is
        # put back before anything is measured: it is cut with the article,
        # and its text is never taken for chrome.
        for node in continuation(article):
            article.append(node.extract())
        chrome = leaks.visible_pieces(soup, skip=article, linked=True)
        removed, cut = _cut_article(article, teaser_paragraphs)
        teaser = leaks.visible_pieces(article)
        withheld = leaks.text_pieces(removed)
        fingerprint = leaks.Fingerprint.build(withheld, teaser, chrome)
        scrubbed = leaks.scrub(soup, fingerprint)
        remaining = leaks.find_leaks(soup, fingerprint)
        if remaining:
            raise RewriteError(f"withheld text still present after scrubbing: {', '.join(remaining[:5])}")
        self.report = GateReport(
            teaser_text=" ".join(teaser),
            withheld_words=len(leaks.words(" ".join(withheld))),
            cut=cut,
            scrub=scrubbed,
        )
        for node in _fragment(cta_html):
            article.append(node)
        article["data-paywall-article"] = ""
        head = _ensure_head(soup)
        _fix_charset(soup, head)
        out = soup.decode(formatter="minimal").encode("utf-8", errors="replace")
        return inject_head(out, head_html)


def _check_depth(soup: BeautifulSoup) -> None:
    stack: list[tuple[Tag, int]] = [(soup, 0)]
    while stack:
        tag, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise RewriteError(f"elements nested deeper than {MAX_DEPTH}")
        stack.extend((child, depth + 1) for child in tag.contents if isinstance(child, Tag))


def continuation(article: Tag) -> list[PageElement]:
    """Prose right after the article that belongs to it: what a stray end tag pushed out.

    A stray ``</div>`` (or ``</body></html>``, which lxml honours) in the
    story closes the article early, and the parser puts the rest of the story
    after it. This returns the nodes that directly continue the article in
    document order: following siblings of the article and of each ancestor,
    through ``<body>``/``<html>`` ends (into a second ``<html>`` the parser
    may have opened), as long as they are paragraphs, bare text, inline
    markup, quotes, lists that are not lists of links, or headings followed by
    a paragraph. The first other element (a ``<div>``, ``<section>``,
    ``<aside>``, ``<nav>``, ``<footer>``, ``<form>``, a list of links...)
    is page chrome and ends it; scripts, styles and comments are stepped over
    and stay where they are.
    """
    taken: list[PageElement] = []
    level: PageElement | None = article
    while isinstance(level, Tag) and not isinstance(level, BeautifulSoup):
        if not _take_prose(list(level.next_siblings), taken):
            break
        level = level.parent
    while taken and not isinstance(taken[-1], Tag) and not str(taken[-1]).strip():
        taken.pop()  # layout whitespace before the chrome stays where it is
    return taken


def _take_prose(nodes: list[PageElement], taken: list[PageElement]) -> bool:
    """Append the prose at the start of ``nodes`` to ``taken``; False once chrome is met."""
    for index, node in enumerate(nodes):
        if not isinstance(node, Tag):
            if leaks.is_text(node):
                taken.append(node)
            continue
        name = node.name
        if name in _PASSED_OVER_TAGS:
            continue
        if name in ("html", "body"):
            if not _take_prose(list(node.contents), taken):
                return False
            continue
        if name in _HEADING_TAGS and _next_is_paragraph(nodes[index + 1 :]):
            taken.append(node)
            continue
        if name in _INLINE_TAGS or name in ("p", "blockquote", "pre"):
            taken.append(node)
            continue
        if name in ("ul", "ol", "dl") and not _is_link_list(node):
            taken.append(node)
            continue
        return False
    return True


def _next_is_paragraph(nodes: list[PageElement]) -> bool:
    for node in nodes:
        if isinstance(node, Tag):
            if node.name in _PASSED_OVER_TAGS:
                continue
            return node.name == "p"
        if leaks.is_text(node) and str(node).strip():
            return True
    return False


def _is_link_list(tag: Tag) -> bool:
    """A list whose text is mostly link text (related stories, menus)."""
    pieces = leaks.visible_pieces(tag, linked=True)
    total = sum(len(piece.strip()) for piece in pieces)
    linked = sum(len(piece.strip()) for piece in pieces if isinstance(piece, leaks.LinkText))
    return linked * 2 >= total


def _find_break(article: Tag) -> PageElement | None:
    for node in article.descendants:
        if isinstance(node, Comment) and _BREAK_COMMENT.match(str(node)):
            return node
        if isinstance(node, Tag) and node.has_attr(_BREAK_ATTRIBUTE):
            return node
    return None


def _cut_article(article: Tag, teaser_paragraphs: int) -> tuple[list[PageElement], str]:
    """Remove everything after the teaser; return the removed nodes and how it was cut."""
    marker = _find_break(article)
    if marker is not None:
        return _remove_from(marker, article, include=True), "break"
    units = paragraphs(article)
    if not units:
        return [], "empty"
    keep = min(max(teaser_paragraphs, 0), len(units) - 1)
    if keep == 0:
        return _remove_from(units[0], article, include=True), "paragraphs:0"
    return _remove_from(units[keep - 1], article, include=False), f"paragraphs:{keep}"


def _remove_from(node: PageElement, article: Tag, *, include: bool) -> list[PageElement]:
    """Remove what follows ``node`` (and ``node`` itself with ``include``) inside ``article``.

    Following siblings of the node and of each ancestor up to the article go,
    so the tree stays whole and nothing after the cut survives.
    """
    removed: list[PageElement] = []
    current: PageElement = node
    while current is not article and current.parent is not None:
        removed.extend(sibling for sibling in list(current.next_siblings))
        current = current.parent
    if include:
        removed.insert(0, node)
    for item in removed:
        item.extract()
    return removed


def _fragment(markup: str) -> list[PageElement]:
    """Nodes of an HTML fragment, in order (elements the parser puts in head included)."""
    if not markup:
        return []
    soup = BeautifulSoup(f"<!DOCTYPE html><html><head></head><body>{markup}</body></html>", "lxml")
    nodes: list[PageElement] = []
    for part in (soup.head, soup.body):
        if part is not None:
            nodes.extend(list(part.contents))
    for node in nodes:
        node.extract()
    return nodes


def _ensure_head(soup: BeautifulSoup) -> Tag:
    head = soup.head
    if head is not None:
        return head
    root = soup.html
    if root is None:
        root = soup.new_tag("html")
        for child in list(soup.contents):
            if not isinstance(child, NavigableString | ProcessingInstruction) or isinstance(child, Comment):
                root.append(child.extract())
        soup.append(root)
    head = soup.new_tag("head")
    root.insert(0, head)
    return head


def _fix_charset(soup: BeautifulSoup, head: Tag) -> None:
    """Make every charset declaration say utf-8, and add one if there is none."""
    declared = False
    for meta in soup.find_all("meta"):
        if meta.has_attr("charset"):
            meta["charset"] = "utf-8"
            declared = True
        if str(meta.get("http-equiv", "")).strip().lower() == "content-type":
            meta["content"] = "text/html; charset=utf-8"
            declared = True
    for node in soup.contents:
        if isinstance(node, ProcessingInstruction) and str(node).lower().startswith("xml"):
            node.replace_with(ProcessingInstruction(_XML_ENCODING.sub('encoding="utf-8"', str(node))))
    if not declared:
        head.insert(0, soup.new_tag("meta", attrs={"charset": "utf-8"}))


__all__: Sequence[str] = (
    "ArticleFinder",
    "GateReport",
    "Page",
    "canonical_path",
    "continuation",
    "decode_body",
    "encode_head_html",
    "find_article",
    "head_insertion_point",
    "inject_head",
)
