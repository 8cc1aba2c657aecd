"""ASGI entry point: Django's application wrapped in the paywall.

Run it with::

    PAYWALL_SECRET_KEY=... uvicorn examples.django_app.asgi:application

Django renders the articles as usual; ``PaywallMiddleware`` sits around the
whole ASGI application and cuts them at the teaser for readers who are not
members. ``PAYWALL_*`` environment variables configure it (for instance
``PAYWALL_STORE=sqlite:////var/lib/paywall/paywall.db``).
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from paywall import PaywallMiddleware, PaywallSettings
from paywall.settings import env_values

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")

#: DEMO ONLY: used when PAYWALL_SECRET_KEY is not set. Never deploy with it.
DEMO_SECRET_KEY = "django-paywall-demo-key-NOT-FOR-PRODUCTION"

settings = PaywallSettings.from_mapping(
    {"secret_key": DEMO_SECRET_KEY, "trial_days": 7, "site_name": "North Sea Energy Review", **env_values()},
    source="environment",
)

application = PaywallMiddleware(get_asgi_application(), settings=settings)
