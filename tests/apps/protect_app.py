"""An article site with paywall's copy protection, for the browser tests.

Query parameters choose the configuration: ``mode`` (block, attribute, off),
``scope`` (article, page), ``csp=1`` for a strict nonce-based policy,
``nonce=off`` to leave the nonce out (a page the policy must block),
``subject`` for a traced reader, ``message`` for the toast text and
``min_words`` for attribution, ``marker=off`` to leave the article unmarked.
"""

from __future__ import annotations

import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from paywall.protection.assets import ASSET_CACHE_CONTROL
from paywall.protection.tags import Protection, csp_nonce
from paywall.settings import PaywallSettings

SECRET = "browser-test-secret-0123456789abcdef"
PREFIX = "/_paywall"
STRICT_CSP = "script-src 'nonce-{nonce}' 'strict-dynamic'; style-src 'self'; object-src 'none'; base-uri 'none'"
PARAGRAPHS = [
    "Grid operators in the north reported steady demand through the autumn months, with peaks "
    "arriving later in the evening than in any year on record.",
    "Analysts expect the new interconnector to lower wholesale prices by spring, although the "
    "regulator warned that the savings may take a full year to reach household bills.",
    "Regulators have asked for a public consultation before the final approval, and several "
    "coastal councils have already said that they will object to the route of the cable.",
]


def protection(request: Request) -> Protection:
    q = request.query_params
    trace = q.get("mode") == "attribute" and bool(q.get("subject"))
    settings = PaywallSettings(
        secret_key=SECRET,
        prefix=PREFIX,
        copy_protection=q.get("mode", "block"),  # type: ignore[arg-type]
        protect_scope=q.get("scope", "article"),  # type: ignore[arg-type]
        protect_message=q.get("message", "error: This content is protected !!"),
        attribution_min_words=int(q.get("min_words", "20")),
        trace_copies=trace,
    )
    return Protection(settings)


def page(head: str, *, marker: bool = True) -> str:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Interconnector approved</title>{head}</head>
<body>
<header><nav><a id="home" href="/">Home</a></nav>
<label>Search <input id="outside-input" type="search" value=""></label>
<p id="outside-text">Markets close early on Friday.</p></header>
<main>
<article{" data-paywall-article" if marker else ""}>
<h1 id="title">Interconnector approved</h1>
{body}
<p id="linked">See the <a id="article-link" href="/energy">energy coverage</a> for more.</p>
<form><label>Your comment <input id="inside-input" type="text" value=""></label>
<textarea id="inside-textarea"></textarea></form>
<div id="inside-editable" contenteditable="true">Editable note</div>
</article>
</main>
<aside><article id="related"><h2>Related</h2><p>Oil reserves go to auction.</p></article></aside>
<footer><p>Stay informed</p></footer>
</body></html>"""


async def article(request: Request) -> Response:
    response = HTMLResponse("")
    if request.query_params.get("csp") == "1":
        response.headers["content-security-policy"] = STRICT_CSP.format(nonce=secrets.token_urlsafe(16))
    nonce = csp_nonce(response.headers) if request.query_params.get("nonce") != "off" else None
    head = protection(request).head_html(
        nonce=nonce,
        subject=request.query_params.get("subject") or None,
        page_url=str(request.url.replace(query="")),
    )
    headers = dict(response.headers)
    headers.pop("content-length", None)
    return HTMLResponse(page(head, marker=request.query_params.get("marker") != "off"), headers=headers)


async def asset(request: Request) -> Response:
    found = protection(request).asset(request.url.path)
    if found is None:
        return PlainTextResponse("not found", status_code=404)
    body, content_type = found
    return Response(body, media_type=content_type, headers={"cache-control": ASSET_CACHE_CONTROL})


async def favicon(request: Request) -> Response:
    return Response(status_code=204)


async def beacon(request: Request) -> Response:
    """Where the script reports a blocked attempt (the paywall's endpoint counts it)."""
    return Response(status_code=204)


app = Starlette(
    routes=[
        Route("/article", article),
        Route(PREFIX + "/beacon", beacon, methods=["POST"]),
        Route(PREFIX + "/{name}", asset),
        Route("/favicon.ico", favicon),
    ]
)


async def plain_article(request: Request) -> Response:
    """The article as the site serves it, before paywall adds anything."""
    headers = {}
    if request.query_params.get("csp") == "1":
        headers["content-security-policy"] = STRICT_CSP.format(nonce=secrets.token_urlsafe(16))
    return HTMLResponse(page(""), headers=headers)


def build_gated() -> object:
    """The same site behind ``PaywallMiddleware``, configured from ``PAYWALL_*`` (uvicorn factory)."""
    from paywall import PaywallMiddleware

    site = Starlette(routes=[Route("/article", plain_article), Route("/favicon.ico", favicon)])
    return PaywallMiddleware(site, settings=PaywallSettings.from_env())
