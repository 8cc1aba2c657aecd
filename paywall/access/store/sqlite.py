"""SQLite store: the embedded default, for one machine with several workers.

Every rule ("one trial per e-mail and per device", "N free articles a month")
is enforced inside one ``BEGIN IMMEDIATE`` transaction backed by UNIQUE
constraints. ``BEGIN IMMEDIATE`` takes the database's write lock before the
first read, so two workers (threads, store objects or processes) can never
both see "no trial yet" and both insert one; the constraints are the last line
of defence should the code ever change.

The file is opened in WAL mode so that readers never wait for the writer, and
with a busy timeout so that writers queue for each other instead of failing at
once. The blocking ``sqlite3`` calls run in worker threads so that the event
loop keeps serving other readers meanwhile.

Any ``sqlite3`` or OS error (lock held beyond the timeout, disk I/O, a file
that is not a database, a directory that cannot be written) becomes
:class:`~paywall.errors.StoreUnavailable`: callers fail closed, and the next
call opens a fresh connection, so service resumes once the cause is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import anyio.to_thread

from ...errors import StoreUnavailable
from .base import EventCount, MeterResult, Store, Trial, TrialOutcome, TrialResult, days_between, oldest_kept_day

T = TypeVar("T")

#: Bumped whenever the schema below changes; stored in ``PRAGMA user_version``.
SCHEMA_VERSION = 2

#: Seconds a writer waits for the lock held by another worker before giving up.
DEFAULT_BUSY_TIMEOUT = 5.0

#: Idle connections kept for reuse; more are opened under load and closed after.
POOL_SIZE = 8

#: Meter rows older than this can no longer belong to a current period (a
#: calendar month plus generous margin); the IP day counters live two days.
METER_RETENTION = 70 * 86400.0
IP_DAY_RETENTION = 2 * 86400.0
PRUNE_EVERY = 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    trial_id TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL UNIQUE,
    device_id TEXT UNIQUE,
    started_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS trials_started ON trials (started_at);
CREATE TABLE IF NOT EXISTS meter_reads (
    device_id TEXT NOT NULL,
    period TEXT NOT NULL,
    article_key TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (device_id, period, article_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS meter_reads_created ON meter_reads (created_at);
CREATE TABLE IF NOT EXISTS meter_ip_days (
    ip TEXT NOT NULL,
    day TEXT NOT NULL,
    opened INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (ip, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quotas (
    bucket TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (bucket, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS quotas_expiry ON quotas (expires_at);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE IF NOT EXISTS event_counts (
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    article TEXT NOT NULL,
    variant TEXT NOT NULL,
    detail TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, kind, article, variant, detail)
) WITHOUT ROWID;
"""

_SELECT_TRIAL = "SELECT trial_id, email, device_id, started_at, ends_at, revoked FROM trials "


def _parse_url(url: str) -> tuple[str, float]:
    """``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` [``?timeout=seconds``]."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise ValueError(f"not a sqlite URL: {url!r}")
    if parts.netloc:
        raise ValueError(f"sqlite URL must be sqlite:///relative.db or sqlite:////abs/path.db, got {url!r}")
    path = unquote(parts.path[1:])
    if not path or path == ":memory:" or path.startswith("file:"):
        raise ValueError(f"sqlite URL needs a file path (in-memory databases are not shared): {url!r}")
    timeout = DEFAULT_BUSY_TIMEOUT
    query = parse_qs(parts.query, keep_blank_values=True)
    for key in query:
        if key != "timeout":
            raise ValueError(f"unknown sqlite URL option {key!r} (known: timeout)")
    if "timeout" in query:
        try:
            timeout = float(query["timeout"][-1])
        except ValueError:
            raise ValueError(f"sqlite URL timeout must be a number of seconds: {url!r}") from None
        if not 0 <= timeout <= 600:
            raise ValueError(f"sqlite URL timeout must be between 0 and 600 seconds: {url!r}")
    return path, timeout


def _trial(row: tuple[Any, ...]) -> Trial:
    trial_id, email, device_id, started_at, ends_at, revoked = row
    return Trial(
        trial_id=str(trial_id),
        email=str(email),
        device_id=str(device_id or ""),
        started_at=float(started_at),
        ends_at=float(ends_at),
        revoked=bool(revoked),
    )


class SQLiteStore(Store):
    """Store backed by one SQLite file shared by every worker on the machine.

    Connections are opened lazily, pooled, and dropped after any error so a
    broken one is never reused. Creating the object touches nothing on disk.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._last_prune = 0.0

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        path, timeout = _parse_url(url)
        return cls(path, timeout=timeout)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # --- connections ------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; every write below
        # says BEGIN IMMEDIATE itself. check_same_thread=False: a pooled
        # connection moves between worker threads, one at a time.
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            self._ensure_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._ensure_schema(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _ensure_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL once; the mode is persistent in the file.

        The switch needs a moment of exclusive access, which the busy handler
        does not always wait for, so it is retried until the timeout.
        """
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
        if str(mode).lower() == "wal":
            return
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL").fetchone()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"database schema version {version} is newer than this code")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split_schema(_SCHEMA):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._pid != os.getpid():
                # Forked after connections were opened: they belong to the
                # parent process and must not be used here.
                self._idle.clear()
                self._pid = os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._open()

    def _release(self, conn: sqlite3.Connection, *, broken: bool) -> None:
        if not broken and not conn.in_transaction:
            with self._lock:
                if len(self._idle) < POOL_SIZE and self._pid == os.getpid():
                    self._idle.append(conn)
                    return
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on a pooled connection in the calling (worker) thread."""
        try:
            conn = self._acquire()
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"sqlite store {self.path!r} cannot be opened: {exc}") from exc
        try:
            result = fn(conn)
        except (sqlite3.Error, OSError) as exc:
            self._release(conn, broken=True)
            raise StoreUnavailable(f"sqlite store {self.path!r} failed: {exc}") from exc
        except BaseException:
            self._release(conn, broken=True)
            raise
        self._release(conn, broken=False)
        return result

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        # The thread is never abandoned on cancellation: a transaction in
        # flight always reaches COMMIT or ROLLBACK before the connection is
        # released.
        return await anyio.to_thread.run_sync(self._run, fn)

    @staticmethod
    def _write(conn: sqlite3.Connection, body: Callable[[], T]) -> T:
        """Run ``body`` inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body()
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    # --- trials -----------------------------------------------------------

    async def start_trial(
        self, *, trial_id: str, email: str, device_id: str, started_at: float, ends_at: float
    ) -> TrialResult:
        """Create the trial unless the e-mail, then the device, already had one.

        An empty ``device_id`` means "no device known": only the e-mail rule applies.
        """

        def op(conn: sqlite3.Connection) -> TrialResult:
            def body() -> TrialResult:
                row = conn.execute(_SELECT_TRIAL + "WHERE email = ?", (email,)).fetchone()
                if row is not None:
                    return TrialResult(TrialOutcome.EMAIL_TAKEN, _trial(row))
                if device_id:
                    row = conn.execute(_SELECT_TRIAL + "WHERE device_id = ?", (device_id,)).fetchone()
                    if row is not None:
                        return TrialResult(TrialOutcome.DEVICE_TAKEN, _trial(row))
                conn.execute(
                    "INSERT INTO trials (trial_id, email, device_id, started_at, ends_at) VALUES (?, ?, ?, ?, ?)",
                    (trial_id, email, device_id or None, float(started_at), float(ends_at)),
                )
                trial = Trial(trial_id, email, device_id, float(started_at), float(ends_at))
                return TrialResult(TrialOutcome.STARTED, trial)

            return self._write(conn, body)

        return await self._call(op)

    async def get_trial(self, trial_id: str) -> Trial | None:
        def op(conn: sqlite3.Connection) -> Trial | None:
            row = conn.execute(_SELECT_TRIAL + "WHERE trial_id = ?", (trial_id,)).fetchone()
            return None if row is None else _trial(row)

        return await self._call(op)

    async def list_trials(self) -> list[Trial]:
        def op(conn: sqlite3.Connection) -> list[Trial]:
            rows = conn.execute(_SELECT_TRIAL + "ORDER BY started_at DESC, seq DESC").fetchall()
            return [_trial(row) for row in rows]

        return await self._call(op)

    async def revoke_trial(self, email: str) -> int:
        """Revoke the trials of ``email``; returns how many it has (all now revoked).

        Revoking twice answers the same count: the trial is revoked either way.
        """

        def op(conn: sqlite3.Connection) -> int:
            cursor = conn.execute("UPDATE trials SET revoked = 1 WHERE email = ?", (email,))
            return int(cursor.rowcount)

        return await self._call(op)

    # --- metering ---------------------------------------------------------

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
        """Count one read; the per-IP cap counts new articles opened from ``ip`` on ``day``."""
        capped_ip = ip if ip and ip_cap > 0 else None

        def op(conn: sqlite3.Connection) -> MeterResult:
            now = time.time()

            def body() -> MeterResult:
                (used,) = conn.execute(
                    "SELECT COUNT(*) FROM meter_reads WHERE device_id = ? AND period = ?", (device_id, period)
                ).fetchone()
                seen = conn.execute(
                    "SELECT 1 FROM meter_reads WHERE device_id = ? AND period = ? AND article_key = ?",
                    (device_id, period, article_key),
                ).fetchone()
                if seen is not None:
                    return MeterResult(allowed=True, used=used, limit=limit)
                if used >= limit:
                    return MeterResult(allowed=False, used=used, limit=limit)
                if capped_ip is not None:
                    row = conn.execute(
                        "SELECT opened FROM meter_ip_days WHERE ip = ? AND day = ?", (capped_ip, day)
                    ).fetchone()
                    if row is not None and row[0] >= ip_cap:
                        return MeterResult(allowed=False, used=used, limit=limit, ip_capped=True)
                    conn.execute(
                        "INSERT INTO meter_ip_days (ip, day, opened, created_at) VALUES (?, ?, 1, ?) "
                        "ON CONFLICT (ip, day) DO UPDATE SET opened = opened + 1",
                        (capped_ip, day, now),
                    )
                conn.execute(
                    "INSERT INTO meter_reads (device_id, period, article_key, created_at) VALUES (?, ?, ?, ?)",
                    (device_id, period, article_key, now),
                )
                return MeterResult(allowed=True, used=used + 1, limit=limit)

            result = self._write(conn, body)
            self._maybe_prune(conn, now)
            return result

        return await self._call(op)

    def _maybe_prune(self, conn: sqlite3.Connection, now: float) -> None:
        """Drop meter rows no current period can use, and old event counts, at most once an hour per store.

        A failure here is not the reader's problem: the read was counted already.
        """
        with self._lock:
            if now - self._last_prune < PRUNE_EVERY:
                return
            self._last_prune = now
        with contextlib.suppress(sqlite3.Error):

            def body() -> None:
                conn.execute("DELETE FROM meter_reads WHERE created_at < ?", (now - METER_RETENTION,))
                conn.execute("DELETE FROM meter_ip_days WHERE created_at < ?", (now - IP_DAY_RETENTION,))
                conn.execute("DELETE FROM event_counts WHERE day < ?", (oldest_kept_day(now),))
                conn.execute("DELETE FROM quotas WHERE expires_at <= ?", (now,))

            self._write(conn, body)

    async def take_quota(self, *, bucket: str, caps: Mapping[str, int], ttl: int) -> bool:
        """All counters checked and counted in one ``BEGIN IMMEDIATE`` transaction."""

        def op(conn: sqlite3.Connection) -> bool:
            now = time.time()

            def body() -> bool:
                conn.execute("DELETE FROM quotas WHERE bucket = ? AND expires_at <= ?", (bucket, now))
                for name, cap in caps.items():
                    row = conn.execute(
                        "SELECT count FROM quotas WHERE bucket = ? AND name = ?", (bucket, name)
                    ).fetchone()
                    if row is not None and row[0] >= cap:
                        return False
                for name in caps:
                    conn.execute(
                        "INSERT INTO quotas (bucket, name, count, expires_at) VALUES (?, ?, 1, ?) "
                        "ON CONFLICT (bucket, name) DO UPDATE SET count = count + 1, expires_at = excluded.expires_at",
                        (bucket, name, now + ttl),
                    )
                return True

            result = self._write(conn, body)
            self._maybe_prune(conn, now)
            return result

        return await self._call(op)

    async def meter_used(self, *, device_id: str, period: str) -> int:
        def op(conn: sqlite3.Connection) -> int:
            (used,) = conn.execute(
                "SELECT COUNT(*) FROM meter_reads WHERE device_id = ? AND period = ?", (device_id, period)
            ).fetchone()
            return int(used)

        return await self._call(op)

    # --- events -----------------------------------------------------------

    async def record_event(self, event: Mapping[str, Any]) -> None:
        """Append the event as JSON; values that JSON cannot hold are stored as text."""
        data = json.dumps(dict(event), default=str, separators=(",", ":"), sort_keys=True)

        def op(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO events (at, data) VALUES (?, ?)", (time.time(), data))

        await self._call(op)

    async def recent_events(self, limit: int = 100) -> list[dict[str, Any]]:
        """The last ``limit`` events, newest first (for statistics; not part of the contract)."""

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute("SELECT data FROM events ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
            return [json.loads(row[0]) for row in rows]

        return await self._call(op)

    async def add_event_counts(self, counts: Sequence[EventCount]) -> None:
        """Add the batch in one transaction."""
        rows = [(*c.key, int(c.count)) for c in counts]

        def op(conn: sqlite3.Connection) -> None:
            def body() -> None:
                conn.executemany(
                    "INSERT INTO event_counts (day, kind, article, variant, detail, count) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (day, kind, article, variant, detail) DO UPDATE SET count = count + excluded.count",
                    rows,
                )

            self._write(conn, body)
            self._maybe_prune(conn, time.time())

        if rows:
            await self._call(op)

    async def event_counts(self, *, since_day: str, until_day: str) -> list[EventCount]:
        days = days_between(since_day, until_day)

        def op(conn: sqlite3.Connection) -> list[EventCount]:
            rows = conn.execute(
                "SELECT day, kind, article, variant, detail, count FROM event_counts WHERE day >= ? AND day <= ? "
                "ORDER BY day, kind, article, variant, detail",
                (days[0], days[-1]),
            ).fetchall()
            return [EventCount(str(d), str(k), str(a), str(v), str(x), int(n)) for d, k, a, v, x, n in rows]

        if not days:
            return []
        return await self._call(op)

    # --- lifecycle --------------------------------------------------------

    async def ping(self) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT 1 FROM trials LIMIT 1").fetchall()

        await self._call(op)

    async def aclose(self) -> None:
        """Close pooled connections; a later call opens new ones."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


def _split_schema(script: str) -> list[str]:
    """Split the schema into statements (``executescript`` would commit our transaction)."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current)
        if sqlite3.complete_statement(text):
            statements.append(text.strip())
            current = []
    return statements
