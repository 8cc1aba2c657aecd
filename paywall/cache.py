"""A bounded, in-process cache of what the HTML engine concluded about a page.

Parsing and cutting a page costs milliseconds; serving the same article to many
non-members should cost a hash. Entries are keyed by a digest of everything
that determines the result (the decoded body and its charset, and for a cut
page the call to action), never by the URL, so a page that changes is simply a
new entry and a stale teaser cannot be served. Nothing reader-specific is
stored: protection tags (nonce, reader mark) are added after the cache.

Hostile pages are remembered too (``BROKEN``), so a page that makes the parser
give up is not parsed again on every request.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Literal

Verdict = Literal["free", "article", "no_article", "broken"]

#: Stands for a page the engine refused, in :meth:`GateCache.gated`.
BROKEN = b""

_ENTRY_OVERHEAD = 200  # bytes a key and its bookkeeping cost, roughly


def page_key(decoded: bytes, charset: str | None) -> bytes:
    digest = hashlib.blake2b(decoded, digest_size=20)
    digest.update(b"\0" + (charset or "").lower().encode("ascii", "replace"))
    return digest.digest()


class GateCache:
    """Least-recently-used entries within ``max_bytes``; ``max_bytes=0`` caches nothing."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, Verdict | bytes] = OrderedDict()
        self._size = 0

    def verdict(self, key: bytes) -> Verdict | None:
        value = self._get(b"v" + key)
        return value if isinstance(value, str) else None

    def put_verdict(self, key: bytes, verdict: Verdict) -> None:
        self._put(b"v" + key, verdict, _ENTRY_OVERHEAD)

    def gated(self, key: bytes, cta_html: str) -> bytes | None:
        """The cut page for this call to action, :data:`BROKEN`, or None when unknown."""
        value = self._get(self._gated_key(key, cta_html))
        return value if isinstance(value, bytes) else None

    def put_gated(self, key: bytes, cta_html: str, body: bytes) -> None:
        self._put(self._gated_key(key, cta_html), body, len(body) + _ENTRY_OVERHEAD)

    @staticmethod
    def _gated_key(key: bytes, cta_html: str) -> bytes:
        return b"g" + hashlib.blake2b(key + cta_html.encode("utf-8"), digest_size=20).digest()

    def _get(self, key: bytes) -> Verdict | bytes | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def _put(self, key: bytes, value: Verdict | bytes, cost: int) -> None:
        if cost > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= _cost(old)
        self._entries[key] = value
        self._size += cost
        while self._size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._size -= _cost(evicted)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._size


def _cost(value: Verdict | bytes) -> int:
    return (len(value) if isinstance(value, bytes) else 0) + _ENTRY_OVERHEAD
