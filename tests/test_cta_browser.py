"""The call to action stays on the page when the site's own script renders the story again, in a real Chromium.

A single-page application's router, or a framework whose hydration found the
page unlike the state it renders from (React, Vue), renders the story again in
the browser from the page's state, which the paywall has shortened to the
teaser: the markup the server sent is replaced whole, and the call to action
with it. Non-members then saw the teaser and no way to read on. The call to
action's own script puts it back after the teaser's last block.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.apps.gate_app import SECRET_PARAGRAPHS, SECRET_WORDS, TEASER

pytestmark = pytest.mark.browser

CTA = "Start your 7-day free trial now"


def rendered_again(browser: Browser, url: str) -> tuple[str, list[str]]:
    """The page's visible text once its script has rendered the story again, and the tags of the article's
    children in order (the call to action's as ``cta``)."""
    page = browser.new_page()
    try:
        response = page.goto(url)
        assert response is not None and response.ok
        page.wait_for_function("window.rendered === true")
        page.wait_for_timeout(100)  # mutation observers run after the render
        order = page.evaluate(
            """() => Array.from(document.querySelector("main article").children).map(
                (e) => e.hasAttribute("data-paywall-cta") ? "cta" : e.tagName.toLowerCase())"""
        )
        return page.inner_text("body"), order
    finally:
        page.close()


def test_the_site_renders_its_story_again_from_its_state(browser: Browser, gate_site_url: str) -> None:
    text, order = rendered_again(browser, f"{gate_site_url}/rendered-again")
    assert SECRET_PARAGRAPHS[-1] in text
    assert order == ["h1"] + ["p"] * (len(TEASER) + len(SECRET_PARAGRAPHS))


def test_the_call_to_action_is_put_back_after_the_teaser(browser: Browser, gated_site_url: str) -> None:
    text, order = rendered_again(browser, f"{gated_site_url}/rendered-again")
    assert TEASER[0] in text and CTA in text
    assert not any(word in text for word in SECRET_WORDS)
    kept = order.count("p")
    assert 1 <= kept < len(TEASER) + len(SECRET_PARAGRAPHS)
    assert order == ["h1"] + ["p"] * kept + ["cta"]
