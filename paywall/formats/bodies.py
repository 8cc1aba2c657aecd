"""One article body cut at its teaser, in the form it comes in: HTML, plain text, or blocks of text.

Every form goes through the engine's :func:`~paywall.engine.cut_fragment`, so a
body in a feed or a JSON answer is cut where its page would be (the same units
of prose, the same share of the words, the same rule for short articles), and
copies inside it are swept as on a page. Plain text and blocks (rich-text
spans, lists of paragraphs) are written as paragraphs for the engine and read
back, so what is kept is the original text itself, never a rendering of it.

Several bodies cut in one answer (a feed's items, a page of posts) are checked
together with :class:`Withheld`: a string anywhere in the answer that still
carries a run of withheld words from any of them is found.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser

from paywall.engine import Fingerprint, cut_fragment
from paywall.engine.text import shingles, words

#: Markup or a character reference: a string that holds this is read as HTML, else as plain text.
_HTML_HINT = re.compile(
    r"<(?:p|div|br|hr|h[1-6]|ul|ol|li|dl|blockquote|figure|figcaption|img|a|em|strong|b|i|u|span|section|"
    r"article|table|pre|code|iframe|script|style|noscript|template|picture|video|audio|svg)\b[^<>]*>"
    r"|</[a-z][a-z0-9]*\s*>|<!--|&(?:#[0-9]+|#x[0-9a-f]+|[a-z][a-z0-9]*);",
    re.IGNORECASE,
)
_BLANK_LINES = re.compile(r"(\r?\n[ \t\f\v]*\r?\n\s*)")
_NEWLINES = re.compile(r"(\r?\n\s*)")
_BLOCK_ATTRIBUTE = "data-paywall-block"


def looks_like_html(text: str) -> bool:
    """Whether ``text`` is HTML (holds block or inline markup, a comment or a character reference)."""
    return _HTML_HINT.search(text) is not None


@dataclass(frozen=True)
class CutBody:
    """One string body after the cut: its new value, or the old one when it is ``whole``."""

    value: str
    whole: bool
    fingerprint: Fingerprint
    teaser: str = ""


@dataclass(frozen=True)
class Block:
    """One block of a rich-text body or a list of paragraphs: its text (or its HTML)."""

    text: str
    html: bool = False
    heading: bool = False


@dataclass(frozen=True)
class BlocksCut:
    """Blocks after the cut: what each of the first ``len(kept)`` blocks keeps (the last may keep a part)."""

    kept: list[str]
    whole: bool
    fingerprint: Fingerprint
    teaser: str = ""


def cut_html(markup: str, *, teaser_paragraphs: int, read_on: str) -> CutBody:
    """``markup`` cut at its teaser, ``read_on`` (the call to action's HTML) after what is kept."""
    cut = cut_fragment(markup, teaser_paragraphs=teaser_paragraphs)
    if cut.whole:
        return CutBody(markup, True, cut.fingerprint)
    return CutBody(cut.html + read_on, False, cut.fingerprint, cut.teaser_text)


def cut_text(text: str, *, teaser_paragraphs: int, read_on: str) -> CutBody:
    """Plain ``text`` cut at its teaser: its paragraphs (blank lines, else lines) kept as they were written."""
    parts = _BLANK_LINES.split(text)
    if len(parts) == 1:
        parts = _NEWLINES.split(text)
    paragraphs, separators = parts[0::2], parts[1::2]
    cut = cut_blocks([Block(p) for p in paragraphs], teaser_paragraphs=teaser_paragraphs)
    if cut.whole:
        return CutBody(text, True, cut.fingerprint)
    out: list[str] = []
    for i, kept in enumerate(cut.kept):
        if i:
            out.append(separators[i - 1])
        out.append(kept)
    kept_text = "".join(out).rstrip()
    return CutBody(f"{kept_text}\n\n{read_on}" if kept_text else read_on, False, cut.fingerprint, cut.teaser)


def cut_blocks(blocks: Sequence[Block], *, teaser_paragraphs: int) -> BlocksCut:
    """Blocks cut at their teaser, as the engine cuts the paragraphs they stand for.

    Plain blocks keep their own text, or the part of it before the cut; HTML
    blocks keep the engine's HTML of what stands before the cut.
    """
    parts: list[str] = []
    for i, block in enumerate(blocks):
        if block.html:
            parts.append(f'<div {_BLOCK_ATTRIBUTE}="{i}">{block.text}</div>')
        else:
            tag = "h2" if block.heading else "p"
            parts.append(f'<{tag} {_BLOCK_ATTRIBUTE}="{i}">{html.escape(block.text, quote=False)}</{tag}>')
    cut = cut_fragment("".join(parts), teaser_paragraphs=teaser_paragraphs)
    if cut.whole:
        return BlocksCut([block.text for block in blocks], True, cut.fingerprint)
    kept: list[str] = []
    if cut.html:
        tree = LexborHTMLParser(cut.html, is_fragment=True)
        for node in tree.css(f"[{_BLOCK_ATTRIBUTE}]"):
            if node.attributes.get(_BLOCK_ATTRIBUTE) != str(len(kept)) or len(kept) >= len(blocks):
                break  # blocks stand in order; anything else is not the teaser
            block = blocks[len(kept)]
            if block.html:
                kept.append(node.inner_html or "")
                continue
            text = node.text(deep=True)
            if text == block.text:
                kept.append(text)
                continue
            if text.strip() and block.text.startswith(text.rstrip()):
                kept.append(text.rstrip())  # cut inside this block: the teaser ends here
            break
    return BlocksCut(kept, False, cut.fingerprint, cut.teaser_text)


@dataclass
class Withheld:
    """The withheld runs of words of every body cut in one answer, minus the runs any teaser shows.

    A feed's items or a page of posts often share a sentence (a standfirst, a
    boilerplate line): a run one body withholds and another shows in its teaser
    is shown on purpose, and is not counted as a leak.
    """

    fingerprints: list[Fingerprint] = field(default_factory=list)
    teasers: list[str] = field(default_factory=list)
    _merged: list[Fingerprint] | None = field(default=None, repr=False, compare=False)

    def add(self, fingerprint: Fingerprint, teaser: str) -> None:
        if fingerprint:
            self.fingerprints.append(fingerprint)
            self.teasers.append(teaser)
            self._merged = None

    def __bool__(self) -> bool:
        return bool(self.fingerprints)

    def merged(self) -> list[Fingerprint]:
        """One fingerprint per run length (short bodies have shorter runs)."""
        if self._merged is None:
            by_k: dict[int, set[tuple[str, ...]]] = {}
            for fingerprint in self.fingerprints:
                by_k.setdefault(fingerprint.k, set()).update(fingerprint.runs)
            teaser_tokens = [words(teaser) for teaser in self.teasers]
            merged = []
            for k, runs in by_k.items():
                for tokens in teaser_tokens:
                    runs -= shingles(tokens, k)
                if runs:
                    vocabulary = frozenset(word for run in runs for word in run)
                    merged.append(Fingerprint(k, frozenset(runs), vocabulary))
            self._merged = merged
        return self._merged

    def leaks(self, text: str) -> bool:
        """Whether ``text``, in any reading a scraper could make of it, carries a withheld run."""
        if len(text) < 8:
            return False
        return any(fingerprint.leaks(text) for fingerprint in self.merged())


__all__ = [
    "Block",
    "BlocksCut",
    "CutBody",
    "Withheld",
    "cut_blocks",
    "cut_html",
    "cut_text",
    "looks_like_html",
]
