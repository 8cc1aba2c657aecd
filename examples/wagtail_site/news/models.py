"""Page types: the paywall pieces are ``PaywallPageMixin`` and ``PaywallBreakBlock``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from wagtail import blocks
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page

from paywall.contrib.wagtail.blocks import PaywallBreakBlock
from paywall.contrib.wagtail.models import PaywallPageMixin


class HomePage(Page):
    subpage_types = ["news.ArticlePage"]

    def get_context(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context(request, *args, **kwargs)
        context["articles"] = ArticlePage.objects.child_of(self).live().order_by("path")
        return context


class ArticlePage(PaywallPageMixin, Page):
    body = StreamField(
        [
            ("paragraph", blocks.RichTextBlock(features=["bold", "italic", "link"])),
            ("paywall_break", PaywallBreakBlock()),
        ],
        blank=True,
    )

    content_panels = [*Page.content_panels, FieldPanel("body")]
    settings_panels = [*Page.settings_panels, *PaywallPageMixin.paywall_panels]
    parent_page_types = ["news.HomePage"]
