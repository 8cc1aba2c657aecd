"""Routes by which text from beyond the teaser could reach a non-member, each shown closed.

HTTP tricks (ranges, HEAD, conditionals, odd statuses and types, encodings,
chunking), HTML tricks (copies in every corner of a document, in every
encoding, broken markup) and failure paths, plus a few wrong answers a router
or the meter could give.

Every withheld paragraph carries a made-up marker word; ``leaked`` looks for the
markers in the body as sent and after undoing escapes, percent-encoding,
base64 runs, soft hyphens and zero-width characters, so a copy a browser or a
scraper can read is found whatever it hides behind.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import html
import json
import posixpath
import re
import urllib.parse
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from paywall import PaywallMiddleware, PaywallSettings
from paywall.http.proxy import ProxyApp
from tests.asgi import call
from tests.conftest import assert_no_leak, readable_variants

SettingsFactory = Callable[..., PaywallSettings]

CTA = "Need to access the insight?"
TEASER = [
    "Grid operators in the north reported steady demand through the autumn months.",
    "Analysts expect the new interconnector to lower wholesale prices by spring.",
    "Regulators have asked for a public consultation before the final approval.",
]
SECRET = [
    "The confidential forecast from tessellwyn partners shows a sharp quarterly drop in margins.",
    "Executives privately briefed investors that the marrowgast project would be delayed again.",
    "Internal memos describe the brindlecomb clause as the real reason behind the merger talks.",
]
WORDS = ["tessellwyn", "marrowgast", "brindlecomb"]
WITHHELD = " ".join(SECRET)


def paras(items: Sequence[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in items)


ARTICLE = f"<article><h1>Interconnector approved</h1>{paras(TEASER + SECRET)}</article>"


def page(article: str = ARTICLE, *, head: str = "", extra: str = "") -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Interconnector</title>'
        f'{head}</head><body><header><nav><a href="/">Home</a></nav></header><main>{article}</main>'
        f"{extra}<footer><p>Stay informed</p></footer></body></html>"
    )


_HIDING = re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]")


def leaked(body: bytes | str, words: Sequence[str] = WORDS) -> list[str]:
    """Marker words readable in ``body``, by the suite's rules and a few stricter ones."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    variants = readable_variants(text)
    for variant in list(variants):
        variants.append(urllib.parse.unquote_plus(variant))
        variants.append(_HIDING.sub("", variant))
    for run in re.findall(r"[A-Za-z0-9+/=_-]{16,}", text):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            with contextlib.suppress(ValueError):
                variants.append(decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace").casefold())
    return sorted({w for w in words for v in variants if w.casefold() in v})


def raw_app(
    body: bytes | Sequence[bytes],
    *,
    headers: Sequence[tuple[bytes, bytes]] = ((b"content-type", b"text/html; charset=utf-8"),),
    status: int = 200,
) -> Callable[[Scope, Receive, Send], Any]:
    """A bare ASGI app sending exactly these headers and body chunks."""
    chunks = [body] if isinstance(body, bytes) else list(body)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1})

    return app


@pytest.fixture
def fetch(make_settings: SettingsFactory) -> Callable[..., httpx.Response]:
    def go(
        app: Any, path: str = "/story", *, method: str = "GET", headers: dict[str, str] | None = None, **settings: Any
    ) -> httpx.Response:
        client = TestClient(PaywallMiddleware(app, settings=make_settings(**settings)))
        return client.request(method, path, headers=headers)

    return go


def html_page(markup: str) -> Callable[[Scope, Receive, Send], Any]:
    return raw_app(markup.encode("utf-8"))


# =========================================================================== routes that were open


def test_multi_range_request_never_gets_byte_ranges_of_the_full_article(
    fetch: Callable[..., httpx.Response], tmp_path: Path
) -> None:
    """A multi-range GET makes Starlette answer 206 multipart/byteranges of the full page: it is replayed and gated."""
    (tmp_path / "story.html").write_text(page())

    async def story(request: Request) -> Response:
        return FileResponse(tmp_path / "story.html")

    app = Starlette(routes=[Route("/story", story)])
    response = fetch(app, headers={"Range": "bytes=0-10,20-"})
    assert leaked(response.content) == [], f"{response.status_code} {response.headers['content-type']}"


@pytest.mark.parametrize("content_type", [b"", b"*/*", b"unknown/unknown", b"application/unknown"])
def test_content_types_browsers_sniff_as_html_are_sniffed_too(
    fetch: Callable[..., httpx.Response], content_type: bytes
) -> None:
    """WHATWG sniffing treats these like a missing type and renders HTML, so the paywall sniffs them too."""
    response = fetch(raw_app(page().encode(), headers=[(b"content-type", content_type)]))
    assert leaked(response.content) == []


@pytest.mark.parametrize(
    ("content_type", "prolog"),
    [(b"application/xml", b""), (b"text/xml", b""), (None, b'<?xml version="1.0" encoding="utf-8"?>')],
    ids=["application-xml", "text-xml", "untyped-xml-prolog"],
)
def test_xhtml_served_as_generic_xml_is_gated(
    fetch: Callable[..., httpx.Response], content_type: bytes | None, prolog: bytes
) -> None:
    """Browsers render generic XML whose root is XHTML's <html> as a web page, so it is gated."""
    xhtml = page().replace('<!DOCTYPE html><html lang="en">', '<html xmlns="http://www.w3.org/1999/xhtml">')
    headers = [(b"content-type", content_type)] if content_type else []
    response = fetch(raw_app(prolog + xhtml.encode(), headers=headers))
    assert leaked(response.content) == []


def test_untyped_page_with_long_leading_whitespace_is_sniffed_as_far_as_browsers_look(
    fetch: Callable[..., httpx.Response],
) -> None:
    """Browsers look at 1445 bytes before deciding; so does the paywall."""
    body = b"\n" * 600 + page().encode()
    response = fetch(raw_app([body[i : i + 100] for i in range(0, len(body), 100)], headers=[]))
    assert leaked(response.content) == []


def test_utf16_page_declared_in_the_header_is_decoded_and_gated(fetch: Callable[..., httpx.Response]) -> None:
    """charset=utf-16le without a BOM is honoured, as browsers do, and the page is gated."""
    app = raw_app(page().encode("utf-16-le"), headers=[(b"content-type", b"text/html; charset=utf-16le")])
    response = fetch(app)
    assert not any(w in response.content.decode("utf-16-le", "replace") for w in WORDS)


def test_article_with_another_success_status_is_gated(fetch: Callable[..., httpx.Response]) -> None:
    """Browsers render a 203 (or 201, 226...) page like a 200, so it is gated like one."""
    response = fetch(raw_app(page().encode(), status=203))
    assert leaked(response.content) == []


@pytest.mark.parametrize(
    "markup",
    [
        f'<div class="wrap"><article><h1>T</h1>{paras(TEASER)}<div class="embed"></div></div>'
        f"{paras(SECRET)}</article></div>",
        f"<article><h1>T</h1>{paras(TEASER)}<div class='embed'></body></html></div>{paras(SECRET)}</article>",
    ],
    ids=["stray-close-div", "stray-close-body"],
)
def test_unbalanced_end_tag_in_the_story_does_not_move_the_rest_out_of_the_gate(
    fetch: Callable[..., httpx.Response], markup: str
) -> None:
    """Prose after a stray </div> (or </body>, which lxml honours) that continues the story is withheld with it."""
    response = fetch(html_page(page(markup)))
    assert CTA in response.text
    assert leaked(response.content) == []


def test_a_hidden_duplicate_of_the_body_does_not_make_the_page_a_listing(
    fetch: Callable[..., httpx.Response],
) -> None:
    """A hidden second copy of the body is no rival article: the page is gated and the copy scrubbed."""
    response = fetch(html_page(page(ARTICLE, extra=f'<div class="article-body" hidden>{paras(TEASER + SECRET)}</div>')))
    assert CTA in response.text
    assert leaked(response.content) == []


CJK_TEASER = [
    "电网运营商报告秋季需求稳定。",
    "分析人士预计新的互联线路将在春季降低批发价格。",
    "监管机构要求在最终批准前进行公众咨询。",
]
CJK_SECRET = [
    "泰森林伙伴的机密预测显示利润将在本季度大幅下降。",
    "高管私下告诉投资者马罗加斯特项目将再次推迟。",
    "内部备忘录称布林德尔条款才是合并谈判的真正原因。",
]
CJK_WORDS = ["泰森林伙伴", "马罗加斯特", "布林德尔条款"]


@pytest.mark.parametrize(
    ("head", "extra"),
    [
        (f'<meta name="description" content="{CJK_SECRET[1]}">', ""),
        (f'<meta property="og:description" content="{CJK_SECRET[0]}{CJK_SECRET[1]}">', ""),
        ("", f"<div hidden>{CJK_SECRET[2]}</div>"),
    ],
    ids=["meta-description", "og-description", "hidden-div"],
)
def test_cjk_copy_of_a_withheld_paragraph_is_scrubbed(
    fetch: Callable[..., httpx.Response], head: str, extra: str
) -> None:
    """CJK text is compared character by character, so short copies of a withheld sentence are found."""
    article = f"<article><h1>标题</h1>{paras(CJK_TEASER + CJK_SECRET)}</article>"
    response = fetch(html_page(page(article, head=head, extra=extra)))
    assert CTA in response.text
    assert_no_leak(response.content, CJK_WORDS)


def test_soft_hyphenated_article_still_finds_its_plain_json_ld_copy(fetch: Callable[..., httpx.Response]) -> None:
    """Soft hyphens and other invisible characters are ignored when copies are compared."""
    hyphenated = [re.sub(r"\b(\w{3})(\w{3,})", "\\1&shy;\\2", s) for s in SECRET]
    article = f"<article><h1>T</h1>{paras(TEASER)}{paras(hyphenated)}</article>"
    ld = json.dumps({"@type": "NewsArticle", "articleBody": " ".join(TEASER + SECRET)})
    response = fetch(html_page(page(article, head=f'<script type="application/ld+json">{ld}</script>')))
    assert CTA in response.text
    assert leaked(response.content) == []


_B64 = base64.b64encode(paras(SECRET).encode()).decode()


@pytest.mark.parametrize(
    "extra",
    [
        f'<iframe src="data:text/html;base64,{_B64}"></iframe>',
        f'<div data-content="{_B64}"></div>',
        f"<script>var body = atob('{_B64}');</script>",
        f"<script>var body = decodeURIComponent('{urllib.parse.quote(WITHHELD)}');</script>",
        "<script>var body = '" + "".join(f"\\u{{{ord(c):x}}}" for c in WITHHELD) + "';</script>",
        "<style>.more::after{content:'" + "".join(f"\\{ord(c):x} " for c in WITHHELD) + "'}</style>",
        f"<div hidden>{WITHHELD.replace('e', 'e&#8203;')}</div>",
    ],
    ids=["data-uri-base64", "data-attr-base64", "js-atob", "js-percent", "js-codepoint-escape", "css-escapes", "zwsp"],
)
def test_copy_in_another_encoding_is_scrubbed(fetch: Callable[..., httpx.Response], extra: str) -> None:
    """Copies in base64, percent-encoding, JS \\u{..} or CSS escapes, or behind zero-width spaces are found."""
    response = fetch(html_page(page(extra=extra)))
    assert CTA in response.text
    body = response.text
    body = re.sub(r"\\u\{([0-9a-f]+)\}", lambda m: chr(int(m.group(1), 16)), body)
    body = re.sub(r"\\([0-9a-f]{1,6}) ?", lambda m: chr(int(m.group(1), 16)), body)
    assert leaked(body) == []


def test_metering_tells_query_string_articles_apart(fetch: Callable[..., httpx.Response], make_settings: Any) -> None:
    """/?p=1, /?p=2... (WordPress plain permalinks) are different articles to the meter."""

    async def story(request: Request) -> Response:
        return HTMLResponse(page(ARTICLE.replace("tessellwyn", "tessellwyn" + request.query_params["p"])))

    client = TestClient(
        PaywallMiddleware(Starlette(routes=[Route("/", story)]), settings=make_settings(free_articles=1))
    )
    assert "tessellwyn1" in client.get("/?p=1").text  # the one free article
    assert "tessellwyn2" not in client.get("/?p=2").text, "a second article was free"


def test_proxy_excluded_prefix_with_dot_segments_never_reaches_the_article(make_settings: SettingsFactory) -> None:
    """/static/../story is not under /static/: upstreams (nginx, Apache) resolve it to the article."""
    article = page().encode()

    def upstream(request: httpx.Request) -> httpx.Response:
        path = posixpath.normpath(urllib.parse.unquote(request.url.raw_path.decode().partition("?")[0]))
        if path == "/news/story":
            return httpx.Response(200, headers={"content-type": "text/html"}, stream=httpx.ByteStream(article))
        return httpx.Response(404, text="not found")

    settings = make_settings(exclude_paths=("/static/",))
    app = PaywallMiddleware(
        ProxyApp("http://upstream.test", settings, transport=httpx.MockTransport(upstream)), settings
    )

    async def fetch_raw(raw_path: bytes) -> bytes:
        path = urllib.parse.unquote(raw_path.decode())
        return (await call(app, path, raw_path=raw_path, host=b"news.test")).body

    assert leaked(anyio.run(fetch_raw, b"/news/story")) == []  # gated as it should be
    assert leaked(anyio.run(fetch_raw, b"/static/%2e%2e/news/story")) == []


def test_head_and_conditional_get_on_a_mounted_route_are_answered(fetch: Callable[..., httpx.Response]) -> None:
    """The replay starts from an untouched scope, so a route under a Mount answers HEAD and conditional GETs."""
    body = page().encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    async def story(request: Request) -> Response:
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return HTMLResponse(body, headers={"ETag": etag})

    app = Starlette(routes=[Mount("/news", routes=[Route("/story", story, methods=["GET", "HEAD"])])])
    get = fetch(app, "/news/story")
    assert get.status_code == 200 and CTA in get.text
    head = fetch(app, "/news/story", method="HEAD")
    conditional = fetch(app, "/news/story", headers={"If-None-Match": etag})
    assert (head.status_code, conditional.status_code) == (200, 200)
    assert head.headers["content-length"] == get.headers["content-length"]


# =========================================================================== routes that held from the start


@pytest.mark.parametrize(
    "content_type",
    [b'text/html;charset="utf-8"', b"TEXT/HTML", b"application/xhtml+xml", b" text/html\t", b"text/plain, text/html"],
)
def test_content_type_variants_are_gated(fetch: Callable[..., httpx.Response], content_type: bytes) -> None:
    response = fetch(raw_app(page().encode(), headers=[(b"Content-Type", content_type)]))
    assert CTA in response.text and leaked(response.content) == []


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"\xef\xbb\xbf" + page().encode(), []),
        (b"\xff\xfe" + page().encode("utf-16-le"), [(b"content-type", b"text/html")]),
        (page().encode(), [(b"content-type", b"text/html; charset=iso-8859-1")]),
        (page().encode("utf-7"), [(b"content-type", b"text/html; charset=utf-7")]),
        (page().encode("cp500"), [(b"content-type", b"text/html; charset=cp500")]),
    ],
    ids=["untyped-bom", "utf16-bom", "wrong-charset", "utf-7", "ebcdic"],
)
def test_charset_tricks_are_gated(fetch: Callable[..., httpx.Response], body: bytes, headers: Any) -> None:
    response = fetch(raw_app(body, headers=headers))
    assert response.status_code == 200 and leaked(response.content) == []
    assert response.headers["content-type"].endswith("charset=utf-8")


def _chunks_one_byte() -> list[bytes]:
    data = page().encode()
    return [data[i : i + 1] for i in range(len(data))]


@pytest.mark.parametrize(
    "chunks",
    [_chunks_one_byte(), [page().encode(), b""], [b"", page().encode()]],
    ids=["1-byte", "empty-last", "empty-first"],
)
def test_chunking_games_are_gated(fetch: Callable[..., httpx.Response], chunks: list[bytes]) -> None:
    for headers in ([(b"content-type", b"text/html")], []):
        response = fetch(raw_app(chunks, headers=headers))
        assert CTA in response.text and leaked(response.content) == []


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        (b"gzip", gzip.compress(page().encode())[:300]),
        (b"gzip", gzip.compress(page().encode()[:300]) + gzip.compress(page().encode()[300:])),
        (b"gzip, gzip", gzip.compress(gzip.compress(page().encode()))),
        (b"gzip", gzip.compress(page().encode()) + b"trailing garbage"),
        (b"deflate", zlib.compress(page().encode())[2:-4]),
        (b"compress", page().encode()),
    ],
    ids=["truncated", "concatenated", "stacked", "garbage", "raw-deflate", "unknown"],
)
def test_content_encoding_games_never_leak(fetch: Callable[..., httpx.Response], coding: bytes, body: bytes) -> None:
    response = fetch(raw_app(body, headers=[(b"content-type", b"text/html"), (b"content-encoding", coding)]))
    assert response.status_code == 200 and CTA in response.text
    assert "content-encoding" not in response.headers and leaked(response.content) == []


def test_app_misbehaviour_never_leaks(fetch: Callable[..., httpx.Response]) -> None:
    data = page().encode()

    async def early(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": data, "more_body": True})

    async def after_final(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": data[:10], "more_body": False})
        await send({"type": "http.response.body", "body": data[10:], "more_body": False})

    for app in (early, after_final):
        response = fetch(app)
        assert response.status_code == 200 and leaked(response.content) == []


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_max_body_bytes_boundary(fetch: Callable[..., httpx.Response], delta: int) -> None:
    data = page(extra="<p>" + "padding " * 200 + "</p>").encode()
    for body, headers in (
        (data, [(b"content-type", b"text/html")]),
        (gzip.compress(data), [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")]),
    ):
        response = fetch(raw_app(body, headers=headers), max_body_bytes=len(data) + delta)
        assert response.status_code == 200 and CTA in response.text and leaked(response.content) == []


def test_single_range_and_if_range_are_not_partial(fetch: Callable[..., httpx.Response], tmp_path: Path) -> None:
    (tmp_path / "story.html").write_text(page())

    async def story(request: Request) -> Response:
        return FileResponse(tmp_path / "story.html")

    app = Starlette(routes=[Route("/story", story)])
    etag = TestClient(app).get("/story").headers["etag"]
    for headers in ({"Range": "bytes=0-50"}, {"Range": "bytes=-4000"}, {"Range": "bytes=100-", "If-Range": etag}):
        response = fetch(app, headers=headers)
        assert response.status_code == 200 and CTA in response.text and leaked(response.content) == []


def test_store_down_with_metering_serves_the_teaser(fetch: Callable[..., httpx.Response]) -> None:
    response = fetch(raw_app(page().encode()), store="redis://127.0.0.1:1/0", free_articles=3)
    assert response.status_code == 200 and CTA in response.text and leaked(response.content) == []


def test_same_url_with_a_changed_body_is_never_served_stale(
    fetch: Callable[..., httpx.Response], make_settings: SettingsFactory
) -> None:
    count = {"n": 0}

    async def story(request: Request) -> Response:
        count["n"] += 1
        return HTMLResponse(page(ARTICLE.replace("tessellwyn", f"zorblax{count['n']}")))

    client = TestClient(PaywallMiddleware(Starlette(routes=[Route("/story", story)]), settings=make_settings()))
    for n in (1, 2):
        response = client.get("/story")
        assert CTA in response.text and leaked(response.content, [f"zorblax{n}"]) == []


@pytest.mark.parametrize(
    "extra",
    [
        f"<svg><text>{WITHHELD}</text></svg>",
        f"<math><mi>{WITHHELD}</mi></math>",
        f"<iframe srcdoc='{html.escape(paras(SECRET))}'></iframe>",
        f"<embed src='data:text/html,{urllib.parse.quote(paras(SECRET))}'>",
        f"<img srcset='/i.png?t={urllib.parse.quote(urllib.parse.quote(WITHHELD))} 1x'>",
        f"<textarea>{WITHHELD}</textarea>",
        "<select>" + "".join(f'<option value="{s}">{s}</option>' for s in SECRET) + "</select>",
        f"<input value='{WITHHELD}'><a title='{WITHHELD}' href='/'>x</a>",
        f"<style>.x::after{{content:'{WITHHELD}'}}</style>",
        "<script>var a = " + " + ".join(f"'{w} '" for w in WITHHELD.split()) + ";</script>",
        "<script>var a = '" + "".join(f"\\x{ord(c):02x}" for c in WITHHELD) + "';</script>",
        "<script>var a = `" + WITHHELD + "`; var b = /" + WITHHELD + "/;</script>",
        f"<![CDATA[{WITHHELD}]]><svg><![CDATA[{WITHHELD}]]></svg>",
        f"<!-- x --!> {WITHHELD} -->",
        f"<xmp>{WITHHELD}</xmp><noembed>{WITHHELD}</noembed><noframes>{WITHHELD}</noframes>",
        f"<div hidden>{WITHHELD.upper()}</div>",
    ],
    ids=[
        "svg",
        "math",
        "srcdoc",
        "embed-pct",
        "srcset-double-pct",
        "textarea",
        "option",
        "input-title",
        "css",
        "js-concat",
        "js-hex",
        "js-template-regex",
        "cdata",
        "bogus-comment-end",
        "raw-text",
        "uppercase",
    ],
)
def test_copies_in_odd_places_are_scrubbed(fetch: Callable[..., httpx.Response], extra: str) -> None:
    response = fetch(html_page(page(extra=extra)))
    assert CTA in response.text and leaked(response.content) == []


@pytest.mark.parametrize(
    "article",
    [
        f"<article><p>{TEASER[0]}<!--more-->{SECRET[0]}</p>{paras(SECRET[1:])}</article>",
        f"<article><table><tr><td>{TEASER[0]}</td><td><!--more--></td><td>{SECRET[0]}</td></tr></table>"
        f"{paras(SECRET[1:])}</article>",
        f"<article><table>{''.join(f'<tr><td><p>{x}</p></td></tr>' for x in TEASER + SECRET)}</table></article>",
        f"<article><ul>{''.join(f'<li>{x}</li>' for x in TEASER + SECRET)}</ul></article>",
        f"<article>{paras(TEASER[:1])}<article><p>{TEASER[1]}</p><!--more-->{paras(SECRET[:1])}</article>"
        f"{paras(SECRET[1:])}</article>",
        f"<article>{'<br>'.join(TEASER + SECRET)}</article>",
        f"<article>{paras(TEASER)}{WITHHELD}</article>",
        f"<article>{''.join(f'<div>{x}</div>' for x in TEASER + SECRET)}</article>",
    ],
    ids=["more-in-p", "more-in-td", "table", "list", "nested-article", "br-only", "bare-text", "divs"],
)
def test_teaser_shapes_are_cut(fetch: Callable[..., httpx.Response], article: str) -> None:
    response = fetch(html_page(page(article, extra="<!--more-->")))
    assert CTA in response.text and leaked(response.content) == []


# =========================================================================== routes closed after a read of the code


@pytest.mark.parametrize("where", ["<div>{}</div>", "<noscript>{}</noscript>", "<template>{}</template>"])
def test_a_free_meta_tag_in_the_body_frees_nothing(fetch: Callable[..., httpx.Response], where: str) -> None:
    """Only the head may declare a page free: anyone who can post markup in the body must not."""
    tag = '<meta name="paywall" content="free">'
    response = fetch(html_page(page(ARTICLE, extra=where.format(tag))))
    assert CTA in response.text
    assert leaked(response.content) == []


def test_members_only_header_beats_a_free_meta_tag_and_the_meter(fetch: Callable[..., httpx.Response]) -> None:
    doc = page().replace("<head>", '<head><meta name="paywall" content="free">', 1).encode()
    headers = ((b"content-type", b"text/html"), (b"x-paywall", b"members"))
    response = fetch(raw_app(doc, headers=headers), free_articles=5)
    assert leaked(response.content) == []
    assert CTA in response.text and "x-paywall" not in response.headers


@pytest.mark.parametrize("path", ["/free/..\\story", "/free/..;/story", "/free/..;x/story"])
def test_excluded_prefix_cannot_be_left_with_backslashes_or_path_parameters(
    fetch: Callable[..., httpx.Response], path: str
) -> None:
    """IIS resolves ``\\``, Tomcat drops ``;params``: such paths are judged like any page, never excluded."""
    response = fetch(html_page(page()), path, exclude_paths=("/free/",))
    assert CTA in response.text
    assert leaked(response.content) == []


def test_readers_stopped_by_the_ip_cap_are_not_told_they_read_their_articles(
    fetch: Callable[..., httpx.Response],
) -> None:
    """A new device on an address past its daily cap sees the trial offer, not "you have read your 3"."""
    first = fetch(html_page(page()), free_articles=3, meter_ip_daily_cap=1)
    assert CTA not in first.text, "the first device's first article is free"
    second = fetch(html_page(page()), free_articles=3, meter_ip_daily_cap=1)  # cookies cleared: a new device
    assert leaked(second.content) == []
    assert CTA in second.text and "free articles this month" not in second.text
