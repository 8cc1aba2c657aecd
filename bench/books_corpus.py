"""Make a corpus folder for ``bench/corpus.py`` from the mdBook chapters installed with a Rust toolchain.

Pages of another kind than the development corpus's (documentation chapters: a
sidebar of links, a chapter of prose and code in ``<main>``), for checking that
the engine's rules hold on pages it was not developed on. Each chapter of 400
words or more becomes a folder with ``source.html`` (the page as installed) and
``expected.html`` (its ``<main>``, the reference for ``corpus.py``). The
chapters are picked at random from each book, the same ones for the same seed.

    python bench/books_corpus.py OUT [--docs ~/.rustup/toolchains/stable-*/share/doc/rust/html] [--seed 7]
    python bench/corpus.py --corpus OUT
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import lxml.html

#: Books and how many chapters of each are taken.
BOOKS = {"book": 12, "nomicon": 8, "reference": 8, "edition-guide": 6, "embedded-book": 6, "cargo": 6, "rustc": 4}
#: Pages of an mdBook that are not chapters.
NOT_CHAPTERS = {"print.html", "index.html", "toc.html", "404.html", "searchindex.html"}
MIN_WORDS = 400


def default_docs() -> Path | None:
    """The HTML documentation of the first stable toolchain installed with rustup, if any."""
    found = sorted((Path.home() / ".rustup" / "toolchains").glob("stable-*/share/doc/rust/html"))
    return found[0] if found else None


def write_page(folder: Path, source: bytes, reference: lxml.html.HtmlElement) -> None:
    """One page folder of a corpus: the page as installed, and the element that is its article."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "source.html").write_bytes(source)
    (folder / "expected.html").write_text(lxml.html.tostring(reference, encoding="unicode"), encoding="utf-8")


def make(docs: Path, out: Path, seed: int) -> int:
    """Write the corpus folders under ``out``; the number written."""
    chooser = random.Random(seed)
    written = 0
    for book, wanted in BOOKS.items():
        chapters = sorted(p for p in (docs / book).rglob("*.html") if p.name not in NOT_CHAPTERS)
        chooser.shuffle(chapters)
        taken = 0
        for chapter in chapters:
            if taken == wanted:
                break
            source = chapter.read_bytes()
            main = lxml.html.fromstring(source).find(".//main")
            if main is None or len(main.text_content().split()) < MIN_WORDS:
                continue
            write_page(out / f"{book}-{chapter.stem}"[:40], source, main)
            taken += 1
        written += taken
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="the corpus folder to make")
    parser.add_argument("--docs", type=Path, default=None, help="a toolchain's share/doc/rust/html")
    parser.add_argument("--seed", type=int, default=7, help="which chapters are picked")
    args = parser.parse_args(argv)
    docs = args.docs or default_docs()
    if docs is None or not docs.is_dir():
        parser.error("no Rust documentation found: install a toolchain with rustup, or pass --docs")
    print(f"{make(docs, args.out, args.seed)} chapters written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
