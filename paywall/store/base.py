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
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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


class Store(abc.ABC):
    """Abstract store. Implementations: :mod:`paywall.store.sqlite`, :mod:`paywall.store.redis`."""

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
    async def ping(self) -> None:
        """Raise StoreUnavailable unless the backend answers."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...
