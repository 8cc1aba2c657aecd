"""``PaywallPageMixin``: each page says whether it is free, metered or for members only.

The choice travels as the response header the paywall reads (and removes):

* ``free``: ``X-Paywall: free``, the page passes whole to everyone;
* ``metered`` (the default): ``X-Paywall: metered``, the site's rule: with
  ``free_articles`` set, a non-member may read it while the month's free
  articles last, then gets the teaser; without metering, the teaser;
* ``members``: ``X-Paywall: members``, the teaser for every non-member, never
  counted against or opened by the free articles.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest, HttpResponse
from wagtail.admin.panels import FieldPanel

PAYWALL_CHOICES = [
    ("free", "Free to read"),
    ("metered", "Metered: free while the reader has free articles left"),
    ("members", "Members only"),
]
PAYWALL_HEADER = "X-Paywall"


class PaywallPageMixin(models.Model):
    """Mix into a Wagtail ``Page`` before ``Page``; add :attr:`paywall_panels` to a panel list."""

    paywall = models.CharField(
        "paywall",
        max_length=16,
        choices=PAYWALL_CHOICES,
        default="metered",
        help_text="Who may read this page in full.",
    )

    paywall_panels = [FieldPanel("paywall")]

    class Meta:
        abstract = True

    def serve(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().serve(request, *args, **kwargs)
        choice = self.paywall if self.paywall in dict(PAYWALL_CHOICES) else "members"
        response[PAYWALL_HEADER] = choice
        return response
