"""Attacks on the trial pages, tokens, members, proxy and decoding, each pinned down as defended.

Everything runs in-process (ASGI calls, an in-memory upstream) except one test
that needs a real HTTP/1.1 client, which talks to a socket on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hashlib
import hmac
import json
import re
import tracemalloc
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import brotli
import httpx
import pytest
from starlette.requests import Request

from paywall import ConfigError, PaywallMiddleware, PaywallSettings, issue_member_token
from paywall.access.members import JWTVerifier
from paywall.access.network import client_address
from paywall.access.readers import identify
from paywall.access.store.sqlite import SQLiteStore
from paywall.access.tokens import CSRF, DEVICE, MEMBER, TRIAL, InvalidToken, issue_device_token, sign, verify
from paywall.errors import BodyTooLarge
from paywall.http.endpoints import Endpoints, safe_next
from paywall.http.headers import decompress_body
from paywall.http.proxy import ProxyApp
from paywall.pages.cta import render_cta
from paywall.protection.tags import Protection
from tests.apps import attack_upstream
from tests.apps.attack_upstream import SECRET_WORDS
from tests.asgi import Result, call
from tests.conftest import assert_no_leak

UPSTREAM = "http://up.internal"
DEVICE_ID = "device-0000000000000042"
HS_SECRET = "an-hmac-secret-that-is-long-enough-0123456789"

Make = Callable[..., PaywallSettings]


class Stack:
    """PaywallMiddleware around ProxyApp around the in-memory upstream."""

    def __init__(self, settings: PaywallSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.proxy = ProxyApp(UPSTREAM, settings, transport=transport or httpx.ASGITransport(app=attack_upstream.app))
        self.app = PaywallMiddleware(self.proxy, settings=settings)

    async def aclose(self) -> None:
        await self.proxy.aclose()
        await self.app.store.aclose()


def run_stack(settings: PaywallSettings, requests: Callable[[Stack], Any]) -> Any:
    async def go() -> Any:
        stack = Stack(settings)
        try:
            return await requests(stack)
        finally:
            await stack.aclose()

    return asyncio.run(go())


def run_proxy(settings: PaywallSettings, requests: Callable[[ProxyApp], Any], transport: Any = None) -> Any:
    async def go() -> Any:
        proxy = ProxyApp(UPSTREAM, settings, transport=transport or httpx.ASGITransport(app=attack_upstream.app))
        try:
            return await requests(proxy)
        finally:
            await proxy.aclose()

    return asyncio.run(go())


def echoed_header_names(result: Result) -> set[str]:
    assert result.status == 200, result
    return {name for name, _ in json.loads(result.body)["headers"]}


# ===========================================================================
# FINDINGS (fail until fixed)
# ===========================================================================


@pytest.mark.parametrize(
    "path",
    ["/static/../articles/story", "/static/./../articles/story", "/static/x/../../articles/story"],
)
def test_exclude_prefix_cannot_be_escaped_with_dot_segments(make_settings: Make, path: str) -> None:
    """``/static/../articles/story`` is not "free" because it starts with ``/static/``:
    httpx and upstream servers resolve it to ``/articles/story``, so the middleware
    judges the resolved path and the proxy refuses such paths outright."""
    settings = make_settings(upstream=UPSTREAM, exclude_paths=("/static/",))

    async def requests(stack: Stack) -> tuple[Result, Result]:
        return await call(stack.app, "/articles/story"), await call(stack.app, path)

    direct, escaped = run_stack(settings, requests)
    assert direct.status == 200
    assert_no_leak(direct.body, SECRET_WORDS)  # the article itself is gated
    assert_no_leak(escaped.body, SECRET_WORDS)


@pytest.mark.parametrize(
    "name", [b"x-forwarded-prefix", b"x-forwarded-ssl", b"x-forwarded-scheme", b"x-forwarded-server"]
)
def test_untrusted_client_forwarding_headers_never_reach_the_upstream(make_settings: Make, name: bytes) -> None:
    """Every ``X-Forwarded-*`` header from a peer outside ``trusted_proxies`` is dropped,
    not only for/proto/host/port: upstreams build URLs from ``X-Forwarded-Prefix`` and
    detect https from ``X-Forwarded-Ssl`` or ``-Scheme``."""
    settings = make_settings(upstream=UPSTREAM)

    async def requests(proxy: ProxyApp) -> Result:
        return await call(proxy, "/echo", headers=[(name, b"/evil" if name.endswith(b"prefix") else b"on")])

    assert name.decode() not in echoed_header_names(run_proxy(settings, requests))


@pytest.mark.parametrize(("method", "target"), [("GET", "http://evil.example/articles/story"), ("OPTIONS", "*")])
def test_absolute_form_or_asterisk_target_is_a_clear_400(make_settings: Make, method: str, target: str) -> None:
    """uvicorn puts an absolute-form target (``GET http://host/p HTTP/1.1``) or ``OPTIONS *``
    into ``path`` as is; the proxy answers a clear 400 instead of raising."""
    settings = make_settings(upstream=UPSTREAM)

    async def requests(stack: Stack) -> Result:
        return await call(stack.app, target, method=method)

    try:
        result = run_stack(settings, requests)
    except Exception as exc:
        pytest.fail(f"the proxy raised {exc!r} (a 500 from the server) instead of answering")
    assert result.status < 500
    assert_no_leak(result.body, SECRET_WORDS)


def test_brotli_bomb_is_bounded_while_decoding() -> None:
    """The size limit holds while decompressing: a few hundred bytes of brotli that
    expand to 64 MiB never allocate more than the limit allows."""
    bomb = brotli.compress(b"\0" * (64 << 20), quality=5)
    assert len(bomb) < 1024
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            decompress_body(bomb, "br", 1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"decoding a {len(bomb)}-byte body allocated {peak >> 20} MiB for a 1 MiB limit"


def test_confirmation_email_link_never_follows_the_host_header(make_settings: Make, tmp_path: Path) -> None:
    """A confirmation link built from the request's ``Host`` would let anyone make the site
    e-mail a victim a genuine link (with a valid token) to ``evil.example``. So
    ``email_confirmation`` needs ``public_url``, and the link is built from it."""
    sent: list[tuple[str, str]] = []
    with pytest.raises(ConfigError):
        make_settings(email_confirmation=True, email_sender=lambda email, url: sent.append((email, url)))
    settings = make_settings(
        email_confirmation=True,
        email_sender=lambda email, url: sent.append((email, url)),
        public_url="https://news.example",
    )

    async def go() -> Result:
        store = SQLiteStore(tmp_path / "confirm.db")
        try:
            endpoints = Endpoints(settings, store)
            device = issue_device_token(settings, DEVICE_ID)
            csrf = sign(settings, CSRF, {"d": DEVICE_ID})
            body = f"email=victim%40example.com&consent=yes&next=%2Fnews&csrf={csrf}".encode()
            return await call(
                endpoints,
                "/_paywall/trial",
                method="POST",
                host=b"evil.example",
                headers=[
                    (b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cookie", f"paywall_device={device}".encode()),
                ],
                chunks=[body],
            )
        finally:
            await store.aclose()

    result = asyncio.run(go())
    assert result.status == 200 and len(sent) == 1
    email, url = sent[0]
    assert email == "victim@example.com"
    assert urlsplit(url).hostname == "news.example", url


def test_cookies_are_secure_behind_a_trusted_tls_proxy(make_settings: Make, tmp_path: Path) -> None:
    """Behind a TLS terminator listed in ``trusted_proxies``, its ``X-Forwarded-Proto:
    https`` makes the paywall's cookies ``Secure``."""
    settings = make_settings(trusted_proxies=("10.0.0.0/8",))

    async def go() -> Result:
        store = SQLiteStore(tmp_path / "secure.db")
        try:
            return await call(
                Endpoints(settings, store),
                "/_paywall/trial",
                client=("10.0.0.2", 40000),
                headers=[(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"198.51.100.7")],
            )
        finally:
            await store.aclose()

    result = asyncio.run(go())
    (device,) = [c for c in result.header_list("set-cookie") if c.startswith("paywall_device=")]
    assert "Secure" in device, device


def test_upstream_cookie_domain_with_spaces_is_dropped(make_settings: Make) -> None:
    """Browsers trim whitespace around cookie attributes (RFC 6265), so ``Domain = up.internal``
    names the upstream too and is dropped, or the cookie would be refused on the proxy's host."""
    settings = make_settings(upstream=UPSTREAM)
    result = run_proxy(settings, lambda proxy: call(proxy, "/cookie"))
    cookies = result.header_list("set-cookie")
    assert len(cookies) == 2
    for cookie in cookies:
        assert "domain" not in cookie.lower(), cookie


# ===========================================================================
# more attacks that are defended
# ===========================================================================

# --- open redirects and header injection through ``next`` -----------------

EVIL_NEXT = [
    "https://evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "/%0a/evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%252F%252Fevil.example",
    "/%25252F%25252Fevil.example",
    "/%2525252F%2525252Fevil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " /\\evil.example",
    "\x00/evil",
    "/\u3000/evil.example",
    "/\u2028/evil.example",
    "/\ufeff/evil.example",
    "/\u00a0/evil.example",
    "/a\r\nSet-Cookie: x=1",
    "/a%0d%0aSet-Cookie:%20x=1",
    "/a%E2%80%A8b",
    "http:/evil.example",
    "http:evil.example",
    "/" + "a" * 3000,
    "",
]


@pytest.mark.parametrize("value", EVIL_NEXT)
def test_next_refuses_other_origins_and_control_characters(value: str) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/news/story?id=5#top", "/news/story?id=5#top"),
        ('/a"><script>alert(1)</script>', "/a%22%3E%3Cscript%3Ealert(1)%3C/script%3E"),
        ("/caf\u00e9", "/caf%C3%A9"),
        ("/\uff0f\uff0fevil.example", "/%EF%BC%8F%EF%BC%8Fevil.example"),  # fullwidth solidus stays a path
        ("/@evil.example", "/@evil.example"),
        ("/.evil.example", "/.evil.example"),
    ],
)
def test_next_keeps_same_site_paths_encoded(value: str, expected: str) -> None:
    result = safe_next(value)
    assert result == expected
    assert result.startswith("/") and not result.startswith("//") and "\\" not in result
    assert all(0x21 <= ord(c) < 0x7F for c in result)  # safe in a Location header and an attribute


def _trial_post(settings: PaywallSettings, store: SQLiteStore, next_value: str, **extra: str) -> Result:
    from urllib.parse import urlencode

    endpoints = Endpoints(settings, store)
    device = issue_device_token(settings, DEVICE_ID)
    fields = {"email": "reader@example.com", "consent": "yes", "next": next_value}
    fields["csrf"] = extra.pop("csrf", sign(settings, CSRF, {"d": DEVICE_ID}))
    fields.update(extra)
    body = urlencode(fields).encode()
    return asyncio.run(
        call(
            endpoints,
            "/_paywall/trial",
            method="POST",
            headers=[
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"content-length", str(len(body)).encode()),
                (b"cookie", f"paywall_device={device}".encode()),
            ],
            chunks=[body],
        )
    )


@pytest.fixture
def store(tmp_path: Path) -> Any:
    db = SQLiteStore(tmp_path / "attack.db")
    yield db
    asyncio.run(db.aclose())


@pytest.mark.parametrize("value", ["/%09/evil.example", "/%5Cevil.example", "//evil.example", "/a\r\nX-Injected: 1"])
def test_trial_redirect_location_stays_on_site(make_settings: Make, store: SQLiteStore, value: str) -> None:
    result = _trial_post(make_settings(), store, value)
    assert result.status == 303
    assert result.header("location") == "/"
    assert result.header("x-injected") is None
    for cookie in result.header_list("set-cookie"):
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


# --- CSRF -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["other_device", "device_token", "member_token", "garbage", "missing"])
def test_csrf_token_must_be_a_csrf_token_for_this_device(make_settings: Make, store: SQLiteStore, kind: str) -> None:
    settings = make_settings()
    csrf = {
        "other_device": sign(settings, CSRF, {"d": "device-attacker-00000000001"}),
        "device_token": issue_device_token(settings, DEVICE_ID),
        "member_token": sign(settings, MEMBER, {"d": DEVICE_ID}),
        "garbage": "x" * 5000,
        "missing": "",
    }[kind]
    result = _trial_post(settings, store, "/news", csrf=csrf)
    assert result.status == 403
    assert not result.header_list("set-cookie")
    assert asyncio.run(store.list_trials()) == []


def test_oversized_chunked_form_without_length_is_refused(make_settings: Make, store: SQLiteStore) -> None:
    settings = make_settings(max_form_bytes=1024)
    result = asyncio.run(
        call(
            Endpoints(settings, store),
            "/_paywall/trial",
            method="POST",
            headers=[(b"content-type", b"application/x-www-form-urlencoded"), (b"transfer-encoding", b"chunked")],
            chunks=[b"a=" + b"x" * 600, b"x" * 600, b"x" * 600],
        )
    )
    assert result.status == 413


def test_too_many_form_fields_are_refused(make_settings: Make, store: SQLiteStore) -> None:
    settings = make_settings()
    result = _trial_post(settings, store, "/news", **{f"f{i}": "1" for i in range(20)})
    assert result.status == 400


# --- tokens replayed across purposes --------------------------------------


def _request(cookies: dict[str, str], headers: Sequence[tuple[bytes, bytes]] = ()) -> Request:
    raw = [(b"host", b"news.example"), (b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode())]
    raw.extend(headers)
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/news",
            "raw_path": b"/news",
            "query_string": b"",
            "headers": raw,
            "scheme": "http",
            "client": ("203.0.113.9", 5000),
            "server": ("news.example", 80),
            "state": {},
        }
    )


def test_tokens_are_not_accepted_for_another_purpose(make_settings: Make, store: SQLiteStore) -> None:
    settings = make_settings()
    far = 4_000_000_000.0
    device_as_trial = issue_device_token(settings, DEVICE_ID, trial_ends_at=far)
    csrf_as_member = sign(settings, CSRF, {"s": "attacker", "e": far})
    trial_as_member = sign(settings, TRIAL, {"s": "attacker", "e": far, "t": "x"})
    device_as_member = sign(settings, DEVICE, {"s": "attacker", "e": far, "d": DEVICE_ID})
    for cookies in (
        {"paywall_trial": device_as_trial},
        {"paywall_member": csrf_as_member},
        {"paywall_member": trial_as_member},
        {"paywall_member": device_as_member},
        {"paywall_member": issue_member_token(make_settings(secret_key="another-secret-key-0123456789"), "x", 1)},
    ):
        reader = asyncio.run(identify(_request(cookies), settings, store))
        assert reader.level == "anonymous", cookies
        name = next(iter(cookies))
        assert any(c.startswith(f"{name}=") and "Max-Age=0" in c for c in reader.set_cookies), "bad token cleared"


def test_huge_and_deeply_nested_tokens_are_refused_cheaply(make_settings: Make) -> None:
    settings = make_settings()
    with pytest.raises(InvalidToken):
        verify(settings, TRIAL, "a" * 10_000_000)
    nested = base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode().rstrip("=")
    with pytest.raises(InvalidToken):  # unsigned: never parsed as JSON
        verify(settings, TRIAL, f"{nested}.AAAAAA.{'A' * 43}")


# --- JWT ------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _hs_jwt(header: dict[str, Any], payload: dict[str, Any], key: bytes = HS_SECRET.encode()) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def test_jwt_missing_exp_none_alg_and_oversize_are_refused(make_settings: Make) -> None:
    verifier = JWTVerifier(make_settings(jwt_audience="news.example", jwt_key=HS_SECRET))
    now = 1_800_000_000.0
    good = _hs_jwt({"alg": "HS256", "typ": "JWT"}, {"sub": "m", "exp": now + 60, "aud": "news.example"})
    assert verifier.subject(good, now=now) == "m"
    for token in (
        _hs_jwt({"alg": "HS256"}, {"sub": "m"}),  # no exp: never expires
        _hs_jwt({"alg": "HS256"}, {"sub": "m", "exp": "9999999999"}),
        _hs_jwt({"alg": "HS256"}, {"sub": "m", "exp": 1e309}),
        _b64(b'{"alg":"none"}') + "." + _b64(json.dumps({"sub": "m", "exp": now + 60}).encode()) + ".",
        good[:-4] + "AAAA",
        good + "A" * 9000,
    ):
        with pytest.raises(InvalidToken):
            verifier.subject(token, now=now)


def test_jwks_kid_is_a_lookup_not_a_path(make_settings: Make, tmp_path: Path) -> None:
    secret = _b64(HS_SECRET.encode())
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "oct", "k": secret, "kid": "k1", "alg": "HS256"}]}))
    (tmp_path / "evil.json").write_text(json.dumps({"kty": "oct", "k": _b64(b"attacker-key" * 4)}))
    verifier = JWTVerifier(make_settings(jwt_audience="news.example", jwt_jwks_file=str(jwks)))
    now = 1_800_000_000.0
    claims = {"sub": "m", "exp": now + 60, "aud": "news.example"}
    assert verifier.subject(_hs_jwt({"alg": "HS256", "kid": "k1"}, claims), now=now) == "m"
    for kid in ("../evil.json", str(tmp_path / "evil.json"), "k1\x00", "K1", ["k1"]):
        with pytest.raises(InvalidToken):
            verifier.subject(_hs_jwt({"alg": "HS256", "kid": kid}, claims, b"attacker-key" * 4), now=now)


# --- XSS in the call to action, the page and the protection tags ----------


def test_call_to_action_escapes_a_hostile_path_and_query(make_settings: Make) -> None:
    settings = make_settings(cta_template="<aside><a href='$url'>$action</a><a href=$url>x</a></aside>")
    cta = render_cta(settings, "offer", "/a\"'><script>alert(1)</script>?q=<img src=x onerror=alert(1)> x")
    assert "<script" not in cta and "<img" not in cta and "\"'" not in cta
    href = re.search(r"href='([^']*)'", cta)
    assert href is not None and " " not in href.group(1)
    query = parse_qs(urlsplit(href.group(1).replace("&amp;", "&")).query)
    assert query["next"][0].startswith("/a")


def test_gated_page_escapes_the_request_path_in_its_call_to_action(make_settings: Make) -> None:
    settings = make_settings(upstream=UPSTREAM)
    path = '/articles/a"><script>alert(1)</script>'

    async def requests(stack: Stack) -> Result:
        return await call(
            stack.app,
            path,
            raw_path=b"/articles/a%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
            query=b'q=%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E&r="><svg/onload=alert(1)>',
        )

    result = run_stack(settings, requests)
    assert result.status == 200
    assert_no_leak(result.body, SECRET_WORDS)
    text = result.body.decode()
    assert "Need to access the insight?" in text
    assert "<script>alert" not in text and "<svg" not in text and "<img" not in text


def test_protection_tag_attributes_are_escaped(make_settings: Make) -> None:
    settings = make_settings(copy_protection="attribute", protect_message='"><script>alert(1)</script>')
    head = Protection(settings).head_html(
        nonce='n"><script>', subject="member:x", page_url='https://news.example/a"><script>alert(2)</script>'
    )
    assert "<script>alert" not in head and head.count("<script") == 1 and head.count('">') == 2


# --- the proxy: membership claims, hop-by-hop, SSRF, smuggling ------------


def test_request_header_claiming_membership_is_not_believed(make_settings: Make) -> None:
    settings = make_settings(upstream=UPSTREAM)
    claims = [
        (b"x-paywall-access", b"member"),
        (b"x-paywall", b"free"),
        (b"connection", b"x-paywall-access, x-paywall"),
        (b"authorization", b"Bearer " + _hs_jwt({"alg": "none"}, {"sub": "m"}).encode()),
    ]

    async def requests(stack: Stack) -> Result:
        return await call(stack.app, "/articles/story", headers=claims)

    result = run_stack(settings, requests)
    assert result.status == 200
    assert_no_leak(result.body, SECRET_WORDS)


def test_untrusted_forwarding_headers_are_rebuilt_and_hop_by_hop_dropped(make_settings: Make) -> None:
    settings = make_settings(upstream=UPSTREAM)
    sent = [
        (b"x-forwarded-for", b"1.2.3.4"),
        (b"x-forwarded-host", b"evil.example"),
        (b"x-real-ip", b"1.2.3.4"),
        (b"forwarded", b"for=1.2.3.4;host=evil.example"),
        (b"connection", b"keep-alive, x-secret"),
        (b"x-secret", b"1"),
        (b"proxy-authorization", b"Basic eA=="),
        (b"te", b"trailers"),
    ]

    async def requests(proxy: ProxyApp) -> Result:
        return await call(proxy, "/echo", headers=sent)

    result = run_proxy(settings, requests)
    headers = dict((k, v) for k, v in json.loads(result.body)["headers"])
    assert headers["host"] == "up.internal"
    assert headers["x-forwarded-for"] == "203.0.113.9"
    assert headers["x-forwarded-host"] == "news.example"
    for name in ("x-real-ip", "forwarded", "connection", "x-secret", "proxy-authorization", "te"):
        assert name not in headers


@pytest.mark.parametrize(
    ("path", "host"),
    [("//evil.example/x", b"news.example"), ("/x", b"evil.example:22")],
)
def test_request_target_and_host_never_choose_the_upstream(make_settings: Make, path: str, host: bytes) -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, stream=httpx.ByteStream(b"ok"))

    settings = make_settings(upstream=UPSTREAM)

    async def requests(proxy: ProxyApp) -> Result:
        return await call(proxy, path, host=host)

    result = run_proxy(settings, requests, transport=httpx.MockTransport(handler))
    assert result.status == 200
    assert [(u.scheme, u.host, u.port) for u in seen] == [("http", "up.internal", None)]


def test_ip_cap_address_ignores_forwarded_for_from_untrusted_peers() -> None:
    def scope(peer: str, xff: bytes | None) -> dict[str, Any]:
        return {"client": (peer, 1), "headers": [(b"x-forwarded-for", xff)] if xff else []}

    assert client_address(scope("203.0.113.9", b"1.1.1.1"), ()) == "203.0.113.9"
    assert client_address(scope("203.0.113.9", b"1.1.1.1"), ("10.0.0.0/8",)) == "203.0.113.9"
    # From a trusted proxy: the right-most untrusted hop; spoofed left-most entries are ignored.
    assert client_address(scope("10.0.0.1", b"6.6.6.6, 198.51.100.7, 10.0.0.5"), ("10.0.0.0/8",)) == "198.51.100.7"
    assert client_address(scope("10.0.0.1", b"6.6.6.6, not-an-ip"), ("10.0.0.0/8",)) == "10.0.0.1"


def test_gzip_bomb_is_bounded_while_decoding() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            decompress_body(bomb, "gzip", 1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_content_length_with_chunked_body_never_reaches_the_upstream(make_settings: Make) -> None:
    """h11 (uvicorn) accepts ``Content-Length`` together with ``Transfer-Encoding:
    chunked`` and de-chunks the body. The proxy never forwards that ``Content-Length``
    (RFC 9112 section 6.3), enforces any length it does forward, and answers errors
    while sending the body with a 4xx/5xx page of its own, never a traceback."""

    async def go() -> tuple[Result | BaseException, bytes]:
        received = bytearray()
        done = asyncio.Event()

        def complete() -> bool:
            head, sep, body = bytes(received).partition(b"\r\n\r\n")
            if not sep:
                return False
            if re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
                return body.endswith(b"0\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            return len(body) >= int(length.group(1)) if length else True

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while not complete():
                    data = await asyncio.wait_for(reader.read(65536), 2)
                    if not data:
                        return
                    received.extend(data)
                # Anything more on the wire now would be a second (smuggled) request.
                with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                    received.extend(await asyncio.wait_for(reader.read(65536), 0.2))
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                await writer.drain()
            except (TimeoutError, ConnectionError):
                pass
            finally:
                writer.close()
                done.set()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        upstream = f"http://127.0.0.1:{port}"
        proxy = ProxyApp(upstream, make_settings(upstream=upstream, upstream_timeout=3.0))
        outcome: Result | BaseException
        try:
            outcome = await call(
                proxy,
                "/upload",
                method="POST",
                headers=[(b"content-length", b"4"), (b"transfer-encoding", b"chunked")],
                chunks=[b"abcd", b"GET /SMUGGLED HTTP/1.1\r\nHost: up\r\n\r\n"],
            )
        except Exception as exc:
            outcome = exc
        finally:
            await proxy.aclose()
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), 3)
            server.close()
            await server.wait_closed()
        return outcome, bytes(received)

    outcome, received = asyncio.run(go())
    head, _, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if length and not re.search(rb"(?im)^transfer-encoding:", head):
        assert body[int(length.group(1)) :] == b"", "bytes beyond Content-Length reached the upstream"
    if isinstance(outcome, BaseException):
        pytest.fail(f"the proxy raised {outcome!r} (a 500 from the server) instead of answering")
    assert outcome.status < 500 or outcome.status == 502


def test_websocket_is_refused_by_the_proxy_stack(make_settings: Make) -> None:
    settings = make_settings(upstream=UPSTREAM)

    async def go() -> list[dict[str, Any]]:
        stack = Stack(settings)
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "websocket.connect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        scope = {
            "type": "websocket",
            "path": "/articles/story",
            "raw_path": b"/articles/story",
            "headers": [],
            "query_string": b"",
            "client": ("203.0.113.9", 1),
            "scheme": "ws",
            "subprotocols": [],
        }
        try:
            await stack.app(scope, receive, send)
        finally:
            await stack.aclose()
        return sent

    assert [m["type"] for m in asyncio.run(go())] == ["websocket.close"]
