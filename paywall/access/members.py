"""Recognising members without Python code on the publisher's side.

Two ways, both checked on every request by :func:`paywall.access.readers.identify`:

* a signed member cookie that the publisher's login flow sets with
  :func:`issue_member_token` (same keys and rotation as every other token);
* a JWT from the publisher's identity provider, in the ``jwt_cookie`` cookie or
  an ``Authorization: Bearer`` header, verified with PyJWT against a
  configured secret, PEM public key or JWKS file.

The accepted JWT algorithms are derived from the *configured key*, never from
the token's header: an RSA key admits only RS*, an EC key only the ES* of its
curve, a shared secret only HS*. That closes algorithm confusion (an HS256
token "signed" with the public RSA key as secret) and ``alg: none``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ..errors import ConfigError
from ..settings import PaywallSettings
from .tokens import MEMBER, ExpiredToken, InvalidToken, Keys, number, sign, verify

_DAY = 86400.0
_RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
_HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
_EC_ALGORITHM_BY_CURVE = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
#: Clock skew tolerated between the identity provider and us.
JWT_LEEWAY_SECONDS = 30.0


# ---------------------------------------------------------------------------
# signed member cookie


def issue_member_token(settings: PaywallSettings, subject: str, days: int, *, now: float | None = None) -> str:
    """A member-cookie value for ``subject`` valid for ``days`` days.

    The publisher's own login code sets it as the ``member_cookie`` cookie
    (HttpOnly, Secure, SameSite=Lax is the right choice).
    """
    if not isinstance(subject, str) or not subject or len(subject) > 256:
        raise ValueError("subject must be a non-empty string of at most 256 characters")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise ValueError("days must be a whole number between 1 and 3650")
    now = time.time() if now is None else now
    return sign(settings, MEMBER, {"s": subject, "e": now + days * _DAY}, now=now)


def load_member_token(keys: Keys, token: str | None, *, now: float | None = None) -> str:
    """The subject of a valid member cookie; :class:`InvalidToken` otherwise."""
    now = time.time() if now is None else now
    payload = verify(keys, MEMBER, token, now=now)
    if not isinstance(payload, dict):
        raise InvalidToken("malformed member token")
    subject, ends_at = payload.get("s"), number(payload.get("e"))
    if not isinstance(subject, str) or not subject or ends_at is None:
        raise InvalidToken("malformed member token")
    if now >= ends_at:
        raise ExpiredToken("member token has expired", subject)
    return subject


# ---------------------------------------------------------------------------
# JWT


@dataclass(frozen=True, slots=True)
class _Key:
    key: Any  # a cryptography public key, or bytes for HMAC
    algorithms: tuple[str, ...]


def algorithms_for_key(key: Any, configured: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The algorithms a key may verify, narrowed to ``configured`` when given."""
    if isinstance(key, rsa.RSAPublicKey):
        allowed: tuple[str, ...] = _RSA_ALGORITHMS
    elif isinstance(key, ec.EllipticCurvePublicKey):
        alg = _EC_ALGORITHM_BY_CURVE.get(key.curve.name)
        allowed = (alg,) if alg else ()
    elif isinstance(key, bytes | str):
        allowed = _HMAC_ALGORITHMS
    else:
        allowed = ()
    if configured:
        allowed = tuple(a for a in allowed if a in configured)
    return allowed


def _load_pem(text: str, source: str) -> Any:
    try:
        key = load_pem_public_key(text.encode())
    except ValueError as exc:
        raise ConfigError(source, f"not a PEM public key: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ConfigError(source, "only RSA and EC (P-256/384/521) public keys are supported")
    return key


def _static_key(settings: PaywallSettings) -> _Key:
    raw = settings.jwt_key or ""
    text = raw.strip()
    if text.startswith("-----BEGIN"):
        key: Any = _load_pem(text, "jwt_key")
    elif os.path.isfile(raw):
        with open(raw, encoding="utf-8") as fh:
            content = fh.read()
        if not content.lstrip().startswith("-----BEGIN"):
            raise ConfigError("jwt_key", f"{raw} does not hold a PEM public key")
        key = _load_pem(content, "jwt_key")
    else:
        if len(raw) < 32:
            raise ConfigError("jwt_key", "an HMAC secret must be at least 32 characters")
        key = raw.encode()
    algorithms = algorithms_for_key(key, settings.jwt_algorithms)
    if not algorithms:
        raise ConfigError("jwt_algorithms", "none of them fits the type of jwt_key")
    return _Key(key, algorithms)


class JWTVerifier:
    """Verifies JWTs with the configured key or JWKS file.

    Built once, when the paywall starts (:mod:`paywall.access.credentials`): the key is
    read here, and an unusable one raises :class:`~paywall.errors.ConfigError`.
    The JWKS file is re-read when it changes on disk, so a publisher can rotate
    provider keys without a restart.
    """

    def __init__(self, settings: PaywallSettings) -> None:
        self._settings = settings
        self._static: _Key | None = None
        self._jwks: dict[str, _Key] = {}
        self._jwks_stamp: tuple[float, int] | None = None
        self._lock = threading.Lock()
        if settings.jwt_key is not None:
            self._static = _static_key(settings)
        elif settings.jwt_jwks_file is not None:
            self._load_jwks()

    @property
    def enabled(self) -> bool:
        return self._static is not None or self._settings.jwt_jwks_file is not None

    def _load_jwks(self) -> None:
        path = self._settings.jwt_jwks_file
        assert path is not None
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise ConfigError("jwt_jwks_file", f"cannot read {path}: {exc}") from None
        stamp = (stat.st_mtime, stat.st_size)
        if stamp == self._jwks_stamp:
            return
        try:
            with open(path, encoding="utf-8") as fh:
                document = json.load(fh)
        except OSError as exc:
            raise ConfigError("jwt_jwks_file", f"cannot read {path}: {exc}") from None
        except ValueError as exc:
            raise ConfigError("jwt_jwks_file", f"not JSON: {exc}") from None
        keys: dict[str, _Key] = {}
        entries = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(entries, list):
            raise ConfigError("jwt_jwks_file", "expected an object with a 'keys' list")
        for entry in entries:
            if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
                continue
            try:
                jwk = jwt.PyJWK.from_dict(dict(entry))
            except jwt.PyJWTError:
                continue  # a key type we do not support must not stop the others
            algorithms = algorithms_for_key(jwk.key, self._settings.jwt_algorithms)
            declared = entry.get("alg")
            if isinstance(declared, str):
                algorithms = tuple(a for a in algorithms if a == declared)
            if algorithms:
                keys[str(entry.get("kid", ""))] = _Key(jwk.key, algorithms)
        with self._lock:
            self._jwks, self._jwks_stamp = keys, stamp

    def _key_for(self, token: str) -> _Key:
        if self._static is not None:
            return self._static
        with contextlib.suppress(ConfigError):  # keep the keys we had while the file is being replaced
            self._load_jwks()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed JWT header") from None
        kid = header.get("kid")
        keys = self._jwks
        if isinstance(kid, str) and kid in keys:
            return keys[kid]
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        raise InvalidToken("no JWKS key for this token's kid")

    def verify(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """The verified claims of ``token``; :class:`InvalidToken` for any fault."""
        if not self.enabled:
            raise InvalidToken("JWT verification is not configured")
        if not token or len(token) > 8192:
            raise InvalidToken("missing or oversized JWT")
        now = time.time() if now is None else now
        key = self._key_for(token)
        settings = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(key.algorithms),
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                # Time claims are checked below against the injectable clock.
                options={
                    "require": ["exp"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    # Always: with no audience configured, a token that names one is
                    # meant for someone else and is refused.
                    "verify_aud": True,
                    "verify_iss": settings.jwt_issuer is not None,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"JWT refused: {type(exc).__name__}") from None
        _check_times(claims, now)
        return claims

    def subject(self, token: str, *, now: float | None = None) -> str:
        """The member's stable id: the ``sub`` claim (``iss`` and ``jti`` are not identities).

        With ``jwt_member_claim`` set, the token must also grant access: that
        claim (a string, or a list of strings such as roles) must hold one of
        ``jwt_member_values``. A token for a free plan verifies, but is no member.
        """
        claims = self.verify(token, now=now)
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("JWT has no subject")
        if not grants_access(claims, self._settings):
            raise InvalidToken("JWT does not grant access (jwt_member_claim)")
        return sub


def grants_access(claims: Mapping[str, Any], settings: PaywallSettings) -> bool:
    """Whether verified ``claims`` make a member under ``jwt_member_claim`` / ``jwt_member_values``."""
    name = settings.jwt_member_claim
    if name is None:
        return True
    value = claims.get(name)
    held = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return any(isinstance(v, str) and v in settings.jwt_member_values for v in held)


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    exp = number(claims.get("exp"))
    if exp is None:
        raise InvalidToken("JWT exp is not a number")
    if now >= exp + JWT_LEEWAY_SECONDS:
        raise ExpiredToken("JWT has expired")
    for name in ("nbf", "iat"):
        if name not in claims:
            continue
        value = number(claims[name])
        if value is None or now + JWT_LEEWAY_SECONDS < value:
            raise InvalidToken(f"JWT {name} is not a number or lies in the future")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value or None
