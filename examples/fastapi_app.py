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

import html
import os
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

from paywall import PaywallMiddleware, PaywallSettings
from paywall.contrib.fastapi import ReaderAccess, paywall_access
from paywall.settings import env_values

#: DEMO ONLY: used when PAYWALL_SECRET_KEY is not set. Set your own random key in production.
DEMO_SECRET_KEY = "fastapi-demo-secret-key-NOT-FOR-PRODUCTION"

TITLE = "Hydrogen Valleys Struggle to Find Their First Customers"
PARAGRAPHS = (
    "Regional hydrogen hubs, clusters where electrolysers, pipelines and industrial users are planned "
    "together, were meant to solve the chicken-and-egg problem of clean hydrogen. Three years into the "
    "programmes, many of them have producers ready to build and too few buyers ready to sign.",
    "The buyers that exist are mostly refineries and fertiliser plants, which already use hydrogen made "
    "from natural gas and can switch without changing their processes. Steelmakers and shipping "
    "companies, the users with the most to gain, are waiting for prices to fall.",
    "Price is the sticking point. Green hydrogen still costs two to three times as much as the grey "
    "variety, and subsidies that close the gap are often limited to ten years, shorter than the life of "
    "the plants that would use the gas.",
    "Developers are responding with smaller first phases, sized to the offtake they can secure rather "
    "than to the ambitions in their original plans.",
    "Some hubs are pooling demand: the Verdanthollow cluster has asked a dozen small users to sign one "
    "joint contract, so that no single buyer carries the risk of being first.",
    "Whether that is enough will become clear when the first final investment decisions are due next "
    "year; until then, observers call it the brindlewick pause.",
)
MARKERS = ("verdanthollow", "brindlewick")


def _settings() -> PaywallSettings:
    defaults = {"secret_key": DEMO_SECRET_KEY, "trial_days": 7, "site_name": "Hydrogen Weekly"}
    return PaywallSettings.from_mapping({**defaults, **env_values(os.environ)}, source="environment")


app = FastAPI(title="Hydrogen Weekly")
app.add_middleware(PaywallMiddleware, settings=_settings())


#: The paywall's view of the reader, computed only when a page asks (None without the paywall).
Access = Annotated[ReaderAccess | None, Depends(paywall_access)]


def _reader_line(access: ReaderAccess | None) -> str:
    if access is None or access.is_member:
        return ""
    if access.trial_ends is not None:
        return f'<p class="reader">Your free trial runs until {access.trial_ends:%d %B %Y}.</p>'
    left = access.free_articles_left
    if left is None:
        return ""
    return f'<p class="reader">{left} free article{"" if left == 1 else "s"} left this month.</p>'


def _page(title: str, body: str, access: ReaderAccess | None, head: str = "") -> str:
    member = access is not None and access.is_member
    subscribe = "" if member else '<a class="subscribe" href="/subscribe">Subscribe</a>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>{head}</head><body>"
        f'<header><a href="/">Hydrogen Weekly</a> {subscribe}{_reader_line(access)}</header>'
        f"<main>{body}</main>"
        "<footer><p>Stay informed with Hydrogen Weekly.</p></footer></body></html>"
    )


@app.get("/", response_class=HTMLResponse)
async def home(access: Access) -> str:
    return _page(
        "Hydrogen Weekly",
        f'<h1>Hydrogen Weekly</h1><ul><li><a href="/articles/hydrogen-valleys">{html.escape(TITLE)}</a></li></ul>',
        access,
    )


@app.get("/articles/hydrogen-valleys", response_class=HTMLResponse)
async def article(access: Access) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in PARAGRAPHS)
    return _page(TITLE, f"<article><h1>{html.escape(TITLE)}</h1>{paragraphs}</article>", access)


@app.get("/articles/about-this-site", response_class=HTMLResponse)
async def free_note(access: Access) -> str:
    """Free to read: the page says so with ``<meta name="paywall" content="free">``."""
    text = "<p>Hydrogen Weekly follows the hydrogen economy. This note is free to read.</p>" * 4
    return _page("About", f"<article><h1>About</h1>{text}</article>", access, '<meta name="paywall" content="free">')


@app.get("/api/articles")
def api_articles() -> dict[str, list[dict[str, str]]]:
    return {"articles": [{"title": TITLE, "url": "/articles/hydrogen-valleys"}]}
