"""Whole reader journeys through the middleware: trial, meter, ended trial, store outage.

In-process tests use Starlette's TestClient (it keeps cookies like a browser);
the last tests run the same site under a real uvicorn server.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import anyio
import httpx
import pytest
from starlette.testclient import TestClient

from paywall import PaywallMiddleware, PaywallSettings, issue_member_token
from paywall.access.store import open_store
from paywall.access.tokens import issue_trial_token
from tests.apps.gate_app import SECRET_WORDS, TEASER, site
from tests.conftest import SECRET, assert_no_leak
from tests.servers import free_port, run_uvicorn

SettingsFactory = Callable[..., PaywallSettings]
CTA_TITLE = "Need to access the insight?"


def start_trial(client: TestClient, email: str, next_path: str = "/article") -> httpx.Response:
    form = client.get(f"/_paywall/trial?next={next_path}")
    assert form.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return client.post(
        "/_paywall/trial",
        data={"email": email, "consent": "yes", "csrf": csrf.group(1), "next": next_path},
        follow_redirects=False,
    )


def test_trial_from_the_call_to_action_opens_the_article(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings()))
    gated = client.get("/article")
    assert_no_leak(gated.content, SECRET_WORDS)
    answer = start_trial(client, "reader@example.com")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/article"
    full = client.get("/article")
    assert SECRET_WORDS[0] in full.text
    assert full.headers["cache-control"] == "private, no-store"
    assert client.get("/_paywall/status").json()["access"] == "trial"


def test_ended_trial_sees_the_ended_call_to_action_not_a_second_offer(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    client = TestClient(PaywallMiddleware(site, settings=settings))
    started = time.time() - 8 * 86400
    token = issue_trial_token(settings, "trial-1", started + 7 * 86400, now=started)
    client.cookies.set(settings.trial_cookie, token)
    response = client.get("/article")
    assert_no_leak(response.content, SECRET_WORDS)
    assert "Your free trial has ended" in response.text
    assert "Start your 7-day free trial now" not in response.text
    assert 'href="/subscribe"' in response.text
    cleared = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{settings.trial_cookie}=")]
    assert cleared and "Max-Age=0" in cleared[0], "the dead token is cleared"


def test_forged_trial_cookie_is_ignored_and_cleared(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    client = TestClient(PaywallMiddleware(site, settings=settings))
    other = PaywallSettings(secret_key="another-secret-key-0123456789")
    client.cookies.set(settings.trial_cookie, issue_trial_token(other, "t", time.time() + 86400))
    response = client.get("/article")
    assert response.status_code == 200
    assert_no_leak(response.content, SECRET_WORDS)
    assert response.text.count(CTA_TITLE) == 1
    assert any(
        c.startswith(f"{settings.trial_cookie}=") and "Max-Age=0" in c for c in response.headers.get_list("set-cookie")
    )


def test_member_cookie_opens_articles(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    client = TestClient(PaywallMiddleware(site, settings=settings))
    client.cookies.set(settings.member_cookie, issue_member_token(settings, "subscriber-42", 30))
    assert SECRET_WORDS[1] in client.get("/article").text


def test_meter_grants_n_different_articles_then_the_wall(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings(free_articles=2)))
    assert SECRET_WORDS[0] in client.get("/article").text
    assert SECRET_WORDS[0] in client.get("/cards").text
    assert SECRET_WORDS[0] in client.get("/article").text, "re-reading costs nothing"
    walled = client.get("/leaky")
    assert_no_leak(walled.content, SECRET_WORDS)
    assert "You have read your 2 free articles this month" in walled.text
    status = client.get("/_paywall/status").json()
    assert status["free_articles_left"] == 0


def test_revoked_trial_stops_on_the_next_request(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    client = TestClient(PaywallMiddleware(site, settings=settings))
    assert start_trial(client, "revoke.me@example.com").status_code == 303
    assert SECRET_WORDS[0] in client.get("/article").text

    async def revoke() -> int:
        store = open_store(settings.store)
        try:
            return await store.revoke_trial("revoke.me@example.com")
        finally:
            await store.aclose()

    assert anyio.run(revoke) == 1
    for _ in range(2):  # and it stays ended: no trial offer the store would refuse
        page = client.get("/article")
        assert_no_leak(page.content, SECRET_WORDS)
        assert "Your free trial has ended" in page.text
        assert "Start your 7-day free trial now" not in page.text


def test_store_down_fails_closed_without_a_500(make_settings: SettingsFactory) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings = make_settings(store=dead, free_articles=3)
    client = TestClient(PaywallMiddleware(site, settings=settings))
    client.cookies.set(settings.trial_cookie, issue_trial_token(settings, "t-1", time.time() + 86400))
    response = client.get("/article")
    assert response.status_code == 200
    assert_no_leak(response.content, SECRET_WORDS)
    assert TEASER[0] in response.text
    form = client.get("/_paywall/trial?next=/article")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    answer = client.post(
        "/_paywall/trial", data={"email": "a@example.com", "consent": "yes", "csrf": csrf.group(1), "next": "/"}
    )
    assert answer.status_code == 503
    assert "try again" in answer.text.lower()


def test_protect_paths_protect_pages_without_an_article(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings(protect_paths=("/",))))
    response = client.get("/")
    assert "/_paywall/protect." in response.text
    assert "Front page" in response.text
    plain = TestClient(PaywallMiddleware(site, settings=make_settings()))
    assert plain.get("/").content == TestClient(site).get("/").content


# --------------------------------------------------------------------------- real server


@pytest.fixture
def live(tmp_path: object) -> object:
    env = {"PAYWALL_SECRET_KEY": SECRET, "PAYWALL_STORE": f"sqlite:///{tmp_path}/live.db"}
    with run_uvicorn("tests.apps.gate_app:build_app", env, factory=True) as url:
        yield url


def test_real_server_gates_and_keeps_http_right(live: str) -> None:
    with httpx.Client(base_url=live, timeout=10) as client:
        page = client.get("/article")
        assert page.status_code == 200
        assert_no_leak(page.content, SECRET_WORDS)
        assert page.text.count(CTA_TITLE) == 1
        assert int(page.headers["content-length"]) == len(page.content)
        head = client.head("/article")
        assert head.headers["content-length"] == page.headers["content-length"]
        assert head.headers["etag"] == page.headers["etag"]
        assert client.get("/article", headers={"If-None-Match": page.headers["etag"]}).status_code == 304
        for coding in ("gzip", "br"):
            assert_no_leak(client.get(f"/encoded/{coding}").content, SECRET_WORDS)
        chunked = client.get("/chunked")
        assert_no_leak(chunked.content, SECRET_WORDS)
        assert "«ünïcode» 電力" in chunked.text
        assert client.get("/image.png").headers["content-type"] == "image/png"
        with client.stream("GET", "/stream.txt") as stream:
            assert b"".join(stream.iter_raw()) == b"".join(f"line {i}\n".encode() for i in range(5))


def test_real_server_trial_journey(live: str) -> None:
    with httpx.Client(base_url=live, timeout=10, follow_redirects=True) as client:
        form = client.get("/_paywall/trial?next=/article")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        answer = client.post(
            "/_paywall/trial",
            data={"email": "live@example.com", "consent": "yes", "csrf": csrf.group(1), "next": "/article"},
        )
        assert answer.status_code == 200, "followed the 303 back to the article"
        assert SECRET_WORDS[2] in answer.text


def test_readers_who_only_read_get_no_cookie(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings()))
    for path in ("/article", "/", "/image.png"):
        assert "set-cookie" not in client.get(path).headers, path
    metered = TestClient(PaywallMiddleware(site, settings=make_settings(free_articles=1)))
    assert "paywall_device=" in metered.get("/article").headers["set-cookie"]
