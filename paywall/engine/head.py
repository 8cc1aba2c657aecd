"""Byte-level work on pages that are not parsed: the canonical link.

Metering and the publisher's statistics read a page's canonical link without
a parse. (Where ``<head>`` ends, for the protection tags, is
:mod:`paywall.headscan`'s work.)
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
