"""A page that differs from one judged before only by per-request tokens gets that page's cut, tokens replaced.

Real pages carry a fresh CSRF token, CSP nonce or ad slot id on every
request. The middleware takes a body for the last page judged at its path
with other tokens only when the two differ by nothing else, and derives the
cut from that page's cut only when the cut holds each token as the page does.
Each test compares what a non-member gets with what a middleware that never
saw the page before makes of the same bytes: the derivation must never show
anything the engine would not, nor drop what it would keep.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from paywall import PaywallMiddleware, PaywallSettings
from paywall.http.cache import Cut
from paywall.http.variants import MIN_TOKEN, Base, Changes, PageBases, token_changes, tokens_in_place

from .conftest import assert_no_leak

Make = Callable[..., PaywallSettings]

SECRET_WORDS = ["tessellwyn", "marrowgast", "brindlecomb"]
TEASER = "".join(
    f"<p>Teaser paragraph {n}: grid operators reported steady demand through the autumn months.</p>" for n in range(3)
)
WITHHELD = (
    "<p>The confidential forecast from tessellwyn partners shows a drop in margins; the marrowgast "
    "project slips again and the brindlecomb clause explains the merger talks.</p>"
) * 6


def page(token: str, *, nonce: str = "nonce0nonce0nonce0", story: str = WITHHELD, canonical: str = "/story") -> bytes:
    """An article page with a per-request token in its head and a nonce on each of its scripts."""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Interconnector approved</title>"
        f'<meta name="csrf-token" content="{token}"><link rel="canonical" href="{canonical}">'
        f'<script nonce="{nonce}">window.app = {{"csrf": "{token}"}};</script></head>'
        "<body><header><nav><a href='/'>Home</a><a href='/news'>News</a></nav></header>"
        f"<main><article><h1>Interconnector approved</h1>{TEASER}{story}</article></main>"
        f'<footer><p>Stay informed</p><script nonce="{nonce}">track()</script></footer></body></html>'
    ).encode()


def token() -> str:
    return os.urandom(16).hex()


def _serving(pages: list[bytes]) -> Callable[[Scope, Receive, Send], object]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = pages[-1]
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return app


def fresh_cut(make_settings: Make, body: bytes, path: str = "/story") -> bytes:
    """What a middleware that never saw the page makes of ``body``."""
    return TestClient(PaywallMiddleware(_serving([body]), settings=make_settings())).get(path).content


# ---------------------------------------------------------------------------- what counts as a token change


def test_a_csrf_token_and_a_nonce_are_token_changes() -> None:
    one, two = token(), token()
    changes = token_changes(page(one), page(two, nonce="nonce1nonce1nonce1"))
    assert changes is not None
    assert dict(changes.pairs) == {one.encode(): two.encode(), b"nonce0nonce0nonce0": b"nonce1nonce1nonce1"}
    assert changes.apply(page(one)) == page(two, nonce="nonce1nonce1nonce1")


@pytest.mark.parametrize(
    "old, new",
    [
        (b'<input type=hidden VALUE="aaaaaaaaaaaa">', b'<input type=hidden VALUE="bbbbbbbbbbbb">'),
        (b'<link integrity="sha384-aaaaaaaaaaaa">', b'<link integrity="sha384-bbbbbbbbbbbb">'),
        (b'<script>boot({"csrf":"aaaaaaaaaaaa"})</script>', b'<script>boot({"csrf":"bbbbbbbbbbbb"})</script>'),
        (b"<script>boot({csrf: 'aaaaaaaaaaaa'})</script>", b"<script>boot({csrf: 'bbbbbbbbbbbb'})</script>"),
        # base64 with its own marks, between single quotes
        (b"<input name=t value='AbC+/dEf=GhIj_kL-mn'><p>x</p>", b"<input name=t value='ZyX-_wVu+TsRq/pO=nm'><p>x</p>"),
        # a time, a date or a count standing apart from any word, of the same length
        (b"<p>Made at 1764512345 ns.</p>", b"<p>Made at 1764512399 ns.</p>"),
        (b"<p>Updated 13:05:22</p>", b"<p>Updated 13:05:23</p>"),
        (b"<p>Updated 2026-11-30</p>", b"<p>Updated 2026-12-01</p>"),
        (b"<li>1,204 readers</li>", b"<li>1,205 readers</li>"),
        (b'<script>window.t = {"at":1764512345};</script>', b'<script>window.t = {"at":1764512399};</script>'),
    ],
)
def test_a_token_or_a_number_is_a_change(old: bytes, new: bytes) -> None:
    changes = token_changes(old, new)
    assert changes is not None and changes.apply(old) == new


@pytest.mark.parametrize(
    "old, new",
    [
        # the same bytes: nothing to change (the cache of exact bodies answers)
        (b'<meta content="aaaaaaaaaaaa">', b'<meta content="aaaaaaaaaaaa">'),
        # another length
        (b'<meta content="aaaaaaaaaaaa">', b'<meta content="bbbbbbbbbbbbb">'),
        # a word of the text, not between quotes
        (b"<p>the forecast tessellwyn shows</p>", b"<p>the forecast quillbrand shows</p>"),
        # shorter than a token
        (b'<meta content="abcdefg">', b'<meta content="gfedcba">'),
        # a value that is more than a token (markup, a space, an entity, a backslash, a quote)
        (b'<meta content="aaaaaaaaaaaa">', b'<meta content="aa"><p>aaaaa">'),
        (b'<meta content="aaaaaaaaaaaa">', b'<meta content="aaaaa aaaaaa">'),
        (b'<meta content="aaaaaaaaaaaa">', b'<meta content="aaaa&amp;aaa">'),
        (b'<meta content="aaaaaaaaaaaa">', b'<meta content="aaaaaaaaaa\\"">'),
        (
            b'<meta http-equiv=content-type content="aaaaaaaaaaaaaa">',
            b'<meta http-equiv=content-type content="charset=utf-16">',
        ),
        # a token only part of a quoted value, or quoted by two different quotes
        (b'<div class="story aaaaaaaaaaaa">', b'<div class="story bbbbbbbbbbbb">'),
        (b"<meta content=\"aaaaaaaaaaaa'>", b"<meta content=\"bbbbbbbbbbbb'>"),
        # an unquoted value, a tag name, and values the engine reads to find the article
        (b"<div id=aaaaaaaaaaaa>", b"<div id=bbbbbbbbbbbb>"),
        (b'<div id="aaaaaaaaaaaa">', b'<div id="bbbbbbbbbbbb">'),
        (b'<div class="aaaaaaaaaaaa">', b'<div class="bbbbbbbbbbbb">'),
        (b'<div role="aaaaaaaaaaaa">', b'<div role="bbbbbbbbbbbb">'),
        (b'<div itemprop="aaaaaaaaaaaa">', b'<div itemprop="bbbbbbbbbbbb">'),
        (b'<div data-slot="aaaaaaaaaaaa">', b'<div data-slot="bbbbbbbbbbbb">'),
        (b'<a href="/story/aaaaaaaaaaaa">', b'<a href="/story/bbbbbbbbbbbb">'),
        (b'<div xcontent="aaaaaaaaaaaa">', b'<div xcontent="bbbbbbbbbbbb">'),
        (b'<p>he said "aaaaaaaaaaaa"</p>', b'<p>he said "bbbbbbbbbbbb"</p>'),
        (b'<script>el.value="aaaaaaaaaaaa"</script>', b'<script>el.value="bbbbbbbbbbbb"</script>'),
        (b'<aaaaaaaaaaaa class="x">', b'<bbbbbbbbbbbb class="x">'),
        # one token with two replacements, and a token changed in one place but kept in another
        (b'<a x="aaaaaaaaaaaa" y="aaaaaaaaaaaa">', b'<a x="bbbbbbbbbbbb" y="cccccccccccc">'),
        (b'<a x="aaaaaaaaaaaa" y="aaaaaaaaaaaa">', b'<a x="bbbbbbbbbbbb" y="aaaaaaaaaaaa">'),
        # digits of a character reference, of a tag's name, of a word; a number of another length, or not one
        (b"<p>it&#8217;s</p>", b"<p>it&#8216;s</p>"),
        (b"<h1>Quay</h1>", b"<h2>Quay</h1>"),
        (b"<p>v2 of the plan</p>", b"<p>v3 of the plan</p>"),
        (b'<div id="post-1234">', b'<div id="post-1235">'),
        (b"<p>2 quays</p>", b"<p>12 quays</p>"),
        (b"<p>at 12:30</p>", b"<p>at 12:3a</p>"),
    ],
)
def test_anything_else_is_no_change(old: bytes, new: bytes) -> None:
    assert token_changes(old, new) is None


def test_tokens_found_once_are_checked_in_place_and_only_tokens_pass() -> None:
    one, two, three = page("a" * 32), page("b" * 32), page("c" * 32)
    first = token_changes(one, two)
    assert first is not None and first.spans
    again = tokens_in_place(one, three, first.spans)
    assert again is not None and again.apply(one) == three
    for value in ('aa"><p>marrowgast</p><p x="' + "a" * 5, "a" * 16 + " " + "a" * 15, "a" * 31 + "&"):
        assert len(value) == 32
        assert tokens_in_place(one, page(value), first.spans) is None, value
    assert tokens_in_place(one, page("c" * 31), first.spans) is None  # another length
    assert tokens_in_place(one, three.replace(b"Home", b"Hone"), first.spans) is None  # and something else


def test_a_cut_that_does_not_hold_each_token_as_the_page_does_is_not_derived() -> None:
    base = b'<meta content="aaaaaaaaaaaa"><p data-x="aaaaaaaaaaaa">withheld</p>'
    changes = Changes(((b"aaaaaaaaaaaa", b"bbbbbbbbbbbb"),))
    dropped = Cut(b'<meta content="aaaaaaaaaaaa">', (b"<p>teaser</p>",), b"d")
    assert changes.derive(dropped, base) is None
    kept = Cut(b'<meta content="aaaaaaaaaaaa">', (b'<p data-x="aaaaaaaaaaaa">', b"cta"), b"d")
    derived = changes.derive(kept, base)
    assert derived is not None and derived.head == b'<meta content="bbbbbbbbbbbb">'
    assert derived.rest == (b'<p data-x="bbbbbbbbbbbb">', b"cta") and derived.digest != kept.digest


def test_page_bases_stay_within_their_bytes() -> None:
    bases = PageBases(10_000)
    for n in range(100):
        bases.put(f"/story/{n}", Base(b"x" * 1_000, None, False, _known()))
    assert 0 < bases.size <= 10_000 and len(bases) < 100


def _known() -> object:
    from paywall.http.cache import Known

    return Known("article", b"k" * 20)


# ---------------------------------------------------------------------------- through the middleware


def test_a_page_with_fresh_tokens_gets_the_cut_the_engine_makes_of_it(make_settings: Make) -> None:
    pages: list[bytes] = []
    mw = PaywallMiddleware(_serving(pages), settings=make_settings())
    client = TestClient(mw)
    for n in range(4):
        pages.append(page(token(), nonce=f"nonce{n}" * 4))
        got = client.get("/story")
        assert got.status_code == 200
        assert got.content == fresh_cut(make_settings, pages[-1])
        assert_no_leak(got.content, SECRET_WORDS)
        assert b"Teaser paragraph 0" in got.content and b"paywall-cta" in got.content
    assert mw.bases.derived == 3


def test_a_token_in_the_withheld_part_is_never_derived_past(make_settings: Make) -> None:
    """A quoted token the cut dropped: the page is cut on its own, and the new token's text stays withheld."""
    pages: list[bytes] = []
    mw = PaywallMiddleware(_serving(pages), settings=make_settings())
    client = TestClient(mw)
    for word in ("quillbrandxx", "sorrowmarkyy"):
        story = WITHHELD + f'<p>The board called it "{word}" in the minutes.</p>'
        pages.append(page("t" * 32, story=story))
        got = client.get("/story").content
        assert got == fresh_cut(make_settings, pages[-1])
        assert_no_leak(got, [*SECRET_WORDS, word])
    assert mw.bases.derived == 0


def test_an_edited_story_is_cut_anew(make_settings: Make) -> None:
    pages: list[bytes] = []
    client = TestClient(PaywallMiddleware(_serving(pages), settings=make_settings()))
    for secret in ("tessellwyn", "quillbrand"):  # one word of the withheld text replaced, same length
        pages.append(page(token(), story=WITHHELD.replace("tessellwyn", secret)))
        got = client.get("/story").content
        assert got == fresh_cut(make_settings, pages[-1])
        assert_no_leak(got, [secret, "marrowgast"])


def test_a_token_in_the_canonical_link_is_not_derived_past(make_settings: Make) -> None:
    pages: list[bytes] = []
    mw = PaywallMiddleware(_serving(pages), settings=make_settings())
    client = TestClient(mw)
    for ref in ("/story/aaaaaaaaaaaa", "/story/bbbbbbbbbbbb"):
        pages.append(page("t" * 32, canonical=ref))
        assert client.get("/story").content == fresh_cut(make_settings, pages[-1])
    assert mw.bases.derived == 0


def test_pages_at_other_paths_are_not_compared(make_settings: Make) -> None:
    pages = [page(token())]
    mw = PaywallMiddleware(_serving(pages), settings=make_settings())
    client = TestClient(mw)
    client.get("/one")
    pages.append(page(token()))
    assert client.get("/two").content == fresh_cut(make_settings, pages[-1], "/two")
    assert mw.bases.derived == 0


def test_a_member_still_gets_the_page_as_made(make_settings: Make) -> None:
    pages = [page(token())]
    mw = PaywallMiddleware(_serving(pages), settings=make_settings(member_resolver=lambda request: True))
    client = TestClient(mw)
    for _ in range(2):
        pages.append(page(token()))
        got = client.get("/story").content
        assert all(word.encode() in got for word in SECRET_WORDS)
        assert pages[-1].split(b"</head>")[1] in got


def test_a_page_without_an_article_is_judged_each_time(make_settings: Make) -> None:
    """A page judged to hold no article is no base: what the engine says of one body is not taken for another."""
    home = "<!DOCTYPE html><html><head><meta name='csrf' content='{}'></head>"
    home += "<body><nav><a href='/a'>A</a></nav></body></html>"
    pages: list[bytes] = []
    mw = PaywallMiddleware(_serving(pages), settings=make_settings())
    client = TestClient(mw)
    for _ in range(3):
        pages.append(home.format(token()).encode())
        assert client.get("/").content == pages[-1]
    assert mw.bases.derived == 0 and len(mw.bases) == 0


def test_short_tokens_leave_the_page_to_the_engine(make_settings: Make) -> None:
    pages: list[bytes] = []
    mw = PaywallMiddleware(_serving(pages), settings=make_settings())
    client = TestClient(mw)
    for value in ("a" * (MIN_TOKEN - 1), "b" * (MIN_TOKEN - 1)):
        pages.append(page(value))
        assert client.get("/story").content == fresh_cut(make_settings, pages[-1])
    assert mw.bases.derived == 0


# ---------------------------------------------------------------------------- times and counts in the text


def _with_footer(body: bytes, line: str) -> bytes:
    return body.replace(b"<p>Stay informed</p>", f"<p>Stay informed</p><p>{line}</p>".encode())


def test_a_page_whose_time_changes_on_every_request_gets_the_cut_the_engine_makes_of_it(make_settings: Make) -> None:
    pages: list[bytes] = []
    mw = PaywallMiddleware(_serving(pages), settings=make_settings())
    client = TestClient(mw)
    for n in range(4):
        pages.append(_with_footer(page(token()), f"Made at 17645123{n}5123456 ns."))
        got = client.get("/story")
        assert got.content == fresh_cut(make_settings, pages[-1])
        assert_no_leak(got.content, SECRET_WORDS)
        assert f"Made at 17645123{n}5123456 ns.".encode() in got.content
    assert mw.bases.derived == 3


def test_a_number_in_the_withheld_part_is_never_derived_past(make_settings: Make) -> None:
    pages: list[bytes] = []
    mw = PaywallMiddleware(_serving(pages), settings=make_settings())
    client = TestClient(mw)
    for figure in ("4,817,204", "4,817,299"):
        pages.append(page("t" * 32, story=WITHHELD + f"<p>The tessellwyn accounts show {figure} in unpaid fees.</p>"))
        got = client.get("/story").content
        assert got == fresh_cut(make_settings, pages[-1])
        assert figure.encode() not in got
    assert mw.bases.derived == 0


def test_a_number_that_is_a_withheld_word_is_not_put_in(make_settings: Make) -> None:
    """The story's withheld part names the year 1998; the footer's count turns into 1998. Beside the page's own
    words, a number of the story could make a run of it: the page is cut on its own."""
    story = WITHHELD + "<p>The brindlecomb clause was first signed in 1998 by the harbour board.</p>"
    pages: list[bytes] = []
    mw = PaywallMiddleware(_serving(pages), settings=make_settings())
    client = TestClient(mw)
    for count in ("1997", "1998"):
        pages.append(_with_footer(page("t" * 32, story=story), f"{count} readers"))
        assert client.get("/story").content == fresh_cut(make_settings, pages[-1])
    assert mw.bases.derived == 0
