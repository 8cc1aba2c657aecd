"""The Django example's settings with ``PAYWALL_MEMBER_CHECK`` naming a check of its own.

The check inverts the demo on purpose: ``reader`` is a member and ``member``
(who holds the permission) is not, so a test can tell which rule decided.
"""

from __future__ import annotations

from django.http import HttpRequest

from examples.django_app.settings import *  # noqa: F403

PAYWALL_MEMBER_CHECK = "tests.apps.django_check_settings.named_reader"


def named_reader(request: HttpRequest) -> bool:
    return bool(request.user.get_username() == "reader")
