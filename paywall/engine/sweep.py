"""Find and remove every copy of the withheld text left in a cut page.

Cutting the article is not enough: publishers repeat it in ``<meta>``
descriptions, JSON-LD, application state, ``<noscript>``, hidden elements,
attributes and comments, plain or escaped. The sweep costs what the copies
cost, not the page size times the readings:

1. **Pre-filter.** The cut page is serialised once and split into words at
   C speed (a byte translation and a split). The *markers* are the withheld
   words readers cannot see anywhere else (not in the teaser, not in the
   page's visible chrome). If no marker is in the page and nothing in it
   looks encoded (percent-encoding runs, escape runs, base64 blobs), there
   is no copy, and the serialised page is the answer.
2. **Sweep.** Otherwise every place text can hide is read the way a browser
   or a scraper would (:func:`~paywall.engine.text.readings`): text nodes
   across their boundaries, attributes, comments, ``<template>`` content,
   styles, and scripts as code (:mod:`paywall.engine.code`). Where a copy is
   found, JSON strings and script literals are shortened to their teaser part
   (JSON stays valid), ``<meta content>`` is shortened, other attributes are
   dropped, comments and text nodes removed, and a script or style that still
   carries the text is emptied.
3. **Check.** The result is serialised and read again; if a copy remains,
   :class:`~paywall.errors.RewriteError` is raised and the page is not served.

A copy made only of words that readers see elsewhere anyway (no marker) is
not looked for: it reveals nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from paywall.engine import code
from paywall.engine.fingerprint import Fingerprint, joined_tokens
from paywall.engine.text import ELLIPSIS, decode_layers, words

_ASCII_TABLE = bytes(
    (c + 32 if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122 or c >= 128) else 32) for c in range(256)
)
_ENCODED_HINTS = (b"%20", b"%2520", b"\\u00", b"\\x", b"&#", b"base64", b"atob(")
MAX_TOKEN = 48
"""A word longer than this in the page may be an encoded blob (base64): the full sweep reads it."""
_CODE_TAGS = frozenset({"script", "style"})
_HIDING_TAGS = frozenset({"head", "title", "noscript", "template", "meta", "link", "script", "style", "textarea"})


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
    """Every ASCII word of a page (lower-cased) and every run of other bytes, at C speed."""
    return set(data.translate(_ASCII_TABLE).split())


def markers(fingerprint: Fingerprint, seen: set[str]) -> tuple[set[bytes], bool]:
    """The withheld words readers do not see elsewhere, as bytes; and whether all are ASCII."""
    found = {w for w in fingerprint.vocabulary if w not in seen}
    ascii_only = all(w.isascii() for w in found)
    return {w.encode() for w in found}, ascii_only


def needs_sweep(data: bytes, fingerprint: Fingerprint, marks: set[bytes], ascii_only: bool) -> bool:
    """The pre-filter: whether the serialised page may still carry withheld text."""
    if not fingerprint:
        return False
    if not ascii_only or not marks:
        return True
    tokens = page_words(data)
    if not tokens.isdisjoint(marks):
        return True
    if any(hint in data for hint in _ENCODED_HINTS):
        return True
    return any(len(token) > MAX_TOKEN for token in tokens)


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
                attrs = node.attributes
                if (
                    tag in _HIDING_TAGS
                    or "hidden" in attrs
                    or (attrs.get("aria-hidden") or "").strip().lower() == "true"
                    or "none" in (attrs.get("style") or "").replace(" ", "").lower()
                ):
                    hidden = True
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
    for node, hidden in _text_matches(nodes, fingerprint):
        node.decompose()
        report.text_nodes += 1
        report.places.append("hidden text" if hidden else "text")
    for node, _hidden in nodes:
        tag = node.tag
        if tag == "-comment":
            if fingerprint.leaks(node.comment_content or ""):
                node.decompose()
                report.comments += 1
                report.places.append("comment")
        elif tag not in ("-text", None):
            _sweep_attributes(node, fingerprint, report)
            if tag in _CODE_TAGS:
                _sweep_code(node, fingerprint, report)


def find_leaks(tree: LexborHTMLParser, fingerprint: Fingerprint) -> list[str]:
    """Places that still carry withheld text (empty when the document is clean)."""
    found: list[str] = []
    nodes = _nodes(tree)
    if _text_matches(nodes, fingerprint):
        found.append("text")
    for node, _hidden in nodes:
        tag = node.tag
        if tag == "-comment":
            if fingerprint.leaks(node.comment_content or ""):
                found.append("comment")
        elif tag not in ("-text", None):
            for name, value in node.attributes.items():
                if value and fingerprint.leaks(value, url=True, css=name.lower() == "style"):
                    found.append(f"<{tag} {name}>")
            if tag in _CODE_TAGS and _code_leaks(_body(node), tag, fingerprint):
                found.append(f"<{tag}>")
    return found


def _text_matches(nodes: list[tuple[LexborNode, bool]], fingerprint: Fingerprint) -> list[tuple[LexborNode, bool]]:
    """Text nodes that carry withheld runs, reading across node boundaries.

    Text is read twice: nodes joined with a space (separate blocks), and
    joined as they are (a word split over inline tags, ``zephyr<em>quill</em>``).
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
                continue
            if fingerprint.leaks_encoded(text):
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


def _sweep_attributes(node: LexborNode, fingerprint: Fingerprint, report: SweepReport) -> None:
    attributes = node.attributes
    for name, value in attributes.items():
        if not value or len(value) < fingerprint.k:
            continue
        if not fingerprint.leaks(value, url=True, css=name.lower() == "style"):
            continue
        if node.tag == "meta" and name.lower() == "content":
            prefix = fingerprint.safe_prefix(value, url=True)
            node.attrs[name] = prefix + ELLIPSIS if prefix else ""
            report.meta_shortened += 1
            report.places.append(f"<meta {attributes.get('name') or attributes.get('property') or ''}>")
        else:
            del node.attrs[name]
            report.attributes += 1
            report.places.append(f"<{node.tag} {name}>")


def _body(node: LexborNode) -> str:
    return "".join(child.text_content or "" for child in node.iter(include_text=True) if child.tag == "-text")


def _shorten(fingerprint: Fingerprint, text: str) -> str:
    prefix = fingerprint.safe_prefix(text)
    return prefix + ELLIPSIS if prefix else ""


def _code_leaks(body: str, tag: str, fingerprint: Fingerprint) -> bool:
    """Whether a script or style body carries withheld text, read as what it is."""
    if not body.strip():
        return False
    if tag == "style":
        return fingerprint.leaks(body, css=True)
    value = code.load_json(body)
    if value is not code.NOT_JSON:
        return any(fingerprint.leaks(s) for s in code.json_strings(value))
    literals = [text for _, _, text in code.js_literals(body)]
    if any(fingerprint.leaks(text) for text in literals):
        return True
    # Text split over several literals ("The quick " + "brown fox"), or markup read as text.
    return fingerprint.leaks(" ".join(literals)) or fingerprint.leaks(decode_layers(body))


def _sweep_code(node: LexborNode, fingerprint: Fingerprint, report: SweepReport) -> None:
    body = _body(node)
    tag = node.tag or ""
    if not _code_leaks(body, tag, fingerprint):
        return
    new_body: str | None = None
    if tag == "script":
        value = code.load_json(body)
        if value is not code.NOT_JSON:
            try:
                new_body = code.script_json(
                    code.map_json(value, lambda s: _shorten(fingerprint, s) if fingerprint.leaks(s) else s)
                )
            except (RecursionError, ValueError, TypeError):
                new_body = None
        else:
            new_body = code.replace_literals(
                body,
                lambda s: code.script_json(_shorten(fingerprint, s)) if fingerprint.leaks(s) else None,
            )
    if new_body is not None and not _code_leaks(new_body, tag, fingerprint):
        _set_body(node, new_body)
        report.scripts_rewritten += 1
        report.places.append(f"<{tag}> rewritten")
        return
    _set_body(node, "")
    report.scripts_emptied += 1
    report.places.append(f"<{tag}> emptied")


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


__all__ = ["SweepReport", "find_leaks", "markers", "needs_sweep", "page_words", "sweep", "words"]
