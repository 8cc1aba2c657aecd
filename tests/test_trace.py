"""Reader marks: made, embedded, extracted and resolved without a table of marks."""

from __future__ import annotations

import re
import secrets
import unicodedata
from pathlib import Path

import pytest

from paywall.protection.tracing import (
    EVERY_WORDS,
    FRAME_START,
    MAX_MARK_HEX,
    MAX_SEALED_SUBJECT,
    SYMBOLS,
    embed,
    extract,
    frame,
    mark_for,
    marked_reader,
    open_mark,
    readers,
    strip_marks,
    trace_text,
)
from paywall.settings import PaywallSettings

SECRET = "trace-test-secret-0123456789abcdef"
TEXT = (
    "China's Ministry of Industry and Information Technology held a series of emergency meetings over "
    "the past week with some of the country's major chip manufacturers in order to assess the damage "
    "done from the U.S. chip restrictions.\n\nExecutives from Yangtze Memory Technologies and "
    "supercomputer specialist Dawning Information Industry were among the attendees of the meetings."
)
INVISIBLE = {FRAME_START, *SYMBOLS}


@pytest.fixture
def settings() -> PaywallSettings:
    return PaywallSettings(secret_key=SECRET, copy_protection="attribute", trace_copies=True)


def test_mark_is_deterministic_opaque_hex(settings: PaywallSettings) -> None:
    mark = mark_for(settings, "reader@example.org")
    assert mark == mark_for(settings, "reader@example.org")
    assert re.fullmatch(r"[0-9a-f]+", mark)
    assert mark != mark_for(settings, "reader@example.com")
    assert b"reader".hex() not in mark  # the subject is sealed, not spelt
    assert SECRET.encode().hex() not in mark
    other_key = settings.replace(secret_key="another-secret-0123456789abcdef")
    assert mark_for(other_key, "reader@example.org") != mark


def test_round_trip(settings: PaywallSettings) -> None:
    mark = mark_for(settings, "trial:7f3a")
    marked = embed(TEXT, mark)
    assert marked != TEXT
    assert strip_marks(marked) == TEXT  # the visible text is exactly what was copied
    assert "".join(ch for ch in marked if ch not in INVISIBLE) == TEXT
    assert extract(marked) == [mark]
    assert open_mark(settings, mark) == "trial:7f3a"
    assert trace_text(settings, marked) == "trial:7f3a"
    assert marked_reader(settings, marked, ["someone", "trial:7f3a"]) == "trial:7f3a"


def test_marks_sit_at_word_starts_only(settings: PaywallSettings) -> None:
    marked = embed(TEXT, mark_for(settings, "m-1"))
    carrier = frame(mark_for(settings, "m-1"))
    positions = [m.start() for m in re.finditer(re.escape(carrier), marked)]
    words = len(TEXT.split())
    assert len(positions) == (words + EVERY_WORDS - 1) // EVERY_WORDS
    for pos in positions:
        assert pos == 0 or marked[pos - 1].isspace()
        assert not marked[pos + len(carrier)].isspace()


@pytest.mark.parametrize("form", ["NFC", "NFD", "NFKC", "NFKD"])
def test_survives_unicode_normalisation(settings: PaywallSettings, form: str) -> None:
    text = "Café déjà vu: naïve coöperation and ﬁne ligatures " * 4
    marked = embed(text, mark_for(settings, "reader-é"))
    assert trace_text(settings, unicodedata.normalize(form, marked)) == "reader-é"  # type: ignore[arg-type]


def test_partial_paste_of_any_window_still_names_the_reader(settings: PaywallSettings) -> None:
    marked = embed(TEXT, mark_for(settings, "member-42"))
    # Frames sit right before a word, so each whitespace-separated token is [frame]word.
    tokens = marked.split()
    assert [strip_marks(t) for t in tokens] == TEXT.split()
    for i in range(len(tokens) - EVERY_WORDS + 1):
        excerpt = " ".join(tokens[i : i + EVERY_WORDS])  # any EVERY_WORDS whole words
        assert trace_text(settings, "Pasted elsewhere: " + excerpt + " and more.") == "member-42", i
        # A cut inside a word at either end costs nothing more.
        ragged = tokens[i - 1][-2:] + " " + excerpt + " " if i else excerpt
        assert trace_text(settings, ragged) == "member-42", i


def test_rewrapped_and_mixed_text(settings: PaywallSettings) -> None:
    one = embed(TEXT, mark_for(settings, "alice"))
    two = embed(TEXT, mark_for(settings, "bob"))
    rewrapped = one.replace(" ", "\n", 5) + "\n\n" + two
    assert readers(settings, rewrapped) == ["alice", "bob"]
    assert trace_text(settings, rewrapped) == "alice"


def test_no_mark(settings: PaywallSettings) -> None:
    assert extract(TEXT) == []
    assert trace_text(settings, TEXT) is None
    assert trace_text(settings, "") is None
    # Legitimate format characters (Persian ZWNJ, emoji ZWJ) are not marks.
    assert (
        trace_text(settings, "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \U0001f469\u200d\U0001f4bb " + TEXT)
        is None
    )


def test_stripping_format_characters_removes_the_mark(settings: PaywallSettings) -> None:
    marked = embed(TEXT, mark_for(settings, "reader-1"))
    stripped = "".join(ch for ch in marked if unicodedata.category(ch) != "Cf")
    assert stripped == TEXT
    assert trace_text(settings, stripped) is None


def test_forged_marks_are_rejected(settings: PaywallSettings) -> None:
    genuine = mark_for(settings, "reader-1")
    # Random frames of the right shape.
    for _ in range(50):
        assert trace_text(settings, embed(TEXT, secrets.token_hex(len(genuine) // 2))) is None
    # Every single-bit change of a genuine mark.
    raw = bytes.fromhex(genuine)
    for index in range(len(raw)):
        for bit in range(8):
            forged = bytearray(raw)
            forged[index] ^= 1 << bit
            assert open_mark(settings, forged.hex()) is None
    # A mark made with someone else's key.
    foreign = mark_for(settings.replace(secret_key="attacker-key-0123456789abcdef"), "reader-1")
    assert trace_text(settings, embed(TEXT, foreign)) is None
    # Truncated frame (a cut in the middle of a mark).
    assert open_mark(settings, genuine[:-2]) is None
    assert open_mark(settings, "zz") is None
    assert open_mark(settings, "abc") is None


def test_old_key_still_resolves_after_rotation(settings: PaywallSettings) -> None:
    old_mark = mark_for(settings, "reader-9")
    rotated = settings.replace(secret_key="new-secret-0123456789abcdefgh", secret_key_fallbacks=(SECRET,))
    assert trace_text(rotated, embed(TEXT, old_mark)) == "reader-9"


def test_long_subject_gets_a_tag_only_mark(settings: PaywallSettings) -> None:
    subject = "x" * (MAX_SEALED_SUBJECT + 1)
    marked = embed(TEXT, mark_for(settings, subject))
    assert len(mark_for(settings, subject)) == 2 * (1 + 16)  # the version byte and AES-SIV's SIV
    assert trace_text(settings, marked) is None  # cannot be opened without candidates
    assert marked_reader(settings, marked, ["someone", subject]) == subject
    assert marked_reader(settings, marked, ["someone"]) is None


def test_candidates_restrict_the_answer(settings: PaywallSettings) -> None:
    marked = embed(TEXT, mark_for(settings, "carol"))
    assert marked_reader(settings, marked, ["dave"]) is None
    assert marked_reader(settings, marked, []) is None
    assert marked_reader(settings, marked) == "carol"


def test_bad_input_is_refused(settings: PaywallSettings) -> None:
    with pytest.raises(ValueError):
        mark_for(settings, "")
    with pytest.raises(ValueError):
        frame("not hex")


# Marks made by paywall 0.1 (HMAC synthetic IV, versions 1 and 2), written down before the change
# to AES-SIV, with the key of the ``settings`` fixture: pasted copies carry them still.
V1_MARKS = {
    "trial:Q2hvb3NlIGEgZ29vZCBpZA": "01394ca52ab5da0470b3217ed0d5cf041f9caee63b3849d2388fe0f189acdc239dc04bfb2f",
    "member:reader@example.org": "01fce156c6c6909e7c8ef3b938e5ebf2c0dcf052c0d15743c29fd84e91a779f118dd",
    "member:réader-ü": "01aceff94e1edb75fc505fbff8f6acbdf3db42b8ed8c0a38b3e5",
}
V1_TAG_ONLY = ("member:" + "x" * 130, "02b5393983bdcf9929")


@pytest.mark.parametrize(("subject", "mark"), sorted(V1_MARKS.items()))
def test_marks_of_the_previous_format_still_name_their_reader(
    settings: PaywallSettings, subject: str, mark: str
) -> None:
    assert open_mark(settings, mark) == subject
    assert trace_text(settings, "Pasted: " + embed(TEXT, mark)) == subject
    assert marked_reader(settings, embed(TEXT, mark), ["someone", subject]) == subject
    # New marks are made the new way only: the same subject gets another, longer mark.
    assert mark_for(settings, subject) != mark
    assert mark_for(settings, subject).startswith("03")
    # Read with a fallback key after a rotation, and never with a foreign key.
    rotated = settings.replace(secret_key="new-secret-0123456789abcdefgh", secret_key_fallbacks=(SECRET,))
    assert open_mark(rotated, mark) == subject
    assert open_mark(settings.replace(secret_key="attacker-key-0123456789abcdef"), mark) is None


def test_tag_only_marks_of_the_previous_format_match_their_candidate(settings: PaywallSettings) -> None:
    subject, mark = V1_TAG_ONLY
    marked = embed(TEXT, mark)
    assert marked_reader(settings, marked, ["someone", subject]) == subject
    assert marked_reader(settings, marked, ["someone"]) is None
    assert trace_text(settings, marked) is None


def test_tampered_marks_of_either_format_are_refused(settings: PaywallSettings) -> None:
    for mark in [*V1_MARKS.values(), V1_TAG_ONLY[1], mark_for(settings, "reader-1"), mark_for(settings, "x" * 200)]:
        raw = bytes.fromhex(mark)
        for index in range(len(raw)):
            for bit in range(8):
                forged = bytearray(raw)
                forged[index] ^= 1 << bit
                assert open_mark(settings, forged.hex()) is None
                assert marked_reader(settings, embed(TEXT, forged.hex()), ["reader-1", "x" * 200, *V1_MARKS]) is None
        assert open_mark(settings, mark[:-2]) is None  # truncated
        assert open_mark(settings, mark + "00") is None  # extended


def test_mark_length_stays_within_what_the_embedding_carries(settings: PaywallSettings) -> None:
    script = (Path(__file__).parent.parent / "paywall" / "protection" / "static" / "protect.js").read_text()
    accepted = int(re.search(r"\[0-9a-f\]\{2,(\d+)\}", script).group(1))  # type: ignore[union-attr]
    longest = mark_for(settings, "é" * (MAX_SEALED_SUBJECT // 2))  # 128 bytes of UTF-8, sealed
    assert len(longest) == MAX_MARK_HEX <= accepted
    assert open_mark(settings, longest) == "é" * (MAX_SEALED_SUBJECT // 2)
    # The usual subjects: a trial id and a member's e-mail cost 34 hex digits beyond their own bytes.
    trial = "trial:" + secrets.token_urlsafe(16)
    assert len(mark_for(settings, trial)) == 2 * (1 + 16 + len(trial))
    # A frame every EVERY_WORDS words: any ten-word excerpt holds a whole mark of the longest kind.
    marked = embed(TEXT * 3, longest)
    words = marked.split()
    for i in range(len(words) - EVERY_WORDS + 1):
        assert extract(" ".join(words[i : i + EVERY_WORDS])) == [longest]
