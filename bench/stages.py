"""Where a non-member's first view spends its time: the engine's stages, and the sweep's parts, per page.

For the 88 KB news page of ``bench/engine.py`` and the 100 KB article of
``bench/http_load.py`` (600 identical short paragraphs), this gates the page
``--requests`` times (a fresh token in every body) and prints the median of
each stage that :attr:`paywall.engine.page.GateReport.timings` records. With
``--parts``, the functions inside the fingerprint and the sweep are timed too
(each wrapped for the run: the wrappers cost a little, so the stage figures
are taken in a run without them).

    python bench/stages.py [--requests 200] [--parts]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine import CTA, news_page, with_nonce  # noqa: E402
from bench.http_load import ARTICLE  # noqa: E402
from paywall.engine import Page, fingerprint, locate, page, sweep  # noqa: E402

STAGES = ("decode", "parse", "detect", "cut", "fingerprint", "sweep")
PARTS: tuple[tuple[Any, str], ...] = (
    (page, "decode_body"),
    (fingerprint.Fingerprint, "build"),
    (fingerprint, "streams"),
    (locate, "suspects"),
    (locate, "copies"),
    (locate, "places"),
    (locate.Places, "confirmed"),
    (sweep, "sweep_places"),
    (locate, "recheck"),
)


def gate(body: bytes) -> Page:
    view = Page.parse(body, "utf-8")
    view.gate(teaser_paragraphs=2, cta_html=CTA)
    return view


@contextmanager
def timed_parts(spent: dict[str, list[float]]) -> Iterator[None]:
    """Each function of :data:`PARTS` wrapped to add its time per call to ``spent`` (restored after)."""
    saved: list[tuple[Any, str, Any]] = []
    for owner, name in PARTS:
        original = owner.__dict__[name]
        function = original.__func__ if isinstance(original, classmethod) else original

        def wrapper(*args: Any, _f: Callable[..., Any] = function, _n: str = name, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_n].append((time.perf_counter() - started) * 1000)

        setattr(owner, name, classmethod(wrapper) if isinstance(original, classmethod) else wrapper)
        saved.append((owner, name, original))
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def measure(name: str, make: Callable[[], bytes], requests: int, parts: bool) -> None:
    timings: dict[str, list[float]] = defaultdict(list)
    totals: list[float] = []
    for _ in range(requests):
        body = make()
        started = time.perf_counter()
        view = gate(body)
        totals.append((time.perf_counter() - started) * 1000)
        for stage, ms in view.report.timings.items():
            timings[stage].append(ms)
    row = "  ".join(f"{stage} {statistics.median(timings[stage]):.3f}" for stage in STAGES)
    print(f"{name}: {row}  | first view {statistics.median(totals):.2f} ms (median of {requests})")
    if not parts:
        return
    spent: dict[str, list[float]] = defaultdict(list)
    with timed_parts(spent):
        for _ in range(requests):
            gate(make())
    for part, calls in spent.items():
        print(f"    {part:14} {sum(calls) / requests:7.3f} ms per view ({len(calls) / requests:.1f} calls)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--parts", action="store_true", help="time the functions inside the stages too")
    args = parser.parse_args(argv)
    news = news_page()
    article = ARTICLE.decode()
    measure("news page (88 KB)", lambda: with_nonce(news), args.requests, args.parts)
    measure(
        "http_load article (100 KB)",
        lambda: article.replace("<title>", f"<title>{time.perf_counter_ns()} ", 1).encode(),
        args.requests,
        args.parts,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
