"""Text as the sweep reads it: word tokens, runs of words, and every decoding a copy may hide behind.

Text is reduced to word tokens (NFKC, casefolded, runs of ``\\w``; invisible
characters such as soft hyphens and zero-width spaces removed first; each
character of a script written without spaces, Chinese, Japanese, Korean, Thai,
a token of its own). A location is read through every escaping a scraper
could undo (:func:`decode_layers`: JSON and JavaScript escapes, CSS escapes,
HTML entities, markup; :func:`readings`: percent-encoding and base64 runs, two
levels deep); each reading is linear in the size of the location.
"""

from __future__ import annotations

import binascii
import html
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from itertools import chain, compress
from operator import add, itemgetter, not_
from urllib.parse import unquote, unquote_plus

from paywall.engine.scan import word_table

SHINGLE_WORDS = 5
"""Words per run in the fingerprint: long enough to be specific to the article."""
SHINGLE_UNSPACED = 8
"""Tokens per run where most withheld tokens belong to scripts written without spaces (Chinese, Japanese,
Thai...): a character carries less than a word, and five of them are often one name (``国际空间站``, the
International Space Station), which a page's keywords and headlines repeat. Eight is the least a copy of
such text is counted a leak in."""

LONG_COPY_WORDS = 12
"""A passage of withheld text this long in visible chrome is a copy, not chrome."""

ELLIPSIS = "\u2026"

MIN_BASE64_CHARS = 16
"""Shortest run of base64 characters that is decoded to look for a copy (12 bytes of text)."""

MAX_DECODE_DEPTH = 2
"""Encodings inside encodings (base64 of percent-encoded text...) are undone this many levels deep."""

# Scripts written without spaces between words (Han, Hiragana, Katakana,
# Hangul, Thai, Lao, Myanmar, Khmer): each character is a token, otherwise a
# whole sentence would be one "word" and no copy of it could be told apart.
PER_CHARACTER = (
    "\u0e01-\u0e5b\u0e81-\u0edf\u1000-\u109f\u1100-\u11ff\u1780-\u17dd\u17e0-\u17e9"
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303c\u3040-\u30ff\u3100-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uffdc"
    "\U00020000-\U0003ffff"
)
# Invisible characters that do not separate words for a reader: soft hyphen,
# zero-width space / joiners, word joiner, byte-order mark, bidi and other
# format controls, variation selectors (Unicode Default_Ignorable_Code_Point).
_IGNORABLE_CHARS = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
IGNORABLE = re.compile(f"[{_IGNORABLE_CHARS}]+")
_IGNORABLE_UTF8 = re.compile(
    rb"\xc2\xad|\xcd\x8f|\xd8\x9c|\xe1\x85[\x9f\xa0]|\xe1\x9e[\xb4\xb5]|\xe1\xa0[\x8b-\x8f]"
    rb"|\xe2\x80[\x8b-\x8f\xaa-\xae]|\xe2\x81[\xa0-\xaf]|\xe3\x85\xa4|\xef\xb8[\x80-\x8f]|\xef\xbb\xbf"
    rb"|\xef\xbe\xa0|\xef\xbf[\xb0-\xb8]|\xf0\x9b\xb2[\xa0-\xa3]|\xf0\x9d\x85[\xb3-\xba]|\xf3\xa0[\x80-\xbf][\x80-\xbf]"
)
"""The characters of :data:`IGNORABLE` in UTF-8 (the same set, checked character by character)."""
_UNSPACED_UTF8 = re.compile(
    rb"[\xe3-\xe9\xeb\xec]|\xe0[\xb8-\xbb]|\xe1[\x80-\x87\x9e\x9f]|\xe2[\xba-\xbf]|\xea[\xa5\xb0-\xbf]"
    rb"|\xed[\x80-\x9f]|\xef[\xa4-\xab\xbd-\xbf]|\xf0[\xa0-\xbf]"
)
"""The first two bytes in UTF-8 of every character of :data:`PER_CHARACTER` (and of some others):
text whose bytes hold none has no character that is a word of its own."""
DEPENDENT = (
    "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u0eb1\u0eb4-\u0ebc\u0ec8-\u0ecd\u102b-\u103e\u1056-\u1059\u105e-\u1060"
    "\u1062-\u1064\u1067-\u106d\u1071-\u1074\u1082-\u108d\u108f\u109a-\u109d\u17b4-\u17d3\u17dd"
)
"""The dependent signs of Thai, Lao, Myanmar and Khmer (vowel signs, tone marks, viramas: Unicode's
categories Mn and Mc in those blocks). Each belongs to the letter before it: a letter with its signs
is one token, a syllable or part of one, not three or four tokens of a single sound each. Thai and Lao
also write vowels as letters before the consonant they follow in speech and after it: those stand with it."""
_LEADING = "\u0e40-\u0e44\u0ec0-\u0ec4"
_FOLLOWING = "\u0e30\u0e32\u0e33\u0e45\u0eb0\u0eb2\u0eb3"
UNSPACED_WORD = 0.5
"""What a token of a script written without spaces weighs in words where a length is compared with one in
words (a word of Chinese or Burmese is written with two or more)."""
_UNSPACED_TOKEN = f"[{_LEADING}]?[{PER_CHARACTER}][{DEPENDENT}{_FOLLOWING}]*"
WORD = re.compile(f"{_UNSPACED_TOKEN}|[^\\W{PER_CHARACTER}]+")
_WORD_WITH_IGNORABLES = re.compile(f"{_UNSPACED_TOKEN}|(?:[^\\W{PER_CHARACTER}]|[{_IGNORABLE_CHARS}])+")
PLAIN_WORD = re.compile(r"\w+")
_PLAIN_WORD_WITH_IGNORABLES = re.compile(f"(?:\\w|[{_IGNORABLE_CHARS}])+")
""":data:`WORD` and :data:`_WORD_WITH_IGNORABLES` for text without a character of :data:`PER_CHARACTER`
(ASCII text among it): runs of ``\\w``, without testing each character against those scripts' ranges."""
PROSE_PUNCTUATION = ((b"\xe2\x80", b"\x93\x94\x98\x99\x9c\x9d\xa6"), (b"\xc2", b"\xa0\xab\xbb"))
"""Dashes, curly quotes, the ellipsis, the no-break space and guillemets in UTF-8, as the bytes before their
last and the last bytes they may end with: no word holds them."""
_PROSE_PUNCTUATION_3, _PROSE_PUNCTUATION_2 = (
    re.compile(re.escape(lead) + b"[" + b"".join(re.escape(bytes([last])) for last in lasts) + b"]")
    for lead, lasts in PROSE_PUNCTUATION
)
_UNSPACED = re.compile(f"[{PER_CHARACTER}]")
_UNSPACED_TOKENS = re.compile(_UNSPACED_TOKEN)
_JOINING = re.compile(r"[^\s!-/:-@\[-`{-~]{2}")
"""The last character of a piece and the first of the next, neither a space nor ASCII punctuation: reading
the pieces without the space may make one word of two (``zephyr<em>quill</em>``, a combining accent).
A seam per line: the line break, a space, ends every match."""
MERGING = re.compile(f"[^\\W{PER_CHARACTER}]")  # a word character that joins its neighbours
_JSON_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[nrtbfv\"\\/'])")
_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})(?:\r\n|[ \t\r\n\f])?")
BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{" + str(MIN_BASE64_CHARS) + r",}={0,2}")
_NOT_TEXT = re.compile("[\x00-\x08\x0e-\x1f\ufffd]")
_URLSAFE = str.maketrans("-_", "+/")
_TAG = re.compile(r"<[^<>]*>")
WORD_INLINE_TAGS = frozenset(
    {
        "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins",
        "kbd", "mark", "nobr", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt",
        "u", "var", "wbr",
    }
)  # fmt: skip
"""Markup inside a line that splits no word as a browser shows it (``zephyr<em>quill</em>``, a letter per
``<span>``): :data:`~paywall.engine.outline.INLINE_TAGS` but for a break, an image and a label."""
_INLINE_TAG = re.compile(r"</?(?:" + "|".join(sorted(WORD_INLINE_TAGS)) + r")(?=[\s/>])[^<>]*>", re.IGNORECASE)
"""A tag of :data:`WORD_INLINE_TAGS`; any other tag stands between words."""
PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
MARKUP = re.compile(r"<|&(?:lt|#0*60|#x0*3c)|\\(?:u0*3c|x3c|u\{0*3c\}|0*3c)|%3c", re.IGNORECASE)
"""A ``<``, plain or escaped: the text may hold markup, whose attributes the reading without ``tags`` reads."""

# --------------------------------------------------------------------------- text


def _has_unspaced(text: str) -> bool:
    """Whether ``text`` holds a character of a script written without spaces (the bytes tell first, in C)."""
    if _UNSPACED_UTF8.search(text.encode("utf-8", "surrogatepass")) is None:
        return False
    return _UNSPACED.search(text) is not None


def shingle_length(pieces: Sequence[str], count: int) -> int:
    """Tokens per run for text ``pieces`` of ``count`` tokens: :data:`SHINGLE_UNSPACED` where at least half of
    them belong to scripts written without spaces, else :data:`SHINGLE_WORDS`."""
    unspaced = sum(map(unspaced_count, pieces))
    return SHINGLE_UNSPACED if 2 * unspaced >= count > 0 else SHINGLE_WORDS


def unspaced_count(text: str) -> int:
    """How many tokens of ``text`` belong to scripts written without spaces (a character, with its dependent
    signs: each one a word)."""
    if text.isascii() or _UNSPACED_UTF8.search(text.encode("utf-8", "surrogatepass")) is None:
        return 0
    return len(_UNSPACED_TOKENS.findall(text))


def words(text: str) -> list[str]:
    """Word tokens of ``text``: NFKC-normalised, casefolded runs of ``\\w``.

    Invisible characters (soft hyphens, zero-width spaces...) are removed
    first, so they do not split a word; each character of a script written
    without spaces (Chinese, Japanese, Korean, Thai...) is a token of its own,
    with the signs and vowels written with it (:data:`DEPENDENT`).

    ASCII is tokenised with a byte translation and a split; in other text the
    ASCII spaces and punctuation still end words, so it is split that way
    first and only the words holding other characters are read character by
    character (:func:`_other_words`).
    """
    if text.isascii():
        return word_table(text.encode("ascii")).decode("ascii").split()
    data = _word_bytes(text)
    if data.isascii():  # ASCII but for dashes, curly quotes and the like, which no word holds
        return data.decode("ascii").split()
    tokens = data.decode("utf-8", "surrogatepass").split()
    others = list(compress(range(len(tokens)), map(not_, map(str.isascii, tokens))))
    if len(others) >= MANY_OTHER_WORDS:
        read = _others_read({tokens[index] for index in others})
    else:
        read = {tokens[index]: _other_words(tokens[index]) for index in others}
    found: list[str] = []
    last = 0
    for index in others:
        found.extend(tokens[last:index])
        found.extend(read[tokens[index]])
        last = index + 1
    found.extend(tokens[last:])
    return found


MANY_OTHER_WORDS = 8
"""Words with characters other than ASCII from which on they are normalised together (see :func:`_others_read`)."""


def _others_read(distinct: set[str]) -> dict[str, list[str]]:
    """:func:`_other_words` of each of ``distinct``, normalised in one call.

    A line break is no word character and no normalisation makes or takes
    one, so the words normalised together, a word a line, are those
    normalised one by one (checked: where the count of lines differs, each
    is read alone). Text in a language with accents has hundreds of such
    words per page; each call of the normalisation costs more than its work.
    """
    ordered = list(distinct)
    parts = normalised_words("\n".join(ordered)).split("\n")
    if len(parts) != len(ordered):
        return {token: _other_words(token) for token in ordered}
    if not _has_unspaced("\n".join(parts)):
        return {token: PLAIN_WORD.findall(part) for token, part in zip(ordered, parts, strict=True)}
    return {
        token: WORD.findall(part) if _UNSPACED.search(part) else PLAIN_WORD.findall(part)
        for token, part in zip(ordered, parts, strict=True)
    }


def normalised_words(text: str) -> str:
    """``text`` as :func:`words` reads it before splitting it: invisible characters removed, NFKC, casefolded."""
    # Whether the text holds invisible characters is told by its bytes, searched at C speed.
    if _IGNORABLE_UTF8.search(text.encode("utf-8", "surrogatepass")) is not None:
        text = IGNORABLE.sub("", text)
    return unicodedata.normalize("NFKC", text).casefold()


def _other_words(text: str) -> list[str]:
    """:func:`words` of text holding characters other than ASCII, by the definition."""
    text = normalised_words(text)
    if not _has_unspaced(text):
        return PLAIN_WORD.findall(text)  # no character is a word of its own: runs of \w, as WORD reads them
    return WORD.findall(text)


def _token_parts(token: str) -> list[str]:
    """The tokens one raw match of :data:`WORD` or :data:`_WORD_WITH_IGNORABLES` stands for."""
    if token.isascii():
        return [token.casefold()]
    if len(token) == 1 and unicodedata.is_normalized("NFKC", token) and not IGNORABLE.match(token):
        return [token.casefold()]  # one character of a per-character script, mostly
    return WORD.findall(unicodedata.normalize("NFKC", IGNORABLE.sub("", token)).casefold())


_WORD_BYTES = re.compile(rb"[^ ]+")


def _word_bytes(text: str) -> bytes:
    """``text``'s UTF-8 bytes as :func:`words` splits them: prose punctuation as spaces byte for byte, then
    every byte of ASCII that is no word character a space (the offsets are those of the UTF-8 bytes)."""
    data = _PROSE_PUNCTUATION_2.sub(b"  ", _PROSE_PUNCTUATION_3.sub(b"   ", text.encode("utf-8", "surrogatepass")))
    return word_table(data)


def read_as_bytes(text: str) -> bool:
    """Whether :func:`words` reads ``text`` as bytes: ASCII, or ASCII but for prose punctuation (then
    :func:`word_spans` reads the same words, at the offsets :func:`word_offset` tells)."""
    return text.isascii() or _word_bytes(text).isascii()


def word_offset(text: str, index: int) -> int | None:
    """Where in ``text`` its word number ``index`` (0-based, as :func:`words` reads them) starts; None where
    :func:`words` finds fewer, or where that word is not the first that a run of other characters makes
    (a Chinese sentence is one run of many words): read the words with their offsets (:func:`word_spans`).

    Where the word bytes are ASCII, the words before it are split off in C; elsewhere the runs of word
    characters are found in C, without a string for a run of ASCII. An offset in bytes is turned into one in
    characters by decoding the bytes before it.
    """
    data = _word_bytes(text)
    if data.isascii():
        # The words before it split off in C: what is left starts with it (a split drops the spaces before).
        rest = data.split(None, index)
        if len(rest) <= index:
            return None
        at = len(data) - len(rest[index])
    else:
        found, count = None, 0
        for run in _WORD_BYTES.finditer(data):
            token = run.group()
            parts = 1 if token.isascii() else len(_other_words(token.decode("utf-8", "surrogatepass")))
            if count + parts > index:
                found = run if count == index else None
                break
            count += parts
        if found is None:
            return None
        at = found.start()
    return at if text.isascii() else len(text.encode("utf-8", "surrogatepass")[:at].decode("utf-8", "surrogatepass"))


def word_spans(text: str, limit: int | None = None) -> list[tuple[str, int]]:
    """Word tokens of ``text`` with the offset where each starts in ``text`` (the first ``limit`` or more)."""
    out: list[tuple[str, int]] = []
    ignorables = not text.isascii() and IGNORABLE.search(text) is not None
    if text.isascii() or not _has_unspaced(text):
        # No character is a word of its own: the same matches as WORD's, without testing each
        # character against the scripts written without spaces (many ranges, slow to test).
        pattern = _PLAIN_WORD_WITH_IGNORABLES if ignorables else PLAIN_WORD
    else:
        pattern = _WORD_WITH_IGNORABLES if ignorables else WORD
    for match in pattern.finditer(text):
        out.extend((part, match.start()) for part in _token_parts(match.group()))
        if limit is not None and len(out) >= limit:
            break
    return out


def _json_escape_value(match: re.Match[str]) -> str:
    return _json_escape_value_of(match.group(1))


def _json_escape_value_of(code: str) -> str:
    if code[0] in "ux":
        digits = code[2:-1] if code[1] == "{" else code[1:]
        return code_point(int(digits, 16))
    return {"n": " ", "r": " ", "t": " ", "b": " ", "f": " ", "v": " "}.get(code, code)


def _css_escape_value(match: re.Match[str]) -> str:
    return _css_escape_value_of(match.group(1))


def _css_escape_value_of(digits: str) -> str:
    return code_point(int(digits, 16))


def code_point(value: int) -> str:
    if value == 0 or value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return "\ufffd"
    return chr(value)


MANY_ESCAPES = 64
"""Text with more backslashes than this has its escapes read once per kind (JSON-LD escapes every quote; a packed
script spelt in ``\\x`` escapes holds a hundred thousand)."""


def substituted(pattern: re.Pattern[str], text: str, value: Callable[[str], str]) -> str:
    """``pattern.sub`` with ``value`` of its one group, each distinct group read once and the parts joined in C.

    ``pattern.sub`` with a function calls back into Python for every match;
    here the text is split at the same matches, and each kind is looked up
    in a dict: the result is the same, in a time linear in the text.
    """
    parts = pattern.split(text)
    names = parts[1::2]
    values = {name: value(name) for name in set(names)}
    parts[1::2] = list(map(values.__getitem__, names))
    return "".join(parts)


def json_unescaped(text: str, *, many: int = MANY_ESCAPES) -> str:
    """``text`` with its JSON and JavaScript escapes undone (see :func:`decode_layers`)."""
    if text.count("\\") <= many:
        return _JSON_ESCAPE.sub(_json_escape_value, text)
    return substituted(_JSON_ESCAPE, text, _json_escape_value_of)


def css_unescaped(text: str, *, many: int = MANY_ESCAPES) -> str:
    """``text`` with its CSS escapes undone (``\\e9 ``), as :func:`json_unescaped` does."""
    if text.count("\\") <= many:
        return _CSS_ESCAPE.sub(_css_escape_value, text)
    return substituted(_CSS_ESCAPE, text, _css_escape_value_of)


MANY_REFERENCES = 64
"""Text with more ``&`` than this has its character references looked up once per kind (a page's state held as
escaped HTML holds thousands)."""
_CHARACTER_REFERENCE = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
"""What ``html.unescape`` reads as a character reference (its own pattern, with the name as the one group)."""


def html_unescaped(text: str, *, many: int = MANY_REFERENCES) -> str:
    """``html.unescape(text)``, faster where references are many.

    ``html.unescape`` calls back into Python for every reference: a page's
    state held as escaped HTML (thousands of ``&quot;``) took milliseconds.
    The text is split at the same references instead, each kind is read
    once, and the parts are joined in C: the result is the same.
    """
    if text.count("&") <= many:
        return html.unescape(text)
    return substituted(_CHARACTER_REFERENCE, text, _html_reference_value)


def _html_reference_value(name: str) -> str:
    return html.unescape("&" + name)


def decode_layers(text: str, *, url: bool = False, css: bool = False, tags: bool = True) -> str:
    """Undo the escaping a copy of the text may hide behind.

    JSON/JavaScript escapes (``\\u00e9``, ``\\u{e9}``, ``\\x41``...), CSS escapes
    (``\\e9 ``), HTML character references and markup are removed (a tag inside a line
    splits no word, any other stands between words), a few times
    over for doubly escaped copies. ``css`` says the text is a stylesheet, whose
    escapes are undone first (``\\b`` is a hex digit there, a backspace in
    JavaScript). With ``url``, percent-encoding too (share links carry the text
    in their query). Without ``tags``, markup is not removed but read as text
    (its ``<`` and ``>`` as spaces): the attributes of markup held as text
    (a share link in a script's HTML) are read too. Each pass is linear in the
    text, and there are at most four.
    """
    for _ in range(4):
        before = text
        if "\\" in text:
            if css:
                text = css_unescaped(text)
            text = json_unescaped(text)
            if not css and "\\" in text:
                text = css_unescaped(text)
        if "&" in text:
            text = html_unescaped(text)
        if "<" in text:
            text = _TAG.sub(" ", _INLINE_TAG.sub("", text)) if tags else text.replace("<", " ").replace(">", " ")
        if url and "%" in text and PERCENT.search(text):
            text = unquote_plus(text)
        if text == before:
            break
    return text


def readings(text: str, *, url: bool = False, css: bool = False, depth: int = 0, tags: bool = True) -> Iterator[str]:
    """Every way a reader or a scraper could decode ``text``, first the plain one.

    The first reading is :func:`decode_layers`; then, when the text holds
    them, the percent-decoded reading and the text of each base64 run
    (``data:`` URIs, ``atob('...')``, attributes holding encoded markup), each
    decoded in turn, down to :data:`MAX_DECODE_DEPTH` levels. Every reading is
    linear in the text, so the whole is too. ``tags`` as for :func:`decode_layers`.
    """
    primary = decode_layers(text, url=url, css=css, tags=tags)
    yield primary
    if depth >= MAX_DECODE_DEPTH:
        return
    if not url and "%" in primary and PERCENT.search(primary):
        percent = decode_layers(primary, url=True, css=css, tags=tags)
        if percent != primary:
            yield percent
    # Runs are looked for where "+" is still "+" (the url reading makes it a space).
    plain = primary
    if url:
        if BASE64_RUN.search(text) is None:
            return
        plain = decode_layers(text, css=css, tags=tags)
    sources = [plain]
    if "%" in plain and PERCENT.search(plain):
        sources.append(unquote(plain))
    for source in sources:
        payloads = list(base64_payloads(source))
        if payloads:  # read together: one pass over many small payloads
            yield from readings("\n".join(payloads), url=True, depth=depth + 1, tags=tags)


def base64_payloads(text: str) -> Iterator[str]:
    """The text of each base64 run in ``text`` that decodes to text.

    A run is :data:`MIN_BASE64_CHARS` or more characters of the base64 (or
    URL-safe base64) alphabet with both lower- and upper-case letters; runs
    that decode to binary (images, fonts) are skipped after a short look.
    """
    for match in BASE64_RUN.finditer(text):
        run = match.group()
        if run.islower() or run.isupper() or run.isdigit():
            continue
        payload = _decode_base64(run)
        if payload is not None:
            yield payload


def base64_text(run: str) -> str | None:
    """The text one run of base64 characters stands for, or None (see :func:`base64_payloads`)."""
    if run.islower() or run.isupper() or run.isdigit():
        return None
    return _decode_base64(run)


def _decode_base64(run: str) -> str | None:
    """The UTF-8 text a base64 run stands for, or None (not base64, or binary).

    Runs decoding to binary are dropped after a look at their first bytes,
    so images and fonts embedded as ``data:`` URIs cost little.
    """
    data = run.rstrip("=")
    if len(data) % 4 == 1:
        return None
    if "-" in data or "_" in data:
        if "+" in data or "/" in data:
            return None
        data = data.translate(_URLSAFE)
    try:
        raw = binascii.a2b_base64(data + "=" * (-len(data) % 4), strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    if raw.isascii():
        text = raw.decode("ascii")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(raw) - 3:
                return None  # binary, or not UTF-8 (a cut-off last character is fine)
            text = raw[: exc.start].decode("utf-8")
    head = text[:256]
    if _NOT_TEXT.search(head) is not None and len(_NOT_TEXT.findall(head)) * 8 > len(head):
        return None
    return text


def runs_of(tokens: Sequence[str], k: int) -> Iterator[tuple[str, ...]]:
    """Every run of ``k`` consecutive tokens, in order, made at C speed (``zip`` of shifted slices)."""
    if k <= 0 or len(tokens) < k:
        return iter(())
    return zip(*(tokens[i:] for i in range(k)), strict=False)


def shingles(tokens: Sequence[str], k: int) -> set[tuple[str, ...]]:
    """Every run of ``k`` consecutive tokens."""
    return set(runs_of(tokens, k))


def streams(pieces: Sequence[str]) -> list[list[str]]:
    """Tokens of text pieces joined with and without a space.

    A word split over inline tags (``Zephyr<em>quill</em>``) reads as one word
    without the space; separate blocks read as separate words with it.
    """
    spaced = _spaced_words(pieces)
    # Each piece's last character with the next one's first, a seam a line: one search over them all.
    present = list(filter(None, pieces))
    seams = "\n".join(map(add, map(itemgetter(-1), present), map(itemgetter(0), present[1:])))
    if _JOINING.search(seams) is None:
        return [spaced]  # no piece ends in a word that the next one goes on with
    joined = words("".join(pieces))
    return [spaced] if joined == spaced else [spaced, joined]


REPEATS_WORTH_SHARING = 32
"""Pieces from which on their repeats are looked for (a long article is a few dozen paragraphs)."""


def _spaced_words(pieces: Sequence[str]) -> list[str]:
    """``words(" ".join(pieces))``, each distinct piece read once when many repeat.

    A space ends every word, so the words of the joined pieces are those of
    each piece in turn. Where most pieces are repeats (a paragraph of
    boilerplate after every photo, a page of identical entries), each
    distinct one is read once and its words stand in the stream again (the
    same string objects), which costs a copy of pointers instead of a new
    string per word.
    """
    if len(pieces) >= REPEATS_WORTH_SHARING:
        distinct = set(pieces)
        if len(distinct) * 2 <= len(pieces):
            known = {piece: words(piece) for piece in distinct}
            return list(chain.from_iterable(map(known.__getitem__, pieces)))
    return words(" ".join(pieces))
