"""Where given words stand in a page's word table: the first step of the search for copies.

:func:`~paywall.engine.locate.suspects` translates the page to lower-case
words separated by spaces and asks where the fingerprint's markers stand in
it. A 250 KB page is about 40,000 words: made into 40,000 bytes objects and
intersected with the markers, they cost about what parsing the page costs.
The compiled :func:`word_hits` (``_scan.c``, built where the package is
installed with a C compiler) reads each word in place and looks it up in a
hash table of the markers without making an object for it: 0.6 ms instead of
3 ms on a 240 KB page. It reads without holding the GIL, so that the threads
that gate large pages run it side by side.

:func:`reference_word_hits` here is the definition, and the fallback where
the extension is not built: the tests hold the two to the same answers on
any bytes (:data:`COMPILED` tells which one runs).

:func:`holds_any` tells whether a body holds any of a few bytes (the control
characters a decoded page must not keep): the reference deletes them with
``bytes.translate`` and compares the lengths, about 11 instructions a byte;
the compiled one reads a lookup table a byte at a time, about 3.

:func:`word_table` turns a page into lower-case words separated by spaces,
byte for byte (the table the search for markers reads, and what
:func:`~paywall.engine.text.words` splits): the reference is
``bytes.translate`` with :data:`WORD_TABLE`, about 7 instructions a byte; the
compiled one reads sixteen bytes at a time in vector registers, about 1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

REFERENCE_CHUNK_BYTES = 4096
"""The reference reads the table in chunks of about this size, each ending at whitespace."""
_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")
"""What ends a word: ASCII whitespace, as ``bytes.split()`` reads it."""
_SPACE = re.compile(b"[" + re.escape(bytes(sorted(_WHITESPACE))) + b"]")
WORD_TABLE = bytes(
    (c + 32 if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122 or c == 95 or c >= 128) else 32)
    for c in range(256)
)
"""Bytes to lower-case words: ASCII letters lower-cased; ASCII digits, ``_`` and every byte of other characters
kept; every other byte a space (``\\w`` of ASCII, casefolded)."""

Hits = tuple[list[tuple[int, bytes]], int]


def reference_word_hits(table: bytes, words: set[bytes] | frozenset[bytes], ranges: Sequence[tuple[int, int]]) -> Hits:
    """Every place in the ``ranges`` (start, end) of ``table`` where one of ``words`` stands as a whole
    word, as ``(offset, word)`` in the order of the ranges, and the length of the longest word read (0
    when none).

    A word is a run of bytes other than ASCII whitespace, as ``bytes.split()``
    reads them, and the edges of a range end words. Each chunk is split and
    intersected with ``words`` (in C), and only the words found are looked
    for in it.
    """
    hits: list[tuple[int, bytes]] = []
    longest = 0
    for low, high in ranges:
        if not 0 <= low <= high <= len(table):
            raise ValueError("a range must stand within the table")
        start = low
        while start < high:
            space = _SPACE.search(table, min(high, start + REFERENCE_CHUNK_BYTES), high)
            end = high if space is None else space.start()
            chunk = table[start:end]
            tokens = chunk.split()
            if tokens:
                longest = max(longest, *map(len, tokens))
                hits.extend(sorted(_places(chunk, start, words.intersection(tokens))))
            start = end
    return hits, longest


def _places(chunk: bytes, offset: int, found: set[bytes] | frozenset[bytes]) -> list[tuple[int, bytes]]:
    """Where each word of ``found`` stands as a whole word in ``chunk`` (offsets plus ``offset``)."""
    places: list[tuple[int, bytes]] = []
    for word in found:
        at = chunk.find(word)
        while at >= 0:
            after = at + len(word)
            whole = (at == 0 or chunk[at - 1] in _WHITESPACE) and (after == len(chunk) or chunk[after] in _WHITESPACE)
            if whole:
                places.append((offset + at, word))
            at = chunk.find(word, after)
    return places


def reference_word_table(data: bytes) -> bytes:
    """``data`` as lower-case words separated by spaces, byte for byte (see :data:`WORD_TABLE`)."""
    return data.translate(WORD_TABLE)


def reference_holds_any(data: bytes, wanted: bytes) -> bool:
    """Whether ``data`` holds any of the bytes of ``wanted`` (those bytes deleted, something is gone)."""
    return len(data.translate(None, wanted)) != len(data)


try:
    from paywall.engine._scan import holds_any as holds_any
    from paywall.engine._scan import word_hits as word_hits
    from paywall.engine._scan import word_table as word_table
except ImportError:  # built without a C compiler: the definitions serve
    word_hits = reference_word_hits
    holds_any = reference_holds_any
    word_table = reference_word_table
    COMPILED = False
else:
    COMPILED = True
