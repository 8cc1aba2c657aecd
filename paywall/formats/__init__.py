"""Feeds, JSON APIs and text: every copy of an article outside its page, cut at its teaser for non-members.

An article a site gates on its page also goes out as a feed item (RSS, Atom,
JSON Feed), in JSON (a CMS's API, WordPress REST, the data routes a
Next.js or Nuxt front end loads its pages from) and as text (a Markdown or
plain-text view of the page). :class:`Formats` cuts each body found there at
the teaser its page would show, with a call to action linking to that page
(:mod:`.feed`, :mod:`.json_body`, :mod:`.text_body`, all through the engine:
:mod:`.bodies`), and checks the whole answer for copies of what it withheld.

What it costs:

* Only feeds, JSON and text are read (by the response's type, see
  :mod:`paywall.http.decision`); everything else streams past.
* A JSON answer is first searched for a body key at C speed (one regular
  expression over the bytes); one without (``/api/health``, a list of ids)
  is sent as it came, byte for byte, and its reader is never identified.
  JSON from :data:`KNOWN_JSON_PATHS` and ``json_paths`` is always read.
* What is cut does not depend on the reader, so it is computed before the
  reader is identified, cached per answer (by its bytes, its path and the
  site's origin), and an answer in which nothing was cut goes out as it came.

Anything that cannot be read or cut safely raises
:class:`~paywall.errors.FormatError`; the middleware then refuses the answer to
non-members (:func:`refusal`), never sending it whole.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from paywall.errors import FormatError, RewriteError
from paywall.formats import feed, json_body, text_body
from paywall.formats.feed import sniffs_as_feed
from paywall.formats.json_body import sniffs_as_jsonp
from paywall.pages.cta import read_on_text, render_read_on, trial_url
from paywall.paths import has_dot_segment, match_path, normalize_path
from paywall.settings import PaywallSettings

FormatKind = Literal["feed", "json", "text", "rsc"]

#: Where JSON carries articles on common platforms: always read, and refused when it cannot be.
KNOWN_JSON_PATHS = ("/wp-json/*", "/_next/data/*", "*/_payload.json", "/ghost/api/*", "/jsonapi/*")
_NEXT_DATA = "/_next/data/"
_NUXT_PAYLOAD = "_payload.json"
#: Share of ``gate_cache_bytes`` kept for cut feeds and JSON answers.
CACHE_SHARE = 4


@dataclass(frozen=True)
class Gated:
    """What non-members get of one answer: ``body`` (UTF-8), or None when nothing in it is withheld."""

    body: bytes | None
    items: int = 0
    error: str | None = None


class Formats:
    """The feed and JSON gate of one middleware: settings read once, and a bounded cache of answers."""

    def __init__(self, settings: PaywallSettings) -> None:
        self.settings = settings
        self.keys = json_body.BODY_KEYS | frozenset(settings.json_body_fields)
        self.look = json_body.key_pattern(self.keys)
        self.paths = KNOWN_JSON_PATHS + settings.json_paths
        self.cache_bytes = settings.gate_cache_bytes // CACHE_SHARE
        self._cache: OrderedDict[bytes, tuple[Gated, int]] = OrderedDict()
        self._cache_size = 0
        self._lock = threading.Lock()

    def article_path(self, path: str) -> bool:
        """Whether JSON at ``path`` is taken to carry articles (then it is always read, and refused if it cannot be)."""
        return match_path(normalize_path(path), self.paths)

    def worth_a_look(self, kind: FormatKind, path: str, body: bytes) -> bool:
        """Whether the answer may carry an article body: every feed; JSON with a body key, from an article
        path, or with the signs of prose under other keys (:func:`json_body.may_hold_prose`); text that reads
        as an article; an RSC payload with an article's worth of prose in its strings."""
        if kind in ("text", "rsc"):
            return self.shows_article(kind, body)
        return kind == "feed" or self.article_path(path) or self.has_body_key(body) or json_body.may_hold_prose(body)

    def shows_article(self, kind: FormatKind, data: bytes) -> bool:
        """Whether a part of a large answer that streams shows an article (then it is cut short there): a body
        key in JSON, prose in text or in an RSC payload's strings."""
        if kind == "rsc":
            return text_body.rsc_carries_prose(text_body.decoded(data, None))
        if kind == "text":
            return text_body.carries_article(text_body.decoded(data, None))
        return self.has_body_key(data)

    def has_body_key(self, data: bytes) -> bool:
        """Whether ``data`` (JSON, or a part of it) names a body key, in any case (a few milliseconds a megabyte)."""
        return self.look.search(data.lower()) is not None

    def gate(self, kind: FormatKind, body: bytes, *, charset: str | None, path: str, origin: str) -> Gated:
        """Every article body in ``body`` (decoded, not compressed) cut at its teaser; raises FormatError.

        ``origin`` (``https://news.example``) makes the call to action's links absolute.
        """
        key = hashlib.blake2b(
            b"\0".join(
                [kind.encode(), path.encode("utf-8", "replace"), origin.encode(), (charset or "").encode(), body]
            ),
            digest_size=20,
        ).digest()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is None:
            try:
                gated = self._gate(kind, body, charset, path, origin)
            except FormatError as exc:
                gated = Gated(None, error=str(exc))
            except RewriteError as exc:
                gated = Gated(None, error=f"a body could not be cut ({exc})")
            except RecursionError:
                gated = Gated(None, error="nested too deeply to be read")
            self._remember(key, gated, len(body))
        else:
            gated = cached[0]
        if gated.error is not None:
            raise FormatError(gated.error)
        return gated

    def _remember(self, key: bytes, gated: Gated, size: int) -> None:
        cost = len(gated.body or b"") + 200 + (0 if gated.body is not None else size // 16)
        if cost > self.cache_bytes:
            return
        with self._lock:
            self._cache[key] = (gated, cost)
            self._cache_size += cost
            while self._cache_size > self.cache_bytes:
                _, (_, evicted) = self._cache.popitem(last=False)
                self._cache_size -= evicted

    def _gate(self, kind: FormatKind, body: bytes, charset: str | None, path: str, origin: str) -> Gated:
        settings = self.settings
        read_on = json_body.ReadOn(
            html=lambda url: render_read_on(settings, url),
            text=lambda url: read_on_text(settings, url),
            fallback=origin.rstrip("/") + page_path(path, settings),
            origin=origin.rstrip("/"),
        )

        def free(link: str | None) -> bool:
            return self.free_link(link, origin)

        teaser = settings.teaser_paragraphs
        if kind == "text":
            text = text_body.decoded(body, charset)
            link = origin.rstrip("/") + text_body.page_of(path)
            cut = text_body.cut(text, teaser_paragraphs=teaser, read_on=read_on_text(settings, link))
            return Gated(None if cut is None else cut.encode(), 0 if cut is None else 1)
        if kind == "feed" and not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
            out, items = feed.gate_xml(body, charset=charset, teaser_paragraphs=teaser, read_on=read_on, free=free)
            return Gated(out, items)
        prefix, value, suffix = json_body.loads(body)
        if feed.is_json_feed(value):
            withheld, items = feed.gate_json_feed(value, teaser_paragraphs=teaser, read_on=read_on, free=free)
        elif kind == "feed":
            raise FormatError("a feed that is neither XML nor a JSON Feed")
        else:
            cutter = json_body.Cutter(self.keys, teaser_paragraphs=teaser, read_on=read_on, free=free)
            if path.endswith(_NUXT_PAYLOAD) and isinstance(value, list):
                cutter.devalue(value, None)
            else:
                cutter.walk(value)
            withheld, items = cutter.withheld, cutter.cuts
        if not items:
            return Gated(None)
        json_body.blank_leaks(value, withheld)
        return Gated(json_body.dumps_like(value, body, prefix, suffix), items)

    def free_link(self, link: str | None, origin: str) -> bool:
        """Whether ``link`` is this site's page at a path in ``exclude_paths`` (never gated, so free here too)."""
        if not link or not self.settings.exclude_paths:
            return False
        parts = urlsplit(link)
        if parts.netloc and parts.netloc.lower() != urlsplit(origin).netloc.lower():
            return False
        path = parts.path or "/"
        return match_path(path, self.settings.exclude_paths) and not has_dot_segment(path)


def page_path(path: str, settings: PaywallSettings) -> str:
    """The page a JSON answer belongs to (a Next.js data route, a Nuxt payload), else the trial page."""
    if path.startswith(_NEXT_DATA) and path.endswith(".json"):
        rest = path[len(_NEXT_DATA) :].split("/", 1)
        if len(rest) == 2:
            page = "/" + rest[1].removesuffix(".json")
            return "/" if page == "/index" else page.removesuffix("/index")
    if path.endswith("/" + _NUXT_PAYLOAD):
        return path.removesuffix(_NUXT_PAYLOAD)
    return trial_url(settings, "/")


def refusal(settings: PaywallSettings, kind: FormatKind, cta_page: bytes) -> tuple[bytes, bytes]:
    """What a non-member gets instead of an answer that cannot be cut safely: body and type.

    JSON clients get a JSON error naming the trial page, text a line naming it; feeds and RSC payloads get
    the call to action's page (``cta_page``), for the person who opens the address (a router that gets it
    instead of a payload loads the page).
    """
    if kind == "json":
        body = {"error": "members_only", "message": "This content is for members.", "trial": trial_url(settings, "/")}
        return json.dumps(body).encode(), b"application/json"
    if kind == "text":
        return read_on_text(settings, trial_url(settings, "/")).encode() + b"\n", b"text/plain; charset=utf-8"
    return cta_page, b"text/html; charset=utf-8"


__all__ = [
    "KNOWN_JSON_PATHS",
    "FormatKind",
    "Formats",
    "Gated",
    "page_path",
    "refusal",
    "sniffs_as_feed",
    "sniffs_as_jsonp",
]
