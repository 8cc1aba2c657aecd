"""The grammar of ``cta_variants``: what settings check, and what an experiment is made of.

A leaf module (it needs only :mod:`paywall.errors`), so that settings can check
every entry when they are made without importing the insights, the access layer
or the tokens (see :mod:`paywall.insights.experiments` for what a variant does).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from .errors import ConfigError

#: Placeholders the texts of the call to action may use.
TEXT_PLACEHOLDERS = frozenset({"trial_days", "free_articles"})

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


__all__ = ["TEXT_PLACEHOLDERS", "Variant", "parse_variants"]
