"""Resolvers for the crawler tests: DNS answers from tables, so that no test needs the network.

Each answer is what the addresses of the documentation ranges (and 127.0.0.1)
would resolve to in one case the verification must get right. A name or an
address list may instead be an exception (the lookup fails) or a number of
seconds to wait first (a lookup that hangs). Every question asked is kept, so
tests can say what was looked up and how often.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

Answer = str | list[str] | Exception | float


class TableResolver:
    """``reverse`` and ``forward`` from tables; asynchronous, as a real resolver would be."""

    def __init__(self, names: Mapping[str, Answer], addresses: Mapping[str, Answer]) -> None:
        self.names = dict(names)
        self.addresses = dict(addresses)
        self.asked: list[tuple[str, str]] = []

    async def reverse(self, address: str) -> str | None:
        self.asked.append(("reverse", address))
        answer = await self._answer(self.names.get(address, OSError("no PTR record")))
        return answer if isinstance(answer, str) else None

    async def forward(self, name: str) -> Iterable[str]:
        self.asked.append(("forward", name))
        answer = await self._answer(self.addresses.get(name, OSError("no such name")))
        return [answer] if isinstance(answer, str) else list(answer) if isinstance(answer, list) else []

    @staticmethod
    async def _answer(answer: Answer) -> str | list[str]:
        if isinstance(answer, float):
            await asyncio.sleep(answer)
            return []
        if isinstance(answer, Exception):
            raise answer
        return answer

    def lookups(self, address: str) -> int:
        return sum(1 for kind, what in self.asked if kind == "reverse" and what == address)


class SyncTableResolver(TableResolver):
    """The same answers from plain functions (they run in a worker thread)."""

    def reverse(self, address: str) -> str | None:  # type: ignore[override]
        return asyncio.run(TableResolver.reverse(self, address))

    def forward(self, name: str) -> Iterable[str]:  # type: ignore[override]
        return asyncio.run(TableResolver.forward(self, name))


#: The cases, by address (documentation ranges: none of them is anyone's crawler).
NAMES: dict[str, Answer] = {
    "203.0.113.10": "crawl-203-0-113-10.googlebot.com.",  # a real Googlebot
    "203.0.113.11": "crawl-203-0-113-11.googlebot.com.",  # its name resolves to another address
    "203.0.113.12": OSError("SERVFAIL"),  # the lookup fails
    "203.0.113.13": 30.0,  # the lookup hangs
    "203.0.113.14": "crawl-203-0-113-14.googlebot.com.evil.example.",  # a look-alike name
    "203.0.113.15": "203-0-113-15.bc.googleusercontent.com.",  # a rented cloud machine
    "203.0.113.16": "msnbot-203-0-113-16.search.msn.com.",  # a real Bingbot
}
ADDRESSES: dict[str, Answer] = {
    "crawl-203-0-113-10.googlebot.com": ["203.0.113.10"],
    "crawl-203-0-113-11.googlebot.com": ["198.51.100.11"],
    "crawl-203-0-113-14.googlebot.com.evil.example": ["203.0.113.14"],
    "203-0-113-15.bc.googleusercontent.com": ["203.0.113.15"],
    "msnbot-203-0-113-16.search.msn.com": ["203.0.113.16"],
}

#: For servers whose readers connect from 127.0.0.1 itself.
LOCALHOST_NAMES: dict[str, Answer] = {"127.0.0.1": "crawl-127-0-0-1.googlebot.com."}
LOCALHOST_ADDRESSES: dict[str, Answer] = {"crawl-127-0-0-1.googlebot.com": ["127.0.0.1"]}

#: The table above (127.0.0.1 has no name: a reader on this machine is nobody's crawler).
resolver = TableResolver(NAMES, ADDRESSES)
#: 127.0.0.1 is a Googlebot (a server that is to verify its own test client).
localhost_is_googlebot = TableResolver(LOCALHOST_NAMES, LOCALHOST_ADDRESSES)
