"""Copy protection in a real Chromium, against a real uvicorn server.

Every page gets a recorder (installed before any page script) that listens
*after* the protection script: on ``document`` in the bubbling phase, while
the protection listens on ``window`` in the capturing phase. It sees whether
each event reached it cancelled, and collects CSP violations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from paywall.protection.tracing import embed, mark_for, strip_marks, trace_text
from paywall.settings import PaywallSettings
from tests.apps.protect_app import SECRET
from tests.servers import get, run_paywalled, run_uvicorn

pytestmark = pytest.mark.browser

MESSAGE = "error: This content is protected !!"

RECORDER = """
window.__events = [];
window.__violations = [];
window.__focusins = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
for (const type of ["contextmenu", "copy", "cut", "keydown", "selectstart", "dragstart", "paste"]) {
  document.addEventListener(type, (e) => {
    const record = {type, prevented: e.defaultPrevented, key: e.key || "", target: (e.target && e.target.id) || ""};
    if (e.clipboardData) {
      record.plain = e.clipboardData.getData("text/plain");
      record.html = e.clipboardData.getData("text/html");
    }
    window.__events.push(record);
  });
}
document.addEventListener("focusin", (e) => {
  window.__focusins.push(e.target.className || e.target.id || e.target.tagName);
});
"""

SELECT = """(selector) => {
  const nodes = document.querySelectorAll(selector);
  const range = document.createRange();
  range.setStartBefore(nodes[0]);
  range.setEndAfter(nodes[nodes.length - 1]);
  const selection = getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  return selection.toString();
}"""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_uvicorn("tests.apps.protect_app:app") as url:
        yield url


@pytest.fixture(scope="module")
def gated_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same site behind the real ``PaywallMiddleware`` (which adds the tags itself)."""
    with run_paywalled("tests.apps.protect_app:build_gated", tmp_path_factory.mktemp("protect-e2e"), SECRET) as url:
        yield url


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    try:
        yield ctx
    finally:
        ctx.close()


class Visit:
    """One page of the test site, with its recorder and console."""

    def __init__(self, context: BrowserContext, url: str, *, clock: bool = False) -> None:
        self.page: Page = context.new_page()
        self.console: list[str] = []
        self.errors: list[str] = []
        self.page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.add_init_script(RECORDER)
        if clock:
            self.page.clock.install()
        response = self.page.goto(url)
        assert response is not None and response.ok, url
        self.headers = response.headers

    def protected(self) -> Visit:
        """Wait until the script has marked its region (it runs deferred)."""
        self.page.wait_for_selector("[data-paywall-protected]", state="attached", timeout=5000)
        return self

    def events(self, type_: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.page.evaluate("window.__events")
        return [e for e in events if e["type"] == type_]

    def clipboard(self) -> str:
        text: str = self.page.evaluate("navigator.clipboard.readText()")
        return text

    def set_clipboard(self, text: str) -> None:
        self.page.evaluate("(t) => navigator.clipboard.writeText(t)", text)

    @property
    def toast(self) -> Any:
        return self.page.get_by_role("status")


def visit(context: BrowserContext, base_url: str, query: str = "", *, clock: bool = False) -> Visit:
    return Visit(context, f"{base_url}/article{query}", clock=clock)


# ------------------------------------------------------------------ block mode
def test_right_click_in_article_shows_polite_toast(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url).protected()
    v.page.click("article p", button="right")
    assert v.events("contextmenu")[-1]["prevented"] is True
    expect(v.toast).to_have_text(MESSAGE)
    expect(v.toast).to_be_visible()
    expect(v.toast).to_have_attribute("aria-live", "polite")
    info = v.page.evaluate(
        """() => {
          const t = document.querySelector('[role=status]');
          return {focused: document.activeElement === t, tabindex: t.hasAttribute('tabindex'),
                  tabIndex: t.tabIndex, inArticle: !!t.closest('article'),
                  count: document.querySelectorAll('[role=status]').length};
        }"""
    )
    assert info == {"focused": False, "tabindex": False, "tabIndex": -1, "inArticle": False, "count": 1}
    v.page.click("#title", button="right")
    assert v.page.locator("[role=status]").count() == 1  # one toast, reused
    assert "paywall-toast" not in v.page.evaluate("window.__focusins")
    assert v.errors == []


def test_ctrl_c_in_article_is_blocked_without_stealing_focus(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url).protected()
    v.set_clipboard("before")
    # Keyboard user: focus the link inside the article, then try to copy.
    v.page.focus("#article-link")
    v.page.keyboard.press("Control+c")
    expect(v.toast).to_have_text(MESSAGE)
    assert v.page.evaluate("document.activeElement.id") == "article-link"
    keydown = v.events("keydown")[-1]
    assert keydown["key"] == "c" and keydown["prevented"] is True
    # Mouse user: click into the text, then copy.
    v.page.click("article p")
    v.page.keyboard.press("Control+c")
    assert v.events("keydown")[-1]["prevented"] is True
    assert v.events("copy") == []  # the copy never happened
    assert v.clipboard() == "before"
    for key in ("x", "a", "s", "u", "p"):
        v.page.keyboard.press(f"Control+{key}")
        assert v.events("keydown")[-1] == {"type": "keydown", "prevented": True, "key": key, "target": ""}
    v.page.keyboard.press("Meta+c")
    assert v.events("keydown")[-1]["prevented"] is True


def test_copy_and_cut_events_are_cancelled(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url).protected()
    v.set_clipboard("before")
    v.page.click("#outside-text")  # a real gesture: execCommand may write the clipboard
    v.page.evaluate(SELECT, "[data-paywall-article] p")
    assert v.page.evaluate("document.execCommand('copy')") is True
    v.page.evaluate("document.execCommand('cut')")
    copy, cut = v.events("copy"), v.events("cut")
    assert copy and all(e["prevented"] for e in copy)
    assert cut and all(e["prevented"] for e in cut)
    assert v.clipboard() == "before"
    expect(v.toast).to_have_text(MESSAGE)
    prevented = v.page.evaluate(
        """() => {
          const p = document.querySelector('article p');
          return ['selectstart', 'dragstart'].map(
            (type) => !p.dispatchEvent(new Event(type, {bubbles: true, cancelable: true})));
        }"""
    )
    assert prevented == [True, True]
    assert v.page.evaluate("getSelection().toString()") == ""  # nothing in the article could be selected


def test_user_select_none_in_article_but_fields_work(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url).protected()
    styles = v.page.evaluate(
        """() => Object.fromEntries(
             ['article', 'article p', '#inside-input', '#inside-textarea', '#inside-editable', '#outside-text']
             .map((s) => [s, getComputedStyle(document.querySelector(s)).userSelect]))"""
    )
    assert styles["article"] == "none"
    assert styles["article p"] == "none"
    assert styles["#inside-input"] == styles["#inside-textarea"] == styles["#inside-editable"] == "text"
    assert styles["#outside-text"] == "auto"

    v.set_clipboard("before")
    v.page.click("#inside-input")
    v.page.keyboard.type("hello world")
    assert v.page.input_value("#inside-input") == "hello world"
    v.page.keyboard.press("Control+a")
    assert v.page.evaluate("[document.activeElement.selectionStart, document.activeElement.selectionEnd]") == [0, 11]
    v.page.keyboard.press("Control+c")
    assert v.clipboard() == "hello world"
    assert not any(e["prevented"] for e in v.events("keydown"))
    assert all(not e["prevented"] for e in v.events("copy"))
    # Paste is never blocked.
    v.set_clipboard(" and pasted")
    v.page.keyboard.press("End")
    v.page.keyboard.press("Control+v")
    assert v.page.input_value("#inside-input") == "hello world and pasted"
    v.page.click("#inside-textarea")
    v.page.keyboard.type("a comment")
    assert v.page.input_value("#inside-textarea") == "a comment"
    v.page.click("#inside-editable")
    v.page.keyboard.press("End")
    v.page.keyboard.type(" edited")
    assert v.page.text_content("#inside-editable") == "Editable note edited"
    v.page.click("#inside-input", button="right")
    v.page.keyboard.press("Escape")
    assert v.events("contextmenu")[-1]["prevented"] is False
    expect(v.toast).to_be_hidden()


def test_link_context_menu_find_and_navigation_are_kept(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url).protected()
    v.page.click("#article-link", button="right")
    v.page.keyboard.press("Escape")
    assert v.events("contextmenu")[-1] == {
        "type": "contextmenu",
        "prevented": False,
        "key": "",
        "target": "article-link",
    }
    expect(v.toast).to_be_hidden()
    v.page.keyboard.press("Control+f")
    assert v.events("keydown")[-1]["prevented"] is False
    # Keyboard navigation reaches the link in the article.
    v.page.focus("#home")
    seen = []
    for _ in range(4):
        v.page.keyboard.press("Tab")
        seen.append(v.page.evaluate("document.activeElement.id"))
    assert "article-link" in seen
    assert not any(e["prevented"] for e in v.events("keydown") if e["key"] == "Tab")


def test_outside_the_article_nothing_is_blocked(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url).protected()
    v.set_clipboard("before")
    v.page.click("#outside-text", button="right")
    v.page.keyboard.press("Escape")
    assert v.events("contextmenu")[-1]["prevented"] is False
    v.page.click("#outside-text")
    copied = v.page.evaluate(SELECT, "#outside-text")
    v.page.keyboard.press("Control+c")
    assert v.clipboard().strip() == copied.strip() == "Markets close early on Friday."
    v.page.click("#outside-input")
    v.page.keyboard.type("search terms")
    assert v.page.input_value("#outside-input") == "search terms"
    expect(v.toast).to_be_hidden()
    assert v.page.evaluate("getComputedStyle(document.querySelector('#outside-text')).userSelect") == "auto"


def test_page_text_is_never_altered(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url)
    before = v.page.evaluate("document.querySelector('article').textContent")
    v.protected()
    v.page.click("article p", button="right")
    v.page.keyboard.press("Control+c")
    after = v.page.evaluate("document.querySelector('article').textContent")
    assert after == before
    assert "\u2063" not in v.page.evaluate("document.body.textContent")


def test_toast_fades_after_three_seconds(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url, clock=True).protected()
    v.page.click("article p", button="right")
    expect(v.toast).to_be_visible()
    v.page.clock.run_for(2500)
    expect(v.toast).to_be_visible()
    v.page.clock.run_for(1000)
    expect(v.toast).to_be_hidden()
    v.page.clock.run_for(1000)
    expect(v.page.locator("[role=status]")).to_have_text("")
    v.page.click("article p", button="right")  # the same element comes back
    expect(v.toast).to_have_text(MESSAGE)
    assert v.page.locator("[role=status]").count() == 1


def test_message_is_shown_as_text(context: BrowserContext, base_url: str) -> None:
    hostile = '<img src=x onerror="window.__pwned=1">Protected & "quoted"'
    v = Visit(context, f"{base_url}/article?message={quote(hostile, safe='')}").protected()
    v.page.click("article p", button="right")
    expect(v.toast).to_have_text(hostile)
    assert v.page.evaluate("document.querySelector('[role=status] img') === null")
    assert v.page.evaluate("window.__pwned === undefined")


def test_print_shows_the_message_instead_of_the_article(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url).protected()
    v.page.emulate_media(media="print")
    printed = v.page.evaluate("document.body.innerText")
    assert "Grid operators" not in printed and "Interconnector approved" not in printed
    assert "Markets close early on Friday." in printed and "Stay informed" in printed
    content = v.page.evaluate("getComputedStyle(document.querySelector('article'), '::before').content")
    assert content == f'"{MESSAGE}"'
    expect(v.page.locator("article p").first).to_be_hidden()
    v.page.emulate_media(media="screen")
    expect(v.page.locator("article p").first).to_be_visible()
    assert v.page.evaluate("getComputedStyle(document.querySelector('article'), '::before').content") == "none"


def test_page_scope_protects_everything_but_fields(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url, "?scope=page").protected()
    v.page.click("#outside-text", button="right")
    assert v.events("contextmenu")[-1]["prevented"] is True
    expect(v.toast).to_have_text(MESSAGE)
    v.page.click("#outside-input")
    v.page.keyboard.type("still works")
    assert v.page.input_value("#outside-input") == "still works"
    v.page.emulate_media(media="print")
    assert v.page.evaluate("document.body.innerText").strip() == ""
    assert v.page.evaluate("getComputedStyle(document.body, '::before').content") == f'"{MESSAGE}"'


def test_unmarked_article_is_found_by_size(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url, "?marker=off").protected()
    assert v.page.evaluate("[...document.querySelectorAll('[data-paywall-protected]')].map((e) => e.tagName)") == [
        "ARTICLE"
    ]
    assert v.page.evaluate("document.querySelector('#related').hasAttribute('data-paywall-protected')") is False
    v.page.click("#related p", button="right")
    v.page.keyboard.press("Escape")
    assert v.events("contextmenu")[-1]["prevented"] is False
    v.page.click("article p", button="right")
    assert v.events("contextmenu")[-1]["prevented"] is True


def test_off_mode_injects_nothing(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url, "?mode=off")
    assert v.page.locator("script[data-paywall-protect], link[href*=protect]").count() == 0
    v.page.click("article p", button="right")
    v.page.keyboard.press("Escape")
    assert v.events("contextmenu")[-1]["prevented"] is False
    assert v.page.evaluate("getComputedStyle(document.querySelector('article')).userSelect") == "auto"


# ------------------------------------------------------------ attribution mode
def test_attribution_mode_adds_the_page_url(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url, "?mode=attribute").protected()
    assert v.page.evaluate("getComputedStyle(document.querySelector('article')).userSelect") == "auto"
    v.page.click("#outside-text")
    selected = v.page.evaluate(SELECT, "[data-paywall-article] p:not([id])")
    assert len(selected.split()) > 20
    v.page.keyboard.press("Control+c")
    url = f"{base_url}/article"
    assert v.clipboard() == f"{selected}\n\nRead more at {url}"
    copy = v.events("copy")[-1]
    assert copy["prevented"] is True  # ours: the clipboard holds our version
    assert f'Read more at <a href="{url}">{url}</a>' in copy["html"]
    assert "Grid operators in the north" in copy["html"]
    expect(v.toast).to_have_count(0)

    # A short quotation is left alone.
    short = v.page.evaluate(SELECT, "#title")
    v.page.keyboard.press("Control+c")
    assert v.clipboard().strip() == short.strip() == "Interconnector approved"  # native copy
    assert v.events("copy")[-1]["prevented"] is False


def test_trace_mark_goes_to_the_clipboard_only(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url, "?mode=attribute&subject=reader-42&min_words=5").protected()
    v.page.click("#outside-text")
    selected = v.page.evaluate(SELECT, "[data-paywall-article] p:not([id])")
    v.page.keyboard.press("Control+c")
    copied = v.clipboard()
    settings = PaywallSettings(secret_key=SECRET, copy_protection="attribute", trace_copies=True)
    tail = f"\n\nRead more at {base_url}/article"
    # The script and the server's embed() agree to the character.
    assert copied == embed(selected, mark_for(settings, "reader-42")) + tail
    assert strip_marks(copied) == selected + tail
    assert trace_text(settings, copied) == "reader-42"
    assert trace_text(settings, v.events("copy")[-1]["html"]) == "reader-42"
    # A pasted excerpt of a dozen words still names the reader.
    excerpt = " ".join(copied.split()[20:32])
    assert trace_text(settings, excerpt) == "reader-42"
    # Never in the page.
    assert "\u2063" not in v.page.evaluate("document.documentElement.outerHTML")
    assert "reader-42" not in v.page.content()


# ------------------------------------------------------------------------ CSP
def test_strict_csp_records_no_violation(context: BrowserContext, base_url: str) -> None:
    v = visit(context, base_url, "?csp=1").protected()
    policy = v.headers["content-security-policy"]
    assert "'strict-dynamic'" in policy and "style-src 'self'" in policy
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    assert v.page.evaluate("document.querySelector('script[data-paywall-protect]').nonce") == nonce
    v.page.click("article p", button="right")
    expect(v.toast).to_have_text(MESSAGE)  # the script ran
    assert v.page.evaluate("getComputedStyle(document.querySelector('article')).userSelect") == "none"  # CSS loaded
    v.page.keyboard.press("Control+c")
    v.page.emulate_media(media="print")
    v.page.emulate_media(media="screen")
    assert v.page.evaluate("window.__violations") == []
    assert [line for line in v.console if "Content Security Policy" in line or "error" in line] == []
    assert v.errors == []


def test_csp_detector_sees_a_blocked_script(context: BrowserContext, base_url: str) -> None:
    """Control for the test above: without the nonce, the policy blocks the script and we notice."""
    v = visit(context, base_url, "?csp=1&nonce=off")
    v.page.wait_for_function("window.__violations.length > 0", timeout=5000)
    assert any("script-src" in entry for entry in v.page.evaluate("window.__violations"))
    assert v.page.locator("[data-paywall-protected]").count() == 0


# ------------------------------------------------------------- end to end
def test_middleware_gated_page_under_strict_csp(context: BrowserContext, gated_url: str) -> None:
    v = Visit(context, f"{gated_url}/article?csp=1").protected()
    policy = v.headers["content-security-policy"]
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    assert v.page.evaluate("document.querySelector('script[data-paywall-protect]').nonce") == nonce
    assert v.page.locator("[data-paywall-cta]").count() == 1  # a gated view
    v.page.click("article p", button="right")
    expect(v.toast).to_have_text(MESSAGE)
    assert v.page.evaluate("getComputedStyle(document.querySelector('article')).userSelect") == "none"
    v.page.click("[data-paywall-cta] a", button="right")
    v.page.keyboard.press("Escape")
    assert v.events("contextmenu")[-1]["prevented"] is False  # the call to action stays a link
    assert v.page.evaluate("window.__violations") == []
    assert [line for line in v.console if "Content Security Policy" in line or "error" in line] == []
    for selector, attribute in (("script[data-paywall-protect]", "src"), ("link[rel=stylesheet]", "href")):
        path = v.page.get_attribute(selector, attribute)
        assert path is not None
        response = get(gated_url + path)
        assert response.status_code == 200
        assert "immutable" in response.headers["cache-control"]
