"""Wagtail: a StreamField block for the break and a page-level access choice.

Install with ``pip install 'paywall[wagtail]'``; the Django pieces
(:mod:`paywall.contrib.django`) work in a Wagtail site as they are, so members
come from Django's auth. In a page model::

    from paywall.contrib.wagtail.blocks import PaywallBreakBlock
    from paywall.contrib.wagtail.models import PaywallPageMixin

    class ArticlePage(PaywallPageMixin, Page):
        body = StreamField([("paragraph", blocks.RichTextBlock()), ("paywall_break", PaywallBreakBlock())])
        content_panels = [*Page.content_panels, FieldPanel("body")]
        settings_panels = [*Page.settings_panels, *PaywallPageMixin.paywall_panels]

Editors drop a "Paywall break" block where the teaser ends, and choose for
each page whether it is free, metered (the default) or for members only; the
choice reaches the paywall as the ``X-Paywall`` response header.
"""
