"""``paywall`` in every template: the reader's access, computed only when a template uses it.

``{{ paywall.access }}`` is ``member``, ``trial``, ``metered`` or
``anonymous``; ``{{ paywall.free_articles_left }}`` and ``{{ paywall.trial_ends }}``
are there when they apply; ``{% if not paywall.is_member %}`` hides a Subscribe
button from members. In an async view, ``await aaccess(request)`` (from
:mod:`paywall.contrib.django.members`) before rendering.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .members import access


def paywall(request: HttpRequest) -> dict[str, object]:
    return {"paywall": SimpleLazyObject(lambda: access(request))}
