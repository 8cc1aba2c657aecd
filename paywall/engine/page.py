"""A parsed page that can be gated once: the engine's stages behind one small interface.

Stages, each a module: :mod:`~paywall.engine.decode` (bytes to text as a
browser decodes them), parse (Lexbor, the HTML5 tree a browser builds,
scripting on), :mod:`~paywall.engine.outline` and
:mod:`~paywall.engine.detect` (where the article is),
:mod:`~paywall.engine.cut` (the teaser), :mod:`~paywall.engine.structured`
(the gated part declared to search engines), :mod:`~paywall.engine.sweep`
(copies elsewhere), then serialisation. A verified search crawler's view
(:meth:`Page.declare_full`) is the parse, the declaration and a serialisation.
A non-member's first view costs one parse, one pass over the page's text, one
serialisation and a search of its bytes, plus, on a page that carries copies
of the article, reading the nodes that hold them and searching the changed
bytes again; the times of each stage are kept in :attr:`Page.report` for
``paywall inspect``.

Any failure becomes :class:`~paywall.errors.RewriteError`, so that callers
fail closed on exactly that error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from paywall.engine import code, detect, locate, structured, sweep
from paywall.engine import cut as cutting
from paywall.engine.decode import decode_body
from paywall.engine.fingerprint import CLUSTER_MARKERS, Fingerprint
from paywall.engine.headscan import encode_tags, inject
from paywall.engine.label import Label
from paywall.engine.outline import HEADINGS, HIDING_SELECTOR, SHADOW_ROOT_ATTRIBUTES, UNSEEN_TAGS, Element, Outline
from paywall.engine.structured import GATED_CLASS
from paywall.engine.sweep import SweepReport
from paywall.engine.text import UNSPACED_WORD, unspaced_count, words
from paywall.errors import RewriteError

EXPLICIT_ARTICLE = "[data-paywall-article]"
"""A publisher's own mark of the article: wins over every heuristic."""

ArticleSelector = str | Sequence[str] | None

AMP_ATTRIBUTES = frozenset({"amp", "\u26a1"})
"""The ``<html>`` attributes that make a page an AMP page."""

DATA_SHARE = 1.2
"""A story the page's JSON-LD declares this much longer than the article in its markup goes on in its data."""
HIDDEN_ARTICLE_CHARS = 500
"""Hidden text of this size on a page where no visible article is found is looked at as a possible article."""
IN_JSON_LD = "articleBody of the page's JSON-LD (not in its markup: a script renders it)"
IN_NOSCRIPT = "a <noscript>'s markup (what a browser with scripts off shows)"
IN_SRCDOC = "an <iframe srcdoc> document"
IN_TEMPLATE = "a <template>'s content (what a script shows when it stamps it)"
IN_STATE = "the page's application state (a script's JSON, which a script renders)"
"""Where the article is, in the report, when the page's markup does not hold it (see :meth:`Page.declared_story`)."""


class Declared(NamedTuple):
    """A story found outside the page's markup: its text, and where it was (:data:`IN_JSON_LD`...)."""

    text: str
    where: str


@dataclass
class GateReport:
    """What a gate did: where the article was, the teaser kept, the words withheld, the copies swept."""

    article_path: str = ""
    how_found: str = ""
    teaser_text: str = ""
    withheld_words: int = 0
    withheld: list[str] = field(default_factory=list)
    """The withheld text, piece by piece (for ``paywall inspect``'s cross-check)."""
    after_story: int = 0
    """Words of prose after the story withheld with it (a note to readers, a bio, readers' comments)."""
    cut: str = ""
    swept: SweepReport = field(default_factory=SweepReport)
    fingerprint: Fingerprint | None = None
    """The runs of withheld words, once gated: what must not be found anywhere else."""
    timings: dict[str, float] = field(default_factory=dict)
    """Milliseconds per stage: decode, parse, detect, cut, fingerprint, sweep (with serialisation)."""

    @property
    def scrub(self) -> SweepReport:
        return self.swept


class Page:
    """A parsed HTML document that can be gated once."""

    def __init__(
        self,
        tree: LexborHTMLParser,
        *,
        selector: ArticleSelector = None,
        report: GateReport | None = None,
        view: bool = False,
    ):
        self._tree = tree
        self.report = report or GateReport()
        self._view = view
        self._hidden: Outline | None = None
        started = time.perf_counter()
        self._outline = Outline(tree)
        self._regions = self._find(selector)
        self._declared = None if self._regions else self.declared_story()
        self.report.timings["detect"] = _ms(started)
        if self._regions:
            self.report.article_path = css_path(self._regions[0].first.node)
            self.report.how_found = self._regions[0].how
            self.report.after_story = sum(block.own_words for region in self._regions for block in region.trailing)
        elif self._declared is not None:
            self.report.article_path, self.report.how_found = self._declared.where, "declared"
        self._gated = False

    @classmethod
    def parse(cls, body: bytes, charset: str | None, *, selector: ArticleSelector = None, view: bool = False) -> Page:
        """Parse a response body; ``charset`` is the one from the Content-Type header.

        ``view``: the page's address names an AMP or print view of an article
        (:func:`paywall.http.decision.names_a_view`), so where no article is found
        otherwise, prose found in it is the article even without the signs a
        short page needs. (Anyone can add ``?print=1`` to an address: it never
        changes which article is found when there is one.)
        """
        report = GateReport()
        try:
            started = time.perf_counter()
            text = decode_body(body, charset)
            report.timings["decode"] = _ms(started)
            started = time.perf_counter()
            tree = LexborHTMLParser(text, scripting=True)
            report.timings["parse"] = _ms(started)
            swallowed = _swallowed_tail(tree, text)
            page = cls(tree, selector=selector, report=report, view=view)
            if swallowed is not None:
                page._drop_swallowed(swallowed)
            return page
        except RewriteError:
            raise
        except (Exception, RecursionError) as exc:  # the parser's failures have many types
            raise RewriteError(f"cannot parse the page: {type(exc).__name__}: {exc}") from exc

    def withheld_numbers(self) -> frozenset[str]:
        """The numbers among the words the gate withheld (after :meth:`gate`)."""
        fingerprint = self.report.fingerprint
        return frozenset(filter(str.isdigit, fingerprint.vocabulary)) if fingerprint is not None else frozenset()

    def _drop_swallowed(self, node: LexborNode) -> None:
        """Drop the page's end that an unterminated comment, script or frame holds as text (browsers show none
        of it), so that its words reach nobody; or refuse the page where that cannot serve: where no article is
        found before it (the page would go out as it came, swallowed end and all), and where browsers show the
        text (a ``<textarea>``, ``<title>`` or ``<xmp>`` left open).
        """
        parent = node.parent
        container = "comment" if node.tag == "-comment" else parent.tag if parent is not None else ""
        if not self._regions or container in _SHOWN_RAW_TEXT:
            raise RewriteError("the page ends inside an unterminated comment or raw-text element holding prose")
        node.decompose()
        self.report.swept.places.append(f"the page's end, held by an unterminated {container}, dropped")

    def _find(self, selector: ArticleSelector) -> list[detect.Region]:
        tree = self._tree
        selectors = [selector] if isinstance(selector, str) else list(selector or ())
        for one in [*selectors, EXPLICIT_ARTICLE]:
            try:
                node = tree.css_first(one)
            except Exception as exc:  # Lexbor's selector errors have several types
                raise RewriteError(f"invalid article selector {one!r}: {exc}") from exc
            if node is not None:
                element = self._outline.element(node)
                region = detect.Region([element], how="selector" if one != EXPLICIT_ARTICLE else "marked")
                region.continuation = detect.continuation(region, self._outline)
                return self._with_trailing([region])
        # The page is judged as it is first; an address that names a view of an article only finds
        # an article where there is none otherwise, never another one (a hidden story would go whole).
        visible = self._outline
        regions = self._detect(visible, view=False)
        if not regions and self._view:
            regions = self._detect(visible, view=True)
        return self._with_trailing(regions)

    def _with_trailing(self, regions: list[detect.Region]) -> list[detect.Region]:
        """``regions``, each with the prose that follows it in its element (withheld with it)."""
        for region in regions:
            region.trailing = detect.trailing(region, self._outline, regions)
        return regions

    def _detect(self, visible: Outline, *, view: bool) -> list[detect.Region]:
        """Detection on the visible page, then, when it finds nothing, with what is hidden until a script shows it.

        :attr:`_outline` is left as the outline the regions were found in (the cut works in it).
        """
        self._outline = visible
        regions = detect.find(visible, view=view)
        if not regions and visible.hidden and _hidden_chars(self._tree) >= HIDDEN_ARTICLE_CHARS:
            # The story may be hidden until a script shows it: still an article, still gated.
            self._outline = self._hidden or Outline(self._tree, include_hidden=True)
            self._hidden = self._outline
            regions = detect.find(self._outline, view=view)
            for region in regions:
                region.how = "hidden"
        return regions

    def declared_free(self) -> bool:
        """Whether the page's head says it is free: ``<meta name="paywall" content="free">``.

        Only the head counts: a tag in the body could come from anyone who can
        post markup on the page (a comment, an embed) and would free the article.
        """
        head = self._tree.head
        if head is None:
            return False
        for meta in head.css("meta"):
            attrs = meta.attributes
            name = (attrs.get("name") or "").strip().lower()
            if name == "paywall" and (attrs.get("content") or "").strip().lower() == "free":
                return True
        return False

    def continues_an_article(self) -> bool:
        """Whether the page is page 2 or later of an article split over several (see :func:`later_page`)."""
        head = self._tree.head
        if head is None:
            return False
        prev = canonical = None
        for link in head.css("link[rel][href]"):
            rels = (link.attributes.get("rel") or "").lower().split()
            href = link.attributes.get("href") or ""
            if prev is None and ("prev" in rels or "previous" in rels):
                prev = href
            if canonical is None and "canonical" in rels:
                canonical = href
        return prev is not None and canonical is not None and later_page(canonical, prev)

    def declared_story(self) -> Declared | None:
        """The story the page declares in its JSON-LD (an article's ``articleBody``) when it is long enough to be
        one (:data:`~paywall.engine.detect.UNMARKED_MIN_WORDS`), else None.

        Asked where no article is found in the page's markup: a page whose story a script renders from its
        data (an application's state, the JSON-LD itself) still says what the story is, and carries it in
        full. Its teaser and withheld rest are taken from that text, the call to action goes at the end of
        the body, and the sweep shortens every copy (the state the script renders from among them).

        Without such a body, the story another reading of the page shows counts the same way
        (:func:`_story_elsewhere`): the markup of a ``<noscript>``, an ``<iframe srcdoc>`` document, or a
        ``<template>``'s content; and last, the story the page's application state holds, where the page's
        metadata says it is an article (:func:`_story_in_state`).
        """
        body = structured.declared_body(self._tree)
        if body is not None and len(words(body)) >= detect.UNMARKED_MIN_WORDS:
            return Declared(body, IN_JSON_LD)
        return _story_elsewhere(self._tree) or _story_in_state(self._tree)

    def has_article(self) -> bool:
        """Whether an article was found (configured selector, explicit mark or detection), or declared."""
        return bool(self._regions) or self._declared is not None

    def signed(self) -> bool:
        """Whether the page says its article is one (:func:`~paywall.engine.detect.has_article_signs`); a declared
        story always does."""
        if not self._regions:
            return self._declared is not None
        return detect.has_article_signs(self._outline, self._regions[0])

    @property
    def _declared_text(self) -> str:
        return self._declared.text if self._declared is not None else ""

    def story_lines(self) -> str:
        """The article's text, a line a block of it: as a declared story is read (its lines are its paragraphs)."""
        if not self._regions:
            return self._declared_text
        blocks = (block for region in self._regions for block in region.blocks(self._outline))
        return "\n".join(" ".join("".join(text for text, _ in block.pieces).split()) for block in blocks)

    def is_amp(self) -> bool:
        """Whether the page is an AMP page (``<html amp>`` or ``<html ⚡>``): it takes no script or stylesheet link."""
        root = self._tree.root
        return root is not None and any(name in AMP_ATTRIBUTES for name in root.attributes)

    def article_text(self) -> str:
        """Text of the found articles as they are now ("" when none)."""
        if not self._regions:
            return self._declared_text
        return " ".join(_visible_text(m.node) for region in self._regions for m in region.members)

    def gate(
        self,
        *,
        teaser_paragraphs: int,
        cta_html: str,
        head_html: str = "",
        gated_class: str = GATED_CLASS,
        amp_css: str = "",
    ) -> bytes:
        """Cut every article at its teaser and return the page as UTF-8 bytes.

        See :mod:`paywall.engine.cut` for where the teaser ends. ``cta_html``
        stands once after the main article's teaser (other articles on the
        page get it too, each once); every copy of the withheld text elsewhere
        is swept (:mod:`paywall.engine.sweep`); ``head_html`` ends ``<head>``.
        The article's elements get ``gated_class`` and the page's JSON-LD
        declares them gated (:mod:`paywall.engine.structured`); on an AMP page,
        ``amp_css`` joins the page's own ``<style amp-custom>`` (AMP allows no
        other). A page can be gated once. If a copy survives the sweep, this
        raises :class:`RewriteError` rather than serve it.
        """
        self._start()
        try:
            return self._gate(teaser_paragraphs, cta_html, head_html, gated_class, amp_css)
        except RewriteError:
            raise
        except (Exception, RecursionError) as exc:
            raise RewriteError(f"cannot gate the page: {type(exc).__name__}: {exc}") from exc

    def declare_full(self, *, gated_class: str = GATED_CLASS) -> bytes:
        """The whole page for a verified search crawler, as UTF-8 bytes, marked as :meth:`gate` marks it.

        Nothing is cut: the article's elements get ``gated_class`` and the
        page's JSON-LD says they are not free to read, exactly as on the gated
        view, so that the search engine knows the text it indexes is gated for
        others. Costs the parse already made, the marking and one serialisation.
        """
        self._start()
        try:
            started = time.perf_counter()
            self._mark(gated_class)
            structured.declare(self._tree, gated_class)
            _fix_charset(self._tree)
            out = _serialise(self._tree)
            self.report.timings["declare"] = _ms(started)
            return out
        except (Exception, RecursionError) as exc:
            raise RewriteError(f"cannot mark the page: {type(exc).__name__}: {exc}") from exc

    def _start(self) -> None:
        """A page is gated or declared once, and only when it has an article."""
        if self._gated:
            raise RewriteError("page already gated")
        self._gated = True
        if not self.has_article():
            raise RewriteError("no article found in the page")

    def _mark(self, gated_class: str) -> None:
        """The class on every article element, and the protection script's mark on the main one."""
        if self._regions:
            nodes, main = [m.node for region in self._regions for m in region.members], self._regions[0].first.node
        elif self._tree.body is not None:  # a declared story, which a script renders somewhere in the body
            nodes, main = [self._tree.body], self._tree.body
        else:
            return
        structured.mark_gated(nodes, gated_class)
        main.attrs["data-paywall-article"] = ""

    def _gate(self, teaser_paragraphs: int, cta_html: str, head_html: str, gated_class: str, amp_css: str) -> bytes:
        tree, outline, report = self._tree, self._outline, self.report
        started = time.perf_counter()
        later = self.continues_an_article()
        if later:  # page 2 and on of a split article: its first paragraphs are the story's middle
            teaser_paragraphs = 0
        # Marked before the cut, which may remove a later element of the article with its text.
        self._mark(gated_class)
        if self._regions:
            chrome = [*_headline_labels(tree), *_chrome_pieces(outline, self._regions)]
            in_data = self._rest_in_data()  # read before the cut, which may remove a block of JSON-LD in the story
            anchors = _linked_anchors(tree, gated_class)  # before the cut, which may remove some
            teaser, withheld, how = self._cut(teaser_paragraphs, cta_html)
            _unlink_withheld_anchors(tree, anchors, gated_class)
            withheld += in_data
            # Where a React payload's tree loses the withheld part, the call to action takes its place there too.
            report.swept.react_cta = code.react_element(cta_html) if cta_html else None
        else:
            # A declared story: nothing of the page is known to be it, so none of its text is seen anyway.
            chrome = _headline_labels(tree)
            teaser, withheld = cutting.text_teaser(self._declared_text, teaser_paragraphs)
            how = f"declared:{len(teaser)}"
            if tree.body is not None:
                _place_cta(tree, cutting.Cut(cta_inside=tree.body), cta_html)
        if amp_css and self.is_amp():
            _amp_style(tree, amp_css)
        report.cut = how + (" (a later page of the article: no teaser)" if later else "")
        report.timings["cut"] = _ms(started)

        started = time.perf_counter()
        # The call to action is on screen too: its words mark no copy.
        fingerprint = Fingerprint.build(withheld, teaser, [*chrome, *_visible_pieces(cta_html)])
        report.timings["fingerprint"] = _ms(started)
        started = time.perf_counter()
        # The JSON-LD is read once: to declare the gated part, and to shorten the article's copy in it.
        structured.declare(tree, gated_class, scrub=sweep.json_scrubber(fingerprint, report.swept))
        _fix_charset(tree)
        out = self._swept(fingerprint)
        report.timings["sweep"] = _ms(started)
        report.teaser_text = " ".join(teaser)
        report.withheld_words = fingerprint.withheld_words
        report.withheld = withheld
        report.fingerprint = fingerprint
        return inject(out, encode_tags(head_html))

    def _rest_in_data(self) -> list[str]:
        """The story as the page's JSON-LD declares it, where that holds more of it than the markup shows
        (:data:`DATA_SHARE`): a page that renders its first paragraphs on the server and the rest with a script,
        from its data. Its words are withheld words too, so that their copies there go with the rest."""
        shown = sum(member.chars for region in self._regions for member in region.members)
        body = structured.declared_body(self._tree, longer_than=int(DATA_SHARE * shown))
        return [body] if body is not None else []

    def _cut(self, teaser_paragraphs: int, cta_html: str) -> tuple[list[str], list[str], str]:
        """Cut every article at its teaser and put the call to action after each: the teaser's text pieces, the
        withheld ones, and how each was cut."""
        tree, outline = self._tree, self._outline
        withheld: list[str] = []
        hows: list[str] = []
        inserted: set[int] = set()
        for region in self._regions:
            result = cutting.cut(outline, region, teaser_paragraphs)
            inserted |= _place_cta(tree, result, cta_html)
            cutting.remove(result)
            withheld.extend(result.withheld)
            hows.append(result.how)
        if not any(text.strip() for text in withheld):
            prose = sum(detect.prose_words(region, outline) for region in self._regions)
            if prose > 2 * cutting.MIN_TEASER_WORDS:  # an article this long always has a unit past its teaser
                raise RewriteError(f"the cut withheld nothing of an article of {prose} words")
        teaser = [piece for region in self._regions for m in region.members for piece in _pieces(m.node, skip=inserted)]
        return teaser, withheld, ", ".join(hows)

    def _swept(self, fingerprint: Fingerprint) -> bytes:
        """The cut page, serialised, with every copy of the withheld text removed.

        Copies are looked for in the serialised bytes first
        (:mod:`~paywall.engine.locate`), and only the nodes holding them are
        read and changed; the result is searched the same way where it
        changed and where the copies stood. A copy still found there is swept
        again, its scripts read whole (text between their literals); if one
        still stands, or where the bytes are not enough (few markers, a copy
        in the visible chrome, a serialisation that cannot be followed), every
        place is read and the result checked on a second parse.
        """
        tree, report = self._tree, self.report.swept
        html = tree.html or ""
        out = html.encode("utf-8", errors="replace")
        if not fingerprint.vocabulary:
            return out  # nothing withheld (whether runs are left is asked of a copy: the runs are made then)
        if sweep.reads_every_place(fingerprint):
            return self._swept_whole(fingerprint, out)
        seen: dict[bytes, bool] = {}
        found = locate.copies(out, fingerprint, sweep.CLUSTER_BYTES, CLUSTER_MARKERS, seen)
        for thorough in (False, True):
            if not found:
                return out
            places = locate.places(tree, html, out, found)
            if places is None:
                return self._swept_whole(fingerprint, out)
            confirmed = places.confirmed(html, fingerprint)
            changed = sweep.sweep_places(confirmed, fingerprint, report, thorough=thorough)
            new_html = tree.html or ""
            new_out = new_html.encode("utf-8", errors="replace")
            # Check after transforming: the same search over the bytes a browser will read, where
            # they changed and where the copies stood (the rest is the page already searched).
            again = locate.recheck(html, new_html, confirmed.edits(changed), locate.char_ranges(out, found))
            ranges = [(0, len(new_out))] if again is None else locate.byte_ranges(new_html, new_out, again)
            found = [
                (start + first, start + last)
                for start, end in ranges
                for first, last in locate.copies(
                    new_out[start:end], fingerprint, sweep.CLUSTER_BYTES, CLUSTER_MARKERS, seen
                )
            ]
            html, out = new_html, new_out
        if found:
            return self._swept_whole(fingerprint, out)
        return out

    def _swept_whole(self, fingerprint: Fingerprint, out: bytes) -> bytes:
        """Every place of the page read and swept, then checked on the page as a browser will parse it."""
        tree, report = self._tree, self.report.swept
        if not sweep.page_may_hold(out, fingerprint):
            return out
        sweep.sweep(tree, fingerprint, report)
        out = _serialise(tree)
        if sweep.page_may_hold(out, fingerprint, swept=True):
            again = LexborHTMLParser(out.decode("utf-8"), scripting=True)
            remaining = sweep.find_leaks(again, fingerprint, report.clean_code)
            if remaining:
                raise RewriteError(f"withheld text still present after the sweep: {', '.join(remaining[:5])}")
        return out


FRAGMENT_TAG = "paywall-fragment"
"""The element a fragment is parsed in: no end tag but its own closes it, so the fragment's markup stays inside."""


@dataclass
class FragmentCut:
    """An article's body cut at its teaser outside any page (a feed item's content, a JSON API's body field)."""

    html: str
    """The teaser as HTML without a call to action ("" when nothing is shown); the fragment itself when ``whole``."""
    whole: bool
    """Too short to be an article: kept as it was, nothing withheld."""
    fingerprint: Fingerprint
    """The runs of withheld words: a copy of any of them elsewhere (another field, another element) must go too."""
    withheld_words: int = 0
    teaser_text: str = ""
    """The visible text of the teaser (what readers are shown on purpose)."""
    how: str = ""


def cut_fragment(fragment: str, *, teaser_paragraphs: int) -> FragmentCut:
    """Cut ``fragment``, the HTML of an article's body and nothing else, at its teaser.

    The fragment is read as a page whose article is the fragment itself, so the
    teaser ends where it would on the article's page (:mod:`paywall.engine.cut`),
    and copies of the withheld text inside the fragment (attributes, scripts,
    hidden elements) are swept as on a page.

    A fragment is short, and kept whole, when its prose is no longer than the
    shortest teaser (:data:`~paywall.engine.cut.MIN_TEASER_WORDS` words outside
    links) or than a short page that says it is an article
    (:data:`~paywall.engine.detect.MIN_MARKED_CHARS` characters): it is a
    summary, an excerpt with a link, a note, and shows no more than a teaser
    would. One whose prose is that short but that hides as much text again
    (hidden elements, scripts) is withheld entirely. Any failure is
    :class:`RewriteError`.
    """
    document = (
        f"<!DOCTYPE html><html><head></head><body><{FRAGMENT_TAG}>" + fragment + f"</{FRAGMENT_TAG}></body></html>"
    )
    try:
        tree = LexborHTMLParser(document, scripting=True)
        if _swallowed_tail(tree, document) is not None:
            raise RewriteError("the fragment ends inside an unterminated comment or raw-text element holding prose")
        page = Page(tree, selector=FRAGMENT_TAG)
        root = tree.css_first(FRAGMENT_TAG)
        if root is None or not page._regions:
            raise RewriteError("the fragment could not be read")
        if _reaches_outside(tree, root):
            raise RewriteError("the fragment's markup reaches outside it (a stray end tag of its wrapper, a comment)")
        region = page._regions[0]
        if (
            detect.prose_chars(region, page._outline) < detect.MIN_MARKED_CHARS
            or detect.prose_words(region, page._outline) <= cutting.MIN_TEASER_WORDS
        ):
            text = root.text(deep=True)
            shown = "".join(piece for block in region.blocks(page._outline) for piece, _ in block.pieces)
            if len("".join(text.split())) - len("".join(shown.split())) < detect.MIN_MARKED_CHARS:
                return FragmentCut(fragment, True, Fingerprint.build([], []), how="short")
            return FragmentCut("", False, Fingerprint.build([text], []), len(words(text)), how="hidden")
        page.gate(teaser_paragraphs=teaser_paragraphs, cta_html="")
    except RewriteError:
        raise
    except (Exception, RecursionError) as exc:
        raise RewriteError(f"cannot cut the fragment: {type(exc).__name__}: {exc}") from exc
    root = tree.css_first(FRAGMENT_TAG)
    fingerprint = page.report.fingerprint or Fingerprint.build([], [])
    html = root.inner_html if root is not None else ""
    report = page.report
    return FragmentCut(html or "", False, fingerprint, report.withheld_words, report.teaser_text, report.cut)


SWALLOWED_WORDS = 30
"""An unterminated comment or raw-text element that swallows this many words at the end of a page is dropped
with them, or the page refused (see :func:`_swallowed_tail`)."""
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "noscript", "iframe", "noembed", "noframes"})
_SHOWN_RAW_TEXT = frozenset({"textarea", "title", "xmp"})
"""Raw-text elements whose text browsers show (in a field, a tab, as preformatted text)."""


_ELSEWHERE = "noscript, iframe[srcdoc], template"
_WHERE = {"noscript": IN_NOSCRIPT, "iframe": IN_SRCDOC, "template": IN_TEMPLATE}


def _story_elsewhere(tree: LexborHTMLParser) -> Declared | None:
    """The text of the longest article in another reading of the page, or None.

    A browser with scripts off renders a ``<noscript>``'s content as markup (this
    parse, with scripting on as most readers browse, holds it as text), every
    browser renders an ``<iframe srcdoc>`` document, and a script shows a
    ``<template>``'s content when it stamps it (a shadow root's is read with the
    page): each of :data:`HIDDEN_ARTICLE_CHARS` or more is parsed as a page of
    its own (and read the same way in turn) for an article. Only an article that
    says it is one counts (``<article>``, ``<time>``, an author link, metadata:
    :func:`~paywall.engine.detect.has_article_signs`), or any article where the
    page's own metadata says it is one: a component's template of a long notice
    (a consent text) on a home page is no story.
    """
    found: Declared | None = None
    page_says = None
    for node in tree.css(_ELSEWHERE):
        tag = node.tag
        markup: str | None
        if tag == "iframe":
            markup = node.attributes.get("srcdoc")
        elif tag == "noscript":
            markup = node.text()
        elif any(name in node.attributes for name in SHADOW_ROOT_ATTRIBUTES):
            continue  # a shadow root, read with the page
        else:
            contents = node.template_fragments()
            markup = "".join(child.html or "" for content in contents for child in content.iter(include_text=True))
        if not markup or len(markup) < HIDDEN_ARTICLE_CHARS:
            continue
        try:
            inner = Page.parse(markup.encode("utf-8", "surrogatepass"), "utf-8")
        except RewriteError:  # a document that ends inside a comment with no article before it: none here
            continue
        if not inner.has_article():
            continue
        if page_says is None:
            page_says = detect.says_it_is_an_article(tree)
        if page_says or inner.signed():
            text = inner.story_lines()
            if found is None or len(text) > len(found.text):
                found = Declared(text, _WHERE[tag or ""])
    return found


STATE_STORY_LINES = 3
"""Paragraphs of prose (:data:`STATE_LINE_WORDS` words or more) a story in the application's state holds at least."""
STATE_LINE_WORDS = 8


def _story_in_state(tree: LexborHTMLParser) -> Declared | None:
    """The longest story in the page's application state, where the page's metadata says it is an article.

    A page rendered in the browser that declares no ``articleBody`` still carries its story in the data a
    script renders it from (``__NEXT_DATA__``, a store's state: a script that is JSON, or one assignment of
    it): a string of markup or text, or the strings of an array read in order (paragraphs), as
    :func:`~paywall.engine.code.json_groups` reads them. One of
    :data:`~paywall.engine.detect.UNMARKED_MIN_WORDS` words or more in :data:`STATE_STORY_LINES` paragraphs
    of prose or more is the story; the sweep then shortens it in the state as it does every copy.
    """
    found: Declared | None = None
    says: bool | None = None
    for script in tree.css("script"):
        if "src" in script.attributes:
            continue
        body = script.text()
        if len(body) < HIDDEN_ARTICLE_CHARS:
            continue
        if says is None:
            says = detect.says_it_is_an_article(tree)
        if not says:
            return None
        parts = code.split_json(body)
        if parts is None:
            continue
        values, groups = code.json_groups(parts[1])
        texts = [value for value in values if len(value) >= HIDDEN_ARTICLE_CHARS]
        texts.extend("\n".join(values[at] for at in group) for group in groups)
        for text in texts:
            lines = [line.strip() for line in structured.as_text(text).splitlines() if line.strip()]
            counts = [len(words(line)) for line in lines]
            if sum(counts) < detect.UNMARKED_MIN_WORDS:
                continue
            if sum(count >= STATE_LINE_WORDS for count in counts) < STATE_STORY_LINES:
                continue
            story = "\n".join(lines)
            if found is None or len(story) > len(found.text):
                found = Declared(story, IN_STATE)
    return found


def _swallowed_tail(tree: LexborHTMLParser, text: str) -> LexborNode | None:
    """The comment or raw text node that holds the page's end, when an unterminated ``<!--``, ``<script>``,
    ``<iframe>``... swallows it with :data:`SWALLOWED_WORDS` words or more; else None.

    Browsers do not show what such an opening swallows (but in a ``<textarea>``, a ``<title>`` and an
    ``<xmp>``), so no article is found in it, yet its words are in the bytes a page passed whole would
    send (see :meth:`Page._drop_swallowed`). An ``<iframe/>`` written as if it closed itself is the most
    common.
    """
    candidates: list[LexborNode] = []
    document = tree.root.parent if tree.root is not None else None
    if document is not None:  # comments before <html> hold the document's end when <!-- is never closed
        candidates.extend(child for child in document.iter(include_text=True) if child.tag == "-comment")
    # The end of the document, and the end of its head: an opening left there swallows the body
    # too, and the parser then makes an empty body after it.
    for top in (tree.root, tree.head):
        node = top
        while node is not None and node.last_child is not None:
            node = node.last_child
        if node is not None:
            candidates.append(node)
    end_of_page = text.rstrip()
    for candidate in candidates:
        if candidate.tag == "-comment":
            swallowed = candidate.comment_content or ""
        elif candidate.tag == "-text" and candidate.parent is not None and candidate.parent.tag in _RAW_TEXT:
            swallowed = candidate.text_content or ""
        else:
            continue
        end = swallowed.rstrip()[-40:]
        if len(swallowed.split()) >= SWALLOWED_WORDS and end and end_of_page.endswith(end):
            return candidate
    return None


def _reaches_outside(tree: LexborHTMLParser, root: LexborNode) -> bool:
    """Whether anything of a fragment ended up outside the element it was parsed in.

    Only its wrapper's own end tag closes the wrapper; what follows it, and a
    comment after ``</html>``, would be outside what is judged and cut.
    """
    body, head = tree.body, tree.head
    if head is not None and head.child is not None:
        return True
    if body is None:
        return True
    for child in body.iter(include_text=True):
        if child.mem_id != root.mem_id and (child.tag != "-text" or (child.text_content or "").strip()):
            return True
    html = tree.root
    document = html.parent if html is not None else None
    for level in (document, html):
        if level is None:
            continue
        for child in level.iter(include_text=True):
            if child.tag not in ("html", "head", "body", "!doctype", "-doctype") and (
                child.tag != "-text" or (child.text_content or "").strip()
            ):
                return True
    return False


def _hidden_chars(tree: LexborHTMLParser) -> int:
    return sum(len(node.text(deep=True)) for node in tree.css(HIDING_SELECTOR))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _serialise(tree: LexborHTMLParser) -> bytes:
    return (tree.html or "").encode("utf-8", errors="replace")


#: Links that may name a place in their own page (an ``href`` with a ``#``; :func:`_fragment` tells).
_FRAGMENT_LINKS = "a[href*='#']"


def _fragment(link: LexborNode) -> str:
    """The anchor that ``link`` names after its ``#`` (percent-encoding read), else "".

    The address before it is not read: a table may name the page's own file
    (``chapter.html#section``), and the engine does not know the page's address. A
    link to another page's anchor of the same name as one the cut withholds goes
    like one to this page's: its name spells the same withheld words.
    """
    href = link.attrs.get("href") or ""
    return unquote(href.partition("#")[2].strip())


def _linked_anchors(tree: LexborHTMLParser, gated_class: str) -> frozenset[str]:
    """The anchors in the article (ids, names of ``<a name>``) that the page's links to places in it name: none
    on most pages, and then nothing else is read. (The cut removes nothing outside the article.)"""
    wanted = {fragment for link in tree.css(_FRAGMENT_LINKS) if (fragment := _fragment(link))}
    return _anchors_in(tree.css(f".{gated_class}"), wanted) if wanted else frozenset()


def _anchors_in(article: list[LexborNode], wanted: Collection[str]) -> frozenset[str]:
    """Which of the ``wanted`` anchors stand in the ``article``'s elements (those marked as the article's).

    Each element is searched on its own: a selector asking for the anchors inside the
    marked elements costs the parser a look up every anchor's ancestors, several times
    as much.
    """
    found: set[str] = set()
    for element in article:
        found.update(a for a in (element.id, element.attrs.get("name")) if a is not None and a in wanted)
        for node in element.css("[id]"):
            anchor = node.id
            if anchor is not None and anchor in wanted:
                found.add(anchor)
        for node in element.css("a[name]"):
            name = node.attrs.get("name")
            if name is not None and name in wanted:
                found.add(name)
    return frozenset(found)


def _unlink_withheld_anchors(tree: LexborHTMLParser, anchors: frozenset[str], gated_class: str) -> None:
    """Links to the ``anchors`` that the cut removed link nowhere, and those of a table of contents show
    :data:`UNLINKED`.

    A table of contents (beside the story, in the page's header, or at the top of the
    story) lists the headings of its sections, and its links name their anchors, which
    generators spell from the headings (``#how-the-council-voted``): the headings of the
    withheld sections are withheld text. Every link to a withheld anchor keeps its place
    and its class (the page's layout does not move) and loses every other attribute
    (``href``, a ``title`` that repeats the heading); an entry of a table also loses its
    text. Inside the article, only a link that is a list item's (or a term's) whole text
    is an entry: the words of a link in the teaser's prose are shown on purpose.
    """
    if not anchors or tree.root is None:
        return
    article = tree.css(f".{gated_class}")
    gone = anchors - _anchors_in(article, anchors)
    if not gone:
        return
    roots = {element.mem_id for element in article}
    for link in tree.css(_FRAGMENT_LINKS):
        if _fragment(link) not in gone:
            continue
        entry = not _inside(link, roots, tree.root) or _an_entry(link)
        attrs = link.attrs
        for name in [name for name in attrs if name != "class"]:
            del attrs[name]
        if entry:
            for child in list(link.iter(include_text=True)):
                child.decompose()
            link.insert_child(UNLINKED)


def _an_entry(link: LexborNode) -> bool:
    """Whether ``link`` is the whole text of the list item or term holding it, through inline wrappers (an entry
    of a table of contents: ``<li><a>``, DocBook's ``<dt><span><a>``)."""
    holder = link.parent
    while holder is not None and holder.tag in _ENTRY_WRAPPERS:
        holder = holder.parent
    return (
        holder is not None and holder.tag in _ENTRIES and holder.text(deep=True).strip() == link.text(deep=True).strip()
    )


_ENTRIES = frozenset({"li", "dt", "dd"})
_ENTRY_WRAPPERS = frozenset({"span", "b", "strong", "em", "i", "small"})


UNLINKED = "\u2026"
"""What an entry of a table of contents that names a withheld section shows instead of the section's heading."""


def _place_cta(tree: LexborHTMLParser, result: cutting.Cut, cta_html: str) -> set[int]:
    """Put the call to action where the cut says; the ids of the nodes put in."""
    if not cta_html:
        return set()
    fragment = LexborHTMLParser(cta_html, is_fragment=True, scripting=True)
    nodes = list(fragment.root.iter(include_text=True)) if fragment.root is not None else []
    placed: list[LexborNode] = []
    if result.cta_before is not None:
        for node in nodes:
            result.cta_before.insert_before(node)
        anchor = result.cta_before
        placed = _previous(anchor, len(nodes))
    elif result.cta_after is not None:
        for node in reversed(nodes):
            result.cta_after.insert_after(node)
        placed = _following(result.cta_after, len(nodes))
    elif result.cta_inside is not None:
        for node in nodes:
            result.cta_inside.insert_child(node)
        last = result.cta_inside.last_child
        placed = _previous(last, len(nodes) - 1) + ([last] if last is not None else [])
    return {node.mem_id for node in placed}


def _following(node: LexborNode, count: int) -> list[LexborNode]:
    found: list[LexborNode] = []
    current = node.next
    while current is not None and len(found) < count:
        found.append(current)
        current = current.next
    return found


def _previous(node: LexborNode | None, count: int) -> list[LexborNode]:
    found: list[LexborNode] = []
    current = node.prev if node is not None else None
    while current is not None and len(found) < count:
        found.append(current)
        current = current.prev
    return found


def _visible_pieces(markup: str) -> list[str]:
    """The visible text pieces of a fragment of markup (the call to action)."""
    if not markup:
        return []
    fragment = LexborHTMLParser(markup, is_fragment=True, scripting=True)
    return _pieces(fragment.root) if fragment.root is not None else []


def _visible_text(node: LexborNode) -> str:
    return " ".join(_pieces(node))


def _pieces(node: LexborNode, skip: set[int] | frozenset[int] = frozenset()) -> list[str]:
    """Visible text pieces under ``node`` (scripts, styles, templates, and the subtrees in ``skip`` left out)."""
    pieces = []
    for child in node.traverse(include_text=True):
        if child.tag != "-text":
            continue
        parent = child.parent
        if parent is not None and parent.tag in UNSEEN_TAGS:
            continue
        if skip and _inside(child, skip, node):
            continue
        text = child.text_content
        if text and not text.isspace():
            pieces.append(text)
    return pieces


def _inside(node: LexborNode, roots: set[int] | frozenset[int], limit: LexborNode) -> bool:
    current: LexborNode | None = node
    while current is not None and current.mem_id != limit.mem_id:
        if current.mem_id in roots:
            return True
        current = current.parent
    return False


HEADING_MAX_WORDS = 30
"""A heading of more words is prose, not a label: a passage of the story set as a heading is still a copy."""


def _heading_words(block: Element) -> float:
    """The words of a heading, a token of a script without spaces weighing :data:`UNSPACED_WORD` (as the
    fingerprint weighs a long copy's)."""
    return block.own_words - sum(unspaced_count(text) for text, _ in block.pieces) * (1 - UNSPACED_WORD)


_HEADLINE_METADATA = 'meta[property="og:title"], meta[name="twitter:title"]'


def _headline_labels(tree: LexborHTMLParser) -> list[str]:
    """The page's ``<title>`` and its social cards' titles, as labels of the chrome: the headline is shown
    wherever the page is listed, and a story that repeats it in its withheld part does not make it a copy."""
    title = next(iter(tree.tags("title")), None)  # (no selector to compile)
    labels = [title.text()] if title is not None else []
    labels.extend(node.attributes.get("content") or "" for node in tree.css(_HEADLINE_METADATA))
    return [Label(label) for label in labels if label.strip()]


def _chrome_pieces(outline: Outline, regions: list[detect.Region]) -> list[str]:
    """Visible text outside the articles, the text of links and headings marked (:class:`Label`), in document
    order."""
    pieces: list[str] = []
    spans = [span for region in regions for span in region.spans]  # as Region.holds reads them
    spans += [(block.order, block.end_order) for region in regions for block in region.trailing]
    for block in outline.outside(spans):
        heading = block.tag in HEADINGS and _heading_words(block) <= HEADING_MAX_WORDS
        for text, linked in block.pieces:
            pieces.append(Label(text) if linked or heading else text)
    return pieces


def _amp_style(tree: LexborHTMLParser, css: str) -> None:
    """``css`` at the end of the page's ``<style amp-custom>``, made in its head when it has none."""
    style = tree.css_first("head style[amp-custom]")
    if style is None:
        head = tree.head
        if head is None:
            return
        style = tree.create_node("style")
        style.attrs["amp-custom"] = ""
        head.insert_child(style)
    text = "".join(child.text_content or "" for child in style.iter(include_text=True) if child.tag == "-text")
    for child in list(style.iter(include_text=True)):
        child.decompose()
    style.insert_child(f"{text}\n{css}" if text.strip() else css)


def _fix_charset(tree: LexborHTMLParser) -> None:
    """Make every charset declaration say utf-8, and add one if there is none."""
    declared = False
    for meta in tree.css("meta[charset], meta[http-equiv]"):
        attrs = meta.attributes
        if "charset" in attrs:
            meta.attrs["charset"] = "utf-8"
            declared = True
        if (attrs.get("http-equiv") or "").strip().lower() == "content-type":
            meta.attrs["content"] = "text/html; charset=utf-8"
            declared = True
    head = tree.head
    if not declared and head is not None:
        meta = tree.create_node("meta")
        meta.attrs["charset"] = "utf-8"
        if head.first_child is not None:
            head.first_child.insert_before(meta)
        else:
            head.insert_child(meta)


PAGE_NUMBER_KEYS = frozenset({"page", "pg", "paged", "pagina", "seite", "pagenum", "pageno", "pn"})
"""Query parameters that number the pages of one article (``p`` is WordPress's post id: not one of them)."""
MAX_PAGE_NUMBER = 50
"""A larger number in an address is an id (``/news/12345``), not a page of the article."""
_NUMBERED_PATH = re.compile(r"^(.*?)(?:/page)?/([0-9]{1,6})/?$")
_DIGITS = re.compile(r"[0-9]{1,6}")


def later_page(canonical: str, prev: str) -> bool:
    """Whether ``canonical`` is a later page of the article whose previous page is ``prev``: the same
    address (``prev`` read against ``canonical``) but for a page number, in the path (``/story/2/``,
    ``/story/page/3``) or the query (``?page=2``), larger in ``canonical`` (page 1 may have none).

    WordPress links the previous *post* as ``prev`` too: another address, not a later page. A malformed
    address (an unclosed IPv6 bracket) names no page: the page keeps its teaser.
    """
    canonical, prev = canonical.strip(), prev.strip()
    try:
        this, before = urlsplit(canonical), urlsplit(urljoin(canonical, prev))
    except ValueError:
        return False
    if this.netloc.lower() != before.netloc.lower():
        return False
    base, number = _page_number(this.path, this.query)
    before_base, before_number = _page_number(before.path, before.query)
    return base == before_base and 2 <= number <= MAX_PAGE_NUMBER and before_number < number


def _page_number(path: str, query: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], int]:
    """An address without its page number (path and the rest of its query), and that number (1 if none)."""
    number = 1
    pairs = parse_qsl(query, keep_blank_values=True)
    rest = []
    for key, value in pairs:
        if key.lower() in PAGE_NUMBER_KEYS and _DIGITS.fullmatch(value) and number == 1:
            number = int(value)
        else:
            rest.append((key, value))
    match = _NUMBERED_PATH.match(path)
    if number == 1 and match is not None:
        path, number = match.group(1), int(match.group(2))
    return (path.rstrip("/"), tuple(sorted(rest))), number


def css_path(node: LexborNode) -> str:
    """A CSS path to ``node`` (``body > main > article.story``), for reports."""
    parts: list[str] = []
    current: LexborNode | None = node
    while current is not None and current.tag not in (None, "html", "-undef") and not current.tag.startswith("#"):
        attrs = current.attributes
        part = current.tag or ""
        if attrs.get("id"):
            part += f"#{attrs['id']}"
        elif attrs.get("class"):
            part += "".join(f".{c}" for c in (attrs.get("class") or "").split()[:2])
        parts.append(part)
        current = current.parent
    return " > ".join(reversed(parts))
