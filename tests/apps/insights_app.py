"""A small news site for the insights tests: numbered stories, one with a canonical link elsewhere.

``/story/3`` names ``/news/three`` as its canonical address, so its article is
counted as ``/news/three``. A request with ``X-Test-Member: yes`` is a member.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.apps.gate_app import SECRET_PARAGRAPHS, TEASER, page, paragraphs


async def story(request: Request) -> Response:
    number = request.path_params["number"]
    head = '<link rel="canonical" href="https://news.example/news/three">' if number == "3" else ""
    return HTMLResponse(
        page(f"<article><h1>Story {number}</h1>{paragraphs(TEASER + SECRET_PARAGRAPHS)}</article>", head=head)
    )


async def favicon(request: Request) -> Response:
    return Response(status_code=204)


def is_member(request: Request) -> bool:
    return request.headers.get("x-test-member") == "yes"


site = Starlette(routes=[Route("/story/{number}", story), Route("/favicon.ico", favicon)])


def build_app() -> object:
    """The site behind the paywall, configured from ``PAYWALL_*`` variables (a uvicorn factory)."""
    from paywall import PaywallMiddleware, PaywallSettings

    return PaywallMiddleware(site, settings=PaywallSettings.from_env())
