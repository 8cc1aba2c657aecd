"""``PaywallMiddleware``: a pure ASGI middleware that gates article HTML on the server.

Each response is decided once, when it starts, by :func:`paywall.http.decision.decide`
(a pure function: see there for the rules), and its body is then sent by one
small type that does one thing:

* :class:`_Pass` streams the app's body as it is (files, errors, free pages,
  members' pages without tags): the cost is a few header checks.
* :class:`_Inject` streams a member's page, holding back only the bytes up to
  the end of ``<head>``, where the protection tags go (:mod:`paywall.engine.headscan`).
* :class:`_Sniff` reads the first bytes of a body whose type browsers would
  sniff, then hands over to whichever type the page turns out to need.
* :class:`_Gate` buffers a page for a non-member, judges it and sends the
  teaser, the page itself, or the call to action.
* :class:`_Format` buffers a feed, a JSON or a text body and sends it as made,
  cut where it carries articles (:mod:`paywall.formats`), or a refusal.
* :class:`_Replay` drops an answer that cannot be judged (a ``HEAD``, a ``206``
  or ``304`` to someone who must not get the page as made); the request is then
  asked again as a plain ``GET``. :class:`_Discard` drops what follows an answer
  already given.

A page seen before costs one cache lookup of its body: the engine's verdict
(article or not) is keyed by the exact bytes, and a cut is stored split where
each reader's own parts (tags, link back to the page) go.

Every personalised answer (a member's page, a teaser, the call to action)
says so to every cache on the way: ``Cache-Control: private`` and ``Vary:
Cookie``, with the CDN-specific caching headers removed (see :data:`CACHE_HEADERS`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..access.member_feeds import feed_reader
from ..access.reader_state import STATE_KEY, ReaderState
from ..access.readers import Reader, article_key, consume_meter, identify
from ..access.store import Store
from ..engine import Page, canonical_path, is_amp
from ..engine.head import AMP_SCAN_BYTES
from ..engine.headscan import HeadScan, encode_tags, inject, insertion_point, with_tags
from ..errors import BodyTooLarge, FormatError, RewriteError
from ..formats import FormatKind, refusal, sniffs_as_feed, sniffs_as_jsonp, text_body
from ..insights import Wall
from ..pages.cta import CtaKind, fallback_page, render_cta
from ..paths import has_dot_segment, match_path, normalize_path, path_with_query
from ..protection.tags import csp_nonce
from ..settings import PaywallSettings, selectors_for
from .cache import REFUSED, Cut, GateCache, Known, MemberHead, MemberHeads, RecentKeys, Refused, Verdict, page_key
from .decision import Action, Start, decided, names_a_view, read_start, view_paths
from .endpoints import Endpoints
from .headers import (
    RawHeaders,
    decompress_body,
    get_header,
    header_pairs,
    joined_header,
    narrowed_accept_encoding,
    with_robots_rule,
    without_bodies,
    without_headers,
)
from .runtime import Runtime
from .variants import Base, Changes, PageBases

logger = logging.getLogger("paywall")

#: Bodies larger than this are cut in a worker thread, off the event loop.
THREAD_THRESHOLD = 256 * 1024
#: A page this small that arrives whole is looked up before its reader is identified:
#: the lookup hashes the body, which costs less than identifying for pages this size.
PEEK_BYTES = 16 * 1024

_CONTROL_HEADERS = (b"x-paywall", b"x-paywall-access")
_CONDITIONAL_HEADERS = (
    b"if-none-match",
    b"if-modified-since",
    b"if-range",
    b"range",
    b"if-match",
    b"if-unmodified-since",
)
#: Headers that tell caches how long to keep a response: removed from personalised answers,
#: so that ``Cache-Control: private`` governs every layer (Fastly and Varnish read
#: ``Surrogate-Control`` first, Cloudflare and others ``CDN-Cache-Control``, nginx
#: ``X-Accel-Expires``; without them each falls back to ``Cache-Control``).
CACHE_HEADERS = (
    b"cache-control",
    b"expires",
    b"pragma",
    b"surrogate-control",
    b"cdn-cache-control",
    b"cloudflare-cdn-cache-control",
    b"x-accel-expires",
)
#: Headers that describe the app's original body and are wrong for a rewritten one.
_BODY_HEADERS = (
    b"content-length",
    b"content-encoding",
    b"content-range",
    b"accept-ranges",
    b"etag",
    b"last-modified",
    b"content-md5",
    b"digest",
    b"repr-digest",
    b"content-digest",
)
#: ETags of gated pages start with this, so a cache never confuses them with the app's.
ETAG_PREFIX = "pw-"
GATED_CACHE_CONTROL = b"private, no-cache"
MEMBER_CACHE_CONTROL = b"private, no-store"

#: A reader the upstream site vouched for with ``X-Paywall-Access: member``.
_UPSTREAM_MEMBER = Reader(level="member")
_ANONYMOUS = Reader(level="anonymous")
_SERVED_WHOLE = "paywall: no article found in %s; served whole"
_NO_START = Start(200, "other", None, "", False, False)
#: What a member's view of a page is sent as (counted as a member's view). A tuple: ``in`` finds
#: an enum member in it by identity, where a set would call ``Enum.__hash__``, a Python function.
_MEMBER_VIEWS = (Action.MEMBER, Action.INJECT, Action.BUFFER)
#: Stands for a verified crawler's view in the cache of cuts (no call to action is this string).
_CRAWLER_VIEW = "\0crawler view"
#: Share of ``gate_cache_bytes`` (an eighth more) kept for the heads of members' pages.
MEMBER_HEADS_SHARE = 8
#: Share of ``gate_cache_bytes`` (a quarter more) kept for the last article judged at each path.
PAGE_BASES_SHARE = 4
#: Articles gated lately whose other views (AMP, print) fail closed when no article is found in them.
RECENT_ARTICLES = 10_000


#: Any ASGI app, however its framework types the scope and messages (Litestar's and Quart's typed dicts,
#: Starlette's mappings): the middleware hands each message on as it came.
AnyASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class PaywallMiddleware:
    """Wrap an ASGI app so that non-members receive articles cut at the teaser.

    >>> app = PaywallMiddleware(app, settings=PaywallSettings(secret_key="..."))
    """

    def __init__(self, app: AnyASGIApp, settings: PaywallSettings) -> None:
        self.app: ASGIApp = app
        self.settings = settings
        #: Everything built from the settings, once (a bad key file stops start-up here).
        self.runtime = runtime = Runtime(settings)
        self.store: Store = runtime.store
        self.assets = runtime.assets
        self.protection = runtime.protection
        self.cache = GateCache(settings.gate_cache_bytes)
        #: Where members' pages' heads end, by path (found again with one ``startswith``).
        self.member_heads = MemberHeads(settings.gate_cache_bytes // MEMBER_HEADS_SHARE)
        #: The last page judged at each path: a body that is that page with other tokens (a CSRF
        #: token, a nonce) gets its verdict and its cut, the tokens replaced (:mod:`.variants`).
        self.bases = PageBases(settings.gate_cache_bytes // PAGE_BASES_SHARE)
        self.formats = runtime.formats
        self.selector_rules = runtime.selector_rules
        self.insights = runtime.insights
        self.crawlers = runtime.crawlers
        #: Article keys gated lately: a page whose canonical link names one is a view of it.
        self.gated_articles = RecentKeys(RECENT_ARTICLES)
        self.endpoints = Endpoints(
            settings, self.store, assets=self.assets, insights=self.insights, credentials=runtime.credentials
        )
        self._own_prefix = settings.prefix + "/"
        # Read on every request, kept as this compiled class's own (the settings are frozen).
        self._prefix = settings.prefix
        self._excluded = settings.exclude_paths
        #: Cookies that may make a reader a member (or trial reader): without them and
        #: without a resolver, nobody needs identifying to be known as a non-member.
        names = (settings.member_cookie, settings.jwt_cookie, settings.trial_cookie)
        self._credentials = tuple(name.encode("latin-1") + b"=" for name in names)
        self.tags = functools.lru_cache(maxsize=1024)(self._tags)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # ASGI allows any iterable of pairs: a list of tuples, as uvicorn and Starlette make them, so that every
        # reader (ours, the app's) reads them all.
        scope["headers"] = header_pairs(scope["headers"])
        path: str = scope["path"]
        if path.startswith(self._own_prefix) or path == self._prefix:
            await self.endpoints(scope, receive, send)
            return
        # A path the app (or an upstream) may resolve to another one ("/free/../story",
        # "/free/..;/story") is never excluded: it is judged like any page.
        if self._excluded and match_path(path, self._excluded) and not has_dot_segment(path):
            await self.app(scope, receive, _strip_control_headers(send))
            return
        exchange = _Exchange(self, scope, receive, send)
        try:
            await exchange.run()
        finally:
            # The view and the way of answering point back at the exchange (scope -> view ->
            # exchange -> scope): cut both, or every request would leave garbage that only the
            # cycle collector frees.
            exchange.view.release()
            exchange.body = _FINISHED

    def selectors_for(self, path: str) -> list[str]:
        """The configured article selectors that apply to ``path``, in order (detection runs after them)."""
        return selectors_for(self.selector_rules, path)

    def may_be_member(self, scope: Scope) -> bool:
        """False only when no resolver, cookie or token could make this reader a member."""
        if self.settings.member_resolver is not None:
            return True
        for name, value in scope["headers"]:
            if name == b"authorization" or (name == b"cookie" and any(c in value for c in self._credentials)):
                return True
        return False

    def _tags(self, nonce: str | None, subject: str | None, page_url: str | None, cta: bool, protect: bool) -> bytes:
        """The tags a page's head gets, as bytes (cached: most requests ask for the same ones)."""
        out = self.assets.cta_tags(nonce=nonce) if cta else ""
        if protect:
            out += self.protection.head_html(nonce=nonce, subject=subject, page_url=page_url)
        return encode_tags(out)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        """Close the store's connections when the server shuts down."""

        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                try:
                    await self.runtime.aclose()
                except Exception:  # closing must never block shutdown
                    logger.exception("paywall: closing the store failed")
            return message

        return wrapped


def _strip_control_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = header_pairs(message.get("headers", []))
            message = {**message, "headers": without_headers(headers, *_CONTROL_HEADERS)}
        await send(message)

    return wrapped


# ---------------------------------------------------------------------------
# one request


class _Exchange:
    """One request through the middleware: asks the app, decides at the start, hands the body on."""

    # What an exchange starts with, where it is not made for it (each request makes one).
    #: The reader the response is made for (with the call to action's cookies once it has one).
    reader: Reader | None = None
    replaying = False
    answered = False
    start = _NO_START
    _names_a_view: bool | None = None

    def __init__(self, middleware: PaywallMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        self.mw = middleware
        self.settings = middleware.settings
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        # A HEAD is answered without a body, whatever the app (or a replayed GET) sends.
        self.send = without_bodies(send) if self.method == "HEAD" else send
        # The app never sees our own validators (a teaser ETag must not make it answer
        # 304 for the full version) nor codings we could not undo.
        #: ``scope`` is the request as the server gave it; ``scope_for_app`` the same without our
        #: validators and codings, never changed; ``app_copy`` the copy the app was last handed,
        #: changed by it as routers and inner middleware do (what a member resolver should see).
        self.scope_for_app, self.client_etags = _scope_for_app(scope)
        self.app_copy: Scope = self.scope_for_app
        # The app may ask who the reader is (``request.state.paywall``); the gate asks the same
        # object, so the reader is identified once, whoever asks first. (The view points back at
        # this exchange until the request ends: see ``PaywallMiddleware.__call__``.)
        self.view = ReaderState(self.identify, self.settings, middleware.store)
        self.scope_for_app.setdefault("state", {})[STATE_KEY] = self.view
        self.body: _Body = _DISCARD
        self.start_message: Message = {}
        self.headers: RawHeaders = []

    async def run(self) -> None:
        # Routers and inner middleware change the scope they are given (a Mount sets
        # root_path, sessions add "session"): the app gets a copy, and a replay starts
        # from the untouched one.
        self.app_copy = dict(self.scope_for_app)
        await self.mw.app(self.app_copy, self.receive, self.on_message)
        if isinstance(self.body, _Replay):
            self.replaying = True
            self.app_copy = dict(self.scope_for_app)
            self.app_copy["method"] = "GET"
            self.app_copy["headers"] = without_headers(self.scope_for_app["headers"], *_CONDITIONAL_HEADERS)
            await self.mw.app(self.app_copy, _empty_receive(self.receive), self.on_message)
        await self.body.end()

    async def on_message(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            body = self.body
            if type(body) is _Pass:  # streaming as made (files, most pages): straight on
                await self.send(message)
            else:
                await body.on_body(message)
        elif kind == "http.response.start":
            self.on_start(message)
            await self.act()
        elif isinstance(self.body, _Pass):
            await self.send(message)

    # ------------------------------------------------------------ decision
    def on_start(self, message: Message) -> None:
        """Take in the response's start (a plain call: what follows is awaited by :meth:`on_message`)."""
        raw = header_pairs(message.get("headers", []))
        self.start_message = message
        self.start = read_start(int(message["status"]), raw)
        if self.start.upstream_member and self.reader is None:
            self.reader = _UPSTREAM_MEMBER
        self.headers = without_headers(raw, *_CONTROL_HEADERS) if self.start.controlled else raw

    def decide(self) -> Action:
        reader = self.reader
        if reader is not None:
            member = reader.reads_in_full
        else:
            # Most answers (files, errors, redirects) do not depend on the reader: asked first without one.
            action = decided(self.start, self.method, None, False, self.replaying)
            if action is not Action.IDENTIFY or self.mw.may_be_member(self.scope):
                return action
            member = False
        protect_member = member and self.protects(member=True)
        return decided(self.start, self.method, member, protect_member, self.replaying)

    async def act(self) -> None:
        if self.reader is None:  # the app may have asked who the reader is already
            self.reader = self.view.known
        action = self.decide()
        if action is Action.IDENTIFY:
            if self.start.kind == "html" and self.method != "HEAD" and self.start.status == 200 and self._small():
                # A page may be one the cache knows has no article: then nobody needs identifying.
                self.body = _Peek(self)
                return
            self.reader = await self.view.reader()  # as get_reader() does (nobody has asked yet)
            action = self.decide()
        if (
            self.reader is not None
            and self.reader.reads_in_full
            and action in _MEMBER_VIEWS
            and self.start.status not in (206, 304)
        ):
            self.mw.insights.member_view(self.scope, self.reader)
        if action is Action.PASS:
            self.body = _Pass(self)
            await self.body.start(self.with_reader_cookies(self.headers))
        elif action is Action.MEMBER:
            self.body = _Pass(self)
            await self.body.start(self.with_reader_cookies(_personal(self.headers, MEMBER_CACHE_CONTROL)))
        elif action is Action.INJECT:  # only ever decided for a member: the reader is known
            self.body = _Inject(self, self.tags_for(self.reader, cta=False))
        elif action is Action.BUFFER:
            self.body = _Gate(self)
        elif action is Action.SNIFF:
            self.body = _Sniff(self)
        elif action is Action.REPLAY:
            self.body = _Replay()
        elif action is Action.FORMAT:
            self.body = _Format(self)
        else:  # REFUSE
            self.body = _DISCARD
            await self.fail_closed("a partial answer to a page cannot be judged")

    def _small(self) -> bool:
        """Whether the body may be small enough to be looked up before the reader is identified."""
        length = self.start.length
        return length is None or length <= PEEK_BYTES

    async def get_reader(self) -> Reader:
        """Who is reading; identified once per request, whether the app or the gate asks first."""
        if self.reader is None:
            self.reader = await self.view.reader()
        return self.reader

    async def identify(self) -> Reader:
        # The app's scope, so that a resolver sees what inner middleware
        # added to it (``request.session``, ``request.user``).
        try:
            return await identify(
                Request(self.app_copy),
                self.settings,
                self.mw.store,
                crawlers=self.mw.crawlers,
                credentials=self.mw.runtime.credentials,
            )
        except Exception:  # a bug must not turn into a 500 or an open door
            logger.exception("paywall: identifying the reader of %s failed", self.scope["path"])
            return _ANONYMOUS

    @property
    def names_a_view(self) -> bool:
        """Whether the request's address names an AMP or print view of an article (its prose is the article).

        Worked out on first use and kept (not a ``functools.cached_property``, which takes a lock each time).
        """
        if self._names_a_view is None:
            query: bytes = self.scope.get("query_string", b"")
            self._names_a_view = names_a_view(self.scope["path"], query.decode("latin-1") if query else "")
        return self._names_a_view

    def on_article_path(self, canonical: str | None = None) -> bool:
        """Whether this page is where an article lives: a page there without one fails closed.

        Its path, the article's path when it is an AMP or print view of one, or
        its ``canonical`` link match ``article_paths``; or the canonical link names
        another page that was gated lately (an article whose other view this is).
        """
        paths = self.settings.article_paths
        if paths and any(match_path(p, paths) for p in view_paths(self.scope["path"], canonical)):
            return True
        return (
            canonical is not None and canonical in self.mw.gated_articles and canonical != article_key(self.scope, None)
        )

    def protects(self, *, member: bool, article: bool = True, canonical: str | None = None) -> bool:
        """Whether this view of the page gets the protection tags."""
        settings = self.settings
        patterns = settings.protect_paths
        if settings.copy_protection == "off" or not (article or patterns):
            return False
        path = normalize_path(self.scope["path"])
        if not self.mw.protection.applies(path, member=member):
            return False
        return article or any(match_path(p, patterns) for p in view_paths(path, canonical))

    def tags_for(self, reader: Reader | None, *, cta: bool, protect: bool = True) -> bytes:
        """The head tags for this response: the call to action's stylesheet and/or the protection."""
        nonce = csp_nonce(self.headers) if self.start.policy else None
        page_url = None
        if self.settings.copy_protection == "attribute":  # the only mode that quotes the page's address
            page_url = _page_url(self.scope, self.settings.public_url)
        # The reader is named only to tags that mark them: others are remembered once, not once per reader.
        subject = reader.subject if reader is not None and self.mw.protection.marks_readers else None
        return self.mw.tags(nonce, subject, page_url, cta, protect)

    # ------------------------------------------------------------ answers
    async def send_whole(
        self,
        decoded: bytes,
        reader: Reader,
        *,
        cache_control: bytes = MEMBER_CACHE_CONTROL,
        canonical: str | None = None,
        article: bool = True,
    ) -> None:
        """The whole page (a member's, a metered read, a protected page without article), tags added.

        An AMP page gets no tags: AMP allows no script of the site's own, nor stylesheet links.
        """
        body = decoded
        if self.protects(member=reader.reads_in_full, article=article, canonical=canonical) and not is_amp(decoded):
            body = inject(decoded, self.tags_for(reader, cta=False))
        await self.respond(self.start.status, _personal(self.headers, cache_control, rewritten=True), body)

    async def send_original(self, body: bytes, *, personal: bool) -> None:
        headers = _personal(self.headers, MEMBER_CACHE_CONTROL) if personal else self.headers
        etag = get_header(headers, b"etag")
        if self.replaying and etag is not None and _etag_matches(etag.decode("latin-1"), self.client_etags):
            await self.respond(304, _not_modified_headers(headers), b"")
            return
        await self.respond(self.start.status, headers, body, keep_length=True)

    async def fail_closed(self, reason: str, *, log: bool = True) -> None:
        """The call to action in a page of its own; never the article, never a bare 500."""
        if log:
            logger.warning("paywall: %s on %s; served the call to action instead", reason, self.scope["path"])
        if self.answered:
            return
        headers = self.robots(_personal([(b"content-type", b"text/html; charset=utf-8")], MEMBER_CACHE_CONTROL))
        await self.respond(200, headers, await self.fallback_page())

    async def fallback_page(self) -> bytes:
        """The call to action in a page of its own, for this reader."""
        reader = await self.get_reader()
        kind: CtaKind = "ended" if reader.trial_ended else "offer"
        cta_html = render_cta(self.settings, kind, path_with_query(self.scope))
        return fallback_page(self.settings, cta_html, head_html=self.mw.assets.cta_stylesheet())

    async def pass_to_member(self, held: bytes, more: bool) -> None:
        """A member's answer streams on as the app makes it (privately), from what was held so far."""
        self.body = _Pass(self)
        await self.body.start(self.with_reader_cookies(_personal(self.headers, MEMBER_CACHE_CONTROL)))
        await self.send({"type": "http.response.body", "body": held, "more_body": more})

    def robots(self, headers: RawHeaders) -> RawHeaders:
        """``headers`` of a gated page or a crawler's view: ``X-Robots-Tag: noarchive`` (``noarchive``), so
        that no search engine offers a cached copy of what its crawler read in full."""
        return with_robots_rule(headers, b"noarchive") if self.settings.noarchive else headers

    async def respond(self, status: int, headers: RawHeaders, body: bytes, *, keep_length: bool = False) -> None:
        self.answered = True
        self.body = _DISCARD
        if not keep_length:
            headers = without_headers(headers, b"content-length")
            if status != 304:
                headers.append((b"content-length", str(len(body)).encode()))
        await self.send({"type": "http.response.start", "status": status, "headers": self.with_reader_cookies(headers)})
        await self.send({"type": "http.response.body", "body": body if status != 304 else b"", "more_body": False})

    def with_reader_cookies(self, headers: RawHeaders) -> RawHeaders:
        """``headers`` with the cookies of the reader as identified, whoever asked (the gate or the app)."""
        reader = self.reader if self.reader is not None and self.reader.set_cookies else self.view.known
        if reader is None or not reader.set_cookies:
            return headers
        return [*headers, *((b"set-cookie", c.encode("latin-1")) for c in reader.set_cookies)]


# ---------------------------------------------------------------------------
# ways of sending a body


class _Body:
    """Receives the app's body messages for one way of answering."""

    async def on_body(self, message: Message) -> None:
        raise NotImplementedError

    async def end(self) -> None:
        """The app returned; anything still held must be dealt with."""


class _Discard(_Body):
    """Drops the body of an answer that is not used (already answered, or to be replayed)."""

    async def on_body(self, message: Message) -> None:
        return None


class _Replay(_Discard):
    """Drops an answer that cannot be judged (a ``HEAD``, ``206`` or ``304``): the request is asked again as a GET."""


#: The one way of dropping a body (it holds nothing): before the response starts, and once answered.
_DISCARD = _Discard()
#: What a finished exchange holds instead of its body's way of answering.
_FINISHED = _Discard()


class _Pass(_Body):
    """The app's body as it is, streaming."""

    def __init__(self, exchange: _Exchange) -> None:
        self.x = exchange

    async def start(self, headers: RawHeaders) -> None:
        x = self.x
        if x.replaying and x.start.status == 200 and x.client_etags:
            # A conditional request replayed to judge the page: the answer it asked for.
            etag = get_header(headers, b"etag")
            if etag is not None and _etag_matches(etag.decode("latin-1"), x.client_etags):
                await x.respond(304, _not_modified_headers(headers), b"")
                return
        x.answered = True
        start = x.start_message
        # Headers untouched (no control header, no cookie, not personal): the app's own message goes on.
        await x.send(start if headers is start.get("headers") else {**start, "headers": headers})

    async def on_body(self, message: Message) -> None:
        await self.x.send(message)


class _Inject(_Body):
    """A member's page, streaming, with the protection tags at the end of its head.

    Only the bytes up to the end of the head wait. A head larger than
    ``max_body_bytes`` gets the tags at the last point inside it seen so far,
    or, when there is none, goes out without them.

    Where the head ends is remembered per path (:class:`~paywall.http.cache.MemberHeads`):
    a page that starts with the bytes the last scan there decided on needs no
    scan, and one that is the very page last sent there with the same tags is
    sent as made then, without a copy of it.
    """

    def __init__(self, exchange: _Exchange, tags: bytes) -> None:
        self.x = exchange
        self.tags = tags
        self.scan: HeadScan | None = None  # made when the head must be looked for (most are remembered)
        self.held = b""
        self.streaming = False

    async def on_body(self, message: Message) -> None:
        if self.streaming:
            await self.x.send(message)
            return
        more = bool(message.get("more_body", False))
        chunk: bytes = message.get("body", b"")
        self.held = held = self.held + chunk if self.held else chunk
        if not held and not more:  # an empty page stays empty
            await self.flush(b"", more)
            return
        heads, path = self.x.mw.member_heads, self.x.scope["path"]
        head = heads.find(path, held)
        if head is None:
            scan = self.scan = self.scan or HeadScan()
            found = scan.feed(held, final=not more)
            if found is None and len(held) > self.x.settings.max_body_bytes:
                found = scan.safe
                if found is None:
                    await self.flush(held, more)
                    return
            if found is None:
                return
            amp = is_amp(held[: min(found, AMP_SCAN_BYTES)])
            if scan.decided is None:  # a head that ended without its end tag: not remembered
                await self.flush(held if amp else with_tags(held, found, self.tags), more)
                return
            head = MemberHead(held[: scan.decided], found, amp)
            if amp:
                heads.put(path, head)
        if head.amp:  # AMP allows no script of the site's own, nor links
            await self.flush(held, more)
            return
        last = head.last
        if last is not None and last[1] == self.tags and last[0] == held:
            await self.flush(last[2], more)  # the page last read here, as sent then
            return
        first = with_tags(held, head.at, self.tags)
        head.last = (held, self.tags, first)
        heads.put(path, head)
        await self.flush(first, more)

    async def flush(self, first: bytes, more: bool) -> None:
        """Send the start of the response and ``first``, the body so far; stream the rest."""
        x = self.x
        # The app's header pairs are tuples (made so where they came in, ``header_pairs``): remembered as they are.
        headers = list(_injected_headers(tuple(x.headers), len(first) - len(self.held)))
        await x.send(
            {"type": "http.response.start", "status": x.start.status, "headers": x.with_reader_cookies(headers)}
        )
        x.answered = True
        self.streaming, self.held = True, b""
        await x.send({"type": "http.response.body", "body": first, "more_body": more})

    async def end(self) -> None:
        if not self.streaming:  # the app returned before finishing its body
            await self.on_body({"type": "http.response.body", "body": b"", "more_body": False})


class _Peek(_Body):
    """Looks at the first body message of a page before asking who reads it.

    A small page that arrives whole and that the cache knows has no article (or
    is free) goes out as the app made it, for members and non-members alike:
    one lookup, and the reader is never identified. Anything else is decided
    once the reader is known, and the message handed on.
    """

    def __init__(self, exchange: _Exchange) -> None:
        self.x = exchange

    async def on_body(self, message: Message) -> None:
        x = self.x
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False) and len(body) <= PEEK_BYTES and x.start.directive != "members":
            encoding = joined_header(x.headers, b"content-encoding")
            known = x.mw.cache.known(body, encoding, x.start.charset, view=x.names_a_view)
            plain = known is not None and (
                known.verdict == "free"
                or (
                    known.verdict == "no_article"
                    and not x.protects(member=False, article=False, canonical=known.canonical)
                    and not x.on_article_path(known.canonical)
                )
            )
            if plain:
                if known is not None and known.verdict == "no_article":
                    logger.debug(_SERVED_WHOLE, x.scope["path"])
                await x.send_original(body, personal=False)
                return
        await x.get_reader()
        await x.act()
        await x.body.on_body(message)

    async def end(self) -> None:
        if self.x.body is self:  # the app sent no body at all
            await self.on_body({"type": "http.response.body", "body": b"", "more_body": False})
            await self.x.body.end()


class _Sniff(_Body):
    """Reads the first bytes of an untyped body (or a script's), then lets it be decided as if it had been typed."""

    def __init__(self, exchange: _Exchange) -> None:
        self.x = exchange
        self.held = b""

    async def on_body(self, message: Message) -> None:
        self.held += message.get("body", b"")
        more = bool(message.get("more_body", False))
        if more and len(self.held) < TYPE_SNIFF_BYTES:
            return
        x = self.x
        if x.start.kind == "script":  # a browser runs a script as one: it is JSON in a call, or no page
            x.start = x.start.sniffed(False, json=sniffs_as_jsonp(self.held))
        else:
            is_html = sniffs_as_html(self.held, xml=x.start.kind == "sniff-xml")
            x.start = x.start.sniffed(is_html, feed=not is_html and sniffs_as_feed(self.held))
        await x.act()
        await x.body.on_body({"type": "http.response.body", "body": self.held, "more_body": more})

    async def end(self) -> None:
        if self.x.body is self:  # the app sent no body at all
            await self.on_body({"type": "http.response.body", "body": b"", "more_body": False})
            await self.x.body.end()


class _Buffered(_Body):
    """Holds a body up to ``max_body_bytes`` and judges it whole; a larger one goes to :meth:`too_large`.

    Whatever goes wrong while judging fails closed (:meth:`failed`), including our own bugs.
    """

    def __init__(self, exchange: _Exchange) -> None:
        self.x = exchange
        self.chunks: list[bytes] = []
        self.size = 0

    async def on_body(self, message: Message) -> None:
        x = self.x
        chunk: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        self.size += len(chunk)
        if self.size > x.settings.max_body_bytes:
            held = b"".join([*self.chunks, chunk])
            self.chunks = []
            await self.too_large(held, more)
            return
        self.chunks.append(chunk)
        if more:
            return
        x.body = _DISCARD
        body = b"".join(self.chunks)
        self.chunks = []
        try:
            await self.judge(body)
        except Exception as exc:
            if x.answered:
                raise
            await self.failed(exc)

    async def judge(self, body: bytes) -> None:
        raise NotImplementedError

    async def too_large(self, held: bytes, more: bool) -> None:
        raise NotImplementedError

    async def failed(self, exc: Exception) -> None:
        raise NotImplementedError


class _Gate(_Buffered):
    """Buffers a page (up to ``max_body_bytes``), judges it whole, and sends what this reader may see.

    A member's compressed page is decoded and gets the tags; anyone else's is
    looked up in the cache (or parsed), then sent as it is (no article, free),
    whole (a metered read), cut at the teaser, or replaced by the call to action.
    """

    def __init__(self, exchange: _Exchange) -> None:
        super().__init__(exchange)
        # the page, once decoded and parsed
        self.decoded: bytes | None = None
        self.page: Page | None = None
        #: The page judged before at this path that this body is with other tokens, and those tokens.
        self.base: Base | None = None
        self.changes: Changes | None = None

    async def too_large(self, held: bytes, more: bool) -> None:
        x = self.x
        if (await x.get_reader()).reads_in_full:
            await x.pass_to_member(held, more)  # too large to inject into: as the app made it
            return
        x.body = _DISCARD
        await x.fail_closed(f"body larger than max_body_bytes ({x.settings.max_body_bytes})")

    async def failed(self, exc: Exception) -> None:
        logger.exception("paywall: gating %s failed", self.x.scope["path"], exc_info=exc)
        await self.x.fail_closed(f"gating failed ({exc.__class__.__name__})", log=False)

    async def judge(self, body: bytes) -> None:
        """Send what this reader may see of a whole page (``body`` as the app sent it)."""
        if self.x.reader is not None and self.x.reader.reads_in_full:
            # A member's compressed page, buffered to add the tags.
            decoded = await self.decode(body)
            if decoded is not None:
                await self.x.send_whole(decoded, self.x.reader)
            return
        known = await self.known(body)
        if known is None:
            return
        if known.verdict == "broken":
            await self.x.fail_closed("the page could not be parsed", log=False)
        elif known.verdict != "article":
            await self.send_without_article(body, known)
        else:
            await self.send_article(body, known)

    async def known(self, body: bytes) -> Known | None:
        """The engine's verdict on this body: one lookup for a body seen before, else a parse."""
        encoding = joined_header(self.x.headers, b"content-encoding") if self.x.start.encoded else None
        charset = self.x.start.charset
        view = self.x.names_a_view
        mw, path = self.x.mw, self.x.scope["path"]
        known = mw.cache.known(body, encoding, charset, view=view)
        if known is None and not encoding:
            found = mw.bases.find(path, body, charset, view)
            if found is not None:  # a page judged before, with other tokens
                self.base, self.changes = found
                return self.base.known
        if known is None:
            decoded = await self.decode(body)
            if decoded is None:
                return None
            self.page, verdict = await self.parse(decoded)
            canonical = canonical_path(decoded) if verdict in ("article", "no_article") else None
            amp = self.page is not None and self.page.is_amp()
            known = Known(verdict, page_key(decoded, charset, view=view), canonical, amp)
            mw.cache.put_known(body, encoding, charset, known, view=view)
            if not encoding:
                mw.bases.put(path, Base(body, charset, view, known))
        return known

    async def cut_of(
        self, body: bytes, known: Known, kind: str, make: Callable[[bytes], Awaitable[Cut | Refused]]
    ) -> Cut | Refused | None:
        """The page's cut for ``kind`` (a call to action, or the crawler's view) that ``make`` makes of the
        decoded page: from the cache, else made and kept; None when the body could not be decoded (then it
        has answered).

        A body that is a page judged before with other tokens gets that page's cut with its tokens; when
        the cut does not hold them as the page does, the body is cut on its own.
        """
        cache, base, changes = self.x.mw.cache, self.base, self.changes
        cut = cache.cut(known.key, kind)
        if cut is None:
            decoded = base.body if base is not None else await self.decode(body)
            if decoded is None:
                return None
            cut = await make(decoded)
            cache.put_cut(known.key, kind, cut)
        if base is None or changes is None or cut is REFUSED:
            return cut
        derived = changes.derive(cut, base.body)
        if derived is not None:
            self.x.mw.bases.derived += 1
            return derived
        decoded = await self.decode(body)
        return None if decoded is None else await make(decoded)

    async def send_without_article(self, body: bytes, known: Known) -> None:
        x = self.x
        free = known.verdict == "free"
        if not free and x.on_article_path(known.canonical):
            logger.warning(
                "paywall: no article found in %s, where articles live (or a view of one): call to action alone",
                x.scope["path"],
            )
            await x.fail_closed("no article found on an article path", log=False)
            return
        if x.start.directive == "members":
            await x.fail_closed("members-only page without an article to cut", log=False)
            return
        if not free:
            logger.debug(_SERVED_WHOLE, x.scope["path"])
        if not free and x.protects(member=False, article=False, canonical=known.canonical):
            decoded = await self.decode(body)
            if decoded is not None:
                await x.send_whole(
                    decoded,
                    x.reader or _ANONYMOUS,
                    cache_control=GATED_CACHE_CONTROL,
                    canonical=known.canonical,
                    article=False,
                )
        else:
            await x.send_original(body, personal=False)

    async def send_article(self, body: bytes, known: Known) -> None:
        x = self.x
        reader = await x.get_reader()
        if reader.reads_in_full:
            decoded = await self.decode(body)
            if decoded is not None:
                await x.send_whole(decoded, reader)
            return
        kind: CtaKind = "ended" if reader.trial_ended else "offer"
        article = article_key(x.scope, known.canonical)
        if not x.names_a_view:
            # Remembered only where the page was found an article on its own: anyone can put
            # ?print=1 on any address, and must not make other views of a page fail closed.
            x.mw.gated_articles.add(article)
        if reader.crawler is not None:
            await self.send_crawler_view(body, known, reader, article)
            return
        if x.settings.free_articles and not reader.trial_ended and x.start.directive != "members":
            meter = await consume_meter(reader, Request(x.app_copy), x.settings, x.mw.store, article)
            if meter is not None and meter.allowed:
                decoded = await self.decode(body)
                if decoded is not None:
                    x.mw.insights.metered_view(x.scope, article)
                    await x.send_whole(decoded, reader.with_meter(meter))
                return
            if meter is not None and not meter.ip_capped:
                kind = "metered"
        # The cut is cached per page and call to action (kind and variant), not per URL: what
        # belongs to one reader (the link back to the page, the form's token) are placeholders.
        # An HTTPConnection, not a Request: the wall reads the address and cookies, never the body.
        wall = x.mw.insights.wall(HTTPConnection(x.scope), reader, kind, article, inline_form=not known.amp)
        x.reader = wall.reader
        cut = await self.cut_of(body, known, wall.cta_html, lambda decoded: self.cut(decoded, wall.cta_html))
        if cut is None:
            return
        if cut is REFUSED:
            await x.fail_closed("the page could not be cut safely", log=False)
            return
        await self.send_cut(cut, wall, amp=known.amp)

    async def send_crawler_view(self, body: bytes, known: Known, reader: Reader, article: str) -> None:
        """The whole article for a verified search crawler, marked and declared as the gated view is.

        Personal like a member's page (never kept by a shared cache), with ``noarchive``.
        """
        x = self.x
        view = await self.cut_of(body, known, _CRAWLER_VIEW, self.declare)
        if view is None:
            return
        if view is REFUSED:
            await x.fail_closed("the page could not be marked for a search crawler", log=False)
            return
        if x.method != "HEAD":
            x.mw.insights.crawler_view(article, reader.crawler or "")
        tags = b"" if known.amp or not x.protects(member=False) else x.tags_for(reader, cta=False)
        headers = without_headers(x.headers, b"content-type")
        headers = x.robots(_personal(headers, MEMBER_CACHE_CONTROL, rewritten=True))
        headers.append((b"content-type", f"{x.start.html_media}; charset=utf-8".encode()))
        await x.respond(x.start.status, headers, b"".join([view.head, tags, *view.rest]))

    def parsed(self, decoded: bytes) -> Page:
        """``decoded`` parsed as the engine reads a page at this address (counted: :attr:`GateCache.parses`)."""
        x = self.x
        x.mw.cache.parses += 1
        selector = x.mw.selectors_for(x.scope["path"])
        return Page.parse(decoded, x.start.charset, selector=selector, view=x.names_a_view)

    async def declare(self, decoded: bytes) -> Cut | Refused:
        """The whole page marked for a crawler (:meth:`Page.declare_full`), split where tags go; or :data:`REFUSED`."""
        settings, page = self.x.settings, self.page

        def work() -> tuple[bytes, frozenset[str]]:
            parsed = page or self.parsed(decoded)
            return parsed.declare_full(gated_class=settings.gated_class), frozenset()  # nothing is withheld

        return await self.made(decoded, work, "mark for a search crawler", lambda rest: (rest,))

    async def decode(self, body: bytes) -> bytes | None:
        """``body`` without its Content-Encoding, or None when it cannot be undone (then it has answered).

        A member then gets the body as the app sent it; anyone else the call to action.
        """
        if self.decoded is not None:
            return self.decoded
        if not self.x.start.encoded:  # most bodies: nothing to undo
            self.decoded = body
            return body
        encoding = joined_header(self.x.headers, b"content-encoding")
        try:
            self.decoded = decompress_body(body, encoding, self.x.settings.max_body_bytes)
        except Exception as exc:
            if self.x.reader is not None and self.x.reader.reads_in_full:
                await self.x.send_original(body, personal=True)
            elif isinstance(exc, BodyTooLarge):
                await self.x.fail_closed("decoded body larger than max_body_bytes")
            else:
                await self.x.fail_closed(f"cannot decode the body ({exc!r})")
        return self.decoded

    async def parse(self, decoded: bytes) -> tuple[Page | None, Verdict]:
        try:
            page: Page = await _offload(len(decoded), lambda: self.parsed(decoded))
            verdict: Verdict = "free" if page.declared_free() else "article" if page.has_article() else "no_article"
        except RewriteError as exc:
            logger.warning("paywall: cannot parse %s (%s)", self.x.scope["path"], exc)
            return None, "broken"
        return page, verdict

    async def cut(self, decoded: bytes, cta_html: str) -> Cut | Refused:
        """The page cut at its teaser and split for reuse, or :data:`REFUSED` when the engine refuses it."""
        settings, page = self.x.settings, self.page
        amp_css = self.x.mw.assets.text("cta.css")

        def work() -> tuple[bytes, frozenset[str]]:
            parsed = page or self.parsed(decoded)
            out = parsed.gate(
                teaser_paragraphs=settings.teaser_paragraphs,
                cta_html=cta_html,
                gated_class=settings.gated_class,
                amp_css=amp_css,
            )
            return out, parsed.withheld_numbers()

        return await self.made(decoded, work, "cut", self.x.mw.insights.split)

    async def made(
        self,
        decoded: bytes,
        work: Callable[[], tuple[bytes, frozenset[str]]],
        doing: str,
        split: Callable[[bytes], tuple[bytes, ...]],
    ) -> Cut | Refused:
        """What ``work`` makes of the page (off the event loop when large, with the numbers it withheld),
        split where the tags go and ``split`` says after that; :data:`REFUSED` when the engine refuses the page."""
        try:
            made, numbers = await _offload(len(decoded), work)
        except RewriteError as exc:
            logger.warning("paywall: cannot %s %s (%s)", doing, self.x.scope["path"], exc)
            return REFUSED
        at = insertion_point(made)
        digest = hashlib.blake2b(made, digest_size=20).digest()
        return Cut(made[:at], split(made[at:]), digest, withheld_numbers=numbers)

    async def send_cut(self, cut: Cut, wall: Wall, *, amp: bool = False) -> None:
        # An AMP page has the call to action's look in its own style element, and no tags.
        tags = b"" if amp else self.x.tags_for(wall.reader, cta=True, protect=self.x.protects(member=False))
        fills = wall.fills
        if cut.last is not None and cut.last[0] == tags and cut.last[1] == fills:
            body, etag = cut.last[2], cut.last[3]
        else:
            body = b"".join([cut.head, tags, wall.fill(cut.rest)])
            etag = hashlib.blake2b(b"\0".join([cut.digest, tags, *fills.values()]), digest_size=16).hexdigest()
            cut.last = (tags, fills, body, etag)
        wall.shown()
        app_headers, media = tuple(self.x.headers), self.x.start.html_media
        headers = list(_gated_headers(app_headers, media, etag, len(body), self.x.settings.noarchive))
        if self.x.client_etags and _etag_matches(f'"{ETAG_PREFIX}{etag}"', self.x.client_etags):
            await self.x.respond(304, _not_modified_headers(headers), b"")
            return
        await self.x.respond(self.x.start.status, headers, body, keep_length=True)

    async def end(self) -> None:
        if not self.x.answered:
            # The app returned without finishing its body: never send what we have.
            await self.x.fail_closed("the app ended the response early")


class _Format(_Buffered):
    """Buffers a feed, a JSON or a text body (up to ``max_body_bytes``) and sends what this reader may read of it.

    What is cut does not depend on the reader, so the body is judged first
    (:mod:`paywall.formats`): one that carries no article body goes out as the
    app made it, headers and all, and nobody is identified. Otherwise a member
    (for a feed, also a reader with a member's private feed key) gets it as
    made, privately; anyone else the cut version, or a refusal when it cannot
    be read or cut safely. A body larger than ``max_body_bytes`` goes to a
    member as made; to anyone else it is refused when it may carry articles
    (a feed, a compressed body, a body key in what arrived, an article path),
    else it streams on (:class:`_Guarded`).
    """

    def __init__(self, exchange: _Exchange) -> None:
        super().__init__(exchange)
        kind = exchange.start.kind
        self.kind: FormatKind = kind if kind in ("feed", "text", "rsc") else "json"
        self.started = False

    async def on_body(self, message: Message) -> None:
        x = self.x
        if not self.started:
            if x.reader is not None and x.reader.reads_in_full:
                # A member already (the app asked, or the site vouched): streamed as made.
                await x.pass_to_member(message.get("body", b""), bool(message.get("more_body", False)))
                return
            if (
                self.kind == "text"
                and message.get("more_body", False)
                and x.start.length is None  # a stream (a file says its length: it is read whole)
                and not x.start.encoded
                and not text_body.starts_prose(text_body.decoded(message.get("body", b""), x.start.charset))
            ):
                # Text that streams and does not start with prose (lines of a log, a stream of events) goes
                # on as made, and ends where a part of it reads as an article.
                guarded = _Guarded(x, self.kind)
                x.body = guarded
                await guarded.begin(message.get("body", b""), True)
                return
        self.started = True
        await super().on_body(message)

    async def failed(self, exc: Exception) -> None:
        logger.exception("paywall: judging the %s body of %s failed", self.kind, self.x.scope["path"], exc_info=exc)
        await self.refuse(f"judging failed ({exc.__class__.__name__})", log=False)

    async def judge(self, body: bytes) -> None:
        x = self.x
        try:
            decoded = decompress_body(body, joined_header(x.headers, b"content-encoding"), x.settings.max_body_bytes)
        except Exception as exc:
            await self.whole_or_refuse(body, f"cannot decode the body ({exc!r})")
            return
        formats, path = x.mw.formats, x.scope["path"]
        if self.kind == "rsc":
            # A non-member's router asking for an article's payload: refused, so that it loads the page
            # itself (Next.js does when the answer is no payload), and the page is gated as any page.
            if formats.worth_a_look("rsc", path, decoded):
                await self.whole_or_refuse(body, "", log=False)
            else:
                await x.send_original(body, personal=False)
            return
        cut: bytes | None = None
        if formats.worth_a_look(self.kind, path, decoded):
            origin = self.origin()
            try:
                gated = await _offload(
                    len(decoded),
                    lambda: formats.gate(self.kind, decoded, charset=x.start.charset, path=path, origin=origin),
                )
            except FormatError as exc:
                await self.whole_or_refuse(body, f"the {self.kind} body cannot be cut safely ({exc})")
                return
            cut = gated.body
        if cut is None:
            if x.start.directive == "members":
                await self.whole_or_refuse(body, "members-only answer without an article to cut", log=False)
            else:
                await x.send_original(body, personal=False)
            return
        if (await self.reader()).reads_in_full:
            await x.send_original(body, personal=True)
            return
        await self.send_cut(cut)

    async def reader(self) -> Reader:
        """Who reads: identified as for pages; for a feed, a member's private key counts too."""
        x = self.x
        reader = await x.get_reader()
        if reader.reads_in_full or self.kind != "feed":
            return reader
        keyed = await feed_reader(x.mw.runtime.credentials, x.mw.store, x.scope.get("query_string", b""))
        return keyed or reader

    def origin(self) -> str:
        """The site's origin for absolute links: ``public_url``, else the one the reader asked."""
        if self.x.settings.public_url:
            return self.x.settings.public_url.rstrip("/")
        url = Request(self.x.scope).url
        return f"{url.scheme}://{url.netloc}"

    async def send_cut(self, body: bytes) -> None:
        x = self.x
        media = x.start.media[0] if x.start.media is not None else "application/json"
        etag = f'"{ETAG_PREFIX}{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
        headers = _personal(without_headers(x.headers, b"content-type"), GATED_CACHE_CONTROL, rewritten=True)
        headers.append((b"content-type", f"{media}; charset=utf-8".encode()))
        headers.append((b"etag", etag.encode()))
        if _etag_matches(etag, x.client_etags):
            await x.respond(304, _not_modified_headers(headers), b"")
            return
        await x.respond(x.start.status, headers, body)

    async def whole_or_refuse(self, body: bytes, reason: str, *, log: bool = True) -> None:
        """The body as made for a member; a refusal for anyone else."""
        if (await self.reader()).reads_in_full:
            await self.x.send_original(body, personal=True)
        else:
            await self.refuse(reason, log=log)

    async def refuse(self, reason: str, *, log: bool = True) -> None:
        """A 403 with the call to action (a page for feeds, JSON for JSON); never the body, never a bare 500."""
        x = self.x
        if log:
            logger.warning("paywall: %s on %s; refused", reason, x.scope["path"])
        if x.answered:
            return
        body, content_type = refusal(x.settings, self.kind, await x.fallback_page())
        await x.respond(403, _personal([(b"content-type", content_type)], MEMBER_CACHE_CONTROL), body)

    async def too_large(self, held: bytes, more: bool) -> None:
        x = self.x
        if (await self.reader()).reads_in_full:
            await x.pass_to_member(held, more)
            return
        if (
            self.kind == "feed"
            or x.start.encoded
            or x.start.directive == "members"
            or x.mw.formats.worth_a_look(self.kind, x.scope["path"], held)
        ):
            x.body = _DISCARD
            await self.refuse(f"body larger than max_body_bytes ({x.settings.max_body_bytes})")
            return
        guarded = _Guarded(x, self.kind)
        x.body = guarded
        await guarded.begin(held, more)

    async def end(self) -> None:
        if not self.x.answered:  # the app returned without finishing its body: never send what we have
            await self.refuse("the app ended the response early")


class _Guarded(_Body):
    """A JSON or text body too large to judge whole, with no article in its first ``max_body_bytes`` (no body
    key, no prose): it streams (without a ``Content-Length``), and ends where one shows up, so no article follows."""

    def __init__(self, exchange: _Exchange, kind: FormatKind) -> None:
        self.x = exchange
        self.kind = kind
        self.tail = b""

    async def begin(self, held: bytes, more: bool) -> None:
        x = self.x
        x.answered = True
        headers = without_headers(x.headers, b"content-length")
        await x.send({**x.start_message, "headers": x.with_reader_cookies(headers)})
        self.tail = held[-256:]
        await x.send({"type": "http.response.body", "body": held, "more_body": more})

    async def on_body(self, message: Message) -> None:
        x = self.x
        chunk: bytes = message.get("body", b"")
        if x.mw.formats.shows_article(self.kind, self.tail + chunk):
            logger.warning("paywall: a large %s body showed an article on %s; cut short", self.kind, x.scope["path"])
            x.body = _DISCARD
            await x.send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        self.tail = (self.tail + chunk)[-256:]
        await x.send(message)


# ---------------------------------------------------------------------------
# helpers

#: How much of an untyped body is read before deciding whether it is HTML (WHATWG's "resource header").
TYPE_SNIFF_BYTES = 1445
_HTML_SIGNATURES = (
    b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<h1", b"<div", b"<font",
    b"<table", b"<a", b"<style", b"<title", b"<b", b"<br", b"<p", b"<!--", b"<article", b"<main", b"<meta",
)  # fmt: skip
_TAG_END = (b"", b" ", b">", b"\t", b"\n", b"\r", b"\x0c")
_XML_PROLOG = re.compile(rb"\s*(?:<\?xml[^>]*\?>|<!--.*?-->|<!doctype[^>]*>|<\?[^>]*\?>|\s+)*", re.DOTALL)


def sniffs_as_html(head: bytes, *, xml: bool = False) -> bool:
    """Whether a browser would render these first bytes as a page.

    Untyped bodies follow the HTML rows of WHATWG MIME sniffing; generic XML is a
    page when its root element (after the prolog) is ``<html>``.
    """
    text = head.removeprefix(b"\xef\xbb\xbf").lower()
    if xml or text.lstrip().startswith(b"<?xml"):
        rest = text[_XML_PROLOG.match(text).end() :]  # type: ignore[union-attr]
        return rest.startswith(b"<html") and rest[5:6] in _TAG_END
    text = text.lstrip(b" \t\r\n\x0c")
    return any(
        text.startswith(signature) and (signature == b"<!--" or text[len(signature) : len(signature) + 1] in _TAG_END)
        for signature in _HTML_SIGNATURES
    )


async def _offload(size: int, work: Callable[[], Any]) -> Any:
    """Run CPU-bound HTML work in a thread when the page is big enough to stall the loop."""
    if size < THREAD_THRESHOLD:
        return work()
    return await anyio.to_thread.run_sync(work)


def _scope_for_app(scope: Scope) -> tuple[Scope, list[str]]:
    """The scope the app sees (without our ETags, codings we cannot undo, zero-copy sends), and the client's ETags."""
    headers: RawHeaders = scope["headers"]
    # Names as servers give them, in lower case (ASGI); one made in C. A name sent twice is joined instead.
    named = dict(headers)
    inm, accept_encoding = named.get(b"if-none-match"), named.get(b"accept-encoding")
    if len(named) != len(headers) and (inm is not None or accept_encoding is not None):
        inm, accept_encoding = joined_header(headers, b"if-none-match"), joined_header(headers, b"accept-encoding")
    client_etags = _etag_list(inm) if inm is not None else []
    new = scope
    if inm is not None and ETAG_PREFIX.encode() in inm:
        kept = [tag for tag in client_etags if ETAG_PREFIX not in tag]
        headers = without_headers(headers, b"if-none-match")
        if kept:
            headers.append((b"if-none-match", ", ".join(kept).encode("latin-1")))
        new = {**scope, "headers": headers}
    narrowed = narrowed_accept_encoding(accept_encoding) if accept_encoding is not None else None
    if narrowed is not None and _may_be_html(scope["path"], headers):
        # Ask only for compressions we can undo, or a page could not be gated.
        headers = without_headers(headers, b"accept-encoding")
        headers.append((b"accept-encoding", narrowed))
        new = {**scope, "headers": headers}
    extensions = scope.get("extensions")
    if extensions and ("http.response.pathsend" in extensions or "http.response.zerocopysend" in extensions):
        # We must see every body byte of a candidate page.
        new = {**new, "extensions": {
            k: v for k, v in extensions.items() if k not in ("http.response.pathsend", "http.response.zerocopysend")
        }}  # fmt: skip
    return new, client_etags


_ASSET_SUFFIXES = (
    ".css", ".js", ".mjs", ".map", ".txt", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif",
    ".svg", ".ico", ".woff", ".woff2", ".ttf", ".otf", ".mp4", ".webm", ".mp3", ".pdf", ".zip",
)  # fmt: skip


def _may_be_html(path: str, headers: RawHeaders) -> bool:
    """Whether the request looks like one for a page, a feed or JSON (only to choose codings: a wrong guess fails
    closed)."""
    accept = (get_header(headers, b"accept") or b"").lower()
    if any(kind in accept for kind in (b"html", b"xml", b"json", b"rss", b"atom")):
        return True
    if path.lower().endswith(_ASSET_SUFFIXES):
        return False
    return accept.strip() in (b"", b"*/*")


def _empty_receive(receive: Receive) -> Receive:
    sent = False

    async def wrapped() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return wrapped


def _etag_list(value: bytes | None) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in value.decode("latin-1").split(",") if part.strip()]


def _etag_matches(etag: str, client: list[str]) -> bool:
    if not client:
        return False
    bare = etag.removeprefix("W/")
    return any(tag == "*" or tag.removeprefix("W/") == bare for tag in client)


def _personal(headers: RawHeaders, cache_control: bytes, *, rewritten: bool = False) -> RawHeaders:
    """``headers`` for an answer meant for this reader only, that no cache may share.

    The site's caching headers (:data:`CACHE_HEADERS`, CDN-specific ones included)
    give way to ``cache_control``, and ``Vary`` gains ``Cookie``; with ``rewritten``, the headers that describe
    the app's original body (:data:`_BODY_HEADERS`) go too.
    """
    drop = _PERSONAL_DROP_REWRITTEN if rewritten else _PERSONAL_DROP
    out: RawHeaders = []
    vary: list[bytes] = []
    for name, value in headers:
        lower = name.lower()
        if lower == b"vary":
            vary.append(value)
        elif lower not in drop:
            out.append((name, value))
    out.append((b"cache-control", cache_control))
    tokens = [t.strip() for v in vary for t in v.split(b",") if t.strip()]
    if not any(t.lower() == b"cookie" or t == b"*" for t in tokens):
        tokens.append(b"Cookie")
    out.append((b"vary", b", ".join(tokens)))
    return out


@functools.lru_cache(maxsize=256)
def _injected_headers(app: tuple[tuple[bytes, bytes], ...], added: int) -> tuple[Any, ...]:
    """The headers of a member's page made from the app's ``app`` headers with ``added`` bytes of tags
    (remembered: the pages members read are sent with the same ones again and again)."""
    headers = _personal(list(app), MEMBER_CACHE_CONTROL, rewritten=True)
    length = get_header(app, b"content-length")
    if length is not None and length.strip().isdigit():
        headers.append((b"content-length", str(int(length) + added).encode()))
    return tuple(headers)


@functools.lru_cache(maxsize=256)
def _gated_headers(
    app: tuple[tuple[bytes, bytes], ...], media: str, etag: str, length: int, noarchive: bool
) -> tuple[Any, ...]:
    """The headers of a gated page made from the app's ``app`` headers (remembered: a popular
    article's teaser is sent with the same ones again and again); ``noarchive``: with
    ``X-Robots-Tag: noarchive``."""
    headers = without_headers(list(app), b"content-type", b"content-length")
    headers = _personal(headers, GATED_CACHE_CONTROL, rewritten=True)
    if noarchive:
        headers = with_robots_rule(headers, b"noarchive")
    headers.append((b"content-type", f"{media}; charset=utf-8".encode()))
    headers.append((b"etag", f'"{ETAG_PREFIX}{etag}"'.encode()))
    headers.append((b"content-length", str(length).encode()))
    return tuple(headers)


_PERSONAL_DROP = frozenset(CACHE_HEADERS)
_PERSONAL_DROP_REWRITTEN = frozenset(CACHE_HEADERS + _BODY_HEADERS)


def _not_modified_headers(headers: RawHeaders) -> RawHeaders:
    keep = (b"etag", b"cache-control", b"vary", b"date", b"expires", b"content-location", *CACHE_HEADERS)
    return [(k, v) for k, v in headers if k.lower() in keep]


def _page_url(scope: Scope, public_url: str | None) -> str:
    if public_url:
        return public_url.rstrip("/") + path_with_query(scope)
    return str(Request(scope).url)


__all__ = ["PaywallMiddleware"]
