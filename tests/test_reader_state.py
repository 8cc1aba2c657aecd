"""The paywall's view of the reader during the request: ``request.state.paywall``.

It is computed only when asked, at most once per request, and it is the very
reader the middleware decides with: the app and the gate never disagree.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import anyio
import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from examples import hydrogen
from examples.news_site.app import DEMO_MEMBER_COOKIE
from examples.news_site.content import ARTICLES
from paywall import PaywallMiddleware, PaywallSettings, issue_member_token
from paywall.access.reader_state import STATE_KEY, VOUCHED_MEMBER, ReaderState
from paywall.access.store import open_store
from paywall.access.tokens import issue_trial_token
from paywall.contrib.fastapi import ReaderAccess, paywall_access, paywall_reader
from tests.asgi import call
from tests.conftest import SECRET, assert_no_leak
from tests.servers import run_uvicorn

pytestmark = pytest.mark.anyio

Make = Callable[..., PaywallSettings]
PARAGRAPHS = [f"Paragraph {i} of the story, with sealed word quillon{i}." for i in range(8)]
ARTICLE = "<!DOCTYPE html><html><head><title>Story</title></head><body><article>{}</article>{}</body></html>"
SECRET_WORDS = [f"quillon{i}" for i in range(3, 8)]


def article_page(extra: str = "") -> str:
    return ARTICLE.format("".join(f"<p>{p}</p>" for p in PARAGRAPHS), extra)


class Counter:
    """A member resolver that counts how often it is asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.calls = 0

    async def __call__(self, request: Request) -> bool:
        self.calls += 1
        await asyncio.sleep(0)
        return self.answer


def app_with(endpoint: Callable[[Request], Any]) -> Starlette:
    return Starlette(routes=[Route("/story", endpoint), Route("/api", endpoint)])


# --------------------------------------------------------------------------- in-process


@pytest.mark.parametrize("member", [True, False])
async def test_the_app_and_the_gate_share_one_identification(make_settings: Make, member: bool) -> None:
    resolver = Counter(member)
    seen: list[ReaderAccess] = []

    async def story(request: Request) -> Response:
        state: ReaderState = request.state.paywall
        seen.append(await state.access())
        seen.append(await state.access())
        return HTMLResponse(article_page())

    app = PaywallMiddleware(app_with(story), make_settings(member_resolver=resolver))
    result = await call(app, "/story")
    assert resolver.calls == 1, "one identification for the page and the gate"
    assert [a.access for a in seen] == ["member" if member else "anonymous"] * 2
    if member:
        assert b"quillon7" in result.body
    else:
        assert_no_leak(result.body, SECRET_WORDS)


async def test_concurrent_first_uses_wait_for_one_identification(make_settings: Make) -> None:
    resolver = Counter(True)

    async def story(request: Request) -> Response:
        state: ReaderState = request.state.paywall
        answers = await asyncio.gather(*(state.access() for _ in range(5)), state.reader())
        assert {a.access for a in answers[:5]} == {"member"}  # type: ignore[union-attr]
        return HTMLResponse(article_page())

    app = PaywallMiddleware(app_with(story), make_settings(member_resolver=resolver))
    result = await call(app, "/story")
    assert resolver.calls == 1
    assert b"quillon7" in result.body


async def test_nothing_is_computed_when_nobody_asks(make_settings: Make) -> None:
    resolver = Counter(True)

    async def api(request: Request) -> Response:
        assert isinstance(request.state.paywall, ReaderState)
        return JSONResponse({"ok": True})

    app = PaywallMiddleware(app_with(api), make_settings(member_resolver=resolver))
    result = await call(app, "/api")
    assert result.status == 200 and resolver.calls == 0


async def test_an_app_that_vouches_for_a_member_gets_the_article_whole(make_settings: Make) -> None:
    resolver = Counter(False)

    async def story(request: Request) -> Response:
        request.state.paywall.vouch_member()
        access: ReaderAccess = await request.state.paywall.access()
        return HTMLResponse(article_page(f'<div id="access">{access.access}</div>'))

    app = PaywallMiddleware(app_with(story), make_settings(member_resolver=resolver))
    result = await call(app, "/story")
    assert b"quillon7" in result.body and b'<div id="access">member</div>' in result.body
    assert resolver.calls == 0, "a vouched reader needs no identification"


async def test_an_identification_in_flight_does_not_undo_a_vouch(make_settings: Make) -> None:
    release = anyio.Event()

    async def slow_resolver(request: Request) -> bool:
        await release.wait()
        return False

    async def story(request: Request) -> Response:
        state: ReaderState = request.state.paywall
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(state.reader)
            await anyio.sleep(0.01)  # the identification is now waiting on the resolver
            state.vouch_member()
            release.set()
        return HTMLResponse(article_page())

    app = PaywallMiddleware(app_with(story), make_settings(member_resolver=slow_resolver))
    assert b"quillon7" in (await call(app, "/story")).body


async def test_known_says_who_reads_without_asking_once_someone_has(make_settings: Make) -> None:
    """``known`` is None until the reader is asked for, then that very reader; a vouch wins over an
    identification that ends after it, and a released view keeps what it knew."""
    release = anyio.Event()
    seen: list[object] = []

    async def slow_resolver(request: Request) -> bool:
        await release.wait()
        return False

    async def story(request: Request) -> Response:
        state: ReaderState = request.state.paywall
        seen.append(state.known)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(state.reader)
            await anyio.sleep(0.01)
            seen.append(state.known)  # still being identified
            state.vouch_member()
            seen.append(state.known)
            release.set()
        seen.append(state.known)
        seen.append(state)
        return HTMLResponse(article_page())

    app = PaywallMiddleware(app_with(story), make_settings(member_resolver=slow_resolver))
    assert b"quillon7" in (await call(app, "/story")).body
    before, in_flight, vouched, after, state = seen
    assert before is None and in_flight is None
    assert vouched is VOUCHED_MEMBER and after is VOUCHED_MEMBER
    assert isinstance(state, ReaderState) and state.known is VOUCHED_MEMBER
    assert (await state.reader()) is VOUCHED_MEMBER

    async def asks(request: Request) -> Response:
        state: ReaderState = request.state.paywall
        reader = await state.reader()
        seen[:] = [reader, state.known]
        return HTMLResponse(article_page())

    app = PaywallMiddleware(app_with(asks), make_settings(member_resolver=Counter(False)))
    assert_no_leak((await call(app, "/story")).body, SECRET_WORDS)
    reader, known = seen
    assert known is reader and reader.level == "anonymous"  # type: ignore[attr-defined]


async def test_a_reader_the_app_did_not_vouch_for_stays_gated_even_if_the_app_asked(make_settings: Make) -> None:
    async def story(request: Request) -> Response:
        await request.state.paywall.access()
        return HTMLResponse(article_page())

    app = PaywallMiddleware(app_with(story), make_settings())
    assert_no_leak((await call(app, "/story")).body, SECRET_WORDS)


async def test_metered_reader_sees_the_articles_left_before_this_page_counts(make_settings: Make) -> None:
    settings = make_settings(free_articles=2)
    lines: list[int | None] = []

    async def story(request: Request) -> Response:
        lines.append((await request.state.paywall.access()).free_articles_left)
        return HTMLResponse(article_page())

    app = PaywallMiddleware(app_with(story), settings)
    first = await call(app, "/story")
    device = next(c for c in first.header_list("set-cookie") if c.startswith(settings.device_cookie + "="))
    cookie = (b"cookie", device.split(";", 1)[0].encode())
    await call(app, "/story", query=b"p=2", headers=[cookie])
    third = await call(app, "/story", query=b"p=3", headers=[cookie])
    assert lines == [2, 1, 0]
    assert_no_leak(third.body, SECRET_WORDS)


async def test_identification_that_fails_is_an_anonymous_reader_for_the_page_too(make_settings: Make) -> None:
    async def broken(request: Request) -> bool:
        raise RuntimeError("accounts database down")

    async def story(request: Request) -> Response:
        access: ReaderAccess = await request.state.paywall.access()
        return HTMLResponse(article_page(f'<div id="access">{access.access}</div>'))

    app = PaywallMiddleware(app_with(story), make_settings(member_resolver=broken))
    result = await call(app, "/story")
    assert b'<div id="access">anonymous</div>' in result.body
    assert_no_leak(result.body, SECRET_WORDS)


async def test_fastapi_dependencies_answer_none_without_a_paywall_and_the_reader_behind_one(
    make_settings: Make,
) -> None:
    api = FastAPI()

    @api.get("/api")
    async def who(
        access: Annotated[ReaderAccess | None, Depends(paywall_access)],
        reader: Annotated[Any, Depends(paywall_reader)],
    ) -> dict[str, Any]:
        return {"access": access.as_json() if access else None, "level": reader.level if reader else None}

    alone = await call(api, "/api")
    assert alone.body == b'{"access":null,"level":null}'
    token = issue_member_token(make_settings(), "reader-7", 1)
    behind = await call(
        PaywallMiddleware(api, make_settings()), "/api", headers=[(b"cookie", f"paywall_member={token}".encode())]
    )
    assert behind.body == (
        b'{"access":{"access":"member","trial_ends":null,"free_articles_left":null},"level":"member"}'
    )


async def test_the_state_key_is_documented_and_excluded_paths_have_no_view(make_settings: Make) -> None:
    async def story(request: Request) -> Response:
        return HTMLResponse(str(STATE_KEY in request.state._state))

    app = PaywallMiddleware(app_with(story), make_settings(exclude_paths=("/api",)))
    assert (await call(app, "/story")).body == b"True"
    assert (await call(app, "/api")).body == b"False"


# --------------------------------------------------------------------------- the demo site, through uvicorn

GATED = [a for a in ARTICLES if not a.is_free]


@pytest.fixture(scope="module")
def metered_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("metered")
    return {
        "PAYWALL_SECRET_KEY": SECRET,
        "PAYWALL_STORE": f"sqlite:///{tmp / 'paywall.db'}",
        "PAYWALL_FREE_ARTICLES": "3",
    }


@pytest.fixture(scope="module")
def metered_site(metered_env: dict[str, str]) -> Iterator[str]:
    with run_uvicorn("examples.news_site.app:build_app", metered_env, factory=True) as url:
        yield url


def meter_line(response: httpx.Response) -> str | None:
    from bs4 import BeautifulSoup

    found = BeautifulSoup(response.text, "lxml").select_one("[data-paywall-meter]")
    return None if found is None else " ".join(found.get_text().split())


def has_subscribe_button(response: httpx.Response) -> bool:
    return 'class="button button--accent masthead__cta" href="/subscribe"' in response.text


def test_demo_site_counts_down_the_free_articles_and_hides_subscribe_from_members(metered_site: str) -> None:
    with httpx.Client(base_url=metered_site, timeout=10) as reader:
        assert meter_line(reader.get("/")) == "3 free articles left this month"
        assert has_subscribe_button(reader.get("/"))
        for n, article in enumerate(GATED[:3]):
            page = reader.get(article.path)
            assert article.markers[1] in page.text.casefold(), "a free article comes whole"
            assert meter_line(page) == f"{3 - n} free article{'s' if 3 - n != 1 else ''} left this month"
        assert meter_line(reader.get("/")) == "You have read all your free articles this month"
        gated = reader.get(GATED[3].path)
        assert_no_leak(gated.content, GATED[3].markers)

    member = httpx.get(metered_site + "/", cookies={DEMO_MEMBER_COOKIE: "1"}, timeout=10)
    assert member.status_code == 200 and "Signed in as a demo member" in member.text
    assert not has_subscribe_button(member) and meter_line(member) is None


def test_demo_site_tells_a_trial_reader_when_the_trial_ends(metered_site: str, metered_env: dict[str, str]) -> None:
    settings = PaywallSettings(secret_key=SECRET, store=metered_env["PAYWALL_STORE"])
    now = time.time()
    ends = now + 7 * 86400

    async def start() -> None:
        store = open_store(settings.store)
        try:
            await store.start_trial(
                trial_id="trial-state", email="t@example.com", device_id="dev-state", started_at=now, ends_at=ends
            )
        finally:
            await store.aclose()

    asyncio.run(start())
    token = issue_trial_token(settings, "trial-state", ends)
    page = httpx.get(metered_site + GATED[4].path, cookies={settings.trial_cookie: token}, timeout=10)
    assert GATED[4].markers[1] in page.text.casefold()
    line = meter_line(page)
    assert line is not None and line.startswith("Free trial until ")
    assert has_subscribe_button(page), "a trial reader may still subscribe"


def test_fastapi_example_shows_the_meter_and_hides_subscribe_from_members(tmp_path: Path) -> None:
    env = {"PAYWALL_SECRET_KEY": SECRET, "PAYWALL_STORE": f"sqlite:///{tmp_path / 'p.db'}"}
    env["PAYWALL_FREE_ARTICLES"] = "2"
    with run_uvicorn("examples.fastapi_app:app", env) as url, httpx.Client(base_url=url, timeout=10) as reader:
        assert "2 free articles left this month." in reader.get("/").text
        story = reader.get("/articles/hydrogen-valleys")
        assert hydrogen.MARKERS[1] in story.text and "2 free articles left this month." in story.text
        home = reader.get("/")
        assert "1 free article left this month." in home.text and 'class="subscribe"' in home.text
        token = issue_member_token(PaywallSettings(secret_key=SECRET), "member-1", 1)
        member = httpx.get(url + "/", cookies={"paywall_member": token}, timeout=10)
        assert 'class="subscribe"' not in member.text and "free article" not in member.text
