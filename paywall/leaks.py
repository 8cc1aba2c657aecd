"""Find and remove copies of withheld article text anywhere in a gated document.

Cutting the article body is not enough: publishers repeat the article in
``<meta>`` descriptions, JSON-LD, inline application state, ``<noscript>``,
hidden elements, attributes and comments, plain or escaped. This module
fingerprints the withheld text and scrubs every place in the document that
still carries it.

Method
------
Text is reduced to word tokens (NFKC, casefolded, runs of ``\\w``; invisible
characters such as soft hyphens and zero-width spaces removed first; each
character of a script written without spaces, Chinese, Japanese, Korean, Thai,
a token of its own). The fingerprint is the set of k-word runs ("shingles",
k = :data:`SHINGLE_WORDS`) of the withheld text, minus the runs readers may
see anyway:

* every run of the teaser (it is shown on purpose);
* every run of the page's visible chrome outside the article (header,
  navigation, related stories, newsletter box...), because a phrase that is
  already on screen is not a secret, and scrubbing it would damage the page.
  The exception is a long passage (:data:`LONG_COPY_WORDS` words or more in a
  row, mostly outside links) of withheld text in the chrome: that is a copy of
  the article, not chrome, and it is scrubbed. Lists of links (related
  stories, menus) that repeat headlines the removed part also showed stay.

The trade-off: a withheld phrase shorter than a shingle, or one that the
visible chrome also shows in a short passage (under a sentence), may remain,
and visible chrome that repeats a withheld sentence is emptied. A shorter k would
catch more and damage more chrome (common phrases such as "sign up for our
newsletter" would start to match). When the withheld text itself is shorter
than k words, its whole word sequence is the fingerprint, so a short removed
paragraph still cannot leak.

Visibility is judged from the markup only (``hidden``, ``aria-hidden``,
inline ``display:none``/``visibility:hidden``, ``<head>``, ``<noscript>``,
``<template>``...). Text hidden by a stylesheet counts as visible chrome; a
long copy of the article there is still caught by the long-copy rule.

Each location is decoded before it is checked (JSON and JavaScript escapes,
``\\u{...}`` included, CSS escapes, HTML entities, markup stripped, repeated
for double escaping; attributes also percent-decoded), so the escaping a copy
hides behind does not matter. Each location is also read percent-decoded, and
through every base64 run in it (``data:`` URIs, ``atob('...')``, attributes
holding encoded markup), two levels deep (:func:`readings`); every reading is
linear in the size of the location.

What happens where a copy is found:

* JSON scripts (JSON-LD, ``__NEXT_DATA__``...): parsed, each leaking string
  replaced by its teaser-safe prefix, re-serialised for a script element.
* other scripts: each leaking string literal is replaced in place by its safe
  prefix; if the script still leaks (text split over many literals, code that
  cannot be read), its body is emptied.
* ``<meta content>``: shortened to the safe prefix and an ellipsis.
* other attributes: dropped. Comments: dropped. Text nodes: emptied.
* ``<style>`` bodies: emptied.
* a copy found only in an encoded reading (base64, percent-encoding) cannot
  be shortened: the string becomes "", the attribute or the node goes.

:func:`find_leaks` reads the scrubbed document again the same way; the
engine refuses to serve a page where it still finds anything (fail closed).
"""

from __future__ import annotations

import binascii
import html
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any
from urllib.parse import unquote, unquote_plus

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PageElement, PreformattedString, Script, Stylesheet

SHINGLE_WORDS = 5
"""Words per run in the fingerprint: long enough to be specific to the article."""

LONG_COPY_WORDS = 12
"""A passage of withheld text this long in visible chrome is a copy, not chrome."""

ELLIPSIS = "\u2026"

MIN_BASE64_CHARS = 16
"""Shortest run of base64 characters that is decoded to look for a copy (12 bytes of text)."""

MAX_DECODE_DEPTH = 2
"""Encodings inside encodings (base64 of percent-encoded text...) are undone this many levels deep."""

# Scripts written without spaces between words (Han, Hiragana, Katakana,
# Hangul, Thai, Lao, Myanmar, Khmer): each character is a token, otherwise a
# whole sentence would be one "word" and no copy of it could be told apart.
_PER_CHARACTER = (
    "\u0e01-\u0e5b\u0e81-\u0edf\u1000-\u109f\u1100-\u11ff\u1780-\u17dd\u17e0-\u17e9"
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303c\u3040-\u30ff\u3100-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uffdc"
    "\U00020000-\U0003ffff"
)
# Invisible characters that do not separate words for a reader: soft hyphen,
# zero-width space / joiners, word joiner, byte-order mark, bidi and other
# format controls, variation selectors (Unicode Default_Ignorable_Code_Point).
_IGNORABLE_CHARS = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
_IGNORABLE = re.compile(f"[{_IGNORABLE_CHARS}]+")
_WORD = re.compile(f"[{_PER_CHARACTER}]|[^\\W{_PER_CHARACTER}]+")
_WORD_WITH_IGNORABLES = re.compile(f"[{_PER_CHARACTER}]|(?:[^\\W{_PER_CHARACTER}]|[{_IGNORABLE_CHARS}])+")
_ASCII_WORD = re.compile(r"\w+")
_MERGING = re.compile(f"[^\\W{_PER_CHARACTER}]")  # a word character that joins its neighbours
_JSON_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[nrtbfv\"\\/'])")
_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})(?:\r\n|[ \t\r\n\f])?")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{" + str(MIN_BASE64_CHARS) + r",}={0,2}")
_NOT_TEXT = re.compile("[\x00-\x08\x0e-\x1f\ufffd]")
_URLSAFE = str.maketrans("-_", "+/")
_TAG = re.compile(r"<[^<>]*>")
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
_STYLE_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_JSON_TYPES = frozenset({"application/ld+json", "application/json", "importmap", "speculationrules"})
_HIDDEN_TAGS = frozenset({"head", "title", "noscript", "template", "meta", "link"})
_CODE_TAGS = frozenset({"script", "style"})

# Tokens of JavaScript that may hold text: comments, regular expression
# literals (after a punctuator), and string / template literals. Leftmost
# match wins, so quotes inside comments and strings inside strings are safe.
_JS_TOKENS = re.compile(
    r"""
      (?P<comment>//[^\n]*|/\*[\s\S]*?\*/)
    | (?<=[(,=:\[!&|?{};])(?P<regex>\s*/(?![*/])(?:[^/\\\n\[]|\\.|\[(?:[^\]\\\n]|\\.)*\])+/[a-z]*)
    | (?P<string>"(?:[^"\\\n]|\\[\s\S])*"|'(?:[^'\\\n]|\\[\s\S])*'|`(?:[^`\\]|\\[\s\S])*`)
    """,
    re.VERBOSE,
)


# --------------------------------------------------------------------------- text


def words(text: str) -> list[str]:
    """Word tokens of ``text``: NFKC-normalised, casefolded runs of ``\\w``.

    Invisible characters (soft hyphens, zero-width spaces...) are removed
    first, so they do not split a word; each character of a script written
    without spaces (Chinese, Japanese, Korean, Thai...) is a token of its own.
    """
    if text.isascii():
        return _ASCII_WORD.findall(text.casefold())
    text = unicodedata.normalize("NFKC", _IGNORABLE.sub("", text))
    return _WORD.findall(text.casefold())


def _token_parts(token: str) -> list[str]:
    """The tokens one raw match of :data:`_WORD` or :data:`_WORD_WITH_IGNORABLES` stands for."""
    if token.isascii():
        return [token.casefold()]
    if len(token) == 1 and unicodedata.is_normalized("NFKC", token) and not _IGNORABLE.match(token):
        return [token.casefold()]  # one character of a per-character script, mostly
    return _WORD.findall(unicodedata.normalize("NFKC", _IGNORABLE.sub("", token)).casefold())


def word_spans(text: str) -> list[tuple[str, int]]:
    """Word tokens of ``text`` with the offset where each starts in ``text``."""
    out: list[tuple[str, int]] = []
    pattern = _WORD_WITH_IGNORABLES if not text.isascii() and _IGNORABLE.search(text) else _WORD
    for match in pattern.finditer(text):
        out.extend((part, match.start()) for part in _token_parts(match.group()))
    return out


def _json_escape_value(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] in "ux":
        digits = code[2:-1] if code[1] == "{" else code[1:]
        return _code_point(int(digits, 16))
    return {"n": " ", "r": " ", "t": " ", "b": " ", "f": " ", "v": " "}.get(code, code)


def _css_escape_value(match: re.Match[str]) -> str:
    return _code_point(int(match.group(1), 16))


def _code_point(value: int) -> str:
    if value == 0 or value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return "\ufffd"
    return chr(value)


def decode_layers(text: str, *, url: bool = False, css: bool = False) -> str:
    """Undo the escaping a copy of the text may hide behind.

    JSON/JavaScript escapes (``\\u00e9``, ``\\u{e9}``, ``\\x41``...), CSS escapes
    (``\\e9 ``), HTML character references and markup are removed, a few times
    over for doubly escaped copies. ``css`` says the text is a stylesheet, whose
    escapes are undone first (``\\b`` is a hex digit there, a backspace in
    JavaScript). With ``url``, percent-encoding too (share links carry the text
    in their query). Each pass is linear in the text, and there are at most four.
    """
    for _ in range(4):
        before = text
        if "\\" in text:
            if css:
                text = _CSS_ESCAPE.sub(_css_escape_value, text)
            text = _JSON_ESCAPE.sub(_json_escape_value, text)
            if not css and "\\" in text:
                text = _CSS_ESCAPE.sub(_css_escape_value, text)
        if "&" in text:
            text = html.unescape(text)
        if "<" in text:
            text = _TAG.sub(" ", text)
        if url and "%" in text and _PERCENT.search(text):
            text = unquote_plus(text)
        if text == before:
            break
    return text


def readings(text: str, *, url: bool = False, css: bool = False, depth: int = 0) -> Iterator[str]:
    """Every way a reader or a scraper could decode ``text``, first the plain one.

    The first reading is :func:`decode_layers`; then, when the text holds
    them, the percent-decoded reading and the text of each base64 run
    (``data:`` URIs, ``atob('...')``, attributes holding encoded markup), each
    decoded in turn, down to :data:`MAX_DECODE_DEPTH` levels. Every reading is
    linear in the text, so the whole is too.
    """
    primary = decode_layers(text, url=url, css=css)
    yield primary
    if depth >= MAX_DECODE_DEPTH:
        return
    if not url and "%" in primary and _PERCENT.search(primary):
        percent = decode_layers(primary, url=True, css=css)
        if percent != primary:
            yield percent
    # Runs are looked for where "+" is still "+" (the url reading makes it a space).
    plain = primary
    if url:
        if _BASE64_RUN.search(text) is None:
            return
        plain = decode_layers(text, css=css)
    sources = [plain]
    if "%" in plain and _PERCENT.search(plain):
        sources.append(unquote(plain))
    for source in sources:
        payloads = list(base64_payloads(source))
        if payloads:  # read together: one pass over many small payloads
            yield from readings("\n".join(payloads), url=True, depth=depth + 1)


def base64_payloads(text: str) -> Iterator[str]:
    """The text of each base64 run in ``text`` that decodes to text.

    A run is :data:`MIN_BASE64_CHARS` or more characters of the base64 (or
    URL-safe base64) alphabet with both lower- and upper-case letters; runs
    that decode to binary (images, fonts) are skipped after a short look.
    """
    for match in _BASE64_RUN.finditer(text):
        run = match.group()
        if run.islower() or run.isupper() or run.isdigit():
            continue
        payload = _decode_base64(run)
        if payload is not None:
            yield payload


def _decode_base64(run: str) -> str | None:
    """The UTF-8 text a base64 run stands for, or None (not base64, or binary).

    Runs decoding to binary are dropped after a look at their first bytes,
    so images and fonts embedded as ``data:`` URIs cost little.
    """
    data = run.rstrip("=")
    if len(data) % 4 == 1:
        return None
    if "-" in data or "_" in data:
        if "+" in data or "/" in data:
            return None
        data = data.translate(_URLSAFE)
    try:
        raw = binascii.a2b_base64(data + "=" * (-len(data) % 4), strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    if raw.isascii():
        text = raw.decode("ascii")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(raw) - 3:
                return None  # binary, or not UTF-8 (a cut-off last character is fine)
            text = raw[: exc.start].decode("utf-8")
    head = text[:256]
    if _NOT_TEXT.search(head) is not None and len(_NOT_TEXT.findall(head)) * 8 > len(head):
        return None
    return text


def shingles(tokens: Sequence[str], k: int) -> set[tuple[str, ...]]:
    """Every run of ``k`` consecutive tokens."""
    if k <= 0 or len(tokens) < k:
        return set()
    return {tuple(tokens[i : i + k]) for i in range(len(tokens) - k + 1)}


def _streams(pieces: Sequence[str]) -> list[list[str]]:
    """Tokens of text pieces joined with and without a space.

    A word split over inline tags (``Zephyr<em>quill</em>``) reads as one word
    without the space; separate blocks read as separate words with it.
    """
    spaced = words(" ".join(pieces))
    joined = words("".join(pieces))
    return [spaced] if joined == spaced else [spaced, joined]


@dataclass(frozen=True)
class Fingerprint:
    """The runs of words that must not remain anywhere in the document."""

    k: int
    runs: frozenset[tuple[str, ...]]
    vocabulary: frozenset[str]

    @classmethod
    def build(cls, removed: Sequence[str], teaser: Sequence[str], chrome: Sequence[str] = ()) -> Fingerprint:
        """Fingerprint of the ``removed`` text pieces, minus what readers see anyway.

        ``teaser`` and ``chrome`` are the visible text pieces of the kept
        article and of the page outside the article, in document order.
        """
        removed_streams = _streams(removed)
        count = len(removed_streams[0])
        if count == 0:
            return cls(0, frozenset(), frozenset())
        k = min(SHINGLE_WORDS, count)
        raw: set[tuple[str, ...]] = set()
        for stream in removed_streams:
            raw |= shingles(stream, k)
        safe: set[tuple[str, ...]] = set()
        for stream in _streams(teaser):
            safe |= shingles(stream, k)
        safe |= _chrome_runs(chrome, k, raw)
        runs = frozenset(raw - safe)
        vocabulary = frozenset(chain.from_iterable(runs))
        return cls(k, runs, vocabulary)

    def __bool__(self) -> bool:
        return bool(self.runs)

    def first_match(self, tokens: Sequence[str]) -> int | None:
        """Index of the first token that starts a withheld run, or None."""
        return next(self.matches(tokens), None)

    def matches(self, tokens: Sequence[str]) -> Iterator[int]:
        """Indexes of every token that starts a withheld run."""
        k = self.k
        if not self.runs or len(tokens) < k:
            return
        vocabulary = self.vocabulary
        runs = self.runs
        for i in range(len(tokens) - k + 1):
            if tokens[i] in vocabulary and tuple(tokens[i : i + k]) in runs:
                yield i

    def leaks(self, text: str, *, url: bool = False, css: bool = False) -> bool:
        """Whether ``text``, in any of its :func:`readings`, still carries withheld text."""
        if not self.runs:
            return False
        return any(self.first_match(words(reading)) is not None for reading in readings(text, url=url, css=css))

    def leaks_encoded(self, text: str) -> bool:
        """Whether a percent- or base64-encoded reading of ``text`` carries withheld text.

        For text nodes, whose plain reading is checked across node boundaries.
        """
        if not self.runs:
            return False
        if _BASE64_RUN.search(text) is None and _PERCENT.search(text) is None:
            return False
        found = readings(text)
        next(found)  # the plain reading
        return any(self.first_match(words(reading)) is not None for reading in found)

    def safe_prefix(self, text: str, *, url: bool = False) -> str:
        """The decoded text up to where withheld text starts (the teaser part).

        "" when what would be kept still carries withheld text in another
        reading (base64, percent-encoding): such a copy cannot be shortened.
        """
        decoded = decode_layers(text, url=url)
        spans = word_spans(decoded)
        first = self.first_match([token for token, _ in spans])
        prefix = decoded
        if first is not None:
            prefix = decoded[: spans[first][1]].rstrip(" \t\r\n,;:-\u2013\u2014(\"'\u201c\u2018")
        if prefix and self.leaks(prefix, url=url):
            return ""
        return prefix


def _chrome_runs(pieces: Sequence[str], k: int, withheld: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """Runs of visible chrome, except those inside long copies of withheld text.

    A copy counts as long when it has :data:`LONG_COPY_WORDS` words in a row
    of withheld text, most of them outside links: lists of links (related
    stories, menus) repeating headlines the article also showed are chrome.
    """
    safe: set[tuple[str, ...]] = set()
    for separator in (" ", ""):
        tokens, owners = joined_tokens(pieces, separator)
        in_link = [isinstance(pieces[first], LinkText) for first, _ in owners]
        safe |= _without_long_copies(tokens, in_link, k, withheld)
    return safe


def joined_tokens(texts: Sequence[str], separator: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Tokens of ``texts`` joined by ``separator``, each with the first and last text it spans.

    ``separator`` is " " (no token spans two texts) or "" (a word split over
    texts, ``zephyr<em>quill</em>``, is one token spanning them). Each text is
    tokenised on its own (:func:`words`), so the cost is that of tokenising.
    """
    if separator and _WORD.search(separator):
        raise ValueError("the separator must not hold word characters")
    tokens: list[str] = []
    owners: list[tuple[int, int]] = []
    open_end = False  # the last token reaches the end of the texts so far, and a word may go on
    for index, text in enumerate(texts):
        parts = words(text)
        if separator:
            tokens.extend(parts)
            owners.extend([(index, index)] * len(parts))
            continue
        core = text if text.isascii() else _IGNORABLE.sub("", text)
        if not core:
            continue
        if open_end and parts and _MERGING.match(core):
            tokens[-1] += parts[0]
            owners[-1] = (owners[-1][0], index)
            parts = parts[1:]
        tokens.extend(parts)
        owners.extend([(index, index)] * len(parts))
        open_end = _MERGING.match(core[-1]) is not None
    return tokens, owners


def _without_long_copies(
    tokens: Sequence[str], in_link: Sequence[bool], k: int, withheld: set[tuple[str, ...]]
) -> set[tuple[str, ...]]:
    runs = shingles(tokens, k)
    if not runs & withheld:
        return runs
    covered = [False] * len(tokens)
    for i in range(len(tokens) - k + 1):
        if tuple(tokens[i : i + k]) in withheld:
            for j in range(i, i + k):
                covered[j] = True
    start = 0
    while start < len(tokens):
        if not covered[start]:
            start += 1
            continue
        end = start
        while end < len(tokens) and covered[end]:
            end += 1
        prose = sum(1 for j in range(start, end) if not in_link[j])
        if end - start >= LONG_COPY_WORDS and prose * 2 >= end - start:
            runs -= shingles(tokens[start:end], k)
        start = end
    return runs


# --------------------------------------------------------------------------- document walk


def is_hiding(tag: Tag) -> bool:
    """Whether this element hides its content from readers, judged from markup."""
    if tag.name in _HIDDEN_TAGS or tag.name in _CODE_TAGS:
        return True
    attrs = tag.attrs
    if "hidden" in attrs:
        return True
    if str(attrs.get("aria-hidden", "")).strip().lower() == "true":
        return True
    style = attrs.get("style")
    return isinstance(style, str) and _STYLE_HIDDEN.search(style) is not None


def walk(root: Tag, *, skip: Tag | None = None) -> Iterator[tuple[PageElement, bool]]:
    """Every node under ``root`` in document order, with whether it is hidden.

    Iterative, so deep documents do not exhaust the stack. ``skip`` (and its
    subtree) is left out.
    """
    stack: list[tuple[PageElement, bool]] = [(child, False) for child in reversed(root.contents)]
    while stack:
        node, hidden = stack.pop()
        if node is skip:
            continue
        if isinstance(node, Tag):
            hidden = hidden or is_hiding(node)
            yield node, hidden
            stack.extend((child, hidden) for child in reversed(node.contents))
        else:
            yield node, hidden


def is_text(node: PageElement) -> bool:
    """A text node readers could see (not a comment, doctype, script or style body)."""
    if not isinstance(node, NavigableString):
        return False
    if isinstance(node, PreformattedString | Script | Stylesheet):
        return False
    parent = node.parent
    return parent is None or parent.name not in _CODE_TAGS


def text_pieces(nodes: Iterable[PageElement]) -> list[str]:
    """Text of nodes (and their subtrees), without scripts, styles or comments."""
    pieces: list[str] = []
    for node in nodes:
        if isinstance(node, Tag):
            if node.name in _CODE_TAGS:
                continue
            pieces.extend(str(n) for n, _ in walk(node) if is_text(n))
        elif is_text(node):
            pieces.append(str(node))
    return pieces


def visible_pieces(root: Tag, *, skip: Tag | None = None, linked: bool = False) -> list[str]:
    """Visible text under ``root`` in document order (``skip`` left out).

    With ``linked``, text inside links is returned as :class:`LinkText`, which
    tells related-story lists and menus apart from prose.
    """
    pieces: list[str] = []
    for node, hidden in walk(root, skip=skip):
        if hidden or not is_text(node):
            continue
        text = str(node)
        if linked and any(parent.name == "a" for parent in node.parents):
            pieces.append(LinkText(text))
        else:
            pieces.append(text)
    return pieces


class LinkText(str):
    """Visible text inside a link (menus, related-story lists)."""

    __slots__ = ()


# --------------------------------------------------------------------------- scrubbing


@dataclass
class ScrubReport:
    """What scrubbing changed, for logs and tests."""

    text_nodes: int = 0
    attributes: int = 0
    meta_shortened: int = 0
    comments: int = 0
    scripts_rewritten: int = 0
    scripts_emptied: int = 0
    places: list[str] = field(default_factory=list)

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


def scrub(soup: BeautifulSoup, fingerprint: Fingerprint) -> ScrubReport:
    """Remove or shorten every copy of the withheld text in ``soup`` (in place)."""
    report = ScrubReport()
    if not fingerprint:
        return report
    nodes = list(walk(soup))
    _scrub_text(nodes, fingerprint, report)
    for node, _hidden in nodes:
        if isinstance(node, Tag):
            _scrub_attributes(node, fingerprint, report)
            if node.name in _CODE_TAGS:
                _scrub_code(node, fingerprint, report)
        elif isinstance(node, PreformattedString) and fingerprint.leaks(str(node)):
            # Comments, and the processing instructions or declarations a
            # parser may produce from odd markup.
            node.extract()
            report.comments += 1
            report.places.append("comment")
    return report


def find_leaks(soup: BeautifulSoup, fingerprint: Fingerprint) -> list[str]:
    """Places that still carry withheld text (empty when the document is clean)."""
    found: list[str] = []
    if not fingerprint:
        return found
    nodes = list(walk(soup))
    if _text_matches(nodes, fingerprint):
        found.append("text")
    for node, _hidden in nodes:
        if isinstance(node, Tag):
            for name, value in node.attrs.items():
                if fingerprint.leaks(_attribute_text(value), url=True, css=name.lower() == "style"):
                    found.append(f"<{node.name} {name}>")
            if node.name in _CODE_TAGS and fingerprint.leaks(node.get_text(), css=node.name == "style"):
                found.append(f"<{node.name}>")
        elif isinstance(node, PreformattedString) and fingerprint.leaks(str(node)):
            found.append("comment")
    return found


def _text_matches(nodes: list[tuple[PageElement, bool]], fingerprint: Fingerprint) -> list[tuple[PageElement, bool]]:
    """Text nodes that carry withheld runs, reading across node boundaries.

    Text is read twice: nodes joined with a space (separate blocks), and
    joined as they are (a word split over inline tags, ``zephyr<em>quill</em>``).
    Hidden text is decoded first (a ``<textarea>`` or ``<noscript>`` may hold
    escaped markup). A run that reaches into hidden text is a hidden copy, so
    only its hidden side goes; a run entirely in visible text is a visible
    copy (the fingerprint already spares ordinary chrome), and goes. A node
    whose percent- or base64-decoded reading carries withheld text goes too.
    """
    texts: list[tuple[PageElement, bool, str]] = []
    doomed: set[int] = set()
    for node, hidden in nodes:
        if is_text(node):
            text = str(node)
            if fingerprint.leaks_encoded(text):
                doomed.add(len(texts))
            texts.append((node, hidden, decode_layers(text) if hidden else text))
    k = fingerprint.k
    for separator in (" ", ""):
        tokens, owners = joined_tokens([text for _, _, text in texts], separator)
        for start in fingerprint.matches(tokens):
            window = owners[start : start + k]
            if window[0] == window[-1] and window[0][0] == window[0][1]:
                doomed.add(window[0][0])  # the run is inside one node
                continue
            involved: set[int] = set()
            for first, last in window:
                involved.update(range(first, last + 1))
            hidden_ones = {index for index in involved if texts[index][1]}
            doomed |= hidden_ones or involved
    return [(texts[index][0], texts[index][1]) for index in sorted(doomed)]


def _scrub_text(nodes: list[tuple[PageElement, bool]], fingerprint: Fingerprint, report: ScrubReport) -> None:
    """Empty every text node that carries withheld runs."""
    for node, hidden in _text_matches(nodes, fingerprint):
        node.replace_with("")
        report.text_nodes += 1
        report.places.append("hidden text" if hidden else "text")


def _attribute_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def _scrub_attributes(tag: Tag, fingerprint: Fingerprint, report: ScrubReport) -> None:
    for name, value in list(tag.attrs.items()):
        text = _attribute_text(value)
        if len(text) < fingerprint.k or not fingerprint.leaks(text, url=True, css=name.lower() == "style"):
            continue
        if tag.name == "meta" and name.lower() == "content":
            prefix = fingerprint.safe_prefix(text, url=True)
            tag[name] = prefix + ELLIPSIS if prefix else ""
            report.meta_shortened += 1
            report.places.append(f"<meta {tag.get('name') or tag.get('property') or ''}>")
        else:
            del tag.attrs[name]
            report.attributes += 1
            report.places.append(f"<{tag.name} {name}>")


def _scrub_code(tag: Tag, fingerprint: Fingerprint, report: ScrubReport) -> None:
    body = "".join(str(s) for s in tag.contents if isinstance(s, NavigableString))
    css = tag.name == "style"
    if not body.strip() or not fingerprint.leaks(body, css=css):
        return
    new_body: str | None = None
    if tag.name == "script":
        kind = str(tag.get("type", "")).strip().lower()
        value = _load_json(body) if kind in _JSON_TYPES or body.lstrip()[:1] in ("{", "[") else _NOT_JSON
        if value is not _NOT_JSON:
            try:
                new_body = script_json(_scrub_json(value, fingerprint))
            except (RecursionError, ValueError, TypeError):
                new_body = None
        elif kind not in _JSON_TYPES:
            # Code, and other data blocks (text templates...): their string
            # literals are rewritten in place, the rest is left as it was.
            new_body = _scrub_javascript(body, fingerprint)
    if new_body is not None and not fingerprint.leaks(new_body, css=css):
        _set_code(tag, new_body)
        report.scripts_rewritten += 1
        report.places.append(f"<{tag.name}> rewritten")
        return
    _set_code(tag, "")
    report.scripts_emptied += 1
    report.places.append(f"<{tag.name}> emptied")


_NOT_JSON = object()


def _load_json(body: str) -> Any:
    text = body.strip()
    for prefix, suffix in (("<!--", "-->"), ("//<![CDATA[", "//]]>"), ("<![CDATA[", "]]>")):
        if text.startswith(prefix) and text.endswith(suffix):
            text = text[len(prefix) : -len(suffix)].strip()
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _scrub_json(value: Any, fingerprint: Fingerprint) -> Any:
    """Copy of a JSON value with each leaking string cut to its safe prefix."""
    if isinstance(value, str):
        if fingerprint.leaks(value):
            prefix = fingerprint.safe_prefix(value)
            return prefix + ELLIPSIS if prefix else ""
        return value
    if isinstance(value, list):
        return [_scrub_json(item, fingerprint) for item in value]
    if isinstance(value, dict):
        return {key: _scrub_json(item, fingerprint) for key, item in value.items()}
    return value


def script_json(value: Any) -> str:
    """JSON text that is safe inside a ``<script>`` element.

    ``<`` only occurs inside JSON strings, where ``\\u003c`` means the same,
    so ``</script>`` and ``<!--`` cannot end or confuse the element.
    """
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _scrub_javascript(body: str, fingerprint: Fingerprint) -> str | None:
    """Replace each leaking string literal by its safe prefix; None if nothing changed."""
    parts: list[str] = []
    last = 0
    changed = False
    for match in _JS_TOKENS.finditer(body):
        literal = match.group("string")
        if literal is None:
            continue
        inner = literal[1:-1]
        if not fingerprint.leaks(inner):
            continue
        prefix = fingerprint.safe_prefix(inner)
        parts.append(body[last : match.start("string")])
        parts.append(script_json(prefix + ELLIPSIS if prefix else ""))
        last = match.end("string")
        changed = True
    if not changed:
        return None
    parts.append(body[last:])
    return "".join(parts)


def _set_code(tag: Tag, body: str) -> None:
    tag.clear()
    if body:
        tag.append(Script(body) if tag.name == "script" else Stylesheet(body))
