"""``paywall.contrib.django`` through the example project, served by a real uvicorn.

Django's own login decides membership (the permission ``paywall.read_full``,
or the check ``PAYWALL_MEMBER_CHECK`` names), templates show the reader's
access, and ``{% paywall_break %}`` decides where the teaser ends: behind
``PaywallMiddleware`` and behind ``paywall proxy`` alike.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup

from examples.django_app.demo import DEMO_USERS
from examples.django_app.views import ARTICLES, MARKERS
from tests.conftest import SECRET, assert_no_leak
from tests.servers import ROOT, run_uvicorn
from tests.test_proxy import spawn_proxy

PATH = "/articles/offshore-wind-auctions"
STORY = ARTICLES["offshore-wind-auctions"]
PASSWORDS = {name: password for name, password, _ in DEMO_USERS}
CTA_TITLE = "Need to access the insight?"
FORBIDDEN = [*MARKERS, *(p[:60] for p in STORY.paragraphs[STORY.break_after :])]


def django_env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "PAYWALL_SECRET_KEY": SECRET,
        "PAYWALL_STORE": f"sqlite:///{tmp / 'paywall.db'}",
        "DJANGO_SECRET_KEY": "django-test-key-0123456789abcdefghij",
        "DJANGO_DATABASE": str(tmp / "django.sqlite3"),
        **extra,
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_uvicorn("examples.django_app.asgi:application", django_env(tmp_path_factory.mktemp("django"))) as url:
        yield url


@contextlib.contextmanager
def signed_in(base: str, username: str) -> Iterator[httpx.Client]:
    """A browser-like client after Django's login form (CSRF token and session cookie)."""
    with httpx.Client(base_url=base, timeout=20) as client:
        client.get("/login")
        answer = client.post(
            "/login",
            data={
                "username": username,
                "password": PASSWORDS[username],
                "next": "/",
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
        )
        assert answer.status_code == 302 and answer.headers["location"] == "/", answer.text[:500]
        yield client


def paragraphs(response: httpx.Response) -> list[str]:
    return [" ".join(p.get_text().split()) for p in BeautifulSoup(response.text, "lxml").select("article p")]


def has_subscribe(response: httpx.Response) -> bool:
    return BeautifulSoup(response.text, "lxml").select_one("a.subscribe") is not None


def assert_teaser_at_the_break(response: httpx.Response) -> None:
    assert response.status_code == 200
    assert_no_leak(response.content, FORBIDDEN)
    assert paragraphs(response)[: STORY.break_after] == list(STORY.paragraphs[: STORY.break_after])
    assert response.text.count(CTA_TITLE) == 1
    assert "x-paywall-access" not in response.headers


def assert_whole(response: httpx.Response) -> None:
    assert response.status_code == 200
    assert paragraphs(response) == list(STORY.paragraphs)
    assert CTA_TITLE not in response.text
    assert "x-paywall-access" not in response.headers, "the control header never reaches the reader"
    assert "no-store" in response.headers["cache-control"]


def test_the_core_imports_no_framework() -> None:
    code = (
        "import sys, paywall, paywall.http.middleware, paywall.http.proxy, paywall.cli, paywall.access.reader_state\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'wagtail', 'fastapi', 'asgiref'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_template_tag_ends_the_teaser_where_the_editor_put_it(site: str) -> None:
    anonymous = httpx.get(site + PATH, timeout=10)
    assert_teaser_at_the_break(anonymous)
    assert STORY.break_after < 3, "the marker, not the default three paragraphs, decides"
    assert has_subscribe(anonymous)
    assert BeautifulSoup(anonymous.text, "lxml").select_one("a.sign-in") is not None


def test_a_user_with_the_permission_reads_in_full_and_sees_no_subscribe_button(site: str) -> None:
    with signed_in(site, "member") as member:
        page = member.get(PATH)
        assert_whole(page)
        assert "Signed in as member" in page.text and not has_subscribe(page)
        home = member.get("/")
        assert not has_subscribe(home) and "free article" not in home.text
        member.post("/logout", data={"csrfmiddlewaretoken": member.cookies["csrftoken"]})
        assert_teaser_at_the_break(member.get(PATH))


def test_a_user_without_the_permission_gets_the_teaser(site: str) -> None:
    with signed_in(site, "reader") as reader:
        page = reader.get(PATH)
        assert_teaser_at_the_break(page)
        assert "Signed in as reader" in page.text and has_subscribe(page)


def test_a_wrong_password_is_no_membership(site: str) -> None:
    with httpx.Client(base_url=site, timeout=20) as client:
        client.get("/login")
        answer = client.post(
            "/login",
            data={"username": "member", "password": "guess", "csrfmiddlewaretoken": client.cookies["csrftoken"]},
        )
        assert answer.status_code == 200 and "sessionid" not in client.cookies
        assert_teaser_at_the_break(client.get(PATH))


def test_an_async_view_asks_for_the_access_too(site: str) -> None:
    anonymous = httpx.get(site + "/api/whoami", timeout=10).json()
    assert anonymous == {"access": "anonymous", "trial_ends": None, "free_articles_left": None}
    with signed_in(site, "member") as member:
        assert member.get("/api/whoami").json()["access"] == "member"
    with signed_in(site, "reader") as reader:
        assert reader.get("/api/whoami").json()["access"] == "anonymous"


def test_other_responses_pass_through_for_members_too(site: str) -> None:
    with signed_in(site, "member") as member:
        feed = member.get("/api/articles")
        assert feed.status_code == 200 and feed.json()["articles"][0]["url"] == PATH
        assert "x-paywall-access" not in feed.headers
        assert member.get("/articles/no-such-story").status_code == 404


def test_templates_show_the_free_articles_left(tmp_path: Path) -> None:
    env = django_env(tmp_path, PAYWALL_FREE_ARTICLES="2")
    with run_uvicorn("examples.django_app.asgi:application", env) as url, httpx.Client(base_url=url) as reader:
        assert "2 free articles left this month." in reader.get("/").text
        story = reader.get(PATH)
        assert paragraphs(story) == list(STORY.paragraphs), "a free article comes whole"
        assert "1 free article left this month." in reader.get("/").text
        reader.get(PATH + "?page=2")
        assert "0 free articles left this month." in reader.get("/").text


def test_a_check_named_in_the_settings_replaces_the_permission(tmp_path: Path) -> None:
    env = django_env(tmp_path, DJANGO_SETTINGS_MODULE="tests.apps.django_check_settings")
    with run_uvicorn("examples.django_app.asgi:application", env) as url:
        with signed_in(url, "reader") as reader:
            assert_whole(reader.get(PATH))
        with signed_in(url, "member") as member:
            assert_teaser_at_the_break(member.get(PATH))


def test_behind_the_reverse_proxy_the_header_carries_the_membership(tmp_path: Path) -> None:
    env = django_env(tmp_path)
    with (
        run_uvicorn("examples.django_app.asgi:django_application", env) as upstream,
        spawn_proxy(upstream, tmp_path) as (url, _),
    ):
        plain = httpx.get(upstream + PATH, timeout=10)
        assert paragraphs(plain) == list(STORY.paragraphs) and "x-paywall-access" not in plain.headers
        assert_teaser_at_the_break(httpx.get(url + PATH, timeout=10))
        with signed_in(url, "member") as member:
            assert_whole(member.get(PATH))
        with signed_in(upstream, "member") as direct:
            assert direct.get(PATH).headers["x-paywall-access"] == "member"
