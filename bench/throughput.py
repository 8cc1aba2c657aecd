"""Per-request cost of the middleware, against the same app without it, in one run.

Requests are driven straight through the ASGI interface (no sockets), so the
figures isolate what the middleware adds. Each scenario prints the mean time per
request with and without the middleware, their ratio, and the peak memory one
request allocates (tracemalloc). Gated pages are measured twice: with the cache
of gated output (a popular article) and with it off (every request parses and
cuts, as for a page seen for the first time).

    python bench/throughput.py [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paywall import PaywallMiddleware, PaywallSettings  # noqa: E402
from tests.apps import feeds_site  # noqa: E402
from tests.apps.gate_app import site  # noqa: E402
from tests.asgi import http_scope  # noqa: E402

SCENARIOS: list[tuple[str, str, dict[str, Any]]] = [
    ("image (pass-through)", "/image.png", {}),
    ("JSON API with the article's text", "/api", {}),
    ("HTML without article", "/", {}),
    ("HTML without article, cache off", "/", {"cold": True}),
    ("free article (header)", "/free-header", {}),
    ("member article", "/article", {"member": True}),
    ("gated article", "/article", {}),
    ("gated article, cache off", "/article", {"cold": True}),
    ("gated article, insights off", "/article", {"quiet": True}),
    ("gated article, 2 variants + form", "/article", {"experiment": True}),
    ("gated leaky article", "/leaky", {}),
    ("gated leaky article, cache off", "/leaky", {"cold": True}),
    ("gated 1.3 MB article", "/huge", {}),
    ("gated 1.3 MB article, cache off", "/huge", {"cold": True}),
    ("JSON without article", "/api/health", {"feeds": True}),
    ("JSON API, WordPress post", "/wp-json/wp/v2/posts/1", {"feeds": True}),
    ("JSON API, WordPress post, cache off", "/wp-json/wp/v2/posts/1", {"feeds": True, "cold": True}),
    ("RSS feed, 4 items", "/feed/", {"feeds": True}),
    ("RSS feed, 4 items, cache off", "/feed/", {"feeds": True, "cold": True}),
    ("member RSS feed", "/feed/", {"feeds": True, "member": True}),
]


async def call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    size = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal size
        if message["type"] == "http.response.body":
            size += len(message.get("body", b""))

    scope = http_scope(path, headers=headers, host=b"bench.local", client=("127.0.0.1", 5000))
    await app(scope, receive, send)
    return size


async def measure(app: Any, path: str, headers: list[tuple[bytes, bytes]], requests: int) -> tuple[float, int]:
    for _ in range(5):
        await call(app, path, headers)
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        await call(app, path, headers)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    await call(app, path, headers)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.mean(times), peak


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base: dict[str, Any] = {
            "secret_key": "bench-secret-key-0123456789",
            "store": f"sqlite:///{tmp}/bench.db",
            "max_body_bytes": 8 * 1024 * 1024,
        }
        settings = {
            "anonymous": PaywallSettings(**base),
            "member": PaywallSettings(**base, member_resolver=lambda request: True),
            "cold": PaywallSettings(**base, gate_cache_bytes=0),
            "quiet": PaywallSettings(**base, insights=False),
            "experiment": PaywallSettings(**base, cta_variants=("a 1", "b 1 | Other words"), cta_inline_form=True),
        }
        print(f"{'scenario':38} {'bare ms':>9} {'paywall ms':>11} {'ratio':>7} {'peak KiB':>9} {'bare KiB':>9}")
        for name, path, options in SCENARIOS:
            app_site = feeds_site.site if options.get("feeds") else site
            kind = next((option for option in options if option != "feeds" and options[option]), "anonymous")
            app = PaywallMiddleware(app_site, settings=settings[kind])
            requests = max(args.requests // 20, 10) if "MB" in name else args.requests
            bare, bare_peak = await measure(app_site, path, [], requests)
            wrapped, peak = await measure(app, path, [], requests)
            print(
                f"{name:38} {bare * 1000:9.3f} {wrapped * 1000:11.3f} {wrapped / bare:7.1f}x "
                f"{peak / 1024:9.0f} {bare_peak / 1024:9.0f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
