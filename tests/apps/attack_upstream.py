"""A tiny raw-ASGI upstream for the attack tests: one article, free static files, an echo.

``/articles/...`` is a gated article whose hidden part holds :data:`SECRET_WORDS`;
``/static/...`` is plain text (what a publisher lists in ``exclude_paths``);
``/echo`` answers JSON with the path, raw path and headers it received;
``/cookie`` sets cookies whose ``Domain`` names the upstream host.
"""

from __future__ import annotations

import json

from starlette.types import Receive, Scope, Send

SECRET_WORDS = ["zanzibar", "quetzalcoatl", "marzipan"]
TEASER = [f"Teaser paragraph number {i} tells the reader what is going on." for i in range(3)]
ARTICLE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Story</title></head><body>"
    "<header><nav><a href='/'>Home</a></nav></header><main><article><h1>Story</h1>"
    + "".join(f"<p>{p}</p>" for p in TEASER)
    + f"<p>The hidden ending mentions {SECRET_WORDS[0]} and {SECRET_WORDS[1]}.</p>"
    + f"<p>Members also learn about {SECRET_WORDS[2]}.</p>"
    + "</article></main></body></html>"
).encode()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    headers: list[tuple[bytes, bytes]] = []
    if path.startswith("/articles/"):
        body, content_type = ARTICLE, b"text/html; charset=utf-8"
    elif path == "/echo":
        body = json.dumps(
            {
                "path": path,
                "raw_path": scope["raw_path"].decode("latin-1"),
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            }
        ).encode()
        content_type = b"application/json"
    elif path == "/cookie":
        body, content_type = b"ok", b"text/plain"
        headers = [
            (b"set-cookie", b"a=1; Domain=up.internal; Path=/"),
            (b"set-cookie", b"b=2; Domain = up.internal; Path=/"),
        ]
    else:
        body, content_type = b"static file", b"text/plain"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})
