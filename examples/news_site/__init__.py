"""Northline Insight, the demo news site (see :mod:`examples.news_site.app`).

``app`` is the site alone; ``build_app(settings=None)`` wraps it in the paywall.
"""

from .app import app, build_app, demo_member_resolver, demo_settings

__all__ = ["app", "build_app", "demo_member_resolver", "demo_settings"]
