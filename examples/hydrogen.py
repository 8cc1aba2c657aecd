"""The small site the FastAPI, Litestar and Quart examples serve: one article, a free note, a home page.

Each example renders these pages with its own framework and puts the
paywall in front of it; only the way members are recognised differs.
"""

from __future__ import annotations

import html
import os
from typing import Any

from paywall import PaywallSettings
from paywall.access.reader_state import ReaderAccess
from paywall.settings import env_values

#: DEMO ONLY: used when PAYWALL_SECRET_KEY is not set. Set your own random key in production.
DEMO_SECRET_KEY = "hydrogen-demo-secret-key-NOT-FOR-PRODUCTION"

SITE_NAME = "Hydrogen Weekly"
ARTICLE_PATH = "/articles/hydrogen-valleys"
FREE_PATH = "/articles/about-this-site"
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
#: Words that stand only beyond the teaser: a non-member's page must not hold them.
MARKERS = ("verdanthollow", "brindlewick")
#: What the JSON route answers.
ARTICLE_LIST = {"articles": [{"title": TITLE, "url": ARTICLE_PATH}]}
#: The session key the Litestar and Quart apps set for a member.
MEMBER_KEY = "member"


def site_settings(**code: Any) -> PaywallSettings:
    """The paywall's settings for the site: ``PAYWALL_*`` variables over the demo's defaults; ``code`` for what
    only Python can give (a member resolver)."""
    defaults = {"secret_key": DEMO_SECRET_KEY, "trial_days": 7, "site_name": SITE_NAME}
    return PaywallSettings.from_mapping({**defaults, **env_values(os.environ), **code}, source="environment")


def reader_line(access: ReaderAccess | None) -> str:
    """ "N free articles left this month", or the end of the reader's trial (nothing for members)."""
    if access is None or access.is_member:
        return ""
    if access.trial_ends is not None:
        return f'<p class="reader">Your free trial runs until {access.trial_ends:%d %B %Y}.</p>'
    left = access.free_articles_left
    if left is None:
        return ""
    return f'<p class="reader">{left} free article{"" if left == 1 else "s"} left this month.</p>'


def page(title: str, body: str, access: ReaderAccess | None, head: str = "") -> str:
    """A whole page of the site: Subscribe is hidden from members."""
    member = access is not None and access.is_member
    subscribe = "" if member else '<a class="subscribe" href="/subscribe">Subscribe</a>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>{head}</head><body>"
        f'<header><a href="/">{SITE_NAME}</a> {subscribe}{reader_line(access)}</header>'
        f"<main>{body}</main>"
        f"<footer><p>Stay informed with {SITE_NAME}.</p></footer></body></html>"
    )


def home_page(access: ReaderAccess | None) -> str:
    link = f'<ul><li><a href="{ARTICLE_PATH}">{html.escape(TITLE)}</a></li></ul>'
    return page(SITE_NAME, f"<h1>{SITE_NAME}</h1>{link}", access)


def article_page(access: ReaderAccess | None) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in PARAGRAPHS)
    return page(TITLE, f"<article><h1>{html.escape(TITLE)}</h1>{paragraphs}</article>", access)


def free_page(access: ReaderAccess | None) -> str:
    """Free to read: the page says so with ``<meta name="paywall" content="free">``."""
    text = f"<p>{SITE_NAME} follows the hydrogen economy. This note is free to read.</p>" * 4
    return page("About", f"<article><h1>About</h1>{text}</article>", access, '<meta name="paywall" content="free">')
