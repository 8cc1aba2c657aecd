"""What the paywall builds from its settings, once, when it starts.

Settings are plain validated data (:mod:`paywall.settings`): they read no file
and build nothing. Everything that costs something to make is made here, once,
when the middleware starts:

* the credentials (:mod:`paywall.access.credentials`): one token serializer per
  purpose with its keys derived, and the JWT verifier with its key read, so a
  key file that is missing or holds no key stops start-up with a
  :class:`~paywall.errors.ConfigError` naming the setting;
* the store's connections;
* the static files, read and hashed, and the protection tags' settings;
* the insights (counting, the experiment, the call to action's templates);
* the article selector rules, the search crawlers' verifier (its published
  ranges read), and the feed and JSON readers.

The middleware, its endpoints and the insights take what they need from one
:class:`Runtime`; nothing on the request path builds any of it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..access.crawlers import CrawlerVerifier
from ..access.credentials import Credentials
from ..access.store import Store, open_store
from ..formats import Formats
from ..insights import Insights
from ..protection.assets import Assets
from ..protection.tags import Protection
from ..settings import PaywallSettings, selector_rules


class Runtime:
    """The objects of one running paywall, built from ``settings`` (see the module docstring).

    ``store`` replaces the one ``settings.store`` names (tests share one);
    ``clock`` dates the insights' events.
    """

    def __init__(
        self, settings: PaywallSettings, *, store: Store | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        # First: a bad key stops start-up before any connection is opened.
        self.credentials = Credentials.load(settings)
        self.crawlers = CrawlerVerifier(settings)  # reads the published ranges: a bad file stops start-up too
        self.store: Store = open_store(settings.store) if store is None else store
        self.assets = Assets(settings.prefix)
        self.protection = Protection(settings, self.assets)
        self.insights = Insights(settings, self.store, clock=clock, tokens=self.credentials.tokens)
        self.selector_rules = selector_rules(settings.article_selector)
        self.formats = Formats(settings)

    async def aclose(self) -> None:
        """Write what the insights hold and close the store (the server is shutting down)."""
        try:
            await self.insights.aclose()
        finally:
            await self.store.aclose()


__all__ = ["Runtime"]
