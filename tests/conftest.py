"""Fixtures shared by the whole suite."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from paywall import PaywallSettings

if TYPE_CHECKING:
    from playwright.sync_api import Browser

SECRET = "test-secret-key-0123456789abcdef"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for a test module (:mod:`tests.browser`: it fails the test, never skips, when it cannot start)."""
    from tests.browser import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def gate_site_url() -> Iterator[str]:
    """``tests.apps.gate_app``'s site in a real uvicorn, bare."""
    from tests.servers import run_uvicorn

    with run_uvicorn("tests.apps.gate_app:site") as url:
        yield url


@pytest.fixture(scope="module")
def gated_site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same site behind the paywall in a real uvicorn, on a SQLite store of its own."""
    from tests.servers import run_paywalled

    with run_paywalled("tests.apps.gate_app:build_app", tmp_path_factory.mktemp("gate-site"), SECRET) as url:
        yield url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., PaywallSettings]:
    """Settings on a fresh SQLite store in the test's own folder."""

    def make(**overrides: Any) -> PaywallSettings:
        values: dict[str, Any] = {"secret_key": SECRET, "store": f"sqlite:///{tmp_path / 'paywall.db'}"}
        values.update(overrides)
        return PaywallSettings(**values)

    return make


_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def readable_variants(body: bytes | str) -> list[str]:
    """The body as a reader, a scraper or a script could decode it."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    variants = [text, html.unescape(text)]
    for base in list(variants):
        unescaped = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), base)
        unescaped = unescaped.replace('\\"', '"').replace("\\/", "/").replace("\\n", "\n")
        variants.extend([unescaped, html.unescape(unescaped)])
    return [v.casefold() for v in variants]


def assert_no_leak(body: bytes | str, secret_words: Iterable[str]) -> None:
    """Fail if any word from beyond the teaser appears anywhere, in any encoding."""
    variants = readable_variants(body)
    for word in secret_words:
        for variant in variants:
            assert word.casefold() not in variant, f"{word!r} leaked to a non-member"
