"""The request path's decision and head scan, as plain functions (no ASGI)."""

from __future__ import annotations

import pytest

from paywall.engine.headscan import HeadScan, inject, insertion_point
from paywall.http.decision import Action, Start, decide


def start(status: int = 200, content_type: bytes | None = b"text/html; charset=utf-8", **more: bytes) -> Start:
    headers = [(b"content-type", content_type)] if content_type is not None else []
    headers += [(name.replace("_", "-").encode(), value) for name, value in more.items()]
    return Start.read(status, headers)


# --------------------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        (b"text/html; charset=utf-8", "html"),
        (b"TEXT/HTML", "html"),
        (b"application/xhtml+xml", "html"),
        (b"text/html charset=utf-8", "html"),
        (b"text /html", "html"),
        (b"html", "html"),
        (b"text/plain, text/html", "html"),
        (None, "sniff-html"),
        (b"", "sniff-html"),
        (b"*/*", "sniff-html"),
        (b"unknown/unknown", "sniff-html"),
        (b"text plain", "sniff-html"),
        (b"text/xml", "sniff-xml"),
        (b"application/json", "json"),
        (b"application/ld+json; charset=utf-8", "json"),
        (b"application/rss+xml", "feed"),
        (b"application/atom+xml", "feed"),
        (b"application/feed+json", "feed"),
        (b"text/plain", "text"),
        (b"text/markdown; charset=utf-8", "text"),
        (b"text/csv", "other"),
        (b"image/webp", "other"),
        (b"multipart/byteranges; boundary=x", "other"),
    ],
)
def test_types_are_read_as_browsers_read_them(content_type: bytes | None, kind: str) -> None:
    assert start(content_type=content_type).kind == kind


def test_charset_and_control_headers() -> None:
    s = start(content_type=b"text/html; charset=ISO-8859-1", x_paywall=b" Free ", x_paywall_access=b"member")
    assert s.charset == "ISO-8859-1" and s.directive == "free" and s.controlled and s.upstream_member
    assert not start().controlled


@pytest.mark.parametrize(
    ("lengths", "length"),
    [
        ([b"1024"], 1024),
        ([b"1024", b"99"], 1024),  # the first, as a header lookup reads it
        ([b"-1"], None),
        ([b" 12"], None),
        ([b"9" * 5000], None),  # more digits than an int may be made from: no number, and no error
        ([], None),
    ],
)
def test_length_and_policy_are_read_with_the_rest(lengths: list[bytes], length: int | None) -> None:
    headers = [(b"content-type", b"text/html"), *((b"content-length", value) for value in lengths)]
    assert Start.read(200, headers).length == length
    assert Start.read(200, [*headers, (b"Content-Security-Policy", b"script-src 'nonce-abc'")]).policy
    assert not Start.read(200, headers).policy


def test_a_start_read_again_is_the_same_whatever_the_pairs_are_made_of() -> None:
    """Starts are remembered by their headers: pairs given as lists (ASGI allows it) are read, not remembered."""
    pairs = [(b"content-type", b"text/html; charset=utf-8"), (b"x-paywall", b"free"), (b"content-length", b"7")]
    first = Start.read(200, pairs)
    assert Start.read(200, list(pairs)) == first
    assert Start.read(200, [[name, value] for name, value in pairs]) == first  # type: ignore[misc]
    assert Start.read(404, pairs).status == 404
    assert Start.read(200, pairs[:1]).directive == ""


# --------------------------------------------------------------------------- actions


def act(s: Start, *, method: str = "GET", member: bool | None = False, protect: bool = True, **kw: bool) -> Action:
    return decide(s, method=method, member=member, protect_member=protect, **kw)


def test_files_errors_and_free_pages_pass_without_knowing_the_reader() -> None:
    for s in (
        start(content_type=b"image/png"),
        start(404),
        start(302),
        start(204),
        start(x_paywall=b"free"),
        start(206, b"video/mp4"),
        start(304, b"image/png"),
    ):
        assert act(s, member=None) is Action.PASS


def test_pages_ask_who_is_reading_then_stream_or_buffer() -> None:
    page = start()
    assert act(page, member=None) is Action.IDENTIFY
    assert act(page, member=False) is Action.BUFFER
    assert act(page, member=True) is Action.INJECT
    assert act(page, member=True, protect=False) is Action.MEMBER
    assert act(start(content_encoding=b"gzip"), member=True) is Action.BUFFER


@pytest.mark.parametrize(
    "partial",
    [
        start(206, b"multipart/byteranges; boundary=x"),
        start(206, b"text/html"),
        start(206, None),
        start(304, None),
        start(304, b"text/html"),
    ],
)
def test_partial_answers_to_a_page_are_replayed_or_refused(partial: Start) -> None:
    assert act(partial, member=None) is Action.IDENTIFY
    assert act(partial, member=False) is Action.REPLAY
    assert act(partial, method="HEAD", member=False) is Action.REPLAY
    assert act(partial, method="POST", member=False) is Action.REFUSE
    assert act(partial, member=True) is Action.MEMBER
    # A replayed GET never sends a part, and a bodiless 304 has nothing to withhold.
    assert act(partial, member=False, replaying=True) is (Action.PASS if partial.status == 304 else Action.REFUSE)


def test_head_is_replayed_unless_the_member_gets_the_page_as_made() -> None:
    assert act(start(), method="HEAD", member=False) is Action.REPLAY
    assert act(start(), method="HEAD", member=True) is Action.REPLAY
    assert act(start(), method="HEAD", member=True, protect=False) is Action.MEMBER
    assert act(start(), method="HEAD", member=False, replaying=True) is Action.BUFFER
    assert act(start(content_type=b"image/png"), method="HEAD", member=None) is Action.PASS


def test_feeds_json_and_text_are_judged_by_their_body_for_every_reader() -> None:
    for content_type in (b"application/rss+xml", b"application/json", b"text/markdown", b"text/plain"):
        for member in (None, False, True):
            assert act(start(content_type=content_type), member=member) is Action.FORMAT
        assert act(start(content_type=content_type, x_paywall=b"free"), member=None) is Action.PASS
        assert act(start(content_type=content_type), method="HEAD", member=False) is Action.REPLAY
    assert act(start(content_type=b"text/xml").sniffed(False, feed=True), member=None) is Action.FORMAT


def test_a_routers_payload_streams_to_members_and_is_read_for_anyone_else() -> None:
    rsc = start(content_type=b"text/x-component")
    assert rsc.kind == "rsc"
    assert act(rsc, member=None) is Action.IDENTIFY
    assert act(rsc, member=True) is Action.MEMBER
    assert act(rsc, member=False) is Action.FORMAT


def test_untyped_bodies_are_sniffed_first() -> None:
    untyped = start(content_type=None)
    assert act(untyped, member=None) is Action.SNIFF
    assert act(untyped.sniffed(True), member=False) is Action.BUFFER
    assert act(untyped.sniffed(False), member=None) is Action.PASS


# --------------------------------------------------------------------------- head scan

DOCTYPE = b"<!DOCTYPE html>"


@pytest.mark.parametrize(
    ("page", "before"),
    [
        (DOCTYPE + b"<html><head><title>a</head>b</title></head><body>", b"</title>"),
        (DOCTYPE + b"<head><meta content='</head>' x=\"a>b\" y=c/></head>", b"y=c/>"),
        (DOCTYPE + b"<head><!-- </head> --><script>'</head>'</script><style>/*</head>*/</style></head>", b"</style>"),
        (DOCTYPE + b"<head><template><div></div></template><link></head>", b"<link>"),
        (DOCTYPE + b"\n<title>t</title>\nHello", b"\n"),
        (DOCTYPE + b"<p>text", DOCTYPE),
        (b"\xef\xbb\xbf<div>", b"\xef\xbb\xbf"),
        (DOCTYPE + b"<head><meta a=b></html>", b"<meta a=b>"),
        (DOCTYPE + b"<head><textarea></head></textarea>", b"<head>"),
    ],
)
def test_end_of_head_is_found_as_a_tokenizer_finds_it(page: bytes, before: bytes) -> None:
    at = insertion_point(page)
    assert page[:at].endswith(before), page[:at]


def test_the_scan_gives_the_same_answer_however_the_page_arrives() -> None:
    page = DOCTYPE + b"<html><head><meta x='</head>'><title>a</head></title><script>1</script></head><body>"
    expected = insertion_point(page)
    for cut in range(len(page)):
        scan = HeadScan()
        first = scan.feed(page[:cut])
        assert first in (None, expected)
        assert scan.feed(page) == expected


def test_a_head_too_large_to_wait_for_has_a_safe_point_after_the_doctype() -> None:
    scan = HeadScan()
    assert scan.feed(b"<!-- note -->") is None and scan.safe is None
    page = b"<!-- note -->" + DOCTYPE + b"<html><head><style>" + b"a{}" * 1000 + b"</style><style>b{"
    assert scan.feed(page) is None
    assert scan.safe == page.index(b"<style>b{")


def test_inject_puts_the_tags_at_the_end_of_the_head() -> None:
    assert inject(DOCTYPE + b"<head></head>", b"[X]") == DOCTYPE + b"<head>[X]</head>"
    assert inject(b"", b"[X]") == b"[X]"
    assert inject(b"<head></head>", b"") == b"<head></head>"
