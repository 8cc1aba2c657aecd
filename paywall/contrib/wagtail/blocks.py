"""``PaywallBreakBlock``: the editor's "the teaser ends here" in a StreamField."""

from __future__ import annotations

from typing import Any

from django.utils.safestring import SafeString, mark_safe
from wagtail import blocks

from ..django.templatetags.paywall import BREAK_MARKER


class PaywallBreakBlock(blocks.StaticBlock):
    """Renders the explicit break marker; readers who are not members see the article up to here."""

    def render_basic(self, value: Any, context: Any = None) -> SafeString:
        return mark_safe(BREAK_MARKER)  # noqa: S308 - a constant

    class Meta:
        icon = "lock"
        label = "Paywall break"
        admin_text = "Readers who are not members see the article up to here, then the call to action."
