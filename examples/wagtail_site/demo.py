"""Demo content: a home page and one article for each paywall choice, made on first start.

Every article hides made-up marker words in its last paragraphs, beyond the
break block, so a test can tell the teaser from the whole.
"""

from __future__ import annotations

import dataclasses

#: DEMO ONLY: the editor who can change pages at /admin/ (a superuser, so also a member).
EDITOR = ("editor", "editor-demo-password")


@dataclasses.dataclass(frozen=True)
class DemoArticle:
    slug: str
    title: str
    paywall: str
    paragraphs: tuple[str, ...]
    #: The break block stands after this many paragraphs.
    break_after: int
    markers: tuple[str, ...]


ARTICLES = (
    DemoArticle(
        slug="port-electrification",
        title="Ports Race to Plug In Ships at the Quay",
        paywall="metered",
        paragraphs=(
            "Ships idling at the quay burn fuel to keep their lights on, and ports want that to stop.",
            "Shore power lets a vessel switch off its engines and draw from the grid instead.",
            "The cables are heavy, the connectors still vary between fleets, and grids need upgrading.",
            "Cruise lines have moved first, because their ships sit longest next to city centres.",
            "At the Tidewick terminal, the operator has installed eight connection points in a year.",
            "Container lines say they will follow once the price per hour falls below the fuel cost, "
            "a threshold the trade calls the gantrymoss line.",
        ),
        break_after=2,
        markers=("tidewick", "gantrymoss"),
    ),
    DemoArticle(
        slug="dredging-budgets",
        title="Dredging Budgets Squeezed as Channels Silt Up",
        paywall="members",
        paragraphs=(
            "Shipping channels need dredging every year, and the bill keeps rising.",
            "Larger ships sit deeper in the water, so channels must be dug deeper too.",
            "Ports share the cost with national governments under formulas written decades ago.",
            "Several ports now ask shipping lines to pay a surcharge for the deepest berths.",
            "The Ossenmere estuary authority has postponed two campaigns for lack of funds.",
            "Pilots warn that the margin under the keel is shrinking, what they call quillbank water.",
        ),
        break_after=3,
        markers=("ossenmere", "quillbank"),
    ),
    DemoArticle(
        slug="about-harbour-reporting",
        title="About Our Harbour Reporting",
        paywall="free",
        paragraphs=(
            "Our harbour desk covers ports, shipping lanes and the people who work them.",
            "This note explains how we choose stories and is free for everyone to read.",
            "We visit terminals, read tenders and talk to pilots, crane operators and port authorities.",
            "Corrections are published at the foot of each article with the date of the change.",
            "Our reporters at the Brackenholt desk answer readers' questions every Friday.",
            "Send tips in confidence to the address on our contact page, the one we call the lanternfold box.",
        ),
        break_after=2,
        markers=("brackenholt", "lanternfold"),
    ),
)


def create_content() -> None:
    """The home page, the articles and the editor, unless they exist already."""
    from django.contrib.auth import get_user_model
    from wagtail.models import Page, Site
    from wagtail.rich_text import RichText

    from .news.models import ArticlePage, HomePage

    users = get_user_model()
    if not users.objects.filter(username=EDITOR[0]).exists():
        users.objects.create_superuser(username=EDITOR[0], password=EDITOR[1], email="")
    if HomePage.objects.exists():
        return
    root = Page.get_first_root_node()
    home = root.add_child(instance=HomePage(title="North Sea Energy Review", slug="news-home"))
    site = Site.objects.filter(is_default_site=True).first() or Site(is_default_site=True)
    site.root_page, site.hostname, site.port, site.site_name = home, "localhost", 80, "North Sea Energy Review"
    site.save()
    for article in ARTICLES:
        body: list[tuple[str, object]] = [("paragraph", RichText(f"<p>{p}</p>")) for p in article.paragraphs]
        body.insert(article.break_after, ("paywall_break", None))
        home.add_child(instance=ArticlePage(title=article.title, slug=article.slug, paywall=article.paywall, body=body))


if __name__ == "__main__":
    # ``python -m examples.wagtail_site.demo``: create the database and the demo content
    # ahead of the first start (the server does the same when they are missing).
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.wagtail_site.settings")
    django.setup()

    from examples.django_app.demo import prepare

    prepare(then=create_content)
