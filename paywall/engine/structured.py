"""Tell search engines which part of a page is gated, in the structured data Google documents for it.

Google's "Subscription and paywalled content" markup tells a crawler that the
text it reads in full is withheld from other readers, so that serving it more
than a reader sees is not taken for cloaking: the article's JSON-LD object
says ``"isAccessibleForFree": false`` and has a part, a ``WebPageElement``
that is not free either, whose ``cssSelector`` names the gated element.

:func:`mark_gated` puts the class (``gated_class``) on the article's elements;
:func:`declare` amends the page's own JSON-LD: every ``Article``-like object
(``NewsArticle``, ``BlogPosting``, ``Report``... by its ``@type``) at the top
of a block, in a top-level array, in an ``@graph`` array or as a
``mainEntity`` gets the two properties, once, whatever the page said before.
A page with no such object (no JSON-LD, or only blocks that do not parse,
which are left as they are) gets one minimal block at the end of its head.

The gated view and a verified crawler's view of a page are marked alike: the
same class on the same element, the same objects amended. Nothing here
carries text of the article, so the sweep and its check after the cut have
nothing more to find.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from paywall.engine import code
from paywall.engine.text import html_unescaped

GATED_CLASS = "paywall-gated"
"""The class of the gated part when none is configured."""

_ARTICLE_TYPE = re.compile(r"\w*Article|BlogPosting|LiveBlogPosting|Report|SocialMediaPosting")
_LD_TYPES = frozenset({"application/ld+json"})

Scrub = Callable[[LexborNode, Any], Any]
"""Given a JSON-LD script and its parsed value: the value with copies of withheld text shortened, or None."""


def mark_gated(nodes: Sequence[LexborNode], gated_class: str) -> None:
    """Add ``gated_class`` to each element's classes (once)."""
    for node in nodes:
        classes = (node.attributes.get("class") or "").split()
        if gated_class not in classes:
            node.attrs["class"] = " ".join([*classes, gated_class])


def gated_part(gated_class: str) -> dict[str, Any]:
    """The ``hasPart`` entry naming the gated element."""
    return {"@type": "WebPageElement", "isAccessibleForFree": False, "cssSelector": f".{gated_class}"}


def declare(tree: LexborHTMLParser, gated_class: str, *, scrub: Scrub | None = None) -> int:
    """Declare the page gated in its JSON-LD; the number of objects amended (0: a block was added).

    ``scrub``, on a gated view, is given each block as parsed (the script
    and its value) and answers the value with the copies of withheld text it
    holds shortened, or None when it holds none: the article's
    ``articleBody`` is shortened here, in the one reading of the block that
    declaring needs, rather than found again in the serialised page by the
    sweep (which still reads the whole page afterwards).
    """
    amended = 0
    for script, value in _blocks(tree):
        objects = list(_articles(value))
        for obj in objects:
            _amend(obj, gated_class)
        shortened = scrub(script, value) if scrub is not None else None
        if shortened is not None:
            value = shortened
        if objects or shortened is not None:
            _set_body(script, code.script_json(value))
            amended += len(objects)
    if not amended:
        _add_block(tree, gated_class)
    return amended


def _blocks(tree: LexborHTMLParser, *, holding: str = "", longer_than: int = -1) -> Iterator[tuple[LexborNode, Any]]:
    """The page's JSON-LD blocks that parse, each with its value (one that does not is left as it is: no place
    to read or write in); only those whose text holds ``holding`` and is longer than ``longer_than``."""
    for script in tree.tags("script"):  # (the parser's list of an element name: no selector to compile)
        kind = (script.attributes.get("type") or "").strip().lower().split(";")[0].strip()
        if kind not in _LD_TYPES:
            continue
        body = _body(script)
        if len(body) <= longer_than or holding not in body:
            continue  # told without parsing it
        value = code.load_json(body)
        if value is not code.NOT_JSON:
            yield script, value


def _articles(value: Any) -> Iterator[dict[str, Any]]:
    """The article objects of a JSON-LD value: top level, top-level arrays, ``@graph`` and ``mainEntity``."""
    stack = [value]
    seen = 0
    while stack and seen < 1000:
        item = stack.pop(0)
        seen += 1
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        if _is_article(item.get("@type")):
            yield item
        for key in ("@graph", "mainEntity"):
            inner = item.get(key)
            if isinstance(inner, dict | list):
                stack.append(inner)


def declared_body(tree: LexborHTMLParser, *, longer_than: int = 0) -> str | None:
    """The text of the longest ``articleBody`` the page's JSON-LD gives an article object (a line a paragraph),
    when it is longer than ``longer_than`` characters; else None. Blocks that cannot hold one are not parsed."""
    found: str | None = None
    for _script, value in _blocks(tree, holding="articleBody", longer_than=longer_than):
        for obj in _articles(value):
            body = obj.get("articleBody")
            if isinstance(body, str):
                text = as_text(body)
                if len(text) > max(longer_than, len(found or "")):
                    found = text
    return found


_BREAK_TAGS = re.compile(
    r"</?(?:p|div|br|li|h[1-6]|blockquote|tr|section|article|figure|figcaption|ul|ol)\b[^>]*>", re.IGNORECASE
)
_TAGS = re.compile(r"<[^>]*>")


def as_text(body: str) -> str:
    """An ``articleBody`` (or a story in an application's state) as text: some sites put the story's markup there
    (``<p>`` and all); its paragraphs become lines, its other tags go and its character references are read."""
    if "<" not in body:
        return body
    text = html_unescaped(_TAGS.sub("", _BREAK_TAGS.sub("\n", body)))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _is_article(kind: Any) -> bool:
    kinds = kind if isinstance(kind, list) else [kind]
    for one in kinds:
        if isinstance(one, str):
            name = re.split(r"[/:#]", one.strip())[-1]
            if _ARTICLE_TYPE.fullmatch(name):
                return True
    return False


def _amend(obj: dict[str, Any], gated_class: str) -> None:
    """Not free, with the gated part: added once, whatever the object said before."""
    obj["isAccessibleForFree"] = False
    part = gated_part(gated_class)
    existing = obj.get("hasPart")
    parts = existing if isinstance(existing, list) else [] if existing is None else [existing]
    ours = [p for p in parts if isinstance(p, dict) and p.get("cssSelector") == part["cssSelector"]]
    for mine in ours:
        mine.update(part)
    if not ours:
        parts = [*parts, part]
    obj["hasPart"] = parts[0] if len(parts) == 1 else parts


def _add_block(tree: LexborHTMLParser, gated_class: str) -> None:
    block = {
        "@context": "https://schema.org",
        "@type": "Article",
        "isAccessibleForFree": False,
        "hasPart": gated_part(gated_class),
    }
    parent = tree.head or tree.body
    if parent is None:
        return
    script = tree.create_node("script")
    script.attrs["type"] = "application/ld+json"
    script.insert_child(code.script_json(block))
    parent.insert_child(script)


def _body(node: LexborNode) -> str:
    return "".join(child.text_content or "" for child in node.iter(include_text=True) if child.tag == "-text")


def _set_body(node: LexborNode, body: str) -> None:
    children = list(node.iter(include_text=True))
    for child in children:
        child.decompose()
    node.insert_child(body)


__all__ = ["GATED_CLASS", "declare", "declared_body", "gated_part", "mark_gated"]
