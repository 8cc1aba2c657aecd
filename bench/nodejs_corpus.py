"""Make a corpus folder for ``bench/corpus.py`` from the Node.js API reference installed with Node.js.

Pages of another kind than the development corpus's, as ``books_corpus.py``'s
are: long reference pages in sibling ``<section>`` elements without class
names, each heading with a link to its own anchor, and a table of contents
beside them (twice: in the page's header and above the article) whose
entries name the sections' anchors. Each page of 400 words or more becomes a
folder with ``source.html`` (the page as installed) and ``expected.html``
(its ``#apicontent``, the reference for ``corpus.py``). Debian's ``nodejs``
package installs the pages in ``/usr/share/doc/nodejs/api``.

    python bench/nodejs_corpus.py OUT [--docs /usr/share/doc/nodejs/api]
    python bench/corpus.py --corpus OUT
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lxml.html

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.books_corpus import MIN_WORDS, write_page  # noqa: E402

DEFAULT_DOCS = Path("/usr/share/doc/nodejs/api")
#: Pages that are not one module's reference: the index, and every module's reference on one page.
NOT_PAGES = {"index.html", "all.html"}


def make(docs: Path, out: Path) -> int:
    """Write the corpus folders under ``out``; the number written."""
    written = 0
    for page in sorted(docs.glob("*.html")):
        if page.name in NOT_PAGES:
            continue
        source = page.read_bytes()
        content = lxml.html.fromstring(source).get_element_by_id("apicontent", None)
        if content is None or len(content.text_content().split()) < MIN_WORDS:
            continue
        write_page(out / page.stem, source, content)
        written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="the corpus folder to make")
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="the folder of the API reference's pages")
    args = parser.parse_args(argv)
    if not args.docs.is_dir():
        parser.error(f"no Node.js API reference in {args.docs}: install Node.js (Debian: apt-get install nodejs)")
    print(f"{make(args.docs, args.out)} pages written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
