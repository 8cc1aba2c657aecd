"""Reverse proxy: put the paywall in front of any HTTP site.

:class:`ProxyApp` is a plain ASGI app that forwards every request to one
upstream origin and streams the answer back. Wrapped in
:class:`~paywall.http.middleware.PaywallMiddleware` it lets a publisher who runs
WordPress, Drupal or a static site generator gate articles without writing
Python.

What it guarantees, and why:

* **Bodies stream both ways** in bounded memory: the request body is read from
  ``receive`` chunk by chunk while it is sent upstream, and the response is sent
  on with :meth:`httpx.Response.aiter_raw`, so uploads and downloads of any size
  never sit whole in memory and bytes (compressed or not) pass unchanged.
* **Redirects are passed on, never followed**; a ``Location`` that points at
  the upstream origin is rewritten to the origin the reader used, so readers
  never leave the proxy.
* **Headers**: hop-by-hop headers (``Connection`` and the names it lists,
  ``Keep-Alive``, ``Proxy-*``, ``TE``, ``Trailer``, ``Transfer-Encoding``,
  ``Upgrade``) are dropped both ways. Every ``Set-Cookie`` is kept; a
  ``Domain`` attribute naming the upstream host is dropped so the cookie
  belongs to the proxy's host.
* **Host**: the upstream receives its own host name in ``Host`` (what a
  virtual-hosted upstream routes on, and what the operator named in
  ``--upstream``); the host the reader asked for travels in
  ``X-Forwarded-Host``, the scheme in ``X-Forwarded-Proto`` and the address
  chain in ``X-Forwarded-For``.
* **The public origin** (for ``X-Forwarded-Host``/``-Proto`` and rewritten
  ``Location`` headers) is ``settings.public_url`` when set, otherwise what the
  reader (or a trusted proxy in front) asked for.
* **Forwarding headers are trusted only from trusted proxies**: when the
  connecting peer is not in ``settings.trusted_proxies``, every header a proxy
  in front would set (any ``X-Forwarded-*``, ``Forwarded``, ``X-Real-IP``,
  ``True-Client-IP`` and kin, ``X-Original-URL``/``X-Rewrite-URL``, ``X-Host``
  and ``X-Original-Host``; names compared with ``_`` read as ``-``, as CGI-style
  upstreams do) is dropped and replaced by what the proxy itself saw; otherwise
  the chain is extended. ``X-HTTP-Method-Override`` is the site's own feature and
  passes: the paywall judges responses, whatever the method.
* **The upstream gets the path the paywall judged**, or nothing: the path the
  middleware saw (``scope["path"]``) is the one forwarded, as the reader's own
  bytes (``raw_path``) when they decode to it, else re-encoded from it. A path
  with ``.`` or ``..`` segments (also percent-encoded, or split by ``\\`` or
  ``;`` as some servers read them) would be resolved to another page on the way
  (by httpx or by the upstream), so it is answered with a 400 page and never
  forwarded; so is a target that is not a path (``OPTIONS *``, or the
  absolute-form ``GET http://host/p``: the paywall judged the whole URL, so even
  its path is not what was judged).
* **Request bodies are framed once**: with ``Transfer-Encoding`` the client's
  ``Content-Length`` is not forwarded (RFC 9112 section 6.3; the server has
  de-chunked the body and it goes on chunked); a forwarded ``Content-Length``
  is enforced, and a body that does not match it gets a 400 page without a
  byte more reaching the upstream.
* **Failures are clear pages**: an upstream that cannot be reached gets a 502
  page, one that does not answer within ``upstream_timeout`` a 504, and a
  connection pool that stays full (``upstream_max_connections``) a 503.
* **WebSockets are not proxied**: a websocket connection is refused politely
  (HTTP 403 from the server, close code 1000); pages that need them should be
  served around the proxy.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import logging
from collections.abc import AsyncIterator, Iterable, MutableMapping
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

import anyio
import httpx
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse

from ..access.network import is_trusted, peer_address
from ..pages.templates import render_message
from ..paths import has_dot_segment
from ..settings import PaywallSettings
from .headers import RawHeaders

logger = logging.getLogger("paywall.http.proxy")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

#: Headers that describe one connection, not the message (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
#: Request headers that only a trusted proxy may set; from anyone else they are dropped,
#: as is every ``X-Forwarded-*`` header (:data:`FORWARDING_PREFIXES`).
FORWARDING_HEADERS = frozenset(
    {
        b"forwarded",
        b"x-forwarded",
        b"forwarded-for",
        b"x-real-ip",
        b"true-client-ip",
        b"x-client-ip",
        b"x-cluster-client-ip",
        b"client-ip",
        b"cf-connecting-ip",
        b"fastly-client-ip",
        b"x-original-forwarded-for",
        b"x-original-url",
        b"x-original-uri",
        b"x-rewrite-url",
        b"x-original-host",
        b"x-host",
    }
)
FORWARDING_PREFIXES = (b"x-forwarded-",)
#: Forwarding headers the proxy rebuilds itself, whoever the peer is.
_REBUILT_REQUEST_HEADERS = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"})
#: Request headers the proxy sets itself. ``Expect`` is answered by the server in front
#: of this app (100-continue), so forwarding it would make the upstream wait for nothing.
_REPLACED_REQUEST_HEADERS = frozenset({b"host", b"expect", b"content-length"})
_URL_SAFE = frozenset(range(0x21, 0x7F))
#: Characters left as they are when the judged path has to be re-encoded (RFC 3986 pchar and ``/``).
_PATH_SAFE = "/:@!$&'()*+,;="


class _NoCookies(http.cookiejar.CookieJar):
    """A jar that never stores anything.

    One client serves every reader, so a cookie remembered from one reader's
    response must never be sent with another reader's request.
    """

    def __init__(self) -> None:
        super().__init__(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


class _BadRequest(Exception):
    """The request cannot be forwarded as the paywall judged it: answered with a 400 page."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


class ProxyApp:
    """ASGI app forwarding every HTTP request to ``upstream`` (``http(s)://host[:port][/base]``).

    One shared :class:`httpx.AsyncClient` (with a connection pool bounded by
    ``settings.upstream_max_connections``) is created on lifespan start-up or at
    the first request, and closed on lifespan shutdown or :meth:`aclose`.
    ``transport`` lets callers swap the network layer (for instance an
    ``httpx.ASGITransport``).
    """

    def __init__(
        self, upstream: str, settings: PaywallSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http:// or https:// URL with a host, got {upstream!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"upstream must not have a query or fragment, got {upstream!r}")
        self.upstream = upstream
        self.settings = settings
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")
        self._netloc = httpx.URL(upstream).netloc  # host[:port], default port omitted
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        public = urlsplit(settings.public_url) if settings.public_url else None
        self._public = (public.scheme, public.netloc) if public is not None else None

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            # Refuse before accepting: the server answers the handshake with 403.
            await send({"type": "websocket.close", "code": 1000, "reason": "websockets are not proxied"})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._get_client()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            s = self.settings
            limit = s.upstream_max_connections
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(s.upstream_timeout, connect=s.upstream_connect_timeout),
                limits=httpx.Limits(max_connections=limit, max_keepalive_connections=min(limit, 20)),
                follow_redirects=False,
                trust_env=False,  # never route the upstream through HTTP_PROXY and friends
                cookies=_NoCookies(),
                transport=self._transport,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the shared client and its connections (idempotent)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # ------------------------------------------------------------------ HTTP
    async def _http(self, scope: Scope, receive: Any, send: Any) -> None:
        client = self._get_client()
        try:
            request = self._build_request(scope, receive)
            response = await client.send(request, stream=True)
        except ClientDisconnect:
            return
        except _BadRequest as exc:
            logger.info("refused %s %r: %s", scope.get("method"), scope.get("path"), exc.reason)
            await self._error_page(scope, send, 400, "Bad request", exc.message)
            return
        except httpx.InvalidURL as exc:  # not expected once the path is checked; never a 500
            logger.info("refused %s %r: %r", scope.get("method"), scope.get("path"), exc)
            await self._error_page(scope, send, 400, "Bad request", "This address cannot be served.")
            return
        except httpx.PoolTimeout:
            logger.warning("upstream %s: connection pool full for %s", self.upstream, scope["path"])
            await self._error_page(
                scope, send, 503, "Service busy", "The site is busy right now. Please try again shortly."
            )
            return
        except httpx.TimeoutException as exc:
            logger.warning("upstream %s timed out for %s: %r", self.upstream, scope["path"], exc)
            await self._error_page(
                scope, send, 504, "Gateway timeout", "The site took too long to answer. Please try again."
            )
            return
        except httpx.HTTPError as exc:
            logger.warning("upstream %s unreachable for %s: %r", self.upstream, scope["path"], exc)
            await self._error_page(
                scope, send, 502, "Bad gateway", "The site cannot be reached right now. Please try again in a moment."
            )
            return
        except Exception:
            # A protocol error the transport does not map to httpx's errors (h11's
            # LocalProtocolError while the request body is written, for one): the
            # request did not go through, and the reader gets a page, not a 500.
            logger.exception("upstream %s: request for %s failed", self.upstream, scope["path"])
            await self._error_page(
                scope, send, 502, "Bad gateway", "The site cannot be reached right now. Please try again in a moment."
            )
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": self._response_headers(scope, response.headers.raw),
                }
            )
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b""})
                return
            if not await self._stream_body(scope, receive, send, response):
                return
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    async def _stream_body(self, scope: Scope, receive: Any, send: Any, response: httpx.Response) -> bool:
        """Relay the body chunk by chunk; False when it could not be completed.

        A reader who goes away stops the transfer from the upstream at once (a
        watcher waits for ``http.disconnect``), so an abandoned large download
        does not keep a pooled connection busy. When the upstream fails after the
        status line is sent, the response is left incomplete: the server then
        closes the connection and the reader sees a truncated transfer, never a
        body that looks whole.
        """
        completed = False
        async with anyio.create_task_group() as group:

            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch_disconnect)
            try:
                async for chunk in response.aiter_raw():
                    if chunk:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                completed = True
            except httpx.HTTPError as exc:
                logger.warning("upstream %s failed mid-body for %s: %r", self.upstream, scope["path"], exc)
            group.cancel_scope.cancel()
        return completed

    def _build_request(self, scope: Scope, receive: Any) -> httpx.Request:
        """The upstream request; :class:`_BadRequest` when it cannot be what the paywall judged."""
        target = self._base_path.encode("ascii") + _judged_path(scope)
        query: bytes = scope.get("query_string", b"")
        if query:
            target += b"?" + _url_bytes(query, b"#")
        url = httpx.URL(scheme=self._scheme, host=self._host, port=self._port, raw_path=target)

        incoming: RawHeaders = list(scope["headers"])
        peer = peer_address(scope)
        trusted = is_trusted(peer, self.settings.trusted_proxies)
        drop = _connection_tokens(incoming) | HOP_BY_HOP | _REPLACED_REQUEST_HEADERS
        headers: RawHeaders = [(b"host", self._netloc)]
        for name, value in incoming:
            lname = name.lower()
            if lname in drop or lname.startswith(b"proxy-"):
                continue
            # CGI-style upstreams (PHP, WSGI) read X_Forwarded_For as X-Forwarded-For.
            canonical = lname.replace(b"_", b"-")
            if canonical in _REBUILT_REQUEST_HEADERS:
                continue  # rebuilt below from the trusted values
            if not trusted and (canonical in FORWARDING_HEADERS or canonical.startswith(FORWARDING_PREFIXES)):
                continue
            headers.append((name, value))
        length = _request_length(incoming)
        if length is not None:
            headers.append((b"content-length", str(length).encode()))

        proto, host = self._public_origin(scope, incoming, trusted)
        chain = _joined(incoming, "x-forwarded-for") if trusted else None
        if peer is not None:
            chain = f"{chain}, {peer}" if chain else peer
        if chain:
            headers.append((b"x-forwarded-for", chain.encode("latin-1")))
        headers.append((b"x-forwarded-proto", proto.encode("latin-1")))
        if host:
            headers.append((b"x-forwarded-host", host.encode("latin-1")))

        content: AsyncIterator[bytes] | None = None
        if length is not None or "transfer-encoding" in Headers(raw=incoming):
            content = _body(Request(scope, receive), length)
        return httpx.Request(scope["method"], url, headers=headers, content=content)

    def _public_origin(self, scope: Scope, headers: RawHeaders, trusted: bool) -> tuple[str, str | None]:
        """Scheme and host the reader used.

        ``public_url`` wins when set (a Host header is the client's word, and the
        upstream may build absolute links from it); then a trusted proxy's
        headers; then the connection itself.
        """
        if self._public is not None:
            return self._public
        proto = str(scope.get("scheme", "http"))
        host = _joined(headers, "host")
        if trusted:
            fwd_proto = _first(_joined(headers, "x-forwarded-proto"))
            fwd_host = _first(_joined(headers, "x-forwarded-host"))
            if fwd_proto in ("http", "https"):
                proto = fwd_proto
            if fwd_host:
                host = fwd_host
        return proto, host

    async def _error_page(self, scope: Scope, send: Any, status: int, title: str, message: str) -> None:
        """The reader's page when the site cannot answer: never a bare error, never cached."""
        body = render_message(self.settings, title=title, message=f"{message} (Error {status})")
        # The server adds no Date header in proxy mode (the upstream's passes on): this answer needs its own.
        headers = {"cache-control": "no-store", "date": email.utils.formatdate(usegmt=True)}
        await HTMLResponse(body, status, headers=headers)(scope, _no_receive, send)

    # ------------------------------------------------------------------ response headers
    def _response_headers(self, scope: Scope, raw: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
        raw = list(raw)
        drop = _connection_tokens(raw) | HOP_BY_HOP
        incoming: RawHeaders = list(scope["headers"])
        trusted = is_trusted(peer_address(scope), self.settings.trusted_proxies)
        proto, host = self._public_origin(scope, incoming, trusted)
        out: RawHeaders = []
        for name, value in raw:
            lname = name.lower()
            if lname in drop or lname.startswith(b"proxy-"):
                continue
            if lname in (b"location", b"content-location"):
                value = self._rewrite_location(value, proto, host)
            elif lname == b"set-cookie":
                value = self._rewrite_cookie(value)
            out.append((lname, value))
        return out

    def _rewrite_location(self, value: bytes, proto: str, host: str | None) -> bytes:
        """Point a Location at the proxy when it points at the upstream origin."""
        text = value.decode("latin-1")
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            return value
        if parts.netloc:
            # The upstream's own host name, on its port or with none: an upstream that
            # knows it sits behind TLS may say https even though it is reached over http.
            if parts.scheme not in ("", "http", "https") or (parts.hostname or "").lower() != self._host.lower():
                return value
            if port is not None and port != (self._port or _default_port(self._scheme)):
                return value
            if not host:
                return value
            path = self._strip_base(parts.path)
            rest = path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
            return f"{proto}://{host}{rest}".encode("latin-1")
        if text.startswith("/") and self._base_path:
            return self._strip_base(text).encode("latin-1")
        return value

    def _strip_base(self, path: str) -> str:
        base = self._base_path
        if base and (path == base or path.startswith(base + "/")):
            return path[len(base) :] or "/"
        return path or "/"

    def _rewrite_cookie(self, value: bytes) -> bytes:
        """Drop a ``Domain`` attribute naming the upstream host: the cookie belongs to the proxy's host."""
        parts = value.split(b";")
        kept = [parts[0]]
        host = self._host.lower().encode()
        for attribute in parts[1:]:
            # Browsers trim blanks around the name and the value (RFC 6265 section 5.2),
            # ignore one leading dot and compare case-insensitively.
            name, _, domain = attribute.partition(b"=")
            if name.strip().lower() == b"domain" and domain.strip().lstrip(b".").rstrip(b".").lower() == host:
                continue
            kept.append(attribute)
        return b";".join(kept)


# ---------------------------------------------------------------------------
# helpers


async def _body(request: Request, length: int | None = None) -> AsyncIterator[bytes]:
    """Yield the request body as the server hands it over (the server applies back-pressure).

    With a forwarded ``length``, a body that runs past it stops before the extra
    bytes are yielded, and one that ends short is refused too: the upstream never
    reads a body framed differently from the headers it was sent. A reader who
    goes away raises ``ClientDisconnect``.
    """
    size = 0
    async for chunk in request.stream():
        if chunk:
            size += len(chunk)
            if length is not None and size > length:
                raise _BadRequest("body longer than Content-Length", "The request body is longer than announced.")
            yield chunk
    if length is not None and size < length:
        raise _BadRequest("body shorter than Content-Length", "The request body is shorter than announced.")


def _request_length(headers: RawHeaders) -> int | None:
    """The ``Content-Length`` to forward: none when ``Transfer-Encoding`` frames the body.

    RFC 9112 section 6.3: ``Transfer-Encoding`` overrides ``Content-Length`` (the
    server has already decoded the chunks), and a proxy must not forward the
    latter. Several values that disagree, or one that is not a number, make the
    body's length unknowable: refused.
    """
    if any(name.lower() == b"transfer-encoding" for name, _ in headers):
        return None
    values = {v.strip() for name, value in headers if name.lower() == b"content-length" for v in value.split(b",")}
    if not values:
        return None
    if len(values) != 1 or not all(v.isdigit() for v in values):
        raise _BadRequest("invalid Content-Length", "The request announces its length more than once or wrongly.")
    return int(values.pop())


def _judged_path(scope: Scope) -> bytes:
    """The path to forward: the one the paywall judged (``scope["path"]``), or :class:`_BadRequest`.

    The reader's own bytes (``raw_path``) go on when they decode to that path (so
    ``%2F`` and the like stay as sent); when they do not, or there are none, the
    judged path is encoded afresh. Either way the upstream decodes exactly what
    the paywall saw.
    """
    path = scope.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        # Asterisk-form (OPTIONS *) or absolute-form (GET http://host/p): the paywall
        # judged the whole target, so not even its path part was judged.
        raise _BadRequest("request target is not a path", "This request's target is not a path on this site.")
    if has_dot_segment(path):
        raise _BadRequest("dot segments in the path", "Addresses with '.' or '..' path segments are not accepted.")
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw and unquote_to_bytes(raw).decode("utf-8", "replace") == path:
        forwarded = raw
    else:
        try:
            forwarded = quote(path, safe=_PATH_SAFE).encode("ascii")
        except UnicodeEncodeError:  # a lone surrogate: no bytes decode to this path
            raise _BadRequest("undecodable path", "This address cannot be served.") from None
    # '?' and '#' cannot stay literal in a path: httpx would split the URL on them.
    return _url_bytes(forwarded, b"?#")


def _url_bytes(raw: bytes, also: bytes = b"") -> bytes:
    """Percent-encode bytes that cannot appear on a request line (and those in ``also``); the rest stays as sent."""
    if all(b in _URL_SAFE and b not in also for b in raw):
        return raw
    return b"".join(bytes([b]) if b in _URL_SAFE and b not in also else b"%%%02X" % b for b in raw)


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names listed in ``Connection``: hop-by-hop for this connection only."""
    names: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            names.update(token.strip().lower() for token in value.split(b",") if token.strip())
    return frozenset(names)


def _joined(headers: RawHeaders, name: str) -> str | None:
    """Every value of header ``name``, joined as one list (RFC 9110 section 5.3), else None."""
    values = [v.strip() for v in Headers(raw=headers).getlist(name)]
    return ", ".join(values) if values else None


def _first(value: str | None) -> str | None:
    if not value:
        return None
    first = value.split(",")[0].strip()
    return first or None


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


async def _no_receive() -> Message:
    raise RuntimeError("an error page reads no request body")
