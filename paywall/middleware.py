"""``PaywallMiddleware``: a pure ASGI middleware that gates article HTML on the server.

Only responses that can be articles are touched: a successful page of
``text/html`` or ``application/xhtml+xml`` (or a body browsers would sniff as
one). Everything else (other types, errors, redirects, websockets, lifespan)
streams through unbuffered. A candidate page is buffered for non-members only,
because cutting needs the whole document; members' pages stream as the app made
them, with the protection tags injected by a byte search at the end of
``<head>`` (a compressed member page is decoded for that, and sent decoded).

The middleware works in one pass over the app's messages, except for two cases
where the app's answer cannot be used for a non-member and the request is
replayed as a plain ``GET``: a ``HEAD`` (so that HEAD agrees with the gated
GET) and a ``304``/``206`` given on the strength of the full version's
validators or to a ``Range`` request (a partial body would leak the article).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from typing import Any, Literal

import anyio.to_thread
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import httputil
from .access import Reader, article_key, consume_meter, identify
from .cache import BROKEN, GateCache, page_key
from .cta import CtaKind, fallback_page, render_cta
from .endpoints import Endpoints
from .engine import Page, encode_head_html, head_insertion_point, inject_head
from .errors import BodyTooLarge, RewriteError
from .insights import Insights
from .protect import Protection, csp_nonce
from .reader_state import STATE_KEY, ReaderState
from .settings import PaywallSettings, selector_rules
from .static import StaticFiles
from .store import Store, open_store

logger = logging.getLogger("paywall")

#: Bodies larger than this are cut in a worker thread, off the event loop.
THREAD_THRESHOLD = 256 * 1024
#: How much of a member's page may wait for the end of ``<head>``; past it the tags go first.
INJECT_LOOKAHEAD = 64 * 1024

_CONTROL_HEADERS = (b"x-paywall", b"x-paywall-access")
_CONDITIONAL_HEADERS = (b"if-none-match", b"if-modified-since", b"if-range", b"range", b"if-match")
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
    b"cache-control",
    b"expires",
)
#: ETags of gated pages start with this, so a cache never confuses them with the app's.
ETAG_PREFIX = "pw-"
GATED_CACHE_CONTROL = b"private, no-cache"
MEMBER_CACHE_CONTROL = b"private, no-store"

Directive = Literal["", "free", "members"]

#: A reader the upstream site vouched for with ``X-Paywall-Access: member``.
_UPSTREAM_MEMBER = Reader(level="member")
_ANONYMOUS = Reader(level="anonymous")


class PaywallMiddleware:
    """Wrap an ASGI app so that non-members receive articles cut at the teaser.

    >>> app = PaywallMiddleware(app, settings=PaywallSettings(secret_key="..."))
    """

    def __init__(self, app: ASGIApp, settings: PaywallSettings) -> None:
        self.app = app
        self.settings = settings
        self.store: Store = open_store(settings.store)
        self.static = StaticFiles(settings.prefix)
        self.protection = Protection(settings, self.static)
        self.cache = GateCache(settings.gate_cache_bytes)
        self.selector_rules = selector_rules(settings.article_selector)
        self.insights = Insights(settings, self.store)
        self.endpoints = Endpoints(settings, self.store, static=self.static, insights=self.insights)
        self._own_prefix = settings.prefix + "/"

    def selectors_for(self, path: str) -> list[str]:
        """The configured article selectors that apply to ``path``, in order (detection runs after them)."""
        normal = httputil.normalize_path(path)
        return [
            sel for pattern, sel in self.selector_rules if pattern is None or httputil.match_path(normal, [pattern])
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(self._own_prefix) or path == self.settings.prefix:
            await self.endpoints(scope, receive, send)
            return
        # A path the app (or an upstream) may resolve to another one ("/free/../story",
        # "/free/..;/story") is never excluded: it is judged like any page.
        if not httputil.has_dot_segment(path) and httputil.match_path(path, self.settings.exclude_paths):
            await self.app(scope, receive, _strip_control_headers(send))
            return
        await _Exchange(self, scope, receive, send).run()

    def _lifespan_receive(self, receive: Receive) -> Receive:
        """Close the store's connections when the server shuts down."""

        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                try:
                    await self.insights.aclose()
                    await self.store.aclose()
                except Exception:  # closing must never block shutdown
                    logger.exception("paywall: closing the store failed")
            return message

        return wrapped


def _strip_control_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": httputil.without_headers(message.get("headers", []), *_CONTROL_HEADERS)}
        await send(message)

    return wrapped


class _Exchange:
    """One request/response through the middleware; holds the per-request state."""

    def __init__(self, middleware: PaywallMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        self.mw = middleware
        self.settings = middleware.settings
        self.send = send
        self.receive = receive
        self.original_scope = scope
        request_headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        self.client_etags = _etag_list(httputil.get_header(request_headers, b"if-none-match"))
        self.method: str = scope["method"]
        # A 304 usually carries no Content-Type: judge by what was asked for.
        self.may_be_html = _may_be_html(scope["path"], request_headers)
        # The app never sees our own validators: a teaser ETag must not
        # make the app answer 304 for the full version.
        self.scope = _app_scope(scope, request_headers, may_be_html=self.may_be_html)
        self.app_scope: Scope = self.scope
        # The app may ask who the reader is (``request.state.paywall``); the gate asks the same object.
        self.view = ReaderState(self._identify, self.settings, middleware.store)
        self.scope.setdefault("state", {})[STATE_KEY] = self.view
        self.reader: Reader | None = None
        """The reader as the response knows them (with the call to action's variant cookie), once decided."""
        self.replaying = False
        self.replay_wanted = False
        # response state
        self.mode: Literal["start", "sniff", "inject", "pass", "buffer", "discard"] = "start"
        self.status = 200
        self.headers: list[tuple[bytes, bytes]] = []
        self.directive: Directive = ""
        self.upstream_member = False
        self.chunks: list[bytes] = []
        self.size = 0
        self.answered = False
        self.sniffed_start: Message = {}
        self.sniff_kind: str = "html"
        self.html: tuple[str, str | None] | None = None
        self.insert = b""

    # ------------------------------------------------------------------ flow
    async def run(self) -> None:
        # Routers and inner middleware change the scope they are given (a Mount sets
        # root_path, sessions add "session"): the app gets a copy, and a replay starts
        # from the untouched one.
        self.app_scope = dict(self.scope)
        await self.mw.app(self.app_scope, self.receive, self.on_message)
        if self.replay_wanted:
            self.replaying = True
            self.mode = "start"
            self.chunks, self.size = [], 0
            self.app_scope = dict(self.scope)
            self.app_scope["method"] = "GET"
            self.app_scope["headers"] = httputil.without_headers(self.scope["headers"], *_CONDITIONAL_HEADERS)
            await self.mw.app(self.app_scope, _empty_receive(self.receive), self.on_message)
        end = {"type": "http.response.body", "body": b"", "more_body": False}
        if self.mode == "sniff":  # the app sent an untyped start and no body at all
            await self._sniff(end)
        if self.mode == "inject":  # a member's page ended before its head did
            await self._inject(end)
        if self.mode == "buffer" and not self.answered:
            # The app returned without finishing its body: never send what we have.
            await self._fail_closed("the app ended the response early")

    async def on_message(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            await self._on_start(message)
        elif kind == "http.response.body":
            await self._on_body(message)
        elif self.mode == "pass":
            await self.send(message)

    async def _on_start(self, message: Message) -> None:
        self.status = int(message["status"])
        raw = list(message.get("headers", []))
        directive = (httputil.get_header(raw, b"x-paywall") or b"").decode("latin-1").strip().lower()
        self.directive = directive if directive in ("free", "members") else ""  # type: ignore[assignment]
        access = (httputil.get_header(raw, b"x-paywall-access") or b"").decode("latin-1").strip().lower()
        self.upstream_member = access == "member"
        self.headers = httputil.without_headers(raw, *_CONTROL_HEADERS)
        content_type = httputil.get_header(self.headers, b"content-type")
        self.html = httputil.html_type(self.headers)

        if self.directive == "free":
            await self._start_pass(message, members_copy=False)
            return
        if not self.replaying and self.method in ("GET", "HEAD") and self._needs_replay(content_type):
            reader = await self._reader()
            if not reader.is_member or (self.method == "HEAD" and self._protect(reader, article=True)):
                self.replay_wanted = True
                self.mode = "discard"
                return
        sniff = _sniffing(content_type) if self.html is None else None
        if sniff is not None and _gateable(self.status) and self.method != "HEAD":
            # A type browsers do not trust (or none at all): they sniff the body, so we do too.
            self.sniffed_start = message
            self.sniff_kind = sniff
            self.mode = "sniff"
            return
        await self._decide(message, is_html=self.html is not None)

    async def _decide(self, message: Message, *, is_html: bool) -> None:
        if not _gateable(self.status) or not is_html:
            await self._start_pass(message, members_copy=False)
            return
        reader = await self._reader()
        if reader.is_member:
            self.mw.insights.member_view(self.original_scope, reader)
            if not self._protect(reader, article=True):
                await self._start_pass(message, members_copy=True)
                return
            if httputil.joined_header(self.headers, b"content-encoding") is None:
                # Members' pages keep streaming: only the bytes up to the end of <head> wait.
                self.insert = encode_head_html(self._head_html(reader, csp_nonce(self.headers)))
                self.mode = "inject"
                return
        self.mode = "buffer"

    async def _inject(self, message: Message) -> None:
        """Stream a member's page, adding the protection tags where ``<head>`` ends."""
        self.chunks.append(message.get("body", b""))
        more = bool(message.get("more_body", False))
        prefix = b"".join(self.chunks)
        at = head_insertion_point(prefix)
        if at is None and more and len(prefix) < INJECT_LOOKAHEAD:
            return
        self.chunks = []
        length = httputil.get_header(self.headers, b"content-length")
        headers = httputil.without_headers(self.headers, *_BODY_HEADERS)
        if length is not None and length.strip().isdigit():
            headers.append((b"content-length", str(int(length) + len(self.insert)).encode()))
        headers.append((b"cache-control", MEMBER_CACHE_CONTROL))
        headers = self._with_reader_cookies(_with_vary_cookie(headers))
        await self.send({"type": "http.response.start", "status": self.status, "headers": headers})
        self.answered = True
        self.mode = "pass"
        at = 0 if at is None else at
        await self._on_body(
            {"type": "http.response.body", "body": prefix[:at] + self.insert + prefix[at:], "more_body": more}
        )

    async def _sniff(self, message: Message) -> None:
        """Collect the first bytes of an untyped body, then decide as if it had been typed."""
        self.chunks.append(message.get("body", b""))
        more = bool(message.get("more_body", False))
        head = b"".join(self.chunks)
        if more and len(head) < TYPE_SNIFF_BYTES:
            return
        self.chunks, self.size = [], 0
        await self._decide(self.sniffed_start, is_html=sniffs_as_html(head, xml=self.sniff_kind == "xml"))
        await self._on_body({"type": "http.response.body", "body": head, "more_body": more})

    def _needs_replay(self, content_type: bytes | None) -> bool:
        if self.method == "HEAD":
            return _gateable(self.status) and (self.html is not None or _sniffing(content_type) is not None)
        if self.status in (206, 304):
            # A 304 usually has no type; a multi-range 206 is multipart/byteranges of the page.
            media = httputil.parse_content_type(content_type)[0]
            unknown = content_type is None or media == "multipart/byteranges" or _sniffing(content_type) is not None
            return self.html is not None or (unknown and self.may_be_html)
        return False

    async def _on_body(self, message: Message) -> None:
        if self.mode == "pass":
            if self.replaying and self.method == "HEAD":
                message = {**message, "body": b""}
            await self.send(message)
            return
        if self.mode == "sniff":
            await self._sniff(message)
            return
        if self.mode == "inject":
            await self._inject(message)
            return
        if self.mode != "buffer":
            return
        chunk: bytes = message.get("body", b"")
        self.size += len(chunk)
        if self.size > self.settings.max_body_bytes:
            reader = await self._reader()
            if reader.is_member:
                # Too large to inject into: a member may have it as the app made it.
                await self._stream_buffered_to_member(message)
                return
            self.mode = "discard"
            self.chunks = []
            await self._fail_closed(f"body larger than max_body_bytes ({self.settings.max_body_bytes})")
            return
        self.chunks.append(chunk)
        if not message.get("more_body", False):
            self.mode = "discard"
            body = b"".join(self.chunks)
            self.chunks = []
            await self._complete(body)

    # ------------------------------------------------------------- decisions
    async def _reader(self) -> Reader:
        """Who is reading; identified once per request, whether the app or the gate asks first."""
        return _UPSTREAM_MEMBER if self.upstream_member else await self.view.reader()

    async def _identify(self) -> Reader:
        # The app's scope, so that a resolver sees what inner middleware
        # added to it (``request.session``, ``request.user``).
        try:
            return await identify(Request(self.app_scope), self.settings, self.mw.store)
        except Exception:  # a bug must not turn into a 500 or an open door
            logger.exception("paywall: identifying the reader of %s failed", self.original_scope["path"])
            return _ANONYMOUS

    def _protect(self, reader: Reader, *, article: bool) -> bool:
        path = httputil.normalize_path(self.original_scope["path"])
        if not self.mw.protection.applies(path, is_member=reader.is_member):
            return False
        return article or httputil.match_path(path, self.settings.protect_paths)

    async def _complete(self, body: bytes) -> None:
        reader = await self._reader()
        try:
            decoded = httputil.decompress_body(
                body, httputil.joined_header(self.headers, b"content-encoding"), self.settings.max_body_bytes
            )
        except BodyTooLarge:
            await self._fail_closed("decoded body larger than max_body_bytes", reader=reader)
            return
        except Exception as exc:
            if reader.is_member:
                await self._send_original(body, members_copy=True)
                return
            await self._fail_closed(f"cannot decode the body ({exc!r})", reader=reader)
            return

        if reader.is_member:
            await self._send_whole(decoded, reader)
            return
        try:
            await self._gate(body, decoded, reader)
        except Exception as exc:  # fail closed on anything, including our own bugs
            if not self.answered:
                logger.exception("paywall: gating %s failed", self.original_scope["path"])
                await self._fail_closed(f"gating failed ({exc.__class__.__name__})", reader=reader, log=False)
            else:
                raise

    async def _gate(self, body: bytes, decoded: bytes, reader: Reader) -> None:
        charset = self.html[1] if self.html else None
        path = self.original_scope["path"]
        cache = self.mw.cache
        key = page_key(decoded, charset)
        page: Page | None = None
        verdict = cache.verdict(key)
        if verdict is None:
            try:
                selectors = self.mw.selectors_for(path)
                page = await _offload(len(decoded), lambda: Page.parse(decoded, charset, selector=selectors))
                verdict = "free" if page.declared_free() else "article" if page.has_article() else "no_article"
            except RewriteError as exc:
                logger.warning("paywall: cannot parse %s (%s)", path, exc)
                verdict = "broken"
            cache.put_verdict(key, verdict)
        if verdict == "broken":
            await self._fail_closed("the page could not be parsed", reader=reader, log=False)
            return
        if verdict == "free" and self.directive != "members":
            await self._send_original(body, members_copy=False)
            return
        if verdict == "no_article" and httputil.match_path(httputil.normalize_path(path), self.settings.article_paths):
            logger.warning("paywall: no article found in %s, where articles live: call to action alone", path)
            await self._fail_closed("no article found on an article path", reader=reader, log=False)
            return
        if verdict in ("free", "no_article"):
            if verdict == "no_article":
                logger.debug("paywall: no article found in %s; served whole", path)
            if self.directive == "members":
                await self._fail_closed("members-only page without an article to cut", reader=reader, log=False)
            elif self._protect(reader, article=False):
                await self._send_whole(decoded, reader, cache_control=GATED_CACHE_CONTROL)
            else:
                await self._send_original(body, members_copy=False)
            return

        kind: CtaKind = "ended" if reader.trial_ended else "offer"
        article = article_key(self.original_scope, decoded)
        if self.settings.free_articles and not reader.trial_ended and self.directive != "members":
            meter = await consume_meter(reader, Request(self.app_scope), self.settings, self.mw.store, article)
            if meter is not None and meter.allowed:
                self.mw.insights.metered_view(self.original_scope, article)
                await self._send_whole(decoded, reader.with_meter(meter))
                return
            if meter is not None and not meter.ip_capped:
                kind = "metered"
        # The cut is cached per page and call to action (kind and variant), not per URL: what
        # belongs to one reader (the link back to the page, the form's token) are placeholders.
        wall = self.mw.insights.wall(Request(self.original_scope), reader, kind, article)
        self.reader = reader = wall.reader
        cta_html = wall.cta_html
        gated = cache.gated(key, cta_html)
        if gated is None:
            gated = await self._cut(page, decoded, charset, cta_html)
            cache.put_gated(key, cta_html, gated)
        if gated == BROKEN:
            await self._fail_closed("the page could not be cut safely", reader=reader, log=False)
            return
        gated = wall.serve(gated)
        nonce = csp_nonce(self.headers)
        head = self.mw.static.cta_stylesheet(nonce=nonce)
        if self._protect(reader, article=True):
            head += self._head_html(reader, nonce)
        await self._send_gated(inject_head(gated, head), reader)

    async def _cut(self, page: Page | None, decoded: bytes, charset: str | None, cta_html: str) -> bytes:
        """The page cut at its teaser, or :data:`BROKEN` when the engine refuses it."""
        settings = self.settings

        def work() -> bytes:
            parsed = page or Page.parse(decoded, charset, selector=self.mw.selectors_for(self.original_scope["path"]))
            return parsed.gate(teaser_paragraphs=settings.teaser_paragraphs, cta_html=cta_html)

        try:
            gated: bytes = await _offload(len(decoded), work)
        except RewriteError as exc:
            logger.warning("paywall: cannot cut %s (%s)", self.original_scope["path"], exc)
            return BROKEN
        return gated

    def _head_html(self, reader: Reader, nonce: str | None) -> str:
        return self.mw.protection.head_html(
            nonce=nonce,
            subject=reader.subject,
            page_url=_page_url(self.original_scope, self.settings.public_url),
        )

    # ---------------------------------------------------------------- output
    async def _start_pass(self, message: Message, *, members_copy: bool) -> None:
        """Send the app's response as it is, streaming, with our control headers removed."""
        self.mode = "pass"
        headers = self.headers
        if members_copy:
            headers = _with_cache_headers(headers, MEMBER_CACHE_CONTROL)
        headers = self._with_reader_cookies(headers)
        await self.send({**message, "headers": headers})

    async def _stream_buffered_to_member(self, message: Message) -> None:
        """Switch a member's oversized page from buffering to streaming, untouched."""
        headers = self._with_reader_cookies(_with_cache_headers(self.headers, MEMBER_CACHE_CONTROL))
        await self.send({"type": "http.response.start", "status": self.status, "headers": headers})
        self.answered = True
        self.mode = "pass"
        buffered, self.chunks = b"".join(self.chunks), []
        await self._on_body({"type": "http.response.body", "body": buffered, "more_body": True})
        await self._on_body(message)

    async def _send_original(self, body: bytes, *, members_copy: bool) -> None:
        headers = self.headers
        if members_copy:
            headers = _with_cache_headers(headers, MEMBER_CACHE_CONTROL)
        etag = httputil.get_header(headers, b"etag")
        if self.replaying and etag is not None and _etag_matches(etag.decode("latin-1"), self.client_etags):
            await self._respond(304, _not_modified_headers(headers), b"")
            return
        await self._respond(self.status, headers, body, keep_length=True)

    async def _send_whole(self, decoded: bytes, reader: Reader, *, cache_control: bytes = MEMBER_CACHE_CONTROL) -> None:
        """The whole page (a member's, a metered read, a protected page without article), tags added without a parse."""
        body = decoded
        if self._protect(reader, article=True):
            body = inject_head(decoded, self._head_html(reader, csp_nonce(self.headers)))
        headers = httputil.without_headers(self.headers, *_BODY_HEADERS)
        headers.append((b"cache-control", cache_control))
        await self._respond(self.status, _with_vary_cookie(headers), body)

    async def _send_gated(self, body: bytes, reader: Reader) -> None:
        headers = httputil.without_headers(self.headers, *_BODY_HEADERS, b"content-type")
        media = self.html[0] if self.html else "text/html"
        headers.append((b"content-type", f"{media}; charset=utf-8".encode()))
        headers.append((b"cache-control", GATED_CACHE_CONTROL))
        etag = f'"{ETAG_PREFIX}{hashlib.sha256(body).hexdigest()[:32]}"'
        headers.append((b"etag", etag.encode()))
        headers = _with_vary_cookie(headers)
        if _etag_matches(etag, self.client_etags):
            await self._respond(304, _not_modified_headers(headers), b"")
            return
        await self._respond(self.status, headers, body)

    async def _fail_closed(self, reason: str, *, reader: Reader | None = None, log: bool = True) -> None:
        """The call to action in a page of its own; never the article, never a bare 500."""
        if log:
            logger.warning("paywall: %s on %s; served the call to action instead", reason, self.original_scope["path"])
        if self.answered:
            return
        reader = reader or await self._reader()
        kind: CtaKind = "ended" if reader.trial_ended else "offer"
        cta_html = render_cta(self.settings, kind, _path_with_query(self.original_scope))
        body = fallback_page(self.settings, cta_html, head_html=self.mw.static.cta_stylesheet())
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"cache-control", MEMBER_CACHE_CONTROL),
        ]
        await self._respond(200, _with_vary_cookie(headers), body)

    async def _respond(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, *, keep_length: bool = False
    ) -> None:
        self.answered = True
        self.mode = "discard"
        if not keep_length:
            headers = httputil.without_headers(headers, b"content-length")
            if status != 304:
                headers.append((b"content-length", str(len(body)).encode()))
        headers = self._with_reader_cookies(headers)
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        send_body = self.method != "HEAD" and status != 304
        await self.send({"type": "http.response.body", "body": body if send_body else b"", "more_body": False})

    def _with_reader_cookies(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        reader = self.reader or self.view.known
        if reader is None or not reader.set_cookies:
            return headers
        return [*headers, *((b"set-cookie", c.encode("latin-1")) for c in reader.set_cookies)]


# ---------------------------------------------------------------------------
# helpers

#: How much of an untyped body is read before deciding whether it is HTML (WHATWG's "resource header").
TYPE_SNIFF_BYTES = 1445
_HTML_SIGNATURES = (
    b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<h1", b"<div", b"<font",
    b"<table", b"<a", b"<style", b"<title", b"<b", b"<br", b"<p", b"<!--", b"<article", b"<main", b"<meta",
)  # fmt: skip
_TAG_END = (b"", b" ", b">", b"\t", b"\n", b"\r", b"\x0c")
#: Types browsers do not take at their word: they sniff the body.
_UNTRUSTED_TYPES = frozenset({"", "unknown/unknown", "application/unknown", "*/*"})
#: Generic XML types, which browsers render as a page when the root is XHTML's <html>.
_XML_TYPES = frozenset({"text/xml", "application/xml"})
_XML_PROLOG = re.compile(rb"\s*(?:<\?xml[^>]*\?>|<!--.*?-->|<!doctype[^>]*>|<\?[^>]*\?>|\s+)*", re.DOTALL)


def _gateable(status: int) -> bool:
    """A success with a body a browser shows as the page (not 204, 205 or a 206 part)."""
    return 200 <= status < 300 and status not in (204, 205, 206)


def _sniffing(content_type: bytes | None) -> str | None:
    """``"html"`` or ``"xml"`` when the body must be sniffed to know whether it is a page, else None."""
    if content_type is None:
        return "html"
    media = httputil.parse_content_type(content_type)[0]
    if media in _UNTRUSTED_TYPES:
        return "html"
    if media in _XML_TYPES:
        return "xml"
    return None


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


def _app_scope(scope: Scope, headers: list[tuple[bytes, bytes]], *, may_be_html: bool) -> Scope:
    new = dict(scope)
    inm = httputil.get_header(headers, b"if-none-match")
    if inm is not None:
        kept = [tag for tag in _etag_list(inm) if ETAG_PREFIX not in tag]
        headers = httputil.without_headers(headers, b"if-none-match")
        if kept:
            headers.append((b"if-none-match", ", ".join(kept).encode("latin-1")))
        new["headers"] = headers
    accept_encoding = httputil.joined_header(headers, b"accept-encoding")
    if may_be_html and accept_encoding is not None:
        # Ask only for compressions we can undo, or the page could not be gated.
        narrowed = httputil.decodable_accept_encoding(accept_encoding)
        if narrowed != accept_encoding:
            headers = httputil.without_headers(headers, b"accept-encoding")
            headers.append((b"accept-encoding", narrowed))
            new["headers"] = headers
    extensions = scope.get("extensions")
    if extensions and ("http.response.pathsend" in extensions or "http.response.zerocopysend" in extensions):
        # We must see every body byte of a candidate page.
        new["extensions"] = {
            k: v for k, v in extensions.items() if k not in ("http.response.pathsend", "http.response.zerocopysend")
        }
    return new


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


_ASSET_SUFFIXES = (
    ".css", ".js", ".mjs", ".map", ".json", ".xml", ".txt", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif",
    ".svg", ".ico", ".woff", ".woff2", ".ttf", ".otf", ".mp4", ".webm", ".mp3", ".pdf", ".zip",
)  # fmt: skip


def _may_be_html(path: str, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a response to this request could be an HTML page (fail closed when unsure)."""
    accept = (httputil.get_header(headers, b"accept") or b"").lower()
    if b"text/html" in accept or b"application/xhtml+xml" in accept:
        return True
    if path.lower().endswith(_ASSET_SUFFIXES):
        return False
    return accept.strip() in (b"", b"*/*")


def _with_vary_cookie(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    vary = [v.decode("latin-1") for k, v in headers if k.lower() == b"vary"]
    tokens = [t.strip() for v in vary for t in v.split(",") if t.strip()]
    if any(t.lower() == "cookie" for t in tokens) or "*" in tokens:
        return headers
    tokens.append("Cookie")
    out = httputil.without_headers(headers, b"vary")
    out.append((b"vary", ", ".join(tokens).encode("latin-1")))
    return out


def _with_cache_headers(headers: list[tuple[bytes, bytes]], cache_control: bytes) -> list[tuple[bytes, bytes]]:
    out = httputil.without_headers(headers, b"cache-control", b"expires")
    out.append((b"cache-control", cache_control))
    return _with_vary_cookie(out)


def _not_modified_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    keep = (b"etag", b"cache-control", b"vary", b"date", b"expires", b"content-location")
    return [(k, v) for k, v in headers if k.lower() in keep]


def _path_with_query(scope: Scope) -> str:
    path: str = scope["path"]
    query: bytes = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def _page_url(scope: Scope, public_url: str | None) -> str:
    if public_url:
        return public_url.rstrip("/") + _path_with_query(scope)
    return str(Request(scope).url)


__all__ = ["PaywallMiddleware"]
