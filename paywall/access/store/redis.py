"""Redis store: shared state for several paywall instances behind a load balancer.

Each rule is one Lua script, which Redis runs atomically: no other client's
command can slip between its "is this e-mail taken?" and its "take it", so
twenty simultaneous requests on any number of instances create exactly one
trial. Nothing is cached in the instance, so a revocation made anywhere is seen
everywhere on the next request.

Keys (``prefix`` defaults to ``paywall:``)::

    {prefix}{trials}:trial:{trial_id}    hash   the trial
    {prefix}{trials}:email:{email}       string trial id taken by this e-mail
    {prefix}{trials}:device:{device}     string trial id taken by this device
    {prefix}{trials}:index               zset   trial ids scored by start time
    {prefix}meter:{period}:{device}      set    articles counted; expires after the period
    {prefix}held:{<meter set's name>}    hash   articles held by requests being decided (same slot
                                                as the set), field article, value "expiry-ms:token"
    {prefix}{quota:BUCKET}:NAME          string counters of one limit window (per-address
                                                caps); expire with the window
    {prefix}events                       stream access events, capped (approximately)
    {prefix}{counts}:{day}               hash   event counts of one day, field [kind, article, variant, detail];
                                                one hash tag, so that a batch is one transaction in a cluster

**Redis Cluster.** With ``?cluster=yes`` in the URL (any node of the cluster
as host and port) the store talks to a Redis Cluster, or a managed service
that speaks its protocol. A script may only touch keys of one hash slot, so
keys that one rule reads together share a hash tag (the part in braces): all
trial keys, since "one trial per e-mail and per device" spans both; and the
counters of one quota bucket.

**The meter's two limits.** A new article is allowed while its device has
read fewer than ``limit`` articles this month *and* its address has opened
fewer than ``ip_cap`` new ones today. No choice of hash tags puts both counts
in one slot: a device reads from many addresses (home, office, phone network)
and an address serves many devices, so a tag per device splits an address's
counter over slots and a tag per address splits a device's meter; one tag for
every meter would put all the traffic on one master. So the rule is taken in
three atomic steps, and a step that may be undone reserves instead of counting:

1. On the device's slot, *hold* the article: when it is not counted yet and
   the device's counted articles plus its live holds leave room, record a hold
   (the article, an expiry, a random token) beside the meter set.
2. On the address's slot, take the day's quota (:data:`_TAKE_QUOTA`). This is
   final: the address's counter is never given back.
3. On the device's slot, turn the hold into a counted article when the quota
   was taken; drop it when the address refused.

Undoing is confined to holds, and a hold never makes another request fail:
a request whose answer depends on a hold (the same article held, or the last
room held) waits until the hold is resolved, then decides on counts alone. So
every refusal is one a serial order would give: the address refuses only when
its counter, made only of reads that were (or are being) counted, is at its
cap; the device refuses only when its counted articles reach its limit. An
earlier design took the address's quota first and gave it back when the device
turned out to be full (or the article counted meanwhile); a request that saw
the address's counter in between was refused for a read that never happened,
so the address got fewer free articles than its cap, and a burst of requests
for one new article refused all but one of them.

A request that dies holding (an instance killed between the steps) leaves a
hold that expires after :data:`HOLD_SECONDS`; waiters give up, failing closed,
when a hold they wait on has not moved for ``hold_patience`` seconds. A hold
that expires before its request confirms it (a request stalled that long) is
counted only if there is still room; either way no limit is exceeded (the
address may have counted a read that was then refused: failing closed).

The holds of a meter live in a hash in the meter set's slot. To leave the set's
name (and the reads counted before holds existed) as it was, the hash's hash
tag is the set's whole name, which is what Redis hashes for a key without
braces: ``paywall:meter:2026-11:DEV`` and ``paywall:held:{paywall:meter:2026-11:DEV}``
share a slot. Braces (and ``%``) in a period or device id are escaped in the
set's name so that it never has a hash tag of its own. Holds expire by the
clock of the node that keeps them (``TIME`` in the script), so the instances'
clocks do not matter. A single Redis server runs the same steps (no slots
there, but one code path to test).

Timeouts are short so that a store that is down costs a reader a moment, not a
hang: the page fails closed on :class:`~paywall.errors.StoreUnavailable`. The
connection pool reconnects by itself on the next call once Redis is back.

URL options beyond redis-py's own (``socket_timeout``, ``socket_connect_timeout``,
``max_connections``, ...): ``prefix`` (key prefix), ``events_max`` (stream cap)
and ``cluster`` (``yes`` for Redis Cluster).
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis import exceptions as redis_errors
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from ...errors import StoreUnavailable
from .base import EVENT_RETENTION_DAYS, EventCount, MeterResult, Store, Trial, TrialOutcome, TrialResult, days_between

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
#: A meter hold expires this long after it was taken, when the request that
#: took it died before deciding; a live request decides within two round trips.
HOLD_SECONDS = 10.0
HOLD_MS = int(HOLD_SECONDS * 1000)
#: How long a request waits on holds that do not move (they belong to a request
#: that died) before it gives up and fails closed.
DEFAULT_HOLD_PATIENCE = 3.0
#: Polling while a hold is being decided: the first pause, and the longest.
HOLD_POLL_FIRST = 0.002
HOLD_POLL_MAX = 0.025

_MONTH = re.compile(r"(\d{4})-(\d{2})")

# KEYS: email key, device key, trial hash key, trials zset (one hash slot)
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

# KEYS: email key; ARGV: trial key prefix (same hash slot)
_REVOKE = """
local id = redis.call('GET', KEYS[1])
if not id then return 0 end
local key = ARGV[1] .. id
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'revoked', '1')
return 1
"""

# Answers of the meter scripts.
_REFUSED, _REREAD, _HELD, _COUNTED, _WAIT = 0, 1, 2, 3, 4

# KEYS: meter set, its holds (one hash slot)
# ARGV: article, limit, meter ttl, mode ("add": count it now; "hold": hold it), token, hold ms
# Returns {state, used, blockers}: _REREAD (already counted: free), _REFUSED (the device's limit reached),
# _COUNTED, _HELD, or _WAIT with the tokens of the holds the answer depends on.
_METER_HOLD = """
local used = redis.call('SCARD', KEYS[1])
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {1, used, ''} end
local limit = tonumber(ARGV[2])
if used >= limit then return {0, used, ''} end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local live = {}
local holds = redis.call('HGETALL', KEYS[2])
for i = 1, #holds, 2 do
  local expires, token = string.match(holds[i + 1], '^(%d+):(.*)$')
  if expires == nil or tonumber(expires) <= now then
    redis.call('HDEL', KEYS[2], holds[i])
  elseif holds[i] == ARGV[1] then
    return {4, used, token}
  else
    live[#live + 1] = token
  end
end
if used + #live >= limit then
  table.sort(live)
  return {4, used, table.concat(live, ' ')}
end
if ARGV[4] == 'add' then
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {3, used + 1, ''}
end
redis.call('HSET', KEYS[2], ARGV[1], (now + tonumber(ARGV[6])) .. ':' .. ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return {2, used, ''}
"""

# KEYS: meter set, its holds; ARGV: article, limit, meter ttl, token
# Counts the article held by this token. A hold already expired (its request
# stalled) counts the article only when there is room beside every hold left.
_METER_CONFIRM = """
local used = redis.call('SCARD', KEYS[1])
local hold = redis.call('HGET', KEYS[2], ARGV[1])
local mine = hold and string.match(hold, '^%d+:(.*)$') == ARGV[4]
if mine then redis.call('HDEL', KEYS[2], ARGV[1]) end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return {1, used} end
if not mine and used + redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[2]) then return {0, used} end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {3, used + 1}
"""

# KEYS: a meter's holds; ARGV: article, token. Drops the hold if it is still this token's.
_METER_RELEASE = """
local hold = redis.call('HGET', KEYS[1], ARGV[1])
if hold and string.match(hold, '^%d+:(.*)$') == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
"""

# KEYS: the counters of one quota bucket (one hash slot); ARGV: ttl, then each counter's cap
# Adds one to every counter when all are below their caps; returns 1, else 0 and changes nothing.
_TAKE_QUOTA = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[1])
end
return 1
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


def _split_url(url: str) -> tuple[str, str, int, bool]:
    """Take our own options out of the query; redis-py refuses unknown ones."""
    parts = urlsplit(url)
    prefix, events_max, cluster = DEFAULT_PREFIX, DEFAULT_EVENTS_MAX, False
    kept: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "prefix":
            if "{" in value or "}" in value:
                raise ValueError(f"redis URL prefix must not contain braces (they make hash tags): {url!r}")
            prefix = value
        elif key == "events_max":
            try:
                events_max = int(value)
            except ValueError:
                raise ValueError(f"redis URL events_max must be an integer: {url!r}") from None
            if events_max < 1:
                raise ValueError(f"redis URL events_max must be at least 1: {url!r}")
        elif key == "cluster":
            if value.lower() not in ("yes", "true", "1", "no", "false", "0"):
                raise ValueError(f"redis URL cluster must be yes or no: {url!r}")
            cluster = value.lower() in ("yes", "true", "1")
        else:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), prefix, events_max, cluster


def _ints(reply: Any, count: int) -> tuple[int, ...]:
    """The first ``count`` integers of a script's reply; StoreUnavailable on anything else."""
    try:
        values = tuple(int(x) for x in reply[:count])
    except (TypeError, ValueError) as exc:
        raise StoreUnavailable(f"redis store answered badly: {reply!r}") from exc
    if len(values) != count:
        raise StoreUnavailable(f"redis store answered badly: {reply!r}")
    return values


def _no_braces(part: str) -> str:
    """``part`` with ``%``, ``{`` and ``}`` escaped: a key built of such parts has no hash tag.

    Generated device ids and "YYYY-MM" periods hold none of them, so their
    keys are unchanged.
    """
    if not any(c in part for c in "%{}"):
        return part
    return part.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


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
    """A redis-py client (single server or cluster) and its scripts, bound to the event loop that made them."""

    def __init__(self, url: str, kwargs: Mapping[str, Any], *, cluster: bool) -> None:
        self.loop = asyncio.get_running_loop()
        self.cluster = cluster
        self.redis: Any
        if cluster:
            self.redis = RedisCluster.from_url(url, **kwargs)
        else:
            self.redis = Redis.from_url(url, **kwargs)
        self.start_trial: AsyncScript = self.redis.register_script(_START_TRIAL)
        self.revoke: AsyncScript = self.redis.register_script(_REVOKE)
        self.meter_hold: AsyncScript = self.redis.register_script(_METER_HOLD)
        self.meter_confirm: AsyncScript = self.redis.register_script(_METER_CONFIRM)
        self.meter_release: AsyncScript = self.redis.register_script(_METER_RELEASE)
        self.take_quota: AsyncScript = self.redis.register_script(_TAKE_QUOTA)
        self._ready = not cluster
        self._ready_lock = asyncio.Lock()

    async def ready(self) -> _Client:
        """The client, its cluster map loaded once.

        redis-py's cluster client loads the map of slots lazily, and many
        concurrent first calls racing to load it can break connections; so the
        first caller loads it while the others wait.
        """
        if not self._ready:
            async with self._ready_lock:
                if not self._ready:
                    await self.redis.initialize()
                    self._ready = True
        return self

    async def aclose(self) -> None:
        if self.cluster:
            await self.redis.aclose()
        else:
            await self.redis.connection_pool.disconnect()


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
        cluster: bool = False,
        hold_patience: float = DEFAULT_HOLD_PATIENCE,
    ) -> None:
        parse_url(url)  # a malformed URL is a configuration error, raised now (ValueError)
        self.url = url
        self.prefix = prefix
        self.events_max = events_max
        self.cluster = cluster
        self.hold_patience = hold_patience
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
        if cluster:
            # The cluster client retries and follows MOVED redirections itself; a
            # failover takes seconds, during which readers get the teaser.
            self._kwargs = {k: v for k, v in self._kwargs.items() if k != "health_check_interval"}
            self._kwargs["retry"] = Retry(NoBackoff(), 2, supported_errors=(redis_errors.ConnectionError,))
        self._client: _Client | None = None

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        redis_url, prefix, events_max, cluster = _split_url(url)
        return cls(redis_url, prefix=prefix, events_max=events_max, cluster=cluster)

    def __repr__(self) -> str:
        parts = urlsplit(self.url)  # never show credentials
        where = f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else ""
        kind = ", cluster" if self.cluster else ""
        return f"RedisStore({parts.scheme}://{where}{parts.path}, prefix={self.prefix!r}{kind})"

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _trial_key(self, *parts: str) -> str:
        """A key of the trial rules: all share one hash slot (``{trials}``)."""
        return self.prefix + "{trials}:" + ":".join(parts)

    def _meter_keys(self, period: str, device_id: str) -> tuple[str, str]:
        """A device's meter set and the hash of its holds, in one hash slot (see the module docstring)."""
        meter = self._key("meter", _no_braces(period), _no_braces(device_id))
        return meter, f"{self.prefix}held:{{{meter}}}"

    def _quota_key(self, bucket: str, name: str) -> str:
        return f"{self.prefix}{{quota:{bucket}}}:{name}"

    def _get_client(self) -> _Client:
        """The client for the running event loop.

        redis-py connections belong to the loop that opened them; a store used
        from another loop (a command-line run, a test client) gets its own.
        """
        client = self._client
        if client is None or client.loop is not asyncio.get_running_loop() or client.loop.is_closed():
            client = _Client(self.url, self._kwargs, cluster=self.cluster)
            self._client = client
        return client

    async def _do(self, fn: Callable[[_Client], Awaitable[T]]) -> T:
        try:
            return await fn(await self._get_client().ready())
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
            self._trial_key("email", email),
            self._trial_key("device", device_id),
            self._trial_key("trial", trial_id),
            self._trial_key("index"),
        ]
        args = [trial_id, email, device_id, repr(float(started_at)), repr(float(ends_at)), self._trial_key("trial", "")]

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
            result: dict[str, str] = await client.redis.hgetall(self._trial_key("trial", trial_id))
            return result

        fields = await self._do(op)
        return _trial(fields) if fields else None

    async def list_trials(self) -> list[Trial]:
        async def op(client: _Client) -> list[dict[str, str]]:
            ids: list[str] = await client.redis.zrevrange(self._trial_key("index"), 0, -1)
            found: list[dict[str, str]] = []
            for start in range(0, len(ids), 500):
                async with client.redis.pipeline(transaction=False) as pipe:
                    for trial_id in ids[start : start + 500]:
                        pipe.hgetall(self._trial_key("trial", trial_id))
                    found.extend(await pipe.execute())
            return found

        return [_trial(fields) for fields in await self._do(op) if fields]

    async def revoke_trial(self, email: str) -> int:
        """Revoke the trial of ``email``; returns 1 if it has one (now revoked), else 0."""

        async def op(client: _Client) -> Any:
            return await client.revoke(keys=[self._trial_key("email", email)], args=[self._trial_key("trial", "")])

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
        """Count one read; the per-IP cap counts new articles opened from ``ip`` on ``day``.

        Without a cap, one script counts the article. With one, the article is
        held on the device, the address's quota taken, and the hold counted or
        dropped (see the module docstring); each step is atomic.
        """
        keys = self._meter_keys(period, device_id)
        ttl = meter_ttl(period, time.time())
        capped = bool(ip) and ip_cap > 0
        token = secrets.token_hex(8)

        async def op(client: _Client) -> MeterResult:
            state, used = await self._hold(
                client, keys, [article_key, int(limit), ttl, "hold" if capped else "add", token, HOLD_MS]
            )
            if state != _HELD:
                return MeterResult(allowed=state in (_REREAD, _COUNTED), used=used, limit=limit)
            try:
                taken = await self._take(client, f"ipday:{day}:{ip}", {"opened": ip_cap}, IP_DAY_SECONDS)
            except BaseException:
                with contextlib.suppress(Exception):  # the hold expires anyway
                    await client.meter_release(keys=[keys[1]], args=[article_key, token])
                raise
            if not taken:
                await client.meter_release(keys=[keys[1]], args=[article_key, token])
                return MeterResult(allowed=False, used=used, limit=limit, ip_capped=True)
            reply = await client.meter_confirm(keys=list(keys), args=[article_key, int(limit), ttl, token])
            state, used = _ints(reply, 2)
            return MeterResult(allowed=state in (_REREAD, _COUNTED), used=used, limit=limit)

        return await self._do(op)

    async def _hold(self, client: _Client, keys: tuple[str, str], args: list[Any]) -> tuple[int, int]:
        """Run :data:`_METER_HOLD`, waiting while its answer depends on holds of other requests.

        Gives up (StoreUnavailable) when the same holds stay for ``hold_patience``
        seconds: their request died, and they will expire.
        """
        loop = asyncio.get_running_loop()
        pause, blockers, since = HOLD_POLL_FIRST, "", loop.time()
        while True:
            reply = await client.meter_hold(keys=list(keys), args=args)
            state, used = _ints(reply, 2)
            if state != _WAIT:
                return state, used
            seen = str(reply[2]) if len(reply) > 2 else ""
            if seen != blockers:
                pause, blockers, since = HOLD_POLL_FIRST, seen, loop.time()
            elif loop.time() - since > self.hold_patience:
                raise StoreUnavailable(f"redis store: a meter hold did not move for {self.hold_patience} s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, HOLD_POLL_MAX)

    async def take_quota(self, *, bucket: str, caps: Mapping[str, int], ttl: int) -> bool:
        """Add one to each counter of ``bucket`` when all are below their caps (one atomic script)."""

        async def op(client: _Client) -> bool:
            return await self._take(client, bucket, caps, ttl)

        return await self._do(op)

    async def _take(self, client: _Client, bucket: str, caps: Mapping[str, int], ttl: int) -> bool:
        names = sorted(caps)
        keys = [self._quota_key(bucket, name) for name in names]
        return bool(await client.take_quota(keys=keys, args=[int(ttl), *(int(caps[n]) for n in names)]))

    async def meter_used(self, *, device_id: str, period: str) -> int:
        async def op(client: _Client) -> int:
            return int(await client.redis.scard(self._meter_keys(period, device_id)[0]))

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
                    pipe.hincrby(self._key("{counts}", c.day), field, int(c.count))
                    days.add(c.day)
                for day in days:
                    pipe.expire(self._key("{counts}", day), (EVENT_RETENTION_DAYS + 2) * 86400)
                await pipe.execute()

        await self._do(op)

    async def event_counts(self, *, since_day: str, until_day: str) -> list[EventCount]:
        days = days_between(since_day, until_day)

        async def op(client: _Client) -> list[dict[str, str]]:
            async with client.redis.pipeline(transaction=False) as pipe:
                for day in days:
                    pipe.hgetall(self._key("{counts}", day))
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
                await client.aclose()
