"""The paywall's own pages: trial form, trial start, confirmation, status, assets, errors."""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from paywall import ConfigError, PaywallSettings, issue_member_token
from paywall.access.store import open_store
from paywall.access.store.base import Store
from paywall.access.store.redis import RedisStore
from paywall.access.store.sqlite import SQLiteStore
from paywall.access.tokens import CSRF, issue_device_token, sign
from paywall.http.endpoints import CSRF_MAX_AGE, Endpoints, safe_next
from tests.redis_server import redis_server
from tests.servers import free_port, run_uvicorn

NOW = 1_800_000_000.0
DAY = 86400.0
TRIAL = "/_paywall/trial"
SECRET = "test-secret-key-0123456789abcdef"

Make = Callable[..., PaywallSettings]


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    db = SQLiteStore(tmp_path / "endpoints.db")
    yield db
    asyncio.run(db.aclose())


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(make_settings: Make, store: Store, clock: Clock) -> Iterator[ClientFactory]:
    clients: list[TestClient] = []

    def make(*, store_: Store | None = None, base_url: str = "http://news.example", **overrides: Any) -> TestClient:
        app = Endpoints(make_settings(**overrides), store_ or store, clock=clock)
        client = TestClient(app, base_url=base_url, follow_redirects=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return html.unescape(match.group(1))


def open_form(client: TestClient, next_path: str = "/news/story") -> str:
    response = client.get(TRIAL, params={"next": next_path})
    assert response.status_code == 200
    return csrf_of(response.text)


def submit(client: TestClient, email: str = "reader@example.com", *, csrf: str | None = None, **fields: str) -> Any:
    data = {"email": email, "consent": "yes", "next": "/news/story", "csrf": csrf or open_form(client)}
    data.update(fields)
    return client.post(TRIAL, data=data)


def set_cookies(response: httpx.Response) -> dict[str, str]:
    return {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}


def status_of(client: TestClient) -> dict[str, Any]:
    response = client.get("/_paywall/status")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    result: dict[str, Any] = response.json()
    return result


# ---------------------------------------------------------------------------
# the form


def test_trial_form_page(client: TestClient) -> None:
    response = client.get(TRIAL, params={"next": "/news/story?id=5"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "'unsafe-inline'" not in csp
    page = response.text
    assert "<script" not in page
    assert 'method="post" action="/_paywall/trial"' in page
    assert 'type="email"' in page and 'autocomplete="email"' in page and '<label for="trial-email">' in page
    assert 'type="checkbox" name="consent"' in page
    assert 'href="/privacy"' in page and 'href="/terms"' in page and "terms of use</a> of this site." in page
    assert 'name="next" value="/news/story?id=5"' in page
    assert "Start your 7-day free trial" in page
    assert csrf_of(page)
    device = set_cookies(response)["paywall_device"]
    assert "HttpOnly" in device and "SameSite=Lax" in device and "Max-Age=31536000" in device
    # A second visit keeps the device.
    again = client.get(TRIAL)
    assert "paywall_device" not in set_cookies(again)


def test_trial_form_escapes_settings_and_next(make_client: ClientFactory) -> None:
    client = make_client(
        site_name='<b>"Daily"</b>', privacy_url='/p?a=1&b="x"', terms_url="javascript:alert(1)", trial_days=14
    )
    page = client.get(TRIAL, params={"next": '/x"><script>alert(1)</script>'}).text
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;b&gt;&quot;Daily&quot;&lt;/b&gt;" in page
    assert 'href="/p?a=1&amp;b=&quot;x&quot;"' in page
    assert "Start your 14-day free trial" in page
    assert 'name="next" value="/x%22%3E%3Cscript%3Ealert(1)%3C/script%3E"' in page


def test_head_has_no_body(client: TestClient) -> None:
    response = client.head(TRIAL)
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["content-length"]) > 500


def test_custom_trial_template(make_client: ClientFactory) -> None:
    template = (
        "<!doctype html><html><head><link rel=stylesheet href=/site.css></head><body>"
        "<h1>$title at $site_name</h1>$error_html$form<p>$trial_days/$next/$email/$subscribe_url</p></body></html>"
    )
    client = make_client(trial_template=template, site_name="<Daily>")
    response = client.get(TRIAL, params={"next": "/a"})
    assert response.status_code == 200
    # The publisher's page loads its own assets: only rules that cannot break it.
    assert response.headers["content-security-policy"] == (
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
    )
    assert "<h1>Start your 7-day free trial at &lt;Daily&gt;</h1>" in response.text
    assert "<p>7//a///subscribe</p>" in response.text
    csrf = csrf_of(response.text)
    bad = client.post(TRIAL, data={"email": "<i>nope", "consent": "yes", "next": "/a", "csrf": csrf})
    assert bad.status_code == 400
    assert 'role="alert"' in bad.text and "&lt;i&gt;nope" in bad.text and "<i>" not in bad.text


# ---------------------------------------------------------------------------
# starting a trial


def test_trial_starts_and_redirects(client: TestClient, store: SQLiteStore) -> None:
    response = submit(client, "  Reader@Example.com ", next="/news/story?page=2")
    assert response.status_code == 303
    assert response.headers["location"] == "/news/story?page=2"
    cookie = set_cookies(response)["paywall_trial"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert f"Max-Age={7 * 86400}" in cookie and "Secure" not in cookie
    (trial,) = asyncio.run(store.list_trials())
    assert trial.email == "reader@example.com"
    assert trial.ends_at == NOW + 7 * DAY
    status = status_of(client)
    assert status == {"access": "trial", "trial_ends": "2027-01-22T08:00:00Z", "free_articles_left": None}


def test_trial_cookie_is_secure_under_https(make_client: ClientFactory) -> None:
    client = make_client(base_url="https://news.example")
    response = submit(client)
    assert response.status_code == 303
    assert "Secure" in set_cookies(response)["paywall_trial"]


def test_trial_ends_after_trial_days(client: TestClient, clock: Clock) -> None:
    assert submit(client).status_code == 303
    clock.now = NOW + 7 * DAY - 1
    assert status_of(client)["access"] == "trial"
    clock.now = NOW + 7 * DAY
    response = client.get("/_paywall/status")
    assert response.json()["access"] == "anonymous"
    assert "paywall_trial=;" in response.headers["set-cookie"] or 'paywall_trial=""' in response.headers["set-cookie"]
    # No second trial for the same reader, on the same device or with the same address.
    again = submit(client)
    assert again.status_code == 409
    assert "Your free trial has ended" in again.text and 'href="/subscribe"' in again.text
    assert "paywall_trial" not in set_cookies(again)


def test_same_reader_same_device_gets_the_same_trial_back(client: TestClient, store: SQLiteStore) -> None:
    first = submit(client)
    client.cookies.delete("paywall_trial")  # e.g. the reader cleared one cookie
    second = submit(client, "READER@example.com")
    assert first.status_code == second.status_code == 303
    assert len(asyncio.run(store.list_trials())) == 1
    assert status_of(client)["access"] == "trial"


def test_same_device_other_address_keeps_its_trial(client: TestClient, store: SQLiteStore) -> None:
    csrf = open_form(client)
    assert submit(client, "one@example.com", csrf=csrf).status_code == 303
    # The form no longer offers a trial to a reader who has one...
    running = client.get(f"{TRIAL}?next=/news/story")
    assert running.status_code == 200 and "Your free trial is running" in running.text
    assert 'name="csrf"' not in running.text and 'href="/news/story"' in running.text
    # ...and a form sent from an older tab re-issues the running trial, creating nothing new.
    assert submit(client, "two@example.com", csrf=csrf).status_code == 303
    assert [t.email for t in asyncio.run(store.list_trials())] == ["one@example.com"]


def test_members_are_told_they_need_no_trial(make_client: ClientFactory, make_settings: Make) -> None:
    client = make_client()
    client.cookies.set("paywall_member", issue_member_token(make_settings(), "m-1", 30, now=NOW))
    page = client.get(f"{TRIAL}?next=/news/story")
    assert "You are a member" in page.text and 'name="csrf"' not in page.text


def test_missing_consent_marks_the_checkbox_invalid(client: TestClient) -> None:
    page = client.post(TRIAL, data={"email": "a@example.com", "next": "/", "csrf": open_form(client)})
    assert page.status_code == 400
    assert re.search(r'name="consent"[^>]*aria-invalid="true"', page.text)
    assert not re.search(r'name="email"[^>]*aria-invalid', page.text)


def test_email_taken_on_another_device(make_client: ClientFactory, store: SQLiteStore) -> None:
    first, second = make_client(), make_client()
    assert submit(first, "reader@example.com").status_code == 303
    refused = submit(second, "Reader@Example.com", next="/news/other")
    assert refused.status_code == 409
    assert "already has a free trial" in refused.text
    assert 'href="/subscribe"' in refused.text and 'href="/news/other"' in refused.text
    assert "paywall_trial" not in set_cookies(refused)
    assert len(asyncio.run(store.list_trials())) == 1


def test_device_taken_after_its_trial_ended(client: TestClient, clock: Clock) -> None:
    assert submit(client, "one@example.com").status_code == 303
    clock.now = NOW + 8 * DAY
    refused = submit(client, "two@example.com")
    assert refused.status_code == 409 and "already used on this device" in refused.text


@pytest.mark.parametrize(("fold", "expected"), [(True, 409), (False, 303)])
def test_plus_addressing_setting(make_client: ClientFactory, fold: bool, expected: int) -> None:
    assert submit(make_client(plus_addressing_is_same_reader=fold), "reader@example.com").status_code == 303
    other = make_client(plus_addressing_is_same_reader=fold)
    assert submit(other, "reader+again@example.com").status_code == expected


# ---------------------------------------------------------------------------
# CSRF


def test_missing_and_invalid_csrf(client: TestClient, make_settings: Make, clock: Clock) -> None:
    good = open_form(client)
    base = {"email": "reader@example.com", "consent": "yes", "next": "/news/story"}
    other_device = sign(make_settings(), CSRF, {"d": "another-device-000000"}, now=NOW)
    foreign = sign(make_settings(secret_key="foreign-key-0123456789abcdef"), CSRF, {"d": "x"}, now=NOW)
    for bad in ({}, {"csrf": ""}, {"csrf": good[:-3]}, {"csrf": other_device}, {"csrf": foreign}, {"csrf": "x"}):
        response = client.post(TRIAL, data={**base, **bad})
        assert response.status_code == 403, bad
        assert "Open the form again" in response.text
        assert "paywall_trial" not in set_cookies(response)
    clock.now = NOW + CSRF_MAX_AGE + 1
    assert client.post(TRIAL, data={**base, "csrf": good}).status_code == 403
    clock.now = NOW
    assert client.post(TRIAL, data={**base, "csrf": good}).status_code == 303


def test_csrf_needs_the_device_cookie(client: TestClient, make_settings: Make) -> None:
    csrf = open_form(client)
    client.cookies.clear()
    response = client.post(TRIAL, data={"email": "a@example.com", "consent": "yes", "csrf": csrf})
    assert response.status_code == 403 and "cookies" in response.text
    # A device cookie from elsewhere does not match this form's token.
    client.cookies.set("paywall_device", issue_device_token(make_settings(), "d" * 22, now=NOW))
    assert client.post(TRIAL, data={"email": "a@example.com", "consent": "yes", "csrf": csrf}).status_code == 403


def test_csrf_survives_key_rotation(make_client: ClientFactory) -> None:
    old = make_client(secret_key="old-secret-key-0123456789ab")
    csrf = open_form(old)
    rotated = make_client(
        secret_key="new-secret-key-0123456789ab", secret_key_fallbacks=("old-secret-key-0123456789ab",)
    )
    rotated.cookies = old.cookies
    assert submit(rotated, csrf=csrf).status_code == 303


# ---------------------------------------------------------------------------
# malformed and oversized forms


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=x",
        "application/json",
        "text/plain",
        "",
        "application/x-www-form-urlencoded; charset=latin-1",
    ],
)
def test_wrong_content_type_is_415(client: TestClient, content_type: str) -> None:
    open_form(client)
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(TRIAL, content=b"email=a%40example.com&consent=yes", headers=headers)
    assert response.status_code == 415 and "<h1>Unsupported form</h1>" in response.text


def test_charset_utf8_is_accepted(client: TestClient) -> None:
    csrf = open_form(client)
    body = f"email=a%40example.com&consent=yes&csrf={csrf}".encode()
    headers = {"content-type": "Application/X-WWW-Form-Urlencoded; Charset=UTF-8"}
    assert client.post(TRIAL, content=body, headers=headers).status_code == 303


def test_oversized_form_is_413(client: TestClient) -> None:
    csrf = open_form(client)
    big = f"email=a%40example.com&consent=yes&csrf={csrf}&pad={'x' * 20000}".encode()
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post(TRIAL, content=big, headers=form).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(40):
            yield b"x" * 1000

    response = client.post(TRIAL, content=chunks(), headers=form)
    assert response.status_code == 413 and "Form too large" in response.text
    bogus = client.post(TRIAL, content=b"a=b", headers={**form, "content-length": "nonsense"})
    assert bogus.status_code in (400, 413)


@pytest.mark.parametrize(
    "body",
    [
        b"email=%FF%FE&consent=yes",  # not UTF-8 once decoded
        b"\xff\xfe=1",  # not UTF-8 at all
        b"email=a%40example.com&email=b%40example.com&consent=yes",  # duplicate field
        b"&".join(b"f%d=1" % i for i in range(20)),  # too many fields
        b"email=a%00b%40example.com&consent=yes",  # NUL
    ],
)
def test_malformed_forms_are_400(client: TestClient, body: bytes) -> None:
    open_form(client)
    response = client.post(TRIAL, content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert "Traceback" not in response.text and "<h1>" in response.text


@pytest.mark.parametrize(
    "email",
    [
        "",
        "   ",
        "plain",
        "a@b",
        "reader@example.com\r\nBcc: victim@example.com",
        '"><img src=x onerror=alert(1)>@example.com',
        "a" * 300 + "@example.com",
        "reader@@example.com",
    ],
)
def test_invalid_email_reshows_the_form(client: TestClient, email: str, store: SQLiteStore) -> None:
    response = submit(client, email)
    assert response.status_code == 400
    page = response.text
    assert 'role="alert"' in page and 'aria-invalid="true"' in page
    assert "<img" not in page
    typed = email.strip()[:320]
    assert f'name="email" value="{html.escape(typed, quote=True)}"' in page
    assert csrf_of(page)  # a fresh token: the reader just fixes the address and sends again
    assert asyncio.run(store.list_trials()) == []


def test_consent_is_required(client: TestClient) -> None:
    response = submit(client, consent="")
    assert response.status_code == 400
    assert "agree to the privacy policy" in response.text and 'value="reader@example.com"' in response.text
    assert 'name="next" value="/news/story"' in response.text
    fields = {"email": "reader@example.com", "consent": "yes", "csrf": csrf_of(response.text), "next": "/news/story"}
    fixed = client.post(TRIAL, data=fields)
    assert fixed.status_code == 303 and fixed.headers["location"] == "/news/story"


# ---------------------------------------------------------------------------
# redirects


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example",
        "http://evil.example/news",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " /news",
        "/\t/evil.example",
        "/\n/evil.example",
        "/news\r\nSet-Cookie: x=1",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%5Cevil.example",
        "/%252F%252Fevil.example",
        "/%09/evil.example",
        "/news\x00",
        "/\u2028/evil.example",
        "data:text/html,hi",
        "evil.example",
        "news/story",
        "",
        None,
        "/" + "a" * 3000,
    ],
)
def test_open_redirects_go_home(value: str | None) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/", "/"),
        ("/news/story", "/news/story"),
        ("/news/story?id=5&x=y#part", "/news/story?id=5&x=y#part"),
        ("/news/a%2Fb", "/news/a%2Fb"),
        ("/news/café", "/news/caf%C3%A9"),
        ("/news/two words", "/news/two%20words"),
        ('/x"<>', "/x%22%3C%3E"),
        ("/news/%FF%FE", "/news/%FF%FE"),
    ],
)
def test_same_site_paths_are_kept(value: str, expected: str) -> None:
    assert safe_next(value) == expected


def test_evil_next_is_not_followed_after_the_trial(client: TestClient) -> None:
    response = submit(client, next="//evil.example/x")
    assert response.status_code == 303 and response.headers["location"] == "/"


# ---------------------------------------------------------------------------
# e-mail confirmation


def test_email_confirmation_flow(make_client: ClientFactory, clock: Clock, store: SQLiteStore) -> None:
    sent: list[tuple[str, str]] = []

    async def sender(email: str, url: str) -> None:
        sent.append((email, url))

    client = make_client(email_confirmation=True, email_sender=sender, public_url="https://news.example")
    response = submit(client, "Reader+News@Example.com", next="/news/story")
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert "paywall_trial" not in set_cookies(response)
    assert asyncio.run(store.list_trials()) == []
    ((to, url),) = sent
    assert to == "Reader+News@Example.com"
    assert url.startswith("https://news.example/_paywall/trial/confirm?token=")

    confirmed = client.get(url)
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/news/story"
    assert "paywall_trial" in set_cookies(confirmed)
    (trial,) = asyncio.run(store.list_trials())
    assert trial.email == "reader@example.com"
    # Opening the link again gives back the same trial, not an error.
    assert client.get(url).status_code == 303
    assert len(asyncio.run(store.list_trials())) == 1


def test_confirmation_link_expires_and_resists_tampering(make_client: ClientFactory, clock: Clock) -> None:
    sent: list[str] = []
    client = make_client(
        email_confirmation=True, email_sender=lambda email, url: sent.append(url), public_url="https://news.example"
    )
    assert submit(client).status_code == 200
    url = sent[0]
    for bad in (url[:-4], url + "x", url.split("?")[0], url.split("?")[0] + "?token="):
        response = client.get(bad)
        assert response.status_code == 400 and "does not work" in response.text
    clock.now = NOW + 25 * 3600
    assert client.get(url).status_code == 400


def test_failing_sender_is_503(make_client: ClientFactory, caplog: pytest.LogCaptureFixture) -> None:
    def sender(email: str, url: str) -> None:
        raise ConnectionError("smtp down")

    client = make_client(email_confirmation=True, email_sender=sender, public_url="https://news.example")
    response = submit(client)
    assert response.status_code == 503 and response.headers["retry-after"] == "60"
    assert "Traceback" not in response.text and "smtp" not in response.text
    assert "email_sender failed" in caplog.text


def test_confirmation_link_never_follows_the_host_header(make_client: ClientFactory, make_settings: Make) -> None:
    sent: list[str] = []
    client = make_client(
        email_confirmation=True, email_sender=lambda email, url: sent.append(url), public_url="https://news.example"
    )
    csrf = open_form(client)
    client.post(
        TRIAL,
        data={"email": "a@example.com", "consent": "yes", "csrf": csrf},
        headers={"host": "evil.example"},
    )
    assert sent and sent[0].startswith("https://news.example/_paywall/trial/confirm?token=")
    with pytest.raises(ConfigError) as info:
        make_settings(email_confirmation=True, email_sender=lambda email, url: None)
    assert info.value.field == "email_confirmation"


# ---------------------------------------------------------------------------
# status


def test_status_anonymous_metered_and_member(make_client: ClientFactory, make_settings: Make) -> None:
    anonymous = make_client()
    assert status_of(anonymous) == {"access": "anonymous", "trial_ends": None, "free_articles_left": None}
    metered = make_client(free_articles=3)
    assert status_of(metered) == {"access": "metered", "trial_ends": None, "free_articles_left": 3}
    member = make_client()
    member.cookies.set("paywall_member", issue_member_token(make_settings(), "sub-1", 5, now=NOW))
    response = member.get("/_paywall/status")
    assert response.json() == {"access": "member", "trial_ends": None, "free_articles_left": None}
    assert "sub-1" not in response.text  # nothing personal the reader did not send
    assert "Cookie" in response.headers["vary"]


def test_status_after_free_articles_are_used(make_client: ClientFactory, store: SQLiteStore) -> None:
    client = make_client(free_articles=1)
    client.get("/_paywall/status")
    device_cookie = client.cookies["paywall_device"]
    from paywall.access.tokens import load_device_token

    device = load_device_token(PaywallSettings(secret_key=SECRET), device_cookie, now=NOW).device_id
    asyncio.run(store.meter(device_id=device, article_key="/a", period="2027-01", limit=1))
    assert status_of(client) == {"access": "anonymous", "trial_ends": None, "free_articles_left": 0}


# ---------------------------------------------------------------------------
# store down


def test_store_down_gives_503_and_anonymous_status(make_client: ClientFactory) -> None:
    down = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    client = make_client(store_=down, free_articles=3)
    assert client.get(TRIAL).status_code == 200  # the form itself needs no store
    response = submit(client)
    assert response.status_code == 503 and response.headers["retry-after"] == "60"
    assert "try again" in response.text.lower() and "Traceback" not in response.text
    assert "paywall_trial" not in set_cookies(response)
    assert status_of(client) == {"access": "anonymous", "trial_ends": None, "free_articles_left": None}
    asyncio.run(down.aclose())


@pytest.mark.redis
def test_store_that_comes_back_serves_again(make_client: ClientFactory) -> None:
    with redis_server() as server:
        store = RedisStore.from_url(server.url)
        client = make_client(store_=store)
        server.stop()
        assert submit(client).status_code == 503
        server.start()
        assert submit(client).status_code == 303
        assert status_of(client)["access"] == "trial"
        asyncio.run(store.aclose())


# ---------------------------------------------------------------------------
# other paths


@pytest.mark.parametrize(
    "path", ["/_paywall/", "/_paywall/nope", "/_paywall/trial/", "/_paywall/<script>", "/_paywall/protect.js"]
)
def test_unknown_paths_are_404_pages(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "Page not found" in response.text and "<script>" not in response.text


def test_wrong_methods_are_405(client: TestClient) -> None:
    for method, path in (("PUT", TRIAL), ("DELETE", "/_paywall/status"), ("POST", "/_paywall/trial/confirm")):
        response = client.request(method, path)
        assert response.status_code == 405 and "allow" in response.headers


def test_protection_assets_are_served_with_long_cache(make_settings: Make, client: TestClient) -> None:
    from paywall.protection.tags import Protection

    head = Protection(make_settings()).head_html(nonce=None)
    urls = re.findall(r'(?:href|src)="(/_paywall/[^"]+)"', head)
    assert len(urls) == 2
    for url in urls:
        response = client.get(html.unescape(url))
        assert response.status_code == 200 and response.content
        assert "immutable" in response.headers["cache-control"]
        assert "max-age=31536000" in response.headers["cache-control"]
        assert response.headers["content-type"].split(";")[0] in (
            "text/css",
            "text/javascript",
            "application/javascript",
        )


# ---------------------------------------------------------------------------
# 20 concurrent requests for one address, through real servers


def server_app() -> Endpoints:
    """uvicorn factory: the endpoints on the store named by PAYWALL_STORE.

    Every racer comes from 127.0.0.1: the per-address sign-up caps are off, so
    that what is raced is the store's one-trial rule.
    """
    settings = PaywallSettings(
        secret_key=os.environ["PAYWALL_SECRET_KEY"],
        store=os.environ["PAYWALL_STORE"],
        trial_ip_daily_cap=0,
        trial_network_daily_cap=0,
    )
    return Endpoints(settings, open_store(settings.store))


async def _race(urls: list[str], email: str, count: int) -> list[int]:
    """``count`` readers on their own devices open the form, then all send it at once."""
    clients = [httpx.AsyncClient(base_url=urls[i % len(urls)], timeout=30) for i in range(count)]
    try:
        forms = await asyncio.gather(*(c.get(TRIAL, params={"next": "/news/a"}) for c in clients))
        assert all(f.status_code == 200 for f in forms)
        posts = await asyncio.gather(
            *(
                c.post(TRIAL, data={"email": email, "consent": "yes", "next": "/news/a", "csrf": csrf_of(f.text)})
                for c, f in zip(clients, forms, strict=True)
            )
        )
        return [p.status_code for p in posts]
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def test_twenty_concurrent_posts_make_one_trial_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
    env = {"PAYWALL_SECRET_KEY": SECRET, "PAYWALL_STORE": f"sqlite:///{db}"}
    with (
        run_uvicorn("tests.test_endpoints:server_app", env, factory=True) as one,
        run_uvicorn("tests.test_endpoints:server_app", env, factory=True) as two,
    ):
        codes = asyncio.run(_race([one, two], "race@example.com", 20))
    assert sorted(codes) == [303] + [409] * 19
    store = SQLiteStore(db)
    trials = asyncio.run(store.list_trials())
    asyncio.run(store.aclose())
    assert [t.email for t in trials] == ["race@example.com"]


@pytest.mark.redis
def test_twenty_concurrent_posts_make_one_trial_on_two_instances_sharing_redis() -> None:
    with redis_server() as server:
        env = {"PAYWALL_SECRET_KEY": SECRET, "PAYWALL_STORE": server.url}
        with (
            run_uvicorn("tests.test_endpoints:server_app", env, factory=True) as one,
            run_uvicorn("tests.test_endpoints:server_app", env, factory=True) as two,
        ):
            codes = asyncio.run(_race([one, two], "race@example.com", 20))
        store = RedisStore.from_url(server.url)
        trials = asyncio.run(store.list_trials())
        asyncio.run(store.aclose())
    assert sorted(codes) == [303] + [409] * 19
    assert [t.email for t in trials] == ["race@example.com"]


def test_status_json_is_plain(client: TestClient) -> None:
    body = client.get("/_paywall/status").content
    assert json.loads(body) == {"access": "anonymous", "trial_ends": None, "free_articles_left": None}


def test_trial_form_clears_a_dead_trial_cookie_and_keeps_one_device(make_client: ClientFactory) -> None:
    client = make_client(free_articles=3)
    client.cookies.set("paywall_trial", "garbage")
    form = client.get(TRIAL)
    cookies = set_cookies(form)
    assert "Max-Age=0" in cookies["paywall_trial"]
    assert len([c for c in form.headers.get_list("set-cookie") if c.startswith("paywall_device=")]) == 1


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/_paywall/trial", {"GET", "HEAD", "POST"}), ("/_paywall/status", {"GET", "HEAD"})],
)
def test_other_methods_get_a_405_page_naming_the_allowed_ones(client: TestClient, path: str, allowed: set[str]) -> None:
    response = client.request("PUT", path)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
    assert response.headers["content-type"].startswith("text/html")
    assert "Method not allowed" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
