"""Find and remove copies of withheld article text anywhere in a gated document.

Cutting the article body is not enough: publishers repeat the article in
``<meta>`` descriptions, JSON-LD, inline application state, ``<noscript>``,
hidden elements, attributes and comments, plain or escaped. This module
fingerprints the withheld text and scrubs every place in the document that
still carries it.

Method
------
Text is reduced to word tokens (NFKC, casefolded, runs of ``\\w``). The
fingerprint is the set of k-word runs ("shingles", k = :data:`SHINGLE_WORDS`)
of the withheld text, minus the runs readers may see anyway:

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

Each location is decoded before it is checked (JSON escapes, HTML entities,
markup stripped, repeated for double escaping; attributes also
percent-decoded), so the escaping a copy hides behind does not matter.

What happens where a copy is found:

* JSON scripts (JSON-LD, ``__NEXT_DATA__``...): parsed, each leaking string
  replaced by its teaser-safe prefix, re-serialised for a script element.
* other scripts: each leaking string literal is replaced in place by its safe
  prefix; if the script still leaks (text split over many literals, code that
  cannot be read), its body is emptied.
* ``<meta content>``: shortened to the safe prefix and an ellipsis.
* other attributes: dropped. Comments: dropped. Text nodes: emptied.
* ``<style>`` bodies: emptied.

:func:`find_leaks` reads the scrubbed document again the same way; the
engine refuses to serve a page where it still finds anything (fail closed).
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PageElement, PreformattedString, Script, Stylesheet

SHINGLE_WORDS = 5
"""Words per run in the fingerprint: long enough to be specific to the article."""

LONG_COPY_WORDS = 12
"""A passage of withheld text this long in visible chrome is a copy, not chrome."""

ELLIPSIS = "\u2026"

_WORD = re.compile(r"\w+")
_JSON_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[nrtbfv\"\\/'])")
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
    """Word tokens of ``text``: NFKC-normalised, casefolded runs of ``\\w``."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return _WORD.findall(text.casefold())


def word_spans(text: str) -> list[tuple[str, int]]:
    """Word tokens of ``text`` with the offset where each starts in ``text``."""
    out: list[tuple[str, int]] = []
    for match in _WORD.finditer(text):
        token = match.group()
        if not token.isascii():
            token = unicodedata.normalize("NFKC", token)
        out.extend((part, match.start()) for part in _WORD.findall(token.casefold()))
    return out


def _json_escape_value(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] in "ux":
        return chr(int(code[1:], 16))
    return {"n": " ", "r": " ", "t": " ", "b": " ", "f": " ", "v": " "}.get(code, code)


def decode_layers(text: str, *, url: bool = False) -> str:
    """Undo the escaping a copy of the text may hide behind.

    JSON/JavaScript escapes, HTML character references and markup are removed,
    a few times over for doubly escaped copies. With ``url``, percent-encoding
    too (share links carry the text in their query).
    """
    for _ in range(4):
        before = text
        if "\\" in text:
            text = _JSON_ESCAPE.sub(_json_escape_value, text)
        if "&" in text:
            text = html.unescape(text)
        if "<" in text:
            text = _TAG.sub(" ", text)
        if url and "%" in text and _PERCENT.search(text):
            text = unquote_plus(text)
        if text == before:
            break
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
        vocabulary = frozenset(word for run in runs for word in run)
        return cls(k, runs, vocabulary)

    def __bool__(self) -> bool:
        return bool(self.runs)

    def first_match(self, tokens: Sequence[str]) -> int | None:
        """Index of the first token that starts a withheld run, or None."""
        k = self.k
        if not self.runs or len(tokens) < k:
            return None
        vocabulary = self.vocabulary
        runs = self.runs
        for i in range(len(tokens) - k + 1):
            if tokens[i] in vocabulary and tuple(tokens[i : i + k]) in runs:
                return i
        return None

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

    def leaks(self, text: str, *, url: bool = False) -> bool:
        """Whether ``text``, once decoded, still carries withheld text."""
        if not self.runs:
            return False
        return self.first_match(words(decode_layers(text, url=url))) is not None

    def safe_prefix(self, text: str, *, url: bool = False) -> str:
        """The decoded text up to where withheld text starts (the teaser part)."""
        decoded = decode_layers(text, url=url)
        spans = word_spans(decoded)
        first = self.first_match([token for token, _ in spans])
        if first is None:
            return decoded
        return decoded[: spans[first][1]].rstrip(" \t\r\n,;:-\u2013\u2014(\"'\u201c\u2018")


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
    """Tokens of ``texts`` joined by ``separator``, each with the first and last text it spans."""
    starts: list[int] = []
    position = 0
    for text in texts:
        starts.append(position)
        position += len(text) + len(separator)
    tokens: list[str] = []
    owners: list[tuple[int, int]] = []
    for match in _WORD.finditer(separator.join(texts)):
        first = bisect_right(starts, match.start()) - 1
        last = bisect_right(starts, match.end() - 1) - 1
        token = match.group()
        if not token.isascii():
            token = unicodedata.normalize("NFKC", token)
        for part in _WORD.findall(token.casefold()):
            tokens.append(part)
            owners.append((first, last))
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
                if fingerprint.leaks(_attribute_text(value), url=True):
                    found.append(f"<{node.name} {name}>")
            if node.name in _CODE_TAGS and fingerprint.leaks(node.get_text()):
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
    copy (the fingerprint already spares ordinary chrome), and goes.
    """
    texts: list[tuple[PageElement, bool, str]] = []
    for node, hidden in nodes:
        if is_text(node):
            text = str(node)
            texts.append((node, hidden, decode_layers(text) if hidden else text))
    doomed: set[int] = set()
    k = fingerprint.k
    for separator in (" ", ""):
        tokens, owners = joined_tokens([text for _, _, text in texts], separator)
        for start in fingerprint.matches(tokens):
            involved: set[int] = set()
            for first, last in owners[start : start + k]:
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
        if len(text) < 2 * fingerprint.k or not fingerprint.leaks(text, url=True):
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
    if not body.strip() or not fingerprint.leaks(body):
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
    if new_body is not None and not fingerprint.leaks(new_body):
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


def _js_literal(text: str) -> str:
    """A double-quoted JavaScript string literal for ``text``, safe in a script element."""
    return script_json(text)


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
        parts.append(_js_literal(prefix + ELLIPSIS if prefix else ""))
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
