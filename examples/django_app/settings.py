"""Django settings for the example: production-style defaults, overridable by environment.

DEBUG is off unless ``DJANGO_DEBUG=1``; the secret key comes from
``DJANGO_SECRET_KEY`` and falls back to a demo key that must never be deployed.
The database is SQLite in ``DJANGO_DATABASE`` (default ``django-example.sqlite3``
in the folder the server starts from).

The three paywall pieces are ``paywall.contrib.django`` in ``INSTALLED_APPS``
(the permission ``paywall.read_full`` and the ``{% paywall_break %}`` tag),
``PaywallMemberMiddleware`` after ``AuthenticationMiddleware`` and the
``paywall`` context processor.
"""

from __future__ import annotations

import os
from pathlib import Path

#: DEMO ONLY fallback: set DJANGO_SECRET_KEY to a long random value in production.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-demo-secret-key-NOT-FOR-PRODUCTION")

DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "paywall.contrib.django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "paywall.contrib.django.middleware.PaywallMemberMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "examples.django_app.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DATABASE", "django-example.sqlite3"),
    }
}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "paywall.contrib.django.context_processors.paywall",
            ],
        },
    }
]
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
