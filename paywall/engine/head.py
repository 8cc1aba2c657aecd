"""Byte-level work on pages that are not parsed: where ``<head>`` ends, the canonical link.

Members' pages stream through without a parse; the protection tags are put
at the end of ``<head>`` by a scan of the bytes, and metering reads the
canonical link the same way.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

_HEAD_SCAN = re.compile(rb"<!--|<(script|style)(?=[\s/>])|</head\s*>|<body(?=[\s/>])[^>]*>", re.IGNORECASE)
_CLOSERS = {
    b"<!--": re.compile(rb"-->"),
    b"script": re.compile(rb"</script", re.IGNORECASE),
    b"style": re.compile(rb"</style", re.IGNORECASE),
}


def inject_head(body: bytes, head_html: str) -> bytes:
    """Insert ``head_html`` at the end of ``<head>`` without parsing the page.

    Before the first real ``</head>`` (case-insensitive; ones inside comments,
    scripts and styles are skipped), else right after the ``<body ...>`` open
    tag, else at the start. ``head_html`` is written with non-ASCII characters
    as character references, so it is right in any ASCII-compatible charset.
    Limit: this is a scan, not a parser; a ``</head>`` or ``<body`` inside an
    attribute value before the real head end would be taken at face value.
    """
    if not head_html:
        return body
    at = head_insertion_point(body)
    if at is None:
        at = 0
    return body[:at] + encode_head_html(head_html) + body[at:]


def encode_head_html(head_html: str) -> bytes:
    return head_html.encode("ascii", errors="xmlcharrefreplace")


def head_insertion_point(body: bytes) -> int | None:
    """Where :func:`inject_head` puts its tags in ``body``, or None when it holds no head end (yet).

    ``body`` may be the first part of a page still arriving: None then means
    "read on", never a wrong position, because every token the scan relies on
    is only matched once it is complete.
    """
    position = 0
    while True:
        match = _HEAD_SCAN.search(body, position)
        if match is None:
            return None
        token = match.group(0)
        if token == b"<!--" or match.group(1):
            closer = _CLOSERS[b"<!--" if token == b"<!--" else match.group(1).lower()]
            end = closer.search(body, match.end())
            if end is None:
                return None
            position = end.end()
            continue
        return match.start() if token[:2] == b"</" else match.end()


_LINK_TAG = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_REL_CANONICAL = re.compile(
    rb"""\brel\s*=\s*(?:"[^"]*\bcanonical\b[^"]*"|'[^']*\bcanonical\b[^']*'|canonical\b)""", re.IGNORECASE
)
_HREF = re.compile(rb"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE)


def canonical_path(body: bytes) -> str | None:
    """Path and query of the page's ``<link rel="canonical">``, found without a parse, or None."""
    for match in _LINK_TAG.finditer(body):
        tag = match.group(0)
        if not _REL_CANONICAL.search(tag):
            continue
        href = _HREF.search(tag)
        if href is None:
            return None
        raw = next(g for g in href.groups() if g is not None)
        try:
            url = urlsplit(unescape(raw.decode("utf-8", "replace")).strip())
        except ValueError:  # a malformed URL (an unclosed IPv6 bracket) is no canonical link
            return None
        if not url.path.startswith("/") or len(url.path) > 2048:
            return None
        return f"{url.path}?{url.query}" if url.query else url.path
    return None
