"""``paywall.contrib.wagtail`` through the example Wagtail site, served by a real uvicorn.

The editor's "Paywall break" block ends the teaser, and each page's choice
(free, metered, members only) reaches the paywall as ``X-Paywall``: behind
``PaywallMiddleware`` with metering on, and behind ``paywall proxy`` without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from bs4 import BeautifulSoup

from examples.wagtail_site.demo import ARTICLES, DemoArticle
from tests.conftest import SECRET, assert_no_leak
from tests.servers import ROOT, run_uvicorn
from tests.test_django import paragraphs, signed_in
from tests.test_proxy import spawn_proxy

BY_CHOICE = {a.paywall: a for a in ARTICLES}
METERED, MEMBERS, FREE = BY_CHOICE["metered"], BY_CHOICE["members"], BY_CHOICE["free"]
CTA_TITLE = "Need to access the insight?"
METERED_TITLE = "You have read your 1 free articles this month"


def path_of(article: DemoArticle) -> str:
    return f"/{article.slug}/"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A database with Wagtail's tables and the demo content, made once for the module."""
    tmp = tmp_path_factory.mktemp("wagtail")
    values = {
        "PAYWALL_SECRET_KEY": SECRET,
        "PAYWALL_STORE": f"sqlite:///{tmp / 'paywall.db'}",
        "DJANGO_SECRET_KEY": "wagtail-test-key-0123456789abcdefghij",
        "DJANGO_DATABASE": str(tmp / "wagtail.sqlite3"),
    }
    subprocess.run(
        [sys.executable, "-m", "examples.wagtail_site.demo"],
        env={**os.environ, "PYTHONPATH": str(ROOT), **values},
        cwd=tmp,
        check=True,
        timeout=300,
    )
    return values


@pytest.fixture(scope="module")
def metered_site(env: dict[str, str]) -> Iterator[str]:
    with run_uvicorn("examples.wagtail_site.asgi:application", {**env, "PAYWALL_FREE_ARTICLES": "1"}) as url:
        yield url


@pytest.fixture(scope="module")
def wagtail_alone(env: dict[str, str]) -> Iterator[str]:
    with run_uvicorn("examples.wagtail_site.asgi:django_application", env) as url:
        yield url


@pytest.fixture(scope="module")
def proxied_site(wagtail_alone: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with spawn_proxy(wagtail_alone, tmp_path_factory.mktemp("wagtail-proxy")) as (url, _):
        yield url


def assert_teaser_at_the_break(response: httpx.Response, article: DemoArticle, title: str = CTA_TITLE) -> None:
    assert response.status_code == 200
    assert_no_leak(response.content, [*article.markers, *(p[:50] for p in article.paragraphs[article.break_after :])])
    assert paragraphs(response)[: article.break_after] == list(article.paragraphs[: article.break_after])
    assert response.text.count(title) == 1
    assert "x-paywall" not in response.headers


def assert_whole(response: httpx.Response, article: DemoArticle) -> None:
    assert response.status_code == 200
    assert paragraphs(response) == list(article.paragraphs)
    assert CTA_TITLE not in response.text and "x-paywall" not in response.headers


def test_the_page_choice_travels_as_the_x_paywall_header(wagtail_alone: str) -> None:
    for article in ARTICLES:
        response = httpx.get(wagtail_alone + path_of(article), timeout=10)
        assert response.status_code == 200 and response.headers["x-paywall"] == article.paywall
        assert paragraphs(response) == list(article.paragraphs), "without the paywall, the page is whole"
    home = httpx.get(wagtail_alone + "/", timeout=10)
    assert "x-paywall" not in home.headers


def test_the_break_block_ends_the_teaser_of_a_members_only_page(metered_site: str) -> None:
    response = httpx.get(metered_site + path_of(MEMBERS), timeout=10)
    assert_teaser_at_the_break(response, MEMBERS)
    assert MEMBERS.break_after == 3


def test_members_only_pages_neither_spend_nor_use_the_free_articles(metered_site: str) -> None:
    with httpx.Client(base_url=metered_site, timeout=10) as reader:
        assert "1 free article left this month." in reader.get("/").text
        assert_teaser_at_the_break(reader.get(path_of(MEMBERS)), MEMBERS)
        assert "1 free article left this month." in reader.get("/").text
        assert_whole(reader.get(path_of(METERED)), METERED)
        assert "0 free articles left this month." in reader.get("/").text
        again = reader.get(path_of(METERED) + "?edition=2")
        assert_teaser_at_the_break(again, METERED, METERED_TITLE)
        assert_whole(reader.get(path_of(FREE)), FREE)


def test_a_member_reads_members_only_pages(metered_site: str) -> None:
    with signed_in(metered_site, "member") as member:
        page = member.get(path_of(MEMBERS))
        assert_whole(page, MEMBERS)
        assert BeautifulSoup(page.text, "lxml").select_one("a.subscribe") is None
    with signed_in(metered_site, "reader") as reader:
        assert_teaser_at_the_break(reader.get(path_of(MEMBERS)), MEMBERS)


def test_behind_the_proxy_without_metering_a_metered_page_is_gated(proxied_site: str) -> None:
    assert_teaser_at_the_break(httpx.get(proxied_site + path_of(METERED), timeout=10), METERED)
    assert_whole(httpx.get(proxied_site + path_of(FREE), timeout=10), FREE)
    with signed_in(proxied_site, "member") as member:
        assert_whole(member.get(path_of(MEMBERS)), MEMBERS)
        assert_whole(member.get(path_of(METERED)), METERED)


def test_the_editors_admin_is_not_gated(metered_site: str) -> None:
    login = httpx.get(metered_site + "/admin/login/", timeout=10)
    assert login.status_code == 200 and CTA_TITLE not in login.text
