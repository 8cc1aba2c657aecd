"""Measure the HTML engine on real publisher pages, with no article selector.

Each corpus folder holds ``source.html`` (the page as served) and
``expected.html`` (the article's own content, as a careful extractor found
it). For every page this reports:

* found: whether an article was found at all (pages without one pass through);
* precision / recall of the found article's words against the expected text;
* leaks: 6-word runs of the expected text beyond the kept teaser (after the
  last place the teaser reaches in the expected text, so a lede shown above
  the article does not count; the teaser's own runs never count) that are
  still anywhere in the gated output (raw bytes, HTML-unescaped, JSON-unescaped),
  split into runs in visible text and runs only in hidden places (scripts,
  metadata, attributes, comments);
* chrome: share of the page's words outside the expected article that are
  still visible after gating;
* time to parse and gate.

Usage: ``python bench/corpus.py [--corpus ../shared/corpus] [--teaser 3] [--finder mod:func]``
(a relative path is taken from the current directory, else from the
repository root).
"""

from __future__ import annotations

import argparse
import html
import importlib
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bs4 import BeautifulSoup  # noqa: E402

from paywall import leaks  # noqa: E402
from paywall.errors import RewriteError  # noqa: E402
from paywall.rewrite import ArticleFinder, Page  # noqa: E402

RUN = 6
CTA_TEXT = "Need to access the insight? Start your 7-day free trial now"
CTA = f'<div class="paywall-cta"><p>{CTA_TEXT}</p><a href="/_paywall/trial?next=/a">Start</a></div>'


@dataclass
class Row:
    name: str
    found: bool
    precision: float
    recall: float
    leak_runs: int
    leak_visible: int
    beyond_runs: int
    chrome: float
    ms: float
    error: str = ""


def visible_words(markup: str) -> list[str]:
    soup = BeautifulSoup(markup, "lxml")
    return leaks.words(" ".join(leaks.visible_pieces(soup)))


def visible_words_outside_cta(markup: str) -> list[str]:
    soup = BeautifulSoup(markup, "lxml")
    for cta in soup.select(".paywall-cta"):
        cta.decompose()
    return leaks.words(" ".join(leaks.visible_pieces(soup)))


def output_runs(out: str) -> set[tuple[str, ...]]:
    """6-word runs of the output read raw, HTML-unescaped and fully unescaped."""
    runs: set[tuple[str, ...]] = set()
    for variant in (out, html.unescape(out), leaks.decode_layers(out)):
        runs |= leaks.shingles(leaks.words(variant), RUN)
    return runs


def beyond_teaser(expected: list[str], teaser_runs: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """Runs of the expected article after the last place the kept teaser reaches.

    Text the page shows above the teaser (a lede outside the article element)
    is not beyond the teaser; the teaser's own runs never count.
    """
    last = -1
    for i in range(len(expected) - RUN + 1):
        if tuple(expected[i : i + RUN]) in teaser_runs:
            last = i
    return leaks.shingles(expected[last + 1 :], RUN) - teaser_runs


def overlap(found: list[str], expected: list[str]) -> tuple[float, float]:
    if not found or not expected:
        return 0.0, 0.0
    common = sum((Counter(found) & Counter(expected)).values())
    return common / len(found), common / len(expected)


def measure(folder: Path, teaser: int, finder: ArticleFinder | None = None) -> Row:
    source = (folder / "source.html").read_bytes()
    expected_words = visible_words((folder / "expected.html").read_text("utf-8", errors="replace"))
    started = time.perf_counter()
    try:
        page = Page.parse(source, None, finder=finder)
        found = page.has_article()
        found_words = leaks.words(page.article_text())
        out_bytes = page.gate(teaser_paragraphs=teaser, cta_html=CTA) if found else source
    except RewriteError as exc:
        ms = (time.perf_counter() - started) * 1000
        return Row(folder.name, False, 0, 0, 0, 0, 0, 0, ms, error=str(exc)[:60])
    ms = (time.perf_counter() - started) * 1000
    precision, recall = overlap(found_words, expected_words)
    out = out_bytes.decode("utf-8", errors="replace")
    teaser_runs = leaks.shingles(leaks.words(page.report.teaser_text), RUN) if found else set()
    beyond = beyond_teaser(expected_words, teaser_runs)
    present = beyond & output_runs(out)
    visible = beyond & leaks.shingles(visible_words_outside_cta(out), RUN)
    source_text = source.decode("utf-8", errors="replace")
    chrome_words = Counter(visible_words(source_text)) - Counter(expected_words)
    after = Counter(visible_words_outside_cta(out))
    kept = sum((chrome_words & after).values())
    chrome = kept / max(1, sum(chrome_words.values()))
    return Row(folder.name, found, precision, recall, len(present), len(visible), len(beyond), chrome, ms)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", default="../shared/corpus")
    parser.add_argument("--teaser", type=int, default=3)
    parser.add_argument("--finder", help="module:function of an alternative article finder (soup -> tag | None)")
    args = parser.parse_args(argv)
    corpus = Path(args.corpus)
    if not corpus.is_absolute() and not corpus.is_dir():
        corpus = ROOT / corpus
    if not corpus.is_dir():
        print(
            f"no corpus folder at {corpus}: pass --corpus DIR (folders with source.html and expected.html)",
            file=sys.stderr,
        )
        return 2
    folders = sorted(p for p in corpus.iterdir() if (p / "source.html").is_file())
    if not folders:
        print(f"no pages under {corpus}", file=sys.stderr)
        return 2
    finder = None
    if args.finder:
        module, _, name = args.finder.partition(":")
        finder = getattr(importlib.import_module(module), name)
    rows = [measure(folder, args.teaser, finder) for folder in folders]
    header = (
        f"{'page':24} {'found':>5} {'prec':>5} {'recall':>6} {'leak6':>6} {'in-vis':>6} "
        f"{'beyond':>6} {'chrome':>6} {'ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        if r.error:
            print(f"{r.name:24} error: {r.error} ({r.ms:.0f} ms)")
            continue
        leak = f"{r.leak_runs:6d}" if r.found else f"{'pass':>6}"
        vis = f"{r.leak_visible:6d}" if r.found else f"{'':>6}"
        print(
            f"{r.name:24} {'yes' if r.found else 'no':>5} {r.precision:5.2f} {r.recall:6.2f} {leak} {vis} "
            f"{r.beyond_runs:6d} {r.chrome:6.2f} {r.ms:7.1f}"
        )
    gated = [r for r in rows if r.found and not r.error]
    print("-" * len(header))
    print(f"pages: {len(rows)}  article found: {len(gated)}  errors (fail closed): {sum(1 for r in rows if r.error)}")
    if gated:
        print(
            f"on gated pages: mean precision {statistics.mean(r.precision for r in gated):.2f}, "
            f"mean recall {statistics.mean(r.recall for r in gated):.2f}, "
            f"mean chrome kept {statistics.mean(r.chrome for r in gated):.2f}"
        )
        leaking = [r for r in gated if r.leak_runs]
        print(
            f"gated pages with any beyond-teaser 6-word run in the output: {len(leaking)}"
            f" (runs: {sum(r.leak_runs for r in gated)} of {sum(r.beyond_runs for r in gated)},"
            f" of which in visible text: {sum(r.leak_visible for r in gated)})"
        )
    times = [r.ms for r in rows]
    print(
        f"time per page: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms, total {sum(times):.0f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
