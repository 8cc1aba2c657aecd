"""Signed tokens: every way a token can be wrong makes it InvalidToken, never an error page."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from paywall import PaywallSettings
from paywall.access.tokens import (
    CONFIRM,
    CSRF,
    DEVICE,
    MAX_REMEMBERED_LENGTH,
    MAX_REMEMBERED_TOKENS,
    MEMBER,
    TRIAL,
    DeviceToken,
    ExpiredToken,
    InvalidToken,
    Tokens,
    TrialToken,
    issue_device_token,
    issue_trial_token,
    load_device_token,
    load_trial_token,
    sign,
    verify,
)

OLD_KEY = "old-secret-key-0123456789abcdef"
NEW_KEY = "new-secret-key-fedcba9876543210"
NOW = 1_800_000_000.0
DEVICE_ID = "d" * 22

Make = Callable[..., PaywallSettings]


@pytest.mark.parametrize("purpose", [TRIAL, DEVICE, MEMBER, CSRF, CONFIRM])
def test_round_trip_for_every_purpose(make_settings: Make, purpose: str) -> None:
    settings = make_settings()
    token = sign(settings, purpose, {"x": [1, "two"]}, now=NOW)
    assert verify(settings, purpose, token, now=NOW + 10) == {"x": [1, "two"]}


@pytest.mark.parametrize(
    ("signed_for", "checked_for"),
    [(DEVICE, TRIAL), (TRIAL, MEMBER), (CSRF, CONFIRM), (MEMBER, DEVICE), (CONFIRM, CSRF)],
)
def test_token_for_another_purpose_is_refused(make_settings: Make, signed_for: str, checked_for: str) -> None:
    settings = make_settings()
    token = sign(settings, signed_for, {"t": "abc", "e": NOW + 100, "d": DEVICE_ID}, now=NOW)
    with pytest.raises(InvalidToken):
        verify(settings, checked_for, token, now=NOW)


def _tampered_variants(token: str) -> list[str]:
    payload, stamp, signature = token.rsplit(".", 2)

    def other(char: str) -> str:
        return "A" if char != "A" else "B"

    flipped_sig = signature[:-2] + other(signature[-2]) + signature[-1]
    forged_payload = base64.urlsafe_b64encode(b'{"t":"other","e":9999999999}').decode().rstrip("=")
    return [
        f"{payload}.{stamp}.{flipped_sig}",
        f"{forged_payload}.{stamp}.{signature}",
        f"{payload}.{stamp[:-2]}{other(stamp[-2])}{stamp[-1]}.{signature}",
        token[:-1],
        token[:-10],
        token[: len(token) // 2],
        payload,
        f"{payload}.{stamp}",
        "",
        ".",
        "..",
        "garbage",
        token + "x",
        token.upper(),
        "a" * 5000,
    ]


def test_tampered_and_truncated_tokens_are_invalid(make_settings: Make) -> None:
    settings = make_settings()
    token = issue_trial_token(settings, "trial-1", NOW + 3600, now=NOW)
    assert load_trial_token(settings, token, now=NOW).trial_id == "trial-1"
    for bad in _tampered_variants(token):
        assert bad != token
        with pytest.raises(InvalidToken):
            load_trial_token(settings, bad, now=NOW)


def test_missing_token_is_invalid(make_settings: Make) -> None:
    settings = make_settings()
    with pytest.raises(InvalidToken):
        verify(settings, TRIAL, None)
    with pytest.raises(InvalidToken):
        load_device_token(settings, "")


def test_foreign_key_is_refused(make_settings: Make) -> None:
    ours = make_settings(secret_key=NEW_KEY)
    theirs = make_settings(secret_key="someone-elses-key-7f3a9c2e51d8")
    token = issue_trial_token(theirs, "trial-1", NOW + 3600, now=NOW)
    with pytest.raises(InvalidToken):
        load_trial_token(ours, token, now=NOW)


def test_key_rotation_keeps_old_tokens_until_the_key_is_removed(make_settings: Make) -> None:
    before = make_settings(secret_key=OLD_KEY)
    old_token = issue_device_token(before, DEVICE_ID, now=NOW)

    rotated = make_settings(secret_key=NEW_KEY, secret_key_fallbacks=(OLD_KEY,))
    assert load_device_token(rotated, old_token, now=NOW).device_id == DEVICE_ID
    new_token = issue_device_token(rotated, DEVICE_ID, now=NOW)
    assert new_token != old_token
    # New tokens are signed with the new key: the old key alone cannot verify them.
    with pytest.raises(InvalidToken):
        load_device_token(before, new_token, now=NOW)

    removed = make_settings(secret_key=NEW_KEY)
    assert load_device_token(removed, new_token, now=NOW).device_id == DEVICE_ID
    with pytest.raises(InvalidToken):
        load_device_token(removed, old_token, now=NOW)


def test_several_fallbacks_all_verify(make_settings: Make) -> None:
    third = "third-secret-key-0123456789abcd"
    tokens = [sign(make_settings(secret_key=k), CSRF, {"d": DEVICE_ID}, now=NOW) for k in (OLD_KEY, third)]
    rotated = make_settings(secret_key=NEW_KEY, secret_key_fallbacks=(third, OLD_KEY))
    for token in tokens:
        assert verify(rotated, CSRF, token, now=NOW) == {"d": DEVICE_ID}


def test_max_age_uses_the_injected_clock(make_settings: Make) -> None:
    settings = make_settings()
    token = sign(settings, CSRF, {"d": DEVICE_ID}, now=NOW)
    assert verify(settings, CSRF, token, max_age=60, now=NOW + 60) == {"d": DEVICE_ID}
    with pytest.raises(ExpiredToken) as info:
        verify(settings, CSRF, token, max_age=60, now=NOW + 61)
    assert isinstance(info.value, InvalidToken)
    assert info.value.payload == {"d": DEVICE_ID}


def test_token_signed_in_the_future_is_refused(make_settings: Make) -> None:
    settings = make_settings()
    token = sign(settings, CSRF, {"d": DEVICE_ID}, now=NOW + 3600)
    with pytest.raises(InvalidToken):
        verify(settings, CSRF, token, now=NOW)


def test_trial_token_lasts_exactly_until_the_trial_ends(make_settings: Make) -> None:
    settings = make_settings()
    ends = NOW + 7 * 86400
    token = issue_trial_token(settings, "trial-1", ends, now=NOW)
    assert load_trial_token(settings, token, now=ends - 1) == TrialToken("trial-1", ends)
    with pytest.raises(ExpiredToken) as info:
        load_trial_token(settings, token, now=ends)
    assert info.value.payload == TrialToken("trial-1", ends)
    with pytest.raises(ExpiredToken):
        load_trial_token(settings, token, now=ends + 86400 * 365)


@pytest.mark.parametrize(
    "payload",
    [
        ["trial-1", NOW + 10],
        "trial-1",
        None,
        {},
        {"t": "", "e": NOW + 10},
        {"t": 5, "e": NOW + 10},
        {"t": "trial-1"},
        {"t": "trial-1", "e": "tomorrow"},
        {"t": "trial-1", "e": True},
        {"t": "trial-1", "e": float("inf")},
    ],
)
def test_well_signed_but_malformed_trial_payload_is_invalid(make_settings: Make, payload: Any) -> None:
    settings = make_settings()
    token = sign(settings, TRIAL, payload, now=NOW)
    with pytest.raises(InvalidToken):
        load_trial_token(settings, token, now=NOW)


def test_device_token_carries_an_optional_trial_end(make_settings: Make) -> None:
    settings = make_settings()
    plain = issue_device_token(settings, DEVICE_ID, now=NOW)
    marked = issue_device_token(settings, DEVICE_ID, trial_ends_at=NOW + 50, now=NOW)
    assert load_device_token(settings, plain, now=NOW) == DeviceToken(DEVICE_ID, None)
    assert load_device_token(settings, marked, now=NOW) == DeviceToken(DEVICE_ID, NOW + 50)


@pytest.mark.parametrize(
    "payload",
    [{"d": "short"}, {"d": "x" * 65}, {"d": 123}, {"d": DEVICE_ID, "t": "soon"}, [DEVICE_ID], {"t": NOW}],
)
def test_malformed_device_payload_is_invalid(make_settings: Make, payload: Any) -> None:
    settings = make_settings()
    with pytest.raises(InvalidToken):
        load_device_token(settings, sign(settings, DEVICE, payload, now=NOW), now=NOW)


def test_unknown_purpose_is_a_programming_error(make_settings: Make) -> None:
    with pytest.raises(ValueError, match="purpose"):
        sign(make_settings(), "paywall.other", {})


# ---------------------------------------------------------------------------
# verified tokens are remembered: what a signature proved, never a verdict on time


def test_a_remembered_token_is_still_judged_on_time_at_every_use(make_settings: Make) -> None:
    tokens = Tokens(make_settings().all_secret_keys)
    trial = issue_trial_token(tokens, "trial-1", NOW + 100, now=NOW)
    assert load_trial_token(tokens, trial, now=NOW + 1) == TrialToken("trial-1", NOW + 100)
    assert load_trial_token(tokens, trial, now=NOW + 2) == TrialToken("trial-1", NOW + 100)  # remembered
    with pytest.raises(ExpiredToken):
        load_trial_token(tokens, trial, now=NOW + 100)
    form = tokens.sign(CSRF, {"d": DEVICE_ID}, now=NOW)
    assert tokens.verify(CSRF, form, max_age=60, now=NOW + 10) == {"d": DEVICE_ID}
    with pytest.raises(ExpiredToken):
        tokens.verify(CSRF, form, max_age=60, now=NOW + 61)
    with pytest.raises(InvalidToken):  # signed in the future, as seen from a clock set back
        tokens.verify(CSRF, form, now=NOW - 3600)


def test_a_remembered_token_is_remembered_for_its_purpose_and_exact_text_only(make_settings: Make) -> None:
    tokens = Tokens(make_settings().all_secret_keys)
    device = issue_device_token(tokens, DEVICE_ID, now=NOW)
    assert load_device_token(tokens, device, now=NOW) == DeviceToken(DEVICE_ID)
    with pytest.raises(InvalidToken):
        tokens.verify(TRIAL, device, now=NOW)
    for forged in _tampered_variants(device):
        with pytest.raises(InvalidToken):
            load_device_token(tokens, forged, now=NOW)
    # Another list of keys (a key removed) remembers nothing of these.
    with pytest.raises(InvalidToken):
        load_device_token(Tokens(["another-secret-key-0123456789ab"]), device, now=NOW)


def test_a_remembered_payload_cannot_be_changed_by_a_caller(make_settings: Make) -> None:
    tokens = Tokens(make_settings().all_secret_keys)
    token = tokens.sign(MEMBER, {"s": "reader", "e": NOW + 60, "roles": ["a"]}, now=NOW)
    first = tokens.verify(MEMBER, token, now=NOW)
    first["s"] = "someone else"
    first["roles"].append("admin")
    assert tokens.verify(MEMBER, token, now=NOW) == {"s": "reader", "e": NOW + 60, "roles": ["a"]}


def test_what_is_remembered_is_bounded(make_settings: Make) -> None:
    tokens = Tokens(make_settings().all_secret_keys)
    for n in range(MAX_REMEMBERED_TOKENS + 50):
        tokens.verify(CSRF, tokens.sign(CSRF, {"d": f"{n:022d}"}, now=NOW), now=NOW)
    assert len(tokens._verified) == MAX_REMEMBERED_TOKENS
    long = tokens.sign(CSRF, {"d": secrets.token_urlsafe(MAX_REMEMBERED_LENGTH)}, now=NOW)
    assert len(long) > MAX_REMEMBERED_LENGTH
    tokens.verify(CSRF, long, now=NOW)
    assert (CSRF, long) not in tokens._verified
