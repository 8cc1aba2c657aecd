"""Wagtail settings for the example: the Django example's, plus Wagtail.

The paywall pieces are those of the Django example (``paywall.contrib.django``,
``PaywallMemberMiddleware``, the ``paywall`` context processor); Wagtail adds
the page-level choice and the break block through the ``news`` app's models.
The database is SQLite in ``DJANGO_DATABASE`` (default ``wagtail-example.sqlite3``).
"""

from __future__ import annotations

import os
from pathlib import Path

from examples.django_app.settings import *  # noqa: F403
from examples.django_app.settings import DATABASES, INSTALLED_APPS, MIDDLEWARE, TEMPLATES

HERE = Path(__file__).resolve().parent

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "examples.wagtail_site.news",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
]
MIDDLEWARE = [*MIDDLEWARE, "django.contrib.messages.middleware.MessageMiddleware"]
ROOT_URLCONF = "examples.wagtail_site.urls"
DATABASES["default"]["NAME"] = os.environ.get("DJANGO_DATABASE", "wagtail-example.sqlite3")
TEMPLATES[0]["DIRS"] = [HERE / "templates", *TEMPLATES[0]["DIRS"]]  # type: ignore[misc]
TEMPLATES[0]["APP_DIRS"] = True
TEMPLATES[0]["OPTIONS"]["context_processors"].append(  # type: ignore[index, attr-defined]
    "django.contrib.messages.context_processors.messages"
)
STATIC_URL = "/static/"
WAGTAIL_SITE_NAME = "North Sea Energy Review"
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000")
