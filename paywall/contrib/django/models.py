"""The permission ``paywall.read_full``: a member reads every article in full.

Django attaches permissions to models, so the app declares one model that
holds no data (``managed = False``: no table is ever created) to carry it.
"""

from __future__ import annotations

from django.db import models


class Access(models.Model):
    """Carries the permission only; never queried."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("read_full", "Can read members' articles in full")]
