"""What verifies the credentials a reader carries, made once when the paywall starts.

Two things: our own signed tokens (:class:`~paywall.access.tokens.Tokens`, one
serializer per purpose) and, when the publisher configured one, the identity
provider's JWTs (:class:`~paywall.access.members.JWTVerifier`). Making them is where
key files are read: a ``jwt_key`` file or ``jwt_jwks_file`` that is missing or
holds no usable key stops start-up here with a
:class:`~paywall.errors.ConfigError` naming the setting. Settings themselves
read no file.

The access layer takes a :class:`Credentials` from the runtime
(:mod:`paywall.http.runtime`); callers without one (scripts, tests) get the one
:func:`credentials_for` keeps for their settings object while it lives.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from ..settings import PaywallSettings
from .members import JWTVerifier
from .tokens import Tokens


@dataclass(frozen=True, slots=True)
class Credentials:
    """The token serializers of the configured keys, and the JWT verifier (None when JWTs are not configured)."""

    tokens: Tokens
    jwt: JWTVerifier | None

    @classmethod
    def load(cls, settings: PaywallSettings) -> Credentials:
        """Make both, reading the JWT key now: :class:`~paywall.errors.ConfigError` for an unusable one."""
        jwt = JWTVerifier(settings) if settings.jwt_key is not None or settings.jwt_jwks_file is not None else None
        return cls(Tokens(settings.all_secret_keys), jwt)


#: Credentials made for callers without a runtime, by settings object (removed when it is collected).
_kept: dict[int, Credentials] = {}


def credentials_for(settings: PaywallSettings) -> Credentials:
    """The credentials of this settings object, made on first use and kept while it lives.

    A convenience for code that has settings but no runtime; a running paywall
    passes its own :class:`Credentials` and never comes here.
    """
    key = id(settings)
    found = _kept.get(key)
    if found is None:
        made = Credentials.load(settings)
        found = _kept.setdefault(key, made)
        if found is made:
            weakref.finalize(settings, _kept.pop, key, None)
    return found
