"""The Django app: label ``paywall``, so its permission is ``paywall.read_full``."""

from __future__ import annotations

from django.apps import AppConfig


class PaywallConfig(AppConfig):
    name = "paywall.contrib.django"
    label = "paywall"
    verbose_name = "Paywall"
    default_auto_field = "django.db.models.AutoField"
