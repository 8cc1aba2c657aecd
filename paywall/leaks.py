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

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PageElement, PreformattedString, Script, Stylesheet

from paywall.engine.fingerprint import Fingerprint, LinkText, joined_tokens
from paywall.engine.text import ELLIPSIS, base64_payloads, decode_layers, readings, word_spans, words

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


__all__ = [
    "ELLIPSIS",
    "Fingerprint",
    "LinkText",
    "ScrubReport",
    "base64_payloads",
    "decode_layers",
    "find_leaks",
    "is_hiding",
    "is_text",
    "joined_tokens",
    "readings",
    "script_json",
    "scrub",
    "text_pieces",
    "visible_pieces",
    "walk",
    "word_spans",
    "words",
]
