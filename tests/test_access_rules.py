"""Access that cannot be stretched: per-network limits, JWT audience and claims, trial sign-up caps,
e-mail folding, weak secrets, and the member resolver's time limit.

Each test is an attack a non-member would try, made through the public surface
(the middleware around a small site) wherever the rule shows there.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from paywall import ConfigError, PaywallMiddleware, PaywallSettings
from paywall.access.readers import network_of, reader_email
from paywall.settings import weak_secret
from tests.apps.gate_app import SECRET_WORDS, article_html
from tests.asgi import Result, call
from tests.conftest import SECRET, assert_no_leak
from tests.servers import ROOT

pytestmark = pytest.mark.anyio

Make = Callable[..., PaywallSettings]
HS_SECRET = "an-hmac-secret-that-is-long-enough-0123456789"
AUD = "news.example"


async def story(request: Request) -> HTMLResponse:
    return HTMLResponse(article_html())


SITE = Starlette(routes=[Route("/news/{slug}", story)])


def is_full(result: Result) -> bool:
    return result.status == 200 and all(word in result.body.decode() for word in SECRET_WORDS)


def is_teaser(result: Result) -> bool:
    if result.status != 200:
        return False
    assert_no_leak(result.body, SECRET_WORDS)
    return True


# ---------------------------------------------------------------------------
# addresses: one IPv6 /64 is one address


def test_network_of_folds_ipv6_to_its_prefix() -> None:
    fold = {"v4_prefix": 32, "v6_prefix": 64}
    assert network_of("2001:db8:1:2::1", **fold) == network_of("2001:db8:1:2:ffff:ee:dd:cc", **fold)
    assert network_of("2001:db8:1:2::1", **fold) == "2001:db8:1:2::/64"
    assert network_of("2001:db8:1:3::1", **fold) != network_of("2001:db8:1:2::1", **fold)
    assert network_of("203.0.113.9", **fold) == "203.0.113.9/32"
    assert network_of("::ffff:203.0.113.9", **fold) == "203.0.113.9/32"  # IPv4-mapped counts as IPv4
    assert network_of("203.0.113.9", v4_prefix=24, v6_prefix=48) == "203.0.113.0/24"
    assert network_of("2001:db8:1:2::1", v4_prefix=24, v6_prefix=48) == "2001:db8:1::/48"
    assert network_of("unix-socket", **fold) == "unix-socket"


async def test_meter_ip_cap_counts_a_whole_ipv6_64(make_settings: Make) -> None:
    settings = make_settings(free_articles=10, meter_ip_daily_cap=2)
    app = PaywallMiddleware(SITE, settings=settings)
    # A script without cookies, rotating through its /64: every request a fresh device and address.
    results = [await call(app, f"/news/story-{i}", client=(f"2001:db8:1:2::{i + 1:x}", 40000)) for i in range(5)]
    assert [is_full(r) for r in results] == [True, True, False, False, False]
    for result in results[2:]:
        assert is_teaser(result)
    # The next /64 (another household) has its own allowance.
    assert is_full(await call(app, "/news/story-9", client=("2001:db8:1:3::1", 40000)))
    await app.store.aclose()


async def test_ip_prefix_is_configurable(make_settings: Make) -> None:
    settings = make_settings(free_articles=10, meter_ip_daily_cap=1, ip_prefix_v4=24)
    app = PaywallMiddleware(SITE, settings=settings)
    assert is_full(await call(app, "/news/a", client=("198.51.100.1", 1)))
    assert is_teaser(await call(app, "/news/b", client=("198.51.100.77", 1)))
    await app.store.aclose()


@pytest.mark.parametrize(
    ("field", "value"),
    [("ip_prefix_v6", 8), ("ip_prefix_v4", 33), ("network_prefix_v4", 33), ("network_prefix_v6", 96)],
)
def test_prefix_lengths_are_checked(make_settings: Make, field: str, value: int) -> None:
    with pytest.raises(ConfigError) as info:
        make_settings(**{field: value})
    assert info.value.field == field


# ---------------------------------------------------------------------------
# JWT: audience required, and a claim that grants access


def test_jwt_without_audience_stops_start_up(make_settings: Make) -> None:
    with pytest.raises(ConfigError) as info:
        make_settings(jwt_key=HS_SECRET)
    assert info.value.field == "jwt_audience"


def _jwt(**claims: Any) -> str:
    base: dict[str, Any] = {"sub": "reader-7", "exp": time.time() + 600, "aud": AUD}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, HS_SECRET, algorithm="HS256")


async def test_a_token_for_another_audience_opens_nothing(make_settings: Make) -> None:
    app = PaywallMiddleware(SITE, settings=make_settings(jwt_key=HS_SECRET, jwt_audience=AUD))
    assert is_full(await call(app, "/news/a", headers=[(b"authorization", f"Bearer {_jwt()}".encode())]))
    for token in (_jwt(aud="forum.example"), _jwt(aud=["forum.example"]), _jwt(aud=None)):
        result = await call(app, "/news/a", headers=[(b"cookie", f"paywall_jwt={token}".encode())])
        assert is_teaser(result)
    await app.store.aclose()


async def test_a_free_plan_token_is_no_member(make_settings: Make) -> None:
    settings = make_settings(
        jwt_key=HS_SECRET, jwt_audience=AUD, jwt_member_claim="plan", jwt_member_values=("premium", "pro")
    )
    app = PaywallMiddleware(SITE, settings=settings)
    granted = (_jwt(plan="premium"), _jwt(plan=["newsletter", "pro"]))
    refused = (_jwt(plan="free"), _jwt(), _jwt(plan=["free"]), _jwt(plan={"premium": True}), _jwt(plan="PREMIUM"))
    for token in granted:
        assert is_full(await call(app, "/news/a", headers=[(b"cookie", f"paywall_jwt={token}".encode())]))
    for token in refused:
        assert is_teaser(await call(app, "/news/a", headers=[(b"cookie", f"paywall_jwt={token}".encode())]))
    await app.store.aclose()


def test_member_claim_and_values_come_together(make_settings: Make) -> None:
    with pytest.raises(ConfigError) as info:
        make_settings(jwt_key=HS_SECRET, jwt_audience=AUD, jwt_member_claim="plan")
    assert info.value.field == "jwt_member_values"
    with pytest.raises(ConfigError):
        make_settings(jwt_key=HS_SECRET, jwt_audience=AUD, jwt_member_values=("premium",))


# ---------------------------------------------------------------------------
# trials: sign-ups per address and per network, e-mail folding, a filter hook


async def sign_up(app: PaywallMiddleware, email: str, client: tuple[str, int]) -> Result:
    """A new device opens the trial form and sends it, from ``client``."""
    form = await call(app, "/_paywall/trial", query=b"next=/news/a", client=client)
    assert form.status == 200, form.body
    cookie = SimpleCookie()
    for value in form.header_list("set-cookie"):
        cookie.load(value)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.body.decode())
    assert csrf is not None
    body = urlencode({"email": email, "consent": "yes", "next": "/news/a", "csrf": csrf.group(1)}).encode()
    return await call(
        app,
        "/_paywall/trial",
        method="POST",
        chunks=[body],
        client=client,
        headers=[
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"cookie", f"paywall_device={cookie['paywall_device'].value}".encode()),
        ],
    )


async def test_throwaway_addresses_from_one_connection_get_three_trials(make_settings: Make) -> None:
    app = PaywallMiddleware(SITE, settings=make_settings())
    statuses = [
        (await sign_up(app, f"throwaway{i}@mailinator.example", (f"2001:db8:5:6::{i + 1:x}", 1))).status
        for i in range(6)
    ]
    assert statuses == [303, 303, 303, 429, 429, 429]
    refused = await sign_up(app, "another@mailinator.example", ("2001:db8:5:6::99", 1))
    assert refused.header("retry-after") and b"Too many sign-ups" in refused.body
    await app.store.aclose()


async def test_a_network_has_its_own_cap(make_settings: Make) -> None:
    app = PaywallMiddleware(SITE, settings=make_settings(trial_ip_daily_cap=1, trial_network_daily_cap=4))
    statuses = [(await sign_up(app, f"r{i}@example.com", (f"2001:db8:7:{i:x}::1", 1))).status for i in range(6)]
    assert statuses == [303, 303, 303, 303, 429, 429]  # six /64s, one /48
    assert (await sign_up(app, "elsewhere@example.com", ("2001:db8:8::1", 1))).status == 303
    await app.store.aclose()


async def test_trial_caps_off(make_settings: Make) -> None:
    app = PaywallMiddleware(SITE, settings=make_settings(trial_ip_daily_cap=0, trial_network_daily_cap=0))
    statuses = [(await sign_up(app, f"r{i}@example.com", ("198.51.100.4", 1))).status for i in range(6)]
    assert statuses == [303] * 6
    await app.store.aclose()


def test_gmail_dots_and_tags_are_one_reader(make_settings: Make) -> None:
    settings = make_settings()
    same = {
        reader_email(a, settings)
        for a in ("reader@gmail.com", "r.e.a.d.e.r@gmail.com", "Re.Ader+news@GMAIL.com", "reader@googlemail.com")
    }
    assert same == {"reader@gmail.com"}
    assert reader_email("r.eader@example.com", settings) == "r.eader@example.com"  # other domains keep dots
    plain = make_settings(dot_insensitive_domains=(), plus_addressing_is_same_reader=False)
    assert reader_email("r.eader+x@gmail.com", plain) == "r.eader+x@gmail.com"


async def test_dotted_gmail_variant_gets_no_second_trial(make_settings: Make) -> None:
    app = PaywallMiddleware(SITE, settings=make_settings())
    assert (await sign_up(app, "reader@gmail.com", ("198.51.100.1", 1))).status == 303
    again = await sign_up(app, "r.e.a.d.e.r@googlemail.com", ("203.0.113.50", 1))
    assert again.status == 409
    await app.store.aclose()


def _refuse_disposable(email: str) -> bool:
    return email.rpartition("@")[2].lower() not in {"mailinator.com", "10minutemail.com"}


def _broken_filter(email: str) -> bool:
    raise RuntimeError("blocklist service down")


async def test_email_filter_refuses_disposable_domains(make_settings: Make) -> None:
    app = PaywallMiddleware(SITE, settings=make_settings(email_filter=_refuse_disposable))
    refused = await sign_up(app, "x@mailinator.com", ("198.51.100.1", 1))
    assert refused.status == 400 and b"cannot be used for a free trial" in refused.body
    assert (await sign_up(app, "x@example.com", ("198.51.100.2", 1))).status == 303
    await app.store.aclose()
    broken = PaywallMiddleware(SITE, settings=make_settings(email_filter=_broken_filter))
    assert (await sign_up(broken, "y@example.com", ("198.51.100.3", 1))).status == 400
    await broken.store.aclose()


def test_email_filter_by_name(make_settings: Make) -> None:
    settings = make_settings(email_filter="tests.test_access_rules:_refuse_disposable")
    assert settings.email_filter is _refuse_disposable


# ---------------------------------------------------------------------------
# secrets


@pytest.mark.parametrize(
    "key",
    [
        "aaaaaaaaaaaaaaaaaaaaaaaa",
        "abcabcabcabcabcabcabcabc",
        "0000000000000000000000000000000001",
        "1234567890123456",
        "short",
        "x" * 100,
    ],
)
def test_weak_secrets_stop_start_up(key: str) -> None:
    assert weak_secret(key)
    with pytest.raises(ConfigError) as info:
        PaywallSettings(secret_key=key)
    assert info.value.field == "secret_key"
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        PaywallSettings(secret_key=SECRET, secret_key_fallbacks=(key,))
    assert info.value.field == "secret_key_fallbacks"


def test_random_keys_pass() -> None:
    import secrets

    assert all(weak_secret(secrets.token_urlsafe(32)) is None for _ in range(2000))
    assert weak_secret(SECRET) is None


# ---------------------------------------------------------------------------
# the member resolver may fail or hang: the reader is a non-member, quickly


async def _hanging(request: Request) -> bool:
    await asyncio.sleep(30)
    return True


def _blocking(request: Request) -> bool:
    time.sleep(3)
    return True


def _raising(request: Request) -> bool:
    raise ConnectionError("accounts service down")


async def _fine(request: Request) -> bool:
    return request.cookies.get("session") == "member"


@pytest.mark.parametrize("resolver", [_hanging, _blocking, _raising])
async def test_a_resolver_that_hangs_or_raises_gives_the_teaser_in_time(
    make_settings: Make, resolver: Callable[[Request], Any]
) -> None:
    app = PaywallMiddleware(SITE, settings=make_settings(member_resolver=resolver, member_resolver_timeout=0.3))
    started = time.monotonic()
    result = await call(app, "/news/a")
    assert time.monotonic() - started < 2.0
    assert is_teaser(result)
    await app.store.aclose()


async def test_a_blocking_sync_resolver_does_not_stall_other_readers(make_settings: Make) -> None:
    entered = threading.Event()

    def slow(request: Request) -> bool:
        if not entered.is_set():  # the first reader's accounts lookup is slow
            entered.set()
            time.sleep(1.0)
        return False

    app = PaywallMiddleware(SITE, settings=make_settings(member_resolver=slow, member_resolver_timeout=5))
    first = asyncio.ensure_future(call(app, "/news/a"))
    while not entered.is_set():
        await asyncio.sleep(0.01)
    started = time.monotonic()
    status = await call(app, "/_paywall/status")  # the event loop is free meanwhile
    assert status.status == 200 and time.monotonic() - started < 0.5
    assert is_teaser(await first)
    await app.store.aclose()


async def test_a_working_resolver_still_makes_members(make_settings: Make) -> None:
    app = PaywallMiddleware(SITE, settings=make_settings(member_resolver=_fine))
    assert is_full(await call(app, "/news/a", headers=[(b"cookie", b"session=member")]))
    assert is_teaser(await call(app, "/news/a"))
    await app.store.aclose()


def test_resolver_timeout_is_checked(make_settings: Make) -> None:
    for bad in (0, -1, 61):
        with pytest.raises(ConfigError) as info:
            make_settings(member_resolver_timeout=bad)
        assert info.value.field == "member_resolver_timeout"


def test_site_name_unset_names_no_site(make_settings: Make, tmp_path: Path) -> None:
    from paywall.pages.templates import render_message

    page = render_message(make_settings(), title="Start your 7-day free trial", message="m")
    assert "<title>Start your 7-day free trial</title>" in page
    assert "this site" not in page.split("<body>")[0] and "·" not in page
    named = render_message(make_settings(site_name="The Daily"), title="T", message="m")
    assert "<title>T · The Daily</title>" in named


async def test_hung_sync_resolvers_never_starve_the_store(make_settings: Make) -> None:
    """Resolvers stuck for good hold their own worker threads, not those the SQLite store needs."""
    release = threading.Event()

    def stuck(request: Request) -> bool:
        release.wait(30)
        return False

    settings = make_settings(member_resolver=stuck, member_resolver_timeout=0.2, free_articles=3)
    app = PaywallMiddleware(SITE, settings=settings)
    try:
        await asyncio.gather(*(call(app, f"/news/{i}", client=(f"198.51.100.{i}", 1)) for i in range(60)))
        started = time.monotonic()
        await app.store.ping()  # a store call still gets a thread at once
        assert time.monotonic() - started < 1.0
        result = await call(app, "/news/x", client=("203.0.113.1", 1))
        assert is_full(result)  # a metered free article: the meter (a store write) still works
    finally:
        release.set()
        await app.store.aclose()


def test_weak_secret_stops_the_server_with_one_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PAYWALL_SECRET_KEY": "aaaaaaaaaaaaaaaaaaaaaaaa"}
    result = subprocess.run(
        [sys.executable, "-m", "paywall.cli", "proxy", "--upstream", "http://127.0.0.1:9"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: secret_key: is not random")
    assert "aaaa" not in lines[0]  # the key itself is never printed
