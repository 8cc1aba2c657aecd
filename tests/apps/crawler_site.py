"""A news site with one article in several views and several kinds of structured data, for the search tests.

The article's paragraphs after the teaser each carry a made-up marker word
(``SECRET_WORDS``) and are written so that every run of five words in them is
found nowhere else on the page: :func:`withheld_runs` lists any such run a
response still holds, in any encoding the suite's leak checks undo.

``app`` is the bare site (an upstream for ``paywall proxy``); ``build_app``
puts the paywall in front of it with settings from ``PAYWALL_*`` variables
(``uvicorn --factory tests.apps.crawler_site:build_app``).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from paywall import PaywallMiddleware, PaywallSettings
from paywall.engine.text import shingles, words
from tests.conftest import readable_variants

TITLE = "Harbour council approves the dredging plan"
TEASER = [
    "The harbour council voted on Tuesday evening to approve the long debated dredging plan for the old port.",
    "Fishermen gathered outside the town hall and followed the debate on a screen set up by the harbour master.",
    "The plan still needs the signature of the regional water authority before any machine enters the basin.",
]
SECRET_PARAGRAPHS = [
    "A leaked memo from quindlewort engineers warns that the silt holds twice the permitted level of heavy metals.",
    "Two councillors admitted privately that the orvanthe fund will cover only a third of the expected costs.",
    "The mayor's office drafted a fallback that would sell the marlicote pier to a private logistics operator.",
    "Insurers have quietly raised the premium on the zephrander breakwater after the winter storm surveys.",
]
SECRET_WORDS = ["quindlewort", "orvanthe", "marlicote", "zephrander"]
FULL_TEXT = " ".join(TEASER + SECRET_PARAGRAPHS)
RUN_WORDS = 5


def paragraphs(items: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in items)


def ld_json(value: Any) -> str:
    return f'<script type="application/ld+json">{json.dumps(value)}</script>'


NEWS_ARTICLE = {
    "@context": "https://schema.org",
    "@type": "NewsArticle",
    "headline": TITLE,
    "datePublished": "2026-11-24T08:00:00Z",
    "articleBody": FULL_TEXT,
}


def page(body: str, *, head: str = "", html_attributes: str = 'lang="en"', canonical: str = "/news/story") -> str:
    link = f'<link rel="canonical" href="https://news.example{canonical}">' if canonical else ""
    return (
        f'<!DOCTYPE html><html {html_attributes}><head><meta charset="utf-8"><title>{TITLE}</title>{link}{head}</head>'
        f'<body><header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>{body}'
        "<footer><p>The Harbour Gazette, since 1911.</p></footer></body></html>"
    )


def article_page(head: str = "", *, canonical: str = "/news/story") -> str:
    return page(
        f"<main><article><h1>{TITLE}</h1>{paragraphs(TEASER + SECRET_PARAGRAPHS)}</article></main>",
        head=head,
        canonical=canonical,
    )


AMP_HEAD = (
    '<meta name="viewport" content="width=device-width"><script async src="https://cdn.ampproject.org/v0.js"></script>'
    "<style amp-boilerplate>body{-webkit-animation:none;animation:none}</style>"
    "<style amp-custom>.amp-wp-article{max-width:40rem}</style>"
)


def amp_page(content: str, *, head: str = "") -> str:
    """An AMP page as the WordPress AMP plugin makes them: no ``<article>``, the story in ``amp-wp-*`` divs."""
    return page(
        '<div class="amp-wp-article"><div class="amp-wp-article-header">'
        f'<h1 class="amp-wp-title">{TITLE}</h1></div>{content}</div>',
        head=AMP_HEAD + head,
        html_attributes='\u26a1 lang="en"',
    )


AMP_CONTENT = (
    '<div class="amp-wp-article-content">'
    '<amp-img src="/harbour.jpg" width="1200" height="800" layout="responsive" alt="The old port"></amp-img>'
    f"{paragraphs(TEASER + SECRET_PARAGRAPHS)}</div>"
)


def print_page() -> str:
    """A print view: no navigation, the story in a plain div."""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{TITLE} (print)</title>'
        '<link rel="canonical" href="https://news.example/news/story"></head>'
        f'<body onload="window.print()"><div class="print-story"><h1>{TITLE}</h1>'
        f"{paragraphs(TEASER + SECRET_PARAGRAPHS)}</div></body></html>"
    )


def hidden_view() -> str:
    """Another view of the story whose text stands in an ``<aside>``, where no article is ever looked for."""
    return page(f"<aside class='story-view'><h1>{TITLE}</h1>{paragraphs(TEASER + SECRET_PARAGRAPHS)}</aside>")


PAGES: dict[str, str] = {
    "/news/story": article_page(ld_json(NEWS_ARTICLE)),
    "/news/story/amp": amp_page(AMP_CONTENT, head=ld_json(NEWS_ARTICLE)),
    "/amp/news/story": amp_page(AMP_CONTENT, head=ld_json(NEWS_ARTICLE)),
    "/print/news/story": print_page(),
    "/news/graph": article_page(
        ld_json({"@context": "https://schema.org", "@graph": [{"@type": "WebSite", "name": "Gazette"}, NEWS_ARTICLE]}),
        canonical="/news/graph",
    ),
    "/news/array": article_page(ld_json([{"@type": "Organization", "name": "Gazette"}, NEWS_ARTICLE])),
    "/news/main-entity": article_page(
        ld_json({"@context": "https://schema.org", "@type": "WebPage", "mainEntity": NEWS_ARTICLE})
    ),
    "/news/plain": article_page(canonical="/news/plain"),
    "/news/invalid": article_page('<script type="application/ld+json">{"@type": "NewsArticle", </script>'),
    "/news/robots": article_page(ld_json(NEWS_ARTICLE)),
    "/amp/news/hidden": hidden_view(),
    "/m/hidden": hidden_view(),
    "/about": page("<main><h1>About us</h1><p>A small paper.</p></main>", canonical="/about"),
    # A short note (no article by itself), and its comments, which name it as their canonical page.
    "/notes/tides": page(f"<main><h1>Tide tables</h1>{paragraphs(TEASER)}</main>", canonical="/notes/tides"),
    "/notes/tides/comments": page(
        "<main><h1>Comments</h1><div class='comment'><p>Thanks for the tables, very useful.</p></div></main>",
        canonical="/notes/tides",
    ),
}


async def show(request: Request) -> Response:
    path = request.url.path
    if path == "/news/story" and request.query_params.get("print") == "1":
        return HTMLResponse(print_page())
    body = PAGES.get(path)
    if body is None:
        return HTMLResponse("<!DOCTYPE html><title>Not found</title><p>Not found</p>", status_code=404)
    headers = {"X-Robots-Tag": "noindex"} if path == "/news/robots" else {}
    return HTMLResponse(body, headers=headers)


app = Starlette(routes=[Route("/{path:path}", show)])


def build_app() -> ASGIApp:
    """The site behind the paywall, configured from the environment."""
    return PaywallMiddleware(app, settings=PaywallSettings.from_env())


def withheld_runs(body: bytes | str) -> list[str]:
    """Runs of five words from beyond the teaser that ``body`` holds, in any encoding the leak checks undo."""
    secret = shingles(words(" ".join(SECRET_PARAGRAPHS)), RUN_WORDS) - shingles(words(" ".join(TEASER)), RUN_WORDS)
    found: set[tuple[str, ...]] = set()
    for variant in readable_variants(body):
        found |= shingles(words(variant), RUN_WORDS) & secret
    return sorted(" ".join(run) for run in found)
