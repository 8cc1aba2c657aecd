"""``{% load paywall %}``: ``{% paywall_break %}`` marks where the teaser ends."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

#: One of the explicit break markers the paywall recognises (see the README, "Where the teaser ends").
BREAK_MARKER = "<!-- paywall -->"


@register.simple_tag
def paywall_break() -> SafeString:
    """The explicit break marker: non-members' teaser ends here, wherever the paragraphs fall."""
    return mark_safe(BREAK_MARKER)  # noqa: S308 - a constant
