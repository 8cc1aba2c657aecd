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

:class:`Tokens` holds one itsdangerous serializer per purpose, its keys derived
once; it is built once when the paywall starts (:mod:`paywall.http.runtime`) and the
request path signs and verifies with it. The functions below take it, or, for
callers outside a running paywall (scripts, tests), the settings themselves:
their :class:`Tokens` is then built on first use and kept per list of keys.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from itsdangerous import BadData, Serializer, Signer, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes, want_bytes
from itsdangerous.signer import HMACAlgorithm

from ..errors import PaywallError
from ..settings import PaywallSettings

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
#: Verified tokens remembered (at most this many, of at most this length: about 2 MB).
MAX_REMEMBERED_TOKENS: Final = 4096
MAX_REMEMBERED_LENGTH: Final = 512


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


#: A payload shorter than this is not offered to zlib: the paywall's (ids, times) gain a few bytes at most,
#: and each try sets up a compressor of about 256 KB. A longer one is compressed when that makes it shorter,
#: as itsdangerous does. Either form is read the same, by the paywall and by itsdangerous.
COMPRESS_FROM: Final = 256


class _HMAC(HMACAlgorithm):
    """HMAC-SHA256 in one call into OpenSSL (``hmac.digest``): itsdangerous's signature, made without an
    ``hmac.HMAC`` object per token."""

    def __init__(self) -> None:
        super().__init__(hashlib.sha256)

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, "sha256")


class _CompactJSON:
    """itsdangerous's compact JSON (no spaces, text as itself) with its encoder built once: ``json.dumps`` with
    these options builds one on every call."""

    _encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    @staticmethod
    def loads(payload: str | bytes) -> Any:
        return json.loads(payload)

    @classmethod
    def dumps(cls, obj: Any, **kwargs: Any) -> str:
        return cls._encode(obj)


class _Signer(TimestampSigner):
    """itsdangerous's timestamp signer with its keys derived once, and the time of signing given per call."""

    def __init__(self, secret_keys: list[str], purpose: str) -> None:
        super().__init__(secret_keys, salt=purpose, digest_method=hashlib.sha256, algorithm=_HMAC())
        derived: dict[bytes, bytes] = {}
        for key in self.secret_keys:
            derived[key] = super().derive_key(key)
        self._derived = derived

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        derived = self._derived.get(key)
        return derived if derived is not None else super().derive_key(key)

    def sign_at(self, value: bytes, timestamp: int) -> bytes:
        """``value`` signed as at ``timestamp``: what :meth:`sign` makes at the clock's time."""
        stamped = value + self.sep + base64_encode(int_to_bytes(timestamp))
        return stamped + self.sep + self.get_signature(stamped)


class _Serializer(URLSafeTimedSerializer):
    """One purpose's serializer around one :class:`_Signer`, built once instead of on every use."""

    def __init__(self, secret_keys: list[str], purpose: str) -> None:
        super().__init__(
            secret_keys,
            salt=purpose,
            serializer=_CompactJSON,
            signer=TimestampSigner,
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self._signer = _Signer(secret_keys, purpose)

    def dump_payload(self, obj: Any) -> bytes:
        """The payload as itsdangerous's URL-safe serializer writes it; one too short to gain is not compressed."""
        payload = Serializer.dump_payload(self, obj)
        if len(payload) < COMPRESS_FROM:
            return base64_encode(payload)
        return super().dump_payload(obj)

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        if salt is None or want_bytes(salt) == self._signer.salt:
            return self._signer
        return super().make_signer(salt)

    def dumps_at(self, obj: Any, now: float) -> str:
        """``obj`` serialised and signed as at ``now``."""
        return self._signer.sign_at(want_bytes(self.dump_payload(obj)), math.floor(now)).decode("ascii")


class Tokens:
    """Every purpose's tokens under one list of keys: signed with the first, verified with all.

    ``secret_keys`` are in the order of :attr:`PaywallSettings.all_secret_keys`
    (the current key, then the fallbacks). Built once: the serializers and
    their derived keys are made here, never per token.
    """

    def __init__(self, secret_keys: Sequence[str]) -> None:
        if not secret_keys:
            raise ValueError("at least one key is needed")
        oldest_first = list(reversed(secret_keys))  # itsdangerous signs with the last key
        self._serializers = {purpose: _Serializer(oldest_first, purpose) for purpose in PURPOSES}
        #: Tokens that verified, by purpose and exact text: ``(payload, signed at)``. A reader sends the
        #: same cookie on every request; its signature is checked once. Only what a signature proved is
        #: kept (never a verdict on time, nor on the store: expiry, age and revocation are judged on every
        #: use), and only for these keys: a key removed means new Tokens, and nothing kept.
        self._verified: OrderedDict[tuple[str, str], tuple[Any, float]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: PaywallSettings) -> Tokens:
        """The tokens of these settings' keys, built on first use and kept (for callers without a runtime)."""
        return _tokens_for_keys(settings.all_secret_keys)

    def _serializer(self, purpose: str) -> _Serializer:
        serializer = self._serializers.get(purpose)
        if serializer is None:
            raise ValueError(f"unknown token purpose {purpose!r}")
        return serializer

    def sign(self, purpose: str, payload: Any, *, now: float | None = None) -> str:
        """Sign ``payload`` (JSON-serialisable) for ``purpose`` with the current key."""
        return self._serializer(purpose).dumps_at(payload, time.time() if now is None else now)

    def verify(self, purpose: str, token: str | None, *, max_age: float | None = None, now: float | None = None) -> Any:
        """Return the payload of a token signed for ``purpose`` by any of the keys.

        ``max_age`` (seconds since signing) is optional: tokens that carry their
        own end time check it themselves, see :func:`load_trial_token`.
        """
        serializer = self._serializer(purpose)
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("missing or oversized token")
        now = time.time() if now is None else now
        key = (purpose, token)
        with self._lock:
            known = self._verified.get(key)
            if known is not None:
                self._verified.move_to_end(key)
        if known is not None:
            payload, stamp = _copy(known[0]), known[1]
        else:
            try:
                payload, signed_at = serializer.loads(token, return_timestamp=True)
            except BadData as exc:
                raise InvalidToken(f"bad {purpose} token: {type(exc).__name__}") from None
            stamp = signed_at.timestamp()
            if len(token) <= MAX_REMEMBERED_LENGTH:
                self._remember(key, payload, stamp)
        age = now - stamp
        if age < -300:  # signed in the future beyond clock skew: not from us
            raise InvalidToken(f"{purpose} token signed in the future")
        if max_age is not None and age > max_age:
            raise ExpiredToken(f"{purpose} token older than {max_age}s", payload)
        return payload

    def _remember(self, key: tuple[str, str], payload: Any, stamp: float) -> None:
        with self._lock:
            self._verified[key] = (_copy(payload), stamp)
            if len(self._verified) > MAX_REMEMBERED_TOKENS:
                self._verified.popitem(last=False)


def _copy(payload: Any) -> Any:
    """A copy no caller can change the remembered payload through (ours are flat objects: a shallow copy)."""
    if isinstance(payload, dict) and all(isinstance(v, str | int | float | bool | None) for v in payload.values()):
        return dict(payload)
    return copy.deepcopy(payload)


@functools.lru_cache(maxsize=16)
def _tokens_for_keys(secret_keys: tuple[str, ...]) -> Tokens:
    return Tokens(secret_keys)


#: What signs and verifies: the :class:`Tokens` built at start-up, or settings (see the module docstring).
Keys: TypeAlias = "Tokens | PaywallSettings"


def tokens_for(keys: Keys) -> Tokens:
    """``keys`` as :class:`Tokens`."""
    return keys if isinstance(keys, Tokens) else Tokens.of(keys)


def sign(keys: Keys, purpose: str, payload: Any, *, now: float | None = None) -> str:
    """Sign ``payload`` (JSON-serialisable) for ``purpose`` with the current key."""
    return tokens_for(keys).sign(purpose, payload, now=now)


def verify(
    keys: Keys,
    purpose: str,
    token: str | None,
    *,
    max_age: float | None = None,
    now: float | None = None,
) -> Any:
    """Return the payload of a token signed for ``purpose`` by any configured key (see :meth:`Tokens.verify`)."""
    return tokens_for(keys).verify(purpose, token, max_age=max_age, now=now)


# ---------------------------------------------------------------------------
# trial tokens


@dataclass(frozen=True, slots=True)
class TrialToken:
    trial_id: str
    ends_at: float


def issue_trial_token(keys: Keys, trial_id: str, ends_at: float, *, now: float | None = None) -> str:
    return sign(keys, TRIAL, {"t": trial_id, "e": ends_at}, now=now)


def load_trial_token(keys: Keys, token: str | None, *, now: float | None = None) -> TrialToken:
    """Verify a trial token; :class:`ExpiredToken` (with ``payload``) once ``ends_at`` has passed."""
    now = time.time() if now is None else now
    payload = verify(keys, TRIAL, token, now=now)
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
    keys: Keys, device_id: str, *, trial_ends_at: float | None = None, now: float | None = None
) -> str:
    payload: dict[str, Any] = {"d": device_id}
    if trial_ends_at is not None:
        payload["t"] = trial_ends_at
    return sign(keys, DEVICE, payload, now=now)


def load_device_token(keys: Keys, token: str | None, *, now: float | None = None) -> DeviceToken:
    payload = verify(keys, DEVICE, token, now=now)
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
