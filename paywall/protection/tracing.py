"""Invisible reader marks in copied text, and reading them back.

When ``trace_copies`` is on (attribution mode), the protection script adds an
invisible mark of the reader to the text it puts on the clipboard, so that an
article pasted elsewhere can be traced back to the subscription it came from.
The page itself is never marked: only the clipboard copy is.

The mark
--------
The mark must name the reader without the server keeping a table of every mark
it ever handed out, and it must not reveal who the reader is to whoever finds
it (subjects are often e-mail addresses). So the mark *is* the subject,
encrypted and authenticated with AES-SIV (RFC 5297, deterministic authenticated
encryption, from ``cryptography``) under a 512-bit key derived from
``secret_key``::

    payload = version || AES-SIV(key, subject, associated data = version)
            = version || SIV (16 bytes) || ciphertext (as long as the subject)

``mark_for`` is deterministic: one reader always carries the same mark, which
is what tracing wants. The 128-bit synthetic IV is the checksum: a forged,
truncated or corrupted mark fails it, and the key never leaves the server (the
page only carries the finished mark). Marks made with a key in
``secret_key_fallbacks`` still resolve. Subjects longer than
:data:`MAX_SEALED_SUBJECT` bytes get a short mark (the SIV alone) that can only
be matched against candidates with :func:`marked_reader`.

The first byte says how a mark was made, so that marks already pasted somewhere
stay readable after a change of construction: versions 3 and 4 are AES-SIV
(sealed, and SIV only); versions 1 and 2 are the HMAC construction of 0.1
(:func:`_open_v1`), read but never made, until :data:`LEGACY_MARKS_READABLE_UNTIL`.
A mark is at most :data:`MAX_MARK_HEX` hex digits, which the protection script
accepts.

The encoding
------------
A mark travels as zero-width *format* characters (Unicode category Cf, which
render as nothing): a frame starts with U+2063 INVISIBLE SEPARATOR and carries
two bits per character from U+200B, U+200C, U+200D, U+2060. The frame is put
right before a word (after the white space), before the first word of the copy
and then before every :data:`EVERY_WORDS`-th word, so that any excerpt holding
``EVERY_WORDS`` whole consecutive words, pasted on its own, still carries a
whole mark. ``embed`` here does exactly what ``static/protect.js`` does; the tests
hold the two together.

What survives, what does not
----------------------------
Survives: plain copy and paste into editors, mail, chat and web forms that keep
the characters; Unicode normalisation (NFC, NFD, NFKC, NFKD leave these
characters alone); re-flowing, re-wrapping and partial pastes of ten whole words
or more; mixing with other text (every mark found is reported).

Does not survive: retyping, OCR or screenshots, dictation; tools that strip
format characters or "invisible characters" (some CMSes, sanitisers and
plain-ASCII converters); copies of fewer words than one frame interval
(a short quotation may have no whole frame); a reader who reads the mark in the
page's markup and removes it from the script's configuration. It is a deterrent
and an evidence trail, not a guarantee.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from ..settings import PaywallSettings

#: Frame start: U+2063 INVISIBLE SEPARATOR.
FRAME_START = "\u2063"
#: The four symbols, two bits each (index = value).
SYMBOLS = ("\u200b", "\u200c", "\u200d", "\u2060")
#: A frame is put before word 0 of the copy and then every ``EVERY_WORDS`` words.
EVERY_WORDS = 10
#: Longest subject (UTF-8 bytes) sealed into the mark itself.
MAX_SEALED_SUBJECT = 128
#: Marks of versions 1 and 2 (made by paywall 0.1) are read by ``paywall trace`` until this date at least.
LEGACY_MARKS_READABLE_UNTIL = "2027-11-30"

_V1_SEALED = 1  # 0.1: HMAC-SHA256 synthetic IV and keystream (read only)
_V1_TAG_ONLY = 2
_SEALED = 3  # AES-SIV: version || SIV || ciphertext
_TAG_ONLY = 4  # AES-SIV's SIV of a long subject, alone
_SIV_BYTES = 16
_V1_TAG_BYTES = 8
_MAX_PAYLOAD = 1 + _SIV_BYTES + MAX_SEALED_SUBJECT
#: Longest mark, in hex digits; the protection script refuses longer ones (``static/protect.js``).
MAX_MARK_HEX = 2 * _MAX_PAYLOAD

_SYMBOL_VALUE = {ch: i for i, ch in enumerate(SYMBOLS)}
_FRAME_RE = re.compile(FRAME_START + "([" + "".join(SYMBOLS) + "]+)")
_MARK_RE = re.compile(rf"[0-9a-f]{{2,{MAX_MARK_HEX}}}")
# The script counts a word start where a non-space follows a space or the
# start of the text; JavaScript's \s and Python's str.isspace() differ on a few
# rare characters, so both use this explicit set.
_SPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


# --------------------------------------------------------------------- marks
@functools.lru_cache(maxsize=8)
def _cipher(secret: str) -> AESSIV:
    """AES-256-SIV under a key derived from ``secret`` for marks alone (built once per key)."""
    return AESSIV(hmac.new(secret.encode(), b"paywall/trace/v3/aes-siv", hashlib.sha512).digest())


def _check_subject(subject: str) -> bytes:
    if not isinstance(subject, str) or not subject:
        raise ValueError("subject must be a non-empty string")
    return subject.encode()


def _seal(secret: str, version: int, raw: bytes) -> bytes:
    """AES-SIV of ``raw``, bound to the version byte: SIV || ciphertext."""
    return _cipher(secret).encrypt(raw, [bytes([version])])


def _tag_only(secret: str, raw: bytes) -> bytes:
    return _seal(secret, _TAG_ONLY, raw)[:_SIV_BYTES]


def mark_for(settings: PaywallSettings, subject: str) -> str:
    """The mark of ``subject`` as lowercase hex (what the page's script embeds).

    Deterministic for a given key and subject; opaque to anyone without the key.
    """
    raw = _check_subject(subject)
    if len(raw) > MAX_SEALED_SUBJECT:
        return (bytes([_TAG_ONLY]) + _tag_only(settings.secret_key, raw)).hex()
    return (bytes([_SEALED]) + _seal(settings.secret_key, _SEALED, raw)).hex()


def open_mark(settings: PaywallSettings, mark: str) -> str | None:
    """The subject sealed in ``mark``, or None when it is not authentic.

    Tag-only marks (long subjects) cannot be opened: use :func:`marked_reader`.
    """
    payload = _payload(mark)
    if payload is None:
        return None
    if payload[0] == _V1_SEALED:
        return _open_v1(settings, payload)
    if payload[0] != _SEALED or len(payload) <= 1 + _SIV_BYTES:
        return None
    for secret in settings.all_secret_keys:
        try:
            raw = _cipher(secret).decrypt(payload[1:], [payload[:1]])
        except InvalidTag:
            continue
        try:
            return raw.decode()
        except UnicodeDecodeError:  # authentic bytes are always UTF-8; defensive only
            return None
    return None


def _payload(mark: str) -> bytes | None:
    if not isinstance(mark, str) or _MARK_RE.fullmatch(mark) is None or len(mark) % 2:
        return None
    return bytes.fromhex(mark)


def _matches_candidate(settings: PaywallSettings, payload: bytes, candidate: str) -> bool:
    """Whether ``payload`` is, byte for byte, the mark one of the keys makes for ``candidate``."""
    raw = candidate.encode()
    if not raw:
        return False
    if payload[0] in (_V1_SEALED, _V1_TAG_ONLY):
        return _matches_candidate_v1(settings, payload, raw)
    for secret in settings.all_secret_keys:
        if len(raw) > MAX_SEALED_SUBJECT:
            expected = bytes([_TAG_ONLY]) + _tag_only(secret, raw)
        else:
            expected = bytes([_SEALED]) + _seal(secret, _SEALED, raw)
        if hmac.compare_digest(payload, expected):
            return True
    return False


# ------------------------------------------------------- marks of paywall 0.1
# Read only, so that marks pasted before the change to AES-SIV still name their
# reader (until LEGACY_MARKS_READABLE_UNTIL): a synthetic-IV construction of HMAC-SHA256,
#     tag = HMAC(k_mac, version || subject)[:8], payload = version || tag || subject XOR HMAC-CTR(k_enc, tag).


def _v1_keys(secret: str) -> tuple[bytes, bytes]:
    root = secret.encode()
    mac_key = hmac.new(root, b"paywall/trace/v1/mac", hashlib.sha256).digest()
    enc_key = hmac.new(root, b"paywall/trace/v1/enc", hashlib.sha256).digest()
    return mac_key, enc_key


def _v1_tag(mac_key: bytes, version: int, subject: bytes) -> bytes:
    return hmac.new(mac_key, bytes([version]) + subject, hashlib.sha256).digest()[:_V1_TAG_BYTES]


def _v1_stream(enc_key: bytes, tag: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hmac.new(enc_key, tag + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:length])


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def _open_v1(settings: PaywallSettings, payload: bytes) -> str | None:
    """The subject of a sealed mark of version 1, or None when it is not authentic."""
    if len(payload) <= 1 + _V1_TAG_BYTES:
        return None
    tag, sealed = payload[1 : 1 + _V1_TAG_BYTES], payload[1 + _V1_TAG_BYTES :]
    for secret in settings.all_secret_keys:
        mac_key, enc_key = _v1_keys(secret)
        raw = _xor(sealed, _v1_stream(enc_key, tag, len(sealed)))
        if hmac.compare_digest(_v1_tag(mac_key, _V1_SEALED, raw), tag):
            try:
                return raw.decode()
            except UnicodeDecodeError:  # authentic bytes are always UTF-8; defensive only
                return None
    return None


def _matches_candidate_v1(settings: PaywallSettings, payload: bytes, raw: bytes) -> bool:
    long = len(raw) > MAX_SEALED_SUBJECT
    for secret in settings.all_secret_keys:
        mac_key, enc_key = _v1_keys(secret)
        if long:
            expected = bytes([_V1_TAG_ONLY]) + _v1_tag(mac_key, _V1_TAG_ONLY, raw)
        else:
            tag = _v1_tag(mac_key, _V1_SEALED, raw)
            expected = bytes([_V1_SEALED]) + tag + _xor(raw, _v1_stream(enc_key, tag, len(raw)))
        if hmac.compare_digest(payload, expected):
            return True
    return False


# ------------------------------------------------------------------ encoding
def frame(mark: str) -> str:
    """The invisible characters carrying one copy of ``mark`` (hex)."""
    if _MARK_RE.fullmatch(mark) is None:
        raise ValueError("a mark is lowercase hex")
    chars = [FRAME_START]
    for digit in mark:
        value = int(digit, 16)
        chars.append(SYMBOLS[value >> 2])
        chars.append(SYMBOLS[value & 3])
    return "".join(chars)


def embed(text: str, mark: str) -> str:
    """``text`` with ``mark`` before its first word and every ``EVERY_WORDS``-th word.

    The same algorithm as the protection script's; the visible text is unchanged.
    """
    carrier = frame(mark)
    out: list[str] = []
    words = 0
    after_space = True
    for ch in text:
        is_space = ch in _SPACE
        if not is_space and after_space:
            if words % EVERY_WORDS == 0:
                out.append(carrier)
            words += 1
        out.append(ch)
        after_space = is_space
    return "".join(out)


def extract(text: str) -> list[str]:
    """Every distinct well-formed mark (hex) found in ``text``, first seen first.

    Well-formed is not authentic: pass them to :func:`open_mark`.
    """
    found: list[str] = []
    for match in _FRAME_RE.finditer(text):
        symbols = match.group(1)
        symbols = symbols[: len(symbols) - len(symbols) % 4]  # whole bytes only
        digits = "".join(
            "0123456789abcdef"[(_SYMBOL_VALUE[a] << 2) | _SYMBOL_VALUE[b]]
            for a, b in zip(symbols[0::2], symbols[1::2], strict=True)
        )
        if _MARK_RE.fullmatch(digits) and digits not in found:
            found.append(digits)
    return found


def strip_marks(text: str) -> str:
    """``text`` without any mark frame (the visible text as it was copied)."""
    return _FRAME_RE.sub("", text)


# ------------------------------------------------------------------- tracing
def marked_reader(settings: PaywallSettings, text: str, candidates: Iterable[str] | None = None) -> str | None:
    """The reader whose authentic mark ``text`` carries, or None.

    With ``candidates``, only one of them is returned (this also resolves the
    tag-only marks of long subjects); without, the first subject sealed in an
    authentic mark.
    """
    pool = None if candidates is None else [c for c in candidates if isinstance(c, str) and c]
    for mark in extract(text):
        subject = open_mark(settings, mark)
        if subject is not None and (pool is None or subject in pool):
            return subject
        payload = _payload(mark)
        if pool is not None and payload is not None:
            for candidate in pool:
                if _matches_candidate(settings, payload, candidate):
                    return candidate
    return None


def readers(settings: PaywallSettings, text: str) -> list[str]:
    """Every distinct reader named by an authentic mark in ``text`` (merged copies)."""
    out: list[str] = []
    for mark in extract(text):
        subject = open_mark(settings, mark)
        if subject is not None and subject not in out:
            out.append(subject)
    return out


def trace_text(settings: PaywallSettings, text: str) -> str | None:
    """For ``paywall trace FILE``: the reader who copied ``text``, or None when unmarked."""
    return marked_reader(settings, text)
