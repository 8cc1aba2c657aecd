"""A small site with forms, redirects, cookies and streams, served behind ``paywall proxy``.

Every route tells the test what it received (``/echo``) or produces one kind of
response the proxy must pass on unchanged.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import random
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

ARTICLE_TEASER = [
    "Harbour towns along the northern coast are rethinking how they welcome visitors this winter.",
    "Local councils met on Tuesday to compare notes on ferries, parking and seasonal housing.",
    "The mood in the meeting hall was cautious but curious, according to several participants.",
]
ARTICLE_REST = [
    "Marmalade lighthouse keepers quietly negotiated a zeppelin timetable with the quokka cooperative.",
    "Octarine budget spreadsheets revealed that the gondola subsidy had doubled since the equinox.",
    "Saffron umbrellas will line the promenade once the xylophone festival finally reaches town.",
]


def article_html(title: str) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in ARTICLE_TEASER + ARTICLE_REST)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title></head><body><header><nav><a href='/'>Home</a></nav></header>"
        f"<main><article><h1>{title}</h1>{paragraphs}</article></main>"
        "<footer><p>Coastal Gazette</p></footer></body></html>"
    )


async def echo(request: Request) -> Response:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return JSONResponse(
        {
            "method": request.method,
            "path": request.scope["path"],
            "raw_path": request.scope["raw_path"].decode("latin-1"),
            "query_string": request.scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.scope["headers"]],
            "body_size": size,
            "body_sha256": digest.hexdigest(),
        }
    )


async def form(request: Request) -> Response:
    if request.method == "GET":
        return HTMLResponse(
            "<!doctype html><form method='post' action='/form'>"
            "<input name='name'><input name='comment'><button>Send</button></form>"
        )
    body = (await request.body()).decode()
    fields = parse_qsl(body, keep_blank_values=True)
    return JSONResponse({"fields": fields, "content_type": request.headers.get("content-type")})


async def redirect(request: Request) -> Response:
    """Redirect with the given status to an absolute URL on this very origin."""
    code = int(request.path_params["code"])
    target = str(request.url.replace(path="/landed", query="from=redirect&x=%2F"))
    return Response(status_code=code, headers={"location": target})


async def redirect_external(request: Request) -> Response:
    return Response(status_code=302, headers={"location": "https://example.org/elsewhere?a=1"})


async def redirect_relative(request: Request) -> Response:
    return Response(status_code=303, headers={"location": "/landed?rel=1"})


async def landed(request: Request) -> Response:
    return PlainTextResponse("landed")


async def cookies(request: Request) -> Response:
    host = request.url.hostname or ""
    response = PlainTextResponse("cookies set")
    response.raw_headers.extend(
        [
            (b"set-cookie", b"session=abc123; Path=/; HttpOnly"),
            (b"set-cookie", f"prefs=dark; Path=/; Domain={host}; SameSite=Lax".encode()),
            (b"set-cookie", b"tracker=xyz; Path=/; Domain=.example.org"),
        ]
    )
    return response


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    if code in (204, 304):
        return Response(status_code=code)
    return PlainTextResponse(f"status {code}", status_code=code)


async def stream(request: Request) -> Response:
    count = int(request.query_params.get("chunks", "5"))

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(count):
            yield f"chunk {i}\n".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(chunks(), media_type="text/plain")


_gates: dict[str, asyncio.Event] = {}


def _gate(token: str) -> asyncio.Event:
    return _gates.setdefault(token, asyncio.Event())


async def stream_gate(request: Request) -> Response:
    """Send one chunk, then wait until ``/release?token=...`` is called: proves the proxy does not buffer."""
    token = request.query_params["token"]
    trickle = request.query_params.get("trickle") == "1"

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first chunk\n"
        gate = _gate(token)
        if trickle:  # keep the connection busy with a byte now and then until released
            for _ in range(100):
                if gate.is_set():
                    break
                await asyncio.sleep(0.1)
                yield b"."
        await asyncio.wait_for(gate.wait(), timeout=10)
        yield b"second chunk\n"

    return StreamingResponse(chunks(), media_type="text/plain")


async def release(request: Request) -> Response:
    _gate(request.query_params["token"]).set()
    return PlainTextResponse("released")


COMPRESSED = gzip.compress(b"compressed body " * 500, mtime=0)


async def compressed(request: Request) -> Response:
    return Response(COMPRESSED, headers={"content-encoding": "gzip", "content-type": "text/plain"})


def download_bytes(size: int) -> AsyncIterator[bytes]:
    """Deterministic pseudo-random bytes, made on the fly (never held whole)."""

    async def gen() -> AsyncIterator[bytes]:
        block = 64 * 1024
        sent = 0
        counter = 0
        while sent < size:
            piece = random.Random(counter).randbytes(min(block, size - sent))
            counter += 1
            sent += len(piece)
            yield piece

    return gen()


async def download(request: Request) -> Response:
    size = int(request.query_params.get("bytes", str(1024 * 1024)))
    headers = {"content-length": str(size)} if request.query_params.get("length") == "1" else {}
    return StreamingResponse(download_bytes(size), media_type="application/octet-stream", headers=headers)


async def slow(request: Request) -> Response:
    """Answer late; give up as soon as the proxy hangs up (so shutdown does not wait)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + float(request.query_params.get("seconds", "5"))
    while loop.time() < deadline:
        if await request.is_disconnected():
            return PlainTextResponse("gone", status_code=499)
        await asyncio.sleep(0.05)
    return PlainTextResponse("finally")


async def hop(request: Request) -> Response:
    response = PlainTextResponse("hop")
    response.raw_headers.extend(
        [
            (b"connection", b"x-hop-secret"),
            (b"x-hop-secret", b"must-not-pass"),
            (b"keep-alive", b"timeout=5"),
            (b"proxy-authenticate", b"Basic realm=upstream"),
            (b"trailer", b"x-checksum"),
            (b"x-end-to-end", b"kept"),
        ]
    )
    return response


async def article(request: Request) -> Response:
    return HTMLResponse(article_html("Harbour towns rethink winter"))


async def article_free(request: Request) -> Response:
    return HTMLResponse(article_html("A free story"), headers={"x-paywall": "free"})


async def article_members(request: Request) -> Response:
    return HTMLResponse(article_html("A members story"), headers={"x-paywall": "members"})


async def article_login(request: Request) -> Response:
    """Like a CMS that knows its logged-in readers: it says so with ``X-Paywall-Access``."""
    headers = {"x-paywall-access": "member"} if request.cookies.get("cms_login") == "ok" else {}
    return HTMLResponse(article_html("Logged-in readers"), headers=headers)


async def json_data(request: Request) -> Response:
    return Response(json.dumps({"ok": True}).encode(), media_type="application/json")


app = Starlette(
    routes=[
        Route("/echo", echo, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        Route("/echo/{rest:path}", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        Route("/form", form, methods=["GET", "POST"]),
        Route("/redirect/{code:int}", redirect),
        Route("/redirect-external", redirect_external),
        Route("/redirect-relative", redirect_relative),
        Route("/landed", landed),
        Route("/cookies", cookies),
        Route("/status/{code:int}", status),
        Route("/stream", stream),
        Route("/stream-gate", stream_gate),
        Route("/release", release),
        Route("/compressed", compressed),
        Route("/download", download),
        Route("/slow", slow),
        Route("/hop", hop),
        Route("/article", article),
        Route("/article/free", article_free),
        Route("/article/members", article_members),
        Route("/article/login", article_login),
        Route("/data.json", json_data),
    ]
)
