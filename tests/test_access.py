"""Who is reading: resolver, member cookie, JWT, trial token, device and meter."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.requests import Request

from paywall import ConfigError, PaywallMiddleware, PaywallSettings, issue_member_token
from paywall.access.readers import (
    DEVICE_COOKIE_MAX_AGE,
    Reader,
    consume_meter,
    free_articles_left,
    identify,
    is_valid_email,
    meter_period,
    normalize_email,
)
from paywall.access.store.base import MeterResult, Store, Trial
from paywall.access.store.redis import RedisStore
from paywall.access.store.sqlite import SQLiteStore
from paywall.access.tokens import DEVICE, TRIAL, issue_device_token, issue_trial_token, load_device_token, sign
from tests.servers import free_port

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC
DAY = 86400.0
HS_SECRET = "an-hmac-secret-that-is-long-enough-0123456789"
DEVICE_ID = "device-0000000000000001"

Make = Callable[..., PaywallSettings]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    db = SQLiteStore(tmp_path / "access.db")
    yield db
    await db.aclose()


@pytest.fixture
async def down_store() -> AsyncIterator[RedisStore]:
    """A real store whose server is not there: nothing listens on the port."""
    db = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    yield db
    await db.aclose()


def request(
    cookies: dict[str, str] | None = None,
    *,
    headers: dict[str, str] | None = None,
    scheme: str = "http",
    path: str = "/news/story",
    client: tuple[str, int] = ("203.0.113.5", 50000),
) -> Request:
    raw = [(b"host", b"news.example")]
    if cookies:
        raw.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    for name, value in (headers or {}).items():
        raw.append((name.lower().encode(), value.encode()))
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": raw,
        "scheme": scheme,
        "client": client,
        "server": ("news.example", 443 if scheme == "https" else 80),
        "state": {},
    }
    return Request(scope)


def parsed(set_cookie: str) -> tuple[str, Any]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(set_cookie)
    ((name, morsel),) = jar.items()
    return name, morsel


def cookie_named(reader: Reader, name: str) -> Any:
    found = [parsed(c)[1] for c in reader.set_cookies if parsed(c)[0] == name]
    assert len(found) == 1, reader.set_cookies
    return found[0]


async def started_trial(store: Store, *, email: str = "reader@example.com", device: str = DEVICE_ID) -> Trial:
    result = await store.start_trial(
        trial_id=f"trial-{email}", email=email, device_id=device, started_at=NOW, ends_at=NOW + 7 * DAY
    )
    assert result.trial is not None
    return result.trial


# ---------------------------------------------------------------------------
# device


async def test_reader_without_metering_gets_no_cookie(make_settings: Make, store: Store) -> None:
    reader = await identify(request(), make_settings(), store, now=NOW)
    assert reader == Reader(level="anonymous")


async def test_new_reader_gets_a_signed_device_cookie(make_settings: Make, store: Store) -> None:
    settings = make_settings(free_articles=3)
    reader = await identify(request(), settings, store, now=NOW)
    assert reader == Reader(level="anonymous", device_id=reader.device_id, set_cookies=reader.set_cookies)
    assert not reader.reads_in_full and not reader.trial_ended
    morsel = cookie_named(reader, "paywall_device")
    assert load_device_token(settings, morsel.value, now=NOW).device_id == reader.device_id
    assert reader.device_id is not None and len(reader.device_id) >= 22  # 128 random bits
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"
    assert int(morsel["max-age"]) == DEVICE_COOKIE_MAX_AGE == 365 * 86400
    assert not morsel["secure"]
    other = await identify(request(), settings, store, now=NOW)
    assert other.device_id != reader.device_id


@pytest.mark.parametrize(
    ("scheme", "setting", "secure"),
    [("https", None, True), ("http", None, False), ("http", True, True), ("https", False, False)],
)
async def test_device_cookie_secure_flag(
    make_settings: Make, store: Store, scheme: str, setting: bool | None, secure: bool
) -> None:
    settings = make_settings(cookie_secure=setting, free_articles=3)
    reader = await identify(request(scheme=scheme), settings, store, now=NOW)
    assert bool(cookie_named(reader, "paywall_device")["secure"]) is secure


async def test_known_device_is_kept_and_bad_ones_replaced(make_settings: Make, store: Store) -> None:
    settings = make_settings(free_articles=3)
    good = issue_device_token(settings, DEVICE_ID, now=NOW)
    reader = await identify(request({"paywall_device": good}), settings, store, now=NOW + 200 * DAY)
    assert reader.device_id == DEVICE_ID and reader.set_cookies == ()
    foreign = issue_device_token(make_settings(secret_key="foreign-key-0123456789abcdef"), DEVICE_ID)
    wrong_salt = sign(settings, TRIAL, {"d": DEVICE_ID}, now=NOW)
    for bad in (good[:-3], foreign, wrong_salt, "x"):
        reader = await identify(request({"paywall_device": bad}), settings, store, now=NOW)
        assert reader.device_id != DEVICE_ID
        assert cookie_named(reader, "paywall_device").value


# ---------------------------------------------------------------------------
# member_resolver


async def test_sync_and_async_resolvers(make_settings: Make, store: Store) -> None:
    async def async_yes(req: Request) -> bool:
        return req.url.path.startswith("/news")

    for resolver in (lambda req: True, async_yes):
        reader = await identify(request(), make_settings(member_resolver=resolver), store, now=NOW)
        assert reader.level == "member" and reader.reads_in_full and reader.set_cookies == ()
    no = await identify(request(), make_settings(member_resolver=lambda req: False), store, now=NOW)
    assert no.level == "anonymous"


async def test_resolver_runs_at_most_once_per_request(make_settings: Make, store: Store) -> None:
    calls: list[str] = []

    def resolver(req: Request) -> bool:
        calls.append(req.url.path)
        return False

    settings = make_settings(member_resolver=resolver)
    req = request()
    await identify(req, settings, store, now=NOW)
    await identify(Request(req.scope), settings, store, now=NOW)  # same request, new wrapper
    assert calls == ["/news/story"]
    await identify(request(), settings, store, now=NOW)
    assert len(calls) == 2


async def test_failing_resolver_is_logged_with_the_path_and_means_non_member(
    make_settings: Make, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(req: Request) -> bool:
        raise RuntimeError("database is down")

    async def broken_async(req: Request) -> bool:
        raise OSError("timeout")

    for resolver in (broken, broken_async):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="paywall"):
            reader = await identify(request(path="/news/scoop"), make_settings(member_resolver=resolver), store)
        assert reader.level == "anonymous"
        assert any("/news/scoop" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_resolver_returning_non_bool_means_non_member(
    make_settings: Make, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="paywall"):
        reader = await identify(request(), make_settings(member_resolver=lambda req: "yes"), store, now=NOW)
    assert reader.level == "anonymous"
    assert "not True or False" in caplog.text


# ---------------------------------------------------------------------------
# member cookie and JWT


async def test_member_cookie(make_settings: Make, store: Store) -> None:
    settings = make_settings()
    token = issue_member_token(settings, "subscriber-7", 30, now=NOW)
    reader = await identify(request({"paywall_member": token}), settings, store, now=NOW)
    assert reader.level == "member" and reader.subject == "member:subscriber-7" and reader.set_cookies == ()
    expired = await identify(request({"paywall_member": token}), settings, store, now=NOW + 31 * DAY)
    assert expired.level == "anonymous"
    assert cookie_named(expired, "paywall_member")["max-age"] == "0"
    forged = await identify(request({"paywall_member": token[:-2] + "xx"}), settings, store, now=NOW)
    assert forged.level == "anonymous" and cookie_named(forged, "paywall_member").value == ""


async def test_jwt_from_cookie_or_bearer(make_settings: Make, store: Store) -> None:
    settings = make_settings(jwt_key=HS_SECRET, jwt_audience="news")
    token = jwt.encode({"sub": "sso-1", "exp": NOW + 600, "aud": "news"}, HS_SECRET, algorithm="HS256")
    by_cookie = await identify(request({"paywall_jwt": token}), settings, store, now=NOW)
    by_header = await identify(request(headers={"Authorization": f"Bearer {token}"}), settings, store, now=NOW)
    assert by_cookie.subject == by_header.subject == "member:sso-1"
    assert by_cookie.level == by_header.level == "member"
    late = await identify(request({"paywall_jwt": token}), settings, store, now=NOW + 3600)
    assert late.level == "anonymous"
    none_alg = jwt.encode({"sub": "x", "exp": NOW + 600, "aud": "news"}, "", algorithm="none")
    refused = await identify(request(headers={"Authorization": f"Bearer {none_alg}"}), settings, store, now=NOW)
    assert refused.level == "anonymous"


def test_misconfigured_jwt_key_stops_start_up(make_settings: Make, tmp_path: Path) -> None:
    async def site(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("never started")

    # Settings hold the values and read nothing; the paywall reads the key when it starts.
    for field, values in (
        ("jwt_key", {"jwt_key": "too-short"}),
        ("jwt_key", {"jwt_key": "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----"}),
        ("jwt_key", {"jwt_key": str(tmp_path / "not-a-key.txt")}),
        ("jwt_jwks_file", {"jwt_jwks_file": str(tmp_path / "missing-jwks.json")}),
    ):
        (tmp_path / "not-a-key.txt").write_text("hello")
        settings = make_settings(jwt_audience="news", **values)
        with pytest.raises(ConfigError) as info:
            PaywallMiddleware(site, settings=settings)
        assert info.value.field == field, values


# ---------------------------------------------------------------------------
# trial token


async def test_active_trial(make_settings: Make, store: Store) -> None:
    settings = make_settings()
    trial = await started_trial(store)
    token = issue_trial_token(settings, trial.trial_id, trial.ends_at, now=NOW)
    reader = await identify(request({"paywall_trial": token}), settings, store, now=NOW + DAY)
    assert reader.level == "trial" and reader.reads_in_full
    assert reader.trial == trial and reader.subject == f"trial:{trial.trial_id}"


async def test_expired_trial_token_means_ended_and_cleared(make_settings: Make, store: Store) -> None:
    settings = make_settings()
    trial = await started_trial(store)
    token = issue_trial_token(settings, trial.trial_id, trial.ends_at, now=NOW)
    reader = await identify(request({"paywall_trial": token}), settings, store, now=trial.ends_at)
    assert reader.level == "anonymous" and reader.trial_ended and not reader.reads_in_full
    assert cookie_named(reader, "paywall_trial")["max-age"] == "0"


async def test_ended_trial_is_remembered_by_the_device_cookie(make_settings: Make, store: Store) -> None:
    settings = make_settings()
    device = issue_device_token(settings, DEVICE_ID, trial_ends_at=NOW + 7 * DAY, now=NOW)
    during = await identify(request({"paywall_device": device}), settings, store, now=NOW + DAY)
    assert not during.trial_ended
    after = await identify(request({"paywall_device": device}), settings, store, now=NOW + 8 * DAY)
    assert after.trial_ended and after.level == "anonymous" and after.set_cookies == ()


async def test_revoked_trial_stops_on_the_next_request(make_settings: Make, store: Store) -> None:
    settings = make_settings()
    trial = await started_trial(store)
    cookies = {"paywall_trial": issue_trial_token(settings, trial.trial_id, trial.ends_at, now=NOW)}
    assert (await identify(request(cookies), settings, store, now=NOW)).level == "trial"
    assert await store.revoke_trial("reader@example.com") == 1
    reader = await identify(request(cookies), settings, store, now=NOW + 1)
    assert reader.level == "anonymous" and reader.trial_ended
    assert cookie_named(reader, "paywall_trial")["max-age"] == "0"


async def test_unknown_trial_is_cleared_without_claiming_it_ended(make_settings: Make, store: Store) -> None:
    settings = make_settings()
    token = issue_trial_token(settings, "never-existed", NOW + DAY, now=NOW)
    reader = await identify(request({"paywall_trial": token}), settings, store, now=NOW)
    assert reader.level == "anonymous" and not reader.trial_ended
    assert cookie_named(reader, "paywall_trial")["max-age"] == "0"


async def test_forged_truncated_foreign_and_wrong_salt_trial_tokens(make_settings: Make, store: Store) -> None:
    settings = make_settings()
    trial = await started_trial(store)
    good = issue_trial_token(settings, trial.trial_id, trial.ends_at, now=NOW)
    foreign = issue_trial_token(make_settings(secret_key="foreign-key-0123456789abcdef"), trial.trial_id, NOW + DAY)
    wrong_salt = sign(settings, DEVICE, {"t": trial.trial_id, "e": trial.ends_at}, now=NOW)
    for bad in (good[:-1], good[:20], good.replace(".", "!", 1), foreign, wrong_salt, "null", '"abc.def"'):
        reader = await identify(request({"paywall_trial": bad}), settings, store, now=NOW)
        assert reader.level == "anonymous" and not reader.trial_ended, bad
        assert cookie_named(reader, "paywall_trial").value == ""


async def test_store_down_means_non_member_and_keeps_the_cookie(
    make_settings: Make, down_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    token = issue_trial_token(settings, "trial-1", NOW + DAY, now=NOW)
    with caplog.at_level(logging.WARNING, logger="paywall"):
        reader = await identify(request({"paywall_trial": token}, path="/news/x"), settings, down_store, now=NOW)
    assert reader.level == "anonymous" and not reader.reads_in_full
    assert all(parsed(c)[0] != "paywall_trial" for c in reader.set_cookies)
    assert "/news/x" in caplog.text


async def test_member_beats_trial_and_needs_no_device(make_settings: Make, store: Store) -> None:
    settings = make_settings(member_resolver=lambda req: True)
    reader = await identify(request({"paywall_trial": "junk"}), settings, store, now=NOW)
    assert reader.level == "member" and reader.device_id is None and reader.set_cookies == ()


# ---------------------------------------------------------------------------
# metering


async def test_meter_counts_distinct_articles_per_month(make_settings: Make, store: Store) -> None:
    settings = make_settings(free_articles=2)
    device = issue_device_token(settings, DEVICE_ID, now=NOW)
    req = request({"paywall_device": device})
    reader = await identify(req, settings, store, now=NOW)
    assert await free_articles_left(reader, settings, store, now=NOW) == 2

    first = await consume_meter(reader, req, settings, store, "/news/a", now=NOW)
    assert first == MeterResult(allowed=True, used=1, limit=2)
    assert reader.with_meter(first).level == "metered"
    assert (await consume_meter(reader, req, settings, store, "/news/b", now=NOW)).allowed  # type: ignore[union-attr]
    again = await consume_meter(reader, req, settings, store, "/news/a", now=NOW + DAY)
    assert again is not None and again.allowed and again.used == 2  # re-reading costs nothing
    third = await consume_meter(reader, req, settings, store, "/news/c", now=NOW + DAY)
    assert third is not None and not third.allowed and third.left == 0
    assert reader.with_meter(third).level == "anonymous"
    assert await free_articles_left(reader, settings, store, now=NOW) == 0

    next_month = NOW + 20 * DAY
    assert meter_period(NOW) == "2027-01" and meter_period(next_month) == "2027-02"
    fresh = await consume_meter(reader, req, settings, store, "/news/c", now=next_month)
    assert fresh is not None and fresh.allowed and fresh.used == 1


async def test_meter_is_off_for_members_and_without_free_articles(make_settings: Make, store: Store) -> None:
    off = make_settings()
    reader = await identify(request(), off, store, now=NOW)
    assert await consume_meter(reader, request(), off, store, "/a", now=NOW) is None
    assert await free_articles_left(reader, off, store, now=NOW) is None
    on = make_settings(free_articles=3, member_resolver=lambda req: True)
    member = await identify(request(), on, store, now=NOW)
    assert await consume_meter(member, request(), on, store, "/a", now=NOW) is None
    assert member.with_meter(MeterResult(True, 1, 3)).level == "member"


async def test_meter_store_down_means_no_free_article(make_settings: Make, down_store: Store) -> None:
    settings = make_settings(free_articles=3)
    reader = await identify(request(), settings, down_store, now=NOW)
    assert reader.device_id is not None
    assert await consume_meter(reader, request(), settings, down_store, "/a", now=NOW) is None
    assert await free_articles_left(reader, settings, down_store, now=NOW) is None


async def test_ip_daily_cap_limits_new_devices(make_settings: Make, store: Store) -> None:
    settings = make_settings(free_articles=5, meter_ip_daily_cap=2)
    results = []
    for _ in range(3):  # cookies cleared each time: a new device, the same address
        req = request(client=("198.51.100.9", 1000))
        reader = await identify(req, settings, store, now=NOW)
        results.append(await consume_meter(reader, req, settings, store, "/news/a", now=NOW))
    assert [r.allowed for r in results if r] == [True, True, False]
    assert results[2] is not None and results[2].ip_capped
    other_ip = request(client=("198.51.100.10", 1000))
    reader = await identify(other_ip, settings, store, now=NOW)
    allowed = await consume_meter(reader, other_ip, settings, store, "/news/a", now=NOW)
    assert allowed is not None and allowed.allowed
    tomorrow = request(client=("198.51.100.9", 1000))
    reader = await identify(tomorrow, settings, store, now=NOW + DAY)
    later = await consume_meter(reader, tomorrow, settings, store, "/news/a", now=NOW + DAY)
    assert later is not None and later.allowed


async def test_ip_cap_uses_forwarded_address_only_from_trusted_proxies(make_settings: Make, store: Store) -> None:
    settings = make_settings(free_articles=5, meter_ip_daily_cap=1, trusted_proxies=("10.0.0.0/8",))

    async def read(client: str, forwarded: str) -> bool:
        req = request(client=(client, 1), headers={"X-Forwarded-For": forwarded})
        reader = await identify(req, settings, store, now=NOW)
        result = await consume_meter(reader, req, settings, store, "/news/a", now=NOW)
        return result is not None and result.allowed

    # Behind the trusted proxy, each forwarded client has its own cap.
    assert await read("10.0.0.1", "192.0.2.1")
    assert await read("10.0.0.1", "192.0.2.2")
    assert not await read("10.0.0.1", "192.0.2.1")
    # An untrusted peer cannot escape its cap by forging the header.
    assert await read("203.0.113.50", "192.0.2.77")
    assert not await read("203.0.113.50", "192.0.2.78")


# ---------------------------------------------------------------------------
# e-mail addresses


@pytest.mark.parametrize(
    "email",
    ["reader@example.com", "a.b-c_d+tag@mail.example.co.uk", "x@xn--bcher-kva.example", "o'neil@example.ie"],
)
def test_valid_emails(email: str) -> None:
    assert is_valid_email(email)


@pytest.mark.parametrize(
    "email",
    [
        "",
        "plain",
        "@example.com",
        "reader@",
        "reader@localhost",
        "reader@example",
        "reader@@example.com",
        "re ader@example.com",
        "reader@exa mple.com",
        ".reader@example.com",
        "reader.@example.com",
        "rea..der@example.com",
        '"quoted"@example.com',
        "reader@[127.0.0.1]",
        "reader@-example.com",
        "reader@example.c",
        "reader@example.com\n",
        "reader@example.com\r\nBcc: x@example.com",
        "<script>@example.com",
        "ré@example.com",
        "a" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
        "reader@example.123",
    ],
)
def test_invalid_emails(email: str) -> None:
    assert not is_valid_email(email)


def test_normalize_email() -> None:
    assert normalize_email("  Reader@Example.COM ", fold_plus=True) == "reader@example.com"
    assert normalize_email("reader+news@example.com", fold_plus=True) == "reader@example.com"
    assert normalize_email("reader+news@example.com", fold_plus=False) == "reader+news@example.com"
    assert normalize_email("+tag@example.com", fold_plus=True) == "+tag@example.com"
