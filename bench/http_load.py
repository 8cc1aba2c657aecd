"""Requests per second through a real uvicorn server, with and without the paywall, in one run.

Starts the test site twice on loopback (bare, and behind PaywallMiddleware), sends
the same bounded number of requests to each with a fixed concurrency, and prints
throughput, median and 99th-percentile latency, and the ratio to the bare site.
Every gated response is also checked for words from beyond the teaser. The
client runs on the same machine, so on a small machine it shares the CPU with
the server and the ratios understate the middleware's own cost;
``bench/throughput.py`` isolates that.

    python bench/http_load.py [--requests 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.apps.gate_app import SECRET_WORDS  # noqa: E402
from tests.servers import run_uvicorn  # noqa: E402

SCENARIOS = [
    ("image", "/image.png", {}),
    ("HTML without article", "/", {}),
    ("gated article", "/article", {}),
    ("member article", "/article", {"x-bench-member": "1"}),
]


async def hammer(
    base: str, path: str, headers: dict[str, str], requests: int, concurrency: int
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    leaks = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal leaks
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                response = await client.get(path, headers=headers)
                latencies.append(time.perf_counter() - start)
                response.raise_for_status()
                if not headers and any(w in response.text for w in SECRET_WORDS) and path == "/article":
                    leaks += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return requests / elapsed, latencies, leaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "PAYWALL_SECRET_KEY": "bench-secret-key-0123456789",
            "PAYWALL_STORE": f"sqlite:///{tmp}/bench.db",
            "PAYWALL_MEMBER_RESOLVER": "bench.http_load:is_member",
        }
        with (
            run_uvicorn("tests.apps.gate_app:site") as bare,
            run_uvicorn("tests.apps.gate_app:build_app", env, factory=True) as paywalled,
        ):
            print(
                f"{'scenario':24} {'bare req/s':>11} {'paywall req/s':>14} {'ratio':>6} "
                f"{'p50 ms':>7} {'p99 ms':>7} {'leaks':>6}"
            )
            for name, path, headers in SCENARIOS:
                bare_rps, _, _ = asyncio.run(hammer(bare, path, headers, args.requests, args.concurrency))
                rps, latencies, leaks = asyncio.run(hammer(paywalled, path, headers, args.requests, args.concurrency))
                latencies.sort()
                p99 = latencies[int(len(latencies) * 0.99) - 1]
                print(
                    f"{name:24} {bare_rps:11.0f} {rps:14.0f} {rps / bare_rps:6.2f} "
                    f"{statistics.median(latencies) * 1000:7.1f} {p99 * 1000:7.1f} {leaks:6d}"
                )


def is_member(request: object) -> bool:
    """The benchmark's member resolver: a header marks members."""
    headers = getattr(request, "headers", {})
    return bool(headers.get("x-bench-member"))


if __name__ == "__main__":
    main()
