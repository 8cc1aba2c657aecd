"""Launch the system Chromium through Playwright for browser tests.

The browser is part of the test environment: when it is missing the tests
fail with a message saying what to install, they never skip.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM = os.environ.get("PAYWALL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch(playwright: Playwright) -> Browser:
    """A headless Chromium from ``CHROMIUM``; fails the test when it cannot start."""
    if not os.path.isfile(CHROMIUM) or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install the 'chromium' package "
            "(or set PAYWALL_TEST_CHROMIUM); browser tests do not skip",
            pytrace=False,
        )
    try:
        return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:
        pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}", pytrace=False)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """One browser for a test module: ``with chromium() as browser: ...``."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()
