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

import codecs
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Comment, Tag, XMLParsedAsHTMLWarning
from bs4.element import NavigableString, PageElement, ProcessingInstruction

from paywall import leaks
from paywall.errors import RewriteError

# XHTML served as XML is parsed as HTML on purpose (browsers render it as a page);
# the warning would be logged on every such request.
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)

MAX_DEPTH = 512
"""Deeper element nesting than this is treated as hostile input.

Real pages stay far below it; very deep trees make tree walks and the
parser itself slow or fragile, so they are refused rather than half-handled.
"""

SNIFF_BYTES = 4096
"""How far into the body a ``<meta>`` charset declaration is looked for."""

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
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:+-]+)", re.IGNORECASE)
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ufffe\uffff]")

# Labels whose WHATWG meaning is a superset of what Python's codec of the same name decodes.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-kr": "cp949",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "x-mac-roman": "mac_roman",
}

# WHATWG labels of UTF-16; honoured in the HTTP header only (a ``<meta>`` that
# could be read as ASCII cannot be right about UTF-16: it means UTF-8 there).
_UTF16_LABELS = {
    "utf-16": "utf-16-le",
    "utf-16le": "utf-16-le",
    "utf-16-le": "utf-16-le",
    "unicode": "utf-16-le",
    "unicodefeff": "utf-16-le",
    "ucs-2": "utf-16-le",
    "csunicode": "utf-16-le",
    "iso-10646-ucs-2": "utf-16-le",
    "utf-16be": "utf-16-be",
    "utf-16-be": "utf-16-be",
    "unicodefffe": "utf-16-be",
}
_WIDE_CODECS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))

GARBLED_SHARE = 0.1
"""A decoded page with more NULs and replacement characters than this share is not text.

UTF-16 or UTF-32 read as a single-byte charset is about half NULs; a browser
skips the NULs and shows the page's source as text, article included. Such a
body is decoded by its NUL pattern, or refused.
"""
_XML_ENCODING = re.compile(r"encoding\s*=\s*[\"'][^\"']*[\"']")

ArticleFinder = Callable[[BeautifulSoup], Tag | None]
"""Finds the main article of a parsed page; replaceable by a smarter detector."""


# --------------------------------------------------------------------------- decoding


def _codec(label: str | None, *, header: bool = False) -> str | None:
    """Python codec name for a charset label, or None if unknown or unusable.

    UTF-16 and UTF-32 only come from the HTTP ``header`` (WHATWG reads the
    ``utf-16`` label as UTF-16LE); in a ``<meta>`` they are ignored.
    """
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if name in _UTF16_LABELS:
        return _UTF16_LABELS[name] if header else None
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    if info.name in _WIDE_CODECS:
        return info.name if header and info.name != "utf-16" else None
    if not _is_text_codec(info.name):
        return None
    return info.name


def _is_text_codec(name: str) -> bool:
    """Rule out codecs such as rot13/base64 that codecs.lookup also knows."""
    try:
        "a<".encode(name)
        b"a<".decode(name)
    except (LookupError, UnicodeError, TypeError, ValueError):
        return False
    return True


def _garbled(text: str) -> bool:
    """Whether decoded text is mostly NULs and replacement characters (see :data:`GARBLED_SHARE`)."""
    bad = text.count("\x00") + text.count("\ufffd")
    return bad >= 4 and bad > GARBLED_SHARE * len(text)


def decode_body(body: bytes, charset: str | None) -> str:
    """Decode a response body the way a browser would.

    A byte-order mark wins (as in browsers: it cannot be there by accident),
    then the charset of the HTTP header (UTF-16 labels included, unless the
    page reads as ASCII-compatible markup and not as UTF-16), then a
    ``<meta>`` declaration near the start, then UTF-8. Undecodable bytes become
    U+FFFD, and control characters that the parser cannot hold become U+FFFD too.

    A result that is not text (:func:`_garbled`: UTF-16 or UTF-32 without a
    byte-order mark or label, binary) is decoded again as UTF-32 or UTF-16
    if one of them reads it as text; otherwise this raises
    :class:`RewriteError`, so the page is refused rather than passed as
    "no article".
    """
    text: str | None = None
    for bom, name in _BOMS:
        if body.startswith(bom):
            text = body[len(bom) :].decode(name, errors="replace")
            break
    codec = None if text is not None else _codec(charset, header=True)
    if codec in _WIDE_CODECS:
        text = body.decode(codec, errors="replace")
        codec = None
        if "<" not in text and b"<" in body:
            # Mislabelled: markup in an ASCII-compatible charset. A browser would
            # show garbage, but a scraper reading the bytes gets the article.
            text = None
    if text is None:
        if codec is None:
            match = _META_CHARSET.search(body[:SNIFF_BYTES])
            if match is not None:
                codec = _codec(match.group(1).decode("ascii", "replace"))
        text = body.decode(codec or "utf-8", errors="replace")
    if _garbled(text):
        for name in _wide_candidates(body[:SNIFF_BYTES]):
            candidate = body.decode(name, errors="replace").removeprefix("\ufeff")
            if not _garbled(candidate):
                text = candidate
                break
        else:
            raise RewriteError("cannot decode the page: it does not read as text in its charset")
    return _CONTROL.sub("\ufffd", text)


def _wide_candidates(sample: bytes) -> list[str]:
    """UTF-32 / UTF-16 codecs the NUL bytes of ``sample`` point to, likeliest first."""
    zeros = [sample[i::4].count(0) for i in range(4)]
    quarter = max(1, len(sample) // 4)
    found: list[str] = []
    if sum(zeros) * 5 < len(sample):
        return found  # wide encodings of markup are mostly NULs
    if zeros[2] > 0.9 * quarter and zeros[3] > 0.9 * quarter:
        found.append("utf-32-le")
    if zeros[0] > 0.9 * quarter and zeros[1] > 0.9 * quarter:
        found.append("utf-32-be")
    even, odd = zeros[0] + zeros[2], zeros[1] + zeros[3]
    if odd > 2 * even:
        found.append("utf-16-le")
    if even > 2 * odd:
        found.append("utf-16-be")
    return found


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


# --------------------------------------------------------------------------- member fast path

_HEAD_SCAN = re.compile(rb"<!--|<(script|style)(?=[\s/>])|</head\s*>|<body(?=[\s/>])[^>]*>", re.IGNORECASE)
_CLOSERS = {
    b"<!--": re.compile(rb"-->"),
    b"script": re.compile(rb"</script", re.IGNORECASE),
    b"style": re.compile(rb"</style", re.IGNORECASE),
}


def inject_head(body: bytes, head_html: str) -> bytes:
    """Insert ``head_html`` at the end of ``<head>`` without parsing the page.

    Before the first real ``</head>`` (case-insensitive; ones inside comments,
    scripts and styles are skipped), else right after the ``<body ...>`` open
    tag, else at the start. ``head_html`` is written with non-ASCII characters
    as character references, so it is right in any ASCII-compatible charset.
    Limit: this is a scan, not a parser; a ``</head>`` or ``<body`` inside an
    attribute value before the real head end would be taken at face value.
    """
    if not head_html:
        return body
    at = head_insertion_point(body)
    if at is None:
        at = 0
    return body[:at] + encode_head_html(head_html) + body[at:]


def encode_head_html(head_html: str) -> bytes:
    return head_html.encode("ascii", errors="xmlcharrefreplace")


def head_insertion_point(body: bytes) -> int | None:
    """Where :func:`inject_head` puts its tags in ``body``, or None when it holds no head end (yet).

    ``body`` may be the first part of a page still arriving: None then means
    "read on", never a wrong position, because every token the scan relies on
    is only matched once it is complete.
    """
    position = 0
    while True:
        match = _HEAD_SCAN.search(body, position)
        if match is None:
            return None
        token = match.group(0)
        if token == b"<!--" or match.group(1):
            closer = _CLOSERS[b"<!--" if token == b"<!--" else match.group(1).lower()]
            end = closer.search(body, match.end())
            if end is None:
                return None
            position = end.end()
            continue
        return match.start() if token[:2] == b"</" else match.end()


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


_LINK_TAG = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_REL_CANONICAL = re.compile(
    rb"""\brel\s*=\s*(?:"[^"]*\bcanonical\b[^"]*"|'[^']*\bcanonical\b[^']*'|canonical\b)""", re.IGNORECASE
)
_HREF = re.compile(rb"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE)


def canonical_path(body: bytes) -> str | None:
    """Path and query of the page's ``<link rel="canonical">``, found without a parse, or None."""
    from html import unescape
    from urllib.parse import urlsplit

    for match in _LINK_TAG.finditer(body):
        tag = match.group(0)
        if not _REL_CANONICAL.search(tag):
            continue
        href = _HREF.search(tag)
        if href is None:
            return None
        raw = next(g for g in href.groups() if g is not None)
        try:
            url = urlsplit(unescape(raw.decode("utf-8", "replace")).strip())
        except ValueError:  # a malformed URL (an unclosed IPv6 bracket) is no canonical link
            return None
        if not url.path.startswith("/") or len(url.path) > 2048:
            return None
        return f"{url.path}?{url.query}" if url.query else url.path
    return None
