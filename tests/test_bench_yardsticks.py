"""The benchmarks' yardsticks do the work they stand for: a yardstick that did less would flatter the paywall's
figures beside it, one that did more would excuse them."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator

import pytest

from bench.http_load import MEMBER_HEADER, PRIVATE_HEADERS, minimal_member_site
from paywall import PaywallMiddleware, PaywallSettings
from tests.asgi import call

MEMBER = [(MEMBER_HEADER.encode(), b"1")]


@pytest.fixture
def paywalled() -> Iterator[PaywallMiddleware]:
    from bench.http_load import site

    with tempfile.TemporaryDirectory() as tmp:
        settings = PaywallSettings(
            secret_key="bench-secret-key-0123456789",
            store=f"sqlite:///{tmp}/bench.db",
            member_resolver="bench.http_load:is_member",
        )
        yield PaywallMiddleware(site, settings=settings)


def test_the_minimal_middleware_sends_a_member_the_page_the_paywall_sends(paywalled: PaywallMiddleware) -> None:
    minimal = minimal_member_site()

    async def both() -> tuple[bytes, list[tuple[bytes, bytes]], bytes, list[tuple[bytes, bytes]]]:
        ours = await call(paywalled, "/article", headers=MEMBER)
        least = await call(minimal, "/article", headers=MEMBER)
        again = await call(minimal, "/article", headers=MEMBER)  # the page it made last time, sent again
        assert again.body == least.body
        return ours.body, ours.headers, least.body, least.headers

    ours_body, ours_headers, least_body, least_headers = asyncio.run(both())
    assert b"data-paywall-protect" in least_body
    assert least_body == ours_body  # the same tags, at the same place
    for name, value in PRIVATE_HEADERS:
        assert (name, value) in least_headers
        assert (name, value) in ours_headers
    length = dict(least_headers)[b"content-length"]
    assert int(length) == len(least_body)
