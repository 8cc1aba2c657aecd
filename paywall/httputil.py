"""Small HTTP helpers shared by the middleware, the endpoints and the proxy.

They work on raw ASGI header lists (``list[tuple[bytes, bytes]]``) so that
headers the middleware does not touch go out byte for byte as the app sent them.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import re
import zlib
from collections.abc import Iterable, Mapping
from http.cookies import SimpleCookie
from typing import Any

from starlette.types import Message, Send

from .errors import BodyTooLarge

RawHeaders = list[tuple[bytes, bytes]]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def get_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """First value of ``name`` (lower-case bytes) or None."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def joined_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """All values of a list-valued header (``name`` lower-case bytes), comma-joined, or None.

    Repeated headers mean the same as one header with the values joined; reading
    only the first of several ``Content-Encoding`` headers would undo one layer of two.
    """
    values = [value for key, value in headers if key.lower() == name]
    return b", ".join(values) if values else None


def without_headers(headers: Iterable[tuple[bytes, bytes]], *names: bytes) -> RawHeaders:
    drop = {n.lower() for n in names}
    return [(k, v) for k, v in headers if k.lower() not in drop]


def parse_content_type(value: bytes | str | None) -> tuple[str, str | None]:
    """``(media type lower-cased, charset or None)``; tolerant of odd spacing and quoting."""
    if value is None:
        return "", None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    media, _, params = text.partition(";")
    charset: str | None = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'").strip() or None
    return media.strip().lower(), charset


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HTTP_WHITESPACE = " \t\n\r"


def content_type(values: Iterable[bytes]) -> tuple[str, str | None] | None:
    """``(essence, charset)`` of a response's type as browsers read it, or None when they must sniff.

    WHATWG Fetch's "extract a MIME type": every ``Content-Type`` value, split
    on commas, is parsed strictly (``type/subtype`` of token characters); values
    that do not parse (``text/html charset=utf-8``, ``text /html``, ``html``)
    and ``*/*`` are skipped, the last one that parses wins, and its charset
    carries over from an earlier value of the same type. None means no value
    parsed: browsers then sniff the body.
    """
    essence: str | None = None
    charset: str | None = None
    for value in values:
        for part in _split_outside_quotes(value.decode("latin-1")):
            parsed = _parse_mime(part)
            if parsed is None or parsed[0] == "*/*":
                continue
            if parsed[0] != essence:
                charset = None
            essence = parsed[0]
            charset = parsed[1] or charset
    return None if essence is None else (essence, charset)


def _split_outside_quotes(value: str) -> list[str]:
    if '"' not in value:
        return value.split(",")
    parts, current, quoted = [], "", False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _parse_mime(value: str) -> tuple[str, str | None] | None:
    """WHATWG "parse a MIME type", keeping only the charset parameter; None on failure."""
    media, _, params = value.strip(_HTTP_WHITESPACE).partition(";")
    kind, slash, subtype = media.partition("/")
    subtype = subtype.rstrip(_HTTP_WHITESPACE)
    if not slash or not _TOKEN.fullmatch(kind) or not _TOKEN.fullmatch(subtype):
        return None
    charset: str | None = None
    for param in params.split(";"):
        name, equals, val = param.lstrip(_HTTP_WHITESPACE).partition("=")
        if equals and name.lower() == "charset" and charset is None:
            val = val.strip(_HTTP_WHITESPACE).strip('"').strip()
            charset = val or None
    return f"{kind}/{subtype}".lower(), charset


# ---------------------------------------------------------------------------
# content-encoding


class UnsupportedEncoding(ValueError):
    """A Content-Encoding we cannot decode; the body cannot be gated."""


def decompress_body(body: bytes, encoding: bytes | str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate, br, stacked) without exceeding ``limit`` bytes.

    The limit is enforced while decompressing, so a small compressed bomb
    cannot make us allocate gigabytes before we notice.
    """
    if encoding is None:
        return body
    text = encoding.decode("latin-1") if isinstance(encoding, bytes) else encoding
    codings = [c.strip().lower() for c in text.split(",") if c.strip()]
    for coding in reversed(codings):
        if coding in ("identity", ""):
            continue
        if coding in ("gzip", "x-gzip"):
            body = _zlib_decode(body, 16 + zlib.MAX_WBITS, limit)
        elif coding == "deflate":
            try:
                body = _zlib_decode(body, zlib.MAX_WBITS, limit)
            except zlib.error:  # raw deflate, as some servers send it
                body = _zlib_decode(body, -zlib.MAX_WBITS, limit)
        elif coding == "br":
            body = _brotli_decode(body, limit)
        else:
            raise UnsupportedEncoding(coding)
    return body


DECODABLE_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "identity"})


def decodable_accept_encoding(value: bytes) -> bytes:
    """``Accept-Encoding`` narrowed to the codings :func:`decompress_body` can undo.

    A page compressed with anything else (``zstd``, which current browsers
    offer) could not be gated and would fail closed to the call to action.
    """
    kept = []
    for part in value.split(b","):
        coding = part.split(b";", 1)[0].strip().lower()
        if coding.decode("latin-1") in DECODABLE_CODINGS:
            kept.append(part.strip())
    return b", ".join(kept) if kept else b"identity"


def _zlib_decode(data: bytes, wbits: int, limit: int) -> bytes:
    decoder = zlib.decompressobj(wbits)
    out = decoder.decompress(data, limit + 1)
    if len(out) > limit or decoder.unconsumed_tail:
        raise BodyTooLarge(f"decoded body exceeds {limit} bytes")
    out += decoder.flush()
    if len(out) > limit:
        raise BodyTooLarge(f"decoded body exceeds {limit} bytes")
    return out


def _brotli_decode(data: bytes, limit: int) -> bytes:
    import brotli

    decoder = brotli.Decompressor()
    out = bytearray()
    step = 64 * 1024
    view = memoryview(data)
    for start in range(0, max(len(data), 1), step):
        chunk = bytes(view[start : start + step])
        while True:
            # The output limit makes brotli stop growing its buffer, so a tiny bomb
            # cannot allocate more than we are willing to hold.
            out += decoder.process(chunk, output_buffer_limit=limit + 1 - len(out))
            if len(out) > limit:
                raise BodyTooLarge(f"decoded body exceeds {limit} bytes")
            chunk = b""
            if decoder.can_accept_more_data():
                break
    if not decoder.is_finished():
        raise brotli.error("truncated brotli stream")
    return bytes(out)


# ---------------------------------------------------------------------------
# cookies


def without_bodies(send: Send) -> Send:
    """``send`` for a ``HEAD`` request: the response's headers as a ``GET`` would have them, no body."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return wrapped


def set_cookie_header(
    name: str,
    value: str,
    *,
    max_age: int | None,
    secure: bool,
    httponly: bool = True,
    samesite: str = "Lax",
    path: str = "/",
    domain: str | None = None,
) -> str:
    """One ``Set-Cookie`` value. ``max_age=None`` makes a session cookie."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = path
    if max_age is not None:
        morsel["max-age"] = max_age
    if domain:
        morsel["domain"] = domain
    if secure:
        morsel["secure"] = True
    if httponly:
        morsel["httponly"] = True
    morsel["samesite"] = samesite
    return morsel.OutputString()


def delete_cookie_header(name: str, *, secure: bool, path: str = "/", domain: str | None = None) -> str:
    return set_cookie_header(name, "", max_age=0, secure=secure, path=path, domain=domain) + (
        "; expires=Thu, 01 Jan 1970 00:00:00 GMT"
    )


def is_https(scope: Mapping[str, Any], trusted_proxies: tuple[str, ...] = ()) -> bool:
    """Whether the reader's connection is encrypted.

    Behind a TLS-terminating proxy listed in ``trusted_proxies`` the scheme comes
    from its ``X-Forwarded-Proto`` (the right-most value, which that proxy set);
    from anyone else the header is ignored.
    """
    if scope.get("scheme") in ("https", "wss"):
        return True
    if not is_trusted(peer_address(scope), trusted_proxies):
        return False
    forwarded = joined_header(scope.get("headers") or [], b"x-forwarded-proto")
    if forwarded is None:
        return False
    return forwarded.split(b",")[-1].strip().lower() in (b"https", b"wss")


# ---------------------------------------------------------------------------
# client address


def client_address(scope: Mapping[str, Any], trusted_proxies: tuple[str, ...]) -> str | None:
    """The reader's address.

    ``X-Forwarded-For`` is believed only when the connecting peer is a trusted
    proxy; then the right-most address that is not itself trusted is the
    client (addresses further left can be forged by the client).
    """
    peer = peer_address(scope)
    if peer is None or not is_trusted(peer, trusted_proxies):
        return peer
    raw_headers = scope.get("headers") or []
    forwarded: list[str] = []
    for key, value in raw_headers:
        if key.lower() == b"x-forwarded-for":
            forwarded.extend(p.strip() for p in value.decode("latin-1").split(","))
    for candidate in reversed([f for f in forwarded if f]):
        if not _valid_ip(candidate):
            return peer
        if not is_trusted(candidate, trusted_proxies):
            return candidate
    return peer


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def peer_address(scope: Mapping[str, Any]) -> str | None:
    """The address of the connecting peer (which may be a proxy), or None."""
    client = scope.get("client")
    peer = client[0] if isinstance(client, tuple | list) and client else None
    return peer if isinstance(peer, str) else None


@functools.lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(net, strict=False) for net in trusted)


def is_trusted(address: str | None, trusted: tuple[str, ...]) -> bool:
    """Whether ``address`` lies in one of the ``trusted_proxies`` networks (parsed once per setting)."""
    if address is None or not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(trusted))


# ---------------------------------------------------------------------------
# robots

#: ``X-Robots-Tag`` rules whose name is followed by a colon (``max-snippet: 20``): not a crawler's name.
_ROBOTS_RULES_WITH_VALUES = frozenset(
    {b"max-snippet", b"max-image-preview", b"max-video-preview", b"unavailable_after"}
)
_ROBOTS_SCOPE = re.compile(rb"\s*([A-Za-z0-9_.-]+)\s*:")


def with_robots_rule(headers: Iterable[tuple[bytes, bytes]], rule: bytes) -> RawHeaders:
    """``headers`` whose ``X-Robots-Tag`` for every crawler carries ``rule`` (``noarchive``).

    Added to the site's own value for every crawler (one that names no
    crawler: ``X-Robots-Tag: noindex`` becomes ``noindex, noarchive``), or as a
    header of its own when there is none; left alone when it is already said.
    Values for one crawler (``otherbot: nofollow``) are kept as they are.
    """
    out = list(headers)
    for at, (name, value) in enumerate(out):
        if name.lower() != b"x-robots-tag":
            continue
        scope = _ROBOTS_SCOPE.match(value)
        if scope is not None and scope.group(1).lower() not in _ROBOTS_RULES_WITH_VALUES:
            continue  # rules for one crawler
        if rule in (part.strip().lower() for part in value.split(b",")):
            return out
        out[at] = (name, value.strip() + b", " + rule if value.strip() else rule)
        return out
    out.append((b"x-robots-tag", rule))
    return out


# ---------------------------------------------------------------------------
# path patterns


def has_dot_segment(path: str) -> bool:
    """Whether a server could resolve ``path`` to another one by removing dot segments.

    ``path`` is decoded (``%2e`` is already a dot). Besides ``/``, a backslash
    separates segments for some servers (IIS, Windows file servers) and ``;``
    starts path parameters others strip before resolving (``/..;/`` in Tomcat).
    """
    return any(segment.split(";", 1)[0] in (".", "..") for segment in re.split(r"[/\\]", path))


def normalize_path(path: str) -> str:
    """``path`` with dot segments resolved and repeated slashes merged.

    Servers and proxies in front of the app resolve ``/free/../story`` to
    ``/story`` (and nginx merges ``//``), so path rules must judge that form.
    """
    if "." not in path and "//" not in path:
        return path
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    trailing = path.endswith(("/", "/.", "/..")) and segments
    return "/" + "/".join(segments) + ("/" if trailing else "")


def match_path(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``path`` matches one of the configured path patterns.

    A pattern ending in ``/`` matches everything below it (``/static/``); a
    pattern with ``*`` or ``?`` is a shell-style glob where ``*`` also crosses
    ``/`` (``/news/*/free``); anything else must equal the path.
    """
    for pattern in patterns:
        if pattern.endswith("/"):
            if path.startswith(pattern) or path == pattern[:-1]:
                return True
        elif "*" in pattern or "?" in pattern or "[" in pattern:
            if fnmatch.fnmatchcase(path, pattern):
                return True
        elif path == pattern:
            return True
    return False
