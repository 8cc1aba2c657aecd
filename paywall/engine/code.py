"""Scripts read as code: the text a script or a JSON block carries is in its literals.

A script body is not markup: ``if (w < 768) { … }`` holds a ``<`` and a ``>``
with code between them, and reading it as tags would hide whatever text lies
there. JavaScript is split into its tokens that can carry text (string and
template literals, comments, regular expression literals) by a tokenizer that
knows where each starts and ends; JSON (JSON-LD, application state such as
``__NEXT_DATA__``, also wrapped in ``<!-- … -->`` or ``//<![CDATA[ … //]]>``)
is parsed, and every string in it is a place the sweep reads. A string is
shortened in place as the JSON string of its shorter text, or the JSON is
serialised again: either way it stays valid and an app's hydration still
parses it.
"""

from __future__ import annotations

import functools
import json
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from paywall.engine.outline import INLINE_TAGS
from paywall.engine.text import json_unescaped

JSON_TYPES = frozenset({"application/ld+json", "application/json", "importmap", "speculationrules"})
JS_TYPES = frozenset(
    {"", "text/javascript", "application/javascript", "module", "text/ecmascript", "application/ecmascript",
     "text/jsx", "text/babel", "application/x-javascript"}
)  # fmt: skip

# Leftmost match wins, so quotes inside comments and strings inside strings are safe. Each
# literal is matched with an unrolled loop (a run of plain characters, then an escape and
# another run), which the regular expression engine scans many times faster than one
# alternation per character.
# A "/" starts a regular expression literal only where an expression can start
# (after a punctuator or a keyword such as return), else it is division.
_JS_TOKENS = re.compile(
    r"""
      (?P<comment>//[^\n]*|/\*[\s\S]*?\*/|<!--[^\n]*|^\s*-->[^\n]*)
    | (?:(?<=[(,=:\[!&|?{};+\-*%<>~^])|(?<=\breturn)|(?<=\btypeof)|(?<=^))
      (?P<regex>\s*/(?![*/])[^/\\\n\[]*(?:(?:\\.|\[[^\]\\\n]*(?:\\.[^\]\\\n]*)*\])[^/\\\n\[]*)*/[a-z]*)
    | (?P<string>"[^"\\\n]*(?:\\[\s\S][^"\\\n]*)*"|'[^'\\\n]*(?:\\[\s\S][^'\\\n]*)*'|`[^`\\]*(?:\\[\s\S][^`\\]*)*`)
    """,
    re.VERBOSE | re.MULTILINE,
)
_JSON_STRING_TEXT = r'[^"\\]*(?:\\[\s\S][^"\\]*)*'
"""What stands between a JSON string's quotes (escapes as written), as a pattern."""
_JSON_STRINGS = re.compile(f'("{_JSON_STRING_TEXT}")')
"""The string literals of a body that is JSON (see :func:`split_json`): outside them it holds no quote."""
_WRAPPERS = (("<!--", "-->"), ("//<![CDATA[", "//]]>"), ("/*<![CDATA[*/", "/*]]>*/"), ("<![CDATA[", "]]>"))
NOT_JSON = object()


def js_literals(body: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, text) of each string, template, comment and regex literal of a script."""
    for match in _JS_TOKENS.finditer(body):
        kind = match.lastgroup or ""
        start, end = match.span(kind)
        yield start, end, _literal_text(kind, body[start:end])


def _literal_text(kind: str, token: str) -> str:
    """The text a literal of ``kind`` (a group of :data:`_JS_TOKENS`) carries."""
    if kind == "string":
        return token[1:-1]
    if kind == "comment":
        return token.strip().removeprefix("/*").removesuffix("*/").removeprefix("//")
    return token.strip()


def load_json(body: str) -> Any:
    """The JSON value of a script body (wrappers undone), or :data:`NOT_JSON`."""
    text = body.strip()
    for prefix, suffix in _WRAPPERS:
        if text.startswith(prefix) and text.endswith(suffix):
            text = text[len(prefix) : -len(suffix)].strip()
    if not text or text[0] not in '{["':
        return NOT_JSON
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return NOT_JSON


_ASSIGNMENT = re.compile(r"\A\s*(?:(?:var|let|const)\s+)?[\w$.]+(?:\[[\"'][^\"']*[\"']\])*\s*=\s*(?=[\[{])")


def split_json(body: str) -> tuple[str, Any, str] | None:
    """A script that is JSON, or one assignment of JSON (``window.__STATE__ = {...};``): (code before, value, after).

    Application state is mostly of that form; reading it with the JSON parser
    (in C) instead of the JavaScript tokenizer is what keeps a megabyte of
    state cheap, and rewriting it keeps the assignment around the value.
    """
    value = load_json(body)
    if value is not NOT_JSON:
        return "", value, ""
    match = _ASSIGNMENT.match(body)
    if match is None:
        return None
    end = max(body.rfind("}"), body.rfind("]"))
    suffix = body[end + 1 :]
    if end < match.end() or suffix.strip() not in ("", ";"):
        return None
    try:
        return body[: match.end()], json.loads(body[match.end() : end + 1]), suffix
    except (ValueError, RecursionError):
        return None


def json_strings(value: Any) -> Iterator[str]:
    """Every string of a JSON value, keys included, iteratively (deep values do not exhaust the stack)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def json_groups(value: Any) -> tuple[list[str], list[list[int]]]:
    """The string values of a JSON value (not its keys) in document order, the order :func:`map_json` visits
    them; and the groups of those strings that are read together, as indexes among those values.

    A text may be stored a few words a string. Two shapes are read as one text:

    * an array's own strings (a sentence split at its links);
    * the strings under one key in the objects that are items of arrays, all through the document
      (rich text as spans: Portable Text's ``{"_type": "span", "text": …}``, Contentful's
      ``{"nodeType": "text", "value": …}``, a link's text among them).

    Markup written as arrays (JsonML: ``["p", {}, "a few words ", ["a", {"href": …}, "a link"], …]``) puts
    each link or emphasis in an array of its own: an array item of an array that names an inline element
    (:data:`~paywall.engine.outline.INLINE_TAGS`) is part of the line it stands in, and its strings, past the
    tag's name, are read with the enclosing array's.

    The fields of one object are texts of their own (a headline, a description), never read as one.
    """
    values: list[str] = []
    groups: list[list[int]] = []
    keyed: dict[str, list[int]] = {}
    # Iteratively (deep values do not exhaust the stack): each frame is a container's items still to visit;
    # the strings of an array seen so far (None for an object); whether the items are an object's pairs,
    # that object being an array's item (its strings are counted under their keys); and whether those
    # strings are the enclosing array's (an inline element's, in markup written as arrays).
    frames: list[tuple[Iterator[Any], list[int] | None, bool, bool]] = [(iter((value,)), None, False, False)]
    while frames:
        items, held, pairs, inline = frames[-1]
        item: Any = next(items, _END)
        if item is _END:
            frames.pop()
            if held is not None and len(held) > 1 and not inline:
                groups.append(held)
            continue
        key = None
        if pairs:
            key, item = item
        if isinstance(item, str):
            if held is not None:
                held.append(len(values))
            elif key is not None:
                keyed.setdefault(key, []).append(len(values))
            values.append(item)
        elif isinstance(item, list):
            if held is not None and jsonml_start(item) and item[0] in INLINE_TAGS:
                values.append(item[0])  # the element's name: visited, not read
                frames.append((iter(item[1:]), held, False, True))
            else:
                frames.append((iter(item), [], False, False))
        elif isinstance(item, dict):
            in_array = held is not None
            frames.append((iter(item.items() if in_array else item.values()), None, in_array, False))
    groups.extend(group for group in keyed.values() if len(group) > 1)
    return values, groups


def keyed_strings(window: str) -> list[str]:
    """The string values of a stretch of JSON text, joined by the key they stand under, in their order.

    The raw text's reading of what :func:`json_groups` reads together in a
    parsed value, for a window that may start and end anywhere (inside a
    string too): from its first key on, each string followed by ``:`` is a
    key, and every other string is a value under the key last seen (an
    array's items under the array's key). A window cannot tell which objects
    are an array's items, so every value is read under its key. A value's
    escapes stay as written. A window without a key in its raw text may be
    JSON held in a script's string (``JSON.parse("{\\"body\\": …}")``): it is
    read with its escapes undone.
    """
    texts = _keyed_strings(window)
    if texts is None and '\\"' in window:  # no key in the raw text: it may be JSON escaped in a string
        texts = _keyed_strings(json_unescaped(window))
    return texts or []


def _keyed_strings(window: str) -> list[str] | None:
    """:func:`keyed_strings` of the raw text; None when it holds no key."""
    first = _JSON_KEY.search(window)
    if first is None:
        return None
    keyed: dict[str, list[str]] = {}
    key = ""
    for string, colon in _JSON_MEMBERS.findall(window, first.start(1)):
        if colon:
            key = string
        else:
            keyed.setdefault(key, []).append(string)
    return [" ".join(texts) for texts in keyed.values() if len(texts) > 1]


def json_text(literal: str) -> Any | None:
    """The value of the JSON object or array a text is (an attribute's value, a comment), or a script's string
    literal holds as text (``JSON.parse("{…}")``: ``literal`` as written, between its quotes); else None."""
    if not literal or literal[0] not in "{[ \t\r\n":  # most texts: one look, no copy (JSON allows no other space)
        return None
    start = literal.lstrip()[:1]
    if start not in ("{", "[") or not literal.rstrip().endswith(("}", "]")):
        return None
    try:
        return json.loads(literal)
    except (ValueError, RecursionError):
        pass
    if "\\" not in literal:
        return None
    try:
        return json.loads(json_unescaped(literal))
    except (ValueError, RecursionError):
        return None


# A key whose quotes are known to pair: after the ``{`` or ``,`` that opens a member.
_JSON_KEY = re.compile(r'[{,]\s*("[^"\\\n]*(?:\\.[^"\\\n]*)*")\s*:')
# A string, and the colon after it that makes it a key.
_JSON_MEMBERS = re.compile(f'"({_JSON_STRING_TEXT})"\\s*(:?)')


_END = object()

JSONML_BLOCKS = frozenset(
    {
        "p", "div", "section", "article", "aside", "header", "footer", "main", "blockquote", "figure",
        "figcaption", "pre", "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "td", "th",
        "hr", "h1", "h2", "h3", "h4", "h5", "h6",
    }
)  # fmt: skip
"""Elements of blocks, with :data:`~paywall.engine.outline.INLINE_TAGS`, that markup written as arrays names."""


def jsonml_start(value: list[Any]) -> int:
    """Where the children of an element of markup written as arrays (JsonML: ``["p", {"class": "lede"}, "a few
    words ", ["a", {"href": …}, "a link"]]``) start: past its tag's name and its attributes. 0 for an array that
    is no such element (its first item names no element of text)."""
    if not value or not isinstance(value[0], str) or (value[0] not in INLINE_TAGS and value[0] not in JSONML_BLOCKS):
        return 0
    return 2 if len(value) > 1 and isinstance(value[1], dict) else 1


def json_paths(value: Any) -> list[tuple[str | int, ...]]:
    """The path (keys and indexes from the top) of each string value of a JSON value, in :func:`map_json`'s
    order, iteratively (deep values do not exhaust the stack)."""
    paths: list[tuple[str | int, ...]] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            paths.append(path)
            continue
        if isinstance(item, list):
            steps: list[str | int] = list(range(len(item)))
        elif isinstance(item, dict):
            steps = list(item)
        else:
            continue
        for step in reversed(steps):
            child = item[step]
            if isinstance(child, (str, list, dict)):
                stack.append(((*path, step), child))
    return paths


def story_depth(path: Sequence[str | int], earlier: Callable[[int], list[Any]]) -> int | None:
    """Where the array that holds a story stands on ``path`` (the keys and indexes to a string that carried
    withheld text): the place of its index in ``path``; None where no array holds one.

    A state stores a story as an array of its paragraphs: strings, or objects
    (Portable Text's blocks of spans, ``{"type": "paragraph", "text": …}``,
    Slate's elements of leaves, one-string arrays). A page that renders the
    story's opening on the server and the rest from that state shows only
    part of it in its markup; what follows its first withheld paragraph in
    the array is the rest of it (see :func:`emptied`). The story's array is
    the innermost array on ``path`` of which an earlier item (``earlier``:
    the items before the one on ``path``, of the array at ``path[:depth]``)
    holds a string at the same place within it (``[*].children[*].text``,
    indexes aside): the paragraphs before the first withheld one. The page's
    other parts (its menus and footers in a tree of components, another
    story) are in arrays further out, and stay. Else an array of which the
    string itself is an item holds the story.
    """
    depths = [depth for depth, step in enumerate(path) if isinstance(step, int)]
    for depth in reversed(depths):
        shape = _shape(path, depth)
        items = earlier(depth)
        for at in range(len(items) - 1, -1, -1):  # the nearest first
            if _holds_at(items[at], shape):
                return depth
    if depths and depths[-1] == len(path) - 1:
        return depths[-1]
    return None


def emptied(value: Any, shape: tuple[str | None, ...]) -> Any:
    """An item of a story's array after its first withheld paragraph, with its strings at ``shape`` (keys, None
    for any index) emptied, and so those of the items of arrays it holds that hold strings there (paragraphs
    grouped in a later block: a section, columns)."""
    exact = _emptied_at(value, shape)
    return _nested(exact, shape) if shape else exact


def _emptied_at(value: Any, shape: tuple[str | None, ...]) -> Any:
    """``value`` with its strings at ``shape`` emptied."""
    if not shape:
        return "" if isinstance(value, str) else value
    step, rest = shape[0], shape[1:]
    if step is None:
        return [_emptied_at(item, rest) for item in value] if isinstance(value, list) else value
    if isinstance(value, dict) and step in value:
        return {**value, step: _emptied_at(value[step], rest)}
    return value


def _nested(value: Any, shape: tuple[str | None, ...]) -> Any:
    """``value`` with the items of each array in it that holds strings at ``shape`` :func:`emptied`."""
    if isinstance(value, list):
        for item in value:
            if _holds_at(item, shape):
                return [emptied(each, shape) for each in value]
        return [_nested(item, shape) for item in value]
    if isinstance(value, dict):
        return {key: _nested(item, shape) for key, item in value.items()}
    return value


def empty_story_rest(array: list[Any], path: Sequence[str | int], depth: int) -> None:
    """Empty, in the items of ``array`` (the story's, at ``path[:depth]``) after the one on ``path``, the strings at
    the place of the one ``path`` leads to."""
    index, shape = path[depth], _shape(path, depth)
    assert isinstance(index, int)
    array[index + 1 :] = [emptied(item, shape) for item in array[index + 1 :]]


def _holds_at(value: Any, shape: tuple[str | None, ...]) -> bool:
    """Whether ``value`` holds a string at ``shape``."""
    if not shape:
        return isinstance(value, str)
    step, rest = shape[0], shape[1:]
    if step is None:
        if isinstance(value, list):
            for item in value:
                if _holds_at(item, rest):
                    return True
        return False
    return isinstance(value, dict) and step in value and _holds_at(value[step], rest)


def _shape(path: Sequence[str | int], depth: int) -> tuple[str | None, ...]:
    """Where in an item of the array at ``path[:depth]`` the string at ``path`` stands, its indexes aside."""
    return tuple(None if isinstance(step, int) else step for step in path[depth + 1 :])


def map_json(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of a JSON value with every string value passed through ``change``."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [map_json(item, change) for item in value]
    if isinstance(value, dict):
        return {key: map_json(item, change) for key, item in value.items()}
    return value


_ROW_ID = re.compile(r"[0-9a-f]{1,8}:")
_TEXT_ROW = re.compile(r"T([0-9a-f]{1,8}),")
#: A row's tag: a module (``I``), a hint (``HL``), an error (``E``)...; no JSON value starts with a capital.
_ROW_TAG = re.compile(r"[A-Z]*")


def flight_rows(text: str) -> list[tuple[str, str, bool]] | None:
    """The rows of a React Server Components payload (what Next.js's App Router pushes in
    ``self.__next_f.push([1, "…"])``): ``(head, data, text)`` for each, ``head`` the row's id and colon
    (and the tag of a tagged row: ``I``, ``HL``...), ``data`` its JSON (any value: ``5:null`` too), or its
    text when ``text`` (a ``T`` row, whose length in UTF-8 bytes is given in its head). None when ``text`` is
    not rows that end where it ends (a row split over two pushes cannot be rewritten alone).
    """
    rows: list[tuple[str, str, bool]] = []
    at = 0
    while at < len(text):
        head = _ROW_ID.match(text, at)
        if head is None:
            return None
        at = head.end()
        sized = _TEXT_ROW.match(text, at)
        if sized is not None:
            data = text[sized.end() :].encode()
            length = int(sized.group(1), 16)
            if len(data) < length:
                return None
            try:
                body = data[:length].decode()
            except UnicodeDecodeError:
                return None
            rows.append((head.group(), body, True))
            at = sized.end() + len(body)
            continue
        end = text.find("\n", at)
        if end < 0:
            return None
        tag = _ROW_TAG.match(text, at, end).group()  # type: ignore[union-attr]
        rows.append((head.group() + tag, text[at + len(tag) : end], False))
        at = end + 1
    return rows


def flight_text(rows: list[tuple[str, str, bool]]) -> str:
    """:func:`flight_rows` written back: JSON rows end with a newline, text rows carry their new length."""
    return "".join(f"{head}T{len(data.encode()):x},{data}" if text else f"{head}{data}\n" for head, data, text in rows)


@functools.lru_cache(maxsize=16)
def react_element(markup: str) -> list[Any] | None:
    """``markup`` of one element as the React element that renders it (``["$", tag, null, props]``, its content
    as ``dangerouslySetInnerHTML``), or None when it is not one element or has an attribute React writes
    otherwise (``style``). Remembered (a site has one call to action): the value is shared, never changed."""
    fragment = LexborHTMLParser(markup, is_fragment=True)
    root = fragment.root
    nodes = [node for node in root.iter(include_text=True)] if root is not None else []
    elements = [node for node in nodes if node.tag != "-text" or (node.text_content or "").strip()]
    if len(elements) != 1 or elements[0].tag in (None, "-text", "-comment"):
        return None
    element = elements[0]
    props: dict[str, Any] = {}
    for name, value in element.attributes.items():
        if name == "style":
            return None
        props[_REACT_NAMES.get(name, name)] = value or ""
    props["dangerouslySetInnerHTML"] = {"__html": element.inner_html or ""}
    return ["$", element.tag, None, props]


_REACT_NAMES = {"class": "className", "for": "htmlFor", "tabindex": "tabIndex"}


def script_json(value: Any) -> str:
    """JSON text that is safe inside a ``<script>`` element.

    ``<`` only occurs inside JSON strings, where ``\\u003c`` means the same,
    so ``</script>`` and ``<!--`` cannot end or confuse the element.
    """
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def replace_literals(
    body: str, change: Callable[[str], str | None], within: Sequence[tuple[int, int]] = (), *, json_body: bool = False
) -> str | None:
    """The script with each literal for which ``change`` returns a value replaced by it; None if none was.

    With ``within``, only literals that overlap one of those ranges of ``body`` are offered to ``change``.
    ``json_body``: the body is JSON (:func:`split_json`), whose literals are its strings alone (see
    :func:`_json_literals`), and the strings that carry the rest of a story after one that changed are emptied
    too (:func:`story_depth`: a story stored a paragraph an item goes on after its first withheld paragraph,
    even where the page's markup never showed the rest); None where the text cannot be read so.
    """
    ranges = _union(within)
    found = _json_literals(body, ranges) if json_body else _js_literals(body, ranges)
    parts: list[str] = []
    starts: list[int] = []  # where each changed literal starts in the new body
    last = 0
    length = 0
    for kind, start, end in found:
        new = change(_literal_text(kind, body[start:end]))
        if new is None:
            continue
        parts.append(body[last:start])
        length += start - last
        starts.append(length)
        parts.append(new)
        length += len(new)
        last = end
    if not parts:
        return None
    parts.append(body[last:])
    new_body = "".join(parts)
    return _without_story_rest(new_body, starts) if json_body else new_body


_DECODER = json.JSONDecoder()


def _without_story_rest(body: str, starts: list[int]) -> str | None:
    """A body that is JSON with the rest of a story emptied after each string at ``starts`` (:func:`story_depth`);
    None where its text cannot be read so (then the sweep reads the body from its parsed value).

    The arrays and objects open where a string stands are read from the text
    before it, strings skipped by a search for their closing quote; the
    story's array alone is parsed and written again, the rest of the body
    stays as the site wrote it.
    """
    reader = _Reader(body, _json_start(body))
    pending = sorted(starts)
    while pending:
        start = pending.pop(0)
        if not reader.read_to(start):
            return None
        path = reader.path()
        if path is None:
            return None
        try:
            depth = story_depth(path, functools.partial(_earlier_items, reader))
            if depth is None:
                continue
            opener = reader.openers[depth]
            array, end = _DECODER.raw_decode(body, opener)
            empty_story_rest(array, path, depth)
            text = script_json(array)
        except (ValueError, RecursionError):
            return None
        body = body[:opener] + text + body[end:]
        shift = len(text) - (end - opener)
        pending = [at + shift for at in pending if at >= end]
        reader.replaced(body, depth, opener + len(text))
    return body


def _earlier_items(reader: _Reader, depth: int) -> list[Any]:
    """The items of the array open at ``depth`` before the one the reader stands in, parsed."""
    items = reader.body[reader.openers[depth] + 1 : reader.item_starts[depth]].rstrip()
    value: list[Any] = json.loads(f"[{items[:-1] if items.endswith(',') else items}]")
    return value


def _json_start(body: str) -> int:
    """Where the JSON value of a body that is JSON (:func:`split_json`) starts: past an assignment or a wrapper."""
    match = _ASSIGNMENT.match(body)
    if match is not None:
        return match.end()
    at = len(body) - len(body.lstrip())
    for prefix, _suffix in _WRAPPERS:
        if body.startswith(prefix, at):
            at += len(prefix)
            return at + len(body[at:]) - len(body[at:].lstrip())
    return at


class _Reader:
    """The arrays and objects of a JSON text that are open at a place, read on from one place to a later one.

    For each open one, outermost first: where it opens, the index or key that
    leads on towards the place, and where that item starts. Its cost is the
    text's structure: a string is passed by a search for its closing quote.
    """

    def __init__(self, body: str, begin: int) -> None:
        self.body = body
        self.at = begin
        self.openers: list[int] = []
        self.steps: list[int] = []  # an array's index, -1 in an object
        self.item_starts: list[int] = []
        self.keys: list[int] = []  # where the key last seen in each open object starts
        self.last_string = -1

    def read_to(self, target: int) -> bool:
        """Read on to ``target``; False where the text does not read as JSON."""
        body, at = self.body, self.at
        openers, steps, item_starts, keys = self.openers, self.steps, self.item_starts, self.keys
        while at < target:
            char = body[at]
            if char == '"':
                self.last_string = at
                at = _string_end(body, at)
                if at < 0:
                    return False
                continue
            if char == "[" or char == "{":
                openers.append(at)
                steps.append(0 if char == "[" else -1)
                item_starts.append(at + 1)
                keys.append(-1)
            elif char == "]" or char == "}":
                if not openers:
                    return False
                openers.pop()
                steps.pop()
                item_starts.pop()
                keys.pop()
            elif char == "," and openers:
                if steps[-1] >= 0:
                    steps[-1] += 1
                item_starts[-1] = at + 1
            elif char == ":" and openers:
                keys[-1] = self.last_string
                item_starts[-1] = at + 1
            at += 1
        self.at = at
        return True

    def replaced(self, body: str, depth: int, end: int) -> None:
        """The array open at ``depth`` was written again, in ``body``, to end at ``end``: read on after it, in
        what held it (the text before it, and so what is open there, is as it was)."""
        self.body = body
        self.at = end
        for frames in (self.openers, self.steps, self.item_starts, self.keys):
            del frames[depth:]

    def path(self) -> list[str | int] | None:
        """The keys and indexes that lead to the place read to; None where a key is missing."""
        path: list[str | int] = []
        for step, key in zip(self.steps, self.keys, strict=True):
            if step >= 0:
                path.append(step)
            elif key < 0:
                return None
            else:
                path.append(json.loads(self.body[key : _string_end(self.body, key)]))
        return path


def _string_end(body: str, start: int) -> int:
    """Where the JSON string opening at ``start`` ends (past its closing quote); -1 when it does not."""
    end = body.find('"', start + 1)
    while end > 0:
        backslashes = end - 1
        while body[backslashes] == "\\":
            backslashes -= 1
        if (end - 1 - backslashes) % 2 == 0:
            return end + 1
        end = body.find('"', end + 1)
    return -1


def _js_literals(body: str, ranges: list[tuple[int, int]]) -> Iterator[tuple[str, int, int]]:
    """(kind, start, end) of each literal of a script that overlaps one of ``ranges`` (all of them without)."""
    stops = [stop for _, stop in ranges]
    for match in _JS_TOKENS.finditer(body):
        kind = match.lastgroup or ""
        start, end = match.span(kind)
        if ranges:
            if start >= stops[-1]:
                break  # this literal and every later one start after the last range
            # The first range that ends after the literal starts is the only one that may overlap it.
            index = bisect_right(stops, start)
            if index == len(ranges) or ranges[index][0] >= end:
                continue
        yield kind, start, end


def _json_literals(body: str, ranges: list[tuple[int, int]]) -> Iterator[tuple[str, int, int]]:
    """:func:`_js_literals` of a body that is JSON: its strings, which hold every quote it has.

    The body is split at its strings and their places summed up in C; only
    the strings that overlap ``ranges`` are looked at in Python (an app's
    state holds tens of thousands of strings, and a window a few of them).
    """
    parts = _JSON_STRINGS.split(body)  # text, string, text, ..., text
    edges = list(accumulate(map(len, parts)))
    starts, ends = edges[0:-1:2], edges[1::2]
    if not ranges:
        ranges = [(0, len(body))]
    index = 0
    for low, high in ranges:  # sorted, not touching: each string is offered once, in order
        index = max(index, bisect_right(ends, low))
        while index < len(starts) and starts[index] < high:
            yield "string", starts[index], ends[index]
            index += 1


def _union(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` as sorted ranges that do not touch: a literal overlaps one of them if and only if it overlaps a span.

    Touching spans are joined too, and an empty span is kept where it stands (it overlaps what holds it).
    """
    ranges: list[tuple[int, int]] = []
    for begin, stop in sorted(spans):
        if ranges and begin <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], stop))
        else:
            ranges.append((begin, stop))
    return ranges
