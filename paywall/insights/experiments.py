"""Call-to-action experiments: weighted variants, and the variant each reader keeps.

A variant changes the words of the trial offer (the title of the offer, the
button of the offer and of the metered call to action); the call to action
for a trial that has ended is never part of an experiment. Each entry of
``cta_variants`` reads ``NAME WEIGHT [| TITLE [| ACTION]]``; an empty or
missing text keeps the setting's own, so the first entry is usually the
control::

    cta_variants = ["control 50", "urgent 50 | Don't miss the rest | Read on free for ${trial_days} days"]

A reader is given a variant the first time a trial is offered to them, by
weight, and keeps it: it travels in a signed cookie, so that one reader's
conversion is always counted against the words they saw. A cookie naming a
variant that is no longer configured is replaced.
"""

from __future__ import annotations

import random

from starlette.requests import HTTPConnection

from ..access.cookies import set_cookie_header
from ..access.readers import cookie_secure
from ..access.tokens import VARIANT, InvalidToken, Keys, Tokens, tokens_for
from ..settings import PaywallSettings
from ..variants import Variant, parse_variants

__all__ = ["VARIANT_COOKIE_MAX_AGE", "Experiment", "Variant", "parse_variants"]

#: How long a reader keeps their variant.
VARIANT_COOKIE_MAX_AGE = 180 * 86400


class Experiment:
    """The configured variants and the reader's sticky assignment to one of them."""

    def __init__(self, settings: PaywallSettings, *, keys: Keys | None = None) -> None:
        self.settings = settings
        self.tokens: Tokens = Tokens(settings.all_secret_keys) if keys is None else tokens_for(keys)
        self.variants = parse_variants(settings.cta_variants)
        self._by_name = {v.name: v for v in self.variants}
        self._random = random.SystemRandom()

    @property
    def control(self) -> str:
        """The first variant, against which the others are compared."""
        return self.variants[0].name if self.variants else ""

    def current(self, conn: HTTPConnection, *, now: float) -> Variant | None:
        """The variant the reader's cookie names, when it is still configured."""
        raw = conn.cookies.get(self.settings.variant_cookie)
        if not raw or not self.variants:
            return None
        try:
            payload = self.tokens.verify(VARIANT, raw, now=now)
        except InvalidToken:
            return None
        name = payload.get("v") if isinstance(payload, dict) else None
        return self._by_name.get(name) if isinstance(name, str) else None

    def assign(self, conn: HTTPConnection, *, now: float) -> tuple[Variant | None, tuple[str, ...]]:
        """The reader's variant, and the ``Set-Cookie`` to send when it was chosen just now."""
        if not self.variants:
            return None, ()
        kept = self.current(conn, now=now)
        if kept is not None:
            return kept, ()
        chosen = self._random.choices(self.variants, weights=[v.weight for v in self.variants])[0]
        cookie = set_cookie_header(
            self.settings.variant_cookie,
            self.tokens.sign(VARIANT, {"v": chosen.name}, now=now),
            max_age=VARIANT_COOKIE_MAX_AGE,
            secure=cookie_secure(self.settings, conn.scope),
            domain=self.settings.cookie_domain,
        )
        return chosen, (cookie,)
