"""Insights in process: counted events, experiments, the trial form in the call to action, statistics.

The end-to-end run (a real server, ``paywall stats`` and the dashboard in
Chromium) is in ``test_insights_browser.py``.
"""

from __future__ import annotations

import base64
import datetime
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from paywall import PaywallMiddleware, PaywallSettings
from paywall.access.store import EventCount, open_store
from paywall.access.store.sqlite import SQLiteStore
from paywall.access.tokens import VARIANT, sign
from paywall.errors import ConfigError
from paywall.insights.events import MAX_PENDING_KEYS, EventBuffer, RateLimiter, redact
from paywall.insights.experiments import parse_variants
from paywall.insights.stats import build_report, compare, parse_since, wilson
from tests.apps.gate_app import SECRET_WORDS
from tests.apps.insights_app import site
from tests.conftest import SECRET, assert_no_leak

SettingsFactory = Callable[..., PaywallSettings]
PASSWORD = "correct horse battery staple"
TODAY = datetime.datetime.now(datetime.UTC).date()


def report_of(mw: PaywallMiddleware) -> dict[str, Any]:
    """Write what the middleware has counted, then read it back as ``paywall stats --json`` would."""

    async def read() -> dict[str, Any]:
        await mw.insights.aclose()
        counts = await mw.store.event_counts(since_day=TODAY.isoformat(), until_day=TODAY.isoformat())
        await mw.store.aclose()
        names = [v.name for v in mw.insights.experiment.variants]
        return build_report(counts, since=TODAY, until=TODAY, variants=names)

    return anyio.run(read)


def by_article(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["article"]: row for row in report["articles"]}


def cta_form(html: str) -> dict[str, str]:
    """The hidden fields of the trial form in the call to action."""
    form = BeautifulSoup(html, "html.parser").select_one("aside[data-paywall-cta] form.paywall-cta__form")
    assert form is not None, "no trial form in the call to action"
    return {str(i["name"]): str(i["value"]) for i in form.select("input[type=hidden]")}


def unescape(value: str) -> str:
    return value.replace("&amp;", "&").replace("&#x27;", "'").replace("&quot;", '"')


# ---------------------------------------------------------------------------
# the funnel through the middleware


def test_known_traffic_gives_known_counts(make_settings: SettingsFactory) -> None:
    mw = PaywallMiddleware(site, settings=make_settings(free_articles=1, member_resolver=_member))
    readers = [TestClient(mw) for _ in range(3)]
    for reader in readers:
        assert reader.get("/story/1").status_code == 200  # the free article of the month
    first = readers[0].get("/story/2")
    assert_no_leak(first.content, SECRET_WORDS)
    readers[1].get("/story/3?utm_source=newsletter")  # counted as its canonical article
    readers[2].get("/story/2")
    link = re.search(r'href="(/_paywall/trial\?[^"]+)"', readers[1].get("/story/3").text)
    assert link is not None and "a=/news/three" in unescape(link.group(1))
    form = readers[1].get(unescape(link.group(1)))
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None and 'name="a" value="/news/three"' in form.text
    started = readers[1].post(
        "/_paywall/trial",
        data={
            "email": "b@example.com",
            "consent": "yes",
            "csrf": csrf.group(1),
            "next": "/story/3",
            "a": "/news/three",
        },
        follow_redirects=False,
    )
    assert started.status_code == 303
    assert SECRET_WORDS[0] in readers[1].get("/story/3").text  # a trial reader's view
    TestClient(mw).get("/story/2", headers={"x-test-member": "yes"})

    report = report_of(mw)
    funnel = report["funnel"]
    assert (funnel["walls_shown"], funnel["trial_page_views"], funnel["trials_started"]) == (4, 1, 1)
    assert (funnel["trials_started_on_page"], funnel["trials_started_in_cta"]) == (1, 0)
    assert (funnel["metered_views"], funnel["member_views"], funnel["copies_blocked"]) == (3, 2, 0)
    assert funnel["conversion_rate"] == pytest.approx(1 / 4)
    rows = by_article(report)
    assert set(rows) == {"/story/2", "/news/three"}
    assert (rows["/news/three"]["walls_shown"], rows["/news/three"]["trials_started"]) == (2, 1)
    assert rows["/story/2"]["walls_shown"] == 2
    assert report["top_articles"][0]["article"] == "/news/three"
    assert report["variants"] == []


def _member(request: Any) -> bool:
    return bool(request.headers.get("x-test-member") == "yes")


def test_one_step_trial_from_the_form_in_the_call_to_action(make_settings: SettingsFactory) -> None:
    mw = PaywallMiddleware(site, settings=make_settings(cta_inline_form=True))
    reader = TestClient(mw)
    page = reader.get("/story/3?x=1")
    assert_no_leak(page.content, SECRET_WORDS)
    assert "paywall_device=" in page.headers["set-cookie"]  # the form's token is bound to the device
    fields = cta_form(page.text)
    assert (fields["next"], fields["a"], fields["via"]) == ("/story/3?x=1", "/news/three", "cta")
    assert 'name="email"' in page.text and 'name="consent"' in page.text and "privacy policy" in page.text
    answer = reader.post(
        "/_paywall/trial", data={**fields, "email": "one@example.com", "consent": "yes"}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/story/3?x=1"
    assert SECRET_WORDS[0] in reader.get("/story/3?x=1").text
    # A second reader's form carries their own token, never the first reader's.
    other = TestClient(mw).get("/story/3?x=1")
    assert cta_form(other.text)["csrf"] != fields["csrf"]
    funnel = report_of(mw)["funnel"]
    assert (funnel["walls_shown"], funnel["trials_started"], funnel["trials_started_in_cta"]) == (2, 1, 1)
    assert funnel["trial_page_views"] == 0


def test_form_in_the_call_to_action_without_its_cookie_is_refused(make_settings: SettingsFactory) -> None:
    mw = PaywallMiddleware(site, settings=make_settings(cta_inline_form=True))
    fields = cta_form(TestClient(mw).get("/story/1").text)
    stranger = TestClient(mw)  # the form's token, posted from another device
    answer = stranger.post("/_paywall/trial", data={**fields, "email": "x@example.com", "consent": "yes"})
    assert answer.status_code == 403
    assert report_of(mw)["funnel"]["trials_started"] == 0


def test_refused_trial_is_counted_with_its_reason(make_settings: SettingsFactory) -> None:
    mw = PaywallMiddleware(site, settings=make_settings(cta_inline_form=True))
    for expected in (303, 409):
        reader = TestClient(mw)
        fields = cta_form(reader.get("/story/1").text)
        answer = reader.post(
            "/_paywall/trial", data={**fields, "email": "same@example.com", "consent": "yes"}, follow_redirects=False
        )
        assert answer.status_code == expected
    report = report_of(mw)
    assert (report["funnel"]["trials_started"], report["funnel"]["trials_refused"]) == (1, 1)


# ---------------------------------------------------------------------------
# experiments

VARIANTS = ("control 1", "bold 1 | Read the whole story | Start reading free")


def variant_of(text: str) -> str:
    return "bold" if "Read the whole story" in text else "control"


def test_each_reader_keeps_the_variant_first_shown(make_settings: SettingsFactory) -> None:
    mw = PaywallMiddleware(site, settings=make_settings(cta_variants=VARIANTS))
    seen: dict[str, int] = {"control": 0, "bold": 0}
    for _ in range(24):
        reader = TestClient(mw)
        first = reader.get("/story/1")
        assert "paywall_variant=" in first.headers["set-cookie"]
        variant = variant_of(first.text)
        seen[variant] += 1
        for path in ("/story/2", "/story/1", "/story/3"):
            again = reader.get(path)
            assert variant_of(again.text) == variant, "a reader saw another variant"
            assert "paywall_variant=" not in again.headers.get("set-cookie", "")
        if variant == "bold":
            assert "Start reading free" in first.text and "Need to access the insight?" not in first.text
        else:
            assert "Need to access the insight?" in first.text and "Start reading free" not in first.text
    assert seen["control"] and seen["bold"], seen  # 24 fair coin flips all alike: 1 in 8 million
    report = report_of(mw)
    rows = {v["variant"]: v for v in report["variants"]}
    assert rows["control"]["walls_shown"] == seen["control"] * 4
    assert rows["bold"]["walls_shown"] == seen["bold"] * 4


def test_a_forged_or_retired_variant_cookie_is_replaced(make_settings: SettingsFactory) -> None:
    settings = make_settings(cta_variants=VARIANTS)
    mw = PaywallMiddleware(site, settings=settings)
    retired = sign(settings, VARIANT, {"v": "retired"})
    foreign = sign(
        make_settings(secret_key="another-secret-key-0123456789", cta_variants=VARIANTS), VARIANT, {"v": "bold"}
    )
    for value in ("bold", retired, foreign):
        page = TestClient(mw, cookies={"paywall_variant": value}).get("/story/1")
        assert "paywall_variant=" in page.headers["set-cookie"], value
    kept = sign(settings, VARIANT, {"v": "bold"})
    page = TestClient(mw, cookies={"paywall_variant": kept}).get("/story/1")
    assert "Read the whole story" in page.text and "paywall_variant=" not in page.headers.get("set-cookie", "")


def test_the_cached_cut_is_never_another_variants(make_settings: SettingsFactory) -> None:
    """One page, many readers of both variants, one process cache: each gets their own words."""
    mw = PaywallMiddleware(site, settings=make_settings(cta_variants=VARIANTS, cta_inline_form=True))
    for _ in range(12):
        reader = TestClient(mw)
        variant = variant_of(reader.get("/story/2").text)
        for _ in range(2):
            text = reader.get("/story/2").text
            assert variant_of(text) == variant
            assert text.count("paywall-cta__form") == 1
            assert "/paywall-" not in text and "paywall-csrf-" not in text  # every placeholder filled


def test_statistics_judge_a_difference_only_with_enough_data() -> None:
    counts = [
        EventCount("2026-11-01", "wall_shown", "/a", "control", "offer", 2000),
        EventCount("2026-11-01", "trial_started", "/a", "control", "cta", 40),
        EventCount("2026-11-01", "wall_shown", "/a", "bold", "offer", 2000),
        EventCount("2026-11-01", "trial_started", "/a", "bold", "page", 80),
        EventCount("2026-11-01", "wall_shown", "/a", "tiny", "offer", 30),
        EventCount("2026-11-01", "trial_started", "/a", "tiny", "cta", 3),
    ]
    day = datetime.date(2026, 11, 1)
    report = build_report(counts, since=day, until=day, variants=["control", "bold", "tiny"])
    rows = {v["variant"]: v for v in report["variants"]}
    assert rows["control"]["conversion_rate"] == pytest.approx(0.02)
    assert rows["bold"]["rate_low"] < 0.04 < rows["bold"]["rate_high"]
    assert rows["bold"]["vs_control"]["significant"] is True
    assert rows["bold"]["vs_control"]["p_value"] < 0.001
    assert rows["tiny"]["vs_control"]["significant"] is False
    assert rows["tiny"]["vs_control"]["enough_data"] is False
    assert report["experiment"]["alpha"] == pytest.approx(0.025)
    verdicts = report["experiment"]["verdicts"]
    assert verdicts[0].startswith("bold converts 4.0% against 2.0% for control") and verdicts[0].endswith(
        ": significant"
    )
    assert "not enough data yet" in verdicts[1]
    # Known values: Wilson interval of 10 in 100, and a textbook two-proportion test.
    low, high = wilson(10, 100) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.0552, 0.1744)
    assert compare(10, 100, 20, 100)["p_value"] == pytest.approx(0.0477, abs=1e-4)
    assert wilson(0, 0) is None


def test_variant_settings_are_checked(make_settings: SettingsFactory) -> None:
    assert [v.name for v in parse_variants(VARIANTS)] == ["control", "bold"]
    for bad in (
        ("control",),
        ("control x",),
        ("control 0",),
        ("a 1", "a 2"),
        ("bad name 1",),
        ("x 1 | $nope",),
        ("x 1 | a | b | c",),
    ):
        with pytest.raises(ConfigError) as caught:
            make_settings(cta_variants=bad)
        assert caught.value.field == "cta_variants"
    with pytest.raises(ConfigError, match=r"\$form"):
        make_settings(cta_inline_form=True, cta_template='<div><a href="$url">$action</a></div>')
    with pytest.raises(ConfigError, match="12 characters"):
        make_settings(admin_password="short")
    assert make_settings(admin_password=PASSWORD).masked()["admin_password"] == "****"


# ---------------------------------------------------------------------------
# the event buffer


def test_events_hold_no_email_or_ip_address(make_settings: SettingsFactory) -> None:
    assert redact("/story?email=ann@example.com&id=3") == "/story?email=[email]&id=3"
    assert redact("/story?e=ann%40example.com") == "/story?e=[email]"
    assert redact("/from/203.0.113.9/x") == "/from/[ip]/x"
    assert redact("/v6/2001:db8::1/x") == "/v6/[ip]/x"
    assert redact("/2026/11/30/story-123") == "/2026/11/30/story-123"
    assert len(redact("/" + "a" * 5000)) == 512
    mw = PaywallMiddleware(site, settings=make_settings())
    TestClient(mw).get("/story/1?reader=ann@example.com&ip=198.51.100.4")
    store = mw.store
    report_of(mw)
    assert isinstance(store, SQLiteStore)
    with sqlite3.connect(store.path) as conn:
        stored = " ".join(str(v) for row in conn.execute("SELECT * FROM event_counts") for v in row)
    assert "@" not in stored and "198.51.100.4" not in stored and "ann" not in stored
    assert "[email]" in stored


@pytest.mark.anyio
async def test_recording_never_waits_for_a_slow_store_and_stays_bounded(tmp_path: Path) -> None:
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path}/slow.db?timeout=0.5")
    await store.ping()
    buffer = EventBuffer(store, interval=0.05)
    holder = sqlite3.connect(tmp_path / "slow.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # the store cannot write: every batch waits, then fails
    began = time.perf_counter()
    for i in range(MAX_PENDING_KEYS + 500):
        buffer.record("wall_shown", article=f"/a{i}")
    for _ in range(1000):
        buffer.record("wall_shown", article="/a1")
    assert time.perf_counter() - began < 2.0  # microseconds each: no request ever waits
    await anyio.sleep(0.7)  # a batch was tried and failed
    assert buffer.dropped >= 500
    holder.execute("ROLLBACK")
    holder.close()
    await buffer.aclose()
    counts = {
        c.article: c.count for c in await store.event_counts(since_day=TODAY.isoformat(), until_day=TODAY.isoformat())
    }
    assert len(counts) == MAX_PENDING_KEYS and counts["/a1"] == 1001
    await store.aclose()


@pytest.mark.anyio
async def test_events_are_written_in_batches_off_the_request_path(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/p.db")
    buffer = EventBuffer(store, interval=0.2)
    for _ in range(50):
        buffer.record("copy_blocked", article="/a")
    assert await store.event_counts(since_day=TODAY.isoformat(), until_day=TODAY.isoformat()) == []  # not yet
    await anyio.sleep(0.6)
    [count] = await store.event_counts(since_day=TODAY.isoformat(), until_day=TODAY.isoformat())
    assert (count.kind, count.count) == ("copy_blocked", 50)
    await buffer.aclose()
    await store.aclose()


def test_rate_limiter_buckets() -> None:
    limiter = RateLimiter(burst=3, every=60.0, max_keys=2)
    assert [limiter.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("a", 59.0) is False and limiter.allow("a", 61.0) is True
    assert limiter.allow("b", 0.0, spend=False) is True
    limiter.allow("c", 0.0)  # "a" is forgotten: at most two keys
    assert limiter.allow("a", 61.0) is True


def test_parse_since() -> None:
    today = datetime.date(2026, 11, 30)
    assert parse_since("30d", today) == datetime.date(2026, 11, 1)
    assert parse_since("1d", today) == today
    assert parse_since("2026-11-15", today) == datetime.date(2026, 11, 15)
    for bad in ("0d", "yesterday", "2026-12-01", "401d", "30"):
        with pytest.raises(ValueError):
            parse_since(bad, today)


# ---------------------------------------------------------------------------
# the dashboard's door and the beacon


def basic(password: str, user: str = "editor") -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_no_password_means_no_dashboard(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings()))
    assert client.get("/_paywall/admin", headers=basic("anything at all")).status_code == 404


def test_dashboard_needs_the_password_and_limits_guesses(make_settings: SettingsFactory) -> None:
    client = TestClient(PaywallMiddleware(site, settings=make_settings(admin_password=PASSWORD)))
    asked = client.get("/_paywall/admin")
    assert asked.status_code == 401 and asked.headers["www-authenticate"].startswith("Basic ")
    page = client.get("/_paywall/admin", headers=basic(PASSWORD))
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store" and "<script" not in page.text and "<svg" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing external
    assert client.get("/_paywall/admin?since=soon", headers=basic(PASSWORD)).status_code == 400
    for guess in range(10):
        assert client.get("/_paywall/admin", headers=basic(f"guess {guess}")).status_code == 401
    # Out of tries: not even the right password is looked at from this address for a while.
    assert client.get("/_paywall/admin", headers=basic("guess 11")).status_code == 429
    assert client.get("/_paywall/admin", headers=basic(PASSWORD)).status_code == 429
    assert client.post("/_paywall/admin", headers=basic(PASSWORD)).status_code == 405


def test_beacon_counts_blocked_copies_rate_limited_per_reader(make_settings: SettingsFactory) -> None:
    mw = PaywallMiddleware(site, settings=make_settings())
    reader = TestClient(mw)
    host = {"origin": "http://testserver", "content-type": "text/plain"}
    for _ in range(10):
        assert reader.post("/_paywall/beacon", content=b"http://testserver/story/3", headers=host).status_code == 204
    foreign = {**host, "origin": "https://elsewhere.example"}
    assert reader.post("/_paywall/beacon", content=b"/story/9", headers=foreign).status_code == 204
    assert reader.post("/_paywall/beacon", content=b"x" * 5000, headers=host).status_code == 413
    assert reader.get("/_paywall/beacon").status_code == 405
    report = report_of(mw)
    assert report["funnel"]["copies_blocked"] == 3  # three at once, then one a minute


def test_protection_script_is_told_where_the_beacon_is(make_settings: SettingsFactory) -> None:
    page = TestClient(PaywallMiddleware(site, settings=make_settings())).get("/story/1")
    assert 'data-beacon="/_paywall/beacon"' in page.text
    quiet = TestClient(PaywallMiddleware(site, settings=make_settings(insights=False))).get("/story/1")
    assert "data-beacon" not in quiet.text


def test_insights_off_counts_nothing(make_settings: SettingsFactory) -> None:
    mw = PaywallMiddleware(site, settings=make_settings(insights=False))
    TestClient(mw).get("/story/1")
    assert report_of(mw)["funnel"]["walls_shown"] == 0


def test_uvicorn_shutdown_writes_what_was_counted(tmp_path: Path) -> None:
    from tests.servers import run_uvicorn

    store = f"sqlite:///{tmp_path}/paywall.db"
    env = {"PAYWALL_SECRET_KEY": SECRET, "PAYWALL_STORE": store}
    with run_uvicorn("tests.apps.insights_app:build_app", env, factory=True) as url:
        for _ in range(5):
            assert httpx.get(f"{url}/story/1", timeout=10).status_code == 200

    async def read() -> list[EventCount]:
        s = open_store(store)
        try:
            return await s.event_counts(since_day=TODAY.isoformat(), until_day=TODAY.isoformat())
        finally:
            await s.aclose()

    assert [(c.kind, c.article, c.count) for c in anyio.run(read)] == [("wall_shown", "/story/1", 5)]


def test_head_requests_are_not_counted(make_settings: SettingsFactory) -> None:
    mw = PaywallMiddleware(site, settings=make_settings(free_articles=3, member_resolver=_member))
    client = TestClient(mw)
    assert client.head("/story/1").status_code == 200
    assert client.head("/story/2", headers={"x-test-member": "yes"}).status_code == 200
    assert client.head("/_paywall/trial?next=/story/1").status_code == 200
    funnel = report_of(mw)["funnel"]
    assert (funnel["walls_shown"], funnel["metered_views"], funnel["member_views"], funnel["trial_page_views"]) == (
        0,
        0,
        0,
        0,
    )


def test_hostile_page_address_is_escaped_in_the_form_and_the_link(make_settings: SettingsFactory) -> None:
    from tests.asgi import call

    mw = PaywallMiddleware(site, settings=make_settings(cta_inline_form=True))
    result = anyio.run(
        lambda: call(
            mw, "/story/1", query=b'q="><script>alert(1)</script>&r=%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E'
        )
    )
    assert result.status == 200
    body = result.body.decode()
    assert "<script>alert" not in body and "<img src=x" not in body
    fields = cta_form(body)
    assert fields["next"].startswith("/story/1?q=") and fields["a"].startswith("/story/1?")
    link = TestClient(mw).get('/_paywall/trial?next=/story/1&a=/x"><script>alert(1)</script>')
    assert "<script>alert" not in link.text and 'name="a" value="/x&quot;&gt;&lt;script&gt;' in link.text
