"""Signed, purpose-salted tokens for trials, devices, members, forms and e-mail links.

Every token the paywall hands to a browser is signed with the publisher's
``secret_key`` and a salt naming its purpose, so a device token can never be
replayed as a trial token, nor a form token as a member token. Verification
accepts the current key and every ``secret_key_fallbacks`` key, which lets a
publisher rotate keys without logging out every reader; a key removed from
both stops verifying at once.

Anything wrong with a token (tampered, truncated, signed with a foreign key or
for another purpose, expired) raises :class:`InvalidToken`. Callers treat the
reader as if the token were absent and clear the cookie: a reader is never
shown an error because of a stale cookie.

Expiry is always judged against a ``now`` the caller may inject, so that tests
move a clock instead of sleeping.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any, Final

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

from .errors import PaywallError
from .settings import PaywallSettings

TRIAL: Final = "paywall.trial"
DEVICE: Final = "paywall.device"
MEMBER: Final = "paywall.member"
CSRF: Final = "paywall.csrf"
CONFIRM: Final = "paywall.confirm"
VARIANT: Final = "paywall.variant"
FEED: Final = "paywall.feed"

PURPOSES: Final = frozenset({TRIAL, DEVICE, MEMBER, CSRF, CONFIRM, VARIANT, FEED})

#: Longest token we even try to verify; cookies are capped near 4 KiB anyway.
MAX_TOKEN_LENGTH: Final = 4096


class InvalidToken(PaywallError):
    """A token that must be ignored: tampered, truncated, foreign, wrong purpose or expired."""


class ExpiredToken(InvalidToken):
    """A genuine token whose time is over.

    A separate type because an expired token still tells something true (the
    reader had a trial, so the call to action says it has ended instead of
    offering a second one); the verified ``payload`` comes with it.
    """

    def __init__(self, message: str, payload: Any = None) -> None:
        super().__init__(message)
        self.payload = payload


class _ClockSigner(TimestampSigner):
    """A timestamp signer whose clock reads the ``now`` it is given, for signing and for ages."""

    def __init__(self, *args: Any, now: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        return math.floor(self._now)


def _serializer(settings: PaywallSettings, purpose: str, now: float) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(
        list(reversed(settings.all_secret_keys)),  # itsdangerous signs with the last key
        salt=purpose,
        signer=_ClockSigner,
        signer_kwargs={"digest_method": hashlib.sha256, "now": now},
    )


def sign(settings: PaywallSettings, purpose: str, payload: Any, *, now: float | None = None) -> str:
    """Sign ``payload`` (JSON-serialisable) for ``purpose`` with the current key."""
    now = time.time() if now is None else now
    return str(_serializer(settings, purpose, now).dumps(payload))


def verify(
    settings: PaywallSettings,
    purpose: str,
    token: str | None,
    *,
    max_age: float | None = None,
    now: float | None = None,
) -> Any:
    """Return the payload of a token signed for ``purpose`` by any configured key.

    ``max_age`` (seconds since signing) is optional: tokens that carry their
    own end time check it themselves, see :func:`load_trial_token`.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("missing or oversized token")
    now = time.time() if now is None else now
    serializer = _serializer(settings, purpose, now)
    try:
        payload, signed_at = serializer.loads(token, return_timestamp=True)
    except BadData as exc:
        raise InvalidToken(f"bad {purpose} token: {type(exc).__name__}") from None
    age = now - signed_at.timestamp()
    if age < -300:  # signed in the future beyond clock skew: not from us
        raise InvalidToken(f"{purpose} token signed in the future")
    if max_age is not None and age > max_age:
        raise ExpiredToken(f"{purpose} token older than {max_age}s", payload)
    return payload


# ---------------------------------------------------------------------------
# trial tokens


@dataclass(frozen=True, slots=True)
class TrialToken:
    trial_id: str
    ends_at: float


def issue_trial_token(settings: PaywallSettings, trial_id: str, ends_at: float, *, now: float | None = None) -> str:
    return sign(settings, TRIAL, {"t": trial_id, "e": ends_at}, now=now)


def load_trial_token(settings: PaywallSettings, token: str | None, *, now: float | None = None) -> TrialToken:
    """Verify a trial token; :class:`ExpiredToken` (with ``payload``) once ``ends_at`` has passed."""
    now = time.time() if now is None else now
    payload = verify(settings, TRIAL, token, now=now)
    trial = _trial_from_payload(payload)
    if now >= trial.ends_at:
        raise ExpiredToken("trial has ended", trial)
    return trial


def _trial_from_payload(payload: Any) -> TrialToken:
    if not isinstance(payload, dict):
        raise InvalidToken("malformed trial token")
    trial_id, ends_at = payload.get("t"), number(payload.get("e"))
    if not isinstance(trial_id, str) or not trial_id or ends_at is None:
        raise InvalidToken("malformed trial token")
    return TrialToken(trial_id, ends_at)


# ---------------------------------------------------------------------------
# device tokens


@dataclass(frozen=True, slots=True)
class DeviceToken:
    device_id: str
    #: End of a trial started on this device, if any: lets an ended trial be
    #: recognised after its own cookie has expired.
    trial_ends_at: float | None = None


def issue_device_token(
    settings: PaywallSettings, device_id: str, *, trial_ends_at: float | None = None, now: float | None = None
) -> str:
    payload: dict[str, Any] = {"d": device_id}
    if trial_ends_at is not None:
        payload["t"] = trial_ends_at
    return sign(settings, DEVICE, payload, now=now)


def load_device_token(settings: PaywallSettings, token: str | None, *, now: float | None = None) -> DeviceToken:
    payload = verify(settings, DEVICE, token, now=now)
    if not isinstance(payload, dict):
        raise InvalidToken("malformed device token")
    device_id, trial_end = payload.get("d"), payload.get("t")
    if not isinstance(device_id, str) or not 16 <= len(device_id) <= 64:
        raise InvalidToken("malformed device token")
    if trial_end is None:
        return DeviceToken(device_id)
    ends_at = number(trial_end)
    if ends_at is None:
        raise InvalidToken("malformed device token")
    return DeviceToken(device_id, ends_at)


def number(value: object) -> float | None:
    """``value`` as a finite float when it is a JSON number (not a bool), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
