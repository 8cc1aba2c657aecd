"""JSON answers that carry article bodies: found by their shape, cut at the teaser, written back in the same shape.

Shapes known without a setting (more body keys with ``json_body_fields``):

* **HTML or text strings under a body key** (:data:`BODY_KEYS`: ``content``,
  ``body``, ``body_html``, ``html``, ``articleBody``...), at any depth: a
  headless CMS's article, a GraphQL answer, JSON-LD, a Next.js data route
  (``/_next/data/<build>/<page>.json``, its ``pageProps``).
* **WordPress REST**: ``content.rendered`` and, in the edit context,
  ``content.raw`` (strings under :data:`LEAF_KEYS` of an object under a body
  key). ``excerpt.rendered`` is no body and stays. Comments
  (``"type": "comment"``) are left alone, and so is an object that says it is
  free (``"paywall": "free"``, also in its ``meta``: a WordPress post marked free).
* **Rich text**: an array under a body key whose items are blocks of text
  spans (Portable Text's ``children``/``text``, Slate, Strapi and Lexical
  ``children``, Contentful ``content``/``value``, Editor.js ``data.text``, a
  Quill delta's ``ops``/``insert``),
  elements of markup written as arrays (JsonML's ``["p", {}, "words ", ["a",
  {"href": …}, "a link"]]``; an element holding them is read by its children)
  or paragraphs (strings). Such an array is truncated to the teaser's blocks (the
  last one cut inside when the teaser ends there), and one block of the same
  shape carrying the call to action's words is added.
* **Prose under any other key**: a string, or an array's strings read in
  order, that holds an article's prose
  (:func:`~paywall.formats.text_body.reads_as_article`): a GraphQL client
  names the fields it gets and may rename them (``{ post { x: content } }``).
  An array of objects that each hold a block under one key (a block editor's
  ``innerHTML``, WPGraphQL's ``renderedHtml``) is rich text of that key;
  records (a title, a date, a link) and comments are no blocks. The items of
  a flat payload (SvelteKit's ``__data.json``) are read one by one.
* **JSON held as text** in a string (a component's props, an editor's state
  such as Lexical's): read as JSON, cut inside, and written back as JSON text.
* **Nuxt payloads** (``_payload.json``): the flat, index-linked array of
  devalue; strings and lists of strings under a body key are cut in place.

A string body is cut as HTML when it holds markup, else as plain text
(:mod:`paywall.formats.bodies`); either way it stays a string. What is cut
does not depend on the reader, and nothing else changes: same keys, same
types, same order.

**Check after transforming**: every string of the answer (keys too) is read
for runs of withheld words, in any escaping; a value that still carries one
(the full text again in a field no shape names) is blanked, a key raises
:class:`~paywall.errors.FormatError`. So does JSON that cannot be read, or
whose objects repeat a key (which one a client keeps is the client's choice).

The answer is written back in the original's style: compact or spaced
separators, indentation, ASCII escapes, escaped slashes (PHP's ``\\/``) and
HTML-safe escapes (``\\u003c``) as the original had them. An answer in which
nothing was cut is not written again at all: the caller sends its own bytes.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from paywall.engine.code import json_text, jsonml_start
from paywall.errors import FormatError
from paywall.formats.bodies import Block, Withheld, cut_blocks, cut_html, cut_text, looks_like_html
from paywall.formats.text_body import reads_as_article

#: Keys whose value is an article's body: a string, rich text, or an object holding them (compared in lower case:
#: ``Body`` and ``ContentHtml`` count too).
BODY_KEYS = frozenset(
    {
        "content", "body", "html", "body_html", "bodyHtml", "content_html", "contentHtml", "content_text",
        "articleBody", "article_body", "bodyText", "body_text", "fullText", "full_text", "fulltext",
        "richText", "rich_text", "blocks", "paragraphs",
    }
)  # fmt: skip
#: Keys of strings inside a body's object or block that hold its text (``content.rendered``, a span's ``text``, a
#: Quill delta's ``insert``).
LEAF_KEYS = frozenset({"rendered", "raw", "html", "text", "value", "content", "body", "insert"})
#: Keys that make an object a record (a post, a story) rather than a block of text.
RECORD_KEYS = frozenset({"title", "slug", "link", "permalink", "headline", "excerpt", "author", "date"})
#: Keys that make an object a block of rich text (with :data:`LEAF_KEYS`).
BLOCK_KEYS = frozenset({"_type", "type", "nodetype", "children", "data", "style", "spans"})
#: Keys of an article's own address, for the call to action's link.
LINK_KEYS = ("link", "permalink", "url", "canonical_url", "canonicalurl", "canonical", "path")
_HEADING = re.compile(r"^(?:h[1-6]|heading.*|header)$", re.IGNORECASE)
_XSSI_PREFIX = re.compile(rb"\A\)\]\}',?[ \t]*\r?\n")
#: The start of JSONP: a call (``callback(``, WordPress's ``/**/callback(``, ``typeof cb === "function" && cb(``)
#: whose argument is an object or an array.
_JSONP_START = re.compile(
    rb"\A\s*(?:/\*\*/\s*)?(?:typeof\s+[A-Za-z_$][\w$.]*\s*===?\s*[\"']function[\"']\s*&&\s*)?"
    rb"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*\s*\(\s*(?=[\[{])"
)
_JSONP_END = re.compile(rb"\s*\)\s*;?\s*\Z")
_KEY_SEPARATOR = re.compile(rb'"\s*:(\s*)[^\s]')
_ITEM_SEPARATOR = re.compile(rb'[\]}"0-9el]\s*,(\s*)["{\[0-9tfn-]')
_INDENT = re.compile(rb"[\[{]\r?\n([ \t]+)")


def key_pattern(keys: Iterable[str]) -> re.Pattern[bytes]:
    """A search for any of ``keys`` written as a JSON key, in lower-cased bytes (the cheap look before a parse).

    Searching ``body.lower()`` costs a fifth of a case-blind search. A key
    written with escapes (``"\\u0063ontent"``) is the same key to a JSON
    parser: any ``\\u00`` escape makes the body worth a parse too.
    """
    names = sorted({re.escape(k.lower().encode()) for k in keys}, key=len, reverse=True)
    return re.compile(rb'"(?:' + b"|".join(names) + rb')"\s*:|\\u00')


@dataclass(frozen=True)
class ReadOn:
    """Where a cut body's call to action links: the article's own address, or ``fallback``."""

    html: Callable[[str], str]
    text: Callable[[str], str]
    fallback: str
    #: The site's origin: a path on the site becomes an absolute link (feed readers and apps read them elsewhere).
    origin: str = ""

    def url(self, link: str | None) -> str:
        if isinstance(link, str) and link.startswith(("https://", "http://")):
            return link
        if isinstance(link, str) and _site_path(link):
            return self.origin + link
        return self.fallback


def _site_path(link: str) -> bool:
    return link.startswith("/") and not link.startswith("//") and "\\" not in link


# --------------------------------------------------------------------------- reading and writing


#: Where a paragraph of HTML ends, as JSON writes it (plain, with PHP's ``\/``, or HTML-safe).
_PARAGRAPH_ENDS = (b"</p>", b"<\\/p>", b"\\u003c/p")
#: Sentence ends between words (and Chinese and Japanese full stops): an article's prose holds a few.
_SENTENCE_ENDS = (b". ", "\u3002".encode())


def may_hold_prose(data: bytes) -> bool:
    """Whether JSON may hold an article under keys that no shape names (then it is read: see
    :func:`~paywall.formats.text_body.reads_as_article`): paragraphs of HTML, or a few sentences."""
    lowered = data.lower()
    return any(end in lowered for end in _PARAGRAPH_ENDS) or sum(map(data.count, _SENTENCE_ENDS)) >= 4


def sniffs_as_jsonp(head: bytes) -> bool:
    """Whether a script starts as JSONP does: a call whose argument is an object or an array."""
    return _JSONP_START.match(head) is not None


def loads(data: bytes) -> tuple[bytes, Any, bytes]:
    """``(prefix, value, suffix)`` of a JSON body: an anti-hijacking prefix (``)]}',``), or the call around
    JSONP's argument, is kept aside. Raises FormatError."""
    prefix = suffix = b""
    match = _XSSI_PREFIX.match(data) or _JSONP_START.match(data)
    if match is not None:
        prefix, data = data[: match.end()], data[match.end() :]
        end = _JSONP_END.search(data) if match.re is _JSONP_START else None
        if end is not None:
            data, suffix = data[: end.start()], data[end.start() :]
    try:
        return prefix, json.loads(data, object_pairs_hook=_unique_keys), suffix
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"not JSON that can be read ({type(exc).__name__}: {str(exc)[:80]})") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("an object repeats a key")
    return value


def dumps_like(value: Any, original: bytes, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    """``value`` as JSON written the way ``original`` was (separators, indentation, escapes), as UTF-8, between
    ``prefix`` and ``suffix`` (what :func:`loads` kept aside)."""
    indent_match = _INDENT.search(original[:4096])
    indent: str | int | None = indent_match.group(1).decode("ascii") if indent_match else None
    key = _KEY_SEPARATOR.search(original)
    item = _ITEM_SEPARATOR.search(original)
    key_space = key is not None and key.group(1) != b""
    item_space = item is not None and item.group(1) != b"" and indent is None
    separators = ("," + (" " if item_space else ""), ":" + (" " if key_space or indent is not None else ""))
    text = json.dumps(value, ensure_ascii=original.isascii(), indent=indent, separators=separators)
    if b"\\/" in original:
        text = text.replace("/", "\\/")  # PHP's json_encode: "/" only occurs inside strings
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        if escape.encode() in original.lower():
            text = text.replace(char, escape)
    out = prefix + text.encode("utf-8")
    if suffix:
        return out + suffix
    return out + b"\n" if original.endswith(b"\n") else out


def strings(value: Any) -> Iterator[tuple[dict[str, Any] | list[Any] | None, Any, str]]:
    """``(container, key or index, string)`` for every string value, and ``(None, None, key)`` for every key."""
    stack: list[Any] = [value]
    if isinstance(value, str):
        yield None, None, value
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                yield None, None, key
                if isinstance(child, str):
                    yield item, key, child
                elif isinstance(child, dict | list):
                    stack.append(child)
        elif isinstance(item, list):
            for index, child in enumerate(item):
                if isinstance(child, str):
                    yield item, index, child
                elif isinstance(child, dict | list):
                    stack.append(child)


def blank_leaks(value: Any, withheld: Withheld) -> int:
    """Blank every string value that still carries withheld text; a key that does raises FormatError."""
    if not withheld:
        return 0
    blanked = 0
    for container, key, text in list(strings(value)):
        if not withheld.leaks(text):
            continue
        if container is None:
            raise FormatError("withheld text in a key or in the whole answer")
        container[key] = ""
        blanked += 1
    return blanked


# --------------------------------------------------------------------------- finding and cutting bodies


class Cutter:
    """Cuts every article body found in one JSON value, in place, and keeps what it withheld."""

    def __init__(
        self,
        keys: frozenset[str],
        *,
        teaser_paragraphs: int,
        read_on: ReadOn,
        free: Callable[[str | None], bool],
    ) -> None:
        self.keys = frozenset(key.lower() for key in keys)
        self.teaser_paragraphs = teaser_paragraphs
        self.read_on = read_on
        self.free = free
        self.withheld = Withheld()
        self.cuts = 0

    # -- plain JSON
    def walk(self, value: Any, link: str | None = None) -> Any:
        """``value`` with every body under a body key cut."""
        if isinstance(value, dict):
            if value.get("type") == "comment":
                return value
            link = _link_of(value) or link
            if self.free(link) or _declared_free(value):
                return value
            for key, child in value.items():
                if key.lower() in self.keys:
                    value[key] = self.body(child, link)
                elif isinstance(child, str):
                    value[key] = self.unnamed(child, link)
                elif isinstance(child, dict | list):
                    self.walk(child, link)
        elif isinstance(value, list):
            blocks = _unnamed_blocks(value)
            if blocks is not None:  # paragraphs under a key no shape names
                value[:] = self.blocks(value, blocks, link)
                return value
            for index, child in enumerate(value):
                if isinstance(child, str):
                    value[index] = self.unnamed(child, link)  # a flat payload's strings (SvelteKit's, devalue's)
                elif isinstance(child, dict | list):
                    self.walk(child, link)
        return value

    def unnamed(self, text: str, link: str | None) -> str:
        """A string under a key that no shape names (or an array's item): JSON held as text is read as JSON
        (and written back when cut), an article by its prose (a GraphQL alias) is cut, anything else stays."""
        nested = json_text(text)
        if nested is not None:
            return self._rewritten(text, nested, lambda value: self.walk(value, link))
        return self._cut(text, link) if reads_as_article(text) else text

    def _rewritten(self, text: str, value: Any, cut: Callable[[Any], Any]) -> str:
        """``text``, JSON held as text whose parsed ``value`` ``cut`` cuts: written again when anything in it was."""
        before = self.cuts
        value = cut(value)
        return dumps_like(value, text.encode("utf-8")).decode("utf-8") if self.cuts > before else text

    def body(self, value: Any, link: str | None) -> Any:
        """A value found under a body key, cut: a string, rich text, or an object holding them."""
        if isinstance(value, str):
            return self.string(value, link)
        if isinstance(value, list):
            start = jsonml_start(value)
            if start:  # an element of markup written as arrays: its children are the blocks
                return [*value[:start], *self.body(value[start:], link)]
            blocks = _blocks(value)
            if blocks is not None:
                return self.blocks(value, blocks, link)
            return self.walk(value, link)
        if isinstance(value, dict):
            if _keys(value) & RECORD_KEYS:
                return self.walk(value, link)
            for key, child in value.items():
                if isinstance(child, str):
                    if key.lower() in LEAF_KEYS or key.lower() in self.keys:
                        value[key] = self.string(child, link)
                elif isinstance(child, dict | list):
                    value[key] = self.body(child, link)
        return value

    def string(self, text: str, link: str | None) -> str:
        """A string under a body key, cut: JSON held as text as JSON, else as the HTML or text it is."""
        nested = json_text(text)
        if nested is not None:  # a body held as JSON text (a stringified editor state): cut as JSON
            rewritten = self._rewritten(text, nested, lambda value: self.body(value, link))
            if rewritten is not text:
                return rewritten
            # Nothing found in it (a state of a shape no rule reads): cut as the text it is, never sent whole.
        return self._cut(text, link)

    def _cut(self, text: str, link: str | None) -> str:
        """``text`` cut at its teaser as the HTML or plain text it is (as it was when it is too short)."""
        url = self.read_on.url(link)
        if looks_like_html(text):
            cut = cut_html(text, teaser_paragraphs=self.teaser_paragraphs, read_on=self.read_on.html(url))
        else:
            cut = cut_text(text, teaser_paragraphs=self.teaser_paragraphs, read_on=self.read_on.text(url))
        if cut.whole:
            return text
        self.withheld.add(cut.fingerprint, cut.teaser)
        self.cuts += 1
        return cut.value

    def blocks(self, items: list[Any], blocks: list[_Block], link: str | None) -> list[Any]:
        cut = cut_blocks([b.block for b in blocks], teaser_paragraphs=self.teaser_paragraphs)
        if cut.whole:
            return items
        self.withheld.add(cut.fingerprint, cut.teaser)
        self.cuts += 1
        kept: list[Any] = []
        for item, found, text in zip(items, blocks, cut.kept, strict=False):
            if text != found.block.text and not _shorten(found, text):
                break  # a block of markup in several strings cannot be cut inside: it goes
            kept.append(item)
        kept.append(_read_on_block(items, blocks, self.read_on.text(self.read_on.url(link))))
        return kept

    # -- Nuxt payloads
    def devalue(self, payload: list[Any], link: str | None) -> None:
        """Cut the bodies of a devalue payload (a flat array whose objects point at their values by index)."""

        def at(index: Any) -> Any:
            return payload[index] if isinstance(index, int) and 0 <= index < len(payload) else None

        for item in list(payload):
            if not isinstance(item, dict):
                continue
            own = next((at(item[k]) for k in LINK_KEYS if isinstance(at(item.get(k)), str)), None)
            for key, index in item.items():
                if key.lower() not in self.keys:
                    continue
                value = at(index)
                if isinstance(value, str):
                    payload[index] = self.string(value, own or link)
                elif isinstance(value, list) and value and all(isinstance(at(i), str) for i in value):
                    texts = [at(i) for i in value]
                    cut = cut_blocks(
                        [Block(t, looks_like_html(t)) for t in texts], teaser_paragraphs=self.teaser_paragraphs
                    )
                    if cut.whole:
                        continue
                    self.withheld.add(cut.fingerprint, cut.teaser)
                    self.cuts += 1
                    for i, text in zip(value, cut.kept, strict=False):
                        payload[i] = text
                    payload.append(self.read_on.text(self.read_on.url(own or link)))
                    payload[index] = [*value[: len(cut.kept)], len(payload) - 1]


@dataclass
class _Block:
    """One block of rich text as found: the places of its strings, and the text they make."""

    item: Any
    leaves: list[tuple[Any, Any]]
    block: Block


def _declared_free(value: dict[str, Any]) -> bool:
    """Whether an object says it is free, as a page's ``<meta name="paywall" content="free">`` does.

    ``"paywall": "free"`` in the object or in its ``meta`` (where WordPress shows a
    post's custom fields, so a post marked free in the editor says so in the
    REST API too). Only the site writes keys: readers' text is in values.
    """
    for holder in (value, value.get("meta")):
        choice = holder.get("paywall") if isinstance(holder, dict) else None
        if isinstance(choice, str) and choice.strip().lower() == "free":
            return True
    return False


def _keys(value: dict[str, Any]) -> set[str]:
    return {key.lower() for key in value}


def _link_of(value: dict[str, Any]) -> str | None:
    links = {key.lower(): link for key, link in value.items() if isinstance(link, str) and link}
    return next((links[key] for key in LINK_KEYS if key in links), None)


def _leaves(value: Any) -> Iterator[tuple[Any, Any]]:
    """The places of a block's text strings, in order."""
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(child, str):
                if key.lower() in LEAF_KEYS:
                    yield value, key
            elif isinstance(child, dict | list) and key not in ("marks", "markDefs", "_key"):
                yield from _leaves(child)
    elif isinstance(value, list):
        # An element of markup written as arrays: its text is in its children, not its name and attributes.
        for index in range(jsonml_start(value), len(value)):
            child = value[index]
            if isinstance(child, str):
                yield value, index
            elif isinstance(child, dict | list):
                yield from _leaves(child)


def _blocks(items: list[Any]) -> list[_Block] | None:
    """The blocks of a rich-text array (or a list of paragraphs), or None when it is something else."""
    if not items:
        return None
    found: list[_Block] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            found.append(_Block(item, [(items, index)], Block(item, looks_like_html(item))))
            continue
        if isinstance(item, list) and jsonml_start(item):  # a block of markup written as arrays
            leaves = list(_leaves(item))
            text = "".join(container[key] for container, key in leaves)
            found.append(_Block(item, leaves, Block(text, looks_like_html(text), bool(_HEADING.match(item[0])))))
            continue
        keys = _keys(item) if isinstance(item, dict) else set()
        if not isinstance(item, dict) or keys & RECORD_KEYS or not keys & (BLOCK_KEYS | LEAF_KEYS):
            return None
        leaves = list(_leaves(item))
        text = "".join(container[key] for container, key in leaves)
        style = next((str(item[k]) for k in ("style", "type", "nodeType") if isinstance(item.get(k), str)), "")
        found.append(_Block(item, leaves, Block(text, looks_like_html(text), bool(_HEADING.match(style)))))
    return found


def _may_be_block(item: dict[str, Any]) -> bool:
    """Whether an object may be a block of one story held under a key no shape names: no record (a title, a date,
    a link) and no number of its own (records hold ids, prices, counts)."""
    return not _keys(item) & RECORD_KEYS and not any(
        isinstance(value, int | float) and not isinstance(value, bool) for value in item.values()
    )


def _unnamed_blocks(items: list[Any]) -> list[_Block] | None:
    """The blocks of an array that no key names as a body but whose text, read in order, is an article
    (:func:`~paywall.formats.text_body.reads_as_article`): paragraphs, rich text, markup written as arrays, or
    objects that each hold a block of markup under one key (a block editor's ``innerHTML``, ``renderedHtml``); an
    object that is a record (a title, a date, an id or a price: a search result, a product) or a comment is no
    block. None otherwise."""
    if len(items) < 2 or any(isinstance(item, dict) and item.get("type") == "comment" for item in items):
        return None
    found = _blocks(items)
    if found is None and all(isinstance(item, dict) and _may_be_block(item) for item in items):
        held = set.intersection(*({k for k, v in item.items() if isinstance(v, str)} for item in items))
        if held:
            key = max(sorted(held), key=lambda name: sum(len(item[name]) for item in items))
            if all(looks_like_html(item[key]) for item in items):  # a block editor's blocks hold markup
                found = [_Block(item, [(item, key)], Block(item[key], True)) for item in items]
    if found is None or not reads_as_article("\n\n".join(block.block.text for block in found)):
        return None
    return found


def _shorten(found: _Block, text: str) -> bool:
    """Put the kept part ``text`` of a block into its strings; False when that cannot be done."""
    leaves = found.leaves
    if len(leaves) == 1:
        container, key = leaves[0]
        container[key] = text
        return True
    if found.block.html:
        return False
    budget = len(text)
    for container, key in leaves:
        value: str = container[key]
        container[key] = value[:budget].rstrip() if len(value) > budget else value
        budget = max(budget - len(value), 0)
    return True


def _read_on_block(items: list[Any], blocks: list[_Block], text: str) -> Any:
    """A block shaped like the body's first text block, carrying the call to action's words."""
    if isinstance(items[0], str):
        return text
    model = next((b for b in blocks if b.leaves and not b.block.html and not b.block.heading), blocks[0])
    block = copy.deepcopy(model.item)
    # A block held under a key no shape names (see _unnamed_blocks) has its text under that key.
    leaves = list(_leaves(block)) or [(block, key) for container, key in model.leaves if container is model.item]
    for n, (container, key) in enumerate(leaves):
        container[key] = text if n == 0 else ""
    _retag(block, iter(range(1_000_000)))
    return block


def _retag(value: Any, numbers: Iterator[int]) -> None:
    """Give a copied block keys of its own (``_key``, ``id``) and no marks that point elsewhere."""
    if isinstance(value, dict):
        for key in ("_key", "id", "key"):
            if isinstance(value.get(key), str):
                number = next(numbers)
                value[key] = f"paywall-read-on-{number}" if number else "paywall-read-on"
        for key in ("marks", "markDefs"):
            if isinstance(value.get(key), list):
                value[key] = []
        for child in value.values():
            _retag(child, numbers)
    elif isinstance(value, list):
        for child in value:
            _retag(child, numbers)


__all__ = ["BODY_KEYS", "Cutter", "ReadOn", "blank_leaks", "dumps_like", "key_pattern", "loads", "strings"]
