"""Measure the HTML engine on real publisher pages, with default settings and no article selector.

Each corpus folder holds ``source.html`` (the page as served) and
``expected.html`` (the article's own content, as a careful extractor found
it). Every page is gated as a non-member's first view would be, with a body
that differs from any seen before (a fresh token in it, as real pages carry),
and judged as an attacker and a reader would judge it:

* tail leak: any 8-word run of the last 40% of the expected article (that
  the first 60% and the page's ``<title>`` do not also hold: the title is
  kept on purpose) anywhere in the response (raw, entities decoded,
  JSON/JS/CSS escapes decoded, markup stripped). Articles under 150 words are left out of this measure (their
  last 40% is a sentence or two);
* teaser shown: at least 20 words (or half the opening, for short articles)
  of the first 30% of the article in the visible text, in runs of 4 words;
* page kept: the ``<title>`` unchanged and at least 90% of the links in
  ``<nav>`` and ``<header>`` still there;
* found / precision / recall: whether the engine found an article, and how
  its words compare with the expected article's;
* cost: the engine's time for the page (parse, detect, cut, sweep,
  serialise) against one ``lxml.html`` parse and serialisation of the same
  page, measured in the same run, and the ratio.

Usage: ``python bench/corpus.py [--corpus ../shared/corpus] [--teaser 2] [--page NAME]``
(a relative path is taken from the current directory, else from the
repository root).
"""

from __future__ import annotations

import argparse
import html
import secrets
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import lxml.html
from selectolax.lexbor import LexborHTMLParser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paywall.engine import Page  # noqa: E402
from paywall.engine.text import decode_layers, shingles, words  # noqa: E402
from paywall.errors import RewriteError  # noqa: E402

TAIL_RUN = 8
TAIL_SHARE = 0.4
TAIL_MIN_WORDS = 150
TEASER_SHARE = 0.3
TEASER_WORDS = 20
TEASER_RUN = 4
CHROME_LINKS = 0.9
REAL_PAGE_BYTES = 20 * 1024
"""Pages this large are whole publisher pages; the small ones isolate one shape each."""
CTA_TEXT = "Need to access the insight? Start your 7-day free trial now"
CTA = f'<aside class="paywall-cta" data-paywall-cta><p>{CTA_TEXT}</p><a href="/_paywall/trial">Start</a></aside>'
_INVISIBLE = "script, style, noscript, template, head, [hidden], [aria-hidden=true], .paywall-cta"


@dataclass
class Row:
    name: str
    size: int = 0
    words: int = 0
    found: bool = False
    precision: float = 0.0
    recall: float = 0.0
    tail_runs: int = 0
    tail_leaked: int = 0
    teaser_words: int = 0
    teaser_needed: int = 0
    title_kept: bool = False
    links_kept: float = 1.0
    ms: float = 0.0
    lxml_ms: float = 0.0
    error: str = ""

    @property
    def teaser_ok(self) -> bool:
        return self.teaser_words >= self.teaser_needed

    @property
    def tail_ok(self) -> bool:
        return self.words < TAIL_MIN_WORDS or self.tail_leaked == 0

    @property
    def kept_ok(self) -> bool:
        return self.title_kept and self.links_kept >= CHROME_LINKS


def visible_text(markup: str) -> str:
    tree = LexborHTMLParser(markup, scripting=True)
    for node in tree.css(_INVISIBLE):
        node.decompose()
    body = tree.body
    return body.text(separator=" ") if body is not None else ""


def readings(out: str) -> list[str]:
    """The response as a browser, a scraper or a script could read it."""
    return [out, html.unescape(out), decode_layers(out)]


def nav_links(markup: str) -> Counter[str]:
    tree = LexborHTMLParser(markup, scripting=True)
    found: Counter[str] = Counter()
    for link in tree.css("nav a[href], header a[href]"):
        found[link.attributes.get("href") or ""] += 1
    return found


def title(markup: str) -> str:
    node = LexborHTMLParser(markup).css_first("title")
    return node.text().strip() if node is not None else ""


def best_of(fn: object, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        timings.append(time.perf_counter() - started)
    return min(timings) * 1000


def with_nonce(source: bytes) -> bytes:
    """The page as another request would get it: a fresh token in the head, as real pages carry."""
    token = secrets.token_hex(16).encode()
    at = source.lower().find(b"</head>")
    tag = b'<meta name="csrf-token" content="' + token + b'">'
    return source[:at] + tag + source[at:] if at >= 0 else tag + source


def measure(folder: Path, teaser: int, repeat: int) -> Row:
    row = Row(folder.name)
    source = (folder / "source.html").read_bytes()
    expected = words(visible_text((folder / "expected.html").read_text("utf-8", errors="replace")))
    row.words = len(expected)
    row.size = len(source)
    text = source.decode("utf-8", errors="replace")
    row.lxml_ms = best_of(lambda: lxml.html.tostring(lxml.html.document_fromstring(text)), repeat)

    def first_view() -> tuple[Page, bytes]:
        page = Page.parse(with_nonce(source), None)
        out = page.gate(teaser_paragraphs=teaser, cta_html=CTA) if page.has_article() else source
        return page, out

    try:
        found_words = words(Page.parse(source, None).article_text())
        page, out_bytes = first_view()
        row.ms = best_of(first_view, repeat)
    except RewriteError as exc:
        row.error = str(exc)[:70]
        return row
    row.found = page.has_article()
    if found_words and expected:
        common = sum((Counter(found_words) & Counter(expected)).values())
        row.precision, row.recall = common / len(found_words), common / len(expected)
    out = out_bytes.decode("utf-8", errors="replace")

    split = int(len(expected) * (1 - TAIL_SHARE))
    # Runs the tail shares with the opening (test pages repeat paragraphs) are not the tail's own, nor
    # those of the page's <title>, which "page kept" requires unchanged (a closing line that quotes the
    # headline).
    tail_runs = shingles(expected[split:], TAIL_RUN) - shingles(expected[:split], TAIL_RUN)
    tail_runs -= shingles(words(title(text)), TAIL_RUN)
    present: set[tuple[str, ...]] = set()
    for reading in readings(out):
        present |= shingles(words(reading), TAIL_RUN) & tail_runs
    row.tail_runs, row.tail_leaked = len(tail_runs), len(present)

    opening = expected[: max(1, int(len(expected) * TEASER_SHARE))]
    row.teaser_needed = min(TEASER_WORDS, (len(opening) + 1) // 2)
    shown = words(visible_text(out))
    shown_runs = shingles(shown, TEASER_RUN)
    covered = [False] * len(opening)
    if len(opening) < TEASER_RUN:
        covered = [word in shown for word in opening]
    for i in range(len(opening) - TEASER_RUN + 1):
        if tuple(opening[i : i + TEASER_RUN]) in shown_runs:
            covered[i : i + TEASER_RUN] = [True] * TEASER_RUN
    row.teaser_words = sum(covered)

    row.title_kept = title(text) == title(out)
    before = nav_links(text)
    if before:
        row.links_kept = sum((before & nav_links(out)).values()) / sum(before.values())
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", default="../shared/corpus")
    parser.add_argument("--teaser", type=int, default=2, help="teaser_paragraphs (default 2)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per page; the best counts")
    parser.add_argument("--page", action="append", help="only this page (repeatable)")
    args = parser.parse_args(argv)
    corpus = Path(args.corpus)
    if not corpus.is_absolute() and not corpus.is_dir():
        corpus = ROOT / corpus
    if not corpus.is_dir():
        print(f"no corpus folder at {corpus}: pass --corpus DIR (folders with source.html and expected.html)")
        return 2
    folders = sorted(p for p in corpus.iterdir() if (p / "source.html").is_file())
    if args.page:
        folders = [p for p in folders if p.name in args.page]
    if not folders:
        print(f"no pages under {corpus}")
        return 2
    rows = [measure(folder, args.teaser, args.repeat) for folder in folders]
    header = (
        f"{'page':28} {'words':>5} {'found':>5} {'prec':>5} {'rec':>5} {'tail':>9} {'teaser':>7} "
        f"{'title':>5} {'links':>5} {'ms':>6} {'lxml':>5} {'ratio':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        if r.error:
            print(f"{r.name:28} {r.words:5d} error (fail closed): {r.error}")
            continue
        tail = f"{r.tail_leaked}/{r.tail_runs}" if r.words >= TAIL_MIN_WORDS else "-"
        flag = "" if (r.tail_ok and r.teaser_ok and r.kept_ok) else "  <-"
        print(
            f"{r.name:28} {r.words:5d} {'yes' if r.found else 'no':>5} {r.precision:5.2f} {r.recall:5.2f} "
            f"{tail:>9} {r.teaser_words:3d}/{r.teaser_needed:<3d} {'yes' if r.title_kept else 'NO':>5} "
            f"{r.links_kept:5.2f} {r.ms:6.2f} {r.lxml_ms:5.2f} {r.ms / max(r.lxml_ms, 1e-9):5.1f}{flag}"
        )
    print("-" * len(header))
    n = len(rows)
    ok = [r for r in rows if not r.error]
    measured = [r for r in ok if r.words >= TAIL_MIN_WORDS]
    print(f"pages: {n}  article found: {sum(r.found for r in ok)}  fail closed: {n - len(ok)}")
    print(
        f"tail leak (8-word run of the last 40%, articles of {TAIL_MIN_WORDS}+ words): "
        f"{sum(not r.tail_ok for r in measured)} of {len(measured)} pages"
    )
    print(f"teaser shown: {sum(r.teaser_ok for r in ok)} of {n} pages ({sum(r.teaser_ok for r in ok) / n:.0%})")
    kept = sum(r.kept_ok for r in ok)
    print(f"page kept (title, 90% of nav/header links): {kept} of {n} ({kept / n:.0%})")
    real = [r for r in ok if r.size >= REAL_PAGE_BYTES]
    if real:
        ratios = [r.ms / r.lxml_ms for r in real]
        print(
            f"engine per first view, {len(real)} full pages ({REAL_PAGE_BYTES // 1024} KB and more): "
            f"median {statistics.median(r.ms for r in real):.2f} ms, "
            f"median ratio to one lxml parse+serialise {statistics.median(ratios):.1f}x, max {max(ratios):.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
