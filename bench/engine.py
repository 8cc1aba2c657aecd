"""What the HTML engine costs on a non-member's first view, against one parse of the same page.

Real pages differ on every request (a CSRF token, a CSP nonce, an ad slot id),
so no cache keyed on the body helps: every view is a first view. For a news
page of about 100 KB (and, with ``--pages``, every page of a corpus folder)
this prints, measured in the same run:

* one ``lxml.html`` parse and serialisation of the page (the yardstick);
* the engine's first view: decode, parse, find the article, cut, sweep, serialise;
* a verified search crawler's view: decode, parse, find the article, mark it and
  its JSON-LD as gated, serialise (``Page.declare_full``);
* the first view of the same page rendered part on the server, part from its
  state (:func:`state_page`: the state holds every paragraph, the markup the
  first six), whose state loses the rest of the story;
* the same through the middleware, in-process, against the bare app serving the
  page from memory (a fresh token in every body);

and the peak memory (tracemalloc) of gating a 1.3 MB page.

    python bench/engine.py [--requests 200] [--pages ../shared/corpus]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.html

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paywall import PaywallMiddleware, PaywallSettings  # noqa: E402
from paywall.engine import Page  # noqa: E402

CTA = '<aside class="paywall-cta" data-paywall-cta><p>Need to access the insight?</p><a href="/t">Start</a></aside>'
SYLLABLES = [
    "ba",
    "ce",
    "di",
    "fo",
    "gu",
    "ha",
    "je",
    "ki",
    "lo",
    "mu",
    "na",
    "pe",
    "ri",
    "so",
    "tu",
    "va",
    "we",
    "xi",
    "yo",
    "zu",
    "bra",
    "cre",
    "dri",
    "flo",
    "gru",
]
COMMON = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
]


def word(seed: int) -> str:
    """A made-up word: the article's vocabulary is varied, as a real one is."""
    parts = [SYLLABLES[(seed // 27**i) % len(SYLLABLES)] for i in range(2 + seed % 3)]
    return "".join(parts)


def sentence(seed: int, length: int = 18) -> str:
    words = [COMMON[(seed + i) % len(COMMON)] if i % 3 == 1 else word(seed * 31 + i * 7) for i in range(length)]
    return " ".join(words).capitalize() + "."


def news_page(paragraphs: int = 24, padding: int = 60_000) -> str:
    """A news article page like a publisher's: chrome, scripts, styles, JSON-LD with the body, ~100 KB."""
    body = [" ".join(sentence(p * 10 + s) for s in range(4)) for p in range(paragraphs)]
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Grid", "articleBody": " ".join(body)}
    style = "".join(f".c{i}{{margin:{i % 7}px;padding:{i % 5}px;color:#{i:06x}}}" for i in range(padding // 60))
    script = "".join(f"window.t{i}=function(a,b){{return a<b?a:{i};}};" for i in range(padding // 120))
    nav = "".join(f"<li><a href='/section/{i}'>Section {i}</a></li>" for i in range(30))
    related = "".join(f"<li><a href='/story/{i}'>{sentence(900 + i, 8)}</a></li>" for i in range(12))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Grid backlog</title>"
        f"<meta name='description' content='{body[0][:150]}'><style>{style}</style>"
        f"<script type='application/ld+json'>{json.dumps(ld)}</script><script>{script}</script>"
        "<!--NONCE--></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header><main><article class='story'><h1>Grid backlog</h1>"
        + "".join(f"<p>{p}</p>" for p in body)
        + f"</article><aside class='related'><h2>Read more</h2><ul>{related}</ul></aside></main>"
        "<footer><p>Stay informed</p></footer></body></html>"
    )


def state_page(paragraphs: int = 24, items: int = 600) -> str:
    """The news page rendered part on the server, part from its state: its markup shows the story's first six
    paragraphs, and the application's state (a list of products first) holds every paragraph, as Portable Text
    blocks; no JSON-LD declares the whole story. The engine reads the state's structure up to the first copy
    and empties the rest of the story there."""
    page = news_page(paragraphs)
    ld = page.index("<script type='application/ld+json'>")
    page = page[:ld] + page[page.index("</script>", ld) + len("</script>") :]  # the state alone holds the rest
    body = [" ".join(sentence(p * 10 + s) for s in range(4)) for p in range(paragraphs)]
    blocks = [{"_type": "block", "children": [{"_type": "span", "text": text}]} for text in body]
    catalog = [{"id": n, "name": sentence(5000 + n, 5), "tags": ["new", "sale"]} for n in range(items)]
    state = json.dumps({"props": {"pageProps": {"catalog": catalog, "story": {"body": blocks}}}})
    start, end = page.index("<p>", page.index("<article")), page.index("</article>")
    page = page[:start] + "".join(f"<p>{p}</p>" for p in body[:6]) + "<div id='more'></div>" + page[end:]
    script = f"<script id='__NEXT_DATA__' type='application/json'>{state}</script>"
    return page.replace("<!--NONCE-->", f"<!--NONCE-->{script}")


def with_nonce(page: str) -> bytes:
    return page.replace("<!--NONCE-->", f"<meta name='csrf-token' content='{secrets.token_hex(16)}'>").encode()


def paired_ms(repeat: int, *fns: Callable[[], object]) -> list[float]:
    """The median ms of each of ``fns``, called in turn ``repeat`` times.

    Taking them in turn, rather than one after the other, lets each see the
    machine as the others do: on a machine shared with other work, the load
    and the clock change over seconds, and a ratio of two figures measured
    apart moves with them.
    """
    timings: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, timings, strict=True):
            started = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) * 1000 for spent in timings]


def engine_view(body: bytes) -> bytes:
    page = Page.parse(body, "utf-8")
    return page.gate(teaser_paragraphs=2, cta_html=CTA) if page.has_article() else body


def crawler_view(body: bytes) -> bytes:
    page = Page.parse(body, "utf-8")
    return page.declare_full() if page.has_article() else body


def lxml_view(body: bytes) -> bytes:
    return bytes(lxml.html.tostring(lxml.html.document_fromstring(body)))


GOOGLEBOT = b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


async def through(app: Any, requests: int, *, crawler: bool = False) -> float:
    """Mean ms per request of ``app`` (ASGI, in-process); ``crawler``: Googlebot from its published ranges."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/story",
        "raw_path": b"/story",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"news.example"), (b"accept", b"text/html")]
        + ([(b"user-agent", GOOGLEBOT)] if crawler else []),
        "client": ("66.249.66.1" if crawler else "127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    return (time.perf_counter() - started) * 1000 / requests


def site_for(page: str) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = with_nonce(page)
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pages", help="a corpus folder (page folders with source.html) to measure too")
    args = parser.parse_args(argv)
    page = news_page()
    body = with_nonce(page)
    print(f"news page: {len(body) / 1024:.0f} KB, body different on every request")
    lxml_ms, engine_ms, crawler_ms = paired_ms(
        args.requests,
        lambda: lxml_view(with_nonce(page)),
        lambda: engine_view(with_nonce(page)),
        lambda: crawler_view(with_nonce(page)),
    )
    print(f"  one lxml parse + serialise:   {lxml_ms:7.2f} ms")
    print(f"  engine, first view:           {engine_ms:7.2f} ms   {engine_ms / lxml_ms:5.1f}x lxml")
    print(f"  engine, a crawler's view:     {crawler_ms:7.2f} ms   {crawler_ms / lxml_ms:5.1f}x lxml")
    rendered = state_page()
    state_lxml, state_ms = paired_ms(
        args.requests, lambda: lxml_view(with_nonce(rendered)), lambda: engine_view(with_nonce(rendered))
    )
    print(
        f"  the story in the page's state ({len(with_nonce(rendered)) / 1024:.0f} KB, its opening in the markup): "
        f"engine {state_ms:.2f} ms, {state_ms / state_lxml:.1f}x lxml"
    )
    store = f"sqlite:///{tempfile.mkdtemp(prefix='paywall-bench-')}/paywall.db"
    settings = PaywallSettings(secret_key=secrets.token_urlsafe(32), store=store, insights=False)
    bare = site_for(page)
    gated = PaywallMiddleware(bare, settings=settings)
    bare_ms = asyncio.run(through(bare, args.requests))
    paywall_ms = asyncio.run(through(gated, args.requests))
    print(f"  bare app, per request:        {bare_ms:7.2f} ms")
    print(
        f"  through the middleware:       {paywall_ms:7.2f} ms   {paywall_ms / lxml_ms:5.1f}x lxml, "
        f"throughput {bare_ms / paywall_ms:.2f} of the bare app's"
    )
    crawled_ms = asyncio.run(through(gated, args.requests, crawler=True))
    print(
        f"  a verified crawler, per request: {crawled_ms:4.2f} ms   {crawled_ms / lxml_ms:5.1f}x lxml, "
        f"throughput {bare_ms / crawled_ms:.2f} of the bare app's"
    )

    huge = news_page(paragraphs=400, padding=900_000)
    huge_body = with_nonce(huge)
    tracemalloc.start()
    engine_view(huge_body)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    huge_lxml, huge_ms = paired_ms(5, lambda: lxml_view(with_nonce(huge)), lambda: engine_view(with_nonce(huge)))
    print(
        f"{len(huge_body) / 1024 / 1024:.1f} MB page: engine {huge_ms:.1f} ms ({huge_ms / huge_lxml:.1f}x lxml), "
        f"peak memory {peak / 1024 / 1024:.1f} MB (Python allocations)"
    )

    if args.pages:
        folder = Path(args.pages)
        ratios = []
        for source in sorted(folder.glob("*/source.html")):
            data = source.read_bytes()
            if len(data) < 20 * 1024:
                continue
            text = data.decode("utf-8", "replace")
            one, mine = paired_ms(5, lambda: lxml_view(text.encode()), lambda: engine_view(data))  # noqa: B023
            ratios.append(mine / one)
            print(f"  {source.parent.name:28} {len(data) / 1024:6.0f} KB  lxml {one:6.2f} ms  engine {mine:7.2f} ms")
        if ratios:
            print(f"corpus pages: median {statistics.median(ratios):.1f}x one lxml parse + serialise")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
