"""The paywall in a FastAPI app: one middleware line.

Run it with::

    PAYWALL_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" \\
        uvicorn examples.fastapi_app:app

then open http://127.0.0.1:8000/articles/hydrogen-valleys. A reader who is
not a member gets the first three paragraphs and the call to action; the
JSON route and the free note pass through as the app made them.

Members are recognised here by a signed member cookie (see
``paywall.issue_member_token``); a site with its own accounts would pass a
``member_resolver`` that checks its session instead.

Every page asks the paywall who the reader is (the ``paywall_access``
dependency) to show "N free articles left this month" or the end of a trial,
and to hide the Subscribe button from members. Set ``PAYWALL_FREE_ARTICLES=3``
to see the meter.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

from examples.hydrogen import (
    ARTICLE_LIST,
    ARTICLE_PATH,
    FREE_PATH,
    SITE_NAME,
    article_page,
    free_page,
    home_page,
    site_settings,
)
from paywall import PaywallMiddleware
from paywall.contrib.fastapi import ReaderAccess, paywall_access

app = FastAPI(title=SITE_NAME)
app.add_middleware(PaywallMiddleware, settings=site_settings())


#: The paywall's view of the reader, computed only when a page asks (None without the paywall).
Access = Annotated[ReaderAccess | None, Depends(paywall_access)]


@app.get("/", response_class=HTMLResponse)
async def home(access: Access) -> str:
    return home_page(access)


@app.get(ARTICLE_PATH, response_class=HTMLResponse)
async def article(access: Access) -> str:
    return article_page(access)


@app.get(FREE_PATH, response_class=HTMLResponse)
async def free_note(access: Access) -> str:
    return free_page(access)


@app.get("/api/articles")
def api_articles() -> dict[str, list[dict[str, str]]]:
    return ARTICLE_LIST
