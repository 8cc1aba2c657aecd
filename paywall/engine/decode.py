"""Bytes to text, the way a browser decodes a page.

A byte-order mark wins, then the HTTP charset, then a ``<meta>`` declaration
near the start, then UTF-8; labels mean what WHATWG says they mean (``latin1``
is windows-1252). A body that does not read as text in its charset is decoded
by its NUL pattern (UTF-16/32 without a label) or refused with
:class:`~paywall.errors.RewriteError`, so that a page is never passed whole as
"no article" because it could not be read.
"""

from __future__ import annotations

import codecs
import re

from paywall.engine.scan import holds_any
from paywall.errors import RewriteError

SNIFF_BYTES = 4096
"""How far into the body a ``<meta>`` charset declaration is looked for."""
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:+-]+)", re.IGNORECASE)
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ufffe\uffff]")

# Labels whose WHATWG meaning is a superset of what Python's codec of the same name decodes.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-kr": "cp949",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "x-mac-roman": "mac_roman",
}

# WHATWG labels of UTF-16; honoured in the HTTP header only (a ``<meta>`` that
# could be read as ASCII cannot be right about UTF-16: it means UTF-8 there).
_UTF16_LABELS = {
    "utf-16": "utf-16-le",
    "utf-16le": "utf-16-le",
    "utf-16-le": "utf-16-le",
    "unicode": "utf-16-le",
    "unicodefeff": "utf-16-le",
    "ucs-2": "utf-16-le",
    "csunicode": "utf-16-le",
    "iso-10646-ucs-2": "utf-16-le",
    "utf-16be": "utf-16-be",
    "utf-16-be": "utf-16-be",
    "unicodefffe": "utf-16-be",
}
_WIDE_CODECS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))

GARBLED_SHARE = 0.1
"""A decoded page with more NULs and replacement characters than this share is not text.

UTF-16 or UTF-32 read as a single-byte charset is about half NULs; a browser
skips the NULs and shows the page's source as text, article included. Such a
body is decoded by its NUL pattern, or refused.
"""


def _codec(label: str | None, *, header: bool = False) -> str | None:
    """Python codec name for a charset label, or None if unknown or unusable.

    UTF-16 and UTF-32 only come from the HTTP ``header`` (WHATWG reads the
    ``utf-16`` label as UTF-16LE); in a ``<meta>`` they are ignored.
    """
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if name in _UTF16_LABELS:
        return _UTF16_LABELS[name] if header else None
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    if info.name in _WIDE_CODECS:
        return info.name if header and info.name != "utf-16" else None
    if not _is_text_codec(info.name):
        return None
    return info.name


def _is_text_codec(name: str) -> bool:
    """Rule out codecs such as rot13/base64 that codecs.lookup also knows."""
    try:
        "a<".encode(name)
        b"a<".decode(name)
    except (LookupError, UnicodeError, TypeError, ValueError):
        return False
    return True


def _garbled(text: str) -> bool:
    """Whether decoded text is mostly NULs and replacement characters (see :data:`GARBLED_SHARE`)."""
    if "\x00" not in text and "\ufffd" not in text:
        return False  # each a search for one character (memchr); counting them reads every character
    bad = text.count("\x00") + text.count("\ufffd")
    return bad >= 4 and bad > GARBLED_SHARE * len(text)


def decode_body(body: bytes, charset: str | None) -> str:
    """Decode a response body the way a browser would.

    A byte-order mark wins (as in browsers: it cannot be there by accident),
    then the charset of the HTTP header (UTF-16 labels included, unless the
    page reads as ASCII-compatible markup and not as UTF-16), then a
    ``<meta>`` declaration near the start, then UTF-8. Undecodable bytes become
    U+FFFD, and control characters that the parser cannot hold become U+FFFD too.

    A result that is not text (:func:`_garbled`: UTF-16 or UTF-32 without a
    byte-order mark or label, binary) is decoded again as UTF-32 or UTF-16
    if one of them reads it as text; otherwise this raises
    :class:`RewriteError`, so the page is refused rather than passed as
    "no article".
    """
    text: str | None = None
    plain_utf8 = False  # whether text is body decoded as UTF-8, byte for byte
    for bom, name in _BOMS:
        if body.startswith(bom):
            text = body[len(bom) :].decode(name, errors="replace")
            break
    codec = None if text is not None else _codec(charset, header=True)
    if codec in _WIDE_CODECS:
        text = body.decode(codec, errors="replace")
        codec = None
        if "<" not in text and b"<" in body:
            # Mislabelled: markup in an ASCII-compatible charset. A browser would
            # show garbage, but a scraper reading the bytes gets the article.
            text = None
    if text is None:
        if codec is None:
            match = _META_CHARSET.search(body[:SNIFF_BYTES])
            if match is not None:
                codec = _codec(match.group(1).decode("ascii", "replace"))
        text = body.decode(codec or "utf-8", errors="replace")
        plain_utf8 = (codec or "utf-8") == "utf-8"
    if _garbled(text):
        for name in _wide_candidates(body[:SNIFF_BYTES]):
            candidate = body.decode(name, errors="replace").removeprefix("\ufeff")
            if not _garbled(candidate):
                text, plain_utf8 = candidate, False
                break
        else:
            raise RewriteError("cannot decode the page: it does not read as text in its charset")
    if plain_utf8 and not _may_hold_controls(body):
        return text
    return _CONTROL.sub("\ufffd", text)


_CONTROL_BYTES = bytes(c for c in range(256) if c <= 8 or c == 11 or 14 <= c <= 31 or c == 127)
"""The bytes of the control characters the parser cannot hold (in UTF-8, each its own byte)."""
_NONCHARACTERS = re.compile(rb"\xef\xbf[\xbe\xbf]")
"""U+FFFE and U+FFFF in UTF-8 (a regular expression with a literal prefix: faster than ``in`` for short needles)."""


def _may_hold_controls(body: bytes) -> bool:
    """Whether UTF-8 ``body`` may decode to a character :data:`_CONTROL` replaces, looked at in C.

    In UTF-8 those characters are their own single bytes (the C0 controls and
    DEL, which no other character's bytes contain) or the sequences of U+FFFE
    and U+FFFF; a body without them decodes to text without them.
    """
    if holds_any(body, _CONTROL_BYTES):
        return True
    return not body.isascii() and _NONCHARACTERS.search(body) is not None


def _wide_candidates(sample: bytes) -> list[str]:
    """UTF-32 / UTF-16 codecs the NUL bytes of ``sample`` point to, likeliest first."""
    zeros = [sample[i::4].count(0) for i in range(4)]
    quarter = max(1, len(sample) // 4)
    found: list[str] = []
    if sum(zeros) * 5 < len(sample):
        return found  # wide encodings of markup are mostly NULs
    if zeros[2] > 0.9 * quarter and zeros[3] > 0.9 * quarter:
        found.append("utf-32-le")
    if zeros[0] > 0.9 * quarter and zeros[1] > 0.9 * quarter:
        found.append("utf-32-be")
    even, odd = zeros[0] + zeros[2], zeros[1] + zeros[3]
    if odd > 2 * even:
        found.append("utf-16-le")
    if even > 2 * odd:
        found.append("utf-16-be")
    return found
