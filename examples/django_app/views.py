"""Views that know nothing about the paywall: the middleware in ``asgi.py`` does the gating."""

from __future__ import annotations

import dataclasses
import html

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse


@dataclasses.dataclass(frozen=True)
class Story:
    title: str
    paragraphs: tuple[str, ...]


ARTICLES = {
    "offshore-wind-auctions": Story(
        title="Offshore Wind Auctions Draw Fewer Bidders as Costs Climb",
        paragraphs=(
            "Governments around the North Sea are discovering that an auction is only as good as its "
            "bidders. Several recent offshore wind rounds closed with fewer offers than sites on offer, "
            "a reversal from the years when developers competed to build for almost nothing.",
            "Developers blame turbine prices, higher interest rates and the cost of vessels that install "
            "foundations, all of which rose faster than the price caps written into auction rules.",
            "Governments are adjusting: higher ceiling prices, indexation of contracts to inflation and "
            "penalties for winners who walk away from their projects.",
            "The industry says the changes are overdue and that supply chains need steady volumes, not "
            "bursts of ambition followed by empty rounds.",
            "One port authority has even offered its quayside rent-free to the Marrowgale consortium "
            "if it commits to assembling turbines there for ten years.",
            "Investors will watch the next rounds closely; the term traders use for a round with no "
            "bids at all is a stillwhistle auction.",
        ),
    ),
}
MARKERS = ("marrowgale", "stillwhistle")


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>"
        '<header><a href="/">North Sea Energy Review</a></header>'
        f"<main>{body}</main>"
        "<footer><p>Stay informed with the North Sea Energy Review.</p></footer></body></html>"
    )


def home(request: HttpRequest) -> HttpResponse:
    links = "".join(
        f'<li><a href="/articles/{html.escape(slug)}">{html.escape(a.title)}</a></li>' for slug, a in ARTICLES.items()
    )
    return HttpResponse(_page("North Sea Energy Review", f"<h1>Latest</h1><ul>{links}</ul>"))


def article(request: HttpRequest, slug: str) -> HttpResponse:
    item = ARTICLES.get(slug)
    if item is None:
        raise Http404("No such article")
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in item.paragraphs)
    return HttpResponse(_page(item.title, f"<article><h1>{html.escape(item.title)}</h1>{paragraphs}</article>"))


def api_articles(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"articles": [{"slug": slug, "title": a.title, "url": f"/articles/{slug}"} for slug, a in ARTICLES.items()]}
    )
