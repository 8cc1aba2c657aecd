"""Redis store: shared state for several paywall instances behind a load balancer.

Each rule is one Lua script, which Redis runs atomically: no other client's
command can slip between its "is this e-mail taken?" and its "take it", so
twenty simultaneous requests on any number of instances create exactly one
trial. Nothing is cached in the instance, so a revocation made anywhere is seen
everywhere on the next request.

Keys (``prefix`` defaults to ``paywall:``)::

    {prefix}trial:{trial_id}       hash   the trial
    {prefix}trial_email:{email}    string trial id taken by this e-mail
    {prefix}trial_device:{device}  string trial id taken by this device
    {prefix}trials                 zset   trial ids scored by start time
    {prefix}meter:{period}:{device} set   articles counted; expires after the period
    {prefix}ipday:{day}:{ip}       string new articles opened from ip; expires in 2 days
    {prefix}events                 stream access events, capped (approximately)
    {prefix}counts:{day}           hash   event counts of one day, field [kind, article, variant, detail]

Timeouts are short so that a store that is down costs a reader a moment, not a
hang: the page fails closed on :class:`~paywall.errors.StoreUnavailable`. The
connection pool reconnects by itself on the next call once Redis is back.

URL options beyond redis-py's own (``socket_timeout``, ``socket_connect_timeout``,
``max_connections``, ...): ``prefix`` (key prefix) and ``events_max`` (stream cap).
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from ..errors import StoreUnavailable
from .base import (
    EVENT_RETENTION_DAYS,
    EventCount,
    MeterResult,
    Store,
    Trial,
    TrialOutcome,
    TrialResult,
    days_between,
)

T = TypeVar("T")

DEFAULT_PREFIX = "paywall:"
DEFAULT_SOCKET_TIMEOUT = 1.0
DEFAULT_CONNECT_TIMEOUT = 1.0
DEFAULT_EVENTS_MAX = 100_000

#: Meter sets outlive their period by this much (clock differences between
#: instances, readers in other time zones).
METER_MARGIN = 2 * 86400
#: Lifetime of a meter set whose period is not a "YYYY-MM" month.
DEFAULT_PERIOD_SECONDS = 31 * 86400
#: Per-IP day counters.
IP_DAY_SECONDS = 2 * 86400

_MONTH = re.compile(r"(\d{4})-(\d{2})")

# KEYS: email key, device key, trial hash key, trials zset
# ARGV: trial_id, email, device_id ("" = none), started_at, ends_at, trial key prefix
_START_TRIAL = """
local function trial_of(id)
  return redis.call('HGETALL', ARGV[6] .. id)
end
local taken = redis.call('GET', KEYS[1])
if taken then return {'email_taken', trial_of(taken)} end
if ARGV[3] ~= '' then
  taken = redis.call('GET', KEYS[2])
  if taken then return {'device_taken', trial_of(taken)} end
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('trial id already exists')
end
redis.call('HSET', KEYS[3], 'trial_id', ARGV[1], 'email', ARGV[2], 'device_id', ARGV[3],
           'started_at', ARGV[4], 'ends_at', ARGV[5], 'revoked', '0')
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[1]) end
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
return {'started', trial_of(ARGV[1])}
"""

# KEYS: email key; ARGV: trial key prefix
_REVOKE = """
local id = redis.call('GET', KEYS[1])
if not id then return 0 end
local key = ARGV[1] .. id
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'revoked', '1')
return 1
"""

# KEYS: meter set, ip day counter
# ARGV: article, limit, ip_cap (0 = off), meter ttl, ip ttl
# Returns {allowed, used, ip_capped}
_METER = """
local used = redis.call('SCARD', KEYS[1])
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {1, used, 0} end
local limit = tonumber(ARGV[2])
if used >= limit then return {0, used, 0} end
local cap = tonumber(ARGV[3])
if cap > 0 then
  local opened = tonumber(redis.call('GET', KEYS[2]) or '0')
  if opened >= cap then return {0, used, 1} end
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {1, used + 1, 0}
"""


def meter_ttl(period: str, now: float) -> int:
    """Seconds a meter set for ``period`` must live: to the period's end plus a margin.

    A period already over (a clock moved back, an instance late in a month)
    still gets the margin, so a read counted now is not forgotten at once.
    """
    match = _MONTH.fullmatch(period)
    if match is None:
        return DEFAULT_PERIOD_SECONDS + METER_MARGIN
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return DEFAULT_PERIOD_SECONDS + METER_MARGIN
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    end = calendar.timegm((next_year, next_month, 1, 0, 0, 0, 0, 0, 0))
    # A future period (clock ahead) lives no longer than a month would.
    remaining = min(max(math.ceil(end - now), 0), DEFAULT_PERIOD_SECONDS)
    return remaining + METER_MARGIN


def _split_url(url: str) -> tuple[str, str, int]:
    """Take our own options out of the query; redis-py refuses unknown ones."""
    parts = urlsplit(url)
    prefix, events_max = DEFAULT_PREFIX, DEFAULT_EVENTS_MAX
    kept: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "prefix":
            prefix = value
        elif key == "events_max":
            try:
                events_max = int(value)
            except ValueError:
                raise ValueError(f"redis URL events_max must be an integer: {url!r}") from None
            if events_max < 1:
                raise ValueError(f"redis URL events_max must be at least 1: {url!r}")
        else:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), prefix, events_max


def _trial(fields: Mapping[str, str] | list[str]) -> Trial:
    try:
        if isinstance(fields, list):
            fields = dict(zip(fields[::2], fields[1::2], strict=True))
        return Trial(
            trial_id=fields["trial_id"],
            email=fields["email"],
            device_id=fields.get("device_id", ""),
            started_at=float(fields["started_at"]),
            ends_at=float(fields["ends_at"]),
            revoked=fields.get("revoked", "0") == "1",
        )
    except (KeyError, ValueError) as exc:
        raise StoreUnavailable(f"redis store holds a malformed trial: {exc!r}") from exc


class _Client:
    """A redis-py client and its scripts, bound to the event loop that made them."""

    def __init__(self, url: str, kwargs: Mapping[str, Any]) -> None:
        self.loop = asyncio.get_running_loop()
        self.redis: Redis[str] = Redis.from_url(url, **kwargs)
        self.start_trial: AsyncScript = self.redis.register_script(_START_TRIAL)
        self.revoke: AsyncScript = self.redis.register_script(_REVOKE)
        self.meter: AsyncScript = self.redis.register_script(_METER)


class RedisStore(Store):
    """Store shared by every instance that points at the same Redis database."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = DEFAULT_PREFIX,
        events_max: int = DEFAULT_EVENTS_MAX,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        parse_url(url)  # a malformed URL is a configuration error, raised now (ValueError)
        self.url = url
        self.prefix = prefix
        self.events_max = events_max
        # URL query options win over these defaults (redis-py's rule).
        self._kwargs: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            "decode_responses": True,
            # One immediate retry on a fresh connection when a pooled one turns
            # out dead (the server restarted). A timeout is not retried: the
            # reader would wait twice as long for the same teaser.
            "retry": Retry(NoBackoff(), 1, supported_errors=(redis_errors.ConnectionError,)),
            "health_check_interval": 0,
        }
        self._client: _Client | None = None

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        redis_url, prefix, events_max = _split_url(url)
        return cls(redis_url, prefix=prefix, events_max=events_max)

    def __repr__(self) -> str:
        parts = urlsplit(self.url)  # never show credentials
        where = f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else ""
        return f"RedisStore({parts.scheme}://{where}{parts.path}, prefix={self.prefix!r})"

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _get_client(self) -> _Client:
        """The client for the running event loop.

        redis-py connections belong to the loop that opened them; a store used
        from another loop (a command-line run, a test client) gets its own.
        """
        client = self._client
        if client is None or client.loop is not asyncio.get_running_loop() or client.loop.is_closed():
            client = _Client(self.url, self._kwargs)
            self._client = client
        return client

    async def _do(self, fn: Callable[[_Client], Awaitable[T]]) -> T:
        try:
            return await fn(self._get_client())
        except (redis_errors.RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis store unavailable: {type(exc).__name__}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise StoreUnavailable(f"redis store answered badly: {exc}") from exc

    # --- trials -----------------------------------------------------------

    async def start_trial(
        self, *, trial_id: str, email: str, device_id: str, started_at: float, ends_at: float
    ) -> TrialResult:
        """Create the trial unless the e-mail, then the device, already had one.

        An empty ``device_id`` means "no device known": only the e-mail rule applies.
        """
        keys = [
            self._key("trial_email", email),
            self._key("trial_device", device_id),
            self._key("trial", trial_id),
            self._key("trials"),
        ]
        args = [trial_id, email, device_id, repr(float(started_at)), repr(float(ends_at)), self._key("trial", "")]

        async def op(client: _Client) -> Any:
            return await client.start_trial(keys=keys, args=args)

        reply = await self._do(op)
        try:
            outcome = TrialOutcome(reply[0])
            fields = reply[1]
        except (TypeError, ValueError, IndexError) as exc:
            raise StoreUnavailable(f"redis store answered badly: {reply!r}") from exc
        return TrialResult(outcome, _trial(fields) if fields else None)

    async def get_trial(self, trial_id: str) -> Trial | None:
        async def op(client: _Client) -> dict[str, str]:
            result: dict[str, str] = await client.redis.hgetall(self._key("trial", trial_id))
            return result

        fields = await self._do(op)
        return _trial(fields) if fields else None

    async def list_trials(self) -> list[Trial]:
        async def op(client: _Client) -> list[dict[str, str]]:
            ids: list[str] = await client.redis.zrevrange(self._key("trials"), 0, -1)
            found: list[dict[str, str]] = []
            for start in range(0, len(ids), 500):
                async with client.redis.pipeline(transaction=False) as pipe:
                    for trial_id in ids[start : start + 500]:
                        pipe.hgetall(self._key("trial", trial_id))
                    found.extend(await pipe.execute())
            return found

        return [_trial(fields) for fields in await self._do(op) if fields]

    async def revoke_trial(self, email: str) -> int:
        """Revoke the trial of ``email``; returns 1 if it has one (now revoked), else 0."""

        async def op(client: _Client) -> Any:
            return await client.revoke(keys=[self._key("trial_email", email)], args=[self._key("trial", "")])

        return int(await self._do(op))

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
        cap = ip_cap if ip and ip_cap > 0 else 0
        keys = [self._key("meter", period, device_id), self._key("ipday", day, ip or "")]
        args: list[str | int] = [article_key, int(limit), cap, meter_ttl(period, time.time()), IP_DAY_SECONDS]

        async def op(client: _Client) -> Any:
            return await client.meter(keys=keys, args=args)

        reply = await self._do(op)
        try:
            allowed, used, capped = (int(x) for x in reply)
        except (TypeError, ValueError) as exc:
            raise StoreUnavailable(f"redis store answered badly: {reply!r}") from exc
        return MeterResult(allowed=bool(allowed), used=used, limit=limit, ip_capped=bool(capped))

    async def meter_used(self, *, device_id: str, period: str) -> int:
        async def op(client: _Client) -> int:
            return int(await client.redis.scard(self._key("meter", period, device_id)))

        return await self._do(op)

    # --- events -----------------------------------------------------------

    async def record_event(self, event: Mapping[str, Any]) -> None:
        """Append the event as JSON to a stream capped near ``events_max`` entries."""
        data = json.dumps(dict(event), default=str, separators=(",", ":"), sort_keys=True)

        async def op(client: _Client) -> None:
            await client.redis.xadd(self._key("events"), {"data": data}, maxlen=self.events_max, approximate=True)

        await self._do(op)

    async def recent_events(self, limit: int = 100) -> list[dict[str, Any]]:
        """The last ``limit`` events, newest first (for statistics; not part of the contract)."""

        async def op(client: _Client) -> list[tuple[str, dict[str, str]]]:
            entries: list[tuple[str, dict[str, str]]] = await client.redis.xrevrange(self._key("events"), count=limit)
            return entries

        return [json.loads(fields["data"]) for _, fields in await self._do(op)]

    async def add_event_counts(self, counts: Sequence[EventCount]) -> None:
        """Add the batch in one MULTI/EXEC; each day's hash lives as long as counts are kept."""
        if not counts:
            return

        async def op(client: _Client) -> None:
            async with client.redis.pipeline(transaction=True) as pipe:
                days = set()
                for c in counts:
                    field = json.dumps([c.kind, c.article, c.variant, c.detail], separators=(",", ":"))
                    pipe.hincrby(self._key("counts", c.day), field, int(c.count))
                    days.add(c.day)
                for day in days:
                    pipe.expire(self._key("counts", day), (EVENT_RETENTION_DAYS + 2) * 86400)
                await pipe.execute()

        await self._do(op)

    async def event_counts(self, *, since_day: str, until_day: str) -> list[EventCount]:
        days = days_between(since_day, until_day)

        async def op(client: _Client) -> list[dict[str, str]]:
            async with client.redis.pipeline(transaction=False) as pipe:
                for day in days:
                    pipe.hgetall(self._key("counts", day))
                found: list[dict[str, str]] = await pipe.execute()
                return found

        out: list[EventCount] = []
        for day, fields in zip(days, await self._do(op) if days else [], strict=True):
            for field, value in sorted(fields.items()):
                try:
                    kind, article, variant, detail = (str(part) for part in json.loads(field))
                    out.append(EventCount(day, kind, article, variant, detail, count=int(value)))
                except (ValueError, TypeError) as exc:
                    raise StoreUnavailable(f"redis store holds a malformed event count: {field!r}") from exc
        return out

    # --- lifecycle --------------------------------------------------------

    async def ping(self) -> None:
        async def op(client: _Client) -> None:
            await client.redis.ping()

        await self._do(op)

    async def aclose(self) -> None:
        """Close the connections; a later call opens new ones."""
        client, self._client = self._client, None
        if client is None or client.loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if client.loop is running:
            with contextlib.suppress(redis_errors.RedisError, OSError):
                await client.redis.connection_pool.disconnect()
