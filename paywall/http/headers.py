"""Raw ASGI header lists, content types and content codings.

The lookups work on ``list[tuple[bytes, bytes]]`` rather than Starlette's
``MutableHeaders``: the middleware runs them several times on every response
it passes on, where ``MutableHeaders(raw=...)`` costs two to three times as
much (0.61 against 0.23 us a lookup, 1.7 against 1.1 us to drop two headers
from eight, by ``timeit``) and decodes values that only ever go on as bytes.
The paywall's own pages and the proxy's request headers use Starlette's
``Response`` and ``Headers``.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Iterable
from typing import Any

from starlette.types import Message, Send

from ..errors import BodyTooLarge

RawHeaders = list[tuple[bytes, bytes]]


def header_pairs(headers: Any) -> RawHeaders:
    """``headers`` as a list of ``(name, value)`` tuples, the shape every reader here takes.

    Servers and apps give them so (returned as they are); ASGI allows any
    iterable of two-item iterables (lists from some servers and apps), which
    are copied into that shape once, where they come in. (The compiled request
    path checks the shape it is given: a list of lists would fail there.)
    """
    if type(headers) is list:
        for pair in headers:
            if type(pair) is not tuple:
                break
        else:
            return headers
    return [(bytes(name), bytes(value)) for name, value in headers]


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
    joined: bytes | None = None
    for key, value in headers:  # a loop, not a list comprehension (its own call): most have none
        if key.lower() == name:
            joined = value if joined is None else joined + b", " + value
    return joined


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


#: Longest ``Accept-Encoding`` value whose narrowing is remembered (browsers send a few short ones).
_REMEMBERED_ACCEPT_ENCODING = 256


@functools.lru_cache(maxsize=256)
def _narrowed(value: bytes) -> bytes | None:
    narrowed = decodable_accept_encoding(value)
    return None if narrowed == value else narrowed


def narrowed_accept_encoding(value: bytes) -> bytes | None:
    """:func:`decodable_accept_encoding` of ``value``, or None when that leaves it as it is.

    Remembered per value: every request asks, and clients send few distinct values.
    """
    return (_narrowed if len(value) <= _REMEMBERED_ACCEPT_ENCODING else _narrowed.__wrapped__)(value)


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


def without_bodies(send: Send) -> Send:
    """``send`` for a ``HEAD`` request: the response's headers as a ``GET`` would have them, no body."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return wrapped


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
