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
"""

from __future__ import annotations

import html
import os

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from paywall import PaywallMiddleware, PaywallSettings

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
    return PaywallSettings(
        secret_key=os.environ.get("PAYWALL_SECRET_KEY", DEMO_SECRET_KEY),
        trial_days=7,
        store=os.environ.get("PAYWALL_STORE", "sqlite:///paywall.db"),
        site_name="Hydrogen Weekly",
    )


app = FastAPI(title="Hydrogen Weekly")
app.add_middleware(PaywallMiddleware, settings=_settings())


def _page(title: str, body: str, head: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>{head}</head><body>"
        '<header><a href="/">Hydrogen Weekly</a></header>'
        f"<main>{body}</main>"
        "<footer><p>Stay informed with Hydrogen Weekly.</p></footer></body></html>"
    )


@app.get("/", response_class=HTMLResponse)
def home() -> str:
    return _page(
        "Hydrogen Weekly",
        f'<h1>Hydrogen Weekly</h1><ul><li><a href="/articles/hydrogen-valleys">{html.escape(TITLE)}</a></li></ul>',
    )


@app.get("/articles/hydrogen-valleys", response_class=HTMLResponse)
def article() -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in PARAGRAPHS)
    return _page(TITLE, f"<article><h1>{html.escape(TITLE)}</h1>{paragraphs}</article>")


@app.get("/articles/about-this-site", response_class=HTMLResponse)
def free_note() -> str:
    """Free to read: the page says so with ``<meta name="paywall" content="free">``."""
    text = "<p>Hydrogen Weekly follows the hydrogen economy. This note is free to read.</p>" * 4
    return _page("About", f"<article><h1>About</h1>{text}</article>", '<meta name="paywall" content="free">')


@app.get("/api/articles")
def api_articles() -> dict[str, list[dict[str, str]]]:
    return {"articles": [{"title": TITLE, "url": "/articles/hydrogen-valleys"}]}
