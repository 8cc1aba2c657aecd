"""The search crawlers the paywall knows, and the grammar of the ``crawlers`` setting.

Plain data and parsing, no I/O: the settings check their ``crawlers`` entries
with :func:`parse_crawlers`, and :mod:`paywall.access.crawlers` verifies the crawlers
it returns (by their published ranges, or reverse and forward DNS).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import ConfigError

GOOGLEBOT_RANGES_URL = "https://developers.google.com/static/search/apis/ipranges/googlebot.json"
BINGBOT_RANGES_URL = "https://www.bing.com/toolbox/bingbot.json"

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{1,39}")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


@dataclass(frozen=True)
class Crawler:
    """One search engine's crawler: how it names itself and how its addresses are proved."""

    #: What it is called in the insights (``"Googlebot"``).
    name: str
    #: Lower-case name: the file of its ranges is ``<key>.json``.
    key: str
    #: A word of its ``User-Agent``.
    user_agent: re.Pattern[str]
    #: Domains its hosts' names end in.
    domains: tuple[str, ...]
    #: Where the engine publishes its ranges, when it does.
    ranges_url: str | None = None

    def claimed_by(self, user_agent: str) -> bool:
        return self.user_agent.search(user_agent) is not None

    def owns(self, host: str) -> bool:
        """Whether ``host`` (lower case, no final dot) is one of the engine's: a domain or below one."""
        return any(host == domain or host.endswith("." + domain) for domain in self.domains)


def _crawler(name: str, domains: tuple[str, ...], ranges_url: str | None = None) -> Crawler:
    word = re.compile(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", re.IGNORECASE)
    return Crawler(name, name.lower(), word, domains, ranges_url)


#: The crawlers known by name; others are given as ``"Name: domain domain"``.
KNOWN_CRAWLERS: Mapping[str, Crawler] = {
    "googlebot": _crawler("Googlebot", ("googlebot.com", "google.com"), GOOGLEBOT_RANGES_URL),
    "bingbot": _crawler("Bingbot", ("search.msn.com",), BINGBOT_RANGES_URL),
}


def parse_crawlers(entries: Sequence[str]) -> tuple[Crawler, ...]:
    """The ``crawlers`` setting read: known names (``"googlebot"``) or ``"Name: domain domain"``.

    A custom entry's name is the word its user agent carries (``"Applebot:
    applebot.apple.com"``); its domains are those its hosts' reverse names end in.
    Raises :class:`ConfigError` naming ``crawlers``.
    """
    out: list[Crawler] = []
    for entry in entries:
        text = entry.strip()
        name, colon, rest = text.partition(":")
        name = name.strip()
        if not colon:
            known = KNOWN_CRAWLERS.get(name.lower())
            if known is None:
                choices = ", ".join(KNOWN_CRAWLERS)
                raise ConfigError("crawlers", f"unknown crawler {text!r}: name one of {choices}, or 'Name: domain'")
            crawler = known
        else:
            if not _NAME.fullmatch(name):
                raise ConfigError("crawlers", f"{text!r}: the name before ':' is the word its user agent carries")
            domains = tuple(d.strip().lower().rstrip(".") for d in rest.replace(",", " ").split())
            if not domains:
                raise ConfigError("crawlers", f"{text!r} names no domain for its hosts' reverse DNS names")
            for domain in domains:
                if not _DOMAIN.fullmatch(domain):
                    raise ConfigError("crawlers", f"{text!r}: not a domain name: {domain!r}")
            crawler = _crawler(name, domains)
        if any(other.key == crawler.key for other in out):
            raise ConfigError("crawlers", f"{crawler.name} is listed twice")
        out.append(crawler)
    return tuple(out)


__all__ = ["KNOWN_CRAWLERS", "Crawler", "parse_crawlers"]
