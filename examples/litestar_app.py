"""The paywall in front of a Litestar app: the app wrapped once, its own sessions telling who is a member.

Run it with::

    PAYWALL_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" \\
        uvicorn examples.litestar_app:app

then open http://127.0.0.1:8000/articles/hydrogen-valleys. A reader who is
not a member gets the first three paragraphs and the call to action; the
JSON route and the free note pass through as the app made them.

Members are the readers the app's own session says are: ``/login`` (a stand-in
for a real sign-in) marks the session, and the paywall's ``member_resolver``
reads it. Litestar's session middleware runs inside the app and puts the
session in the request's scope, and the resolver is asked once the app has
answered, so it sees the session as the app left it.

Pages read the paywall's view of the reader from ``request.state.paywall``
(Litestar keeps request state in the scope, where the paywall puts it) to show
"N free articles left this month" and to hide Subscribe from members.
"""

from __future__ import annotations

import hashlib
from typing import Any

from litestar import Litestar, Request, get
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.response import Redirect

from examples.hydrogen import (
    ARTICLE_LIST,
    ARTICLE_PATH,
    FREE_PATH,
    MEMBER_KEY,
    article_page,
    free_page,
    home_page,
    site_settings,
)
from paywall import PaywallMiddleware
from paywall.access.reader_state import ReaderAccess, ReaderState


async def is_member(request: Any) -> bool:
    """The paywall's member resolver: the app's session says so (Litestar keeps it in the scope)."""
    session = request.scope.get("session")
    return isinstance(session, dict) and session.get(MEMBER_KEY) is True


async def _access(request: Request[Any, Any, Any]) -> ReaderAccess | None:
    """The reader's access as the paywall sees it (None with no paywall in front)."""
    view = request.state.get("paywall")
    return await view.access() if isinstance(view, ReaderState) else None


@get("/", media_type="text/html")
async def home(request: Request[Any, Any, Any]) -> str:
    return home_page(await _access(request))


@get(ARTICLE_PATH, media_type="text/html")
async def article(request: Request[Any, Any, Any]) -> str:
    return article_page(await _access(request))


@get(FREE_PATH, media_type="text/html")
async def free_note(request: Request[Any, Any, Any]) -> str:
    return free_page(await _access(request))


@get("/api/articles")
async def api_articles() -> dict[str, list[dict[str, str]]]:
    return ARTICLE_LIST


@get("/login")
async def login(request: Request[Any, Any, Any]) -> Redirect:
    """DEMO ONLY: anyone who opens it is a member. A real site signs its members in here."""
    request.set_session({MEMBER_KEY: True})
    return Redirect(ARTICLE_PATH)


@get("/logout")
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    request.clear_session()
    return Redirect("/")


settings = site_settings(member_resolver=is_member)
# The session cookie's key, derived from the paywall's secret for the demo; a real app has its own.
session = CookieBackendConfig(secret=hashlib.sha256(b"litestar session\0" + settings.secret_key.encode()).digest())
site = Litestar(
    route_handlers=[home, article, free_note, api_articles, login, logout],
    middleware=[session.middleware],
)
#: The app wrapped whole: every route, Litestar's own errors and its lifespan go through the paywall.
app = PaywallMiddleware(site, settings=settings)
