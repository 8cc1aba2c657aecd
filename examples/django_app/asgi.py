"""ASGI entry point: Django's application wrapped in the paywall.

Run it with::

    uvicorn examples.django_app.asgi:application

then sign in at http://127.0.0.1:8000/login as ``member`` (password
``member-demo-password``) to read in full, or as ``reader`` to see that an
account without the permission ``paywall.read_full`` gets the teaser.

Django renders the articles as usual; ``PaywallMiddleware`` sits around the
whole ASGI application and cuts them at the teaser for readers who are not
members. Inside Django, ``PaywallMemberMiddleware`` turns the permission into
membership, templates show the reader's access and ``{% paywall_break %}``
marks where the teaser ends. ``PAYWALL_*`` environment variables configure the
paywall (for instance ``PAYWALL_FREE_ARTICLES=3`` or
``PAYWALL_STORE=sqlite:////var/lib/paywall/paywall.db``).
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from paywall import PaywallMiddleware, PaywallSettings
from paywall.settings import env_values

from .demo import prepare

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")

#: DEMO ONLY: used when PAYWALL_SECRET_KEY is not set. Never deploy with it.
DEMO_SECRET_KEY = "django-paywall-demo-key-NOT-FOR-PRODUCTION"

settings = PaywallSettings.from_mapping(
    {"secret_key": DEMO_SECRET_KEY, "trial_days": 7, "site_name": "North Sea Energy Review", **env_values()},
    source="environment",
)

django_application = get_asgi_application()
prepare()
application = PaywallMiddleware(django_application, settings=settings)
