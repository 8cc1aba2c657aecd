"""A bounded, in-process cache of what the HTML engine concluded about a page.

Parsing and cutting a page costs milliseconds; serving the same article to many
non-members should cost a lookup. Nothing is keyed by the URL, so a page that
changes is simply a new entry and a stale teaser cannot be served. Nothing
reader-specific is stored: protection tags (nonce, reader mark) and the link
back to the reader's page are added after the cache.

Two kinds of entries:

* **Verdicts** (free, article, no article, broken) are for the body exactly as
  the app sent it (with its encoding and charset): a page seen before is
  recognised without decoding it or computing a digest, and no two bodies can
  ever share a verdict. The entry is found by the body's length and its first
  and last :data:`SAMPLE_BYTES` (hashing a whole fresh 100 KB body costs about
  25 us, the samples about 1 us), then the whole body is compared with the one
  the verdict was made for (about 2 us): a body that differs anywhere is a
  miss, and its own verdict takes the slot. The entry carries the page's digest
  for the second kind.
* **Cuts** are keyed by a digest of the decoded page and the call to action
  (its kind and variant: one of a few strings); the cut is stored already
  split where each request's own parts go.

Hostile pages are remembered too (:data:`REFUSED`), so a page that
makes the parser give up is not parsed again on every request.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from ..bounded import ENTRY_OVERHEAD, Bounded

Verdict = Literal["free", "article", "no_article", "broken"]

#: How much of a body's start and end finds its verdict's slot (the whole body is then compared).
SAMPLE_BYTES = 1024


def page_key(decoded: bytes, charset: str | None, *, view: bool = False) -> bytes:
    """Digest of everything a cut depends on besides the call to action.

    ``view``: the page was judged at an address that names a view of an article,
    where other parts of the same bytes may be found to be the article.
    """
    digest = hashlib.blake2b(decoded, digest_size=20)
    digest.update(b"\0" + (charset or "").lower().encode("ascii", "replace"))
    if view:
        digest.update(b"\0view")
    return digest.digest()


@dataclass(frozen=True, slots=True)
class Known:
    """What is known about one body: the engine's verdict and the digest of the decoded page."""

    verdict: Verdict
    key: bytes
    #: The page's canonical link (path and query), read once: what an article is counted as, and what
    #: a page without one is a view of (an AMP or print view of an article fails closed like it).
    canonical: str | None = None
    #: An AMP page (``<html amp>``): no script or stylesheet link may be added to it.
    amp: bool = False


@dataclass(slots=True)
class Cut:
    """A page cut at its teaser, split where each request's own parts go.

    ``head`` ends where the protection tags go; ``rest`` is what follows, split
    at each placeholder for the reader's own parts of the call to action (the
    link back to their page, the form's token): text, placeholder, text...
    """

    head: bytes
    rest: tuple[bytes, ...]
    #: Digest of the cut, so that a response's ETag costs a hash of a few small parts.
    digest: bytes
    #: The last page made from this cut, as ``(tags, fills, body, etag)``: most requests
    #: for a popular article are made the same way, and then reuse it without a copy.
    last: tuple[bytes, dict[bytes, bytes], bytes, str] | None = field(default=None, compare=False)
    #: The tokens of the page this cut was made from that a page with other tokens replaces, and whether
    #: the cut holds each as often as the page does (:meth:`paywall.http.variants.Changes.derive`).
    tokens: tuple[tuple[bytes, ...], bool] | None = field(default=None, compare=False)
    #: The numbers among the withheld words (None: not known): a number a page with another time or count in
    #: place of this one's brings in must not be one of them (:meth:`paywall.http.variants.Changes.derive`).
    withheld_numbers: frozenset[str] | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.head) + sum(len(part) for part in self.rest)


class Refused(Enum):
    """A page the engine refused: remembered like a cut, so a hostile page is not parsed on every request."""

    PAGE = "refused"


#: The one :class:`Refused` value.
REFUSED = Refused.PAGE

_BodyKey = tuple[int, bytes, bytes, bytes, bytes]
_CutKey = tuple[bytes, str]
_Key = _BodyKey | _CutKey
_Value = tuple[Known, bytes] | Cut | Refused


class GateCache(Bounded[_Key, _Value]):
    """Least-recently-used entries within ``max_bytes``; ``max_bytes=0`` caches nothing."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(max_bytes)
        #: Pages parsed to be judged, cut or marked: the work the cache did not save.
        self.parses = 0

    def known(self, body: bytes, encoding: bytes | None, charset: str | None, *, view: bool = False) -> Known | None:
        """What was concluded about this exact body (as sent, with this encoding and charset).

        ``view``: the body was served at an address that names a view of an article
        (AMP, print), where prose counts as the article with fewer signs: its own entry.
        """
        key = self._body_key(body, encoding, charset, view)
        entry = self._entries.get(key)  # as _get does, inline: asked for every page judged
        if entry is None:
            return None
        self._entries.move_to_end(key)
        value = entry[0]
        if isinstance(value, tuple) and value[1] == body:
            return value[0]
        return None

    def put_known(
        self, body: bytes, encoding: bytes | None, charset: str | None, known: Known, *, view: bool = False
    ) -> None:
        key = self._body_key(body, encoding, charset, view)
        sampled = 2 * SAMPLE_BYTES if len(body) > 2 * SAMPLE_BYTES else 0  # the key's own copies of the ends
        self._put(key, (known, body), len(body) + sampled + ENTRY_OVERHEAD)

    def cut(self, key: bytes, cta_html: str) -> Cut | Refused | None:
        """The cut page for this call to action, :data:`REFUSED`, or None when unknown."""
        cut_key = (key, cta_html)  # as _cut_key makes it and _get looks it up, inline: asked for every teaser
        entry = self._entries.get(cut_key)
        if entry is None:
            return None
        self._entries.move_to_end(cut_key)
        value = entry[0]
        return value if isinstance(value, Cut | Refused) else None

    def put_cut(self, key: bytes, cta_html: str, cut: Cut | Refused) -> None:
        # A cut is counted twice: the cut, and the last page made from it (:attr:`Cut.last`).
        size = 2 * len(cut) if isinstance(cut, Cut) else 0
        self._put(self._cut_key(key, cta_html), cut, size + ENTRY_OVERHEAD)

    @staticmethod
    def _body_key(body: bytes, encoding: bytes | None, charset: str | None, view: bool = False) -> _BodyKey:
        charset_key = (charset or "").lower().encode("ascii", "replace") + (b"\0view" if view else b"")
        if len(body) <= 2 * SAMPLE_BYTES:
            return (len(body), body, b"", encoding or b"", charset_key)
        return (len(body), body[:SAMPLE_BYTES], body[-SAMPLE_BYTES:], encoding or b"", charset_key)

    @staticmethod
    def _cut_key(key: bytes, cta_html: str) -> _CutKey:
        # The call to action is one of a few strings kept by the middleware: its hash is cached.
        return (key, cta_html)


#: Longest key :class:`RecentKeys` keeps as it is (an article's address mostly is shorter).
SHORT_KEY = 160


class RecentKeys:
    """The last ``size`` keys added (a bounded set, least recently added go first).

    A key longer than :data:`SHORT_KEY` characters is kept as its 16-byte digest:
    a key may be a request's path and query, as long as a client makes it, and
    the set's memory must not follow that. Shorter ones are kept as they are
    (a string never equals a digest), which spares a hash on every gated view.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._keys: OrderedDict[str | bytes, None] = OrderedDict()

    def add(self, key: str) -> None:
        digest = self._digest(key)
        self._keys[digest] = None
        self._keys.move_to_end(digest)
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._digest(key) in self._keys

    @staticmethod
    def _digest(key: str) -> str | bytes:
        if len(key) <= SHORT_KEY:
            return key
        return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def __len__(self) -> int:
        return len(self._keys)


@dataclass(slots=True)
class MemberHead:
    """Where the head of a member's page at one path ended, as last found.

    ``prefix`` is the page's start up to just past its ``</head>`` tag's name
    (:attr:`paywall.engine.headscan.HeadScan.decided`): a body that starts with
    it has its head end at ``at`` and is AMP or not as this one was, without a scan.
    """

    prefix: bytes
    at: int
    amp: bool
    #: The last page given tags at this path, as ``(body as the app sent it, tags, body with the tags)``:
    #: most sites send a member the same bytes for an article, and then it is sent again without a copy.
    last: tuple[bytes, bytes, bytes] | None = None

    def cost(self, path: str) -> int:
        last = len(self.last[0]) + len(self.last[2]) if self.last is not None else 0
        return len(path) + len(self.prefix) + last + ENTRY_OVERHEAD


class MemberHeads(Bounded[str, MemberHead]):
    """The heads of members' pages by path, least recently used first out, within ``max_bytes``.

    The path only says which head to try: a body is taken for the same page
    only when it starts with the remembered bytes (``bytes.startswith``, at
    the speed of a memory compare), so a page whose head changes is a miss and
    scanned again, and no body ever gets another's answer.
    """

    def find(self, path: str, body: bytes) -> MemberHead | None:
        """The head remembered at ``path`` when ``body`` starts with it, else None."""
        entry = self._entries.get(path)
        if entry is None or not body.startswith(entry[0].prefix):
            return None
        self._entries.move_to_end(path)
        return entry[0]

    def put(self, path: str, head: MemberHead) -> None:
        """Remember ``head`` (or its newer ``last`` page) for ``path``."""
        cost = head.cost(path)
        if cost > self.max_cost and head.last is not None:
            head.last = None
            cost = head.cost(path)
        self._put(path, head, cost)


__all__ = [
    "REFUSED",
    "Cut",
    "GateCache",
    "Known",
    "MemberHead",
    "MemberHeads",
    "RecentKeys",
    "Refused",
    "Verdict",
    "page_key",
]
