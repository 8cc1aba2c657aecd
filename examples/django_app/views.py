"""Views that know nothing about the paywall: the templates and the middleware do.

``article.html`` writes ``{% paywall_break %}`` after ``break_after`` paragraphs,
and ``base.html`` shows the reader's access from the ``paywall`` context value.
"""

from __future__ import annotations

import dataclasses

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from paywall.contrib.django.members import aaccess


@dataclasses.dataclass(frozen=True)
class Story:
    title: str
    paragraphs: tuple[str, ...]
    #: The teaser ends after this many paragraphs (the template writes the break marker there).
    break_after: int = 2


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


def home(request: HttpRequest) -> HttpResponse:
    stories = [{"slug": slug, "title": story.title} for slug, story in ARTICLES.items()]
    return render(request, "home.html", {"stories": stories})


def article(request: HttpRequest, slug: str) -> HttpResponse:
    story = ARTICLES.get(slug)
    if story is None:
        raise Http404("No such article")
    return render(request, "article.html", {"story": story})


def subscribe(request: HttpRequest) -> HttpResponse:
    return render(request, "subscribe.html")


def api_articles(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"articles": [{"slug": slug, "title": a.title, "url": f"/articles/{slug}"} for slug, a in ARTICLES.items()]}
    )


async def whoami(request: HttpRequest) -> JsonResponse:
    """An async view: the reader's access as the paywall sees it, for the site's own scripts."""
    access = await aaccess(request)
    return JsonResponse(access.as_json(), headers={"Cache-Control": "private, no-store", "Vary": "Cookie"})
