"""Byte-level work on pages that are not parsed: the canonical link, and whether a page is AMP.

Metering and the publisher's statistics read a page's canonical link without
a parse; a member's page, which is never parsed, is looked at for ``<html
amp>`` before tags go in its head. (Where ``<head>`` ends, for the
protection tags, is :mod:`paywall.engine.headscan`'s work.)
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

_LINK_TAG = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_REL_CANONICAL = re.compile(
    rb"""\brel\s*=\s*(?:"[^"]*\bcanonical\b[^"]*"|'[^']*\bcanonical\b[^']*'|canonical\b)""", re.IGNORECASE
)
_HREF = re.compile(rb"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE)


_HTML_TAG = re.compile(rb"<html(?=[\t\n\x0c\r />])([^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([^\t\n\x0c\r />=][^\t\n\x0c\r />=]*)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?""")
_COMMENT = re.compile(rb"<!--.*?(?:-->|$)", re.DOTALL)
#: The attributes of ``<html>`` that make a page an AMP page: ``amp`` and the lightning bolt (UTF-8).
AMP_MARKS = frozenset({b"amp", "\u26a1".encode()})
#: How far into a page its ``<html>`` tag is looked for (past a doctype and comments).
AMP_SCAN_BYTES = 4096


def is_amp(head: bytes) -> bool:
    """Whether the page that starts with ``head`` is an AMP page: its ``<html>`` tag has ``amp`` or ``⚡``."""
    head = head[:AMP_SCAN_BYTES]
    match = _HTML_TAG.search(head)
    if match is not None and b"<!--" in head[: match.start()]:  # a tag in a comment is none
        match = _HTML_TAG.search(_COMMENT.sub(b"", head))
    if match is None:
        return False
    return any(name.group(1).lower() in AMP_MARKS for name in _ATTRIBUTE.finditer(match.group(1)))


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
