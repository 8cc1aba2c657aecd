"""``paywall inspect``: what the engine makes of one page, for a publisher checking their site.

Runs the page through the same engine and settings as the middleware
(``article_selector`` rules for the page's path, ``teaser_paragraphs``, the
call to action) and reports: which element was taken for the article (a CSS
path) and how it was found, the first and last words of the teaser, how many
words are withheld, every copy found and swept and where, and the time each
stage took. Off the request path, the gated page is also read back with
BeautifulSoup's own parser, as a scraper would, to show that another parser
finds no run of the withheld text that the engine's parser does not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import groupby
from urllib.parse import urlsplit

from bs4 import BeautifulSoup
from selectolax.lexbor import LexborHTMLParser

from paywall.engine import Page
from paywall.engine.text import shingles, words
from paywall.errors import RewriteError
from paywall.pages.cta import render_cta
from paywall.settings import PaywallSettings, selector_rules, selectors_for

CROSS_CHECK_RUN = 8
"""Words per run when the gated page is read back with another parser."""
EDGE_WORDS = 12
"""Words of the teaser shown at each end."""


@dataclass
class Inspection:
    """What the engine made of one page."""

    source: str
    size: int
    verdict: str = ""
    article_path: str = ""
    how_found: str = ""
    cut: str = ""
    teaser_start: str = ""
    teaser_end: str = ""
    teaser_words: int = 0
    withheld_words: int = 0
    after_story: int = 0
    copies: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    total_ms: float = 0.0
    cross_check_runs: int = 0
    error: str = ""
    gated: bytes = b""

    def lines(self) -> list[str]:
        out = [f"page: {self.source} ({self.size:,} bytes)", f"verdict: {self.verdict}"]
        if self.error:
            out.append(f"refused: {self.error} (readers get the call to action alone: fail closed)")
        if self.article_path:
            out.append(f"article: {self.article_path}  (found by {self.how_found})")
        if self.verdict == "article":
            out.append(f"cut: {self.cut}")
            out.append(f"teaser: {self.teaser_words} words, from \u201c{self.teaser_start}\u201d")
            out.append(f"        to \u201c{self.teaser_end}\u201d")
            after = (
                f" ({self.after_story} of them after the story: a note, a bio, comments)" if self.after_story else ""
            )
            out.append(f"withheld: {self.withheld_words} words{after}")
            if self.copies:
                out.append(f"copies swept: {len(self.copies)}")
                # A place repeated in a row (a text written a letter per element) is one line.
                for place, same in groupby(self.copies):
                    count = sum(1 for _ in same)
                    out.append(f"  - {place}" + (f" ({count} in a row)" if count > 1 else ""))
            else:
                out.append("copies swept: none found")
            verdict = (
                "none" if not self.cross_check_runs else f"{self.cross_check_runs} (a parser difference: report it)"
            )
            runs = f"withheld {CROSS_CHECK_RUN}-word runs"
            out.append(f"{runs} another parser (BeautifulSoup) reads and ours does not: {verdict}")
        stages = ", ".join(f"{name} {ms:.2f} ms" for name, ms in self.timings.items())
        out.append(f"time: {self.total_ms:.2f} ms ({stages})")
        return out


def inspect_page(body: bytes, settings: PaywallSettings, *, source: str, charset: str | None = None) -> Inspection:
    """Gate ``body`` as a non-member's first view would be gated, and report how."""
    report = Inspection(source=source, size=len(body))
    path = urlsplit(source).path if "://" in source else "/"
    selectors = selectors_for(selector_rules(settings.article_selector), path)
    started = time.perf_counter()
    try:
        page = Page.parse(body, charset, selector=selectors)
        if page.declared_free():
            report.verdict = "free (<meta name=paywall content=free>)"
        elif not page.has_article():
            report.verdict = "no article: served whole"
        else:
            report.verdict = "article"
            cta = render_cta(settings, "offer", path)
            report.gated = page.gate(
                teaser_paragraphs=settings.teaser_paragraphs, cta_html=cta, gated_class=settings.gated_class
            )
    except RewriteError as exc:
        report.verdict = "refused"
        report.error = str(exc)
        report.total_ms = (time.perf_counter() - started) * 1000
        return report
    report.total_ms = (time.perf_counter() - started) * 1000
    gate = page.report
    report.timings = gate.timings
    report.article_path, report.how_found, report.cut = gate.article_path, gate.how_found, gate.cut
    if report.verdict == "article":
        teaser = gate.teaser_text.split()
        report.teaser_words = len(words(gate.teaser_text))
        report.teaser_start = " ".join(teaser[:EDGE_WORDS])
        report.teaser_end = " ".join(teaser[-EDGE_WORDS:])
        report.withheld_words = gate.withheld_words
        report.after_story = gate.after_story
        report.copies = list(gate.swept.places)
        report.cross_check_runs = _cross_check(report.gated, gate.withheld, gate.teaser_text)
    return report


def _cross_check(gated: bytes, withheld: list[str], teaser: str) -> int:
    """Withheld runs of words that BeautifulSoup's parser reads in the gated page and Lexbor's does not.

    Runs both read are the page's own chrome (a related story's headline the
    article also linked to), which the sweep leaves on purpose; a run only the
    other parser reads is text hidden from the engine by a parser difference (0 is right).
    """
    secret = shingles(words(" ".join(withheld)), CROSS_CHECK_RUN) - shingles(words(teaser), CROSS_CHECK_RUN)
    if not secret:
        return 0
    text = gated.decode("utf-8", "replace")
    soup = BeautifulSoup(text, "html.parser")
    theirs = _runs([soup.get_text(" ")], secret)
    for tag in soup.find_all(True):
        theirs |= _runs([" ".join(v) if isinstance(v, list) else str(v) for v in tag.attrs.values()], secret)
    if not theirs:
        return 0
    tree = LexborHTMLParser(text, scripting=True)
    ours = _runs([tree.root.text(separator=" ") if tree.root is not None else ""], secret)
    for node in tree.root.traverse() if tree.root is not None else ():
        ours |= _runs([value or "" for value in node.attributes.values()], secret)
    return len(theirs - ours)


def _runs(texts: list[str], secret: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for text in texts:
        if len(text) > 20:
            found |= shingles(words(text), CROSS_CHECK_RUN) & secret
    return found
