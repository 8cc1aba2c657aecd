"""paywall: a paywall and content protection in front of an existing news site.

Mount :class:`PaywallMiddleware` around any ASGI app, or run ``paywall proxy``
in front of any HTTP site. Configuration lives in :class:`PaywallSettings`.
"""

from __future__ import annotations

from .compiled import warn_if_stale

warn_if_stale()  # before the modules that may be compiled are imported

from .access.member_feeds import private_feed_url
from .access.members import issue_member_token
from .errors import ConfigError, PaywallError, StoreUnavailable
from .http.middleware import PaywallMiddleware
from .settings import PaywallSettings

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "PaywallError",
    "PaywallMiddleware",
    "PaywallSettings",
    "StoreUnavailable",
    "__version__",
    "issue_member_token",
    "private_feed_url",
]
