"""A raw-ASGI site whose answers are shaped by the request, as real servers' are.

``/story`` is an article: it answers ``Range`` with a ``206`` (several ranges
as ``multipart/byteranges``) and ``If-None-Match`` with a ``304`` whatever the
``Accept`` header says, sends the ``Content-Type`` named by ``?type=`` byte for
byte (malformed ones included), and asks CDNs to cache it. ``/head/<kind>``
is an article whose ``<head>`` is unusual: ``big`` holds 100 KB of inline CSS
and JSON-LD, ``title`` a ``</head>`` inside ``<title>``, ``attr`` one inside an
attribute, ``comment`` and ``script`` ones where a tokenizer skips them.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

SECRET_WORDS = ["wolframite", "cassowary", "obsidianne"]
TEASER = [f"Teaser paragraph {i} sets the scene for the reader with enough words to count." for i in range(3)]
HIDDEN = [
    f"The rest explains {SECRET_WORDS[0]} pricing and the {SECRET_WORDS[1]} agreement in detail.",
    f"Members finally read about {SECRET_WORDS[2]} and what it means for the region.",
]
CHUNK = 16 * 1024
CDN_HEADERS = [
    (b"cache-control", b"public, max-age=600"),
    (b"surrogate-control", b"max-age=3600"),
    (b"cdn-cache-control", b"max-age=3600"),
    (b"cloudflare-cdn-cache-control", b"max-age=3600"),
    (b"x-accel-expires", b"3600"),
]


def page(head: str = "") -> bytes:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Story</title>"
        f"{head}</head><body><header><nav><a href='/'>Home</a></nav></header><main><article><h1>Story</h1>"
        + "".join(f"<p>{p}</p>" for p in TEASER + HIDDEN)
        + "</article></main><footer><p>The Gazette</p></footer></body></html>\n"
    ).encode()


STORY = page()
ETAG = b'"' + hashlib.sha256(STORY).hexdigest()[:16].encode() + b'"'
BIG_STYLE = "<style>" + "".join(f".c{i} {{ color: #{i % 4096:03x}; }}\n" for i in range(4000)) + "</style>"
HEADS = {
    "big": BIG_STYLE
    + '<script type="application/ld+json">{"@type": "NewsArticle", "x": "'
    + "y" * 20000
    + '"}</script>',
    "title": "",  # the title itself is replaced below
    "attr": '<meta name="x" content="</head><body>">',
    "comment": "<!-- </head> --><script>var s = '</head>';</script><style>/* </head> */</style>",
}


def head_page(kind: str) -> bytes:
    if kind == "title":
        return page().replace(b"<title>Story</title>", b"<title>Why </head> matters</title>")
    return page(HEADS[kind])


def _byteranges(body: bytes, ranges: list[tuple[int, int]], content_type: bytes) -> tuple[bytes, bytes]:
    boundary = b"3d6b6a416f9b5"
    out = b""
    for first, last in ranges:
        out += b"--" + boundary + b"\r\nContent-Type: " + content_type + b"\r\n"
        out += b"Content-Range: bytes %d-%d/%d\r\n\r\n" % (first, last, len(body)) + body[first : last + 1] + b"\r\n"
    out += b"--" + boundary + b"--\r\n"
    return out, b"multipart/byteranges; boundary=" + boundary


def _ranges(value: bytes, size: int) -> list[tuple[int, int]]:
    out = []
    for part in value.removeprefix(b"bytes=").split(b","):
        start, _, end = part.strip().partition(b"-")
        out.append((int(start), min(int(end) if end else size - 1, size - 1)))
    return out


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    headers = dict((k.lower(), v) for k, v in scope["headers"])
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    path: str = scope["path"]
    content_type = query.get("type", ["text/html; charset=utf-8"])[0].encode("latin-1")
    if path.startswith("/head/"):
        body = head_page(path.removeprefix("/head/"))
        extra: list[tuple[bytes, bytes]] = []
    else:
        body = STORY
        extra = [(b"etag", ETAG), (b"accept-ranges", b"bytes"), *CDN_HEADERS]
    status = 200
    if path == "/story" and headers.get(b"if-none-match") == ETAG:
        await send({"type": "http.response.start", "status": 304, "headers": extra})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/story" and b"range" in headers:
        ranges = _ranges(headers[b"range"], len(body))
        status = 206
        if len(ranges) == 1:
            first, last = ranges[0]
            extra.append((b"content-range", b"bytes %d-%d/%d" % (first, last, len(body))))
            body = body[first : last + 1]
        else:
            body, content_type = _byteranges(body, ranges, content_type)
    out = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": out})
    if scope["method"] == "HEAD":
        body = b""
    # In pieces, as a server streams a long page.
    for start in range(0, len(body), CHUNK):
        await send({"type": "http.response.body", "body": body[start : start + CHUNK], "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def always_member(request: object) -> bool:
    """A member resolver for the browser test: everyone is a member."""
    return True


def build_app() -> object:
    """The site behind the paywall, configured from ``PAYWALL_*`` variables (for uvicorn)."""
    from paywall import PaywallMiddleware, PaywallSettings

    return PaywallMiddleware(app, settings=PaywallSettings.from_env())
