"""Store backends: SQLite embedded by default, Redis for several instances."""

from __future__ import annotations

from .base import EventCount, MeterResult, Store, Trial, TrialOutcome, TrialResult

__all__ = ["EventCount", "MeterResult", "Store", "Trial", "TrialOutcome", "TrialResult", "open_store"]


def open_store(url: str) -> Store:
    """Build the backend named by ``url`` without connecting yet (connections are lazy)."""
    if url.startswith("sqlite://"):
        from .sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisStore

        return RedisStore.from_url(url)
    raise ValueError(f"unsupported store URL: {url!r}")
