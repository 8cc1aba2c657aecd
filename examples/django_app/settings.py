"""Django settings for the example: production-style defaults, overridable by environment.

DEBUG is off unless ``DJANGO_DEBUG=1``; the secret key comes from
``DJANGO_SECRET_KEY`` and falls back to a demo key that must never be deployed.
"""

from __future__ import annotations

import os

#: DEMO ONLY fallback: set DJANGO_SECRET_KEY to a long random value in production.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-demo-secret-key-NOT-FOR-PRODUCTION")

DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")]

INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "examples.django_app.urls"
DATABASES: dict[str, dict[str, str]] = {}
TEMPLATES: list[dict[str, object]] = []

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
