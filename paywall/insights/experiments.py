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
import re
import string
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from ..access import cookie_secure
from ..errors import ConfigError
from ..httputil import set_cookie_header
from ..settings import TEXT_PLACEHOLDERS, PaywallSettings
from ..tokens import VARIANT, InvalidToken, sign, verify

#: How long a reader keeps their variant.
VARIANT_COOKIE_MAX_AGE = 180 * 86400

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_MAX_VARIANTS = 20


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    weight: float
    #: The offer's title, or None for the ``cta_offer_title`` setting.
    title: str | None = None
    #: The trial button's text, or None for the settings' own.
    action: str | None = None


def parse_variants(entries: tuple[str, ...]) -> tuple[Variant, ...]:
    """The variants of ``cta_variants``; a ConfigError names the entry that is wrong."""
    if len(entries) > _MAX_VARIANTS:
        raise ConfigError("cta_variants", f"at most {_MAX_VARIANTS} variants")
    variants: list[Variant] = []
    for entry in entries:
        head, *texts = (part.strip() for part in entry.split("|"))
        words = head.split()
        if len(words) != 2 or len(texts) > 2 or not _NAME.fullmatch(words[0]):
            raise ConfigError(
                "cta_variants", f"expected 'NAME WEIGHT [| TITLE [| ACTION]]' with a plain name, got {entry!r}"
            )
        name, raw_weight = words
        try:
            weight = float(raw_weight)
        except ValueError:
            raise ConfigError("cta_variants", f"the weight of {name!r} is not a number: {raw_weight!r}") from None
        if not 0 < weight <= 1_000_000:
            raise ConfigError("cta_variants", f"the weight of {name!r} must be above 0")
        if any(v.name == name for v in variants):
            raise ConfigError("cta_variants", f"two variants are named {name!r}")
        for text in texts:
            template = string.Template(text)
            if not template.is_valid() or set(template.get_identifiers()) - TEXT_PLACEHOLDERS:
                raise ConfigError(
                    "cta_variants", f"the texts of {name!r} may use only {sorted(TEXT_PLACEHOLDERS)} ('$$' for '$')"
                )
        title, action = [*texts, "", ""][:2]
        variants.append(Variant(name, weight, title or None, action or None))
    return tuple(variants)


class Experiment:
    """The configured variants and the reader's sticky assignment to one of them."""

    def __init__(self, settings: PaywallSettings) -> None:
        self.settings = settings
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
            payload = verify(self.settings, VARIANT, raw, now=now)
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
            sign(self.settings, VARIANT, {"v": chosen.name}, now=now),
            max_age=VARIANT_COOKIE_MAX_AGE,
            secure=cookie_secure(self.settings, conn.scope),
            domain=self.settings.cookie_domain,
        )
        return chosen, (cookie,)
