"""What the middleware does with a response, decided from what is known when it starts.

:func:`decide` is a pure function of the request's method, the response's
status and headers as :class:`Start` sums them up, and who the reader is when
that is known. It answers with one :class:`Action`; the middleware carries it
out (``paywall/http/middleware.py``). It never looks at the request's ``Accept``,
``Range`` or validators: a page is judged by what the response is.

The rules, in order:

* ``X-Paywall: free``, an error, a redirect, a 204/205, or a type that is not a
  page: passed through untouched (``PASS``).
* A ``HEAD``, a ``206`` or a ``304`` that may concern a page cannot be judged
  from its (missing or partial) body: for anyone who would not get the page as
  the app made it, the request is asked again as a plain ``GET`` (``REPLAY``),
  or, for other methods, answered with the call to action (``REFUSE``).
* A body whose type browsers do not trust (none, malformed, ``unknown/unknown``,
  generic XML): its first bytes are read first (``SNIFF``), then decided again.
* An HTML page: a member's streams as made (``MEMBER``), or with the protection
  tags injected at the end of its head (``INJECT``), or buffered when it is
  compressed and needs tags (``BUFFER``); a non-member's is buffered to be
  judged and cut (``BUFFER``).
* A feed (RSS, Atom, JSON Feed; generic XML whose root is a feed's) or a JSON
  body: buffered and judged by :mod:`paywall.formats` (``FORMAT``), for every
  reader; what is cut there does not depend on the reader, so the reader is
  identified only once the body turns out to carry an article. Text
  (``text/plain``, ``text/markdown``) likewise: an article's Markdown or
  plain-text view is the article; a text that streams and does not start
  with prose goes on as made.
* A script: its first bytes are read (``SNIFF``); JSONP (``/**/callback({…})``, as
  WordPress's REST API answers ``?_jsonp=callback``) is JSON and judged as JSON, any
  other script goes on as made.
* A React Server Components payload (``text/x-component``, what Next.js's
  router fetches to show a page by script): a member's streams as made
  (``MEMBER``); anyone else's is read (``FORMAT``), and one that carries an
  article is refused, so that the router loads the page, which is gated.

When the answer depends on whether the reader is a member and that is not yet
known, the answer is ``IDENTIFY``: identify the reader, then decide again. (For
a page, the middleware first looks at the body when it arrives whole and small:
one the cache knows has no article is sent as it is, and nobody is identified.)

:func:`view_paths` and :func:`names_a_view` say, from an address alone, which
article an AMP or print view stands for: a page is judged under that article's
path rules too, and its prose counts as the article.
"""

from __future__ import annotations

import functools
import re
from enum import Enum
from typing import Literal, NamedTuple

from ..paths import normalize_path
from .headers import HTML_TYPES, RawHeaders, content_type, header_pairs, parse_content_type

Directive = Literal["", "free", "members"]
#: What a response's type says about it: a page, maybe a page (browsers sniff), a feed, JSON, or neither.
Kind = Literal["html", "sniff-html", "sniff-xml", "feed", "json", "text", "rsc", "script", "other"]


class Action(Enum):
    PASS = "pass"  # noqa: S105 (an action, not a password)
    MEMBER = "member"
    INJECT = "inject"
    BUFFER = "buffer"
    SNIFF = "sniff"
    REPLAY = "replay"
    REFUSE = "refuse"
    IDENTIFY = "identify"
    FORMAT = "format"


class Start(NamedTuple):
    """What ``http.response.start`` says, in the terms the decision needs."""

    status: int
    kind: Kind
    #: ``(media type, charset)`` as browsers read it; None when there is none they accept.
    media: tuple[str, str | None] | None
    directive: Directive
    #: The body has a ``Content-Encoding`` (tags cannot be injected while streaming).
    encoded: bool
    #: ``multipart/byteranges``: the parts' own types are inside the body.
    byteranges: bool
    #: The app sent ``X-Paywall`` or ``X-Paywall-Access`` (never passed on to the reader).
    controlled: bool = False
    #: The site vouched for the reader with ``X-Paywall-Access: member`` (proxy mode).
    upstream_member: bool = False
    #: The body's ``Content-Length`` (the first one), when it is a number.
    length: int | None = None
    #: The response has a ``Content-Security-Policy`` (tags added to the page need its nonce).
    policy: bool = False

    @classmethod
    def read(cls, status: int, headers: RawHeaders) -> Start:
        """Sum up a response's start line and headers (control headers included), in one pass.

        Remembered (see :func:`read_start`): an app sends the same few starts again and again.
        """
        return read_start(status, headers)

    @classmethod
    def _read(cls, status: int, headers: RawHeaders | tuple[tuple[bytes, bytes], ...]) -> Start:
        types: list[bytes] = []
        directive = access = length = b""
        encoded = controlled = policy = False
        for name, value in headers:
            name = name.lower()
            if name == b"content-type":
                types.append(value)
            elif name == b"content-length":
                length = length or value
            elif name == b"content-encoding":
                encoded = True
            elif name == b"content-security-policy":
                policy = True
            elif name == b"x-paywall":
                directive, controlled = value.strip().lower(), True
            elif name == b"x-paywall-access":
                access, controlled = value.strip().lower(), True
        kind, media = _classify(tuple(types))
        # The fields in order, made as a tuple: the named constructor costs a Python call more.
        return tuple.__new__(
            cls,
            (
                status,
                kind,
                media,
                "free" if directive == b"free" else "members" if directive == b"members" else "",
                encoded,
                media is not None and media[0] == "multipart/byteranges",
                controlled,
                access == b"member",
                int(length) if length.isdigit() and len(length) <= 18 else None,
                policy,
            ),
        )

    def sniffed(self, is_html: bool, *, feed: bool = False, json: bool = False) -> Start:
        """This start once the body's first bytes are known (a page, a feed, JSON, or none of them)."""
        kind: Kind = "html" if is_html else "feed" if feed else "json" if json else "other"
        return self._replace(kind=kind, byteranges=False)

    @property
    def html_media(self) -> str:
        """The HTML type a gated copy of this page is sent as."""
        return self.media[0] if self.media is not None and self.media[0] in HTML_TYPES else "text/html"

    @property
    def charset(self) -> str | None:
        return self.media[1] if self.media is not None else None


def read_start(status: int, headers: RawHeaders) -> Start:
    """:meth:`Start.read`: the start of a response, remembered by its status and headers (one lookup made in C)."""
    try:
        return _read_start(status, tuple(headers))
    except TypeError:  # header pairs given as lists (ASGI allows it) cannot be remembered
        return Start._read(status, header_pairs(headers))


#: The last starts read. Their headers are the app's own (a site sends few distinct ones); a
#: start with a header that changes on each response (a session cookie) is read anew each time.
_read_start = functools.lru_cache(maxsize=256)(Start._read)


#: Types browsers do not take at their word: they sniff the body.
_UNTRUSTED_TYPES = frozenset({"unknown/unknown", "application/unknown"})
#: Generic XML types, which browsers render as a page when the root is XHTML's <html> (and feed readers read
#: as a feed when it is a feed's).
_XML_TYPES = frozenset({"text/xml", "application/xml"})
#: The types of feeds: RSS (and RSS 1.0's RDF), Atom, JSON Feed.
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json"})
#: The types of text read as it is (an article's Markdown or plain-text view is the article).
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/x-markdown"})
#: A React Server Components payload: what Next.js's router fetches to show a page without loading it.
RSC_TYPE = "text/x-component"
#: The types of scripts: JSONP (JSON in a call, as WordPress's REST API answers ``?_jsonp=``) is sent as one.
SCRIPT_TYPES = frozenset(
    {"application/javascript", "text/javascript", "application/x-javascript", "application/ecmascript",
     "text/ecmascript"}
)  # fmt: skip


@functools.lru_cache(maxsize=256)
def _classify(values: tuple[bytes, ...]) -> tuple[Kind, tuple[str, str | None] | None]:
    """What the ``Content-Type`` values make of a response (cached: sites send few distinct ones)."""
    media = content_type(values)
    if any(b"html" in value.lower() for value in values):
        # Any value naming HTML, well-formed or not: a browser may render the page.
        if media is None or media[0] not in HTML_TYPES:
            media = ("text/html", parse_content_type(b", ".join(values))[1])
        return "html", media
    if media is None or media[0] in _UNTRUSTED_TYPES:
        return "sniff-html", media
    if media[0] in _XML_TYPES:
        return "sniff-xml", media
    if media[0] in FEED_TYPES:
        return "feed", media
    if media[0] in ("application/json", "text/json") or media[0].endswith("+json"):
        return "json", media
    if media[0] in TEXT_TYPES:
        return "text", media
    if media[0] == RSC_TYPE:
        return "rsc", media
    if media[0] in SCRIPT_TYPES:
        return "script", media
    return "other", media


def decide(
    start: Start,
    *,
    method: str,
    member: bool | None,
    protect_member: bool,
    replaying: bool = False,
) -> Action:
    """The action for this response (see the module docstring).

    ``member`` is None while the reader is not identified; ``protect_member``
    says whether a member's view of this page gets the protection tags;
    ``replaying`` is true for the plain ``GET`` asked after a ``REPLAY``.
    """
    return decided(start, method, member, protect_member, replaying)


def decided(start: Start, method: str, member: bool | None, protect_member: bool, replaying: bool) -> Action:
    """:func:`decide`, its arguments in order (the middleware's call on every response: compiled, the rules
    cost less than a lookup of their answer would, which hashes ``start`` whole)."""
    status = start.status
    if start.directive == "free" or not (200 <= status < 300 or status == 304) or status in (204, 205):
        return Action.PASS
    partial = status in (206, 304)
    maybe_page = start.kind != "other" or (partial and start.byteranges)
    if not maybe_page:
        return Action.PASS
    head_only = method == "HEAD" and not replaying
    if partial or head_only:
        if replaying:
            # The app answered a plain GET with a part (never sent) or a bodiless 304.
            return Action.PASS if status == 304 else Action.REFUSE
        if member is None:
            return Action.IDENTIFY
        if member and not (head_only and protect_member and not partial):
            return Action.MEMBER
        return Action.REPLAY if method in ("GET", "HEAD") else Action.REFUSE
    if start.kind in ("feed", "json", "text"):
        return Action.FORMAT
    if start.kind == "rsc":  # a member's streams as made; anyone else's is read first
        return Action.IDENTIFY if member is None else Action.MEMBER if member else Action.FORMAT
    if start.kind != "html":
        return Action.SNIFF
    if member is None:
        return Action.IDENTIFY
    if not member:
        return Action.BUFFER
    if not protect_member:
        return Action.MEMBER
    return Action.BUFFER if start.encoded else Action.INJECT


#: Path segments and suffixes that name another view of the same article (``/story/amp``, ``/print/story``).
VIEW_SEGMENTS = frozenset({"amp", "print"})
_VIEW_SUFFIX = re.compile(r"\.amp(?=\.html?$|$)")


_VIEW_QUERY = re.compile(
    r"(?:^|&)(?:(?:amp|print)(?:=(?!0(?:&|$)|false(?:&|$)|no(?:&|$))[^&]*)?|(?:output|outputtype|format|view)=(?:amp|print))(?:&|$)",
    re.IGNORECASE,
)


def names_a_view(path: str, query: str = "") -> bool:
    """Whether an address names an AMP or print view of an article.

    A path segment or suffix (``/news/story/amp``, ``/print/news/story``,
    ``/news/story.amp.html``: see :func:`view_paths`) or a query
    (``?amp=1``, ``?print``, ``?outputType=amp``). Prose on such a page is
    taken for the article without further signs, as a page's metadata would say.
    (Not remembered across requests: an address is as long as a client makes it.)
    """
    lowered = path.lower()  # a view's path names it: most paths hold neither word
    if ("amp" in lowered or "print" in lowered) and len(view_paths(path)) > 1:
        return True
    return bool(query and _VIEW_QUERY.search(query))


def view_paths(path: str, canonical: str | None = None) -> tuple[str, ...]:
    """The paths whose rules (``article_paths``, ``protect_paths``) a page at ``path`` is judged under.

    Its own path (normalised); the article's, when the path names an AMP or
    print view of it (``/news/story/amp/``, ``/amp/news/story``,
    ``/print/news/story``, ``/news/story.amp.html``; ``?amp=1`` and ``?print=1``
    leave the path as it is); and the path of the page's canonical link, which
    a variant of an article names the article with. A rule that holds for any
    of them holds for the page.
    """
    own = normalize_path(path)
    paths = [own]
    segments = own.strip("/").split("/")
    if len(segments) > 1 and segments[0].lower() in VIEW_SEGMENTS:
        paths.append("/" + "/".join(segments[1:]))
    if len(segments) > 1 and segments[-1].lower() in VIEW_SEGMENTS:
        paths.append("/" + "/".join(segments[:-1]))
    bare = _VIEW_SUFFIX.sub("", own)
    if bare != own:
        paths.append(bare)
    if canonical is not None:
        linked = normalize_path(canonical.split("?", 1)[0])
        if linked not in paths:
            paths.append(linked)
    return tuple(paths)


__all__ = ["FEED_TYPES", "Action", "Directive", "Kind", "Start", "decide", "names_a_view", "view_paths"]
