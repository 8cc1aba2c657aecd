"""Northline Insight: a small news site, with and without the paywall in front of it.

``app`` is the site exactly as a publisher would have it before installing
the paywall; ``build_app()`` returns the same site wrapped in
:class:`paywall.PaywallMiddleware`. Run either with uvicorn::

    uvicorn examples.news_site.app:app                       # the site alone
    uvicorn --factory examples.news_site.app:build_app       # behind the paywall

``build_app()`` without arguments reads ``PAYWALL_*`` environment variables
(``PAYWALL_SECRET_KEY``, ``PAYWALL_STORE``, ...) on top of demo defaults.

What the site shows off:

* a home page and section pages listing the articles (no ``<article>`` there,
  so they pass through the paywall untouched);
* six members' articles, each marked up differently (plain ``<article>``,
  schema.org ``itemprop="articleBody"``, WordPress ``entry-content`` with
  ``<!--more-->``, an explicit ``data-paywall-break``, related stories as
  ``<article>`` cards, and a server-rendered app that repeats the text in
  JSON-LD, meta descriptions and ``__NEXT_DATA__``);
* one article made free by ``<meta name="paywall" content="free">`` and one
  made free by the response header ``X-Paywall: free``;
* ``/about``, ``/subscribe``, ``/privacy``, ``/terms``, a newsletter form,
  static files under ``/static/`` and a JSON feed at ``/api/articles``.
* behind the paywall, every page asks ``request.state.paywall`` who the reader
  is: the top bar says how many free articles are left this month (with
  ``PAYWALL_FREE_ARTICLES`` set) or when a trial ends, and members see no
  Subscribe button.

Seeing the member view
    The demo counts a reader as a member when the request carries the cookie
    ``demo_member=1`` (see :func:`demo_member_resolver`). ``/demo/login``
    sets that cookie and ``/demo/logout`` removes it; every page has a link
    to them in its top bar. Anyone can set such a cookie, so this is for
    demonstration only: a real site's resolver checks its own login session.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from paywall.contrib.fastapi import paywall_access

from . import templates
from .content import ARTICLES, ARTICLES_BY_SLUG, SECTIONS, SITE_NAME, section_slug

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from paywall import PaywallSettings

logger = logging.getLogger("examples.news_site")

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Cookie that makes a reader a member in this demo (and only in this demo).
DEMO_MEMBER_COOKIE = "demo_member"

#: DEMO ONLY. Used when PAYWALL_SECRET_KEY is not set, so that the example starts
#: with no configuration. Never deploy with it: anyone can read it here.
DEMO_SECRET_KEY = "northline-demo-secret-key-NOT-FOR-PRODUCTION"

_MAX_NEWSLETTER_FORM = 4096


def demo_member_resolver(request: Request) -> bool:
    """A reader with the cookie ``demo_member=1`` is a member.

    For the demonstration only: a real resolver looks up the site's own
    session or account, because anyone can set a cookie like this one.
    Usable from a settings file as ``examples.news_site.app:demo_member_resolver``.
    """
    return request.cookies.get(DEMO_MEMBER_COOKIE) == "1"


async def _visitor(request: Request) -> templates.Visitor:
    """The demo's sign-in and, behind the paywall, ``request.state.paywall``'s view of the reader."""
    return templates.Visitor(demo_member=demo_member_resolver(request), access=await paywall_access(request))


def safe_next(value: str | None) -> str:
    """A path on this site to go back to; anything else (other hosts, schemes) becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x20 or c in "\\\x7f" for c in value):
        return "/"
    return value


# ---------------------------------------------------------------------------
# pages


async def home(request: Request) -> Response:
    return HTMLResponse(templates.home(visitor=await _visitor(request)))


async def section(request: Request) -> Response:
    slug = request.path_params["slug"]
    for name in SECTIONS:
        if section_slug(name) == slug:
            articles = [a for a in ARTICLES if a.section == name]
            return HTMLResponse(templates.section_page(name, articles, visitor=await _visitor(request)))
    raise HTTPException(404)


async def article(request: Request) -> Response:
    item = ARTICLES_BY_SLUG.get(request.path_params["slug"])
    if item is None:
        raise HTTPException(404)
    response = HTMLResponse(templates.render_article(item, visitor=await _visitor(request)))
    if item.access == "free-header":
        # The app tells the paywall this page is free; the paywall removes the header.
        response.headers["X-Paywall"] = "free"
    return response


async def about(request: Request) -> Response:
    return HTMLResponse(
        templates.text_page(
            title=f"About {SITE_NAME}",
            path="/about",
            intro=(
                f"{SITE_NAME} is an independent publication that explains the business forces behind "
                "the headlines, for readers who have to make decisions about them."
            ),
            blocks=(
                (
                    "What we cover",
                    "Energy and clean technology, mining and rare earths, aviation and infrastructure, "
                    "manufacturing, big tech and finance: the industries where supply chains, "
                    "regulation and capital meet.",
                ),
                (
                    "How we work",
                    "A small team of editors with experience in the sectors they cover. Every analysis "
                    "is checked against independent sources, and corrections are shown on the article.",
                ),
                (
                    "Membership",
                    "Our explainers are free. Our deeper analysis is for members, whose subscriptions "
                    "pay for the reporting.",
                ),
                (
                    "This demonstration",
                    "This site exists to show a paywall at work. Its articles, authors and companies "
                    "are invented, and nothing you enter is stored.",
                ),
            ),
            visitor=await _visitor(request),
        )
    )


async def privacy(request: Request) -> Response:
    return HTMLResponse(
        templates.text_page(
            title="Privacy and cookie policy",
            path="/privacy",
            intro="What this site stores about you, why, and for how long.",
            blocks=(
                (
                    "Cookies",
                    "A demo member cookie when you choose to sign in as a demo member, and the cookies "
                    "that remember a free trial and this device so that each reader gets one trial. "
                    "No advertising or tracking cookies.",
                ),
                (
                    "Trial sign-ups",
                    "When you start a free trial we keep your e-mail address for the length of the trial "
                    "so that it is used once. We do not share it.",
                ),
                (
                    "Newsletter",
                    "In this demonstration, the newsletter form sends nothing and keeps nothing.",
                ),
                ("Your rights", "Write to the editors to see, correct or delete anything we hold about you."),
            ),
            visitor=await _visitor(request),
        )
    )


async def terms(request: Request) -> Response:
    return HTMLResponse(
        templates.text_page(
            title="Terms and conditions of use",
            path="/terms",
            intro="The rules for reading and sharing what we publish.",
            blocks=(
                (
                    "Personal use",
                    "Membership is for one person. Quote short passages with a link to the article; do "
                    "not republish whole articles.",
                ),
                ("Trials", "One free trial per reader. After the trial, the members\u2019 articles need a plan."),
                (
                    "No advice",
                    "Our analysis is journalism, not investment advice. Check the facts that matter to your decisions.",
                ),
            ),
            visitor=await _visitor(request),
        )
    )


async def subscribe(request: Request) -> Response:
    return HTMLResponse(templates.subscribe_page(visitor=await _visitor(request)))


async def newsletter(request: Request) -> Response:
    """Accept the newsletter form (and store nothing: this is a demonstration)."""
    visitor = await _visitor(request)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_NEWSLETTER_FORM:
            return HTMLResponse(
                templates.message_page(
                    title="That form was too large", message="Please try again.", path="/newsletter", visitor=visitor
                ),
                status_code=413,
            )
    fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10)
    email = (fields.get("email") or [""])[0].strip()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        return HTMLResponse(
            templates.message_page(
                title="Please check your e-mail address",
                message="That does not look like an e-mail address we could send the newsletter to.",
                path="/newsletter",
                visitor=visitor,
            ),
            status_code=400,
        )
    return HTMLResponse(
        templates.message_page(
            title="Thank you for subscribing",
            message=f"In a real site, the next newsletter would go to {email}. This demonstration stores nothing.",
            path="/newsletter",
            visitor=visitor,
        )
    )


async def api_articles(request: Request) -> Response:
    """A JSON feed of the articles' metadata (never their text)."""
    return JSONResponse(
        {
            "site": SITE_NAME,
            "articles": [
                {
                    "slug": a.slug,
                    "url": a.path,
                    "title": a.title,
                    "section": a.section,
                    "summary": a.dek,
                    "author": a.author,
                    "published": a.published.isoformat(),
                    "access": "free" if a.is_free else "members",
                }
                for a in ARTICLES
            ],
        }
    )


async def demo_login(request: Request) -> Response:
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    response.set_cookie(DEMO_MEMBER_COOKIE, "1", max_age=7 * 24 * 3600, httponly=True, samesite="lax")
    return response


async def demo_logout(request: Request) -> Response:
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    response.delete_cookie(DEMO_MEMBER_COOKIE, httponly=True, samesite="lax")
    return response


async def not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    title = "Page not found" if status == 404 else "Something went wrong"
    message = (
        "We could not find that page. It may have moved, or the address may be mistyped."
        if status == 404
        else "Please try again in a moment."
    )
    return HTMLResponse(
        templates.message_page(title=title, message=message, path=request.url.path, visitor=await _visitor(request)),
        status_code=status,
    )


app = Starlette(
    routes=[
        Route("/", home),
        Route("/section/{slug}", section),
        Route("/articles/{slug}", article),
        Route("/about", about),
        Route("/subscribe", subscribe),
        Route("/privacy", privacy),
        Route("/terms", terms),
        Route("/newsletter", newsletter, methods=["POST"]),
        Route("/api/articles", api_articles),
        Route("/demo/login", demo_login),
        Route("/demo/logout", demo_logout),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ],
    exception_handlers={HTTPException: not_found},
)


# ---------------------------------------------------------------------------
# with the paywall


def demo_settings(environ: Mapping[str, str] | None = None) -> PaywallSettings:
    """Settings for the demo: ``PAYWALL_*`` variables over demo defaults.

    Without ``PAYWALL_SECRET_KEY`` the demo key is used, with a warning.
    """
    from paywall.settings import PaywallSettings, env_values

    values: dict[str, object] = {
        "secret_key": DEMO_SECRET_KEY,
        "site_name": SITE_NAME,
        "member_resolver": demo_member_resolver,
        "subscribe_url": "/subscribe",
        "privacy_url": "/privacy",
        "terms_url": "/terms",
    }
    from_env = env_values(os.environ if environ is None else environ)
    if "secret_key" not in from_env:
        logger.warning("PAYWALL_SECRET_KEY is not set: using the demo key, which is not secret")
    values.update(from_env)
    return PaywallSettings.from_mapping(values, source="environment")


def build_app(settings: PaywallSettings | None = None) -> ASGIApp:
    """The news site behind the paywall (``demo_settings()`` when no settings are given)."""
    from paywall import PaywallMiddleware

    return PaywallMiddleware(app, settings=settings if settings is not None else demo_settings())
