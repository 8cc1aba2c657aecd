"""Where tags can be added to a page's ``<head>`` without changing how the page renders.

A byte scan that reads the page as a browser's tokenizer does, as far as the
end of the head: comments (``<!-- -->``, and the bogus ones ``<!x>``,
``<?x>``, ``</ x>``), the doctype, tags with their attribute values in any
quoting, and the text of raw-text and RCDATA elements (``script``, ``style``,
``title``, ``textarea``, ``noscript``...) are each skipped whole, so a
``</head>`` inside ``<title>``, a string, a comment or an attribute is never
taken for the end of the head.

The head ends at the real ``</head>``, or where a browser closes it without
one: at a tag that cannot stand in a head (``<body>``, ``<div>``...), at
``</body>``/``</html>``/``</br>``, or at text that is not white space.
Tags put there land in the head, after the doctype, and never in another
element's text: the page keeps its rendering mode and its text.

The scan is incremental: :meth:`HeadScan.feed` takes the page as it arrives
and answers None ("read on") until the end of the head is certain. When a
page's head is too large to wait for, :attr:`HeadScan.safe` is the last point
inside the head (after the doctype) where tags could go just as well.

It is not a parser: script-data escapes (``<!--<script>`` inside a script)
are not followed, which only matters for a ``</script>`` the page writes
inside its own script comments.
"""

from __future__ import annotations

import re

#: Elements that may stand in a head; any other start tag closes it.
_HEAD_ELEMENTS = frozenset(
    {b"html", b"head", b"base", b"basefont", b"bgsound", b"link", b"meta", b"noframes", b"script", b"style"}
    | {b"template", b"title", b"noscript"}
)
#: Elements whose content is text up to their own end tag (raw text and RCDATA).
_TEXT_ELEMENTS = frozenset({b"script", b"style", b"title", b"textarea", b"xmp", b"iframe", b"noembed", b"noframes"})
_TEXT_ENDS = {
    name: re.compile(rb"</" + name + rb"[\t\n\x0c\r />]", re.IGNORECASE) for name in _TEXT_ELEMENTS | {b"noscript"}
}
#: End tags that close the head as "anything else" does.
_HEAD_CLOSING_END_TAGS = frozenset({b"head", b"body", b"html", b"br"})

_WS = b"\t\n\x0c\r "
_TAG_NAME = re.compile(rb"[^\t\n\x0c\r />]*")
_SPACES = re.compile(rb"[\t\n\x0c\r /]*")
_ATTRIBUTE_NAME = re.compile(rb"[^\t\n\x0c\r />][^\t\n\x0c\r /=>]*")
_BLANK = re.compile(rb"[\t\n\x0c\r ]*")
_UNQUOTED = re.compile(rb"[^\t\n\x0c\r >]*")
# The rest of a well-formed tag (every value quoted, or unquoted without quotes): read
# this way by a regular expression exactly as by the tokenizer, so it is a fast path.
_WELL_FORMED_TAG = re.compile(
    rb"""(?:[\t\n\x0c\r ]+[^\t\n\x0c\r "'>/=]+"""
    rb"""(?:[\t\n\x0c\r ]*=[\t\n\x0c\r ]*(?:"[^"]*"|'[^']*'|[^\t\n\x0c\r "'=<>`]+))?)*[\t\n\x0c\r ]*/?>"""
)


def _text_element(name: bytes) -> bytes:
    """A well-formed raw-text element, start tag to end tag (its text may hold any "<" but its end tag)."""
    return (
        b"<"
        + name
        + _WELL_FORMED_TAG.pattern
        + rb"[^<]*(?:<(?!/"
        + name
        + rb"[\t\n\x0c\r />])[^<]*)*</"
        + name
        + (rb"[\t\n\x0c\r ]*>")
    )


# A run of the tokens most heads are made of, read in one call (the fast path): white
# space, the doctype, and well-formed html, head, meta, link, base, title, script and
# style elements.
_HEAD_RUN = re.compile(
    rb"(?:[\t\n\x0c\r ]+|<!doctype[^>]*>|<(?:html|head|meta|link|base)" + _WELL_FORMED_TAG.pattern
    + b"|" + _text_element(b"title") + b"|" + _text_element(b"script") + b"|" + _text_element(b"style") + b")*",
    re.IGNORECASE,
)  # fmt: skip
_HEAD_END = re.compile(rb"</head[\t\n\x0c\r />]", re.IGNORECASE)
_COMMENT_END = re.compile(rb"--!?>")
_TEXT = re.compile(rb"[^<]+")
_BOM = b"\xef\xbb\xbf"


class HeadScan:
    """Find the end of a page's head, as the page arrives."""

    def __init__(self) -> None:
        self._at = 0  # where the next token starts
        self._started = False  # a token other than comments and the doctype was seen
        self._template_depth = 0
        #: The last point known to be inside the head and after any doctype, or None.
        self.safe: int | None = None
        #: When the head ended at its ``</head>`` tag: the offset just past that tag's name and the
        #: character after it, else None. Every token before it was read whole and found by its own
        #: first bytes, so the answer depends on the bytes before this offset alone: any page that
        #: starts with them has its head end at the same place (:class:`paywall.http.cache.MemberHeads`).
        self.decided: int | None = None

    def feed(self, data: bytes, *, final: bool = False) -> int | None:
        """The offset where the head ends in ``data`` (the whole page so far), or None to read on.

        With ``final`` (no more bytes will come), the answer is never None: a
        page without any head end takes the tags at its end.
        """
        if self._at == 0 and data.startswith(_BOM):
            self._at = len(_BOM)
        while True:
            if self._template_depth == 0:
                run = _HEAD_RUN.match(data, self._at)
                assert run is not None
                if run.end() > self._at:
                    self._started = self._started or data.find(b"<", self._at, run.end()) >= 0
                    self._at = run.end()
                    if self._started:
                        self.safe = self._at
                end_tag = _HEAD_END.match(data, self._at)
                if end_tag is not None:  # the usual end: "</head>" right after the run
                    self.decided = end_tag.end()
                    return self._at
            found = self._token(data)
            if found is None:  # the next token is not complete yet
                if final:
                    return self.safe if self.safe is not None else len(data)
                return None
            end, closes_head = found
            if closes_head:
                return self._at
            self._at = end
            if self._started and self._template_depth == 0:
                self.safe = end

    def _token(self, data: bytes) -> tuple[int, bool] | None:
        """``(end, closes_head)`` of the token at ``self._at``, or None when it is incomplete."""
        at = self._at
        if at >= len(data):
            return None
        if data[at] != 0x3C:  # "<": text
            run = _TEXT.match(data, at)
            assert run is not None
            text = run.group(0)
            if text.strip(_WS):
                if self._template_depth:
                    return run.end(), False
                self._at = at + len(text) - len(text.lstrip(_WS))
                return self._at, True
            if run.end() == len(data):
                return None  # white space that may go on
            return run.end(), False
        if len(data) < at + 2:
            return None
        second = data[at + 1 : at + 2]
        if data.startswith(b"<!--", at):
            if data.startswith((b"<!-->", b"<!--->"), at):
                return data.index(b">", at) + 1, False
            end = _COMMENT_END.search(data, at + 4)
            return None if end is None else (end.end(), False)
        if second in (b"!", b"?"):
            if data[at : at + 2] == b"<!" and len(data) < at + 4:
                return None  # may yet be "<!--"
            close = data.find(b">", at + 2)
            if close < 0:
                return None
            if data[at + 2 : at + 9].lower() == b"doctype":
                self.safe = close + 1
            return close + 1, False
        if second == b"/":
            return self._end_tag(data, at)
        if second.isalpha():
            return self._start_tag(data, at)
        # A "<" that starts no tag is text.
        return (at + 1, False) if self._template_depth else (at, True)

    @staticmethod
    def _tag_end(data: bytes, at: int) -> int | None:
        """The offset just past the ``>`` of a tag whose attributes start at ``at``, or None.

        Attributes are read as the tokenizer reads them: after ``=`` a quote
        opens a value that only its own quote closes, whatever it holds.
        """
        well_formed = _WELL_FORMED_TAG.match(data, at)
        if well_formed is not None:
            return well_formed.end()
        size = len(data)
        while True:
            at = _SPACES.match(data, at).end()  # type: ignore[union-attr]
            if at >= size:
                return None
            if data[at] == 0x3E:  # ">"
                return at + 1
            at = _BLANK.match(data, _ATTRIBUTE_NAME.match(data, at).end()).end()  # type: ignore[union-attr]
            if at >= size:
                return None
            if data[at] != 0x3D:  # "=": a name without a value
                continue
            at = _BLANK.match(data, at + 1).end()  # type: ignore[union-attr]
            if at >= size:
                return None
            quote = data[at]
            if quote in (0x22, 0x27):
                close = data.find(bytes((quote,)), at + 1)
                if close < 0:
                    return None
                at = close + 1
            else:
                at = _UNQUOTED.match(data, at).end()  # type: ignore[union-attr]

    def _start_tag(self, data: bytes, at: int) -> tuple[int, bool] | None:
        name_match = _TAG_NAME.match(data, at + 1)
        assert name_match is not None
        if name_match.end() >= len(data):
            return None
        name = name_match.group(0).lower()
        if self._template_depth == 0 and name not in _HEAD_ELEMENTS:
            return at, True
        end = self._tag_end(data, name_match.end())
        if end is None:
            return None
        self._started = True
        if name == b"template":
            self._template_depth += 1
        if name in _TEXT_ENDS:  # "<script/>" starts raw text all the same
            close = _TEXT_ENDS[name].search(data, end)
            if close is None:
                return None
            after = self._tag_end(data, close.end() - 1)
            return None if after is None else (after, False)
        return end, False

    def _end_tag(self, data: bytes, at: int) -> tuple[int, bool] | None:
        if len(data) < at + 3:
            return None
        if not data[at + 2 : at + 3].isalpha():  # "</>" is dropped, "</ x>" is a bogus comment
            close = data.find(b">", at + 2)
            return None if close < 0 else (close + 1, False)
        name_match = _TAG_NAME.match(data, at + 2)
        assert name_match is not None
        if name_match.end() >= len(data):
            return None
        name = name_match.group(0).lower()
        if self._template_depth == 0 and name in _HEAD_CLOSING_END_TAGS:
            return at, True
        end = self._tag_end(data, name_match.end())
        if end is None:
            return None
        self._started = True
        if name == b"template" and self._template_depth:
            self._template_depth -= 1
        return end, False


def insertion_point(body: bytes) -> int:
    """Where tags go in a whole page: the end of its head (see the module docstring)."""
    point = HeadScan().feed(body, final=True)
    assert point is not None
    return point


def inject(body: bytes, tags: bytes) -> bytes:
    """``body`` with ``tags`` at the end of its head."""
    if not tags:
        return body
    return with_tags(body, insertion_point(body), tags)


def with_tags(page: bytes, at: int, tags: bytes) -> bytes:
    """``page`` with ``tags`` at offset ``at``, in one copy."""
    view = memoryview(page)
    return b"".join((view[:at], tags, view[at:]))


def encode_tags(head_html: str) -> bytes:
    """Tags as bytes right in any ASCII-compatible charset (non-ASCII as character references)."""
    return head_html.encode("ascii", errors="xmlcharrefreplace")


__all__ = ["HeadScan", "encode_tags", "inject", "insertion_point", "with_tags"]
