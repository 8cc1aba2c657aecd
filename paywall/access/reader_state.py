"""The paywall's view of the reader, offered to the app while it renders.

The middleware puts one :class:`ReaderState` per request in the ASGI scope's
``state`` (so Starlette and FastAPI see it as ``request.state.paywall``, Django
as ``request.scope["state"]["paywall"]``). It is the very object the middleware
asks when it decides, so:

* nothing is computed until someone asks (a page that never asks costs nothing);
* the reader is identified at most once per request, whoever asks first, and
  the app and the gate always see the same :class:`~paywall.access.readers.Reader`;
* an app that knows better (its own login says "member") can say so with
  :meth:`ReaderState.vouch_member` before rendering, and both the page and the
  gate then treat the reader as a member, as ``X-Paywall-Access: member`` does.

:class:`ReaderAccess` is what a template needs: the kind of access, the end of
a trial and the free articles left this month (before the page being rendered
is counted), the same figures ``{prefix}/status`` answers with.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

import anyio

from ..settings import PaywallSettings
from .readers import Reader, free_articles_left
from .store import Store

T = TypeVar("T")

#: Key of the :class:`ReaderState` in ``scope["state"]``: ``request.state.paywall``.
STATE_KEY = "paywall"

AccessKind = Literal["anonymous", "metered", "trial", "member"]

#: The reader an app vouched for (its own login), like ``X-Paywall-Access: member``.
VOUCHED_MEMBER = Reader(level="member")


@dataclass(frozen=True, slots=True)
class ReaderAccess:
    """Who the reader is to the paywall, as a page would show it."""

    #: ``member``, ``trial``, ``metered`` (free articles left this month) or ``anonymous``.
    access: AccessKind
    #: End of an active trial (UTC), else None.
    trial_ends: datetime | None = None
    #: Free articles left this month when metering is on, else None.
    free_articles_left: int | None = None

    @property
    def is_member(self) -> bool:
        """A paying member (not a trial): hide Subscribe buttons for them."""
        return self.access == "member"

    @property
    def reads_in_full(self) -> bool:
        """A member or a reader in an active trial: articles come whole."""
        return self.access in ("member", "trial")

    def as_json(self) -> dict[str, Any]:
        """The ``{prefix}/status`` answer: ``access``, ``trial_ends`` (ISO 8601, ``Z``), ``free_articles_left``."""
        ends = self.trial_ends.isoformat().replace("+00:00", "Z") if self.trial_ends else None
        return {"access": self.access, "trial_ends": ends, "free_articles_left": self.free_articles_left}


async def reader_access(
    reader: Reader, settings: PaywallSettings, store: Store, *, now: float | None = None
) -> ReaderAccess:
    """What a reader's access looks like to a page (one store read when metering is on)."""
    now = time.time() if now is None else now
    left = await free_articles_left(reader, settings, store, now=now)
    access: AccessKind
    if reader.level in ("member", "trial"):
        access = reader.level
    elif left:
        access = "metered"
    else:
        access = "anonymous"
    trial_ends = None
    if reader.level == "trial" and reader.trial is not None:
        trial_ends = datetime.fromtimestamp(reader.trial.ends_at, UTC)
    return ReaderAccess(access, trial_ends, left)


class _Once(Generic[T]):
    """A value computed by the first caller; callers that arrive meanwhile wait for it.

    The common case, one caller after another, awaits no lock or event.
    """

    def __init__(self) -> None:
        self.value: T | None = None
        self._computing = False
        self._done: anyio.Event | None = None

    async def get(self, compute: Callable[[], Awaitable[T]]) -> T:
        while self.value is None:
            if self._computing:
                if self._done is None:
                    self._done = anyio.Event()
                await self._done.wait()
                continue
            self._computing = True
            try:
                value = await compute()
                if self.current() is None:  # unless set meanwhile (a member vouched for)
                    self.value = value
            finally:
                self._computing = False
                if self._done is not None:
                    self._done.set()
                    self._done = None
        return self.value

    def current(self) -> T | None:
        """The value now (read through a call: a check of ``self.value`` made before an ``await`` does not hold
        after it, which the compiled code would otherwise assume)."""
        return self.value


class ReaderState:
    """One request's reader, identified on first use and then remembered.

    ``identify`` is the middleware's own identification (it never raises);
    concurrent first uses wait for one identification rather than run two,
    and the access (one store read when metering is on) is computed once too.
    """

    __slots__ = ("_access", "_identify", "_reader", "_settings", "_store", "known")

    def __init__(self, identify: Callable[[], Awaitable[Reader]], settings: PaywallSettings, store: Store) -> None:
        self._identify = identify
        self._settings = settings
        self._store = store
        # Made on first use: most requests never ask for the access, and a page that
        # nobody asks about (a download, a stylesheet) needs neither.
        self._reader: _Once[Reader] | None = None
        self._access: _Once[ReaderAccess] | None = None
        #: The reader if someone has asked already (read without asking, on every response: an
        #: attribute, set when the reader is known, rather than a property).
        self.known: Reader | None = None

    @property
    def known_access(self) -> ReaderAccess | None:
        """The access if someone has asked already, without asking."""
        return None if self._access is None else self._access.value

    def release(self) -> None:
        """The request is over: let go of what identifies the reader (it points back at the request).

        A reader already identified stays known; one never asked about is, from now
        on, a reader who is no member (nothing is left to ask).
        """
        self._identify = _no_member

    def vouch_member(self) -> None:
        """The app's own login says this reader is a member: the page and the gate agree."""
        if self._reader is None:
            self._reader = _Once()
        self._reader.value = self.known = VOUCHED_MEMBER
        if self._access is not None:
            self._access.value = None

    async def reader(self) -> Reader:
        """The reader the paywall decides for (identified once per request)."""
        if self._reader is None:
            self._reader = _Once()
        self.known = reader = await self._reader.get(self._identify)
        return reader

    async def access(self) -> ReaderAccess:
        """The reader's access as a page shows it: kind, trial end, free articles left."""
        if self._access is None:
            self._access = _Once()
        return await self._access.get(self._compute_access)

    async def _compute_access(self) -> ReaderAccess:
        return await reader_access(await self.reader(), self._settings, self._store)


#: A reader who is no member, for views whose request is over.
_NOBODY = Reader(level="anonymous")


async def _no_member() -> Reader:
    return _NOBODY


def reader_state(scope: Any) -> ReaderState | None:
    """The paywall's :class:`ReaderState` in an ASGI scope, or None when no paywall is in front."""
    state = scope.get("state") if isinstance(scope, dict) else None
    found = state.get(STATE_KEY) if isinstance(state, dict) else None
    return found if isinstance(found, ReaderState) else None


__all__ = ["STATE_KEY", "AccessKind", "ReaderAccess", "ReaderState", "reader_access", "reader_state"]
