"""The claims of SECURITY.md, each held by a test; and every test SECURITY.md names exists."""

from __future__ import annotations

import hmac
import importlib
import logging
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest

from paywall import PaywallMiddleware, PaywallSettings, issue_member_token
from paywall.pages.cta import fallback_page, render_cta
from paywall.pages.templates import TrialForm, render_message, render_trial_form
from tests.apps.gate_app import SECRET_WORDS, site
from tests.asgi import Result, call
from tests.conftest import SECRET, assert_no_leak
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
SECURITY = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
Make = Callable[..., PaywallSettings]
HS_SECRET = "an-hmac-secret-that-is-long-enough-0123456789"

pytestmark = pytest.mark.anyio


def test_every_test_security_md_names_exists() -> None:
    named = set(re.findall(r"`(tests/[a-z_/]+\.py)::(test_[a-z0-9_]+)`", SECURITY))
    assert len(named) >= 15
    for path, name in named:
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert callable(getattr(module, name, None)), f"SECURITY.md names {path}::{name}, which does not exist"


def test_security_md_says_how_to_report() -> None:
    assert "## Reporting a vulnerability" in SECURITY and "never in public" in SECURITY


# ---------------------------------------------------------------------------
# threat model


async def test_what_a_non_member_receives_holds_no_hidden_text(make_settings: Make) -> None:
    app = PaywallMiddleware(site, settings=make_settings())
    for path in ("/article", "/leaky", "/cards", "/deep", "/encoded/gzip", "/chunked", "/latin1", "/xhtml"):
        for method in ("GET", "HEAD"):
            result = await call(app, path, method=method)
            assert result.status == 200
            assert_no_leak(result.body, SECRET_WORDS)
    await app.store.aclose()


async def test_members_receive_the_text_protection_is_a_deterrent(make_settings: Make) -> None:
    settings = make_settings()
    app = PaywallMiddleware(site, settings=settings)
    token = issue_member_token(settings, "subscriber-1", 30)
    member = await call(app, "/article", headers=[(b"cookie", f"paywall_member={token}".encode())])
    text = member.body.decode()
    assert all(word in text for word in SECRET_WORDS)  # in the page's source: save, devtools, no JS...
    assert "/_paywall/protect." in text  # ... with the deterrent added on top
    await app.store.aclose()


# ---------------------------------------------------------------------------
# cookies, CSRF


async def _form(app: PaywallMiddleware, scheme: str = "http") -> tuple[Result, str, str]:
    form = await call(app, "/_paywall/trial", query=b"next=/article", scheme=scheme)
    device = next(c for c in form.header_list("set-cookie") if c.startswith("paywall_device="))
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.body.decode())
    assert csrf is not None
    return form, device.split(";")[0], csrf[1]


async def _post(app: PaywallMiddleware, fields: dict[str, str], cookie: str, scheme: str = "http") -> Result:
    return await call(
        app,
        "/_paywall/trial",
        method="POST",
        scheme=scheme,
        chunks=[urlencode(fields).encode()],
        headers=[(b"content-type", b"application/x-www-form-urlencoded"), (b"cookie", cookie.encode())],
    )


def _attributes(set_cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}


async def test_cookie_flags(make_settings: Make) -> None:
    for scheme, forced, secure in (("https", None, True), ("http", None, False), ("http", True, True)):
        app = PaywallMiddleware(site, settings=make_settings(cookie_secure=forced))
        _, device, csrf = await _form(app, scheme)
        started = await _post(
            app, {"email": f"{scheme}{forced}@example.com", "consent": "yes", "csrf": csrf}, device, scheme
        )
        assert started.status == 303
        cookies = {c.split("=")[0]: c for c in started.header_list("set-cookie")}
        assert set(cookies) == {"paywall_trial", "paywall_device"}
        for value in cookies.values():
            flags = _attributes(value)
            assert {"httponly", "samesite", "path"} <= flags
            assert "samesite=lax" in value.lower().replace(" ", "")
            assert ("secure" in flags) is secure
            assert "example.com" not in value  # a signed token, never the address
        await app.store.aclose()


async def test_csrf(make_settings: Make) -> None:
    app = PaywallMiddleware(site, settings=make_settings())
    _, device, csrf = await _form(app)
    _, _, other_csrf = await _form(app)
    fields = {"email": "reader@example.com", "consent": "yes"}
    assert (await _post(app, fields, device)).status == 403  # no token
    assert (await _post(app, {**fields, "csrf": other_csrf}, device)).status == 403  # another device's
    assert (await _post(app, {**fields, "csrf": csrf}, "")).status == 403  # cookie blocked
    foreign = PaywallSettings(secret_key="a-foreign-key-7c1e9d20b4f6a8", store=app.settings.store)
    forged = PaywallMiddleware(site, settings=foreign)
    _, _, foreign_csrf = await _form(forged)
    assert (await _post(app, {**fields, "csrf": foreign_csrf}, device)).status == 403  # another key's
    assert (await _post(app, {**fields, "csrf": csrf}, device)).status == 303
    for middleware in (app, forged):
        await middleware.store.aclose()


async def test_comparisons_are_constant_time(make_settings: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real comparisons run; this only records that they went through ``hmac.compare_digest``."""
    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    settings = make_settings(jwt_key=HS_SECRET, jwt_audience="news.example")
    app = PaywallMiddleware(site, settings=settings)
    _, device, csrf = await _form(app)
    compared.clear()
    assert (await _post(app, {"email": "r@example.com", "consent": "yes", "csrf": csrf}, device)).status == 303
    assert compared, "no constant-time comparison was made"
    assert len(compared) >= 3  # device cookie signature, CSRF signature, CSRF binding
    # Member tokens and JWTs go through it too.
    compared.clear()
    member = issue_member_token(settings, "m", 1)
    await call(app, "/article", headers=[(b"cookie", f"paywall_member={member}".encode())])
    assert compared
    compared.clear()
    token = jwt.encode({"sub": "m", "exp": 4_000_000_000, "aud": "news.example"}, HS_SECRET, algorithm="HS256")
    await call(app, "/article", headers=[(b"authorization", f"Bearer {token}".encode())])
    assert compared
    await app.store.aclose()


def _resolver_that_fails(request: Any) -> bool:
    raise RuntimeError("accounts service unavailable")


async def test_secrets_never_logged(make_settings: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    email = "private.reader@example.com"
    jwt_secret = "jwt-" + secrets.token_urlsafe(32)
    settings = make_settings(
        member_resolver=_resolver_that_fails,
        jwt_key=jwt_secret,
        jwt_audience="news.example",
        store=f"redis://127.0.0.1:{free_port()}/0",  # nobody listens: every store call fails
        secret_key_fallbacks=("an-older-key-5f2a8c71d9e3b6",),
    )
    assert SECRET not in repr(settings) and jwt_secret not in repr(settings)
    masked = settings.masked()
    assert masked["secret_key"] == "****" and masked["jwt_key"] == "****"
    app = PaywallMiddleware(site, settings=settings)
    member = issue_member_token(settings.replace(secret_key="another-key-0c8e1f3a5b7d9"), "m", 1)
    forged = jwt.encode({"sub": "x", "exp": 1, "aud": "elsewhere"}, "wrong-secret-" * 4, algorithm="HS256")
    cookie = f"paywall_member={member}; paywall_trial=tampered.token.value; paywall_jwt={forged}"
    await call(app, "/article", headers=[(b"cookie", cookie.encode())])
    _, device, csrf = await _form(app)
    assert (await _post(app, {"email": email, "consent": "yes", "csrf": csrf}, device)).status == 503
    await app.store.aclose()
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert caplog.records, "the failures above are logged"
    for secret in (SECRET, jwt_secret, "an-older-key-5f2a8c71d9e3b6", member, forged, csrf, email, "tampered"):
        assert secret not in logged


# ---------------------------------------------------------------------------
# escaping, headers

HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def test_every_template_escapes(make_settings: Make) -> None:
    settings = make_settings(
        site_name=HOSTILE,
        privacy_url=f"/privacy?{HOSTILE}",
        terms_url=f"/terms?{HOSTILE}",
        subscribe_url=f"/subscribe?{HOSTILE}",
        cta_offer_title=HOSTILE,
        cta_offer_action=HOSTILE,
        cta_ended_title=HOSTILE,
        cta_ended_action=HOSTILE,
        free_articles=3,
    )
    form = TrialForm(
        action="/_paywall/trial", next_path=f"/a{HOSTILE}", csrf_token=HOSTILE, email=HOSTILE, error=HOSTILE
    )
    pages = [
        render_trial_form(settings, form),
        render_message(settings, title=HOSTILE, message=HOSTILE, actions=((HOSTILE, f"/x{HOSTILE}"),)),
        *(render_cta(settings, kind, f"/story{HOSTILE}") for kind in ("offer", "ended", "metered")),
        fallback_page(settings, render_cta(settings, "offer", f"/s{HOSTILE}")).decode(),
    ]
    templated = settings.replace(
        trial_template="<html><title>$title $site_name</title>$error_html$form $email $next</html>"
    )
    pages.append(render_trial_form(templated, form))
    for page in pages:
        assert "<script>" not in page and "<img" not in page


async def test_security_headers_on_own_pages(make_settings: Make) -> None:
    app = PaywallMiddleware(site, settings=make_settings())
    pages = [
        await call(app, "/_paywall/trial"),
        await call(app, "/_paywall/nothing-here"),
        await call(app, "/_paywall/trial", method="PUT"),
        await call(app, "/_paywall/trial/confirm", query=b"token=bad"),
        await call(app, "/_paywall/trial", method="POST", headers=[(b"content-type", b"text/plain")]),
    ]
    for page in pages:
        csp = page.header("content-security-policy") or ""
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp
        assert "form-action 'self'" in csp and "unsafe-inline" not in csp
        assert page.header("x-content-type-options") == "nosniff"
        assert page.header("x-frame-options") == "DENY"
        assert page.header("referrer-policy") == "same-origin"
        assert page.header("cache-control") == "no-store"
    status = await call(app, "/_paywall/status")
    assert status.header("x-content-type-options") == "nosniff" and status.header("cache-control") == "no-store"
    await app.store.aclose()
    custom = PaywallMiddleware(site, settings=make_settings(trial_template="<html>$form</html>"))
    page = await call(custom, "/_paywall/trial")
    csp = page.header("content-security-policy") or ""
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp and "base-uri 'none'" in csp
    assert page.header("x-frame-options") == "DENY"
    await custom.store.aclose()
