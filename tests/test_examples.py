"""The examples, served by a real uvicorn: the news site, the FastAPI app and the Django project.

Every example article hides made-up marker words in its fifth and last
paragraphs. A reader who is not a member must receive none of them, in any
encoding, while the teaser, the site's chrome and everything that is not an
article reach them exactly as the site made it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup

from examples import hydrogen
from examples.django_app import views as django_views
from examples.news_site import templates
from examples.news_site.app import DEMO_MEMBER_COOKIE
from examples.news_site.content import ARTICLES, ARTICLES_BY_SLUG, CONSENT_LINE, NEWSLETTER_NAME, Article
from paywall import PaywallSettings, issue_member_token
from tests.conftest import assert_no_leak
from tests.servers import run_uvicorn

SECRET = "examples-test-secret-0123456789abcdef"
CTA_TITLE = "Need to access the insight?"
CTA_ACTION = "Start your 7-day free trial now"
TEASER_PARAGRAPHS = 3  # the default of PaywallSettings.teaser_paragraphs

GATED = [a for a in ARTICLES if not a.is_free]
FREE = [a for a in ARTICLES if a.is_free]
PAGES = ["/", "/about", "/subscribe", "/privacy", "/terms", "/section/energy", "/section/big-tech"]
PASS_THROUGH = [*PAGES, "/static/site.css", "/static/logo.svg", "/api/articles", "/no-such-page"]


# --------------------------------------------------------------------------- helpers


def _env(tmp: Path) -> dict[str, str]:
    return {
        "PAYWALL_SECRET_KEY": SECRET,
        "PAYWALL_STORE": f"sqlite:///{tmp / 'paywall.db'}",
        "DJANGO_SECRET_KEY": "examples-test-django-key-0123456789",
        "DJANGO_DATABASE": str(tmp / "django.sqlite3"),
    }


def fetch(base: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(base + path, timeout=10, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


def soup_of(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.content, "lxml")


def norm(text: str) -> str:
    return " ".join(text.split())


def paragraph_texts(soup: BeautifulSoup) -> list[str]:
    return [norm(p.get_text()) for p in soup.find_all("p")]


def teaser_of(article: Article) -> tuple[str, ...]:
    return article.paragraphs[: article.break_after or TEASER_PARAGRAPHS]


def removed_of(article: Article) -> tuple[str, ...]:
    return article.paragraphs[len(teaser_of(article)) :]


def forbidden_of(article: Article) -> list[str]:
    """Words and phrases from beyond the teaser: the markers and the start of every removed paragraph."""
    return [*article.markers, *(p[:60] for p in removed_of(article))]


def assert_chrome(response: httpx.Response) -> None:
    soup = soup_of(response)
    text = norm(html.unescape(soup.get_text(" ")))
    assert soup.select_one("header.site-header nav") is not None, "header with navigation"
    assert soup.select_one('link[rel="stylesheet"][href="/static/site.css"]') is not None
    assert f"Subscribe to {NEWSLETTER_NAME}" in text
    consent = soup.select_one(".newsletter__consent")
    assert consent is not None and norm(consent.get_text()) == norm(CONSENT_LINE)
    assert "Read more insights" in text
    assert "Stay informed" in text


def assert_one_call_to_action(response: httpx.Response, path: str) -> BeautifulSoup:
    soup = soup_of(response)
    visible = soup.get_text(" ")
    assert visible.count(CTA_TITLE) == 1, "exactly one call to action"
    assert visible.count(CTA_ACTION) == 1
    ctas = soup.select("[data-paywall-cta]")
    assert len(ctas) == 1
    link = soup.find("a", string=CTA_ACTION)
    assert link is not None
    assert link["href"] == f"/_paywall/trial?next={path}"
    return soup


def assert_whole(response: httpx.Response, paragraphs: tuple[str, ...], markers: tuple[str, ...]) -> None:
    assert response.status_code == 200
    texts = paragraph_texts(soup_of(response))
    for paragraph in paragraphs:
        assert norm(paragraph) in texts
    body = html.unescape(response.text).casefold()
    for word in markers:
        assert word.casefold() in body
    assert CTA_TITLE not in response.text


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _env(tmp_path_factory.mktemp("examples"))


@pytest.fixture(scope="module")
def plain_site(server_env: dict[str, str]) -> Iterator[str]:
    with run_uvicorn("examples.news_site.app:app", server_env) as url:
        yield url


@pytest.fixture(scope="module")
def paywalled_site(server_env: dict[str, str]) -> Iterator[str]:
    with run_uvicorn("examples.news_site.app:build_app", server_env, factory=True) as url:
        yield url


@pytest.fixture(scope="module")
def fastapi_site(server_env: dict[str, str]) -> Iterator[str]:
    with run_uvicorn("examples.fastapi_app:app", server_env) as url:
        yield url


@pytest.fixture(scope="module", params=["litestar", "quart"])
def session_site(request: pytest.FixtureRequest, server_env: dict[str, str]) -> Iterator[str]:
    """The Litestar or the Quart example: members are those the app's own session says are."""
    with run_uvicorn(f"examples.{request.param}_app:app", server_env) as url:
        yield url


@pytest.fixture(scope="module")
def django_site(server_env: dict[str, str]) -> Iterator[str]:
    with run_uvicorn("examples.django_app.asgi:application", server_env) as url:
        yield url


@pytest.fixture(scope="module")
def settings(server_env: dict[str, str]) -> PaywallSettings:
    """The settings the servers run with, to issue member tokens they accept."""
    return PaywallSettings(secret_key=SECRET, store=server_env["PAYWALL_STORE"])


# --------------------------------------------------------------------------- the content itself


def test_articles_are_long_enough_and_hide_their_markers_where_the_tests_expect() -> None:
    assert len(GATED) >= 6 and len(FREE) == 2
    assert {a.markup for a in GATED} == {"plain", "microdata", "wordpress", "break", "cards", "nextjs"}
    everything_else = " ".join(
        [a.title + " " + a.dek for a in ARTICLES]
        + [templates.home(visitor=templates.Visitor()), templates.subscribe_page(visitor=templates.Visitor())]
    ).casefold()
    for article in ARTICLES:
        assert 6 <= len(article.paragraphs) <= 10
        fifth, last = article.markers
        assert fifth in article.paragraphs[4].casefold()
        assert last in article.paragraphs[-1].casefold()
        assert len(teaser_of(article)) < 5, "paragraph 5 is always beyond the teaser"
        for other in ARTICLES:
            if other is not article:
                text = " ".join(other.paragraphs).casefold()
                assert fifth not in text and last not in text
        for phrase in forbidden_of(article):
            assert phrase.casefold() not in everything_else


# --------------------------------------------------------------------------- the site without the paywall


@pytest.mark.parametrize("path", PAGES + [a.path for a in ARTICLES])
def test_site_pages_render_with_their_chrome(plain_site: str, path: str) -> None:
    response = fetch(plain_site, path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert_chrome(response)


def test_site_static_files_api_and_errors(plain_site: str) -> None:
    css = fetch(plain_site, "/static/site.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    logo = fetch(plain_site, "/static/logo.svg")
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/svg+xml"
    feed = fetch(plain_site, "/api/articles").json()
    assert [a["url"] for a in feed["articles"]] == [a.path for a in ARTICLES]
    missing = fetch(plain_site, "/articles/no-such-story")
    assert missing.status_code == 404
    assert_chrome(missing)


def test_free_by_header_is_declared_by_the_app(plain_site: str) -> None:
    free = next(a for a in ARTICLES if a.access == "free-header")
    assert fetch(plain_site, free.path).headers["x-paywall"] == "free"
    meta = next(a for a in ARTICLES if a.access == "free-meta")
    assert '<meta name="paywall" content="free">' in fetch(plain_site, meta.path).text


def test_demo_login_sets_the_member_cookie_and_only_goes_to_local_paths(plain_site: str) -> None:
    login = fetch(plain_site, "/demo/login?next=/articles/copper-smelter-fees")
    assert login.status_code == 303
    assert login.headers["location"] == "/articles/copper-smelter-fees"
    cookie = login.headers["set-cookie"]
    assert cookie.startswith(f"{DEMO_MEMBER_COOKIE}=1;") and "HttpOnly" in cookie
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = fetch(plain_site, "/demo/login", params={"next": bad})
        assert response.headers["location"] == "/"
    logout = fetch(plain_site, "/demo/logout?next=/about")
    assert logout.headers["location"] == "/about"
    assert f'{DEMO_MEMBER_COOKIE}="";' in logout.headers["set-cookie"] or "Max-Age=0" in logout.headers["set-cookie"]


def test_newsletter_form_answers_and_escapes(plain_site: str) -> None:
    ok = httpx.post(plain_site + "/newsletter", data={"email": "reader@example.com"}, timeout=10)
    assert ok.status_code == 200 and "reader@example.com" in ok.text
    bad = httpx.post(plain_site + "/newsletter", data={"email": "<script>x</script>"}, timeout=10)
    assert bad.status_code == 400 and "<script>x" not in bad.text
    huge = httpx.post(plain_site + "/newsletter", data={"email": "a" * 10_000}, timeout=10)
    assert huge.status_code == 413


# --------------------------------------------------------------------------- the site behind the paywall


@pytest.mark.parametrize("path", PASS_THROUGH)
def test_pages_without_an_article_and_other_files_pass_through_byte_for_byte(
    plain_site: str, paywalled_site: str, path: str
) -> None:
    original = fetch(plain_site, path)
    through = fetch(paywalled_site, path)
    assert through.status_code == original.status_code
    assert through.headers["content-type"] == original.headers["content-type"]
    assert through.content == original.content


@pytest.mark.parametrize("article", GATED, ids=lambda a: a.markup)
def test_gated_article_shows_its_teaser_and_one_call_to_action_and_nothing_more(
    paywalled_site: str, article: Article
) -> None:
    response = fetch(paywalled_site, article.path)
    assert response.status_code == 200
    assert_no_leak(response.content, forbidden_of(article))
    soup = assert_one_call_to_action(response, article.path)
    texts = paragraph_texts(soup)
    for paragraph in teaser_of(article):
        assert norm(paragraph) in texts, "the whole teaser is shown"
    assert_chrome(response)
    assert "private" in response.headers["cache-control"]
    assert "cookie" in response.headers["vary"].lower()
    assert int(response.headers["content-length"]) == len(response.content)

    # The call to action stands right after the teaser, before the rest of the page.
    visible = norm(soup.get_text(" "))
    last_teaser = norm(teaser_of(article)[-1])
    assert visible.index(last_teaser) < visible.index(CTA_TITLE) < visible.index("Read more insights")


def test_related_story_cards_survive_and_do_not_multiply_the_call_to_action(paywalled_site: str) -> None:
    article = next(a for a in GATED if a.markup == "cards")
    soup = assert_one_call_to_action(fetch(paywalled_site, article.path), article.path)
    cards = soup.select("article.insight-card")
    assert len(cards) == 3
    for card in cards:
        other = ARTICLES_BY_SLUG[str(card.select_one("h3 a")["href"]).rsplit("/", 1)[1]]  # type: ignore[index]
        assert norm(card.get_text(" ")).count(norm(other.dek)) == 1


def test_copies_in_metadata_and_app_state_are_scrubbed(paywalled_site: str) -> None:
    article = next(a for a in GATED if a.markup == "nextjs")
    response = fetch(paywalled_site, article.path)
    assert_no_leak(response.content, forbidden_of(article))
    soup = soup_of(response)
    # The teaser's own copies may stay: the description is the first paragraph.
    description = soup.select_one('meta[name="description"]')
    assert description is not None
    assert norm(str(description["content"])) in norm(article.paragraphs[0])
    for script in soup.select('script[type="application/ld+json"], script#__NEXT_DATA__'):
        text = html.unescape(re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), script.text))
        assert not any(word in text.casefold() for word in article.markers)


@pytest.mark.parametrize("article", FREE, ids=lambda a: a.access)
def test_free_articles_come_whole(plain_site: str, paywalled_site: str, article: Article) -> None:
    response = fetch(paywalled_site, article.path)
    assert_whole(response, article.paragraphs, article.markers)
    assert "x-paywall" not in response.headers, "the app's control header never reaches the reader"
    assert_chrome(response)


@pytest.mark.parametrize("article", GATED, ids=lambda a: a.markup)
def test_demo_member_reads_every_article_whole(paywalled_site: str, article: Article) -> None:
    response = fetch(paywalled_site, article.path, cookies={DEMO_MEMBER_COOKIE: "1"})
    assert_whole(response, article.paragraphs, article.markers)
    assert "Signed in as a demo member" in response.text
    assert "no-store" in response.headers["cache-control"]


def test_a_forged_member_cookie_value_is_not_membership(paywalled_site: str) -> None:
    article = GATED[0]
    for value in ("0", "true", "yes", "11", ""):
        response = fetch(paywalled_site, article.path, headers={"cookie": f"{DEMO_MEMBER_COOKIE}={value}"})
        assert_no_leak(response.content, forbidden_of(article))
        assert_one_call_to_action(response, article.path)


def test_member_token_from_the_paywall_also_works_on_the_demo(paywalled_site: str, settings: PaywallSettings) -> None:
    article = GATED[1]
    token = issue_member_token(settings, "reader-42", 1)
    response = fetch(paywalled_site, article.path, cookies={settings.member_cookie: token})
    assert_whole(response, article.paragraphs, article.markers)


def test_login_then_read_through_the_paywall(paywalled_site: str) -> None:
    article = GATED[2]
    with httpx.Client(base_url=paywalled_site, timeout=10, follow_redirects=True) as client:
        gated = client.get(article.path)
        assert_no_leak(gated.content, forbidden_of(article))
        whole = client.get("/demo/login", params={"next": article.path})
        assert str(whole.url).endswith(article.path)
        assert_whole(whole, article.paragraphs, article.markers)
        client.get("/demo/logout", params={"next": "/"})
        again = client.get(article.path)
        assert_no_leak(again.content, forbidden_of(article))


# --------------------------------------------------------------------------- FastAPI


def test_fastapi_example_gates_its_article(fastapi_site: str, settings: PaywallSettings) -> None:
    path = "/articles/hydrogen-valleys"
    gated = fetch(fastapi_site, path)
    assert gated.status_code == 200
    assert_no_leak(gated.content, [*hydrogen.MARKERS, *(p[:60] for p in hydrogen.PARAGRAPHS[3:])])
    soup = assert_one_call_to_action(gated, path)
    assert norm(hydrogen.PARAGRAPHS[0]) in paragraph_texts(soup)

    token = issue_member_token(settings, "fastapi-reader", 1)
    member = fetch(fastapi_site, path, cookies={settings.member_cookie: token})
    assert_whole(member, hydrogen.PARAGRAPHS, hydrogen.MARKERS)

    free = fetch(fastapi_site, "/articles/about-this-site")
    assert free.status_code == 200 and CTA_TITLE not in free.text and free.text.count("free to read") == 4
    assert fetch(fastapi_site, "/api/articles").json() == {
        "articles": [{"title": "Hydrogen Valleys Struggle to Find Their First Customers", "url": path}]
    }
    home = fetch(fastapi_site, "/")
    assert home.status_code == 200 and CTA_TITLE not in home.text


# --------------------------------------------------------------------------- Litestar and Quart


def test_session_example_gates_its_article_until_the_app_signs_the_reader_in(session_site: str) -> None:
    path = hydrogen.ARTICLE_PATH
    with httpx.Client(base_url=session_site, timeout=10) as reader:
        gated = reader.get(path)
        assert gated.status_code == 200
        assert_no_leak(gated.content, [*hydrogen.MARKERS, *(p[:60] for p in hydrogen.PARAGRAPHS[3:])])
        soup = assert_one_call_to_action(gated, path)
        assert norm(hydrogen.PARAGRAPHS[0]) in paragraph_texts(soup)
        assert soup.select_one("a.subscribe") is not None

        # The header the app tells the paywall with is the app's to send: a reader sending it gets nothing.
        forged = fetch(session_site, path, headers={"X-Paywall-Access": "member"}, cookies={"session": "member"})
        assert_no_leak(forged.content, hydrogen.MARKERS)

        signed_in = reader.get("/login", follow_redirects=True)
        assert_whole(signed_in, hydrogen.PARAGRAPHS, hydrogen.MARKERS)
        page = soup_of(signed_in)
        assert page.select_one("a.subscribe") is None, "the page and the gate agree: a member"
        assert "x-paywall-access" not in signed_in.headers
        assert "private" in signed_in.headers["cache-control"]

        free = reader.get(hydrogen.FREE_PATH)
        assert free.status_code == 200 and CTA_TITLE not in free.text and free.text.count("free to read") == 4
        assert reader.get("/api/articles").json() == hydrogen.ARTICLE_LIST

        reader.get("/logout")
        again = reader.get(path)
        assert_no_leak(again.content, hydrogen.MARKERS)
        assert_one_call_to_action(again, path)

    anonymous = fetch(session_site, hydrogen.FREE_PATH)
    assert anonymous.status_code == 200 and CTA_TITLE not in anonymous.text
    home = fetch(session_site, "/")
    assert home.status_code == 200 and CTA_TITLE not in home.text


# --------------------------------------------------------------------------- Django


def test_django_example_gates_its_article(django_site: str, settings: PaywallSettings) -> None:
    path = "/articles/offshore-wind-auctions"
    paragraphs = django_views.ARTICLES["offshore-wind-auctions"].paragraphs
    gated = fetch(django_site, path)
    assert gated.status_code == 200
    assert_no_leak(gated.content, [*django_views.MARKERS, *(p[:60] for p in paragraphs[3:])])
    soup = assert_one_call_to_action(gated, path)
    assert norm(paragraphs[0]) in paragraph_texts(soup)

    token = issue_member_token(settings, "django-reader", 1)
    member = fetch(django_site, path, cookies={settings.member_cookie: token})
    assert_whole(member, paragraphs, django_views.MARKERS)

    feed = fetch(django_site, "/api/articles")
    assert feed.status_code == 200 and feed.json()["articles"][0]["url"] == path
    home = fetch(django_site, "/")
    assert home.status_code == 200 and CTA_TITLE not in home.text
    missing = fetch(django_site, "/articles/no-such-story")
    assert missing.status_code == 404, "DEBUG is off: a plain 404, no debug page"
    assert "Traceback" not in missing.text
