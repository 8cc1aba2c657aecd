"""Make corpus folders for ``bench/corpus.py`` from one, each page rewritten as other sites write the same markup.

The development corpus holds one way of writing each page; the engine is judged
on pages written in others. Each form rewrites every page of a corpus one way
(the reference, ``expected.html``, is copied as it is: the story's words and
their order do not change):

* ``hashed``: every class and id name hashed (CSS modules, styled components), links to places in the page
  following their anchors, ``itemprop`` and ``data-*`` attributes dropped;
* ``divs``: every ``<p>`` a ``<div>``;
* ``spans``: every ``<p>`` a ``<span>`` (paragraphs styled as blocks);
* ``custom``: every ``<p>`` a ``<story-paragraph>``, every ``<article>`` and
  ``<section>`` a ``<story-body>`` (components);
* ``wrapped``: every ``<p>`` wrapped in a ``<div class="blk-text">``;
* ``wrapped-ids``: the same, each wrapper with an id of its own (as block editors number them);
* ``unique``: every ``<p>`` wrapped in a ``<div>`` of a class of its own;
* ``brs``: each run of three or more ``<p>`` siblings joined into one ``<div>`` by ``<br><br>``;
* ``sections``: each such run put in ``<section>``s of three, each with an id;
* ``ads``: an ad slot (``Advertisement`` and an ``<iframe>``) after every third ``<p>``.

    python bench/rewritten_corpus.py OUT [--corpus ../shared/corpus] [--form NAME ...]
    python bench/corpus.py --corpus OUT/NAME
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import lxml.etree
import lxml.html
from lxml.html import HtmlElement

ROOT = Path(__file__).resolve().parent.parent
_ELEMENTS = lxml.etree.Element
"""What ``iter(tag=...)`` takes for elements only (no comments or processing instructions)."""


def _hashed(name: str) -> str:
    return "c" + hashlib.blake2s(name.encode(), digest_size=4).hexdigest()


def hashed(doc: HtmlElement) -> None:
    for element in doc.iter(tag=_ELEMENTS):
        if element.get("class"):
            element.set("class", " ".join(_hashed(token) for token in element.get("class", "").split()))
        if element.get("id"):
            element.set("id", _hashed(element.get("id", "")))
        href = element.get("href", "")
        if href.startswith("#") and len(href) > 1:  # a link to a place in the page follows its anchor's new name
            element.set("href", "#" + _hashed(href[1:]))
        for name in [name for name in element.attrib if name == "itemprop" or name.startswith("data-")]:
            del element.attrib[name]


def _renamed(tags: dict[str, str]) -> Callable[[HtmlElement], None]:
    def rewrite(doc: HtmlElement) -> None:
        for element in doc.iter(*tags):
            element.tag = tags[element.tag]

    return rewrite


def _wrapped(named: Callable[[int, HtmlElement], dict[str, str]]) -> Callable[[HtmlElement], None]:
    def rewrite(doc: HtmlElement) -> None:
        for at, paragraph in enumerate(list(doc.iter("p"))):
            parent = paragraph.getparent()
            if parent is None:
                continue
            wrapper = lxml.html.Element("div", named(at, paragraph))
            wrapper.tail, paragraph.tail = paragraph.tail, None
            parent.replace(paragraph, wrapper)
            wrapper.append(paragraph)

    return rewrite


def _runs(doc: HtmlElement) -> list[list[HtmlElement]]:
    """Runs of three or more ``<p>`` elements that follow one another in one parent, nothing but space between."""
    runs: list[list[HtmlElement]] = []
    for parent in {id(p.getparent()): p.getparent() for p in doc.iter("p") if p.getparent() is not None}.values():
        run: list[HtmlElement] = []
        for child in parent:
            if child.tag == "p" and (not run or not (run[-1].tail or "").strip()):
                run.append(child)
                continue
            if len(run) >= 3:
                runs.append(run)
            run = [child] if child.tag == "p" else []
        if len(run) >= 3:
            runs.append(run)
    return runs


def brs(doc: HtmlElement) -> None:
    for run in _runs(doc):
        joined = lxml.html.Element("div", {"class": "txt"})
        run[0].addprevious(joined)
        joined.tail = run[-1].tail
        for at, paragraph in enumerate(run):
            if at:
                joined.append(lxml.html.Element("br"))
                joined.append(lxml.html.Element("br"))
                joined[-1].tail = paragraph.text
            else:
                joined.text = paragraph.text
            for child in list(paragraph):
                joined.append(child)
            paragraph.getparent().remove(paragraph)


def sections(doc: HtmlElement) -> None:
    for number, run in enumerate(_runs(doc)):
        for at in range(0, len(run), 3):
            section = lxml.html.Element("section", {"class": "chunk", "id": f"s{number}-{at}"})
            run[at].addprevious(section)
            for paragraph in run[at : at + 3]:
                section.append(paragraph)


def ads(doc: HtmlElement) -> None:
    for at, paragraph in enumerate(list(doc.iter("p"))):
        if at % 3 == 2 and paragraph.getparent() is not None:
            slot = lxml.html.fragment_fromstring(
                f'<div class="ad-slot" id="ad-{at}"><span>Advertisement</span><iframe src="/ads/{at}"></iframe></div>'
            )
            slot.tail, paragraph.tail = paragraph.tail, None
            paragraph.addnext(slot)


FORMS: dict[str, Callable[[HtmlElement], None]] = {
    "hashed": hashed,
    "divs": _renamed({"p": "div"}),
    "spans": _renamed({"p": "span"}),
    "custom": _renamed({"p": "story-paragraph", "article": "story-body", "section": "story-body"}),
    "wrapped": _wrapped(lambda at, p: {"class": "blk-text"}),
    "wrapped-ids": _wrapped(lambda at, p: {"class": "blk-text", "id": _hashed(str(at))}),
    "unique": _wrapped(lambda at, p: {"class": "blk-" + _hashed(str(at))}),
    "brs": brs,
    "sections": sections,
    "ads": ads,
}


def make(corpus: Path, out: Path, form: str) -> int:
    """Write ``corpus`` rewritten in ``form`` under ``out``; the number of pages written."""
    rewrite = FORMS[form]
    written = 0
    for folder in sorted(p for p in corpus.iterdir() if (p / "source.html").exists()):
        try:
            doc = lxml.html.document_fromstring((folder / "source.html").read_bytes())
        except (ValueError, lxml.etree.ParserError):
            continue  # an empty page
        rewrite(doc)
        page = out / folder.name
        page.mkdir(parents=True, exist_ok=True)
        (page / "source.html").write_bytes(lxml.html.tostring(doc, encoding="utf-8", doctype="<!DOCTYPE html>"))
        shutil.copy(folder / "expected.html", page / "expected.html")
        written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--form", action="append", choices=sorted(FORMS), help="only this form (repeatable)")
    args = parser.parse_args()
    for form in args.form or FORMS:
        print(f"{form}: {make(args.corpus, args.out / form, form)} pages in {args.out / form}")


if __name__ == "__main__":
    main()
