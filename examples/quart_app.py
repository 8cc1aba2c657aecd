"""The paywall in front of a Quart app: the app wrapped once, its own login telling who is a member.

Run it with::

    PAYWALL_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" \\
        uvicorn examples.quart_app:app

then open http://127.0.0.1:8000/articles/hydrogen-valleys. A reader who is
not a member gets the first three paragraphs and the call to action; the
JSON route and the free note pass through as the app made them.

Quart keeps its session in the request's context, out of the paywall's
reach, so the app tells the paywall itself (as the Django integration does):

* before a page renders, ``vouch_member()`` on the paywall's view of the
  request, so that the page and the gate agree (Subscribe hidden, article whole);
* on every response, ``X-Paywall-Access: member``, which the paywall reads and
  removes before the reader gets the page. The header also works with the
  site behind ``paywall proxy`` instead.

``/login`` (a stand-in for a real sign-in) marks the session.
"""

from __future__ import annotations

from quart import Quart, Response, redirect, request, session
from quart.typing import ResponseReturnValue

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
from paywall.access.reader_state import ReaderAccess, reader_state

#: The response header that tells the paywall the reader is a member (read and removed by it).
ACCESS_HEADER = "X-Paywall-Access"


settings = site_settings()
site = Quart(__name__)
# The session cookie's key: the paywall's secret for the demo; a real app has its own.
site.secret_key = "quart session\0" + settings.secret_key


def _member() -> bool:
    return session.get(MEMBER_KEY) is True


async def _access() -> ReaderAccess | None:
    """The reader's access as the paywall sees it (None with no paywall in front)."""
    view = reader_state(request.scope)
    if view is None:
        return None
    if _member():
        view.vouch_member()
    return await view.access()


@site.after_request
async def tell_the_paywall(response: Response) -> Response:
    if _member():
        response.headers[ACCESS_HEADER] = "member"
    return response


@site.get("/")
async def home() -> str:
    return home_page(await _access())


@site.get(ARTICLE_PATH)
async def article() -> str:
    return article_page(await _access())


@site.get(FREE_PATH)
async def free_note() -> str:
    return free_page(await _access())


@site.get("/api/articles")
async def api_articles() -> dict[str, list[dict[str, str]]]:
    return ARTICLE_LIST


@site.get("/login")
async def login() -> ResponseReturnValue:
    """DEMO ONLY: anyone who opens it is a member. A real site signs its members in here."""
    session[MEMBER_KEY] = True
    return redirect(ARTICLE_PATH)


@site.get("/logout")
async def logout() -> ResponseReturnValue:
    session.clear()
    return redirect("/")


#: The app wrapped whole: every route, Quart's own errors and its lifespan go through the paywall.
app = PaywallMiddleware(site, settings=settings)
