"""The protection tags, their assets, the policy and the CSP nonce."""

from __future__ import annotations

import hashlib
import importlib.resources
import re

import pytest
from bs4 import BeautifulSoup, Tag
from starlette.datastructures import Headers, MutableHeaders

from paywall.protection.assets import ASSET_CACHE_CONTROL
from paywall.protection.tags import Protection, csp_nonce
from paywall.protection.tracing import open_mark
from paywall.settings import PaywallSettings

SECRET = "protect-test-secret-0123456789abcdef"


def make(**overrides: object) -> PaywallSettings:
    return PaywallSettings(secret_key=SECRET, **overrides)  # type: ignore[arg-type]


def package_asset(name: str) -> bytes:
    return importlib.resources.files("paywall.protection").joinpath("static", name).read_bytes()


def tags(head: str) -> tuple[Tag, Tag]:
    soup = BeautifulSoup(head, "html.parser")
    elements = [e for e in soup.contents if isinstance(e, Tag)]
    assert [e.name for e in elements] == ["link", "script"]
    return elements[0], elements[1]


# ------------------------------------------------------------------ assets
def test_asset_urls_carry_the_content_hash() -> None:
    protection = Protection(make())
    for url, name in ((protection.script_url, "protect.js"), (protection.style_url, "protect.css")):
        body = package_asset(name)
        digest = hashlib.sha256(body).hexdigest()[:16]
        stem, ext = name.split(".")
        assert url == f"/_paywall/{stem}.{digest}.{ext}"


def test_asset_serves_exact_hashed_paths_only() -> None:
    protection = Protection(make(prefix="/members-area"))
    assert protection.script_url.startswith("/members-area/protect.")
    js = protection.asset(protection.script_url)
    css = protection.asset(protection.style_url)
    assert js == (package_asset("protect.js"), "text/javascript; charset=utf-8")
    assert css == (package_asset("protect.css"), "text/css; charset=utf-8")
    stale = re.sub(r"\.[0-9a-f]{16}\.", ".0000000000000000.", protection.script_url)
    for path in (
        stale,
        "/members-area/protect.js",
        "/members-area/protect.css",
        "/_paywall" + protection.script_url[len("/members-area") :],
        protection.script_url + "/",
        protection.script_url.upper(),
        "/members-area/../paywall/settings.py",
        "",
    ):
        assert protection.asset(path) is None, path
    assert "immutable" in ASSET_CACHE_CONTROL and "max-age=31536000" in ASSET_CACHE_CONTROL


def test_assets_hold_no_inline_style_or_eval() -> None:
    js = package_asset("protect.js").decode()
    for forbidden in ("eval(", "new Function", "alert(", ".innerHTML =", 'setAttribute("style"', "document.write"):
        assert forbidden not in js
    assert "clipboardData" in js and 'role", "status"' in js and '"aria-live", "polite"' in js


# -------------------------------------------------------------------- head
def test_head_html_block_mode() -> None:
    link, script = tags(Protection(make()).head_html())
    protection = Protection(make())
    assert link["rel"] == ["stylesheet"] and link["href"] == protection.style_url
    assert script["src"] == protection.script_url
    assert script.has_attr("defer") and script.has_attr("data-paywall-protect")
    assert script.get_text() == ""  # never inline code
    assert script["data-mode"] == "block"
    assert script["data-scope"] == "article"
    assert script["data-message"] == "error: This content is protected !!"
    assert script["data-min-words"] == "20"
    for absent in ("nonce", "data-mark", "data-url", "data-selector"):
        assert not script.has_attr(absent)
    assert not link.has_attr("nonce")


def test_head_html_with_nonce_on_both_tags() -> None:
    link, script = tags(Protection(make()).head_html(nonce="r4nd0m+/=="))
    assert link["nonce"] == script["nonce"] == "r4nd0m+/=="


def test_head_html_escapes_every_value() -> None:
    hostile = "\"><script>alert(1)</script><x a='b' & c"
    settings = make(
        protect_message=hostile,
        article_selector='article[data-kind="news"] > .body',
        copy_protection="attribute",
        trace_copies=True,
        protect_scope="page",
    )
    head = Protection(settings).head_html(
        nonce='abc"onload="x', subject="reader<1>", page_url='https://news.example/a?b=1&c="2"<'
    )
    assert "<script>alert" not in head and "<x " not in head
    link, script = tags(head)  # exactly two elements: nothing broke out
    assert script["data-message"] == hostile
    assert script["data-selector"] == 'article[data-kind="news"] > .body'
    assert script["data-url"] == 'https://news.example/a?b=1&c="2"<'
    assert script["nonce"] == link["nonce"] == 'abc"onload="x'
    assert script["data-mode"] == "attribute" and script["data-scope"] == "page"
    assert script.get_text() == ""


def test_head_html_off_mode_is_empty() -> None:
    protection = Protection(make(copy_protection="off"))
    assert protection.head_html() == ""
    assert protection.head_html(nonce="n", subject="s", page_url="https://x/") == ""


def test_trace_mark_only_when_tracing_a_known_reader() -> None:
    traced = make(copy_protection="attribute", trace_copies=True)
    _, script = tags(Protection(traced).head_html(subject="member-7"))
    mark = script["data-mark"]
    assert isinstance(mark, str) and re.fullmatch(r"[0-9a-f]+", mark)
    assert open_mark(traced, mark) == "member-7"
    assert SECRET not in Protection(traced).head_html(subject="member-7")
    _, anonymous = tags(Protection(traced).head_html(subject=None))
    assert not anonymous.has_attr("data-mark")
    _, untraced = tags(Protection(make(copy_protection="attribute")).head_html(subject="member-7"))
    assert not untraced.has_attr("data-mark")


def test_page_url_must_be_http() -> None:
    protection = Protection(make(copy_protection="attribute"))
    _, script = tags(protection.head_html(page_url="javascript:alert(1)"))
    assert not script.has_attr("data-url")
    _, script = tags(protection.head_html(page_url="https://news.example/story"))
    assert script["data-url"] == "https://news.example/story"
    _, block = tags(Protection(make()).head_html(page_url="https://news.example/story"))
    assert not block.has_attr("data-url")  # only attribution quotes the address


# ----------------------------------------------------------------- applies
def test_applies() -> None:
    protection = Protection(make(protect_exclude_paths=("/free/", "/about", "/guides/*/intro")))
    assert protection.applies("/news/story", member=False)
    assert protection.applies("/news/story", member=True)
    assert not protection.applies("/free/story", member=False)
    assert not protection.applies("/free", member=False)
    assert not protection.applies("/about", member=False)
    assert protection.applies("/about-us", member=False)
    assert not protection.applies("/guides/tax/intro", member=True)
    assert protection.applies("/freedom", member=False)


def test_applies_members_exempt_and_off() -> None:
    exempt = Protection(make(protect_members=False))
    assert exempt.applies("/news/story", member=False)
    assert not exempt.applies("/news/story", member=True)
    off = Protection(make(copy_protection="off"))
    assert not off.applies("/news/story", member=False)
    assert not off.applies("/news/story", member=True)


# --------------------------------------------------------------------- CSP
def raw(*pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs]


@pytest.mark.parametrize(
    ("policy", "nonce"),
    [
        ("script-src 'nonce-abc123' 'strict-dynamic'", "abc123"),
        ("default-src 'self'; script-src 'strict-dynamic' 'nonce-R2Vl+/x=='", "R2Vl+/x=="),
        ("default-src 'nonce-dflt'", "dflt"),
        ("default-src 'nonce-dflt'; script-src 'self'", None),  # script-src governs, no nonce
        ("script-src-elem 'nonce-elem'; script-src 'nonce-other'", "elem"),
        ("script-src 'self'; script-src 'nonce-second'", None),  # a repeated directive is ignored
        ("style-src 'nonce-styles'; img-src *", None),
        ("SCRIPT-SRC 'NONCE-Upper_case-1'", "Upper_case-1"),
        ("   script-src    'self'   'nonce-spaced'  ;  ", "spaced"),
        ("script-src https://cdn.example/'nonce-fake' 'self'", None),
        ("script-src 'nonce-' 'nonce-bad\"quote'", None),
        ("script-src nonce-unquoted", None),
        ("report-uri /csp?x='nonce-fake'; script-src 'self'", None),
        (";;;", None),
        ("", None),
    ],
)
def test_csp_nonce_from_tricky_policies(policy: str, nonce: str | None) -> None:
    assert csp_nonce(raw(("Content-Security-Policy", policy))) == nonce


def test_csp_nonce_header_forms() -> None:
    assert csp_nonce([]) is None
    assert csp_nonce(raw(("content-type", "text/html"))) is None
    # Report-only policies do not block anything.
    assert csp_nonce(raw(("content-security-policy-report-only", "script-src 'nonce-ro'"))) is None
    # Several headers, and several policies in one header.
    assert (
        csp_nonce(
            raw(
                ("content-security-policy", "img-src 'self'"),
                ("content-security-policy", "object-src 'none', script-src 'nonce-second'"),
            )
        )
        == "second"
    )
    headers = Headers(raw=raw(("Content-Security-Policy", "script-src 'nonce-fromstarlette' 'strict-dynamic'")))
    assert csp_nonce(headers) == "fromstarlette"
    mutable = MutableHeaders()
    mutable["content-security-policy"] = "default-src 'nonce-mutable'"
    assert csp_nonce(mutable) == "mutable"
    assert csp_nonce({"Content-Security-Policy": "script-src 'nonce-dict'"}) == "dict"
