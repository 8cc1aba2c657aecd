"""Reverse proxy: put the paywall in front of any HTTP site.

:class:`ProxyApp` is a plain ASGI app that forwards every request to one
upstream origin and streams the answer back. Wrapped in
:class:`~paywall.middleware.PaywallMiddleware` it lets a publisher who runs
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
  connecting peer is not in ``settings.trusted_proxies``, any
  ``X-Forwarded-*``, ``X-Real-IP`` or ``Forwarded`` header it sent is dropped
  and replaced by what the proxy itself saw; otherwise the chain is extended.
* **Failures are clear pages**: an upstream that cannot be reached gets a 502
  page, one that does not answer within ``upstream_timeout`` a 504, and a
  connection pool that stays full (``upstream_max_connections``) a 503.
* **WebSockets are not proxied**: a websocket connection is refused politely
  (HTTP 403 from the server, close code 1000); pages that need them should be
  served around the proxy.
"""

from __future__ import annotations

import email.utils
import html
import http.cookiejar
import ipaddress
import logging
from collections.abc import AsyncIterator, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from .settings import PaywallSettings

logger = logging.getLogger("paywall.proxy")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Headers = list[tuple[bytes, bytes]]

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
#: Request headers that only a trusted proxy may set; from anyone else they are dropped.
FORWARDING_HEADERS = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port", b"x-real-ip", b"forwarded"}
)
#: Request headers the proxy sets itself. ``Expect`` is answered by the server in front
#: of this app (100-continue), so forwarding it would make the upstream wait for nothing.
_REPLACED_REQUEST_HEADERS = frozenset({b"host", b"expect", b"content-length"})
_URL_SAFE = frozenset(range(0x21, 0x7F))


class _NoCookies(http.cookiejar.CookieJar):
    """A jar that never stores anything.

    One client serves every reader, so a cookie remembered from one reader's
    response must never be sent with another reader's request.
    """

    def __init__(self) -> None:
        super().__init__(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


class _ClientGone(Exception):
    """The reader disconnected before the request body was complete."""


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
        self._trusted = tuple(ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies)
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
        request = self._build_request(scope, receive)
        try:
            response = await client.send(request, stream=True)
        except _ClientGone:
            return
        except httpx.PoolTimeout:
            logger.warning("upstream %s: connection pool full for %s", self.upstream, scope["path"])
            await _error_page(send, 503, "Service busy", "The site is busy right now. Please try again shortly.")
            return
        except httpx.TimeoutException as exc:
            logger.warning("upstream %s timed out for %s: %r", self.upstream, scope["path"], exc)
            await _error_page(send, 504, "Gateway timeout", "The site took too long to answer. Please try again.")
            return
        except httpx.HTTPError as exc:
            logger.warning("upstream %s unreachable for %s: %r", self.upstream, scope["path"], exc)
            await _error_page(
                send, 502, "Bad gateway", "The site cannot be reached right now. Please try again in a moment."
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
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        target = _url_bytes(self._base_path.encode("ascii") + raw_path)
        query: bytes = scope.get("query_string", b"")
        if query:
            target += b"?" + _url_bytes(query)
        url = httpx.URL(scheme=self._scheme, host=self._host, port=self._port, raw_path=target)

        incoming: Headers = list(scope["headers"])
        peer = _peer(scope)
        trusted = peer is not None and self._is_trusted(peer)
        drop = _connection_tokens(incoming) | HOP_BY_HOP | _REPLACED_REQUEST_HEADERS
        if not trusted:
            drop |= FORWARDING_HEADERS
        headers: Headers = [(b"host", self._netloc)]
        has_length = False
        chunked = False
        for name, value in incoming:
            lname = name.lower()
            if lname == b"content-length":
                has_length = True
                headers.append((b"content-length", value))
            elif lname == b"transfer-encoding":
                chunked = True
            if lname in drop or lname.startswith(b"proxy-"):
                continue
            if lname in (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"):
                continue  # rebuilt below from the trusted values
            headers.append((name, value))

        proto, host = self._public_origin(scope, incoming, trusted)
        chain = _header(incoming, b"x-forwarded-for") if trusted else None
        if peer is not None:
            chain = f"{chain}, {peer}" if chain else peer
        if chain:
            headers.append((b"x-forwarded-for", chain.encode("latin-1")))
        headers.append((b"x-forwarded-proto", proto.encode("latin-1")))
        if host:
            headers.append((b"x-forwarded-host", host.encode("latin-1")))

        content: AsyncIterator[bytes] | None = None
        if has_length or chunked:
            content = _body(receive)
        return httpx.Request(scope["method"], url, headers=headers, content=content)

    def _public_origin(self, scope: Scope, headers: Headers, trusted: bool) -> tuple[str, str | None]:
        """Scheme and host the reader used.

        ``public_url`` wins when set (a Host header is the client's word, and the
        upstream may build absolute links from it); then a trusted proxy's
        headers; then the connection itself.
        """
        if self._public is not None:
            return self._public
        proto = str(scope.get("scheme", "http"))
        host = _header(headers, b"host")
        if trusted:
            fwd_proto = _first(_header(headers, b"x-forwarded-proto"))
            fwd_host = _first(_header(headers, b"x-forwarded-host"))
            if fwd_proto in ("http", "https"):
                proto = fwd_proto
            if fwd_host:
                host = fwd_host
        return proto, host

    def _is_trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._trusted)

    # ------------------------------------------------------------------ response headers
    def _response_headers(self, scope: Scope, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        raw = list(raw)
        drop = _connection_tokens(raw) | HOP_BY_HOP
        peer = _peer(scope)
        incoming: Headers = list(scope["headers"])
        proto, host = self._public_origin(scope, incoming, peer is not None and self._is_trusted(peer))
        out: Headers = []
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
        for attribute in parts[1:]:
            name, _, domain = attribute.strip().partition(b"=")
            if name.lower() == b"domain" and domain.strip().lstrip(b".").lower() == self._host.lower().encode():
                continue
            kept.append(attribute)
        return b";".join(kept)


# ---------------------------------------------------------------------------
# helpers


async def _body(receive: Any) -> AsyncIterator[bytes]:
    """Yield the request body as the server hands it over (the server applies back-pressure)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _url_bytes(raw: bytes) -> bytes:
    """Percent-encode only bytes that cannot appear on a request line; everything else stays as sent."""
    if all(b in _URL_SAFE for b in raw):
        return raw
    return b"".join(bytes([b]) if b in _URL_SAFE else b"%%%02X" % b for b in raw)


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names listed in ``Connection``: hop-by-hop for this connection only."""
    names: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            names.update(token.strip().lower() for token in value.split(b",") if token.strip())
    return frozenset(names)


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    values = [v.decode("latin-1").strip() for n, v in headers if n.lower() == name]
    return ", ".join(values) if values else None


def _first(value: str | None) -> str | None:
    if not value:
        return None
    first = value.split(",")[0].strip()
    return first or None


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


async def _error_page(send: Any, status: int, title: str, message: str) -> None:
    body = (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{status} {html.escape(title)}</title></head>"
        f"<body><main><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        f"<p><small>Error {status}</small></p></main></body></html>\n"
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"date", email.utils.formatdate(usegmt=True).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
