"""Pages that differ from one judged before only by their per-request tokens, times and counts.

Real pages differ on every request: a CSRF token in a ``<meta>`` or a hidden
input, a CSP nonce on every script, a token in the state a script starts
from. Their bytes never repeat,
so the cache of verdicts and cuts (:mod:`paywall.http.cache`), keyed by the
exact body, would send every view of an article through the engine again.

:class:`PageBases` remembers, per path, the last article judged in full. A
new body at that path is taken for that article *with other tokens* when
:func:`token_changes` finds that the two differ only by **tokens**: runs of
at least :data:`MIN_TOKEN` letters, digits and ``_-+/=``, each the whole text
between two equal quotes, of the same length in both, naming no ``charset``,
and the new body is exactly the old one with each old token replaced by its
new one. A token is the value of an attribute the engine never reads to find
the article (``nonce``, ``value``, ``content``, ``integrity``:
:data:`TOKEN_ATTRIBUTES`) or a value in a script's object (``"csrf": "..."``);
a change anywhere else (a class, an id, the text) may change what the engine
finds, and the body is judged on its own. A **number** is a change too: a
time, a date or a count (digits and ``:.,/-``) standing apart from any word,
of the same length in both (``Updated 13:05:22``, ``1,204 readers``), not
part of a tag's name or a character reference. Only a page found to be an
article is a base: a page judged free or without an article is judged again
each time.

The cut of the new body is then the cut of the old one with the same
replacements (:meth:`Changes.derive`), when every occurrence of each old
token in the old body is found, unchanged, in the cut, and no other: a token
the cut dropped or copied (one in the withheld part, in a shortened copy of
the article, in the page's canonical link) sends the body to the engine as
before.

A number is put in only when none of its digits is a word of the withheld
text (:attr:`~paywall.http.cache.Cut.withheld_numbers`): beside the page's
own words, such a number could make a run of the story where the old one
made none.

Why this is safe: the new body's text outside those quoted runs and numbers
is the old body's, byte for byte, so the article, and what of it is withheld,
are the same (a number of the withheld part is dropped by the cut, so the
count above sends the body to the engine); characters of a token change no
tokenizer's state inside quotes (no ``<``, ``>``, ``&``, quote, backslash or
space), nor do a number's in text, so the browser's tree of the derived cut
is the tree of the old cut with other values in the same places (and a number
of the same length leaves every length, word and comma the engine counts to
find the article as it was); and the derived cut holds what the old cut held,
which the engine made, with only the new tokens and numbers, which came from
the new body's own values, in place of the old.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ..bounded import ENTRY_OVERHEAD, Bounded
from .cache import Cut, Known

#: Shortest token taken for a per-request value (CSRF tokens, nonces and slot ids are longer).
MIN_TOKEN = 8
#: Most distinct tokens two versions of a page may differ by.
MAX_TOKENS = 32
#: Attributes whose values may be tokens: none of them is read by the engine to find the article.
TOKEN_ATTRIBUTES = frozenset({b"nonce", b"value", b"content", b"integrity"})
#: Bytes compared at a time while looking for the next difference.
_CHUNK = 4096
_QUOTES = b"\"'"
_TOKEN_BYTES = rb"A-Za-z0-9_\-+/="
_RUN = re.compile(rb"[" + _TOKEN_BYTES + rb"]*")
_TOKEN = re.compile(rb"[" + _TOKEN_BYTES + rb"]+")
_TOKEN_SET = frozenset(b"".join(_RUN.findall(bytes(range(128)))))
_NUMBER_RUN = re.compile(rb"[0-9:.,/-]+")
_NUMBER_SET = frozenset(b"0123456789:.,/-")
_DIGITS = re.compile(rb"[0-9]+")
#: What comes before a token's opening quote: an attribute's name and "=", or an object's key and ":".
_BEFORE_VALUE = re.compile(rb"(?:(?<=[\s\"'])([A-Za-z][A-Za-z0-9_:-]{0,63})=|:[ \t]*)\Z")


@dataclass(frozen=True, slots=True)
class Changes:
    """The tokens one body has in place of another's: ``(old, new)`` pairs, each old token once, and
    where the old body has them (``(start, end)`` offsets)."""

    pairs: tuple[tuple[bytes, bytes], ...]
    spans: tuple[tuple[int, int], ...] = ()

    def apply(self, data: bytes) -> bytes:
        for old, new in self.pairs:
            data = data.replace(old, new)
        return data

    def derive(self, cut: Cut, base: bytes) -> Cut | None:
        """``cut`` (made from ``base``) with the new tokens, or None when it does not hold each old token
        exactly as often as ``base`` does (then the body must be cut on its own)."""
        olds = tuple(old for old, _ in self.pairs)
        if cut.tokens is None or cut.tokens[0] != olds:  # asked once per cut: it is always the same answer
            parts = (cut.head, *cut.rest)
            cut.tokens = (olds, all(sum(part.count(old) for part in parts) == base.count(old) for old in olds))
        if not cut.tokens[1]:
            return None
        numbers = [new for old, new in self.pairs if _NUMBER_RUN.fullmatch(old) is not None]
        if numbers:
            # A number brought in (a time, a count) may be a word of the withheld text: next to the page's own
            # words it could make a run of it. Only one that is not is put in.
            withheld = cut.withheld_numbers
            if withheld is None or any(
                digits.decode("ascii") in withheld for new in numbers for digits in _DIGITS.findall(new)
            ):
                return None
        digest = hashlib.blake2b(b"\0".join([cut.digest, *(new for _, new in self.pairs)]), digest_size=20)
        return Cut(self.apply(cut.head), tuple(self.apply(part) for part in cut.rest), digest.digest())

    def touch(self, text: str | None) -> bool:
        """Whether ``text`` (a page's canonical link, as read from the old body) holds an old token."""
        return text is not None and any(old.decode("latin-1") in text for old, _ in self.pairs)


def token_changes(old: bytes, new: bytes) -> Changes | None:
    """The tokens ``new`` has in place of ``old``'s (see the module's docstring), or None when the two
    differ in any other way, or not at all."""
    size = len(old)
    if size != len(new) or old == new:
        return None
    pairs: dict[bytes, bytes] = {}
    spans: list[tuple[int, int]] = []
    pos = 0
    while True:
        at = _first_difference(old, new, pos)
        if at is None:
            break
        span = _quoted_token(old, new, at, pos) or _number(old, new, at, pos)
        if span is None:
            return None
        start, end = span
        token, replacement = old[start:end], new[start:end]
        if not _usable(replacement) or pairs.setdefault(token, replacement) != replacement or len(pairs) > MAX_TOKENS:
            return None
        spans.append((start, end))
        pos = end + 1
    return _proved(pairs, tuple(spans), old, new)


def _quoted_token(old: bytes, new: bytes, at: int, pos: int) -> tuple[int, int] | None:
    """Where the token that the bodies differ in at ``at`` stands, when it is one: a quoted value of a
    :data:`TOKEN_ATTRIBUTES` attribute or of a script's object, of :data:`MIN_TOKEN` characters or more."""
    start, floor = at, max(pos, at - 512)
    while start > floor and old[start - 1] in _TOKEN_SET:
        start -= 1
    end = _RUN.match(old, at).end()  # type: ignore[union-attr]
    if _RUN.match(new, at).end() != end or end - start < MIN_TOKEN:  # type: ignore[union-attr]
        return None
    quote = old[start - 1 : start]
    if not quote or quote not in _QUOTES or old[end : end + 1] != quote or new[end : end + 1] != quote:
        return None
    before = _BEFORE_VALUE.search(old, max(0, start - 70), start - 1)
    if before is None or (before.group(1) is not None and before.group(1).lower() not in TOKEN_ATTRIBUTES):
        return None
    return start, end


def _number(old: bytes, new: bytes, at: int, pos: int) -> tuple[int, int] | None:
    """Where the number that the bodies differ in at ``at`` stands, when it is one: a time, a date or a count
    (digits and ``:.,/-``) standing apart from any word, of the same length in both.

    Not a digit of a tag's name (``<h1>``), of a character reference (``&#8217;``) or of a word (``v2``,
    ``post-1234``): the byte before it is none of ``#&_``, a letter or a digit, nor the byte after ``;``.
    """
    if not (48 <= old[at] <= 57 and 48 <= new[at] <= 57):
        return None
    start, floor = at, max(pos, at - 64)
    while start > floor and old[start - 1] in _NUMBER_SET:
        start -= 1
    end = _NUMBER_RUN.match(old, at).end()  # type: ignore[union-attr]
    if _NUMBER_RUN.match(new, start).end() != end:  # type: ignore[union-attr]
        return None
    before, after = old[start - 1 : start], old[end : end + 1]
    if start == floor or (before and (before.isalnum() or before in b"#&_")):
        return None
    if after and (after.isalnum() or after in b";_"):
        return None
    return start, end


def tokens_in_place(old: bytes, new: bytes, spans: tuple[tuple[int, int], ...]) -> Changes | None:
    """:func:`token_changes` of ``old`` and ``new`` when ``new`` has tokens exactly where ``old`` had them
    (``spans``, as that function found them before): no search, a check. None when it does not."""
    if len(old) != len(new):
        return None
    pairs: dict[bytes, bytes] = {}
    for start, end in spans:
        token, replacement = old[start:end], new[start:end]
        if not _usable(replacement) or pairs.setdefault(token, replacement) != replacement:
            return None
    return _proved(pairs, spans, old, new)


def _proved(pairs: dict[bytes, bytes], spans: tuple[tuple[int, int], ...], old: bytes, new: bytes) -> Changes | None:
    """The changes, when every occurrence of each token changed and nothing else did: the new body is the
    old one with them, byte for byte."""
    changes = Changes(tuple(pairs.items()), spans)
    return changes if changes.apply(old) == new else None


def _usable(value: bytes) -> bool:
    """Whether a new value can stand for a token: its characters, and no ``charset`` (a ``<meta>``'s content
    naming one would change how a browser reads every byte of the page); or for a number."""
    if _NUMBER_RUN.fullmatch(value) is not None:
        return True
    return _TOKEN.fullmatch(value) is not None and b"charset" not in value.lower()


def _first_difference(old: bytes, new: bytes, pos: int) -> int | None:
    """The first offset from ``pos`` where the two bodies (of one length) differ, or None."""
    size = len(old)
    while pos < size:
        end = min(pos + _CHUNK, size)
        if new.startswith(old[pos:end], pos):
            pos = end
            continue
        low, high = pos, end  # they differ in [low, high)
        while high - low > 16:
            middle = (low + high) // 2
            if new.startswith(old[low:middle], low):
                low = middle
            else:
                high = middle
        while old[low] == new[low]:
            low += 1
        return low
    return None


@dataclass(slots=True)
class Base:
    """The last page judged in full at one path: its body as the app sent it, and what was known of it."""

    body: bytes
    charset: str | None
    view: bool
    known: Known
    #: Where its tokens stand, once a body with other tokens was found (the next is checked there first).
    spans: tuple[tuple[int, int], ...] | None = None


class PageBases(Bounded[str, Base]):
    """The last page judged in full per path, least recently used first out, within ``max_bytes``.

    The path only says which page to compare with: a body is taken for that page
    with other tokens only when :func:`token_changes` proves it, so no body ever
    gets another page's verdict or cut.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes)
        #: Bodies taken for a page with other tokens, since start (what ``bench/`` and the tests read).
        self.derived = 0

    def put(self, path: str, base: Base) -> None:
        """Remember ``base`` as the page at ``path``, when it was found to be an article (only those are bases)."""
        if base.known.verdict == "article":
            self._put(path, base, len(path) + len(base.body) + ENTRY_OVERHEAD)

    def find(self, path: str, body: bytes, charset: str | None, view: bool) -> tuple[Base, Changes] | None:
        """The page remembered at ``path`` and the tokens ``body`` has in its place, when it is that page."""
        entry = self._entries.get(path)
        if entry is None:
            return None
        base = entry[0]
        if base.charset != charset or base.view != view:
            return None
        changes = tokens_in_place(base.body, body, base.spans) if base.spans is not None else None
        if changes is None:
            changes = token_changes(base.body, body)
            if changes is None or changes.touch(base.known.canonical):
                return None
            base.spans = changes.spans
        self._entries.move_to_end(path)
        return base, changes


__all__ = ["MIN_TOKEN", "TOKEN_ATTRIBUTES", "Base", "Changes", "PageBases", "token_changes", "tokens_in_place"]
