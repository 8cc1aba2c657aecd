"""Insights end to end: known traffic through a real server, ``paywall stats``, the dashboard in Chromium.

The dashboard's screenshot is kept in ``test-artefacts/dashboard.png`` (ignored
by git; the path is printed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from playwright.sync_api import Browser, expect

from tests.apps.gate_app import SECRET_WORDS
from tests.conftest import assert_no_leak
from tests.servers import ROOT, run_uvicorn

pytestmark = pytest.mark.browser

PASSWORD = "a dashboard password for tests"
VARIANTS = ["control 1", "bold 1 | Read the whole story | Start reading free"]
ARTEFACTS = ROOT / "test-artefacts"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    store = tmp_path_factory.mktemp("insights-e2e") / "paywall.db"
    return {
        "PAYWALL_SECRET_KEY": "insights-browser-secret-0123456789",
        "PAYWALL_STORE": f"sqlite:///{store}",
        "PAYWALL_ADMIN_PASSWORD": PASSWORD,
        "PAYWALL_CTA_VARIANTS": json.dumps(VARIANTS),
        "PAYWALL_CTA_INLINE_FORM": "true",
        "PAYWALL_FREE_ARTICLES": "1",
        "PAYWALL_MEMBER_RESOLVER": "tests.apps.insights_app:is_member",
    }


def variant_of(text: str) -> str:
    """The variant a page shows (metered walls keep their title: the button tells)."""
    return "bold" if "Start reading free" in text else "control"


def inline_form(text: str) -> dict[str, str]:
    form = BeautifulSoup(text, "html.parser").select_one("aside[data-paywall-cta] form.paywall-cta__form")
    assert form is not None
    return {str(i["name"]): str(i["value"]) for i in form.select("input[type=hidden]")}


def generate_traffic(url: str) -> dict[str, dict[str, int]]:
    """Known traffic; returns the walls and trials expected per variant (assigned at random)."""
    expected = {"control": {"walls": 0, "trials": 0}, "bold": {"walls": 0, "trials": 0}}

    def reader() -> httpx.Client:
        return httpx.Client(base_url=url, timeout=10, follow_redirects=False)

    def free_article_wall_and_form(client: httpx.Client, email: str, status: int) -> str:
        """Read the month's free article, meet the wall on /story/2, send its form; the variant shown."""
        assert SECRET_WORDS[0] in client.get("/story/1").text
        wall = client.get("/story/2")
        assert_no_leak(wall.content, SECRET_WORDS)
        answer = client.post("/_paywall/trial", data={**inline_form(wall.text), "email": email, "consent": "yes"})
        assert answer.status_code == status
        return variant_of(wall.text)

    # 1: a free article, a wall, a trial from the form in the call to action, then a trial reader's view.
    with reader() as r1:
        v1 = free_article_wall_and_form(r1, "one@example.com", 303)
        assert SECRET_WORDS[0] in r1.get("/story/2").text
    expected[v1]["walls"] += 1
    expected[v1]["trials"] += 1
    # 2: a wall on a story whose canonical address is /news/three, then the trial page.
    with reader() as r2:
        r2.get("/story/1")
        wall = r2.get("/story/3")
        v2 = variant_of(wall.text)
        page = r2.get("/_paywall/trial", params={"next": "/story/3", "a": "/news/three"})
        form = {
            str(i["name"]): str(i.get("value", "")) for i in BeautifulSoup(page.text, "html.parser").select("input")
        }
        answer = r2.post("/_paywall/trial", data={**form, "email": "two@example.com", "consent": "yes"})
        assert answer.status_code == 303
    expected[v2]["walls"] += 1
    expected[v2]["trials"] += 1
    # 3: a wall, then a trial refused (the address had one).
    with reader() as r3:
        expected[free_article_wall_and_form(r3, "one@example.com", 409)]["walls"] += 1
    # 4: a member; 5: a free article whose address carries an e-mail address.
    with reader() as member:
        assert SECRET_WORDS[0] in member.get("/story/2", headers={"x-test-member": "yes"}).text
    with reader() as r5:
        assert r5.get("/story/4", params={"email": "ann@example.com"}).status_code == 200
    return expected


def paywall_stats(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paywall.cli", "stats", *args],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_known_traffic_in_paywall_stats_and_the_dashboard(env: dict[str, str], browser: Browser) -> None:
    with run_uvicorn("tests.apps.insights_app:build_app", env, factory=True) as url:
        expected = generate_traffic(url)
    # The server has stopped: what it counted was written on shutdown.

    done = paywall_stats(env, "--json", "--since", "7d")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    funnel = report["funnel"]
    assert (funnel["walls_shown"], funnel["trial_page_views"], funnel["trials_started"]) == (3, 1, 2)
    assert (funnel["trials_started_in_cta"], funnel["trials_started_on_page"], funnel["trials_refused"]) == (1, 1, 1)
    assert (funnel["metered_views"], funnel["member_views"], funnel["copies_blocked"]) == (4, 2, 0)
    assert funnel["conversion_rate"] == pytest.approx(2 / 3)
    assert [
        (a["article"], a["walls_shown"], a["trial_page_views"], a["trials_started"]) for a in report["top_articles"]
    ] == [
        ("/story/2", 2, 0, 1),
        ("/news/three", 1, 1, 1),
    ]
    variants = {v["variant"]: (v["walls_shown"], v["trials_started"]) for v in report["variants"]}
    assert variants == {name: (e["walls"], e["trials"]) for name, e in expected.items()}
    assert len(report["daily"]) == 7 and report["daily"][-1]["walls_shown"] == 3
    assert "@" not in done.stdout  # /story/4?email=... was counted, without the address
    text = paywall_stats(env)
    assert text.returncode == 0, text.stderr
    assert "walls shown              3" in text.stdout and "/news/three" in text.stdout
    assert "call-to-action experiment (control: control)" in text.stdout
    bad = paywall_stats(env, "--since", "soon")
    assert bad.returncode == 2 and bad.stderr.startswith("error: since:")

    with run_uvicorn("tests.apps.insights_app:build_app", env, factory=True) as url:
        # A reader's blocked right-click reaches the statistics through the protection script's beacon.
        reader = browser.new_context()
        page = reader.new_page()
        page.goto(f"{url}/story/5")
        page.wait_for_selector("[data-paywall-protected]", state="attached")
        beacons: list[str] = []
        page.on("request", lambda r: beacons.append(r.post_data or "") if r.url.endswith("/_paywall/beacon") else None)
        with page.expect_request(lambda r: r.url.endswith("/_paywall/beacon") and r.method == "POST"):
            page.click("article p", button="right")
        for _ in range(3):  # further attempts within ten seconds send nothing more
            page.click("article p", button="right")
        page.wait_for_timeout(300)
        assert beacons == [f"{url}/story/5"]
        reader.close()

        admin = browser.new_context(http_credentials={"username": "editor", "password": PASSWORD})
        console: list[str] = []
        dashboard = admin.new_page()
        dashboard.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        dashboard.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        external: list[str] = []
        dashboard.on("request", lambda r: None if r.url.startswith((url, "data:")) else external.append(r.url))
        response = dashboard.goto(f"{url}/_paywall/admin?since=30d")
        assert response is not None and response.status == 200
        kpi = dashboard.locator('[data-kpi="Copies blocked"]')
        for _ in range(20):  # the beacon's count is written within about a second
            if kpi.inner_text() == "1":
                break
            dashboard.wait_for_timeout(250)
            dashboard.reload()
        expect(kpi).to_have_text("1")
        expect(dashboard.locator('[data-kpi="Walls shown"]')).to_have_text("3")
        expect(dashboard.locator('[data-kpi="Trials started"]')).to_have_text("2")
        expect(dashboard.locator('[data-kpi="Conversion"]')).to_have_text("66.67%")
        expect(dashboard.locator('[data-kpi="Free articles read"]')).to_have_text("5")
        rows = dashboard.locator("#top-articles tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0).locator("td").nth(0)).to_have_text("/story/2")
        expect(rows.nth(1).locator("td").nth(0)).to_have_text("/news/three")
        expect(dashboard.locator("#experiment tbody tr")).to_have_count(2)
        expect(dashboard.locator("[data-verdict]")).to_contain_text("not enough data yet")
        assert dashboard.locator("svg[role=img]").count() == 3
        assert dashboard.locator("svg rect.walls").count() == 30 + 1  # one bar a day, and the funnel's
        ARTEFACTS.mkdir(exist_ok=True)
        shot = ARTEFACTS / "dashboard.png"
        dashboard.screenshot(path=str(shot), full_page=True)
        print(f"dashboard screenshot: {shot}")
        assert shot.stat().st_size > 10_000
        assert console == [], console
        assert external == [], external
        admin.close()

        assert httpx.get(f"{url}/_paywall/admin", timeout=10).status_code == 401


def test_artefacts_are_ignored_by_git() -> None:
    ignored = (Path(ROOT) / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "test-artefacts/" in ignored
