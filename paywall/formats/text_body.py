"""An article as text (``text/markdown``, ``text/plain``): read as prose, cut at its teaser.

Sites serve their articles as text too: a Markdown view of each page
(``/story.md``, for readers' tools and AI agents), or the page itself in
Markdown or plain text to a client whose ``Accept`` asks for it. Such an
answer is the article, whole, whatever the request asked.

A text reads as an article when it holds :data:`PROSE_PARAGRAPHS` paragraphs
of prose or more, with :data:`ARTICLE_WORDS` words among them. A paragraph
of prose is a block between blank lines that is no Markdown structure
(heading, list, quote, table, code, HTML), holds
:data:`PARAGRAPH_WORDS` words or more, :data:`LINE_WORDS` a line on average
(lines of records, directives and logs hold fewer), and ends a sentence.
``robots.txt``, ``llms.txt``, a changelog, a CSV or a log hold none.

The cut is the one a body in a feed gets (:func:`~paywall.formats.bodies.cut_text`):
the paragraphs before the teaser's end as they were written, then one line
linking to the article's page. A copy of the withheld text before the cut (a
front matter's summary of the whole story) makes it refuse instead.
"""

from __future__ import annotations

import codecs
import html
import re
from collections.abc import Iterable

from paywall.engine import code
from paywall.engine.text import unspaced_count
from paywall.errors import FormatError
from paywall.formats.bodies import cut_text, looks_like_html

PROSE_PARAGRAPHS = 3
ARTICLE_WORDS = 80
PARAGRAPH_WORDS = 8
LINE_WORDS = 6
#: A string, or an array's strings read in order, that no key names as a body is an article all the same when
#: it holds this many paragraphs of prose and words among them (more than a text answer needs).
UNNAMED_PARAGRAPHS = 4
UNNAMED_WORDS = 100
#: A suffix that names a text view of the page at the path without it.
_TEXT_SUFFIXES = (".md", ".markdown", ".txt")

_BLANK_LINE = re.compile(r"\r?\n[ \t\f\v]*\r?\n")
#: Where a block of HTML ends (or a paragraph written with two ``<br>``): a blank line in its text.
_BLOCK_END = re.compile(
    r"</(?:p|div|h[1-6]|li|blockquote|section|article|pre|figure|figcaption|td|th|dd|dt)\s*>|<br\s*/?>\s*<br\s*/?>",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"<[^<>]*>")
#: The start of a Markdown block that is no paragraph: heading, quote, table, code, list item, HTML, rule.
_STRUCTURE = re.compile(r"[ \t]{0,3}(?:#|>|\||```|~~~|[-*+][ \t]|\d{1,9}[.)][ \t]|<|---|===)|[ \t]{4}|\t")
#: A sentence's end, then closing quotes, brackets or emphasis.
_SENTENCE_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u2019\u201d\u00bb)\]*_]*\s*$")


def _word_count(text: str) -> int:
    """Words as the engine counts them: spaced words, and each character of a script written without spaces."""
    count = len(text.split())
    return count if text.isascii() else count + unspaced_count(text)


def _prose_words(paragraph: str, *, ended: bool = True) -> int:
    """The words of ``paragraph`` when it is prose (see the module), else 0; ``ended=False`` for a paragraph
    that may go on past what has arrived (its sentence need not end)."""
    if _STRUCTURE.match(paragraph) is not None:
        return 0
    count = _word_count(paragraph)
    lines = paragraph.count("\n") + 1
    if count < PARAGRAPH_WORDS or count < LINE_WORDS * lines:
        return 0
    return count if not ended or _SENTENCE_END.search(paragraph) is not None else 0


def is_article(text: str, *, paragraphs: int = PROSE_PARAGRAPHS, words: int = ARTICLE_WORDS) -> bool:
    """Whether ``text`` reads as an article (see the module): ``paragraphs`` of prose or more, ``words`` among them."""
    found = prose = 0
    for paragraph in _BLANK_LINE.split(text):
        count = _prose_words(paragraph.strip("\r\n"))
        if count:
            found += 1
            prose += count
            if found >= paragraphs and prose >= words:
                return True
    return False


def reads_as_article(text: str) -> bool:
    """Whether a string that no key names as a body is an article all the same: a field under an alias a GraphQL
    client chose, a block editor's HTML, a list of paragraphs (joined by blank lines). HTML is read by its
    blocks; :data:`UNNAMED_PARAGRAPHS` paragraphs of prose with :data:`UNNAMED_WORDS` words among them."""
    if len(text) < UNNAMED_WORDS * 4:  # fewer characters than that many words take
        return False
    if looks_like_html(text):
        text = html.unescape(_MARKUP.sub("", _BLOCK_END.sub("\n\n", text)))
    return is_article(text, paragraphs=UNNAMED_PARAGRAPHS, words=UNNAMED_WORDS)


def starts_prose(head: str) -> bool:
    """Whether the first part of a streamed text holds a paragraph of prose (then the text is read whole)."""
    paragraphs = _BLANK_LINE.split(head)
    last = len(paragraphs) - 1
    return any(_prose_words(p.strip("\r\n"), ended=i < last) for i, p in enumerate(paragraphs))


#: The start of a React Server Components payload (Next.js's ``text/x-component``, and its ``.txt`` files of
#: a static export): a row's id, then JSON (after a tag such as ``I``), or a text row (``T<length>,``).
_RSC_ROW = re.compile(r"[0-9a-f]{1,8}:(?:[A-Z]?[\[{\"]|T[0-9a-f]{1,8},)")


def is_rsc_payload(text: str) -> bool:
    """Whether ``text`` is a React Server Components payload (its first line is a row of one)."""
    return _RSC_ROW.match(text) is not None


def rsc_carries_prose(text: str) -> bool:
    """Whether an RSC payload's strings hold an article's worth of prose: :data:`ARTICLE_WORDS` words in
    strings of :data:`PARAGRAPH_WORDS` words or more (its text, rendered by the browser's script). Its rows
    are read as React reads them (:func:`~paywall.engine.code.flight_rows`); a payload whose rows cannot be
    read (cut short) is taken to carry one."""
    rows = code.flight_rows(text)
    if rows is None:
        return True
    prose = 0
    for _head, data, is_text in rows:
        pieces: Iterable[str] = (data,)
        if not is_text:
            value = code.load_json(data)
            pieces = () if value is code.NOT_JSON else code.json_strings(value)
        for piece in pieces:
            count = _word_count(piece)
            if count >= PARAGRAPH_WORDS:
                prose += count
                if prose >= ARTICLE_WORDS:
                    return True
    return False


def carries_article(text: str) -> bool:
    """Whether a text body carries an article: read as prose (:func:`is_article`), or as the strings of an RSC
    payload when it is one (:func:`rsc_carries_prose`)."""
    return rsc_carries_prose(text) if is_rsc_payload(text) else is_article(text)


def page_of(path: str) -> str:
    """The page a text view at ``path`` is of: ``/story.md`` is ``/story``'s, ``/story/index.md`` ``/story/``'s."""
    for suffix in _TEXT_SUFFIXES:
        if path.endswith(suffix):
            bare = path[: -len(suffix)]
            return bare.removesuffix("index") if bare.endswith("/index") else bare or "/"
    return path


def decoded(body: bytes, charset: str | None) -> str:
    """``body`` as text: by its byte order mark, else its ``charset`` (UTF-8 when none or unknown), errors replaced."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return body.decode(name, "replace")
    try:
        return body.decode(codecs.lookup(charset).name if charset else "utf-8", "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def cut(text: str, *, teaser_paragraphs: int, read_on: str) -> str | None:
    """``text`` cut at its teaser with ``read_on`` after it; None when it is no article (it goes as made).

    Raises :class:`~paywall.errors.FormatError` when what is kept still holds withheld text.
    """
    if not carries_article(text):
        return None
    if is_rsc_payload(text):  # a static export's payload: no row of it can be cut
        raise FormatError("a React Server Components payload that carries an article")
    result = cut_text(text, teaser_paragraphs=teaser_paragraphs, read_on=read_on)
    if result.whole:
        return None
    if result.fingerprint.leaks(result.value):
        raise FormatError("a copy of the withheld text stands before the cut")
    return result.value


__all__ = [
    "UNNAMED_PARAGRAPHS",
    "UNNAMED_WORDS",
    "carries_article",
    "cut",
    "decoded",
    "is_article",
    "is_rsc_payload",
    "page_of",
    "reads_as_article",
    "rsc_carries_prose",
    "starts_prose",
]
