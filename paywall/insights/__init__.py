"""Publisher insights: the conversion funnel, call-to-action experiments and the dashboard.

:class:`Insights` is built once per application and is what the HTTP layer
calls: the middleware asks it for the reader's call to action (:meth:`Insights.wall`)
and tells it what it served; the trial endpoints tell it about trial pages and
trials; under ``settings.prefix`` it answers ``/admin`` (the dashboard) and
``/beacon`` (blocked copies). Counting never blocks a request nor fails one
(:mod:`.events`); ``insights = false`` turns counting off.

The gated cut of a page is cached per page and call to action, so the call to
action holds placeholders for what belongs to one reader (their page, the
form's CSRF token): a cut is split at them once (:meth:`Insights.split`) and
:meth:`Wall.fill` puts the reader's values in. The variant's words are
part of the call to action's HTML and so of the cache key: each reader gets
the cut made with their own variant.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import re
import secrets
import time
from collections.abc import Callable
from typing import Final
from urllib.parse import quote, urlsplit

from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute
from starlette.types import Scope

from ..access.readers import Reader, path_article_key, read_device
from ..access.store.base import Store
from ..access.tokens import CSRF, Tokens
from ..pages.cta import CtaKind, TrialFormFields, render_cta
from ..paths import path_with_query
from ..settings import PaywallSettings
from .events import EventBuffer, Kind
from .experiments import Experiment, Variant

__all__ = ["Insights", "Wall"]


class Wall:
    """The call to action one reader gets on one gated page.

    A plain class with its fields set once (made for every gated view, where a frozen dataclass's generated
    ``__init__`` cost about 13 k instructions).
    """

    __slots__ = ("article", "counted", "cta_html", "fills", "insights", "kind", "reader", "variant")

    def __init__(
        self,
        *,
        reader: Reader,
        cta_html: str,
        fills: dict[bytes, bytes],
        insights: Insights,
        kind: CtaKind,
        article: str,
        variant: str,
        counted: bool,
    ) -> None:
        #: The reader, with any cookie the call to action needs (variant, device) added.
        self.reader: Final = reader
        #: The call to action with placeholders: the same for every reader of this page, kind and variant.
        self.cta_html: Final = cta_html
        self.fills: Final = fills
        self.insights: Final = insights
        self.kind: Final = kind
        self.article: Final = article
        self.variant: Final = variant
        self.counted: Final = counted

    def fill(self, parts: tuple[bytes, ...]) -> bytes:
        """A page made with :attr:`cta_html` and split by :meth:`Insights.split`, with this reader's values."""
        fills = self.fills
        return b"".join(fills.get(part, b"") if i % 2 else part for i, part in enumerate(parts))

    def shown(self) -> None:
        """Count the call to action as shown to this reader."""
        events = self.insights.events  # straight to the tally: counted on every gated page
        if self.counted and events is not None:  # a HEAD shows no page
            events.record("wall_shown", article=self.article, variant=self.variant, detail=self.kind)


class Insights:
    """Counting, experiments and the dashboard of one application."""

    def __init__(
        self,
        settings: PaywallSettings,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        interval: float = 1.0,
        tokens: Tokens | None = None,
    ) -> None:
        from .routes import InsightRoutes

        self.settings = settings
        self.store = store
        self.clock = clock
        #: What signs the form's token and the variant's cookie: the runtime's, else the settings' own.
        self.tokens = Tokens(settings.all_secret_keys) if tokens is None else tokens
        self.events = EventBuffer(store, interval=interval, clock=clock) if settings.insights else None
        self.experiment = Experiment(settings, keys=self.tokens)
        #: Stand for one reader's values in a cached cut: random (no page can contain them) and
        #: sharing one prefix, so that filling them in is one fast pass over the page.
        slot = f"/paywall{secrets.token_hex(8)}"
        self._next, self._form_next, self._form_article, self._csrf = (slot + c for c in "npac")
        self._placeholders = re.compile(b"(" + re.escape(slot.encode()) + b"[npac])")
        self._next_slot = self._next.encode()
        self._ctas: dict[tuple[CtaKind, Variant | None, bool], str] = {}
        self.app = InsightRoutes(self)

    # ---------------------------------------------------------------- counting
    def record(self, kind: Kind, *, article: str = "", variant: str = "", detail: str = "") -> None:
        """Count one event (nothing when ``insights`` is off); never waits, never raises."""
        if self.events is not None:
            self.events.record(kind, article=article, variant=variant, detail=detail)

    def member_view(self, scope: Scope, reader: Reader) -> None:
        """A member's or trial reader's page (not parsed, so known by its path)."""
        events = self.events  # straight to the tally, with no call on the way: counted on every member's page
        if events is not None and scope.get("method") != "HEAD":  # as _read: a HEAD shows no page
            events.record("member_view", article=_path_key(scope), detail=reader.level)

    def metered_view(self, scope: Scope, article: str) -> None:
        """A free article of the month, read in full."""
        if _read(scope):
            self.record("metered_view", article=article)

    def crawler_view(self, article: str, crawler: str) -> None:
        """A verified search crawler read ``article`` in full; ``crawler`` names it ("Googlebot")."""
        self.record("crawler_view", article=article, detail=crawler)

    def trial_step(self, kind: Kind, conn: HTTPConnection, next_path: str, article: str, detail: str = "") -> None:
        """A trial page view, trial started or refused: counted against the article and the reader's variant.

        ``article`` is what the call to action's link or form said (the page's
        canonical article), else the article is ``next_path``'s.
        """
        if not article.startswith("/"):
            parts = urlsplit(next_path)
            article = path_article_key(parts.path, parts.query) if next_path != "/" else ""
        variant = self.experiment.current(conn, now=self.clock())
        if _read(conn.scope):
            self.record(kind, article=article, variant=variant.name if variant else "", detail=detail)

    async def aclose(self) -> None:
        if self.events is not None:
            await self.events.aclose()

    # ---------------------------------------------------------------- the wall
    def split(self, page: bytes) -> tuple[bytes, ...]:
        """A page made with a wall's call to action, split at its placeholders: text, placeholder, text..."""
        return tuple(self._placeholders.split(page))

    def wall(
        self, conn: HTTPConnection, reader: Reader, kind: CtaKind, article: str, *, inline_form: bool = True
    ) -> Wall:
        """The reader's call to action on the page at ``conn`` whose article is ``article``.

        ``inline_form=False`` keeps the trial form out of it whatever ``cta_inline_form`` says (an AMP
        page allows no plain form that posts).
        """
        settings, now = self.settings, self.clock()
        cookies = list(reader.set_cookies)
        variant = None
        if kind != "ended":
            variant, cookie = self.experiment.assign(conn, now=now)
            cookies.extend(cookie)
        page = path_with_query(conn.scope)
        fills = {self._next_slot: _next_fill(page, _path_key(conn.scope), article)}
        form = settings.cta_inline_form and kind != "ended" and inline_form
        if form:
            device_id = reader.device_id
            if device_id is None:  # the form's CSRF token is bound to the device
                device = read_device(conn, settings, now=now, tokens=self.tokens)
                device_id = device.device_id
                cookies.extend(device.set_cookies)
            reader = dataclasses.replace(reader, device_id=device_id)
            fills[self._csrf.encode()] = self.tokens.sign(CSRF, {"d": device_id}, now=now).encode()
            fills[self._form_next.encode()] = html.escape(page).encode()
            fills[self._form_article.encode()] = html.escape(article).encode()
        if len(cookies) != len(reader.set_cookies):
            reader = dataclasses.replace(reader, set_cookies=tuple(cookies))
        return Wall(
            reader=reader,
            cta_html=self._cta_html(kind, variant, form),
            fills=fills,
            insights=self,
            kind=kind,
            article=article,
            variant=variant.name if variant else "",
            counted=_read(conn.scope),
        )

    def _cta_html(self, kind: CtaKind, variant: Variant | None, form: bool) -> str:
        """The call to action with placeholders (made once per kind, variant and form: a few strings)."""
        key = (kind, variant, form)
        cta = self._ctas.get(key)
        if cta is None:
            fields = TrialFormFields(self._csrf, self._form_next, self._form_article) if form else None
            cta = self._ctas[key] = render_cta(self.settings, kind, self._next, variant=variant, form=fields)
        return cta

    # ---------------------------------------------------------------- routes
    @property
    def routes(self) -> list[BaseRoute]:
        """The dashboard's and the beacon's routes, served by :class:`paywall.http.endpoints.Endpoints`."""
        return self.app.routes


def _read(scope: Scope) -> bool:
    """Whether a request shows a page to someone: a ``HEAD`` (link checkers, monitors) does not."""
    return scope.get("method") != "HEAD"


def _path_key(scope: Scope) -> str:
    query: bytes = scope.get("query_string", b"")
    if query:
        return _path_article_key(scope["path"], query.decode("latin-1"))
    return _bare_path_key(scope["path"])  # most views: a lookup keyed by the path itself, with no tuple made


@functools.lru_cache(maxsize=4096)
def _next_fill(page: str, path_key: str, article: str) -> bytes:
    """What the link's placeholder stands for, ``?next=<slot>``: the page's address, and its article
    when the page's canonical link names another (remembered: popular pages are walled again and again)."""
    query = quote(page, safe="/")
    if article != path_key:
        query += "&a=" + quote(article, safe="/")
    return html.escape(query).encode()


#: A page's article by its path and query, remembered for the last few thousand pages (counted on every
#: view); and by a path without a query, looked up by the path itself.
_path_article_key = functools.lru_cache(maxsize=4096)(path_article_key)
_bare_path_key = functools.lru_cache(maxsize=4096)(path_article_key)
