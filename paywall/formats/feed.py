"""RSS 2.0, RSS 1.0, Atom and JSON Feed: each item's body cut at its teaser, the rest of the feed as it was sent.

**Reading.** XML from the origin is read with defusedxml's parser (expat with
its guards): an entity declaration (the "billion laughs"), an external entity
or anything malformed raises :class:`~paywall.errors.FormatError` as soon as
the parser meets it, before anything is expanded or fetched; nothing is ever
loaded from the network or the disk.

**Items.** Each item (RSS ``item``, Atom ``entry``, JSON Feed ``items[]``) is
cut on its own. Its body is its longest content field (RSS ``content:encoded``
or ``description``, Atom ``content`` or ``summary``, JSON Feed
``content_html`` or ``content_text``), cut by the engine as an article
(:func:`paywall.engine.cut_fragment`) with a call to action linking to the
item's own page; a short body stays whole, as a short article does. Each other
content field (a summary; also ``dc:description`` and ``media:description``)
stays as it is unless it carries withheld text (it holds the body too): then
it is cut on its own, or emptied. An element of text that no format names
(``<x:fulltext>``, ``<media:text>``) is a content field too when its text is
an article's prose (:func:`~paywall.formats.text_body.reads_as_article`). An item whose link
is a path in ``exclude_paths`` is free and stays whole.

**Writing.** Only what is cut changes: each body is replaced where it stands
in the original bytes (the parser reports where each element starts and
ends), so the XML declaration, the namespaces and their prefixes, comments,
stylesheet instructions and every other element keep their bytes. A body is
written as it came: CDATA stays CDATA (split around any ``]]>``), escaped text
stays escaped; Atom XHTML content becomes ``type="html"``. A feed in another
encoding than UTF-8 goes out in UTF-8 and its declaration says so.

**Check after transforming.** Any other text that still carries a withheld run
(a copy in ``media:description``, in a comment, in the channel) is emptied; in
an attribute or in mixed content it refuses the feed. The result is then read
again, as a feed reader reads it, and refused if anything still carries
withheld text.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from defusedxml.ElementTree import DefusedXMLParser

from paywall.engine.text import decode_layers
from paywall.errors import FormatError, RewriteError
from paywall.formats.bodies import CutBody, Withheld, cut_html, cut_text, looks_like_html
from paywall.formats.json_body import ReadOn
from paywall.formats.text_body import reads_as_article

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
RSS1 = "http://purl.org/rss/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

_ROOTS = frozenset({"rss", f"{{{RDF}}}RDF", f"{{{ATOM}}}feed", f"{{{ATOM}}}entry"})
_ITEMS = frozenset({"item", f"{{{RSS1}}}item", f"{{{ATOM}}}entry"})
DC = "http://purl.org/dc/elements/1.1/"
MEDIA = "http://search.yahoo.com/mrss/"

_HTML_BODIES = frozenset({"description", f"{{{RSS1}}}description", f"{{{CONTENT}}}encoded"})
#: Other fields an item's text may stand in: plain text (Media RSS says ``type="html"`` when it is not).
_TEXT_BODIES = frozenset({f"{{{DC}}}description", f"{{{MEDIA}}}description"})
_ATOM_BODIES = frozenset({f"{{{ATOM}}}content", f"{{{ATOM}}}summary"})
_NAMED_BODIES = _HTML_BODIES | _TEXT_BODIES | _ATOM_BODIES
_LINKS = frozenset({"link", f"{{{RSS1}}}link"})
JSON_FEED_VERSION = "https://jsonfeed.org/version/"
#: JSON Feed's body fields, and how each is written.
_JSON_BODIES = (("content_html", "html"), ("content_text", "text"), ("summary", "text"))

_FEED_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF)[\s>/]")
_PROLOG = re.compile(rb"(?:\s+|<\?[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[[^\]]*\])?\s*>)*", re.DOTALL | re.IGNORECASE)
_START_TAG = re.compile(rb"""<[^\s/>]+(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
_DECLARATION = re.compile(rb"\A<\?xml[^>]*?\?>")
_ENCODING = re.compile(rb"""(encoding\s*=\s*)(["'])([A-Za-z0-9._:-]+)\2""")
_TYPE_XHTML = re.compile(rb"""(\stype\s*=\s*)(["'])\s*(?:xhtml|application/xhtml\+xml)\s*\2""", re.IGNORECASE)
_UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


def sniffs_as_feed(head: bytes) -> bool:
    """Whether a body's first bytes open an RSS, RSS 1.0 (RDF) or Atom document (after its prolog)."""
    text = head.removeprefix(b"\xef\xbb\xbf")
    prolog = _PROLOG.match(text)
    rest = text[prolog.end() :] if prolog is not None else text
    return _FEED_ROOT.match(rest) is not None


def is_json_feed(value: Any) -> bool:
    version = value.get("version") if isinstance(value, dict) else None
    return isinstance(version, str) and version.startswith(JSON_FEED_VERSION) and isinstance(value.get("items"), list)


# --------------------------------------------------------------------------- one item


@dataclass
class _Body:
    """One content field of an item: how it is written (html, xhtml, text, opaque) and its text."""

    kind: str
    source: str
    place: Any

    @property
    def size(self) -> int:
        return len(decode_layers(self.source)) if self.kind in ("html", "xhtml") else len(self.source)


def _cut(body: _Body, url: str, read_on: ReadOn, teaser_paragraphs: int) -> CutBody | None:
    """The body cut at its teaser; None when it cannot be cut (opaque content: it is emptied)."""
    if body.kind in ("html", "xhtml"):
        return cut_html(body.source, teaser_paragraphs=teaser_paragraphs, read_on=read_on.html(url))
    if body.kind == "text":
        return cut_text(body.source, teaser_paragraphs=teaser_paragraphs, read_on=read_on.text(url))
    return None


def _cut_item(
    bodies: list[_Body], url: str, read_on: ReadOn, teaser_paragraphs: int, withheld: Withheld
) -> list[tuple[_Body, str]]:
    """The new value of each body of one item that changes ("" empties it); the withheld runs go in ``withheld``.

    An item the engine cannot cut makes the whole feed a :class:`FormatError` (refused, never sent whole).
    """
    try:
        return _cut_bodies(bodies, url, read_on, teaser_paragraphs, withheld)
    except RewriteError as exc:
        raise FormatError(f"an item could not be cut ({exc})") from None


def _cut_bodies(
    bodies: list[_Body], url: str, read_on: ReadOn, teaser_paragraphs: int, withheld: Withheld
) -> list[tuple[_Body, str]]:
    bodies = sorted(bodies, key=lambda body: body.size, reverse=True)
    main = _cut(bodies[0], url, read_on, teaser_paragraphs)
    if main is not None and main.whole:
        return []  # a short item: every other field is shorter still
    changes: list[tuple[_Body, str]] = [(bodies[0], main.value if main is not None else "")]
    own = Withheld()
    if main is not None:
        own.add(main.fingerprint, main.teaser)
        withheld.add(main.fingerprint, main.teaser)
    for other in bodies[1:]:
        if own and other.kind != "opaque" and not own.leaks(other.source):
            continue  # a summary: no withheld text in it
        cut = _cut(other, url, read_on, teaser_paragraphs)
        if cut is None or cut.whole or own.leaks(cut.value):
            changes.append((other, ""))
            continue
        withheld.add(cut.fingerprint, cut.teaser)
        changes.append((other, cut.value))
    return changes


# --------------------------------------------------------------------------- XML


@dataclass(eq=False)
class _Element:
    tag: str
    attrib: dict[str, str]
    start: int
    parent: _Element | None
    #: Where the content starts (after the start tag); -1 for an empty element (``<x/>``).
    content: int
    #: Where the end tag starts.
    end: int = -1
    text: list[str] = field(default_factory=list)
    children: list[_Element] = field(default_factory=list)

    def inside(self, elements: set[int]) -> bool:
        node: _Element | None = self
        while node is not None:
            if id(node) in elements:
                return True
            node = node.parent
        return False


@dataclass
class _Document:
    """What the parser reported: every element with its byte offsets and text, comments, instructions."""

    data: bytes
    elements: list[_Element] = field(default_factory=list)
    comments: list[tuple[int, str]] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)


class _Recorder:
    """An ElementTree parser target that records where each element stands in the bytes it is fed."""

    def __init__(self, data: bytes) -> None:
        self.document = _Document(data)
        self.expat: Any = None
        self.stack: list[_Element] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        at = int(self.expat.CurrentByteIndex)
        match = _START_TAG.match(self.document.data, at)
        if match is None:
            raise FormatError("a start tag the parser reported could not be found")
        parent = self.stack[-1] if self.stack else None
        element = _Element(tag, dict(attrib), at, parent, -1 if match.group().endswith(b"/>") else match.end())
        if parent is not None:
            parent.children.append(element)
        self.stack.append(element)
        self.document.elements.append(element)

    def end(self, tag: str) -> None:
        element = self.stack.pop()
        element.end = int(self.expat.CurrentByteIndex) if element.content >= 0 else element.start

    def data(self, text: str) -> None:
        if self.stack:
            self.stack[-1].text.append(text)

    def comment(self, text: str) -> None:
        self.document.comments.append((int(self.expat.CurrentByteIndex), text))

    def pi(self, target: str, text: str | None) -> None:
        self.document.instructions.append(f"{target} {text or ''}")

    def close(self) -> None:
        return None


def _read(data: bytes) -> _Document:
    """Parse UTF-8 XML safely; :class:`FormatError` for anything hostile or malformed."""
    recorder = _Recorder(data)
    try:
        parser = DefusedXMLParser(target=recorder, encoding="UTF-8", forbid_dtd=False)
        recorder.expat = parser.parser
        parser.feed(data)
        parser.close()
    except FormatError:
        raise
    except Exception as exc:  # expat, defusedxml and their wrappers raise many types
        raise FormatError(f"the feed is not XML that can be read safely ({type(exc).__name__}: {exc})") from None
    if not recorder.document.elements:
        raise FormatError("the feed has no root element")
    return recorder.document


def _utf8(body: bytes, charset: str | None) -> bytes:
    """The document in UTF-8 (its declaration saying so), as the parser is told to read it."""
    if body.startswith(codecs.BOM_UTF8):
        return body
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        label = "utf-16"
    else:
        declaration = _DECLARATION.match(body)
        found = _ENCODING.search(declaration.group()) if declaration is not None else None
        label = charset or (found.group(3).decode("ascii") if found is not None else "utf-8")
    if label.strip().lower() in _UTF8:
        return body
    try:
        text = body.decode(codecs.lookup(label.strip()).name)
    except (LookupError, UnicodeDecodeError) as exc:
        raise FormatError(f"the feed's encoding cannot be read ({exc})") from None
    data = text.lstrip("\ufeff").encode("utf-8")
    declaration = _DECLARATION.match(data)
    if declaration is not None:
        fixed = _ENCODING.sub(rb"\1\2UTF-8\2", declaration.group(), count=1)
        data = fixed + data[declaration.end() :]
    return data


def _bodies(item: _Element, data: bytes) -> Iterator[_Body]:
    yield from _named_bodies(item, data)
    yield from _unnamed_bodies(item)


def _unnamed_bodies(item: _Element) -> Iterator[_Body]:
    """Elements of text that no feed format names as a body (``<x:fulltext>``, Media RSS's ``<media:text>``)
    whose text is an article all the same (:func:`~paywall.formats.text_body.reads_as_article`), at any depth."""
    stack = [child for child in item.children if child.tag not in _NAMED_BODIES]
    while stack:
        element = stack.pop()
        if element.children:
            stack.extend(element.children)
            continue
        source = "".join(element.text)
        if element.content >= 0 and reads_as_article(source):
            yield _Body("html" if looks_like_html(source) else "text", source, element)


def _named_bodies(item: _Element, data: bytes) -> Iterator[_Body]:
    for child in item.children:
        if child.content < 0:
            continue
        if child.tag in _HTML_BODIES:
            kind = "html"
        elif child.tag in _TEXT_BODIES:
            kind = "html" if child.attrib.get("type", "").strip().lower() == "html" else "text"
        elif child.tag in _ATOM_BODIES and "src" not in child.attrib:
            declared = child.attrib.get("type", "text").strip().lower()
            if declared in ("html", "text/html"):
                kind = "html"
            elif declared in ("xhtml", "application/xhtml+xml"):
                kind = "xhtml"
            elif declared == "text" or declared.startswith("text/"):
                kind = "text"
            else:
                kind = "opaque"  # base64 of some other type: emptied in a gated item
        else:
            continue
        source = data[child.content : child.end].decode("utf-8") if child.children else "".join(child.text)
        yield _Body(kind, source, child)


def _link(item: _Element) -> str | None:
    """The item's own page: RSS ``link``, Atom ``link`` (alternate), or a permalink ``guid``."""
    for child in item.children:
        if child.tag in _LINKS and not child.children:
            text = "".join(child.text).strip()
            if text:
                return text
        if child.tag == f"{{{ATOM}}}link" and child.attrib.get("rel", "alternate") == "alternate":
            href = child.attrib.get("href", "").strip()
            if href:
                return href
    for child in item.children:
        if child.tag == "guid" and child.attrib.get("isPermaLink", "true").lower() != "false":
            return "".join(child.text).strip() or None
    return None


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    replacement: bytes


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rewrite(body: _Body, value: str, data: bytes) -> list[_Edit]:
    element: _Element = body.place
    raw = data[element.content : element.end]
    if value and body.kind != "xhtml" and raw.lstrip().startswith(b"<![CDATA["):
        payload = "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"
    else:
        payload = _escape(value)
    edits = [_Edit(element.content, element.end, payload.encode("utf-8"))]
    if body.kind == "xhtml":
        start_tag = data[element.start : element.content]
        edits.append(_Edit(element.start, element.content, _TYPE_XHTML.sub(rb"\1\2html\2", start_tag, count=1)))
    return edits


def _splice(data: bytes, edits: list[_Edit]) -> bytes:
    out: list[bytes] = []
    position = 0
    for edit in sorted(edits, key=lambda e: e.start):
        if edit.start < position:
            raise FormatError("overlapping changes to the feed")
        out.extend((data[position : edit.start], edit.replacement))
        position = edit.end
    out.append(data[position:])
    return b"".join(out)


def gate_xml(
    body: bytes,
    *,
    charset: str | None,
    teaser_paragraphs: int,
    read_on: ReadOn,
    free: Callable[[str | None], bool],
) -> tuple[bytes | None, int]:
    """An RSS or Atom feed with each item cut (see the module docstring), and how many items were.

    ``(None, 0)`` when nothing needed cutting: the feed goes out as it came.
    Raises :class:`FormatError`.
    """
    data = _utf8(body, charset)
    document = _read(data)
    if document.elements[0].tag not in _ROOTS:
        raise FormatError(f"not an RSS or Atom feed (root {document.elements[0].tag!r})")
    withheld = Withheld()
    edits: list[_Edit] = []
    edited: set[int] = set()
    items = 0
    for item in document.elements:
        if item.tag not in _ITEMS:
            continue
        bodies = list(_bodies(item, data))
        link = _link(item)
        if not bodies or free(link):
            continue
        changes = _cut_item(bodies, read_on.url(link), read_on, teaser_paragraphs, withheld)
        for changed, value in changes:
            edits.extend(_rewrite(changed, value, data))
            edited.add(id(changed.place))
        items += bool(changes)
    if not edits:
        return None, 0
    edits.extend(_copies(document, withheld, edited))
    out = _splice(data, edits)
    _check(out, withheld)
    return out, items


def _copies(document: _Document, withheld: Withheld, edited: set[int]) -> Iterator[_Edit]:
    """Empty the other places that carry withheld text; refuse where that cannot be done."""
    for element in document.elements:
        if element.inside(edited):
            continue
        if any(withheld.leaks(value) for value in element.attrib.values()):
            raise FormatError(f"withheld text in an attribute of {element.tag}")
        if element.text and withheld.leaks("".join(element.text)):
            if element.children:
                raise FormatError(f"withheld text in the mixed content of {element.tag}")
            yield _Edit(element.content, element.end, b"")
    for at, text in document.comments:
        if withheld.leaks(text):
            yield _Edit(at, document.data.index(b"-->", at) + 3, b"")
    if any(withheld.leaks(text) for text in document.instructions):
        raise FormatError("withheld text in a processing instruction")


def _check(out: bytes, withheld: Withheld) -> None:
    """Read the result as a feed reader would; refuse it if anything in it carries withheld text."""
    document = _read(out)
    places = [text for element in document.elements for text in ("".join(element.text), *element.attrib.values())]
    places.extend(text for _, text in document.comments)
    places.extend(document.instructions)
    if any(withheld.leaks(text) for text in places):
        raise FormatError("withheld text still in the feed after cutting")


# --------------------------------------------------------------------------- JSON Feed


def gate_json_feed(
    value: dict[str, Any],
    *,
    teaser_paragraphs: int,
    read_on: ReadOn,
    free: Callable[[str | None], bool],
) -> tuple[Withheld, int]:
    """Cut each item of a JSON Feed in place; what was withheld, and how many items were cut."""
    withheld = Withheld()
    items = 0
    for item in value["items"]:
        if not isinstance(item, dict):
            continue
        link = item.get("url") if isinstance(item.get("url"), str) else item.get("external_url")
        link = link if isinstance(link, str) else None
        bodies = [_Body(kind, item[key], key) for key, kind in _JSON_BODIES if isinstance(item.get(key), str)]
        if not bodies or free(link):
            continue
        changes = _cut_item(bodies, read_on.url(link), read_on, teaser_paragraphs, withheld)
        for changed, new in changes:
            item[changed.place] = new
        items += bool(changes)
    return withheld, items


__all__ = ["gate_json_feed", "gate_xml", "is_json_feed", "sniffs_as_feed"]
