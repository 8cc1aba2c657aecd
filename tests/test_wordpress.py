"""The WordPress must-use plugin, run by a real PHP (``php -S``) behind a real ``paywall proxy``.

``tests/wordpress/stub.php`` stands in for the WordPress functions the plugin
calls; ``router.php`` serves a post, the blog home, the feed and the REST API
as WordPress would, with the plugin loaded as a must-use plugin.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import assert_no_leak
from tests.servers import ROOT, free_port, run_process
from tests.test_proxy import spawn_proxy

PLUGIN = ROOT / "integrations" / "wordpress" / "paywall-access.php"
STUB = ROOT / "tests" / "wordpress"
POSTS = {int(k): v for k, v in json.loads((STUB / "posts.json").read_text()).items()}
CTA_TITLE = "Need to access the insight?"
GATED, FREE, MEMBERS, SHOUTED_FREE, YES, EXCERPT = 1, 2, 3, 4, 5, 6


def php() -> str:
    found = shutil.which("php")
    assert found is not None, "php-cli is required (apt-get install php-cli)"
    return found


def secret_words(post_id: int) -> list[str]:
    """The marker words in paragraphs 5 and 6, beyond any teaser."""
    return [p.rsplit(" ", 1)[1].rstrip(".") for p in POSTS[post_id]["paragraphs"][4:]]


@contextlib.contextmanager
def wordpress(env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    with run_process([php(), "-S", f"127.0.0.1:{port}", "router.php"], port, env, cwd=STUB) as url:
        yield url


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with wordpress() as url:
        yield url


@pytest.fixture(scope="module")
def proxied(site: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with spawn_proxy(site, tmp_path_factory.mktemp("wordpress")) as (url, _):
        yield url


def get(base: str, path: str, user: str | None = None, **kwargs: object) -> httpx.Response:
    cookies = {"stub_user": user} if user else None
    return httpx.get(base + path, cookies=cookies, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_the_plugin_is_valid_php_with_a_plugin_header() -> None:
    lint = subprocess.run([php(), "-l", str(PLUGIN)], capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Plugin Name: Paywall access" in PLUGIN.read_text()


@pytest.mark.parametrize(
    ("user", "expected"), [("member", "member"), ("subscriber", None), ("editor", None), (None, None)]
)
def test_members_are_logged_in_users_with_the_capability(site: str, user: str | None, expected: str | None) -> None:
    for path in (f"/?p={GATED}", "/"):
        assert get(site, path, user).headers.get("x-paywall-access") == expected


@pytest.mark.parametrize(
    ("post", "expected"),
    [(GATED, None), (FREE, "free"), (MEMBERS, "members"), (SHOUTED_FREE, "free"), (YES, None)],
)
def test_posts_marked_free_or_members_say_so(site: str, post: int, expected: str | None) -> None:
    assert get(site, f"/?p={post}").headers.get("x-paywall") == expected
    assert "x-paywall" not in get(site, "/").headers, "not on archive pages"


def test_behind_the_proxy_members_read_in_full_and_others_get_the_teaser(proxied: str) -> None:
    for user in (None, "subscriber", "editor"):
        page = get(proxied, f"/?p={GATED}", user)
        assert page.status_code == 200 and page.text.count(CTA_TITLE) == 1
        assert_no_leak(page.content, secret_words(GATED))
    whole = get(proxied, f"/?p={GATED}", "member")
    assert all(word in whole.text for word in secret_words(GATED)) and CTA_TITLE not in whole.text
    for response in (whole, get(proxied, f"/?p={FREE}")):
        assert "x-paywall" not in response.headers and "x-paywall-access" not in response.headers


def test_behind_the_proxy_the_page_choices_hold(proxied: str) -> None:
    for post in (FREE, SHOUTED_FREE):
        free = get(proxied, f"/?p={post}")
        assert all(word in free.text for word in secret_words(post)) and CTA_TITLE not in free.text
    for post in (MEMBERS, YES):
        assert_no_leak(get(proxied, f"/?p={post}").content, secret_words(post))
    assert all(word in get(proxied, f"/?p={MEMBERS}", "member").text for word in secret_words(MEMBERS))


def test_a_reader_cannot_claim_membership_with_a_request_header(proxied: str) -> None:
    forged = get(proxied, f"/?p={GATED}", headers={"X-Paywall-Access": "member", "X-Paywall": "free"})
    assert_no_leak(forged.content, secret_words(GATED))


def test_the_capability_is_a_setting(tmp_path: Path) -> None:
    with wordpress({"STUB_MEMBER_CAPABILITY": "read_private_posts"}) as url:
        assert get(url, f"/?p={GATED}", "editor").headers.get("x-paywall-access") == "member"
        assert "x-paywall-access" not in get(url, f"/?p={GATED}", "member").headers


def test_feeds_archives_and_the_rest_api_carry_only_the_excerpt_for_non_members(proxied: str) -> None:
    gated = [GATED, MEMBERS, YES, EXCERPT]
    words = [w for post in gated for w in secret_words(post)]
    for path in ("/", "/feed/", *(f"/wp-json/wp/v2/posts/{post}" for post in gated)):
        for user in (None, "subscriber"):
            response = get(proxied, path, user)
            assert response.status_code == 200
            assert_no_leak(response.content, words)
    home = get(proxied, "/")
    assert all(word in home.text for word in secret_words(FREE)), "free posts stay whole"
    assert "Read the whole article" in home.text
    api = get(proxied, f"/wp-json/wp/v2/posts/{EXCERPT}").json()
    assert api["content"]["protected"] is True
    assert "A hand-written summary of the story." in api["content"]["rendered"]
    first = get(proxied, f"/wp-json/wp/v2/posts/{GATED}").json()["content"]["rendered"]
    assert POSTS[GATED]["paragraphs"][0] in first and POSTS[GATED]["paragraphs"][1] not in first

    for path in ("/", "/feed/", f"/wp-json/wp/v2/posts/{GATED}"):
        member = get(proxied, path, "member")
        assert all(word in member.text for word in secret_words(GATED)), path


def test_editors_get_whole_posts_from_the_rest_api_behind_the_proxy(proxied: str) -> None:
    """The block editor loads and saves whole posts through the REST API: a cut one saved back would lose its text."""
    for user in ("editor", "member"):
        response = get(proxied, f"/wp-json/wp/v2/posts/{GATED}", user)
        assert all(word in response.text for word in secret_words(GATED)), user
        assert "x-paywall-access" not in response.headers
    assert_no_leak(get(proxied, f"/wp-json/wp/v2/posts/{GATED}", "subscriber").content, secret_words(GATED))
