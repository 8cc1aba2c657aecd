"""A site with every kind of response the middleware must handle, for the gating tests.

Paragraphs after the teaser carry made-up marker words (``SECRET_WORDS``); a
non-member's response must contain none of them, in any encoding.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import AsyncIterator

import brotli
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

TEASER = [
    "Grid operators in the north reported steady demand through the autumn months.",
    "Analysts expect the new interconnector to lower wholesale prices by spring.",
    "Regulators have asked for a public consultation before the final approval.",
]
SECRET_PARAGRAPHS = [
    "The confidential forecast from tessellwyn partners shows a sharp quarterly drop in margins.",
    "Executives privately briefed investors that the marrowgast project would be delayed again.",
    "Internal memos describe the brindlecomb clause as the real reason behind the merger talks.",
]
SECRET_WORDS = ["tessellwyn", "marrowgast", "brindlecomb"]
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def paragraphs(items: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in items)


FULL_TEXT = " ".join(TEASER + SECRET_PARAGRAPHS)


def page(article: str, *, head: str = "", title: str = "Interconnector approved", extra: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>{head}</head>
<body>
<header><nav><a href="/">Home</a> <a href="/energy">Energy</a></nav></header>
<main>{article}</main>
<section class="newsletter"><h2>Subscribe to Top Insights Today</h2>
<p>By clicking subscribe you agree to our privacy and cookie policy and terms and conditions of use.</p></section>
<aside class="related"><h2>Read more insights</h2><ul><li><a href="/a">Oil reserves go to auction</a></li></ul></aside>
{extra}
<footer><p>Stay informed</p></footer>
</body></html>"""


def article_html() -> str:
    return page(f"<article><h1>Interconnector approved</h1>{paragraphs(TEASER + SECRET_PARAGRAPHS)}</article>")


def leaky_html() -> str:
    """Copies of the whole text in every place a site tends to leave them."""
    body = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "articleBody": FULL_TEXT,
            "description": SECRET_PARAGRAPHS[0],
        }
    )
    next_data = json.dumps({"props": {"pageProps": {"html": paragraphs(TEASER + SECRET_PARAGRAPHS)}}})
    head = (
        f'<meta name="description" content="{SECRET_PARAGRAPHS[1]}">'
        f'<meta property="og:description" content="{FULL_TEXT}">'
        f'<meta name="twitter:description" content="{SECRET_PARAGRAPHS[2]}">'
        f'<script type="application/ld+json">{body}</script>'
    )
    state = json.dumps({"article": {"body": FULL_TEXT}}).replace("'", "\\u0027")
    escaped = json.dumps(FULL_TEXT, ensure_ascii=True).replace("a", "\\u0061")
    extra = (
        f'<script id="__NEXT_DATA__" type="application/json">{next_data}</script>'
        f"<script>window.__INITIAL_STATE__ = {state};</script>"
        f"<script>var copy = {escaped};</script>"
        f"<noscript>{paragraphs(SECRET_PARAGRAPHS)}</noscript>"
        f"<template><p>{SECRET_PARAGRAPHS[0]}</p></template>"
        f"<!-- {SECRET_PARAGRAPHS[1]} -->"
        f"<div hidden>{SECRET_PARAGRAPHS[2]}</div>"
        f'<div data-body="{SECRET_PARAGRAPHS[0]}" title="{SECRET_PARAGRAPHS[1]}"></div>'
        f'<div data-html="{paragraphs(SECRET_PARAGRAPHS).replace("<", "&lt;").replace(">", "&gt;")}"></div>'
    )
    return page(
        f"<article><h1>Interconnector approved</h1>{paragraphs(TEASER + SECRET_PARAGRAPHS)}</article>",
        head=head,
        extra=extra,
    )


async def article(request: Request) -> Response:
    return HTMLResponse(article_html())


async def shadow(request: Request) -> Response:
    """The article rendered by a web component on the server: in its host's declarative shadow root."""
    story = f"<article><h1>Interconnector approved</h1>{paragraphs(TEASER + SECRET_PARAGRAPHS)}</article>"
    return HTMLResponse(page(f'<story-view><template shadowrootmode="open">{story}</template></story-view>'))


#: A script that renders the story again from the page's state once the page has loaded, as a single-page
#: application's router or a framework's client render after a failed hydration does (the markup it made
#: replaced whole, every element the server put there gone).
RENDER_SCRIPT = """
window.addEventListener("load", function () {
  setTimeout(function () {
    var state = JSON.parse(document.getElementById("state").textContent);
    var html = "<article><h1>" + state.title + "</h1>";
    state.paragraphs.forEach(function (p) { if (p) { html += "<p>" + p + "</p>"; } });
    document.querySelector("main").innerHTML = html + "</article>";
    window.rendered = true;
  }, 50);
});
"""


async def rendered_again(request: Request) -> Response:
    """The article served as markup and as the state a script renders it from again after the page loads."""
    state = json.dumps({"title": "Interconnector approved", "paragraphs": TEASER + SECRET_PARAGRAPHS})
    story = f"<article><h1>Interconnector approved</h1>{paragraphs(TEASER + SECRET_PARAGRAPHS)}</article>"
    extra = f'<script id="state" type="application/json">{state}</script><script>{RENDER_SCRIPT}</script>'
    return HTMLResponse(page(story, extra=extra))


async def leaky(request: Request) -> Response:
    return HTMLResponse(leaky_html())


async def cards(request: Request) -> Response:
    card = "<article class='card'><h3>Related story</h3><p>A short summary of another story here.</p></article>"
    return HTMLResponse(
        page(
            f"<article class='story'><h1>Main story</h1>{paragraphs(TEASER + SECRET_PARAGRAPHS)}</article>",
            extra=f"<section class='cards'>{card * 4}</section>",
        )
    )


async def marker(request: Request) -> Response:
    kind = request.path_params["kind"]
    breaks = {
        "more": "<!--more-->",
        "paywall": "<!-- paywall -->",
        "members": "<!--members-only-->",
        "attr": "<div data-paywall-break></div>",
    }
    first = paragraphs(TEASER[:1])
    return HTMLResponse(page(f"<article>{first}{breaks[kind]}{paragraphs(TEASER[1:] + SECRET_PARAGRAPHS)}</article>"))


async def free_header(request: Request) -> Response:
    return HTMLResponse(article_html(), headers={"X-Paywall": "free"})


async def free_meta(request: Request) -> Response:
    return HTMLResponse(article_html().replace("<title>", '<meta name="paywall" content="FREE"><title>'))


async def members_only(request: Request) -> Response:
    return HTMLResponse(
        page("<div class='members-lounge'><p>Members lounge: tessellwyn briefing.</p></div>"),
        headers={"X-Paywall": "members"},
    )


async def no_article(request: Request) -> Response:
    return HTMLResponse(page("<div class='home'><h1>Front page</h1><p>Latest news.</p></div>"))


async def json_api(request: Request) -> Response:
    return JSONResponse({"body": FULL_TEXT})


async def image(request: Request) -> Response:
    return Response(PNG, media_type="image/png")


async def redirect(request: Request) -> Response:
    return RedirectResponse("/article", status_code=302)


async def not_found(request: Request) -> Response:
    return HTMLResponse(article_html(), status_code=404)


async def encoded(request: Request) -> Response:
    raw = article_html().encode()
    coding = request.path_params["coding"]
    body = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}[coding](raw)
    return Response(body, media_type="text/html; charset=utf-8", headers={"Content-Encoding": coding})


async def chunked(request: Request) -> Response:
    data = article_html().replace("Grid operators", "Grid opérateurs — «ünïcode» 電力").encode()

    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 7):  # splits multi-byte characters between chunks
            yield data[i : i + 7]

    return StreamingResponse(gen(), media_type="text/html; charset=utf-8")


async def latin1(request: Request) -> Response:
    data = article_html().replace('<meta charset="utf-8">', "").replace("Grid operators", "Grid opérateurs")
    return Response(data.encode("iso-8859-1"), headers={"Content-Type": "TEXT/HTML; Charset=ISO-8859-1"})


async def xhtml(request: Request) -> Response:
    data = article_html().replace('<html lang="en">', '<html xmlns="http://www.w3.org/1999/xhtml" lang="en">')
    return Response(data.encode(), media_type="application/xhtml+xml")


async def cached(request: Request) -> Response:
    body = article_html().encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    headers = {
        "ETag": etag,
        "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT",
        "Accept-Ranges": "bytes",
        "Cache-Control": "public, max-age=600",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    rng = request.headers.get("range")
    if rng and rng.startswith("bytes="):
        start, _, end = rng[6:].partition("-")
        first, last = int(start), int(end or len(body) - 1)
        part = body[first : last + 1]
        headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
        return Response(part, status_code=206, media_type="text/html; charset=utf-8", headers=headers)
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


async def huge(request: Request) -> Response:
    filler = "<p>" + "Filler words about the weather. " * 40 + "</p>"
    return HTMLResponse(page(f"<article>{paragraphs(TEASER + SECRET_PARAGRAPHS)}{filler * 2000}</article>"))


async def deep(request: Request) -> Response:
    return HTMLResponse(
        page(f"<article>{paragraphs(TEASER)}{'<div>' * 100_000}{paragraphs(SECRET_PARAGRAPHS)}</article>")
    )


async def streamed_text(request: Request) -> Response:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(5):
            yield f"line {i}\n".encode()

    return StreamingResponse(gen(), media_type="text/plain")


async def plain(request: Request) -> Response:
    return PlainTextResponse(FULL_TEXT)


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


routes = [
    Route("/article", article, methods=["GET", "HEAD", "POST"]),
    Route("/leaky", leaky),
    Route("/shadow", shadow),
    Route("/rendered-again", rendered_again),
    Route("/cards", cards),
    Route("/marker/{kind}", marker),
    Route("/free-header", free_header),
    Route("/free-meta", free_meta),
    Route("/members-only", members_only),
    Route("/", no_article),
    Route("/api", json_api),
    Route("/image.png", image),
    Route("/redirect", redirect),
    Route("/missing", not_found),
    Route("/encoded/{coding}", encoded),
    Route("/chunked", chunked),
    Route("/latin1", latin1),
    Route("/xhtml", xhtml),
    Route("/cached", cached),
    Route("/huge", huge),
    Route("/deep", deep),
    Route("/stream.txt", streamed_text),
    Route("/plain", plain),
    Route("/static/article", article),
    WebSocketRoute("/ws", ws),
]

site = Starlette(routes=routes)


def build_app() -> object:
    """The site behind the paywall, configured from ``PAYWALL_*`` variables (for uvicorn)."""
    from paywall import PaywallMiddleware, PaywallSettings

    return PaywallMiddleware(site, settings=PaywallSettings.from_env())
