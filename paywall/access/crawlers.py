"""Search engine crawlers that read gated articles in full, once they are proved to be who they say.

A crawler that indexes the whole article lets readers find it; anyone can
claim to be one. So a request whose ``User-Agent`` names a configured crawler
(``crawlers``) is believed only when its address proves it, in one of two
ways, as the engines themselves document:

* the address lies in the ranges the engine publishes (Google's
  ``googlebot.json``, Bing's ``bingbot.json``: copies ship in
  ``paywall/data/crawlers/``, ``crawler_ranges_dir`` replaces them, and
  ``paywall crawler-ranges`` downloads the current ones); or
* its reverse DNS name lies in one of the engine's domains
  (``crawl-66-249-66-1.googlebot.com``) and the forward lookup of that name
  gives the same address back. The reverse record belongs to whoever holds
  the address and can say anything; the forward record of a name under
  ``googlebot.com`` only Google can write.

The address is the connecting peer's, or the one a proxy listed in
``trusted_proxies`` forwarded (:func:`paywall.access.network.client_address`): a
``User-Agent``, a ``Referer`` or an ``X-Forwarded-For`` from anyone else proves
nothing. Requests that claim no crawler cost one regular expression and no
lookup. Every doubt means "not verified": a lookup that fails, that takes
longer than ``crawler_lookup_timeout``, a name in another domain, a forward
lookup that does not give the address back.

Answers are cached per address for ``crawler_cache_ttl`` seconds, a name or
its absence alike (a lookup that failed or timed out, for at most a minute),
in at most :data:`CACHE_ENTRIES` entries; concurrent requests from one
address share one lookup, and at most :data:`MAX_LOOKUPS` lookups are under
way at once (past that a request is simply not verified), so a flood of
requests that claim to be Googlebot cannot queue work without bound.

Google's domains here are ``googlebot.com`` and ``google.com``. Google's
documentation also names ``googleusercontent.com``, for fetchers its users
trigger; but every Google Cloud virtual machine's address resolves under
``googleusercontent.com`` (``1.2.3.4.bc.googleusercontent.com``) and back,
so anyone who rents one would pass as Googlebot. Likewise Google's
``Google-InspectionTool`` (the Rich Results Test, which shows the page it
fetched to whoever runs it) names no ``Googlebot`` in its user agent and is
not believed.
"""

from __future__ import annotations

import asyncio
import bisect
import inspect
import ipaddress
import json
import logging
import os
import re
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import anyio
import anyio.to_thread

from ..errors import ConfigError
from ..search_engines import KNOWN_CRAWLERS, Crawler, parse_crawlers
from ..settings import CrawlerResolver, PaywallSettings
from .network import client_address

logger = logging.getLogger("paywall")

_HOST = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")

#: Distinct addresses whose answer is remembered, at most (least recently used go first).
CACHE_ENTRIES = 10_000
#: Lookups under way at once, at most; a request past that is not verified.
MAX_LOOKUPS = 32
#: Seconds a lookup that failed or timed out is remembered (an answer is remembered ``crawler_cache_ttl``).
FAILURE_TTL = 60.0
#: Shortest network a ranges file may list (a longer one would make much of the Internet a crawler).
MIN_PREFIX = {4: 8, 6: 19}

# ---------------------------------------------------------------------------
# published ranges


@dataclass(frozen=True)
class Ranges:
    """Networks as sorted, merged integer intervals per IP version: a lookup is one bisection."""

    starts: Mapping[int, tuple[int, ...]]
    ends: Mapping[int, tuple[int, ...]]
    count: int = 0

    @classmethod
    def of(cls, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> Ranges:
        spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        count = 0
        for network in networks:
            spans[network.version].append((int(network.network_address), int(network.broadcast_address)))
            count += 1
        starts: dict[int, tuple[int, ...]] = {}
        ends: dict[int, tuple[int, ...]] = {}
        for version, items in spans.items():
            merged: list[list[int]] = []
            for start, end in sorted(items):
                if merged and start <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            starts[version] = tuple(s for s, _ in merged)
            ends[version] = tuple(e for _, e in merged)
        return cls(starts, ends, count)

    def __contains__(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        starts = self.starts.get(ip.version, ())
        at = bisect.bisect_right(starts, int(ip)) - 1
        return at >= 0 and int(ip) <= self.ends[ip.version][at]


EMPTY_RANGES = Ranges.of(())


def parse_ranges(data: Any) -> Ranges:
    """A published ranges document (``{"creationTime": ..., "prefixes": [{"ipv4Prefix": ...}, ...]}``).

    Raises ValueError when it is not one: a prefix that is no network, a
    network too wide (:data:`MIN_PREFIX`) or not on the public Internet, or no
    prefix at all.
    """
    if not isinstance(data, dict) or not isinstance(data.get("prefixes"), list):
        raise ValueError('not a ranges document: expected {"prefixes": [{"ipv4Prefix": ...}, ...]}')
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for entry in data["prefixes"]:
        if not isinstance(entry, dict):
            raise ValueError(f"a prefix entry is not an object: {entry!r}")
        for key in ("ipv4Prefix", "ipv6Prefix"):
            value = entry.get(key)
            if value is None or value == "":
                continue
            try:
                network = ipaddress.ip_network(str(value), strict=False)
            except ValueError:
                raise ValueError(f"not a network: {value!r}") from None
            if network.version != (4 if key == "ipv4Prefix" else 6):
                raise ValueError(f"{key} holds an IPv{network.version} network: {value!r}")
            if network.prefixlen < MIN_PREFIX[network.version]:
                raise ValueError(f"network too wide for one crawler: {value!r}")
            if not network.is_global:
                raise ValueError(f"not a public network: {value!r}")
            networks.append(network)
    if not networks:
        raise ValueError("no prefix listed")
    return Ranges.of(networks)


def read_ranges(path: str) -> Ranges:
    """The ranges in the file at ``path``; raises ValueError or OSError."""
    with open(path, "rb") as handle:
        try:
            data = json.loads(handle.read())
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from None
    return parse_ranges(data)


def shipped_ranges_dir() -> str:
    """The folder of the ranges files that ship with the package."""
    return str(resources.files("paywall").joinpath("data", "crawlers"))


def load_crawler_ranges(crawlers: Sequence[Crawler], folder: str | None) -> dict[str, Ranges]:
    """Each crawler's ranges from ``<folder>/<key>.json`` (the shipped folder when None).

    A crawler without a file there is verified by DNS alone. Raises
    :class:`ConfigError` naming ``crawler_ranges_dir`` for a file that cannot be read.
    """
    if folder is not None and not os.path.isdir(folder):
        raise ConfigError("crawler_ranges_dir", f"no such folder: {folder}")
    where = folder if folder is not None else shipped_ranges_dir()
    out: dict[str, Ranges] = {}
    for crawler in crawlers:
        path = os.path.join(where, f"{crawler.key}.json")
        if not os.path.isfile(path):
            continue
        try:
            out[crawler.key] = read_ranges(path)
        except (OSError, ValueError) as exc:
            raise ConfigError("crawler_ranges_dir", f"{path}: {exc}") from None
    return out


# ---------------------------------------------------------------------------
# DNS


class SystemResolver:
    """The event loop's own resolver: ``getnameinfo`` and ``getaddrinfo``, as the system is configured."""

    async def reverse(self, address: str) -> str | None:
        host, _ = await asyncio.get_running_loop().getnameinfo((address, 0), socket.NI_NAMEREQD)
        return host

    async def forward(self, name: str) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str | None) -> IPAddress | None:
    """``text`` as an address, IPv4-mapped IPv6 as IPv4, zone dropped; None when it is none."""
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


async def _call(method: Callable[[str], Any], argument: str) -> Any:
    """A resolver method, sync (in a worker thread, so it cannot stall the loop) or async."""
    if inspect.iscoroutinefunction(method):
        return await method(argument)
    result = await anyio.to_thread.run_sync(method, argument, abandon_on_cancel=True)
    if inspect.isawaitable(result):
        result = await result
    return result


class CrawlerVerifier:
    """Decides, per request, whether a crawler that names itself is that crawler (built once per application).

    ``clock`` (seconds, monotonic) dates the cache; tests move it instead of waiting.
    """

    def __init__(self, settings: PaywallSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.crawlers = parse_crawlers(settings.crawlers)
        self.ranges = load_crawler_ranges(self.crawlers, settings.crawler_ranges_dir)
        resolver = settings.crawler_resolver
        self.resolver: CrawlerResolver = resolver if isinstance(resolver, CrawlerResolver) else SystemResolver()
        self.trusted_proxies = settings.trusted_proxies
        self.timeout = settings.crawler_lookup_timeout
        self.ttl = float(settings.crawler_cache_ttl)
        self.clock = clock
        self._cache: OrderedDict[IPAddress, tuple[float, str | None]] = OrderedDict()
        self._pending: dict[IPAddress, asyncio.Task[str | None]] = {}
        #: Any crawler's word, in one pattern: a reader's browser, the common case, is told by one search.
        self._any_name = re.compile("|".join(f"(?:{c.user_agent.pattern})" for c in self.crawlers) or r"(?!)", re.I)

    def claimed(self, user_agent: str | None) -> Crawler | None:
        """The configured crawler a ``User-Agent`` names, if any (no lookup)."""
        if not user_agent or self._any_name.search(user_agent) is None:
            return None
        for crawler in self.crawlers:
            if crawler.claimed_by(user_agent):
                return crawler
        return None

    async def verify(self, scope: Mapping[str, Any], user_agent: str | None) -> Crawler | None:
        """The crawler reading, when its user agent names it and its address proves it; else None. Never raises."""
        crawler = self.claimed(user_agent)
        if crawler is None:
            return None
        ip = _address(client_address(scope, self.trusted_proxies))
        if ip is None:
            return None
        if ip in self.ranges.get(crawler.key, EMPTY_RANGES):
            return crawler
        try:
            host = await self.confirmed_host(ip)
        except Exception:  # a bug in the cache or a resolver must not open anything
            logger.exception("paywall: verifying %s at %s failed", crawler.name, ip)
            return None
        return crawler if host is not None and crawler.owns(host) else None

    async def confirmed_host(self, ip: IPAddress) -> str | None:
        """The host name of ``ip`` whose forward lookup gives ``ip`` back, or None; cached."""
        cached = self._cache.get(ip)
        if cached is not None:
            if cached[0] > self.clock():
                self._cache.move_to_end(ip)
                return cached[1]
            del self._cache[ip]
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # another event loop (trio): no shared lookups, same rules
            return await self._lookup_and_remember(ip)
        task = self._pending.get(ip)
        if task is None:
            if len(self._pending) >= MAX_LOOKUPS:
                logger.debug("paywall: %d crawler lookups under way; %s not verified", MAX_LOOKUPS, ip)
                return None
            task = asyncio.get_running_loop().create_task(self._lookup_and_remember(ip))
            self._pending[ip] = task
            task.add_done_callback(lambda _: self._pending.pop(ip, None))
        # A request that goes away does not cancel the lookup others wait for.
        return await asyncio.shield(task)

    async def _lookup_and_remember(self, ip: IPAddress) -> str | None:
        ttl = self.ttl
        try:
            with anyio.fail_after(self.timeout):
                host = await self._lookup(ip)
        except TimeoutError:
            logger.info("paywall: crawler lookup of %s took over %ss: not verified", ip, self.timeout)
            host, ttl = None, min(ttl, FAILURE_TTL)
        except Exception as exc:  # no name, no answer, a resolver's own error: not verified
            logger.info("paywall: crawler lookup of %s failed (%s): not verified", ip, exc.__class__.__name__)
            host, ttl = None, min(ttl, FAILURE_TTL)
        self._remember(ip, host, ttl)
        return host

    async def _lookup(self, ip: IPAddress) -> str | None:
        """Reverse, then forward: the name when it leads back to ``ip``."""
        name = await _call(self.resolver.reverse, str(ip))
        if not isinstance(name, str):
            return None
        host = name.strip().rstrip(".").lower()
        if not _HOST.fullmatch(host):
            return None
        addresses = await _call(self.resolver.forward, host)
        if isinstance(addresses, str | bytes) or not isinstance(addresses, Iterable):
            return None
        return host if any(_address(str(a)) == ip for a in addresses) else None

    def _remember(self, ip: IPAddress, host: str | None, ttl: float) -> None:
        self._cache[ip] = (self.clock() + ttl, host)
        self._cache.move_to_end(ip)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)


# ---------------------------------------------------------------------------
# refreshing the shipped files


def published_sources(crawlers: Sequence[Crawler], urls: Mapping[str, str]) -> dict[str, str]:
    """``{key: URL}`` to download: each crawler's published file, or the URL given for it."""
    out = {c.key: c.ranges_url for c in crawlers if c.ranges_url is not None}
    keys = {c.key for c in crawlers}
    for key, url in urls.items():
        if key.lower() not in keys:
            raise ConfigError("url", f"{key} is not a configured crawler")
        out[key.lower()] = url
    return {key: url for key, url in out.items() if url is not None}


def write_ranges(folder: str, key: str, body: bytes) -> Ranges:
    """Check ``body`` as a ranges document and write it to ``<folder>/<key>.json`` atomically."""
    try:
        ranges = parse_ranges(json.loads(body))
    except ValueError as exc:
        raise ValueError(f"not a ranges document ({exc})") from None
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{key}.json")
    partial = f"{path}.{os.getpid()}.part"
    with open(partial, "wb") as handle:
        handle.write(body)
    os.replace(partial, path)
    return ranges


__all__ = [
    "KNOWN_CRAWLERS",
    "Crawler",
    "CrawlerVerifier",
    "Ranges",
    "SystemResolver",
    "load_crawler_ranges",
    "parse_crawlers",
    "parse_ranges",
    "published_sources",
    "read_ranges",
    "shipped_ranges_dir",
    "write_ranges",
]
