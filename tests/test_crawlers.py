"""Search crawlers read gated articles whole only once their address proves them; every pretender gets the teaser.

The attacks come first: a crawler's user agent from anywhere else, a forged
``X-Forwarded-For``, a search engine's ``Referer``, reverse DNS names that
lie or look alike, lookups that fail or hang. Then what a verified crawler
gets (the whole article, marked as gated, never cached for others), how
verification is cached and bounded, the published ranges and the settings.
They run in process (the middleware around the site, and around the proxy
app), through a real uvicorn server, and through a real ``paywall proxy``.
DNS answers come from tables (``tests/apps/crawler_dns.py``): no test needs
the network.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup

from paywall import ConfigError, PaywallMiddleware, PaywallSettings
from paywall.access.crawlers import CrawlerVerifier, SystemResolver, parse_crawlers, read_ranges, shipped_ranges_dir
from paywall.http.proxy import ProxyApp
from paywall.http.runtime import Runtime
from tests.apps import crawler_dns, crawler_site
from tests.apps.crawler_dns import ADDRESSES, NAMES, SyncTableResolver, TableResolver
from tests.apps.crawler_site import SECRET_WORDS, TEASER, withheld_runs
from tests.asgi import Result, call
from tests.conftest import SECRET, assert_no_leak
from tests.servers import ROOT, free_port, run_process, run_uvicorn, spawned

Make = Callable[..., PaywallSettings]

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_SMARTPHONE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.71 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
INSPECTION_TOOL = "Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
CTA = b"Need to access the insight?"
TODAY = datetime.datetime.now(datetime.UTC).date().isoformat()


def table() -> TableResolver:
    return TableResolver(NAMES, ADDRESSES)


def fetch(
    settings: PaywallSettings,
    path: str = "/news/story",
    *,
    via: str = "app",
    user_agent: str = GOOGLEBOT,
    client: str = "203.0.113.10",
    headers: tuple[tuple[bytes, bytes], ...] = (),
    query: bytes = b"",
) -> Result:
    """One request through the middleware, in front of the site itself or of the proxy app."""

    async def go() -> Result:
        proxy = None
        if via == "proxy":
            proxy = ProxyApp("http://site.internal", settings, transport=httpx.ASGITransport(app=crawler_site.app))
        mw = PaywallMiddleware(proxy or crawler_site.app, settings=settings)
        try:
            return await call(
                mw,
                path,
                query=query,
                client=(client, 50000),
                headers=[(b"user-agent", user_agent.encode()), *headers],
            )
        finally:
            if proxy is not None:
                await proxy.aclose()
            await mw.store.aclose()

    return asyncio.run(go())


def assert_teaser(result: Result | httpx.Response) -> None:
    body = result.body if isinstance(result, Result) else result.content
    status = result.status if isinstance(result, Result) else result.status_code
    assert status == 200
    assert_no_leak(body, SECRET_WORDS)
    assert withheld_runs(body) == []
    assert body.count(CTA) == 1
    assert TEASER[0].encode() in body


def assert_crawler_view(result: Result | httpx.Response, gated_class: str = "paywall-gated") -> BeautifulSoup:
    """The whole article, marked and declared as gated, never shared by a cache, never archived."""
    body = result.body if isinstance(result, Result) else result.content
    header = result.header if isinstance(result, Result) else result.headers.get
    assert (result.status if isinstance(result, Result) else result.status_code) == 200
    text = body.decode()
    for word in SECRET_WORDS:
        assert word in text
    assert CTA not in body
    soup = BeautifulSoup(text, "html.parser")
    [gated] = soup.select(f".{gated_class}")
    assert all(word in gated.get_text() for word in SECRET_WORDS)
    articles = [item for item in ld_objects(soup) if item.get("@type") in ("NewsArticle", "Article")]
    assert len(articles) == 1
    assert articles[0]["isAccessibleForFree"] is False
    assert articles[0]["hasPart"] == {
        "@type": "WebPageElement",
        "isAccessibleForFree": False,
        "cssSelector": f".{gated_class}",
    }
    assert "noarchive" in (header("x-robots-tag") or "")
    assert (header("cache-control") or "").startswith("private")
    assert "Cookie" in (header("vary") or "")
    return soup


def ld_objects(soup: BeautifulSoup) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for script in soup.select('script[type="application/ld+json"]'):
        value = json.loads(script.string or "")
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                out.append(item)
                stack.extend(v for k, v in item.items() if k in ("@graph", "mainEntity"))
    return out


# =========================================================================== attacks


def test_googlebot_user_agent_from_an_unverified_address_gets_the_teaser(make_settings: Make) -> None:
    resolver = table()
    for agent in (GOOGLEBOT, GOOGLEBOT_SMARTPHONE, BINGBOT):
        assert_teaser(fetch(make_settings(crawler_resolver=resolver), user_agent=agent, client="198.51.100.7"))
    assert resolver.lookups("198.51.100.7") == 3  # asked, and found no name: a fresh middleware each time


@pytest.mark.parametrize("via", ["app", "proxy"])
def test_forged_x_forwarded_for_from_an_untrusted_peer_gets_the_teaser(make_settings: Make, via: str) -> None:
    """66.249.66.1 is in Google's published ranges; claimed in a header by anyone, it proves nothing."""
    resolver = table()
    for header in (b"x-forwarded-for", b"x-real-ip", b"true-client-ip", b"forwarded"):
        value = b"for=66.249.66.1" if header == b"forwarded" else b"66.249.66.1"
        settings = make_settings(crawler_resolver=resolver)
        assert_teaser(fetch(settings, via=via, client="198.51.100.7", headers=((header, value),)))
    assert all(address != "66.249.66.1" for _, address in resolver.asked)
    # A trusted proxy in front, but the forged address is to the left of the one it added.
    settings = make_settings(crawler_resolver=resolver, trusted_proxies=("10.0.0.0/8",))
    forged = ((b"x-forwarded-for", b"66.249.66.1, 198.51.100.7"),)
    assert_teaser(fetch(settings, via=via, client="10.0.0.2", headers=forged))


def test_search_engine_referer_gets_the_teaser(make_settings: Make) -> None:
    for referer in (b"https://www.google.com/", b"https://www.bing.com/search?q=harbour", b"android-app://com.google"):
        for agent in (BROWSER, GOOGLEBOT):
            settings = make_settings(crawler_resolver=table())
            assert_teaser(fetch(settings, user_agent=agent, client="198.51.100.7", headers=((b"referer", referer),)))


@pytest.mark.parametrize(
    ("client", "why"),
    [
        ("203.0.113.11", "the name resolves to another address"),
        ("203.0.113.14", "a look-alike name under another domain"),
        ("203.0.113.15", "a rented cloud machine under googleusercontent.com"),
        ("203.0.113.16", "a Bing crawler's name for a Googlebot user agent"),
        ("203.0.113.99", "no name at all"),
    ],
)
def test_reverse_dns_that_does_not_prove_googlebot_gets_the_teaser(make_settings: Make, client: str, why: str) -> None:
    assert why
    assert_teaser(fetch(make_settings(crawler_resolver=table()), client=client))


@pytest.mark.parametrize("sync", [False, True])
def test_a_resolver_that_raises_or_hangs_means_the_teaser_and_fast(make_settings: Make, sync: bool) -> None:
    names = {**NAMES, "203.0.113.13": 2.0 if sync else 30.0}
    resolver = SyncTableResolver(names, ADDRESSES) if sync else TableResolver(names, ADDRESSES)
    settings = make_settings(crawler_resolver=resolver, crawler_lookup_timeout=0.3)
    assert_teaser(fetch(settings, client="203.0.113.12"))
    started = time.monotonic()
    assert_teaser(fetch(settings, client="203.0.113.13"))
    assert time.monotonic() - started < 1.5


def test_a_crawler_cannot_make_the_middleware_look_up_without_bound(
    make_settings: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lookups under way are capped: past the cap a request is not verified and waits for nothing."""
    monkeypatch.setattr("paywall.access.crawlers.MAX_LOOKUPS", 2)
    names = {f"203.0.113.{i}": 30.0 for i in range(100, 110)}
    resolver = TableResolver(names, {})
    settings = make_settings(crawler_resolver=resolver, crawler_lookup_timeout=1.0)

    async def go() -> list[Result]:
        mw = PaywallMiddleware(crawler_site.app, settings=settings)
        try:
            requests = [
                call(mw, "/news/story", client=(f"203.0.113.{i}", 1), headers=[(b"user-agent", GOOGLEBOT.encode())])
                for i in range(100, 110)
            ]
            return await asyncio.gather(*requests)
        finally:
            await mw.store.aclose()

    started = time.monotonic()
    for result in asyncio.run(go()):
        assert_teaser(result)
    assert time.monotonic() - started < 3
    assert len(resolver.asked) == 2


def test_a_user_agent_that_claims_no_crawler_is_never_looked_up(make_settings: Make) -> None:
    resolver = table()
    for agent in (BROWSER, INSPECTION_TOOL, "curl/8.5", "NotGooglebotX/1.0", ""):
        assert_teaser(fetch(make_settings(crawler_resolver=resolver), user_agent=agent))
    assert resolver.asked == []


def test_crawlers_turned_off_verify_nobody(make_settings: Make) -> None:
    resolver = table()
    assert_teaser(fetch(make_settings(crawler_resolver=resolver, crawlers=()), client="66.249.66.1"))
    assert_teaser(fetch(make_settings(crawler_resolver=resolver, crawlers=()), client="203.0.113.10"))
    assert resolver.asked == []


# =========================================================================== what a verified crawler gets


@pytest.mark.parametrize("via", ["app", "proxy"])
def test_a_crawler_verified_by_dns_gets_the_whole_article_marked_as_gated(make_settings: Make, via: str) -> None:
    result = fetch(make_settings(crawler_resolver=table()), via=via, client="203.0.113.10")
    soup = assert_crawler_view(result)
    assert soup.select_one(".paywall-gated h1") is not None  # the whole story's element, headline and all
    assert result.header("etag") is None  # a view of its own, never confused with a reader's


def test_bingbot_is_verified_under_bings_domain(make_settings: Make) -> None:
    assert_crawler_view(fetch(make_settings(crawler_resolver=table()), user_agent=BINGBOT, client="203.0.113.16"))


@pytest.mark.parametrize("client", ["66.249.66.1", "2001:4860:4801:10::1", "::ffff:66.249.66.1"])
def test_a_crawler_in_the_published_ranges_needs_no_lookup(make_settings: Make, client: str) -> None:
    resolver = TableResolver({}, {})
    assert_crawler_view(fetch(make_settings(crawler_resolver=resolver), client=client))
    assert resolver.asked == []


def test_a_crawler_behind_a_trusted_proxy_is_verified_by_the_address_the_proxy_saw(make_settings: Make) -> None:
    settings = make_settings(crawler_resolver=TableResolver({}, {}), trusted_proxies=("10.0.0.0/8",))
    forwarded = ((b"x-forwarded-for", b"66.249.66.1"),)
    assert_crawler_view(fetch(settings, via="proxy", client="10.0.0.2", headers=forwarded))


def test_one_engines_range_does_not_verify_another_engines_crawler(make_settings: Make) -> None:
    assert_teaser(
        fetch(make_settings(crawler_resolver=TableResolver({}, {})), user_agent=BINGBOT, client="66.249.66.1")
    )


def test_the_crawler_and_the_reader_see_the_same_element_marked_and_the_same_declaration(make_settings: Make) -> None:
    settings = make_settings(crawler_resolver=table())
    crawler = BeautifulSoup(fetch(settings, client="203.0.113.10").body, "html.parser")
    reader = BeautifulSoup(fetch(settings, user_agent=BROWSER).body, "html.parser")

    def marked(soup: BeautifulSoup) -> tuple[str, list[str]]:
        [element] = soup.select(".paywall-gated")
        return element.name, element.get("class")

    assert marked(crawler) == marked(reader)

    def declared(soup: BeautifulSoup) -> list[dict[str, Any]]:
        return [{k: v for k, v in obj.items() if k != "articleBody"} for obj in ld_objects(soup)]

    assert declared(crawler) == declared(reader)


def test_a_crawlers_view_is_counted_as_one_and_spends_no_free_article(make_settings: Make) -> None:
    settings = make_settings(crawler_resolver=table(), free_articles=1)

    async def go() -> dict[tuple[str, str, str], int]:
        mw = PaywallMiddleware(crawler_site.app, settings=settings)
        agent = [(b"user-agent", GOOGLEBOT.encode())]
        for path in ("/news/story", "/news/graph", "/news/story"):
            assert_crawler_view(await call(mw, path, client=("203.0.113.10", 1), headers=agent))
        await mw.insights.aclose()
        counts = await mw.store.event_counts(since_day=TODAY, until_day=TODAY)
        await mw.store.aclose()
        return {(c.kind, c.article, c.detail): c.count for c in counts}

    assert asyncio.run(go()) == {
        ("crawler_view", "/news/story", "Googlebot"): 2,
        ("crawler_view", "/news/graph", "Googlebot"): 1,
    }


def test_a_crawler_gets_no_cookie(make_settings: Make) -> None:
    result = fetch(make_settings(crawler_resolver=table(), free_articles=3), client="203.0.113.10")
    assert_crawler_view(result)
    assert result.header_list("set-cookie") == []


def test_a_head_request_from_a_crawler_shows_nothing_and_counts_nothing(make_settings: Make) -> None:
    settings = make_settings(crawler_resolver=table())

    async def go() -> tuple[Result, list[Any]]:
        mw = PaywallMiddleware(crawler_site.app, settings=settings)
        agent = [(b"user-agent", GOOGLEBOT.encode())]
        result = await call(mw, "/news/story", method="HEAD", client=("203.0.113.10", 1), headers=agent)
        await mw.insights.aclose()
        counts = await mw.store.event_counts(since_day=TODAY, until_day=TODAY)
        await mw.store.aclose()
        return result, [c for c in counts if c.kind == "crawler_view"]

    result, counted = asyncio.run(go())
    assert result.status == 200 and result.body == b""
    assert counted == []


# =========================================================================== the cache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(settings: PaywallSettings, clock: Clock) -> CrawlerVerifier:
    return CrawlerVerifier(settings, clock=clock)


def scope(client: str, *, headers: tuple[tuple[bytes, bytes], ...] = ()) -> dict[str, Any]:
    return {"type": "http", "client": (client, 1), "headers": list(headers)}


async def verify(v: CrawlerVerifier, client: str, agent: str = GOOGLEBOT) -> str | None:
    crawler = await v.verify(scope(client), agent)
    return crawler.name if crawler else None


def test_answers_are_remembered_for_the_ttl_found_or_not(make_settings: Make) -> None:
    resolver = table()
    clock = Clock()
    v = verifier(make_settings(crawler_resolver=resolver, crawler_cache_ttl=600), clock)

    async def go() -> None:
        assert await verify(v, "203.0.113.10") == "Googlebot"
        assert await verify(v, "203.0.113.11") is None
        clock.now += 599
        assert await verify(v, "203.0.113.10") == "Googlebot"
        assert await verify(v, "203.0.113.11") is None
        assert (resolver.lookups("203.0.113.10"), resolver.lookups("203.0.113.11")) == (1, 1)
        clock.now += 2
        assert await verify(v, "203.0.113.10") == "Googlebot"
        assert await verify(v, "203.0.113.11") is None
        assert (resolver.lookups("203.0.113.10"), resolver.lookups("203.0.113.11")) == (2, 2)

    asyncio.run(go())


def test_a_failed_lookup_is_remembered_a_minute_at_most(make_settings: Make) -> None:
    resolver = table()
    clock = Clock()
    v = verifier(make_settings(crawler_resolver=resolver, crawler_cache_ttl=3600), clock)

    async def go() -> None:
        assert await verify(v, "203.0.113.12") is None
        clock.now += 59
        assert await verify(v, "203.0.113.12") is None
        assert resolver.lookups("203.0.113.12") == 1
        clock.now += 2
        assert await verify(v, "203.0.113.12") is None
        assert resolver.lookups("203.0.113.12") == 2

    asyncio.run(go())


def test_the_cache_through_the_middleware_saves_the_second_lookup(make_settings: Make) -> None:
    resolver = table()
    settings = make_settings(crawler_resolver=resolver)

    async def go() -> None:
        mw = PaywallMiddleware(crawler_site.app, settings=settings)
        clock = Clock()
        mw.crawlers.clock = clock
        agent = [(b"user-agent", GOOGLEBOT.encode())]
        try:
            for _ in range(3):
                assert_crawler_view(await call(mw, "/news/story", client=("203.0.113.10", 1), headers=agent))
            assert resolver.lookups("203.0.113.10") == 1
            clock.now += settings.crawler_cache_ttl + 1
            assert_crawler_view(await call(mw, "/news/story", client=("203.0.113.10", 1), headers=agent))
            assert resolver.lookups("203.0.113.10") == 2
        finally:
            await mw.store.aclose()

    asyncio.run(go())


def test_the_cache_is_bounded(make_settings: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("paywall.access.crawlers.CACHE_ENTRIES", 3)
    resolver = table()
    v = verifier(make_settings(crawler_resolver=resolver), Clock())

    async def go() -> None:
        for client in ("203.0.113.10", "203.0.113.11", "203.0.113.14", "203.0.113.15"):
            await verify(v, client)
        assert len(v._cache) == 3
        await verify(v, "203.0.113.10")  # the oldest went first: asked again
        assert resolver.lookups("203.0.113.10") == 2

    asyncio.run(go())


def test_concurrent_requests_from_one_address_share_one_lookup(make_settings: Make) -> None:
    names = {"203.0.113.10": "crawl-203-0-113-10.googlebot.com"}
    resolver = TableResolver(names, ADDRESSES)
    v = verifier(make_settings(crawler_resolver=resolver), Clock())

    async def go() -> list[str | None]:
        return await asyncio.gather(*(verify(v, "203.0.113.10") for _ in range(20)))

    assert asyncio.run(go()) == ["Googlebot"] * 20
    assert resolver.lookups("203.0.113.10") == 1


def test_a_sync_resolver_verifies_as_well(make_settings: Make) -> None:
    resolver = SyncTableResolver(NAMES, ADDRESSES)
    v = verifier(make_settings(crawler_resolver=resolver), Clock())
    assert asyncio.run(verify(v, "203.0.113.10")) == "Googlebot"
    assert asyncio.run(verify(v, "203.0.113.11")) is None


def test_the_event_loops_resolver_reads_the_system_tables() -> None:
    """The default resolver asks the system (here /etc/hosts): 127.0.0.1 has a name that leads back to it."""

    async def go() -> tuple[str | None, list[str]]:
        resolver = SystemResolver()
        name = await resolver.reverse("127.0.0.1")
        return name, (await resolver.forward(name) if name else [])

    name, addresses = asyncio.run(go())
    assert name
    assert "127.0.0.1" in addresses


# =========================================================================== ranges and settings


def test_the_shipped_ranges_are_the_published_files() -> None:
    google = read_ranges(os.path.join(shipped_ranges_dir(), "googlebot.json"))
    bing = read_ranges(os.path.join(shipped_ranges_dir(), "bingbot.json"))
    assert google.count > 200 and bing.count > 20
    data = json.loads(Path(shipped_ranges_dir(), "googlebot.json").read_text())
    assert set(data) == {"creationTime", "prefixes"}


def test_a_ranges_folder_replaces_the_shipped_files(make_settings: Make, tmp_path: Path) -> None:
    (tmp_path / "googlebot.json").write_text(json.dumps({"prefixes": [{"ipv4Prefix": "198.51.99.0/24"}]}))
    # 198.51.99.0/24 is ordinary public space (not a documentation range): what a refreshed file may hold.
    settings = make_settings(crawler_resolver=TableResolver({}, {}), crawler_ranges_dir=str(tmp_path))
    assert_crawler_view(fetch(settings, client="198.51.99.7"))
    assert_teaser(fetch(settings, client="66.249.66.1"))  # the shipped file no longer applies
    assert_teaser(fetch(settings, user_agent=BINGBOT, client="157.55.39.1"))  # no bingbot.json there: DNS only


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "not JSON"),
        ('{"items": []}', "not a ranges document"),
        ('{"prefixes": []}', "no prefix"),
        ('{"prefixes": [{"ipv4Prefix": "0.0.0.0/0"}]}', "too wide"),
        ('{"prefixes": [{"ipv6Prefix": "2001::/16"}]}', "too wide"),
        ('{"prefixes": [{"ipv4Prefix": "10.0.0.0/8"}]}', "not a public network"),
        ('{"prefixes": [{"ipv4Prefix": "127.0.0.0/8"}]}', "not a public network"),
        ('{"prefixes": [{"ipv4Prefix": "66.249.66.0/27x"}]}', "not a network"),
        ('{"prefixes": [{"ipv4Prefix": "2001:4860:4801:10::/64"}]}', "IPv6"),
    ],
)
def test_a_bad_ranges_file_stops_start_up(make_settings: Make, tmp_path: Path, content: str, problem: str) -> None:
    (tmp_path / "googlebot.json").write_text(content)
    settings = make_settings(crawler_ranges_dir=str(tmp_path))  # settings read no file...
    with pytest.raises(ConfigError) as info:
        Runtime(settings)  # ...the paywall reads it when it starts, and stops there
    assert info.value.field == "crawler_ranges_dir"
    assert problem in info.value.problem


def test_a_missing_ranges_folder_stops_start_up(make_settings: Make, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Runtime(make_settings(crawler_ranges_dir=str(tmp_path / "missing")))
    assert info.value.field == "crawler_ranges_dir"


def test_crawler_settings_are_checked(make_settings: Make, tmp_path: Path) -> None:
    custom = parse_crawlers(["googlebot", "Applebot: applebot.apple.com"])
    assert [c.name for c in custom] == ["Googlebot", "Applebot"]
    assert custom[1].claimed_by("Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (compatible; Applebot/0.1)")
    assert custom[1].owns("17-58-101-179.applebot.apple.com") and not custom[1].owns("applebot.apple.com.evil.test")
    bad: list[tuple[str, dict[str, Any]]] = [
        ("crawlers", {"crawlers": ("yahoobot",)}),
        ("crawlers", {"crawlers": ("googlebot", "Googlebot")}),
        ("crawlers", {"crawlers": ("Applebot:",)}),
        ("crawlers", {"crawlers": ("Applebot: not_a_domain",)}),
        ("crawlers", {"crawlers": ("Apple bot: apple.com",)}),
        ("crawler_resolver", {"crawler_resolver": object()}),
        ("crawler_resolver", {"crawler_resolver": "tests.apps.crawler_dns:NAMES"}),
        ("crawler_resolver", {"crawler_resolver": "tests.apps.crawler_dns:nothing"}),
        ("crawler_resolver", {"crawler_resolver": "tests.apps.crawler_dns:TableResolver"}),
        ("crawler_lookup_timeout", {"crawler_lookup_timeout": 0}),
        ("crawler_lookup_timeout", {"crawler_lookup_timeout": 31}),
        ("crawler_cache_ttl", {"crawler_cache_ttl": 0}),
        ("gated_class", {"gated_class": "two words"}),
        ("gated_class", {"gated_class": "1st"}),
        ("gated_class", {"gated_class": 'x"><script>'}),
    ]
    for field, values in bad:
        with pytest.raises(ConfigError) as info:
            make_settings(**values)
        assert info.value.field == field, values


def test_a_resolver_named_in_the_configuration_is_imported(make_settings: Make) -> None:
    settings = PaywallSettings.from_mapping(
        {"secret_key": SECRET, "crawler_resolver": "tests.apps.crawler_dns:resolver", "crawlers": "googlebot"}
    )
    assert settings.crawler_resolver is crawler_dns.resolver
    assert settings.masked()["crawler_resolver"] == "tests.apps.crawler_dns:TableResolver instance"


# =========================================================================== end to end


@pytest.fixture(scope="module")
def site_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("crawler-site")
    return {
        "PAYWALL_SECRET_KEY": SECRET,
        "PAYWALL_STORE": f"sqlite:///{folder / 'paywall.db'}",
        "PAYWALL_CRAWLER_RESOLVER": "tests.apps.crawler_dns:resolver",
        "PAYWALL_CRAWLER_LOOKUP_TIMEOUT": "0.5",
    }


def serve_site(env: dict[str, str]) -> Any:
    """The site behind the middleware in a real uvicorn, which leaves ``X-Forwarded-For`` to the paywall.

    (uvicorn's own ``--proxy-headers``, on by default for peers on 127.0.0.1,
    would put a forwarded address in the scope before the paywall judged it.)
    """
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "tests.apps.crawler_site:build_app", "--factory", "--no-proxy-headers"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return run_process(argv, port, env)


@pytest.fixture(scope="module")
def plain_server(site_env: dict[str, str]) -> Iterator[str]:
    """The site behind the middleware; its readers (127.0.0.1) are no proxy it trusts."""
    with serve_site(site_env) as url:
        yield url


@pytest.fixture(scope="module")
def trusting_server(site_env: dict[str, str]) -> Iterator[str]:
    """The same, behind a proxy it trusts (127.0.0.1): X-Forwarded-For names the reader."""
    with serve_site({**site_env, "PAYWALL_TRUSTED_PROXIES": "127.0.0.1/32"}) as url:
        yield url


def get(url: str, agent: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers={"user-agent": agent, **headers}, timeout=10)


def test_end_to_end_pretenders_get_the_teaser(plain_server: str) -> None:
    story = f"{plain_server}/news/story"
    for response in (
        get(story, GOOGLEBOT),
        get(story, GOOGLEBOT, **{"x-forwarded-for": "66.249.66.1"}),
        get(story, BROWSER, referer="https://www.google.com/"),
        get(story, GOOGLEBOT, referer="https://www.google.com/", **{"x-forwarded-for": "203.0.113.10"}),
    ):
        assert_teaser(response)
        assert "noarchive" in response.headers["x-robots-tag"]


def test_end_to_end_verification_through_a_trusted_proxy(trusting_server: str) -> None:
    story = f"{trusting_server}/news/story"

    def via(address: str, agent: str = GOOGLEBOT) -> httpx.Response:
        return get(story, agent, **{"x-forwarded-for": address})

    assert_crawler_view(via("203.0.113.10"))
    assert_crawler_view(via("66.249.66.1"))  # the published ranges
    assert_crawler_view(via("203.0.113.16", BINGBOT))
    for address in ("203.0.113.11", "203.0.113.12", "203.0.113.14", "203.0.113.15", "198.51.100.7"):
        assert_teaser(via(address))
    started = time.monotonic()
    assert_teaser(via("203.0.113.13"))  # the lookup hangs: not verified after crawler_lookup_timeout
    assert time.monotonic() - started < 3
    assert_teaser(via("203.0.113.10", BROWSER))


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with run_uvicorn("tests.apps.crawler_site:app") as url:
        yield url


def spawn_proxy(upstream: str, tmp: Path, env: dict[str, str]) -> Any:
    port = free_port()
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PAYWALL_SECRET_KEY": SECRET,
        "PAYWALL_STORE": f"sqlite:///{tmp / f'paywall-{port}.db'}",
        **env,
    }
    argv = [sys.executable, "-m", "paywall.cli", "proxy", "--upstream", upstream, "--port", str(port)]
    return port, spawned([*argv, "--log-level", "warning"], port, env=full_env)


def test_through_paywall_proxy(upstream: str, tmp_path: Path) -> None:
    """``paywall proxy`` verifies the same way: 127.0.0.1 is Googlebot for one resolver, nobody for another."""
    port, verified = spawn_proxy(
        upstream, tmp_path, {"PAYWALL_CRAWLER_RESOLVER": "tests.apps.crawler_dns:localhost_is_googlebot"}
    )
    with verified:
        story = f"http://127.0.0.1:{port}/news/story"
        assert_crawler_view(get(story, GOOGLEBOT))
        assert_teaser(get(story, BROWSER))
        assert_teaser(get(story, BINGBOT))  # a googlebot.com name is no Bing crawler's
        assert_teaser(get(story, BROWSER, referer="https://www.google.com/"))
    port, unverified = spawn_proxy(upstream, tmp_path, {"PAYWALL_CRAWLER_RESOLVER": "tests.apps.crawler_dns:resolver"})
    with unverified:
        story = f"http://127.0.0.1:{port}/news/story"
        assert_teaser(get(story, GOOGLEBOT, **{"x-forwarded-for": "66.249.66.1"}))
        assert_teaser(get(story, GOOGLEBOT, forwarded="for=66.249.66.1"))


# =========================================================================== paywall crawler-ranges


@pytest.fixture
def published(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local web server publishing ranges files, as the engines do."""
    root = tmp_path / "published"
    root.mkdir()
    (root / "googlebot.json").write_text(
        json.dumps({"creationTime": "2026-11-30T00:00:00", "prefixes": [{"ipv4Prefix": "198.51.99.0/24"}]})
    )
    (root / "bingbot.json").write_text(json.dumps({"prefixes": [{"ipv4Prefix": "157.55.39.0/24"}]}))
    (root / "wide.json").write_text(json.dumps({"prefixes": [{"ipv4Prefix": "0.0.0.0/0"}]}))
    port = free_port()
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)]
    with run_process(argv, port) as url:
        yield url, root


def test_crawler_ranges_downloads_checks_and_writes_the_files(
    published: tuple[str, Path], tmp_path: Path, make_settings: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    from paywall.cli import main

    url, _ = published
    out = tmp_path / "ranges"  # not there yet: the command makes it
    argv = ["crawler-ranges", "--out", str(out), "--url", f"googlebot={url}/googlebot.json"]
    assert main([*argv, "--url", f"bingbot={url}/bingbot.json"], env={}) == 0
    printed = capsys.readouterr().out
    assert "googlebot: 1 networks" in printed and "bingbot: 1 networks" in printed
    assert sorted(p.name for p in out.iterdir()) == ["bingbot.json", "googlebot.json"]
    settings = make_settings(crawler_resolver=TableResolver({}, {}), crawler_ranges_dir=str(out))
    assert_crawler_view(fetch(settings, client="198.51.99.7"))
    assert_teaser(fetch(settings, client="66.249.66.1"))

    # A download that is no ranges document, or that fails, leaves the file there as it was.
    before = (out / "googlebot.json").read_bytes()
    for bad in (f"{url}/wide.json", f"{url}/missing.json", "http://127.0.0.1:9/googlebot.json"):
        assert main([*argv[:3], "--url", f"googlebot={bad}", "--url", f"bingbot={url}/bingbot.json"], env={}) == 1
        assert "error: googlebot:" in capsys.readouterr().err
        assert (out / "googlebot.json").read_bytes() == before
    assert not any(p.name.endswith(".part") for p in out.iterdir())


def test_crawler_ranges_writes_where_the_setting_says_and_refuses_unknown_crawlers(
    published: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from paywall.cli import main

    url, _ = published
    folder = tmp_path / "configured"
    env = {"PAYWALL_CRAWLER_RANGES_DIR": str(folder), "PAYWALL_CRAWLERS": "googlebot"}
    assert main(["crawler-ranges", "--url", f"googlebot={url}/googlebot.json"], env=env) == 0
    assert [p.name for p in folder.iterdir()] == ["googlebot.json"]
    assert main(["crawler-ranges", "--url", f"yahoobot={url}/googlebot.json"], env=env) == 2
    assert "error: url: yahoobot is not a configured crawler" in capsys.readouterr().err
    assert main(["crawler-ranges"], env={}) == 2
    assert "error: out:" in capsys.readouterr().err


def test_a_members_only_article_is_read_whole_by_a_crawler_and_cut_for_anyone_else(make_settings: Make) -> None:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def members(request: Any) -> HTMLResponse:
        return HTMLResponse(crawler_site.PAGES["/news/story"], headers={"X-Paywall": "members"})

    app = Starlette(routes=[Route("/news/story", members)])
    settings = make_settings(crawler_resolver=table(), free_articles=5)

    async def go(agent: str, client: str) -> Result:
        mw = PaywallMiddleware(app, settings=settings)
        try:
            return await call(mw, "/news/story", client=(client, 1), headers=[(b"user-agent", agent.encode())])
        finally:
            await mw.store.aclose()

    crawler = asyncio.run(go(GOOGLEBOT, "203.0.113.10"))
    assert_crawler_view(crawler)
    assert crawler.header("x-paywall") is None
    assert_teaser(asyncio.run(go(BROWSER, "198.51.100.7")))  # no free article on a members-only page
