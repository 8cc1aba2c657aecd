"""The contract every store backend keeps.

Shared state (trials taken, meters, revocations, events) must agree across
workers and instances, so each operation that enforces a rule ("one trial per
e-mail", "N free articles a month") is a single atomic call on the store, never
a read followed by a write in Python.

Every method raises :class:`~paywall.errors.StoreUnavailable` when the backend
cannot be reached; callers fail closed on it.
"""

from __future__ import annotations

import abc
import datetime
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Days of event counts a store keeps; older days are dropped.
EVENT_RETENTION_DAYS = 400


@dataclass(frozen=True, slots=True)
class Trial:
    trial_id: str
    email: str
    device_id: str
    started_at: float
    ends_at: float
    revoked: bool = False

    def active(self, now: float) -> bool:
        return not self.revoked and self.started_at <= now < self.ends_at


class TrialOutcome(enum.Enum):
    STARTED = "started"
    EMAIL_TAKEN = "email_taken"
    DEVICE_TAKEN = "device_taken"


@dataclass(frozen=True, slots=True)
class TrialResult:
    """What :meth:`Store.start_trial` did; ``trial`` is the new or the existing trial."""

    outcome: TrialOutcome
    trial: Trial | None


@dataclass(frozen=True, slots=True)
class MeterResult:
    allowed: bool
    used: int
    limit: int
    #: True when the refusal came from the per-IP daily cap, not the monthly meter.
    ip_capped: bool = False

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)


@dataclass(frozen=True, slots=True)
class EventCount:
    """How many times one kind of event happened on one day (UTC) for one article, variant and detail.

    Counts, not a log: a store keeps one number per key and day, so its size
    follows the number of articles, never the traffic.
    """

    day: str  # "2026-11-30"
    kind: str
    article: str = ""
    variant: str = ""
    detail: str = ""
    count: int = 1

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.day, self.kind, self.article, self.variant, self.detail)


def days_between(since_day: str, until_day: str) -> list[str]:
    """Every ISO date from ``since_day`` to ``until_day`` inclusive; ValueError on a bad date.

    At most :data:`EVENT_RETENTION_DAYS` (the most recent ones): older days are
    not kept anyway.
    """
    since, until = datetime.date.fromisoformat(since_day), datetime.date.fromisoformat(until_day)
    if len(since_day) != 10 or len(until_day) != 10:
        raise ValueError(f"days must be written YYYY-MM-DD: {since_day!r}, {until_day!r}")
    count = min((until - since).days + 1, EVENT_RETENTION_DAYS)
    return [(until - datetime.timedelta(days=n)).isoformat() for n in range(count - 1, -1, -1)]


def oldest_kept_day(now: float) -> str:
    """The first day whose event counts a store still keeps at ``now``."""
    return (
        datetime.datetime.fromtimestamp(now, datetime.UTC).date() - datetime.timedelta(days=EVENT_RETENTION_DAYS)
    ).isoformat()


class Store(abc.ABC):
    """Abstract store. Implementations: :mod:`paywall.access.store.sqlite`, :mod:`paywall.access.store.redis`."""

    @abc.abstractmethod
    async def start_trial(
        self, *, trial_id: str, email: str, device_id: str, started_at: float, ends_at: float
    ) -> TrialResult:
        """Atomically create a trial unless this e-mail or device already had one.

        ``email`` is already normalised. The e-mail rule is checked first, so a
        reader who retries with the same address sees ``EMAIL_TAKEN`` with the
        trial they already have.
        """

    @abc.abstractmethod
    async def get_trial(self, trial_id: str) -> Trial | None: ...

    @abc.abstractmethod
    async def list_trials(self) -> list[Trial]:
        """All trials, newest first."""

    @abc.abstractmethod
    async def revoke_trial(self, email: str) -> int:
        """Revoke every trial of ``email`` (normalised); returns how many were revoked."""

    @abc.abstractmethod
    async def meter(
        self,
        *,
        device_id: str,
        article_key: str,
        period: str,
        limit: int,
        ip: str | None = None,
        day: str = "",
        ip_cap: int = 0,
    ) -> MeterResult:
        """Count one read of ``article_key`` for ``device_id`` in ``period`` (e.g. "2026-11").

        Re-reading an article already counted in the period is allowed and
        costs nothing. A new article is allowed while the device has read fewer
        than ``limit`` and, when ``ip_cap`` > 0, while the address ``ip`` has
        opened fewer than ``ip_cap`` new meters on ``day``.
        """

    @abc.abstractmethod
    async def meter_used(self, *, device_id: str, period: str) -> int: ...

    @abc.abstractmethod
    async def take_quota(self, *, bucket: str, caps: Mapping[str, int], ttl: int) -> bool:
        """Atomically add one to every counter of ``bucket`` when each is below its cap.

        ``caps`` maps a counter's name to its cap. Answers True when taken;
        False (and nothing counted) when any counter is at its cap. A bucket is
        one limit window, like ``"trial:2026-11-05:203.0.113.0/24"``: its counters
        start from zero and are forgotten ``ttl`` seconds after the last take.
        """

    @abc.abstractmethod
    async def record_event(self, event: Mapping[str, Any]) -> None:
        """Append one access-decision event (kept for publisher statistics)."""

    @abc.abstractmethod
    async def add_event_counts(self, counts: Sequence[EventCount]) -> None:
        """Add each count to its key's total for its day, all of them or none."""

    @abc.abstractmethod
    async def event_counts(self, *, since_day: str, until_day: str) -> list[EventCount]:
        """The total of every key whose day lies from ``since_day`` to ``until_day`` (ISO dates, inclusive).

        Raises ``ValueError`` when a day is not an ISO date.
        """

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable unless the backend answers."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...
