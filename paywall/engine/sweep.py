"""Find and remove every copy of the withheld text left in a cut page.

Cutting the article is not enough: publishers repeat it in ``<meta>``
descriptions, JSON-LD, application state, ``<noscript>``, hidden elements,
attributes and comments, plain or escaped. The sweep costs what the copies
cost, not the page size times the readings:

1. **Where.** The cut page is serialised once and searched at C speed for
   the withheld words readers see nowhere else (the *markers*, see
   :class:`~paywall.engine.fingerprint.Fingerprint`) standing together
   (:data:`~paywall.engine.fingerprint.CLUSTER_MARKERS` different ones within
   :data:`CLUSTER_BYTES`), or alone with a withheld run that holds it around it
   (:meth:`~paywall.engine.fingerprint.Fingerprint.may_copy`), and for
   runs of escapes and base64 that decode to them; each such window is
   read for a withheld run (:mod:`paywall.engine.locate`). A page without
   one is served as cut.
2. **Sweep.** The windows that hold a copy are followed down the tree to
   the nodes whose serialisation they cover, and only those are read, the
   way a browser or a scraper would (:func:`~paywall.engine.text.readings`,
   scripts as code with :mod:`paywall.engine.code`): JSON strings and script
   literals are shortened to their teaser part (JSON stays valid),
   ``<meta content>`` is shortened, other attributes are dropped, comments
   and text nodes removed, and a script or style that still carries the
   text is emptied (:func:`sweep_places`).
3. **Check.** The new page is searched again the same way where it changed
   and where the copies stood (the rest is bytes already searched); a copy
   found there is swept once more, scripts read whole. If one still stands,
   or where markers cannot tell where copies are (fewer than
   :data:`MIN_MARKERS`, a long copy in the visible chrome, content the bytes
   cannot be followed into), every place is read (:func:`sweep`) and the
   result parsed again and read place by place (:func:`find_leaks`); if a
   copy remains, :class:`~paywall.errors.RewriteError` is raised and the page
   is not served.

The check reads bytes, not a tree: what any parser makes of them (raw text,
templates, foreign content, foster-parented table text, markup in
attributes) comes from those bytes, and markup held as text is also read with
its attributes.

A marker that stands alone is read with what surrounds it for a withheld
run that holds it: a copy of a caption, or a sentence quoted for sharing
whose other words readers see elsewhere, holds one marker or two. A copy
of withheld words of which readers see every one elsewhere on the page is
not looked for by markers (there are none to look for); nor is one of
fewer than five words (the fingerprint's runs).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import Any
from urllib.parse import unquote_to_bytes

from selectolax.lexbor import LexborHTMLParser, LexborNode

from paywall.engine import code
from paywall.engine.fingerprint import CLUSTER_MARKERS, Fingerprint, joined_tokens
from paywall.engine.locate import Changed, Places, escape_runs, hides, keyed_leaks, shown
from paywall.engine.scan import word_table
from paywall.engine.text import ELLIPSIS, base64_payloads, code_point, decode_layers, html_unescaped, words

_SEPARATORS = re.compile(rb"[^0-9A-Za-z_]")
"""What may stand between two words as :func:`~paywall.engine.text.words` reads them: a space, any other ASCII that
is not a word's (``the-lantern``, ``the.lantern``: a slug of a sentence is a run of its words), and any byte of a
character beyond ASCII (a no-break space, ``·``, ``、``)."""
_BACKSLASH_ESCAPE = re.compile(
    rb"\\u\{([0-9a-fA-F]{1,6})\}|\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|\\([0-9a-fA-F]{1,6}) ?"
)
_BASE64_TABLE = bytes(
    c if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c in b"+/=_-") else 32 for c in range(256)
)
MIN_MARKERS = 8
"""With fewer markers than this (withheld text made of words readers see anyway) every place is read."""
CLUSTER_BYTES = 300
"""Markers this close together (in bytes, escapes included) may belong to one copy of a run of words."""

MANY_MARKERS = 12
"""A page holding this many different markers is swept without looking where they stand."""
MAX_FINDS = 400
"""Occurrences of markers looked up before the page is simply swept."""
EARLY_BYTES = 2048
"""A place longer than this has the markers of its start looked for first (see :func:`may_hold`)."""
MIN_BASE64_RUN = 24
"""Shortest run of base64 characters decoded by the page pre-filter (18 bytes: a few words)."""
_ENCODED_HINTS = (
    b"%20", b"%2520", b"\\u", b"\\x", b"&#", b"base64", b"atob(", b"&shy;", b"&zwj;", b"&zwnj;", b"&ZeroWidthSpace;",
    b"<wbr",
)  # fmt: skip
"""What a reading decodes: escapes, character references, base64, and what splits a word without showing (a
soft hyphen, a zero-width joiner, ``<wbr>``)."""
_CSS_ESCAPES = re.compile(rb"(?:\\[0-9a-fA-F]{1,6}\s?){4}")
MAX_TOKEN = 48
"""A word longer than this in the page may be an encoded blob (base64): the full sweep reads it."""
_CODE_TAGS = frozenset({"script", "style"})


@dataclass
class SweepReport:
    """What the sweep changed, for logs, tests and ``paywall inspect``."""

    text_nodes: int = 0
    attributes: int = 0
    meta_shortened: int = 0
    comments: int = 0
    scripts_rewritten: int = 0
    scripts_emptied: int = 0
    places: list[str] = field(default_factory=list)
    full_sweep: bool = False
    clean_code: set[int] = field(default_factory=set)
    """Hashes of script and style bodies read and found clean (or made clean): the check reads them once."""
    react_cta: list[Any] | None = None
    """The call to action as a React element, until it is placed: it stands in a React payload where the
    page's markup has it (see :func:`_shortened_flight`)."""

    def rewritten(self, node: LexborNode) -> None:
        """Count a script whose literals were shortened (and name it among the places)."""
        self.scripts_rewritten += 1
        self.places.append(f"{_describe(node)} rewritten")

    @property
    def total(self) -> int:
        return (
            self.text_nodes
            + self.attributes
            + self.meta_shortened
            + self.comments
            + self.scripts_rewritten
            + self.scripts_emptied
        )


def page_words(data: bytes) -> set[bytes]:
    """Every ASCII word of a page or a place in it (lower-cased), and every run of other bytes, at C speed.

    ``%20`` (and ``%2520``) separate words, as in a percent-encoded quotation.
    """
    if b"%2" in data:
        data = data.replace(b"%2520", b" ").replace(b"%20", b" ")
    return set(word_table(data).split())


def _has_markers(data: bytes, fingerprint: Fingerprint, tokens: set[bytes] | None = None) -> bool:
    """Whether ``data`` holds markers close enough together to be part of a copy (see :func:`_clustered`), or one
    with a withheld run that holds it around it (see :func:`_stray_copy`)."""
    tokens = page_words(data) if tokens is None else tokens
    hits = tokens & fingerprint.ascii_markers
    if hits and (_clustered(data, hits) or _stray_copy(data, fingerprint, hits)):
        return True  # (a copy of a short passage, or of a sentence of words seen elsewhere, holds no cluster)
    if not data.isascii():
        # Words with other characters: other scripts, or words broken by soft hyphens and
        # zero-width spaces, read as the fingerprint reads text. Their places cannot be
        # searched byte for byte, so enough of them make the page suspect wherever they stand.
        others = b" ".join(token for token in tokens if not token.isascii()).decode("utf-8", "replace")
        found = fingerprint.markers.intersection(words(others)) if others else set()
        if not found.isdisjoint(fingerprint.lone_markers):
            return True  # not searched for byte by byte: the page is read
        if found:
            return len({word.encode("utf-8") for word in found} | hits) >= CLUSTER_MARKERS
    return False


def _places(data: bytes, hits: set[bytes]) -> list[tuple[int, bytes]] | None:
    """Where each of the markers ``hits`` stands in ``data`` (case aside), in order; None past
    :data:`MAX_FINDS` places (then the page is taken to hold a copy)."""
    low = data.lower()
    places: list[tuple[int, bytes]] = []
    for marker in hits:
        at = low.find(marker)
        while at >= 0:
            places.append((at, marker))
            if len(places) > MAX_FINDS:
                return None
            at = low.find(marker, at + len(marker))
    places.sort()
    return places


def _stray_copy(data: bytes, fingerprint: Fingerprint, hits: set[bytes]) -> bool:
    """Whether a place around one of the markers ``hits`` holds a withheld run with a marker it holds
    (:meth:`~paywall.engine.fingerprint.Fingerprint.may_copy`); past :data:`MAX_FINDS` places the page is
    taken to hold one."""
    if not hits:
        return False
    places = _places(data, hits)
    if places is None:
        return True
    read = -1  # the end of the last place read: a place within it was read with it
    for at, _marker in places:
        if at >= read:
            read = at + CLUSTER_BYTES
            if fingerprint.may_copy(data[max(0, at - CLUSTER_BYTES) : read + CLUSTER_BYTES].decode("utf-8", "replace")):
                return True
    return False


def _clustered(data: bytes, hits: set[bytes]) -> bool:
    """Whether :data:`CLUSTER_MARKERS` different markers stand within :data:`CLUSTER_BYTES` somewhere.

    A copy of a run of withheld words holds several markers side by side; a
    marker alone is a word that the page's code or markup happens to use
    ("city" in a JSON key). Looking costs one search per occurrence of each
    marker found, a few on a page without a copy; past :data:`MAX_FINDS` the
    page is taken to hold a copy.
    """
    if len(hits) >= MANY_MARKERS:
        return True
    places = _places(data, hits)
    if places is None:
        return True
    for first in range(len(places)):
        start = places[first][0]
        near = {marker for at, marker in places[first : first + 4 * CLUSTER_MARKERS] if at - start <= CLUSTER_BYTES}
        if len(near) >= CLUSTER_MARKERS:
            return True
    return False


def _escape_value(match: re.Match[bytes]) -> bytes:
    digits = next(group for group in match.groups() if group is not None)
    return code_point(int(digits, 16)).encode("utf-8")


def _decoded_blobs(data: bytes, tokens: set[bytes]) -> Iterator[bytes]:
    """The page's encoded runs, decoded: what a scraper could read in them besides the plain words.

    Percent-encoding leaves ASCII letters as they are, and :func:`page_words`
    splits at ``%20`` already; what remains are runs of escapes that spell a
    word letter by letter (``\\u0054\\u0068...``, ``&#84;&#104;...``, CSS ``\\54 \\68``,
    doubly percent-encoded text), text written a letter per element, and base64.
    Each run is found by a search that starts at its own first character and
    decoded alone, so the cost follows the page's encoded content, not its size.
    """
    runs = [data[start:end] for start, end in escape_runs(data, 0, len(data))]
    if runs:
        joined = shown(b" ".join(runs))
        yield _BACKSLASH_ESCAPE.sub(_escape_value, joined)
        if b"&" in joined:
            yield html_unescaped(joined.decode("utf-8", "replace")).encode("utf-8")
        if b"%" in joined:
            yield unquote_to_bytes(unquote_to_bytes(joined))
    if b"base64" in data or b"atob(" in data or (tokens and max(map(len, tokens)) >= MAX_TOKEN):
        candidates = [run for run in data.translate(_BASE64_TABLE).split() if len(run) >= MIN_BASE64_RUN]
        text = "\n".join(base64_payloads(b" ".join(candidates).decode("ascii")))
        if text:
            yield text.encode("utf-8")


def reads_every_place(fingerprint: Fingerprint) -> bool:
    """Whether markers cannot tell where copies stand, so that every place of the page must be read.

    Too few markers (withheld text made of words readers see anyway), or a
    long copy in the visible chrome, whose words are no markers.
    """
    return len(fingerprint.markers) < MIN_MARKERS or fingerprint.chrome_copies


def page_may_hold(data: bytes, fingerprint: Fingerprint, *, swept: bool = False) -> bool:
    """The pre-filter over a whole serialised page: whether anything in it may carry withheld text.

    Plain copies are found by their markers (one translation and split of the
    page, in C); encoded ones by decoding the page's encoded parts
    (:func:`_decoded_blobs`) and looking for markers again.
    """
    if not fingerprint:
        return False
    if len(fingerprint.markers) < MIN_MARKERS:
        return True  # too few rare words to look for: read every place instead
    if fingerprint.chrome_copies and not swept:
        return True  # a copy in visible text, whose words are no markers: read the text
    tokens = page_words(data)
    if _has_markers(data, fingerprint, tokens):
        return True
    return any(_has_markers(blob, fingerprint) for blob in _decoded_blobs(data, tokens))


def may_hold(text: str | bytes, fingerprint: Fingerprint) -> bool:
    """The pre-filter: whether a page or a place in it may still carry withheld text.

    True when it holds a marker (a withheld word readers see nowhere else), or
    anything that looks encoded (percent-encoding, escapes, character
    references, base64), which the full reading decodes. A place of ASCII
    letters, digits and underscores alone (no space, no punctuation:
    ``the-lantern`` is two words, and so is ``the\u00a0lantern``) that is not
    long enough to be base64 of a sentence cannot hold a run of words, and is
    passed after a look at its characters. (Nothing withheld, nothing to hold; whether
    the withheld text has runs that readers do not see elsewhere is the full
    reading's question, which makes the runs only when a place gets that far.)
    """
    if not fingerprint.vocabulary:
        return False
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    if len(data) < fingerprint.k * 2:
        return False
    if len(data) < MAX_TOKEN and not _SEPARATORS.search(data):
        return False
    if _looks_encoded(data):
        return True
    # The words as page_words reads them (no %20 is left to split at), in a list: the markers' set
    # stops at the first one it holds. A long text's words up to a space near its start are looked
    # at first (a copy holds markers from its start): they are words of the whole text too.
    table = word_table(data)
    if len(table) > EARLY_BYTES:
        early = table.rfind(b" ", 0, EARLY_BYTES)
        if early > 0 and not fingerprint.ascii_markers.isdisjoint(table[:early].split()):
            return True
    tokens = table.split()
    if not fingerprint.ascii_markers.isdisjoint(tokens):
        return True
    if not data.isascii():
        # Words beyond ASCII, and ASCII words that a character beyond it joins to others in one token
        # (``the·lantern``, ``the\u00a0lantern``): read as words() reads them.
        others = b" ".join(token for token in tokens if not token.isascii()).decode("utf-8", "replace")
        if not fingerprint.markers.isdisjoint(words(others)):
            return True
    return max(map(len, tokens), default=0) > MAX_TOKEN


def _looks_encoded(data: bytes) -> bool:
    """Whether ``data`` holds one of :data:`_ENCODED_HINTS` or CSS escapes.

    The byte each hint starts with is looked for first: a search for one
    byte is a ``memchr``, many times faster than one for two or more.
    """
    if b"%" in data and (b"%20" in data or b"%2520" in data):
        return True
    if b"\\" in data and (b"\\u" in data or b"\\x" in data or _CSS_ESCAPES.search(data) is not None):
        return True
    if b"&" in data and (b"&#" in data or b"&shy;" in data or b"&zw" in data or b"&ZeroWidthSpace;" in data):
        return True  # a character reference, or a soft hyphen or zero-width joiner inside a word
    if b"<wbr" in data:
        return True
    return b"base64" in data or b"atob(" in data


# --------------------------------------------------------------------------- the full sweep


def _roots(tree: LexborHTMLParser) -> list[LexborNode]:
    roots = [tree.root] if tree.root is not None else []
    roots.extend(tree.template_fragments())
    return roots


def _nodes(tree: LexborHTMLParser) -> list[tuple[LexborNode, bool]]:
    """Every node in document order (template content after), with whether readers see it."""
    out: list[tuple[LexborNode, bool]] = []
    hidden_ids: set[int] = set()
    for index, root in enumerate(_roots(tree)):
        for node in root.traverse(include_text=True):
            parent = node.parent
            hidden = index > 0 or (parent is not None and parent.mem_id in hidden_ids)
            tag = node.tag
            if tag not in ("-text", "-comment", None) and not hidden:
                hidden = hides(node)
            if hidden and tag not in ("-text", "-comment", None):
                hidden_ids.add(node.mem_id)
            out.append((node, hidden))
    return out


def _is_text(node: LexborNode) -> bool:
    if node.tag != "-text":
        return False
    parent = node.parent
    return parent is None or parent.tag not in _CODE_TAGS


def sweep(tree: LexborHTMLParser, fingerprint: Fingerprint, report: SweepReport) -> None:
    """Remove or shorten every copy of the withheld text in ``tree`` (in place)."""
    report.full_sweep = True
    nodes = _nodes(tree)
    if _texts_may_hold(nodes, fingerprint):
        for node, hidden in _text_matches(nodes, fingerprint):
            place = f"{'hidden text' if hidden else 'text'} in {_describe(node.parent)}"
            node.decompose()
            report.text_nodes += 1
            report.places.append(place)
    for node, _hidden in nodes:
        tag = node.tag
        if tag == "-comment":
            comment = node.comment_content or ""
            if may_hold(comment, fingerprint) and _text_leaks(comment, fingerprint):
                report.places.append(f"comment in {_describe(node.parent)}")
                node.decompose()
                report.comments += 1
        elif tag not in ("-text", None):
            _sweep_attributes(node, fingerprint, report)
            if tag in _CODE_TAGS:
                _sweep_code(node, fingerprint, report)


def sweep_places(places: Places, fingerprint: Fingerprint, report: SweepReport, *, thorough: bool = False) -> Changed:
    """Remove or shorten the copies in the nodes :func:`~paywall.engine.locate.places` found, as :func:`sweep` does.

    Each run of text nodes is read on its own, across its nodes' boundaries;
    the elements' attributes and the comments are read whole; in a script,
    the literals where the copies stand, unless ``thorough`` (a copy found
    again after that: the whole body is read, and the script emptied if the
    text stands between its literals). Returns the nodes changed.
    """
    changed = Changed()
    for run, _span in places.texts:
        for node, hidden in _text_matches(run, fingerprint):
            report.places.append(f"{'hidden text' if hidden else 'text'} in {_describe(node.parent)}")
            changed.removed.add(node.mem_id)
            node.decompose()
            report.text_nodes += 1
    for comment, _span in places.comments:
        content = comment.comment_content or ""
        if may_hold(content, fingerprint) and _text_leaks(content, fingerprint):
            report.places.append(f"comment in {_describe(comment.parent)}")
            changed.removed.add(comment.mem_id)
            comment.decompose()
            report.comments += 1
    for element, _tag, _whole in places.elements:
        if _sweep_attributes(element, fingerprint, report):
            changed.elements.add(element.mem_id)
    for element, _covered, spans, _whole in places.code:
        json_body = element.mem_id in places.json_code
        if (not thorough and _sweep_code_at(element, spans, fingerprint, report, json_body=json_body)) or _sweep_code(
            element, fingerprint, report
        ):
            changed.code.add(element.mem_id)
    return changed


def find_leaks(tree: LexborHTMLParser, fingerprint: Fingerprint, clean_code: set[int] | None = None) -> list[str]:
    """Places that still carry withheld text (empty when the document is clean)."""
    found: list[str] = []
    nodes = _nodes(tree)
    if _texts_may_hold(nodes, fingerprint) and _text_matches(nodes, fingerprint):
        found.append("text")
    for node, _hidden in nodes:
        tag = node.tag
        if tag == "-comment":
            comment = node.comment_content or ""
            if may_hold(comment, fingerprint) and _text_leaks(comment, fingerprint):
                found.append("comment")
        elif tag not in ("-text", None):
            found.extend(
                f"<{tag} {name}>"
                for name, value in node.attributes.items()
                if _attribute_leaks(name, value, fingerprint)
            )
            if tag in _CODE_TAGS:
                body = _body(node)
                if clean_code is not None and hash(body) in clean_code:
                    continue
                if may_hold(body, fingerprint) and _code_leaks(body, _code_kind(node), fingerprint):
                    found.append(f"<{tag}>")
    return found


def _texts_may_hold(nodes: list[tuple[LexborNode, bool]], fingerprint: Fingerprint) -> bool:
    """Whether the page's text, visible or hidden, needs reading word by word."""
    if fingerprint.chrome_copies:
        return True
    # Visible text holds no marker (markers are the words readers see nowhere else) unless the
    # chrome holds a copy, so only hidden text is read here: each node, then all of it as one text (a
    # text written a few letters an element holds no word in any one node).
    hidden_texts = [node.text_content or "" for node, hidden in nodes if hidden and _is_text(node)]
    return any(may_hold(text, fingerprint) for text in hidden_texts) or may_hold("".join(hidden_texts), fingerprint)


def _text_matches(nodes: list[tuple[LexborNode, bool]], fingerprint: Fingerprint) -> list[tuple[LexborNode, bool]]:
    """Text nodes that carry withheld runs, reading across node boundaries.

    Text is read twice: nodes joined with a space (separate blocks), and
    joined as they are (a word split over inline tags, ``zephyr<em>quill</em>``;
    a text written a letter per element, its spaces elements of their own too).
    Hidden text is decoded first (a ``<noscript>`` or ``<textarea>`` holds
    markup as text). A run that reaches into hidden text is a hidden copy, so
    only its hidden side goes; a run entirely in visible text is a visible
    copy (the fingerprint already spares ordinary chrome), and goes. A node
    whose percent- or base64-decoded reading carries withheld text goes too.
    """
    texts: list[tuple[LexborNode, bool, str]] = []
    doomed: set[int] = set()
    for node, hidden in nodes:
        if _is_text(node):
            text = node.text_content or ""
            if not text.strip():
                if text and texts and texts[-1][2] != " ":  # a space between words written an element each
                    texts.append((node, hidden, " "))
                continue
            if fingerprint.leaks_encoded(text) or (
                hidden and (fingerprint.leaks_in_markup(text) or _hidden_json_leaks(text, fingerprint))
            ):
                doomed.add(len(texts))
            texts.append((node, hidden, decode_layers(text) if hidden else text))
    k = fingerprint.k
    for separator in (" ", ""):
        tokens, owners = joined_tokens([text for _, _, text in texts], separator)
        for start in fingerprint.matches(tokens):
            window = owners[start : start + k]
            if window[0] == window[-1] and window[0][0] == window[0][1]:
                doomed.add(window[0][0])
                continue
            involved: set[int] = set()
            for first, last in window:
                involved.update(range(first, last + 1))
            hidden_ones = {index for index in involved if texts[index][1]}
            doomed |= hidden_ones or involved
    return [(texts[index][0], texts[index][1]) for index in sorted(doomed)]


def _attribute_leaks(name: str, value: str | None, fingerprint: Fingerprint) -> bool:
    """Whether an attribute value carries withheld text (percent-decoded too; CSS escapes in ``style``)."""
    if not value or not may_hold(value, fingerprint):
        return False
    return fingerprint.leaks(value, url=True, css=name.lower() == "style") or _json_text_leaks(value, fingerprint)


def _sweep_attributes(node: LexborNode, fingerprint: Fingerprint, report: SweepReport) -> bool:
    """Shorten ``<meta content>`` and drop other attributes that carry withheld text; whether any did."""
    attributes = node.attributes
    changed = False
    for name, value in attributes.items():
        if not _attribute_leaks(name, value, fingerprint):
            continue
        changed = True
        assert value is not None
        if node.tag == "meta" and name.lower() == "content":
            prefix = fingerprint.safe_prefix(value, url=True)
            node.attrs[name] = prefix + ELLIPSIS if prefix else ""
            report.meta_shortened += 1
            report.places.append(f"<meta {attributes.get('name') or attributes.get('property') or ''}>")
        elif (kept := _shortened_json_text(value, fingerprint)) is not None and not _attribute_leaks(
            name, kept, fingerprint
        ):
            node.attrs[name] = kept  # a component's props stay JSON, its story shortened
            report.attributes += 1
            report.places.append(f"attribute {name} of {_describe(node)} shortened")
        else:
            del node.attrs[name]
            report.attributes += 1
            report.places.append(f"attribute {name} of {_describe(node)}")
    return changed


def _body(node: LexborNode) -> str:
    return "".join(child.text_content or "" for child in node.iter(include_text=True) if child.tag == "-text")


def _shorten(fingerprint: Fingerprint, text: str) -> str:
    prefix = fingerprint.safe_prefix(text)
    return prefix + ELLIPSIS if prefix else ""


def _shortened(text: str, fingerprint: Fingerprint) -> str | None:
    """``text`` shortened to the part before the withheld text it carries, or None when it carries none. A copy
    of the article from its start is cut where the teaser ends (:meth:`Fingerprint.teaser_copy`)."""
    teaser = fingerprint.teaser_copy(text)
    if teaser is not None:
        return teaser + ELLIPSIS if teaser else ""
    return _shorten(fingerprint, text) if _leaks(text, fingerprint) else None


def _leaks(text: str, fingerprint: Fingerprint) -> bool:
    """The full reading of one place, after the pre-filter."""
    return may_hold(text, fingerprint) and fingerprint.leaks(text)


def _code_leaks(body: str, kind: str, fingerprint: Fingerprint) -> bool:
    """Whether a script or style body carries withheld text, read as what it is (``kind``: see :func:`_code_kind`)."""
    if not body.strip():
        return False
    if kind == "style":
        return fingerprint.leaks(body, css=True)
    parts = code.split_json(body)
    if parts is not None:
        if any(_leaks(s, fingerprint) for s in code.json_strings(parts[1])):
            return True
        return next(_split_copies(parts[1], fingerprint), None) is not None
    if kind == "script-data":
        return fingerprint.leaks(body)
    literals = [text for _, _, text in code.js_literals(body)]
    if any(_text_leaks(text, fingerprint) for text in literals if may_hold(text, fingerprint)):
        return True
    # Text split over several literals ("The quick " + "brown fox"), or over an object's values under one key.
    joined = " ".join(literals)
    if may_hold(joined, fingerprint) and fingerprint.leaks(joined):
        return True
    return keyed_leaks(body, fingerprint)


def _text_leaks(text: str, fingerprint: Fingerprint) -> bool:
    """Whether a text (a script's literal, a comment) carries withheld text; JSON in it read as JSON."""
    return fingerprint.leaks(text) or _json_text_leaks(text, fingerprint)


def _json_text_leaks(text: str, fingerprint: Fingerprint) -> bool:
    """Whether ``text`` is JSON (:func:`~paywall.engine.code.json_text`) whose strings, read together as
    :func:`_split_copies` reads them, carry withheld text (rich text stored as short spans)."""
    value = code.json_text(text)
    return value is not None and next(_split_copies(value, fingerprint), None) is not None


def _hidden_json_leaks(text: str, fingerprint: Fingerprint) -> bool:
    """:func:`_json_text_leaks` of hidden text, whose JSON may be written with references (``&quot;``)."""
    if text.lstrip()[:1] not in ("{", "["):
        return False
    return _json_text_leaks(html_unescaped(text) if "&" in text else text, fingerprint)


def _shortened_json_text(text: str, fingerprint: Fingerprint) -> str | None:
    """``text``, JSON (:func:`~paywall.engine.code.json_text`), with its withheld text shortened
    (:func:`shorten_json`); None when it is no JSON or nothing in it changes."""
    value = code.json_text(text)
    shortened = None if value is None else shorten_json(value, fingerprint)
    return None if shortened is None else json.dumps(shortened, ensure_ascii=False)


def _shortened_literal(fingerprint: Fingerprint, report: SweepReport) -> Callable[[str], str | None]:
    """What a script's literal that carries withheld text becomes (a JavaScript string), None for the others.

    A literal holding JSON text is shortened as JSON (:func:`shorten_json`), so that
    ``JSON.parse`` still reads it; any other one is cut before the withheld text.
    """

    def shortened(text: str) -> str | None:
        kept = _shortened_json_text(text, fingerprint)
        if kept is not None:
            return code.script_json(kept)
        if not _leaks(text, fingerprint):
            return None
        rows = _shortened_flight(text, fingerprint, report)
        return code.script_json(rows if rows is not None else _shorten(fingerprint, text))

    return shortened


def _shortened_flight(literal: str, fingerprint: Fingerprint, report: SweepReport) -> str | None:
    """A string literal holding the rows of a React Server Components payload (see
    :func:`~paywall.engine.code.flight_rows`), as its value with the withheld text shortened row by row: each
    JSON row as JSON (:func:`shorten_json`), each text row as text with its new length. React reads the rows
    as it read them before, so the app still runs (shortened as one text, the rows' own escapes went with the
    literal's and the payload broke). None when the literal holds no such rows, or a row cannot be rewritten.

    React elements whose text is withheld whole go from the tree, as their markup went from the page, and
    the first such run of them gives way to the call to action (:attr:`SweepReport.react_cta`): the tree
    React hydrates is the page's, so React keeps the page as it is, call to action included.
    """
    try:
        value = json.loads(f'"{literal}"')
    except ValueError:
        return None
    rows = code.flight_rows(value) if isinstance(value, str) else None
    if rows is None:
        return None
    new: list[tuple[str, str, bool]] = []
    for head, data, text in rows:
        if text:
            kept = _shortened(data, fingerprint)
            data = data if kept is None else kept
        elif may_hold(data, fingerprint):
            try:
                parsed = json.loads(data)
            except (ValueError, RecursionError):
                return None
            shortened = shorten_json(parsed, fingerprint)
            if shortened is not None:
                data = json.dumps(_pruned(parsed, shortened, report), ensure_ascii=False, separators=(",", ":"))
        new.append((head, data, text))
    return code.flight_text(new)


def _is_element(value: Any) -> bool:
    """Whether a JSON value is a React element as a payload writes it: ``["$", type, key, props]``."""
    return isinstance(value, list) and len(value) == 4 and value[0] == "$" and isinstance(value[3], dict)


def _element_text(value: Any) -> str:
    """The text of a React element's children (and of theirs), or of a list of children."""
    if isinstance(value, str):
        return value
    if _is_element(value):
        return _element_text(value[3].get("children"))
    if isinstance(value, list):
        return "".join(map(_element_text, value))
    return ""


def _pruned(original: Any, shortened: Any, report: SweepReport) -> Any:
    """``shortened`` (``original`` with its withheld text shortened, in the same shape) without the React
    elements whose text was withheld whole; the first of them gives way to the call to action."""
    if isinstance(shortened, dict) and isinstance(original, dict):
        return {key: _pruned(original.get(key), value, report) for key, value in shortened.items()}
    if not isinstance(shortened, list) or not isinstance(original, list) or len(shortened) != len(original):
        return shortened
    if _is_element(shortened):
        return [*shortened[:3], _pruned(original[3], shortened[3], report)]
    kept: list[Any] = []
    for before, after in zip(original, shortened, strict=True):
        if _is_element(before) and _element_text(before).strip() and not _element_text(after).strip():
            if report.react_cta is not None:
                kept.append(report.react_cta)
                report.react_cta = None
            continue
        kept.append(_pruned(before, after, report))
    return kept


def _sweep_code(node: LexborNode, fingerprint: Fingerprint, report: SweepReport) -> bool:
    """Rewrite or empty a script or style that carries withheld text; whether it did."""
    body = _body(node)
    tag = node.tag or ""
    kind = _code_kind(node)
    if not may_hold(body, fingerprint) or not _code_leaks(body, kind, fingerprint):
        report.clean_code.add(hash(body))
        return False
    new_body: str | None = None
    if tag == "script":
        parts = code.split_json(body)
        if parts is not None:
            before, value, after = parts
            shortened = shorten_json(value, fingerprint)
            new_body = None if shortened is None else before + code.script_json(shortened) + after
        elif kind == "script":
            new_body = code.replace_literals(body, _shortened_literal(fingerprint, report))
    if new_body is not None and not _code_leaks(new_body, kind, fingerprint):
        report.clean_code.add(hash(new_body))
        _set_body(node, new_body)
        report.rewritten(node)
        return True
    _set_body(node, "")
    report.scripts_emptied += 1
    report.places.append(f"{_describe(node)} emptied")
    return True


def _sweep_code_at(
    node: LexborNode, spans: list[tuple[int, int]], fingerprint: Fingerprint, report: SweepReport, *, json_body: bool
) -> bool:
    """Shorten the literals in ``spans`` of a script's body (its strings, where it is JSON) that carry withheld text.

    The page's bytes say where in the body the copies stand, so a large
    script's other literals are not read (an app's state holds tens of
    thousands of strings); the check after the sweep reads the result. A
    string is replaced by the JSON string of its shortened text, so JSON
    stays JSON. False when this does not apply (a style, a data block,
    nothing shortened): then the whole body is read by :func:`_sweep_code`.
    """
    if node.tag != "script" or _code_kind(node) != "script":
        return False
    shortened = _shortened_literal(fingerprint, report)
    new_body = code.replace_literals(_body(node), shortened, within=spans, json_body=json_body)
    if new_body is None:
        return False
    _set_body(node, new_body)
    report.rewritten(node)
    return True


def shorten_json(value: Any, fingerprint: Fingerprint) -> Any | None:
    """``value`` (parsed JSON) with every string that carries withheld text shortened to the part before it.

    The strings of each array, and those under one key in an array's objects
    (rich text stored as spans), are also read in their order, and those
    that a withheld run read across them touches are emptied (a sentence
    stored a few words a string). None when no string changes, or when the value
    cannot be rebuilt (too deep): then the script is read as a whole by the
    sweep.
    """
    changed: list[int] = []
    visited = count()

    def change(text: str) -> str:
        at = next(visited)
        shortened = _shortened(text, fingerprint)
        if shortened is None:
            return text
        changed.append(at)
        return shortened

    try:
        shortened = code.map_json(value, change)
        # Each string that a withheld run read across its group touches goes (counted in the order map_json
        # visits the values, one by one), and so does the rest of a story stored a paragraph an item after its
        # first withheld paragraph.
        doomed = {at for array in _split_copies(shortened, fingerprint) for at in array}
        if doomed:
            changed.extend(doomed)
            counter = count()
            shortened = code.map_json(shortened, lambda text: "" if next(counter) in doomed else text)
        if changed:
            _empty_story_rest(shortened, changed)
    except (RecursionError, ValueError, TypeError):
        return None
    return shortened if changed else None


def _empty_story_rest(value: Any, changed: list[int]) -> None:
    """Empty, in place, the rest of a story after each string at ``changed`` (in :func:`~paywall.engine.code.map_json`'s
    order) in the array that holds it (see :func:`~paywall.engine.code.story_depth`)."""
    paths = code.json_paths(value)
    for at in sorted(set(changed)):
        path = paths[at]
        containers: list[Any] = [value]  # those on the path, the value first
        for step in path[:-1]:
            containers.append(containers[-1][step])
        depth = code.story_depth(path, functools.partial(_earlier_items, containers, path))
        if depth is not None:
            code.empty_story_rest(containers[depth], path, depth)


def _earlier_items(containers: list[Any], path: tuple[str | int, ...], depth: int) -> list[Any]:
    """The items of the array ``containers[depth]`` before the one on ``path``."""
    items: list[Any] = containers[depth][: path[depth]]
    return items


def _split_copies(value: Any, fingerprint: Fingerprint) -> Iterator[list[int]]:
    """For each group of a JSON value's strings that, read in their order, carries withheld text (a sentence
    stored a few words a string), the places of those of its strings a withheld run touches, among the value's
    strings in :func:`~paywall.engine.code.json_groups`' order (empty when the copy is in another reading)."""
    values, groups = code.json_groups(value)
    for group in groups:
        texts = [values[at] for at in group]
        if _leaks(" ".join(texts), fingerprint):
            yield [group[index] for index in _split_runs(texts, fingerprint)]


def _split_runs(texts: list[str], fingerprint: Fingerprint) -> set[int]:
    """The indexes of ``texts`` that hold part of a withheld run read across them, in their order."""
    tokens, owners = joined_tokens([decode_layers(text) for text in texts], " ")
    k = fingerprint.k
    return {owner for start in fingerprint.matches(tokens) for owner, _ in owners[start : start + k]}


def json_scrubber(fingerprint: Fingerprint, report: SweepReport) -> Callable[[LexborNode, Any], Any | None]:
    """:func:`shorten_json` for a script's JSON that its caller has parsed already (the page's JSON-LD,
    read by :func:`~paywall.engine.structured.declare`), counted in ``report`` as the sweep counts it."""

    def scrub(node: LexborNode, value: Any) -> Any | None:
        shortened = shorten_json(value, fingerprint)
        if shortened is not None:
            report.rewritten(node)
        return shortened

    return scrub


def _describe(node: LexborNode | None) -> str:
    """``<div.share-box>``: an element as a report names it."""
    if node is None:
        return "the document"
    attrs = node.attributes
    name = node.tag or ""
    if attrs.get("id"):
        name += f"#{attrs['id']}"
    elif attrs.get("class"):
        name += "." + ".".join((attrs.get("class") or "").split()[:2])
    return f"<{name}>"


def _code_kind(node: LexborNode) -> str:
    """``style``, ``script`` (JavaScript or JSON) or ``script-data`` (templates and other data blocks)."""
    if node.tag != "script":
        return "style"
    kind = (node.attributes.get("type") or "").strip().lower().split(";")[0].strip()
    return "script" if kind in code.JS_TYPES or kind in code.JSON_TYPES else "script-data"


def _set_body(node: LexborNode, body: str) -> None:
    children = list(node.iter(include_text=True))
    for child in children[1:]:
        child.decompose()
    if children:
        if body:
            children[0].replace_with(body)
        else:
            children[0].decompose()
    elif body:
        node.insert_child(body)


__all__ = ["SweepReport", "find_leaks", "may_hold", "page_may_hold", "page_words", "sweep", "sweep_places"]
