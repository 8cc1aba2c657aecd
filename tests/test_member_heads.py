"""A member's page at a path seen before reuses where its head ended only when it starts with the same bytes.

The middleware remembers, per path, the start of a member's page up to its
``</head>`` tag (and whether it was AMP). Pages change: a new title, an AMP
version served at the same address, a head with per-request parts. Each must
get the tags where its own head ends, exactly as if it had been scanned.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from paywall import PaywallMiddleware, PaywallSettings
from paywall.engine.headscan import HeadScan, inject, insertion_point

Make = Callable[..., PaywallSettings]
DOCTYPE = b"<!DOCTYPE html>"
BODY = b"<body><article><p>" + b"The whole story. " * 200 + b"</p></article></body></html>"

HEADS = [
    DOCTYPE + b"<html><head><title>a</head>b</title></head>",
    DOCTYPE + b"<head><meta content='</head>' x=\"a>b\" y=c/></head>",
    DOCTYPE + b"<head><!-- </head> --><script>'</head>'</script><style>/*</head>*/</style></head>",
    DOCTYPE + b"<head><template><div></div></template><link></head>",
    DOCTYPE + b"<html lang=en><head><noscript><img src=x></noscript><meta charset=utf-8></head >",
    b"\xef\xbb\xbf" + DOCTYPE + b"<html amp><head><script async src=x></script></head\n>",
]
#: What may follow the bytes a scan decided on: none of it can move the end of the head.
SUFFIXES = [b"", b">", b"<body>", b"--></head>", b"\"'</title></script>", b"<!--", b"</template></head>", b"x" * 5000]


@pytest.mark.parametrize("head", HEADS)
def test_the_bytes_a_scan_decided_on_give_the_same_end_whatever_follows(head: bytes) -> None:
    page = head + BODY
    scan = HeadScan()
    at = scan.feed(page)
    assert at == insertion_point(page) and scan.decided is not None
    prefix = page[: scan.decided]
    for suffix in SUFFIXES:
        assert HeadScan().feed(prefix + suffix) == at, suffix
        assert HeadScan().feed(prefix + suffix, final=True) == at, suffix


def test_no_decided_bytes_when_the_head_ends_without_its_end_tag() -> None:
    for page in (DOCTYPE + b"<title>t</title><p>text", DOCTYPE + b"<head><meta a=b></html>"):
        scan = HeadScan()
        assert scan.feed(page, final=True) is not None
        assert scan.decided is None


def _serving(pages: list[bytes]) -> Callable[[Scope, Receive, Send], object]:
    """An app that serves, at every path, the last page of ``pages`` (in chunks of 7 bytes under ``/chunked``)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = pages[-1]
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        size = 7 if scope["path"].startswith("/chunked") else len(body)
        for at in range(0, len(body), size):
            await send({"type": "http.response.body", "body": body[at : at + size], "more_body": at + size < len(body)})

    return app


@pytest.mark.parametrize("path", ["/story", "/chunked/story"])
def test_a_changed_page_at_a_path_gets_the_tags_where_its_own_head_ends(make_settings: Make, path: str) -> None:
    pages: list[bytes] = []
    mw = PaywallMiddleware(_serving(pages), settings=make_settings(member_resolver=lambda r: True))
    client = TestClient(mw)
    first = DOCTYPE + b"<html><head><title>Story</title></head>" + BODY
    # Same start as the first page up to its title, then a head that goes on: the remembered end is inside it.
    longer = DOCTYPE + b"<html><head><title>Story</title><style>p{}</style><meta name=x></head>" + BODY
    # The same bytes up to where the first page's head ended, but "</header>" is no end of the head.
    header = DOCTYPE + b"<html><head><title>Story</title></header><meta name=y></head>" + BODY
    amp = DOCTYPE + b"<html amp><head><title>Story</title></head>" + BODY
    for page in (first, first, longer, header, first, amp, amp, first, first):
        pages.append(page)
        got = client.get(path).content
        tags = got[insertion_point(page) : insertion_point(page) + len(got) - len(page)]
        if page is amp:
            assert got == page
        else:
            assert tags.startswith(b"<link") and tags.endswith(b"</script>")
            assert got == inject(page, tags), page[:80]
    assert len(mw.member_heads) == 1


def test_pages_at_other_paths_do_not_share_a_head(make_settings: Make) -> None:
    pages = [DOCTYPE + b"<html><head><title>Story</title></head>" + BODY]
    client = TestClient(PaywallMiddleware(_serving(pages), settings=make_settings(member_resolver=lambda r: True)))
    first = client.get("/one").content
    pages.append(DOCTYPE + b"<html amp><head><title>Story</title></head>" + BODY)
    assert client.get("/two").content == pages[-1]  # AMP: no tags, though "/one" had them
    pages.append(pages[0])
    assert client.get("/two").content == first


def test_member_heads_stay_within_their_share_of_the_cache(make_settings: Make) -> None:
    pages = [DOCTYPE + b"<html><head><title>Story</title>" + b"<meta name=x>" * 100 + b"</head>" + BODY]
    mw = PaywallMiddleware(
        _serving(pages), settings=make_settings(member_resolver=lambda r: True, gate_cache_bytes=64 * 1024)
    )
    client = TestClient(mw)
    for n in range(200):
        assert b"<link" in client.get(f"/story/{n}").content
    assert 0 < mw.member_heads.size <= 64 * 1024 // 8
    assert len(mw.member_heads) < 200


def test_the_last_page_is_sent_again_only_for_the_same_body_and_the_same_tags(make_settings: Make) -> None:
    """A page with the same head but another story, or the same page under another CSP nonce, is made anew."""
    head = DOCTYPE + b"<html><head><title>Story</title></head>"
    served: list[tuple[bytes, bytes]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body, nonce = served[-1]
        headers = [(b"content-type", b"text/html"), (b"content-security-policy", b"script-src 'nonce-" + nonce + b"'")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    client = TestClient(PaywallMiddleware(app, settings=make_settings(member_resolver=lambda r: True)))
    one, two = head + BODY, head + BODY.replace(b"whole", b"other")
    for body, nonce in [(one, b"n1"), (one, b"n1"), (two, b"n1"), (bytes(one), b"n1"), (one, b"n2"), (one, b"n2")]:
        served.append((body, nonce))
        got = client.get("/story").content
        assert got.endswith(body[len(head) - len(b"</head>") :])
        assert got.count(b'nonce="' + nonce + b'"') == 2 and b"nonce" not in got.replace(b'nonce="' + nonce, b"")
