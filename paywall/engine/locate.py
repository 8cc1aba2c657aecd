"""Where a copy of the withheld text stands in a serialised page, found in the bytes, then in the tree.

The sweep must read every place a copy could hide, but reading every node
of a page in Python costs many times the parse. Copies are rare and
markers are not: so the page's bytes are searched first, at C speed, and
only the nodes whose serialisation holds a copy are read.

1. **Suspects** (:func:`suspects`). The page is translated to lower-case
   words, and every word is looked up among the fingerprint's markers in one
   pass in C (:func:`~paywall.engine.scan.word_hits`); the places found are
   read in chunks of about :data:`CHUNK_BYTES`. Where
   :data:`~paywall.engine.fingerprint.CLUSTER_MARKERS` different markers
   stand within :data:`~paywall.engine.sweep.CLUSTER_BYTES` of each other
   (whole words, found by their byte positions), where a marker that stands
   in no such cluster has a withheld run holding it around it (a copy of a
   caption, or of a sentence whose other words readers see elsewhere:
   :meth:`~paywall.engine.fingerprint.Fingerprint.may_copy`), or a run of escapes or a
   base64 blob decodes to markers, the place widened by :data:`MARGIN`
   bytes on each side is a suspect window. A large style or script body
   (:data:`BLOCK_BYTES` or more) is read once per process for its words and
   for its runs of escapes and of base64 with the words they decode to
   (:class:`BlockWords`): the
   same stylesheet and scripts come with every page of a site, and one whose
   words hold no marker is passed over, by the search for markers and by
   the searches for encoded runs alike.
2. **Copies** (:func:`copies`). Each window is read the way the sweep
   reads a place (:meth:`~paywall.engine.fingerprint.Fingerprint.leaks`:
   entities, JavaScript, JSON and CSS escapes, markup, percent-encoding,
   base64), and with its markup dropped (a word split over inline tags);
   only windows that hold a withheld run are copies. Code and markup that
   happen to use a few of the article's rarer words are dismissed here
   without touching the tree.
3. **Places** (:func:`places`). A node's serialisation is its start tag,
   its children's serialisations and its end tag, in that order, so the
   byte ranges of the copies are followed down the tree by the lengths of
   the children's serialisations: the elements whose start tags (attributes)
   they touch, the comments, the script and style bodies and the runs of
   text nodes. Where the serialisation cannot be followed (template
   content, a tree too deep), the caller reads every place instead.

Because the windows are read in the serialised bytes, a window that holds
no copy holds none for any parser that reads the same bytes either: the
check after the sweep is the same search on the new bytes, without a
second parse.
"""

from __future__ import annotations

import html as html_module
import re
import threading
from bisect import bisect_left
from collections.abc import Collection, Set
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from paywall.bounded import Bounded
from paywall.engine import code
from paywall.engine.fingerprint import CONTEXT_WORDS, Fingerprint
from paywall.engine.outline import STYLE_HIDDEN
from paywall.engine.scan import word_hits, word_table
from paywall.engine.text import (
    MIN_BASE64_CHARS,
    PER_CHARACTER,
    PROSE_PUNCTUATION,
    base64_text,
    decode_layers,
    html_unescaped,
    normalised_words,
    words,
)

CHUNK_BYTES = 2048
"""The page is split into chunks of about this size to look for markers that stand together."""
MARGIN = 256
"""Bytes read on either side of markers that stand together: the rest of the runs that hold them."""
PLACE_MARGIN = 1024
"""Bytes on either side of a copy whose nodes are read: the words of the copy around its markers."""
MANY_MARKERS = 12
"""A chunk holding this many different markers is read whole, without looking where they stand."""

_PLAIN_WORD = re.compile(f"[^\\W{PER_CHARACTER}]+")
"""One word of the fingerprint as it stands: no character that ends a word or is a word of its own."""
_OTHER_MARKS = bytes(b"x"[0] if c >= 128 else 32 for c in range(256))
"""Bytes of characters other than ASCII as ``x``, the others as spaces."""
_PERCENT_2 = re.compile(rb"%2")
_PUNCTUATION = tuple((lead[0], lead[1:], frozenset(lasts)) for lead, lasts in PROSE_PUNCTUATION)
"""The punctuation of prose that is not ASCII (:data:`~paywall.engine.text.PROSE_PUNCTUATION`), by its first
byte, the bytes after it and its last byte: spaces of the same length, so that the words around them are
words of ASCII."""
_ESCAPE = (
    rb"\\u\{[0-9a-fA-F]{1,6}\}|\\u[0-9a-fA-F]{4}|\\x[0-9a-fA-F]{2}|\\[0-9a-fA-F]{1,6} ?|&#x?[0-9a-fA-F]{1,6};"
    rb"|%25[0-9a-fA-F]{2}|%[0-9a-fA-F]{2}[A-Za-z]?"
)
_WIDE_ESCAPES = (
    rb"\\\\{0,2}(?:u(?:00[89a-fA-F][0-9a-fA-F]|0[1-9a-fA-F][0-9a-fA-F]{2}|[1-9a-fA-F][0-9a-fA-F]{3})"
    rb"|u\{(?:[89a-fA-F][0-9a-fA-F]|[0-9a-fA-F]{3,6})\}|x[89a-fA-F][0-9a-fA-F])",
    rb"&(?:#(?:[xX](?:[89a-fA-F][0-9a-fA-F]|[0-9a-fA-F]{3,6})|1[2-9][0-9]|[2-9][0-9]{2}|[1-9][0-9]{3,6})"
    rb"|shy|zwn?j|ZeroWidthSpace);",
    rb"<wbr\s*/?>",
)
"""A JavaScript or JSON escape, or a character reference, of a character other than ASCII (a letter with a
diacritic, ``\\u1ebf``, ``\\xe9``, ``&#233;``; a soft hyphen or a zero-width joiner, ``&shy;``, which
hyphenation puts in every long word), and ``<wbr>``, by its first character; an escape may be escaped
again (``\\\\u1ebf``: JSON in a script's string)."""
_BETWEEN_WIDE = rb"(?:[^\\&<>\"'`\x00-\x1f]|\\[nrt\"'/\\]){0,16}"
"""What may stand between two of them in a text: up to a few plain characters of one string."""
_ESCAPE_RUNS = tuple(
    re.compile(first + rb"(?:" + _ESCAPE + rb"){5,}")
    for first in (
        rb"\\(?:u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[0-9a-fA-F]{1,6} ?)",
        rb"&#x?[0-9a-fA-F]{1,6};",
        rb"%(?:25[0-9a-fA-F]{2}|[0-9a-fA-F]{2}[A-Za-z]?)",
    )
) + tuple(
    re.compile(first + rb"(?:" + _BETWEEN_WIDE + rb"(?:" + rb"|".join(_WIDE_ESCAPES) + rb")){5,}")
    for first in _WIDE_ESCAPES
)
"""Six or more escapes in a row (a word spelt letter by letter, or a doubly percent-encoded phrase), and six
or more escapes of characters other than ASCII with a few plain characters between them (a text in a
language whose letters with diacritics are escaped and the others not: ``n\\u1ebfb\\u1ed9n\\u1eb7``, as
``json.dumps`` and PHP's ``json_encode`` write Vietnamese or Czech), by the kind of the first: each search
then skips to its literal first character at C speed, not to every ``&``."""
_SPLIT_TEXT = re.compile(rb">[^<>\s]{1,3}(?:<[^<>]{1,200}>)+(?:[^<>]{1,3}(?:<[^<>]{1,200}>)+){5,}")
"""Text written a few characters an element (a letter per ``<span>``, as text effects and obfuscations write it):
six or more pieces of one to three characters, each followed by tags, from the end of a tag. No word of it
stands in the page's bytes; a browser shows it, and a scraper reads it, as the text it spells (see
:func:`shown`)."""
_ESCAPE_RUNS += (_SPLIT_TEXT,)
_TAG_BYTES = re.compile(rb"<[^<>]*>")
_BASE64_TABLE = bytes(
    c if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c in b"+/=_-") else 32 for c in range(256)
)
MIN_BASE64_RUN = 24
"""Shortest run of base64 characters decoded while looking for suspects (18 bytes: a few words)."""
_BASE64_MARKS = bytes(b" "[0] if c == 32 else b"x"[0] for c in _BASE64_TABLE)
"""Bytes of the base64 alphabet (URL-safe too, and ``=``) as ``x``, the others as spaces."""
_LONG_BASE64 = b"x" * MIN_BASE64_RUN
LONG_TOKEN = 48
"""A word longer than this may be a base64 blob: the page's blobs are decoded."""
_BASE64_HINTS = (b"base64", b"atob(")
"""Words of code that decode base64."""
_TAG = re.compile(r"<[^<>]*>")
HIDING_TAGS = frozenset(
    {"head", "title", "noscript", "template", "meta", "link", "script", "style", "textarea"}
    | {"iframe", "noembed", "noframes"}
)
"""Elements whose content readers do not see as text: its text is read decoded (it may hold markup, entities
and all, as text), and a copy in it is a hidden copy."""
_CODE_TAGS = frozenset({"script", "style"})


def _word_bytes(data: bytes) -> bytes:
    """``data`` as lower-case words separated by spaces, byte for byte at the same offsets.

    ``%20`` and ``%2520`` (percent-encoded spaces, as in a share link's
    quotation) become spaces of the same length.
    """
    if b"%" in data and _PERCENT_2.search(data) is not None:  # one byte first: a memchr, not a scan
        data = data.replace(b"%2520", b"     ").replace(b"%20", b"   ")
    if not data.isascii():
        data = _spaced_punctuation(data)
    return word_table(data)


def _spaced_punctuation(data: bytes) -> bytes:
    """``data`` with the punctuation of :data:`_PUNCTUATION` as spaces.

    Each first byte is found by a search for one byte (``memchr``), many times
    faster than a regular expression's scan of the page; only the characters
    that start with it are looked at in Python.
    """
    places: list[tuple[int, int]] = []
    for first, middle, last in _PUNCTUATION:
        width = len(middle) + 2
        at = data.find(first)
        while at >= 0:
            if data.startswith(middle, at + 1) and at + width <= len(data) and data[at + width - 1] in last:
                places.append((at, width))
                at = data.find(first, at + width)
            else:
                at = data.find(first, at + 1)
    if not places:
        return data
    spaced = bytearray(data)
    for at, width in places:
        spaced[at : at + width] = b" " * width
    return bytes(spaced)


def _other_hits(table: bytes, fingerprint: Fingerprint) -> dict[bytes, frozenset[str]]:
    """The words with bytes of other characters than ASCII that hold markers, with the markers they hold.

    Such a word (another script, or a word broken by a soft hyphen or a
    zero-width space) is read as the fingerprint reads text: a sentence of
    Chinese is one word of the table and many words of the fingerprint. All
    of them are normalised together (NFKC, invisible characters removed,
    casefolded, as :func:`~paywall.engine.text.words` does); one that comes
    out as a single plain word is a marker or not, and only the others are
    read word by word.
    """
    if table.isascii():
        return {}
    others = list(_other_words(table))
    markers = fingerprint.markers
    parts = normalised_words(b"\n".join(others).decode("utf-8", "replace")).split("\n")
    if len(parts) != len(others):  # normalisation made or took a line break: read each alone
        parts = [normalised_words(token.decode("utf-8", "replace")) for token in others]
    held: dict[bytes, frozenset[str]] = {}
    for token, part in zip(others, parts, strict=True):
        if part in markers:
            held[token] = frozenset((part,))
        elif _PLAIN_WORD.fullmatch(part) is None:
            found = markers.intersection(words(part))
            if found:
                held[token] = frozenset(found)
    return held


def _other_words(table: bytes) -> set[bytes]:
    """The words of ``table`` with bytes of other characters than ASCII.

    On a page of English a few bytes are (a copyright sign, a pound sign): they are found at C speed
    and their words read around them; a page in another script has its words picked from all of them.
    """
    marks = table.translate(_OTHER_MARKS)
    if marks.count(b"x") > len(table) // 64:
        return {token for token in set(table.split()) if not token.isascii()}
    found: set[bytes] = set()
    at = marks.find(b"x")
    while at >= 0:
        start = table.rfind(b" ", 0, at) + 1
        end = table.find(b" ", at)
        end = len(table) if end < 0 else end
        found.add(table[start:end])
        at = marks.find(b"x", end)
    return found


def _clusters(
    places: list[tuple[int, Collection[str]]], cluster_bytes: int, cluster_markers: int
) -> list[tuple[int, int]]:
    """Byte ranges where ``cluster_markers`` different markers stand within ``cluster_bytes`` (one pass)."""
    found: list[tuple[int, int]] = []
    counts: dict[str, int] = {}
    count = len(places)
    ahead = 0
    for at, held in places:
        while ahead < count and places[ahead][0] - at <= cluster_bytes:
            for marker in places[ahead][1]:
                counts[marker] = counts.get(marker, 0) + 1
            ahead += 1
        if len(counts) >= cluster_markers:
            end = places[ahead - 1][0] + 64
            if found and at <= found[-1][1]:
                found[-1] = (found[-1][0], end)
            else:
                found.append((at, end))
        for marker in held:
            counts[marker] -= 1
            if not counts[marker]:
                del counts[marker]
    return found


def _merged(spans: list[tuple[int, int]], size: int, margin: int = MARGIN) -> list[tuple[int, int]]:
    """Spans widened by ``margin`` within ``[0, size)``, overlapping ones merged, in order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        start, end = max(0, start - margin), min(size, end + margin)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class _Hits:
    """The markers the hit tokens of a page stand for: each ASCII token is the one marker it spells.

    A token with other characters than ASCII may stand for several markers
    (a sentence of Chinese is one word of the table), or for one that an
    ASCII token spells too (``zephyr\u00adquill``): only where such tokens are
    among the hits are their markers counted, so that a page of ASCII costs a
    count of the hits and no set per token.
    """

    def __init__(self, others: dict[bytes, frozenset[str]]):
        self.others = others

    def distinct(self, found: Set[bytes], count: int) -> int:
        """Different markers the tokens ``found`` stand for (``count``: their number, if all are ASCII)."""
        if not self.others or self.others.keys().isdisjoint(found):
            return count
        return len(frozenset().union(*self.named(found).values()))

    def named(self, found: Set[bytes]) -> dict[bytes, Collection[str]]:
        """Each token of ``found`` with the markers it stands for."""
        others = self.others
        return {token: others[token] if token in others else (token.decode("ascii"),) for token in found}


BLOCK_BYTES = 4096
"""A style or script body this large is read once per process (:class:`BlockWords`)."""
_BLOCK_START = re.compile(rb"<(style|script)\b[^>]*>")
BYTES_PER_WORD = 64
"""A remembered body's bytes count as a word per this many (a word costs about as much memory)."""


class Block:
    """What the search for copies needs of a large style or script body, whatever the page's fingerprint.

    Offsets are in the body. Its runs of escapes and of base64 are decoded
    once, with the body: what each decodes to is the same on every page
    that carries it, and only whether those words hold a marker is asked
    of each page.
    """

    __slots__ = ("blobs", "escapes", "hinted", "longest", "words")

    def __init__(self, body: bytes, table: bytes) -> None:
        self.words = frozenset(_split_in_chunks(table))
        """The distinct words of the body as the page's word table reads them."""
        self.longest = max(map(len, self.words), default=0)
        self.hinted = any(hint in body for hint in _BASE64_HINTS)
        """Whether the body names base64 or ``atob(``."""
        self.escapes = [(span, _escaped_words(body[span[0] : span[1]])) for span in escape_runs(body, 0, len(body))]
        """The runs of escapes (see :func:`_encoded`), each with the words it decodes to (a packed script spelt
        in ``\\x`` escapes is decoded once per process, not on every page that carries it)."""
        self.blobs = [(span, _base64_words(body[span[0] : span[1]])) for span in _base64_runs(body, 0, len(body))]
        """The runs of base64 characters long enough to be decoded, each with the words it decodes to."""

    @property
    def cost(self) -> int:
        return len(self.words) + sum(1 + len(held) for _span, held in (*self.escapes, *self.blobs))


BlockKey = tuple[int, bytes, bytes]
"""A body's length, first and last :data:`EDGE_KEY_BYTES` bytes."""
EDGE_KEY_BYTES = 64


class BlockWords(Bounded[BlockKey, tuple[bytes, Block]]):
    """Large style and script bodies read once (:class:`Block`), by their bytes, least recently used out first.

    A site's pages share their stylesheets and scripts, byte for byte, while
    the page around them changes with every request (a token, a nonce): a
    body seen before is found by its length and its first and last bytes,
    and taken when the page holds the remembered bytes there (one comparison
    of memory, no digest of the body): never an answer for other bytes; a
    body that differs takes the place of the one remembered under the same
    key. Only what the body holds is remembered, never an answer: whether its
    words hold a marker is asked of each page's own fingerprint. Bounded by
    ``max_words`` words in all (a body's bytes counted too, a word per
    :data:`BYTES_PER_WORD`) and ``max_entries`` bodies; safe to use from the
    worker threads that gate large pages.
    """

    def __init__(self, max_words: int = 500_000, max_entries: int = 256) -> None:
        super().__init__(max_words, max_entries)
        self._lock = threading.Lock()

    def read(self, data: bytes, start: int, end: int, table: bytes | memoryview) -> Block:
        """What the body ``data[start:end]`` holds; ``table`` is its part of the page's word table (not
        copied unless new)."""
        key = (end - start, data[start : start + EDGE_KEY_BYTES], data[max(start, end - EDGE_KEY_BYTES) : end])
        with self._lock:
            entry = self._get(key)
        if entry is not None and data.startswith(entry[0], start):
            return entry[1]
        body = data[start:end]
        found = Block(body, bytes(table))
        with self._lock:
            self._put(key, (body, found), found.cost + len(body) // BYTES_PER_WORD)
        return found

    def words(self, body: bytes, table: bytes | memoryview) -> frozenset[bytes]:
        """The distinct words of ``body`` (see :meth:`read`)."""
        return self.read(body, 0, len(body), table).words


def _split_in_chunks(block: bytes) -> set[bytes]:
    """The distinct words of ``block``, split a chunk at a time (a list of every word of a large body
    at once would cost more memory than the page)."""
    found: set[bytes] = set()
    start, size = 0, len(block)
    while start < size:
        end = block.find(b" ", start + CHUNK_BYTES)
        end = size if end < 0 else end
        found.update(block[start:end].split())
        start = end
    return found


BLOCK_WORDS = BlockWords()
"""The process's remembered style and script bodies."""

Passed = tuple[int, int, Block]
"""A passed body: where it starts and ends in the word table (one more than in the page), what it holds."""


def _passed_blocks(data: bytes, table: bytes, hits: Collection[bytes], others: Collection[bytes]) -> list[Passed]:
    """Ranges of ``table`` (offsets one more than in ``data``) that are large style or script bodies whose
    words hold no marker, in order, each with what it holds: the searches for markers and for encoded
    runs pass over them.

    A range starts and ends at a byte that is no part of a word in the table,
    so that no word is cut in two at its edges; the body is taken up to the
    first ``</`` of its element's name (the serialiser writes the tag names
    in lower case), which can only make it shorter. Its edges are ``>`` and
    ``<``, which no word, run of escapes or base64 holds: what is found in the
    body alone is what a search of the whole page finds there.
    """
    passed: list[Passed] = []
    view = memoryview(table)
    at = 0
    while (match := _BLOCK_START.search(data, at)) is not None:
        start = at = match.end()
        end = _body_end(data, start, match.group(1))
        if end < 0 or end - start < BLOCK_BYTES or (passed and start < passed[-1][1]):
            continue
        low, high = start + 1, end + 1  # in the table
        if table[low - 1] != 0x20 or table[high] != 0x20:
            continue
        block = BLOCK_WORDS.read(data, start, end, view[low:high])
        if block.words.isdisjoint(hits) and (not others or block.words.isdisjoint(others)):
            passed.append((low, high, block))
            # A start tag found inside the body up to its last ">" ends there at the latest, inside
            # this passed body, and would be passed over: the search goes on after that ">", from
            # the first "<s" (every start tag searched for begins so), or from the body's end.
            after = _find_tag(data, b"<s", max(start, data.rfind(b">", start, end) + 1), end)
            at = end if after < 0 else after
    return passed


BODY_END_TRIES = 8
"""The ``<`` looked at one by one for a tag (see :func:`_find_tag`) before the rest is searched whole."""


def _body_end(data: bytes, start: int, name: bytes) -> int:
    """Where the first ``</name`` at or after ``start`` stands in ``data`` (-1 where none does)."""
    return _find_tag(data, b"</" + name, start, len(data))


def _find_tag(data: bytes, tag: bytes, start: int, end: int) -> int:
    """``data.find(tag, start, end)`` for a ``tag`` that starts with ``<``, at the cost of a few ``memchr``.

    A search for several bytes reads every byte of the range in a loop of its own, a search for one byte
    is a ``memchr``, many times faster: a stylesheet or a JSON body holds few ``<`` (often none before its
    end), so the first ones are looked at one by one, and a body with many (a script's comparisons) is
    searched whole from the :data:`BODY_END_TRIES`-th on.
    """
    at = data.find(b"<", start, end)
    for _ in range(BODY_END_TRIES):
        if at < 0 or data.startswith(tag, at, end):
            return at
        at = data.find(b"<", at + 1, end)
    return -1 if at < 0 else data.find(tag, at, end)


def _outside(passed: list[Passed], size: int, *, shift: int = 1) -> list[tuple[int, int]]:
    """The ranges of the page (``size`` bytes) outside the passed bodies, in order: in the page, or in the
    word table with ``shift=0``."""
    ranges: list[tuple[int, int]] = []
    at = 0
    for low, high, _block in passed:
        ranges.append((at, low - shift))
        at = high - shift
    ranges.append((at, size))
    return ranges


def suspects(
    data: bytes, fingerprint: Fingerprint, cluster_bytes: int, cluster_markers: int, seen: dict[bytes, bool]
) -> list[tuple[int, int]]:
    """Byte ranges of ``data`` where a copy of the withheld text may stand (see the module's step 1).

    Every place where a marker stands as a word is found in one pass
    (:func:`~paywall.engine.scan.word_hits`); the page is then taken in chunks
    of about :data:`CHUNK_BYTES`, and where a chunk and the next hold enough
    different markers, the places of theirs are searched for clusters (a
    chunk holding :data:`MANY_MARKERS` is taken whole: most often a copy of
    the article). ``seen`` holds what is known of the page's encoded runs
    from an earlier search (see :func:`_encoded`).
    """
    table = b"".join((b" ", _word_bytes(data), b" "))  # offsets are one more than in data (one copy of it)
    size = len(table)
    others = _other_hits(table, fingerprint)
    markers = fingerprint.ascii_markers
    named = _Hits(others)
    passed = _passed_blocks(data, table, markers, others.keys())
    lookup = markers.union(others.keys()) if others else markers
    hits, longest = word_hits(table, lookup, _outside(passed, size, shift=0))
    offsets = [at for at, _token in hits]
    # A word long enough to be a base64 blob: the passed bodies know theirs, the search the rest.
    long_token = longest >= LONG_TOKEN or any(block.longest >= LONG_TOKEN for _low, _high, block in passed)
    chunks: list[tuple[int, Set[bytes], int, int, int]] = []  # end, markers found, their count, their hits
    ahead = 0
    start = 0
    while start < size:
        if ahead < len(passed) and start >= passed[ahead][0]:
            start = max(start, passed[ahead][1])
            ahead += 1
            continue
        end = start + CHUNK_BYTES
        if ahead < len(passed) and end > passed[ahead][0]:
            end = passed[ahead][0]
        elif end < size:
            space = table.find(b" ", end)
            end = size if space < 0 else space
        else:
            end = size
        first, last = bisect_left(offsets, start), bisect_left(offsets, end)
        found: Set[bytes] = {token for _at, token in hits[first:last]}
        # Different markers found: the ASCII words, and every marker that each word with other
        # characters stands for (it may stand for several, or for an ASCII one found too: counted
        # apart, the count is never short).
        count = sum(len(others[token]) if token in others else 1 for token in found) if others else len(found)
        chunks.append((end, found, count, first, last))
        start = end

    spans: list[tuple[int, int]] = []
    for index, (end, found, count, first, last) in enumerate(chunks):
        if count >= MANY_MARKERS and named.distinct(found, count) >= MANY_MARKERS:
            # Most often a copy of the article: taken whole, from its first marker to its last.
            at, token = hits[last - 1]
            spans.append((hits[first][0] - 1, at + len(token) + 1))
            continue
        # Markers that stand together may straddle this chunk and the next.
        pair, stop = found, end
        if index + 1 < len(chunks) and chunks[index + 1][1]:
            pair = found | chunks[index + 1][1]
            stop = min(chunks[index + 1][0], end + cluster_bytes + 64)
            count += chunks[index + 1][2]
        if count < cluster_markers or named.distinct(pair, len(pair)) < cluster_markers:
            continue
        held = named.named(pair)
        places = [
            (at, held[token])
            for at, token in hits[first : bisect_left(offsets, stop, first)]
            if token in held and at + len(token) <= stop
        ]
        spans.extend(_clusters(places, cluster_bytes, cluster_markers))
    spans.extend(_stray_copies(data, table, fingerprint, hits, _merged(spans, size, 0), cluster_bytes))
    spans = [(start - 1, end - 1) for start, end in spans]
    # The encoded runs' search makes translations of its own: one page-size copy at a time.
    del table, chunks, hits, offsets
    outside = _outside(passed, len(data))
    hinted = (
        long_token
        or any(block.hinted for _low, _high, block in passed)
        or any(data.find(hint, low, high) >= 0 for low, high in outside for hint in _BASE64_HINTS)
    )
    spans.extend(_encoded(data, fingerprint, hinted, seen, passed, outside))
    return _merged(spans, len(data))


_BESIDE_BYTES = 96
"""The bytes of the word table read either side of a marker for the words beside it (longer words stand cut)."""


def _stray_copies(
    data: bytes,
    table: bytes,
    fingerprint: Fingerprint,
    hits: list[tuple[int, bytes]],
    covered: list[tuple[int, int]],
    reach: int,
) -> list[tuple[int, int]]:
    """Ranges of the word ``table`` (offsets one more than in ``data``) around markers that stand in none of the
    ``covered`` ranges (the clusters) and that hold a withheld run with one of the markers they hold.

    A copy of a short withheld passage (a caption, a closing line), or of a sentence whose other words readers
    see elsewhere (a quotation repeated for sharing), holds one or two markers: no cluster. A place where an
    ASCII marker has beside it, in the table, none of the words it stands beside in the withheld text
    (:meth:`~paywall.engine.fingerprint.Fingerprint.context_of`) holds no such copy: a marker that code or
    markup happens to use (``rich`` in ``rich-text``) costs that look. The others, ``reach`` bytes either side
    of their marker, are read for the runs that hold their markers
    (:meth:`~paywall.engine.fingerprint.Fingerprint.may_copy`).
    """
    starts = [start for start, _end in covered]
    near: list[tuple[int, int]] = []
    for at, token in hits:
        inside = bisect_left(starts, at + 1) - 1
        if inside >= 0 and covered[inside][1] >= at:
            continue
        if token.isascii():
            context = fingerprint.context_of(token.decode("ascii"))
            end = at + len(token)
            beside = table[max(0, at - _BESIDE_BYTES) : at].split()[-CONTEXT_WORDS:]
            beside += table[end : end + _BESIDE_BYTES].split()[:CONTEXT_WORDS]
            if context and context.isdisjoint(beside):
                continue
        near.append((at - reach, at + reach))
    found: list[tuple[int, int]] = []
    for low, high in _merged(near, len(table), 0):
        low = max(1, low)
        if fingerprint.may_copy(data[low - 1 : high - 1].decode("utf-8", "replace")):
            found.append((low, high))
    return found


def escape_runs(data: bytes, low: int, high: int) -> list[tuple[int, int]]:
    """Where runs of escapes stand in ``data[low:high]`` (see :func:`_encoded`), by the kind of their first
    (a run may be found twice, or overlap another: each is read alone)."""
    return [match.span() for pattern in _ESCAPE_RUNS for match in pattern.finditer(data, low, high)]


def _base64_runs(data: bytes, low: int, high: int) -> list[tuple[int, int]]:
    """Where runs of base64 characters of :data:`MIN_BASE64_RUN` or more stand in ``data[low:high]``.

    Each is found by a search for that many of its bytes in a row (a regular
    expression tried at every space cost ten times as much on a large page).
    """
    marks = data[low:high].translate(_BASE64_MARKS)
    found: list[tuple[int, int]] = []
    at = marks.find(_LONG_BASE64)
    while at >= 0:
        end = marks.find(b" ", at)
        end = len(marks) if end < 0 else end
        found.append((low + at, low + end))
        at = marks.find(_LONG_BASE64, end)
    return found


def _encoded(
    data: bytes,
    fingerprint: Fingerprint,
    hinted: bool,
    seen: dict[bytes, bool],
    passed: list[Passed],
    outside: list[tuple[int, int]],
) -> list[tuple[int, int]]:
    """Ranges of the page's runs of escapes and base64 blobs that decode to a marker.

    Escapes that spell a word letter by letter (``\\u0054\\u0068...``,
    ``&#84;&#104;...``, CSS ``\\54 \\68``, doubly percent-encoded text) and
    base64 hide their words from the byte search; each run is decoded alone,
    so the cost follows the page's encoded content, not its size. A run
    holding one marker is a suspect: the words of a copy spelt that way may
    each be a run of their own. The runs of the ``passed`` bodies are those
    they were found to hold; the ``outside`` of them is searched. ``seen``
    keeps each run's answer for the next search of the same page (the check
    after the sweep).
    """
    found = [
        (low - 1 + first, low - 1 + last)
        for low, _high, block in passed
        for (first, last), held in block.escapes
        if not fingerprint.markers.isdisjoint(held)
    ]
    for start, end in (span for low, high in outside for span in escape_runs(data, low, high)):
        run = data[start:end]
        suspect = seen.get(run)
        if suspect is None:
            suspect = seen[run] = not fingerprint.markers.isdisjoint(_escaped_words(run))
        if suspect:
            found.append((start, end))
    if hinted:  # base64 named, or a word long enough to be a blob
        found.extend(
            (low - 1 + first, low - 1 + last)
            for low, _high, block in passed
            for (first, last), held in block.blobs
            if held and not fingerprint.markers.isdisjoint(held)
        )
        for start, end in (span for low, high in outside for span in _base64_runs(data, low, high)):
            run = data[start:end]
            suspect = seen.get(run)
            if suspect is None:
                suspect = seen[run] = not fingerprint.markers.isdisjoint(_base64_words(run))
            if suspect:
                found.append((start, end))
    return found


def _escaped_words(run: bytes) -> frozenset[str]:
    """The words a run of escapes decodes to, read as a script, a stylesheet or an address would read it
    (and as markup would show it: its tags split no word)."""
    return frozenset(words(decode_layers(shown(run).decode("utf-8", "replace"), url=True, css=True)))


def shown(run: bytes) -> bytes:
    """``run`` (escapes, or text written a few characters an element) without its tags, which split no word as
    markup shows it (``<wbr>``, the ``<span>`` of each letter)."""
    return _TAG_BYTES.sub(b"", run) if b"<" in run else run


def _base64_words(run: bytes) -> frozenset[str]:
    """The words a run of base64 characters decodes to.

    The run is read as :func:`~paywall.engine.text.base64_payloads` reads it
    (parts between ``=``, of :data:`~paywall.engine.text.MIN_BASE64_CHARS` or
    more, in one alphabet), with the cheap refusals first: most runs on a
    page are paths, names and hashes.
    """
    found: set[str] = set()
    for part in run.split(b"="):
        if len(part) < MIN_BASE64_CHARS or part.islower() or part.isupper() or part.isdigit():
            continue
        if (b"-" in part or b"_" in part) and (b"+" in part or b"/" in part):
            continue  # two alphabets: no base64
        text = base64_text(part.decode("ascii"))
        if text:
            found.update(words(text))
    return frozenset(found)


def holds_copy(window: str, fingerprint: Fingerprint) -> bool:
    """Whether a window of the serialised page holds a withheld run, in any reading of it.

    Read as the sweep reads a place (:meth:`~paywall.engine.fingerprint.Fingerprint.leaks`:
    markup, entities, escapes, percent-encoding, base64, and the markup kept
    as text, which also reads code's ``<``: ``if (w < 768) { body = "..." }``
    holds no tag), as a stylesheet (CSS escapes first), and with the markup
    dropped without a space (a word split over inline tags, ``zephyr<em>quill</em>``);
    and, in JSON, each key's strings read in their order (rich text stored as
    short spans: :func:`~paywall.engine.code.keyed_strings`).
    """
    if fingerprint.leaks(window):
        return True
    if "\\" in window and fingerprint.leaks(window, css=True):
        return True
    if keyed_leaks(window, fingerprint):
        return True
    if "<" not in window:
        return False
    joined = _TAG.sub("", html_module.unescape(window) if "&" in window else window)
    return fingerprint.holds(words(joined))


def keyed_leaks(text: str, fingerprint: Fingerprint) -> bool:
    """Whether the JSON in ``text`` (a window of the page, a script), each key's strings read in their order
    (:func:`~paywall.engine.code.keyed_strings`), carries withheld text; also where the JSON stands in an
    attribute, its quotes written ``&quot;``. The strings are read decoded (escapes, references); a copy
    that is also encoded otherwise (base64) is for the other readings of the place."""
    if "&#34;" in text or "&quot;" in text:
        text = html_unescaped(text)
    if '":' not in text:
        return False
    return any(fingerprint.holds(words(decode_layers(joined))) for joined in code.keyed_strings(text))


def copies(
    data: bytes, fingerprint: Fingerprint, cluster_bytes: int, cluster_markers: int, seen: dict[bytes, bool]
) -> list[tuple[int, int]]:
    """The suspect windows of ``data`` that hold a copy (see the module's steps 1 and 2)."""
    return [
        (start, end)
        for start, end in suspects(data, fingerprint, cluster_bytes, cluster_markers, seen)
        if holds_copy(data[start:end].decode("utf-8", "replace"), fingerprint)
    ]


# --------------------------------------------------------------------------- from bytes to nodes


Span = tuple[int, int]


@dataclass
class Places:
    """The nodes whose serialisation holds part of a copy, each with the range of the serialised page it is.

    Ranges are in characters of the serialised page: the start tag for an
    element (its attributes), the part of a script or style body inside the
    copy's window, from the first to the last node of a run of text nodes;
    and for every node, the whole of its serialisation (for the check after
    the sweep, see :func:`recheck`).
    """

    elements: list[tuple[LexborNode, Span, Span]] = field(default_factory=list)
    """Elements whose start tag (their attributes) a copy touches: the node, its start tag, all of it."""
    comments: list[tuple[LexborNode, Span]] = field(default_factory=list)
    code: list[tuple[LexborNode, Span, list[Span], Span]] = field(default_factory=list)
    """Script and style elements: the node, the part of its body in the windows, those parts relative to
    the body, all of it."""
    texts: list[tuple[list[tuple[LexborNode, bool]], Span]] = field(default_factory=list)
    """Runs of text nodes, one per window, each node with whether readers see it (False) or not (True)."""
    text_spans: dict[int, Span] = field(default_factory=dict)
    """Where each text node of the runs stands, by its ``mem_id``."""
    json_code: set[int] = field(default_factory=set)
    """The scripts that are JSON, by ``mem_id`` (known once :meth:`confirmed` has read them)."""

    def confirmed(self, serialised: str, fingerprint: Fingerprint) -> Places:
        """The places whose own range holds a withheld run (a window may reach into a place it holds no copy of).

        Runs of text and JSON are not read here: sweeping them reads them
        once, string by string, as cheaply (a script's JavaScript is: its
        tokenizer costs more than reading the part of it in the window).
        """

        def holds(span: Span) -> bool:
            return holds_copy(serialised[span[0] : span[1]], fingerprint)

        json_code = {
            node.mem_id
            for node, *_ in self.code
            if node.tag == "script" and code.split_json(node.text(deep=True)) is not None
        }
        return Places(
            elements=[item for item in self.elements if holds(item[1])],
            comments=[item for item in self.comments if holds(item[1])],
            code=[item for item in self.code if item[0].mem_id in json_code or holds(item[1])],
            texts=self.texts,
            text_spans=self.text_spans,
            json_code=json_code,
        )

    def __bool__(self) -> bool:
        return bool(self.elements or self.comments or self.code or self.texts)

    def edits(self, changed: Changed) -> list[tuple[Span, str]]:
        """What the sweep changed, as ranges of the old serialisation and the text that now stands there."""
        found: list[tuple[Span, str]] = []
        for node, _tag, whole in self.elements:
            if node.mem_id in changed.elements:
                found.append((whole, node.html or ""))
        for node, _covered, _relative, whole in self.code:
            if node.mem_id in changed.code:
                found.append((whole, node.html or ""))
        for node, span in self.comments:
            if node.mem_id in changed.removed:
                found.append((span, ""))
        for key, span in self.text_spans.items():
            if key in changed.removed:
                found.append((span, ""))
        return found


@dataclass
class Changed:
    """The nodes a targeted sweep changed, by ``mem_id`` (read before any of them is removed)."""

    removed: set[int] = field(default_factory=set)
    """Text nodes and comments taken out."""
    elements: set[int] = field(default_factory=set)
    """Elements whose attributes were dropped or shortened."""
    code: set[int] = field(default_factory=set)
    """Scripts and styles whose body was rewritten or emptied."""


def char_ranges(data: bytes, spans: list[Span]) -> list[Span]:
    """Byte ranges of UTF-8 ``data`` as ranges of the text it encodes."""
    return _str_spans(data, spans)


def _str_spans(data: bytes, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Byte ranges of UTF-8 ``data`` as ranges of the text it encodes (edges moved to a character's start)."""
    if data.isascii():
        return spans

    def snap(edge: int) -> int:
        while 0 < edge < len(data) and (data[edge] & 0xC0) == 0x80:
            edge -= 1  # a continuation byte: take the start of its character
        return edge

    offsets: dict[int, int] = {}
    chars = previous = 0
    for edge in sorted({snap(edge) for span in spans for edge in span}):
        chars += len(data[previous:edge].decode("utf-8", "replace"))
        offsets[edge] = chars
        previous = edge
    return [(offsets[snap(start)], offsets[snap(end)] + 1) for start, end in spans]


def hides(node: LexborNode) -> bool:
    """Whether an element hides its content from readers (see :func:`paywall.engine.sweep`)."""
    if node.tag in HIDING_TAGS:
        return True
    attrs = node.attributes
    return (
        "hidden" in attrs
        or (attrs.get("aria-hidden") or "").strip().lower() == "true"
        or STYLE_HIDDEN.search(attrs.get("style") or "") is not None
    )


class _Unfollowed(Exception):
    """The serialisation cannot be followed down the tree here."""


def places(tree: LexborHTMLParser, serialised: str, data: bytes, spans: list[tuple[int, int]]) -> Places | None:
    """The nodes holding the byte ranges ``spans`` of ``data`` (``serialised``, UTF-8 encoded), or None.

    None means the ranges could not be followed down the tree (a copy in
    ``<template>`` content, a tree deeper than the interpreter's stack):
    every place is read instead.
    """
    document = tree.root.parent if tree.root is not None else None
    if document is None or not spans:
        return None
    # Runs of text are read a little wider than the copies' windows (the words of a copy around its
    # markers); attributes, comments and code only where the windows are.
    wide = _merged(spans, len(data), PLACE_MARGIN)
    found = Places()
    runs: list[list[tuple[LexborNode, bool]]] = [[] for _ in wide]
    extents: list[list[int]] = [[len(serialised), 0] for _ in wide]
    in_text = list(enumerate(_str_spans(data, wide)))
    try:
        _follow(document, 0, serialised, in_text, _str_spans(data, spans), found, (runs, extents), hidden=False)
    except (_Unfollowed, RecursionError):
        return None
    found.texts = [(run, (first, last)) for run, (first, last) in zip(runs, extents, strict=True) if run]
    return found


def _follow(
    node: LexborNode,
    base: int,
    serialised: str,
    spans: list[tuple[int, tuple[int, int]]],
    windows: list[Span],
    found: Places,
    texts: tuple[list[list[tuple[LexborNode, bool]]], list[list[int]]],
    *,
    hidden: bool,
) -> None:
    """Find the places of ``spans`` (for text) and ``windows`` (for the rest) inside ``node``.

    ``serialised`` is the node's serialisation, which starts at ``base``.
    """
    tag = node.tag
    is_document = tag == "-document"
    if tag == "template":
        raise _Unfollowed("template content")
    kids = list(node.iter(include_text=True))
    whole = (base, base + len(serialised))
    windows = [(start, end) for start, end in windows if start < whole[1] and end > base]
    if not kids:
        if windows and not is_document:
            found.elements.append((node, whole, whole))
        return
    inner, closing = 0, len(serialised)
    if not is_document:
        # Lexbor escapes "<", ">", "&" and quotes in attribute values: the first ">" ends the start tag.
        inner, closing = serialised.find(">") + 1, serialised.rfind("</")
        if inner <= 0 or closing < inner:
            raise _Unfollowed(f"<{tag}> has no start and end tag")
        if any(start < base + inner for start, _end in windows):
            found.elements.append((node, (base, base + inner), whole))
    low = min(start for _, (start, _end) in spans)
    high = max(end for _, (_start, end) in spans)
    laid = _lay_out(kids, serialised, inner, closing, low - base, high - base)
    body = base + inner
    runs, extents = texts
    for kid, part, start in laid:
        offset, end = base + start, base + start + len(part)
        inside = [(index, span) for index, span in spans if span[0] < end and span[1] > offset]
        if not inside:
            continue
        kind = kid.tag
        near = [(start, stop) for start, stop in windows if start < end and stop > offset]
        if kind == "-text":
            if tag in _CODE_TAGS:
                if near and (not found.code or found.code[-1][0] is not node):
                    covered = (max(offset, min(a for a, _b in near)), min(end, max(b for _a, b in near)))
                    relative = [(first - body, last - body) for first, last in near]
                    found.code.append((node, covered, relative, whole))
            else:
                found.text_spans[kid.mem_id] = (offset, end)
                for index, _span in inside:
                    runs[index].append((kid, hidden))
                    extents[index][0] = min(extents[index][0], offset)
                    extents[index][1] = max(extents[index][1], end)
        elif kind == "-comment":
            if near:
                found.comments.append((kid, (offset, end)))
        elif kind not in (None, "-doctype"):
            _follow(kid, offset, part, inside, near, found, texts, hidden=hidden or hides(kid))


def _lay_out(
    kids: list[LexborNode], serialised: str, inner: int, closing: int, low: int, high: int
) -> list[tuple[LexborNode, str, int]]:
    """The children between ``low`` and ``high`` (offsets in ``serialised``), with their serialisation and offset.

    Children are serialised from the nearer end of their parent's content
    only as far as the range reaches: a copy in ``<head>`` does not cost a
    serialisation of ``<body>``. Each child is checked to stand where its
    length puts it.
    """
    laid: list[tuple[LexborNode, str, int]] = []
    if low - inner <= closing - high:
        at = inner
        for kid in kids:
            if at >= high:
                break
            part = kid.html or ""
            if not serialised.startswith(part, at):
                raise _Unfollowed("a child does not serialise where its siblings end")
            laid.append((kid, part, at))
            at += len(part)
    else:
        at = closing
        for kid in reversed(kids):
            if at <= low:
                break
            part = kid.html or ""
            at -= len(part)
            if at < inner or not serialised.startswith(part, at):
                raise _Unfollowed("a child does not serialise where its siblings start")
            laid.append((kid, part, at))
        laid.reverse()
    return laid


RECHECK_CHARACTERS = 1024
"""Characters searched again on either side of a change: runs that a removal brought together."""
_ENDS_RUNS = bytes(
    b"a"[0] if (c < 128 and (chr(c).isalnum() or chr(c) in "+/=_-%\\&#;{} \t\r\n\f")) else b"|"[0] for c in range(256)
)
"""Bytes that cannot stand inside a run of escapes or a base64 blob as ``|`` (the others as ``a``)."""


def recheck(old: str, new: str, edits: list[tuple[Span, str]], windows: list[Span]) -> list[Span] | None:
    """The ranges of ``new`` (characters) where a copy may stand after ``edits`` turned ``old`` into it.

    Outside the edits the serialisation is the old one, whose only copies
    stood in ``windows`` (ranges of ``old``): the check after the sweep reads
    the edited ranges, widened by :data:`RECHECK_CHARACTERS` (words a
    removal brought together), and the windows, where they are now. None
    when the edits do not make ``new`` out of ``old`` (the whole page is then
    read again).
    """
    edits = sorted(edits, key=lambda edit: (edit[0][0], -edit[0][1]))
    moved: list[tuple[int, int, int, int]] = []  # old start, old end, new start, new end
    last = 0
    at = 0
    # The new page must be the old one with each edit in its place: compared piece by piece, in place.
    for (start, end), text in edits:
        if start < last:
            continue  # inside an element rewritten whole
        if new[at : at + start - last] != old[last:start] or not new.startswith(text, at + start - last):
            return None
        at += start - last
        moved.append((start, end, at, at + len(text)))
        at += len(text)
        last = end
    if len(new) - at != len(old) - last or new[at:] != old[last:]:
        return None

    def where(position: int) -> int:
        shift = 0
        for start, end, new_start, new_end in moved:
            if position < start:
                break
            if position < end:
                return new_start if position == start else new_end
            shift = new_end - end
        return position + shift

    ranges = [(new_start - RECHECK_CHARACTERS, new_end + RECHECK_CHARACTERS) for _, _, new_start, new_end in moved]
    ranges.extend((where(start), where(end)) for start, end in windows)
    return _merged(ranges, len(new), 0)


def byte_ranges(text: str, data: bytes, spans: list[Span]) -> list[Span]:
    """Character ranges of ``text`` as byte ranges of ``data`` (its UTF-8 encoding), widened to whole runs.

    The edges move out to a byte that cannot stand in a run of escapes or a
    base64 blob (punctuation, a quote, a bracket), so that none is read cut
    in two.
    """
    if not data.isascii():
        offsets: dict[int, int] = {}
        position = previous = 0
        for edge in sorted({edge for span in spans for edge in span}):
            position += len(text[previous:edge].encode("utf-8", "replace"))
            offsets[edge] = position
            previous = edge
        spans = [(offsets[start], offsets[end]) for start, end in spans]
    widened = [(_run_start(data, start), _run_end(data, end)) for start, end in spans]
    return _merged(widened, len(data), 0)


EDGE_BYTES = 256
"""Bytes around an edge translated first to find where a run ends (four times more each time none does)."""


def _run_start(data: bytes, at: int) -> int:
    """Just after the last byte before ``at`` that cannot stand in a run (0 if none), reading only the bytes near."""
    size = EDGE_BYTES
    while True:
        low = max(0, at - size)
        found = data[low:at].translate(_ENDS_RUNS).rfind(b"|")
        if found >= 0:
            return low + found + 1
        if low == 0:
            return 0
        size *= 4


def _run_end(data: bytes, at: int) -> int:
    """The first byte from ``at`` on that cannot stand in a run (the end of ``data`` if none)."""
    size = EDGE_BYTES
    while True:
        high = min(len(data), at + size)
        found = data[at:high].translate(_ENDS_RUNS).find(b"|")
        if found >= 0:
            return at + found
        if high == len(data):
            return len(data)
        size *= 4
