"""A story rendered in a declarative shadow root, in a real Chromium against a real uvicorn.

Chromium renders ``<template shadowrootmode>`` content in place, as the
shadow root of its host: the site's own page shows the whole story there, so
what the paywall sends a non-member must show only the teaser there, and the
call to action on the page.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.apps.gate_app import SECRET_PARAGRAPHS, SECRET_WORDS, TEASER

pytestmark = pytest.mark.browser

CTA = "Start your 7-day free trial now"
SHADOW_TEXT = "() => document.querySelector('story-view').shadowRoot?.textContent ?? null"


def rendered(browser: Browser, url: str) -> tuple[str, str]:
    """The text of the story's shadow root as Chromium rendered it, and the page's visible text."""
    page = browser.new_page()
    try:
        response = page.goto(url)
        assert response is not None and response.ok
        shadow = page.evaluate(SHADOW_TEXT)
        assert shadow is not None, "Chromium attached no shadow root"
        return shadow, page.inner_text("body")
    finally:
        page.close()


def test_chromium_shows_the_site_s_own_page_whole_in_the_shadow_root(browser: Browser, gate_site_url: str) -> None:
    shadow, _ = rendered(browser, f"{gate_site_url}/shadow")
    assert SECRET_PARAGRAPHS[-1] in shadow  # what a page left whole would give away


def test_a_non_member_sees_the_teaser_in_the_shadow_root_and_the_call_to_action(
    browser: Browser, gated_site_url: str
) -> None:
    shadow, visible = rendered(browser, f"{gated_site_url}/shadow")
    assert TEASER[0] in shadow
    for word in SECRET_WORDS:
        assert word not in shadow and word not in visible
    assert CTA in visible
