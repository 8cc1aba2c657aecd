"""ASGI entry point: the Wagtail site wrapped in the paywall.

Run it with::

    uvicorn examples.wagtail_site.asgi:application

The first start creates the database (``wagtail-example.sqlite3``), a home
page and three articles: one metered, one for members only and one free.
Sign in at http://127.0.0.1:8000/login as ``member`` / ``member-demo-password``
to read in full, or edit the articles at http://127.0.0.1:8000/admin/ as
``editor`` / ``editor-demo-password``: the "Paywall break" block in the body
and the "paywall" choice on the Settings tab. ``PAYWALL_*`` environment
variables configure the paywall (``PAYWALL_FREE_ARTICLES=3`` turns on the meter).
"""

from __future__ import annotations

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

from examples.django_app.demo import prepare
from paywall import PaywallMiddleware, PaywallSettings
from paywall.settings import env_values

from .demo import create_content

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.wagtail_site.settings")

#: DEMO ONLY: used when PAYWALL_SECRET_KEY is not set. Never deploy with it.
DEMO_SECRET_KEY = "wagtail-paywall-demo-key-NOT-FOR-PRODUCTION"

settings = PaywallSettings.from_mapping(
    {
        "secret_key": DEMO_SECRET_KEY,
        "site_name": "North Sea Energy Review",
        # The editors' admin is never gated (editors are superusers, so members, anyway).
        "exclude_paths": ["/admin/", "/static/"],
        **env_values(),
    },
    source="environment",
)

# The admin's own scripts and styles, served by Django (fine for a demonstration).
django_application = ASGIStaticFilesHandler(get_asgi_application())
prepare(then=create_content)
application = PaywallMiddleware(django_application, settings=settings)
