"""An article in Markdown or plain text is gated like its page.

Sites serve their articles as text too: a Markdown view at ``/story.md`` (for
readers' tools and AI agents), the same page in Markdown or plain text to a
client whose ``Accept`` asks for it. Sent as made, the whole story reaches
anyone who asks for that representation. The same site as ``test_feeds``
(``tests/apps/feeds_site.py``), behind the middleware in a real uvicorn and
behind a real ``paywall proxy``; text that is no article (``robots.txt``,
``llms.txt``, a large log) comes through byte for byte, streaming.
"""

from __future__ import annotations

import re

import httpx
import pytest

from paywall import PaywallSettings, issue_member_token
from paywall.errors import FormatError
from paywall.formats import text_body
from tests.apps.feeds_site import BRIDGE, HARBOUR, LISTING_RSC, LLMS, ROBOTS, markdown, rsc_payload
from tests.test_feeds import READ_ON, assert_whole, assert_withheld_absent, get, site_fixtures

tmp, settings, bare, gated = site_fixtures("text")


def _words(text: str) -> str:
    """``text`` with its lines joined: wrapped Markdown read as its words."""
    return " ".join(text.split())


def assert_cut(response: httpx.Response, media: str) -> None:
    """The story cut at its teaser, for every cache a private answer, one line linking to its page."""
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media}; charset=utf-8"
    assert response.headers["cache-control"] == "private, no-cache" and "Cookie" in response.headers["vary"]
    assert response.headers["etag"].startswith('"pw-')
    assert_withheld_absent(response.content, HARBOUR)
    text = _words(response.text)
    assert HARBOUR.title in text
    assert HARBOUR.teaser[0] in text and HARBOUR.teaser[1] in text
    assert text.count(READ_ON) == 1 and HARBOUR.link in text
    assert text.index(HARBOUR.teaser[1]) < text.index(READ_ON)


def test_a_markdown_view_of_a_story_is_cut_at_its_teaser(gated: str) -> None:
    assert_cut(get(gated, f"/{HARBOUR.slug}.md"), "text/markdown")


def test_markdown_or_plain_text_asked_of_the_page_is_cut_at_its_teaser(gated: str) -> None:
    """The page's address, another representation by content negotiation: judged by what comes back."""
    for accept, media in (("text/markdown", "text/markdown"), ("text/plain", "text/plain")):
        assert_cut(get(gated, f"/{HARBOUR.slug}", headers={"accept": accept}), media)
        assert_withheld_absent(get(gated, f"/{BRIDGE.slug}", headers={"accept": accept}).content, BRIDGE)
    page = get(gated, f"/{HARBOUR.slug}", headers={"accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert_withheld_absent(page.content, HARBOUR)


def test_a_member_reads_the_markdown_whole(gated: str, settings: PaywallSettings) -> None:
    token = issue_member_token(settings, "member-1", 30)
    response = get(gated, f"/{HARBOUR.slug}.md", cookies={"paywall_member": token})
    assert response.status_code == 200 and response.text == markdown(HARBOUR)
    assert response.headers["cache-control"] == "private, no-store"
    assert_whole(response.content, HARBOUR)


@pytest.mark.parametrize(("path", "body"), [("/robots.txt", ROBOTS), ("/llms.txt", LLMS)])
def test_text_that_is_no_article_comes_through_as_made(gated: str, bare: str, path: str, body: bytes) -> None:
    response, original = get(gated, path), get(bare, path)
    assert response.status_code == 200 and response.content == original.content == body
    assert "private" not in response.headers.get("cache-control", "")
    assert response.headers["content-type"] == original.headers["content-type"]


def test_a_large_text_file_without_prose_streams_whole(gated: str, bare: str) -> None:
    """Larger than ``max_body_bytes`` (5 MiB): a log is no article, so it streams on as made."""
    with httpx.stream("GET", gated + "/logs/access.log", timeout=30) as response:
        assert response.status_code == 200
        body = response.read()
    assert len(body) > 5 * 1024 * 1024
    assert body == get(bare, "/logs/access.log").content


def test_text_that_streams_ends_where_an_article_shows_up(gated: str) -> None:
    """Its first part holds no prose (the title alone), so it streams; the next part is the story: cut short."""
    response = get(gated, "/stream/story.txt")
    assert response.status_code == 200
    assert response.text.startswith(HARBOUR.title)
    assert_withheld_absent(response.content, HARBOUR)


# --------------------------------------------------------------------------- React Server Components


RSC = {"rsc": "1", "next-router-state-tree": "%5B%22%22%5D"}


def test_a_routers_payload_of_an_article_is_refused_so_that_the_page_loads(gated: str) -> None:
    """Next.js's router fetches a page's payload (``RSC: 1``) to show it without loading it: the whole story
    in its strings. A non-member gets no payload, so the router loads the page, which is gated."""
    response = get(gated, f"/app/{HARBOUR.slug}?_rsc=1x2y3", headers=RSC)
    assert response.status_code == 403
    assert not response.headers["content-type"].startswith("text/x-component")
    assert response.headers["cache-control"] == "private, no-store"
    assert_withheld_absent(response.content, HARBOUR)
    assert READ_ON not in response.text and "trial" in response.text
    page = get(gated, f"/app/{HARBOUR.slug}")
    assert page.status_code == 200 and HARBOUR.teaser[0] in page.text
    assert_withheld_absent(page.content, HARBOUR)


def test_a_member_gets_the_routers_payload_as_made(gated: str, settings: PaywallSettings) -> None:
    token = issue_member_token(settings, "member-1", 30)
    response = get(gated, f"/app/{HARBOUR.slug}?_rsc=1x2y3", headers=RSC, cookies={"paywall_member": token})
    assert response.status_code == 200 and response.text == rsc_payload(HARBOUR)
    assert response.headers["content-type"].startswith("text/x-component")
    assert response.headers["cache-control"] == "private, no-store"


def test_a_payload_without_an_article_comes_through_as_made(gated: str, bare: str) -> None:
    response, original = get(gated, "/app/home?_rsc=1", headers=RSC), get(bare, "/app/home?_rsc=1", headers=RSC)
    assert response.status_code == 200 and response.content == original.content == LISTING_RSC.encode()
    assert "private" not in response.headers.get("cache-control", "")


def test_a_static_exports_payload_file_of_an_article_is_refused(gated: str) -> None:
    response = get(gated, "/export/harbour-deal.txt")
    assert response.status_code == 403
    assert_withheld_absent(response.content, HARBOUR)


# --------------------------------------------------------------------------- what reads as an article


STORY_TEXT = markdown(HARBOUR)
CHINESE = "\n\n".join(
    "港口委员会周二晚间批准了期待已久的北码头扩建计划\uff0c航运公司多年来一直要求加深泊位以容纳更大的船只。" * 2
    for _ in range(5)
)


@pytest.mark.parametrize(
    ("text", "article"),
    [
        (STORY_TEXT, True),
        (f"{HARBOUR.title}\n\n{HARBOUR.text()}\n", True),
        (CHINESE, True),
        (ROBOTS.decode(), False),
        (LLMS.decode(), False),
        ("id,title,words\n" + "".join(f"{n},Story number {n},{n * 10}\n" for n in range(500)), False),
        ("2026-11-30T08:00:00Z GET /harbour-deal 200 5123 0.004s\n" * 200, False),
        # A story whose first line starts with a time is no payload of rows, whatever its first characters.
        ("2:30 p.m. update: " + HARBOUR.text(), True),
        # Three short lines are a note, not an article.
        ("Closed on Sunday.\n\nOpen on Monday.\n\nCall us on 555 0100.\n", False),
        # A changelog: lists and headings, no paragraphs of prose.
        ("# Changes\n\n## 1.2\n\n- Faster feeds.\n- Fixed the login form.\n\n## 1.1\n\n- New layout.\n" * 20, False),
    ],
)
def test_prose_reads_as_an_article(text: str, article: bool) -> None:
    assert text_body.is_article(text) is article


def test_the_cut_keeps_the_markdown_as_written_before_the_teaser_ends() -> None:
    cut = text_body.cut(STORY_TEXT, teaser_paragraphs=2, read_on=f"{READ_ON}: {HARBOUR.link}")
    assert cut is not None
    assert cut.startswith(STORY_TEXT[: STORY_TEXT.index(HARBOUR.teaser[1][-20:])])
    assert re.search(r"\n\nRead the whole article: https://news\.example/harbour-deal\n?$", cut)
    assert_withheld_absent(cut, HARBOUR)


def test_a_copy_of_the_withheld_text_before_the_cut_is_refused() -> None:
    """A front matter whose summary is the whole story: the cut would keep it, so the text is refused."""
    front = f"---\ntitle: {HARBOUR.title}\nsummary: {' '.join(HARBOUR.paragraphs)}\n---\n\n"
    with pytest.raises(FormatError):
        text_body.cut(front + STORY_TEXT, teaser_paragraphs=2, read_on=f"{READ_ON}: {HARBOUR.link}")


@pytest.mark.parametrize(
    ("path", "page"),
    [
        ("/harbour-deal.md", "/harbour-deal"),
        ("/news/story/index.md", "/news/story/"),
        ("/notes.txt", "/notes"),
        ("/harbour-deal", "/harbour-deal"),
    ],
)
def test_a_text_view_links_to_its_page(path: str, page: str) -> None:
    assert text_body.page_of(path) == page
