"""One contract, two backends: every store behaves the same for the code above it.

The SQLite store runs on a file in a temporary directory; the Redis store on a
real, throw-away ``redis-server`` (a missing ``redis-server`` fails the tests).
Rules that must hold under concurrency are tested with real concurrency:
tasks, several store objects, and for SQLite several OS processes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import pytest
import redis as redis_sync
from redis.crc import key_slot

from paywall.access.store import EventCount, MeterResult, Store, TrialOutcome, TrialResult, open_store
from paywall.access.store.redis import IP_DAY_SECONDS, METER_MARGIN, RedisStore, meter_ttl
from paywall.access.store.sqlite import SQLiteStore
from paywall.errors import StoreUnavailable
from tests.redis_cluster import RedisCluster
from tests.redis_server import RedisServer, RedisServerMissing

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0
DAY = 86400.0

StoreFactory = Callable[[], Store]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _start_redis() -> RedisServer:
    try:
        server = RedisServer()
    except RedisServerMissing as exc:
        pytest.fail(str(exc))
    server.start()
    return server


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """The Redis server CI started (``PAYWALL_TEST_REDIS_URL``), else a throw-away one.

    A configured server that does not answer fails the tests; it never skips them.
    """
    configured = os.environ.get("PAYWALL_TEST_REDIS_URL")
    if configured:
        try:
            with redis_sync.Redis.from_url(configured, socket_connect_timeout=2) as raw:
                raw.ping()
        except redis_sync.RedisError as exc:
            pytest.fail(f"PAYWALL_TEST_REDIS_URL={configured} does not answer: {exc}")
        yield configured
        return
    server = _start_redis()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    """A three-master Redis Cluster on 127.0.0.1, started for this module."""
    try:
        made = RedisCluster()
    except RedisServerMissing as exc:
        pytest.fail(str(exc))
    try:
        made.start()
        yield made
    finally:
        made.close()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("redis-cluster", marks=pytest.mark.redis),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def new_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """A factory of store objects that all share one fresh, empty backing store."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/paywall.db"
    elif backend == "redis-cluster":
        nodes: RedisCluster = request.getfixturevalue("cluster")
        nodes.flush()
        url = nodes.url
    else:
        url = request.getfixturevalue("redis_url")
        with redis_sync.Redis.from_url(url) as raw:
            raw.flushdb()
    made: list[Store] = []

    def factory() -> Store:
        store = open_store(url)
        made.append(store)
        return store

    yield factory
    for store in made:
        await store.aclose()


@pytest.fixture
def store(new_store: StoreFactory) -> Store:
    return new_store()


async def start(
    store: Store, email: str, device: str, *, at: float = T0, days: float = 7, trial_id: str | None = None
) -> TrialResult:
    return await store.start_trial(
        trial_id=trial_id or uuid.uuid4().hex,
        email=email,
        device_id=device,
        started_at=at,
        ends_at=at + days * DAY,
    )


# --- trials ---------------------------------------------------------------


@pytest.mark.anyio
async def test_start_trial_then_get(store: Store) -> None:
    result = await start(store, "ann@example.com", "dev-a", trial_id="t1")
    assert result.outcome is TrialOutcome.STARTED
    assert result.trial is not None
    assert result.trial.trial_id == "t1"
    assert result.trial.email == "ann@example.com"
    assert result.trial.device_id == "dev-a"
    assert result.trial.started_at == T0
    assert result.trial.ends_at == T0 + 7 * DAY
    assert result.trial.revoked is False
    assert await store.get_trial("t1") == result.trial
    assert await store.get_trial("nope") is None
    got = await store.get_trial("t1")
    assert got is not None
    assert got.active(T0 + 1)
    assert not got.active(T0 + 7 * DAY)


@pytest.mark.anyio
async def test_email_taken_returns_existing_trial(store: Store) -> None:
    first = await start(store, "ann@example.com", "dev-a", trial_id="t1")
    again = await start(store, "ann@example.com", "dev-b", trial_id="t2", at=T0 + 100)
    assert again.outcome is TrialOutcome.EMAIL_TAKEN
    assert again.trial == first.trial
    # Checked before the device rule: same e-mail on the same device is EMAIL_TAKEN too.
    same = await start(store, "ann@example.com", "dev-a", trial_id="t3")
    assert same.outcome is TrialOutcome.EMAIL_TAKEN
    assert await store.get_trial("t2") is None
    assert await store.get_trial("t3") is None
    # dev-b was not taken by the refused attempt.
    other = await start(store, "bob@example.com", "dev-b")
    assert other.outcome is TrialOutcome.STARTED


@pytest.mark.anyio
async def test_email_taken_after_trial_ended_or_revoked(store: Store) -> None:
    await start(store, "ann@example.com", "dev-a", trial_id="t1", days=1)
    assert await store.revoke_trial("ann@example.com") == 1
    later = await start(store, "ann@example.com", "dev-z", at=T0 + 30 * DAY)
    assert later.outcome is TrialOutcome.EMAIL_TAKEN
    assert later.trial is not None
    assert later.trial.trial_id == "t1"
    assert later.trial.revoked is True


@pytest.mark.anyio
async def test_device_taken(store: Store) -> None:
    first = await start(store, "ann@example.com", "dev-a", trial_id="t1")
    result = await start(store, "second-address@example.com", "dev-a", trial_id="t2")
    assert result.outcome is TrialOutcome.DEVICE_TAKEN
    assert result.trial == first.trial
    assert await store.get_trial("t2") is None
    # The refused e-mail is still free for another device.
    ok = await start(store, "second-address@example.com", "dev-b")
    assert ok.outcome is TrialOutcome.STARTED


@pytest.mark.anyio
async def test_empty_device_applies_only_the_email_rule(store: Store) -> None:
    a = await start(store, "ann@example.com", "")
    b = await start(store, "bob@example.com", "")
    assert a.outcome is TrialOutcome.STARTED
    assert b.outcome is TrialOutcome.STARTED
    assert b.trial is not None
    assert b.trial.device_id == ""
    assert (await start(store, "bob@example.com", "")).outcome is TrialOutcome.EMAIL_TAKEN


async def _race(
    stores: list[Store], count: int, email: Callable[[int], str], device: Callable[[int], str]
) -> list[TrialResult]:
    results: list[TrialResult] = []

    async def one(i: int) -> None:
        results.append(await start(stores[i % len(stores)], email(i), device(i), trial_id=f"trial-{i}"))

    async with anyio.create_task_group() as tg:
        for i in range(count):
            tg.start_soon(one, i)
    return results


def _assert_exactly_one(results: list[TrialResult], refused: TrialOutcome) -> None:
    outcomes = Counter(r.outcome for r in results)
    assert outcomes == {TrialOutcome.STARTED: 1, refused: len(results) - 1}
    winner = next(r.trial for r in results if r.outcome is TrialOutcome.STARTED)
    assert winner is not None
    assert all(r.trial == winner for r in results)


@pytest.mark.anyio
async def test_twenty_concurrent_starts_for_one_email_make_one_trial(store: Store) -> None:
    results = await _race([store], 20, lambda i: "race@example.com", lambda i: f"dev-{i}")
    _assert_exactly_one(results, TrialOutcome.EMAIL_TAKEN)
    assert len(await store.list_trials()) == 1


@pytest.mark.anyio
async def test_twenty_concurrent_starts_across_two_instances(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    results = await _race([a, b], 20, lambda i: "race@example.com", lambda i: f"dev-{i}")
    _assert_exactly_one(results, TrialOutcome.EMAIL_TAKEN)
    assert len(await a.list_trials()) == 1
    assert await b.list_trials() == await a.list_trials()


@pytest.mark.anyio
async def test_twenty_concurrent_starts_for_one_device_across_two_instances(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    results = await _race([a, b], 20, lambda i: f"reader-{i}@example.com", lambda i: "shared-device")
    _assert_exactly_one(results, TrialOutcome.DEVICE_TAKEN)


_RACE_SCRIPT = textwrap.dedent(
    """
    import json, sys, uuid
    import anyio
    from paywall.access.store.sqlite import SQLiteStore

    async def main() -> None:
        store = SQLiteStore.from_url(sys.argv[1])
        print("ready", flush=True)
        sys.stdin.readline()
        outcomes = []

        async def one(i: int) -> None:
            r = await store.start_trial(trial_id=uuid.uuid4().hex, email="race@example.com",
                                        device_id=f"{sys.argv[2]}-{i}", started_at=1.0, ends_at=2.0)
            outcomes.append([r.outcome.value, r.trial.trial_id if r.trial else None])

        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(one, i)
        await store.aclose()
        print(json.dumps(outcomes), flush=True)

    anyio.run(main)
    """
)


def test_sqlite_twenty_concurrent_starts_across_two_processes(tmp_path: Path) -> None:
    """Two OS processes, ten tasks each, racing on a database file that does not exist yet."""
    url = f"sqlite:///{tmp_path}/shared.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACE_SCRIPT, url, f"proc{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for n in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=30) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    results = [item for out, _ in outputs for item in json.loads(out.strip().splitlines()[-1])]
    assert len(results) == 20
    assert Counter(outcome for outcome, _ in results) == {"started": 1, "email_taken": 19}
    assert len({trial_id for _, trial_id in results}) == 1
    with sqlite3.connect(tmp_path / "shared.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM trials").fetchone() == (1,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.anyio
async def test_duplicate_trial_id_never_overwrites(store: Store) -> None:
    first = await start(store, "ann@example.com", "d1", trial_id="same")
    with pytest.raises(StoreUnavailable):
        await start(store, "bob@example.com", "d2", trial_id="same")
    assert await store.get_trial("same") == first.trial
    assert (await start(store, "bob@example.com", "d2")).outcome is TrialOutcome.STARTED


@pytest.mark.anyio
async def test_list_trials_newest_first(store: Store) -> None:
    assert await store.list_trials() == []
    await start(store, "old@example.com", "d1", at=T0, trial_id="old")
    await start(store, "new@example.com", "d2", at=T0 + 2 * DAY, trial_id="new")
    await start(store, "mid@example.com", "d3", at=T0 + DAY, trial_id="mid")
    assert [t.trial_id for t in await store.list_trials()] == ["new", "mid", "old"]


@pytest.mark.anyio
async def test_revoke_trial(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    await start(a, "ann@example.com", "d1", trial_id="t1")
    await start(a, "bob@example.com", "d2", trial_id="t2")
    assert await a.revoke_trial("nobody@example.com") == 0
    assert await a.revoke_trial("ann@example.com") == 1
    # Visible at once through another instance.
    revoked = await b.get_trial("t1")
    assert revoked is not None
    assert revoked.revoked is True
    assert not revoked.active(T0 + 1)
    untouched = await b.get_trial("t2")
    assert untouched is not None
    assert untouched.revoked is False
    listed = {t.trial_id: t.revoked for t in await b.list_trials()}
    assert listed == {"t1": True, "t2": False}
    # Revoking again keeps it revoked and still reports the trial.
    assert await b.revoke_trial("ann@example.com") == 1


# --- metering -------------------------------------------------------------


@pytest.mark.anyio
async def test_meter_allows_n_articles_then_refuses_and_rereads_are_free(store: Store) -> None:
    for n in range(1, 4):
        result = await store.meter(device_id="dev", article_key=f"/a{n}", period="2026-11", limit=3)
        assert (result.allowed, result.used, result.limit, result.left, result.ip_capped) == (True, n, 3, 3 - n, False)
    refused = await store.meter(device_id="dev", article_key="/a4", period="2026-11", limit=3)
    assert (refused.allowed, refused.used, refused.left, refused.ip_capped) == (False, 3, 0, False)
    again = await store.meter(device_id="dev", article_key="/a2", period="2026-11", limit=3)
    assert (again.allowed, again.used) == (True, 3)
    assert await store.meter_used(device_id="dev", period="2026-11") == 3
    # Another device has its own meter.
    other = await store.meter(device_id="dev2", article_key="/a4", period="2026-11", limit=3)
    assert (other.allowed, other.used) == (True, 1)


@pytest.mark.anyio
async def test_meter_period_rollover(store: Store) -> None:
    for key in ("/a", "/b"):
        assert (await store.meter(device_id="dev", article_key=key, period="2026-11", limit=2)).allowed
    assert not (await store.meter(device_id="dev", article_key="/c", period="2026-11", limit=2)).allowed
    december = await store.meter(device_id="dev", article_key="/c", period="2026-12", limit=2)
    assert (december.allowed, december.used) == (True, 1)
    # An article read in November counts again in December.
    assert (await store.meter(device_id="dev", article_key="/a", period="2026-12", limit=2)).used == 2
    assert await store.meter_used(device_id="dev", period="2026-11") == 2
    assert await store.meter_used(device_id="dev", period="2026-12") == 2
    assert await store.meter_used(device_id="never", period="2026-12") == 0


@pytest.mark.anyio
async def test_meter_ip_daily_cap(store: Store) -> None:
    async def read(device: str, key: str, ip: str = "203.0.113.9", day: str = "2026-11-05") -> tuple[bool, int, bool]:
        r = await store.meter(device_id=device, article_key=key, period="2026-11", limit=5, ip=ip, day=day, ip_cap=3)
        return r.allowed, r.used, r.ip_capped

    # Fresh devices (cleared cookies) from one address: three new articles a day in all.
    assert await read("d1", "/a") == (True, 1, False)
    assert await read("d2", "/a") == (True, 1, False)
    assert await read("d3", "/b") == (True, 1, False)
    assert await read("d4", "/c") == (False, 0, True)
    # Re-reading costs nothing, even over the cap.
    assert await read("d1", "/a") == (True, 1, False)
    # Another address and the next day are not capped.
    assert await read("d4", "/c", ip="198.51.100.7") == (True, 1, False)
    assert await read("d5", "/c", day="2026-11-06") == (True, 1, False)
    # The monthly limit is reported first, without blaming the address.
    for n in range(2, 6):
        r = await store.meter(device_id="d9", article_key=f"/x{n}", period="2026-11", limit=5)
        assert r.allowed
    await store.meter(device_id="d9", article_key="/x1", period="2026-11", limit=5)
    assert await read("d9", "/y") == (False, 5, False)
    # No address or no cap: no IP rule.
    r = await store.meter(device_id="d6", article_key="/z", period="2026-11", limit=5, ip=None, ip_cap=1)
    assert r.allowed


@pytest.mark.anyio
async def test_meter_is_atomic_under_concurrency(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()
    allowed: list[bool] = []

    async def read(i: int) -> None:
        r = await (a if i % 2 else b).meter(device_id="dev", article_key=f"/a{i}", period="2026-11", limit=5)
        allowed.append(r.allowed)

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(read, i)
    assert allowed.count(True) == 5
    assert await a.meter_used(device_id="dev", period="2026-11") == 5


# --- events, ping -----------------------------------------------------------


@pytest.mark.anyio
async def test_take_quota_counts_every_counter_or_none(store: Store) -> None:
    caps = {"address:a": 2, "network": 3}
    bucket = "trial:2026-11-05:net-1"
    assert await store.take_quota(bucket=bucket, caps=caps, ttl=60)
    assert await store.take_quota(bucket=bucket, caps=caps, ttl=60)
    assert not await store.take_quota(bucket=bucket, caps=caps, ttl=60)  # the address is full
    # Another address of the network: the network counter was not moved by the refusal.
    other = {"address:b": 2, "network": 3}
    assert await store.take_quota(bucket=bucket, caps=other, ttl=60)
    assert not await store.take_quota(bucket=bucket, caps=other, ttl=60)  # the network is full
    assert await store.take_quota(bucket="trial:2026-11-06:net-1", caps=caps, ttl=60)  # a new window


@pytest.mark.anyio
async def test_take_quota_is_atomic_under_concurrency(new_store: StoreFactory) -> None:
    stores = [new_store(), new_store()]
    results: list[bool] = []

    async def take(i: int) -> None:
        results.append(await stores[i % 2].take_quota(bucket="b", caps={"x": 5, "y": 7}, ttl=60))

    async with anyio.create_task_group() as tg:
        for i in range(30):
            tg.start_soon(take, i)
    assert results.count(True) == 5


@pytest.mark.anyio
async def test_meter_ip_cap_and_device_limit_hold_together_under_concurrency(new_store: StoreFactory) -> None:
    """Many devices behind one address, each reading many articles at once: neither limit is exceeded."""
    a, b = new_store(), new_store()
    allowed: Counter[str] = Counter()

    async def read(i: int) -> None:
        device = f"dev-{i % 4}"
        result = await (a if i % 2 else b).meter(
            device_id=device, article_key=f"/a{i // 4}", period="2026-11", limit=3, ip="net", day="d", ip_cap=7
        )
        if result.allowed:
            allowed[device] += 1

    async with anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(read, i)
    assert sum(allowed.values()) == 7
    assert all(n <= 3 for n in allowed.values())
    used = [await a.meter_used(device_id=f"dev-{d}", period="2026-11") for d in range(4)]
    assert sum(used) == 7


@pytest.mark.anyio
async def test_meter_burst_of_one_new_article_from_one_device_reads_it_and_counts_it_once(
    new_store: StoreFactory,
) -> None:
    """A page and its prefetch (or a reload) at once: every request reads the article, which counts once.

    Nothing is refused for the address either: the burst opens one new article
    there, so another device from the same address still has the rest of the cap.
    """
    a, b = new_store(), new_store()
    results = []

    async def read(i: int) -> None:
        results.append(
            await (a if i % 2 else b).meter(
                device_id="dev", article_key="/story", period="2026-11", limit=3, ip="net", day="d", ip_cap=2
            )
        )

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(read, i)
    assert [r.allowed for r in results] == [True] * 20
    assert not any(r.ip_capped for r in results)
    assert await a.meter_used(device_id="dev", period="2026-11") == 1
    for device, allowed in (("dev2", True), ("dev3", False)):
        r = await a.meter(device_id=device, article_key="/x", period="2026-11", limit=3, ip="net", day="d", ip_cap=2)
        assert (r.allowed, r.ip_capped) == (allowed, not allowed)


@pytest.mark.anyio
async def test_meter_devices_each_opening_tabs_at_their_last_article_behind_one_address(
    new_store: StoreFactory,
) -> None:
    """Seven devices with one free article left, three new articles each at once, an address cap of seven.

    Each device gets exactly one of its three, and the address exactly its
    seven: a request turned away by its device's limit must not take (even for
    a moment) a place another device needs at the address.
    """
    a, b = new_store(), new_store()
    allowed: Counter[str] = Counter()

    async def read(store: Store, device: str, article: str, ip_cap: int = 7) -> MeterResult:
        return await store.meter(
            device_id=device, article_key=article, period="2026-11", limit=3, ip="net", day="d", ip_cap=ip_cap
        )

    for d in range(7):
        for article in ("/old1", "/old2"):
            assert (await read(a, f"dev-{d}", article, ip_cap=0)).allowed

    async def tab(i: int) -> None:
        device = f"dev-{i // 3}"  # a device's three requests one after the other
        if (await read(a if i % 2 else b, device, f"/new{i % 3}")).allowed:
            allowed[device] += 1

    async with anyio.create_task_group() as tg:
        for i in range(21):
            tg.start_soon(tab, i)
    assert allowed == {f"dev-{d}": 1 for d in range(7)}
    assert [await a.meter_used(device_id=f"dev-{d}", period="2026-11") for d in range(7)] == [3] * 7
    assert (await read(a, "late", "/x")).ip_capped


@pytest.mark.anyio
async def test_meter_read_refused_at_one_address_never_refuses_the_device_at_another(new_store: StoreFactory) -> None:
    """One device, its last free article, two addresses at once: the full address refuses, the other allows.

    Whichever request comes first, the read from the address with room is
    allowed and counted; the one from the full address is refused.
    """
    a, b = new_store(), new_store()
    results: dict[str, bool] = {}

    async def read(store: Store, device: str, day: str, ip: str) -> None:
        r = await store.meter(
            device_id=device, article_key=f"/from-{ip}", period="2026-11", limit=3, ip=ip, day=day, ip_cap=1
        )
        results[ip] = r.allowed

    for n in range(10):
        device, day = f"dev-{n}", f"d{n}"
        for article in ("/a", "/b"):
            assert (await a.meter(device_id=device, article_key=article, period="2026-11", limit=3)).allowed
        full = await a.meter(
            device_id=f"other-{n}", article_key="/o", period="2026-11", limit=3, ip="x", day=day, ip_cap=1
        )
        assert full.allowed
        results.clear()
        async with anyio.create_task_group() as tg:
            tg.start_soon(read, a if n % 2 else b, device, day, "x")
            tg.start_soon(read, b if n % 2 else a, device, day, "y")
        assert results == {"x": False, "y": True}
        assert await b.meter_used(device_id=device, period="2026-11") == 3


@pytest.mark.anyio
async def test_record_event(store: Store) -> None:
    assert isinstance(store, SQLiteStore | RedisStore)
    await store.record_event({"kind": "gate", "path": "/a", "level": "anonymous", "at": T0})
    await store.record_event({"kind": "meter", "path": "/b", "extra": object()})
    events = await store.recent_events()
    assert [e["kind"] for e in events] == ["meter", "gate"]
    assert events[1] == {"kind": "gate", "path": "/a", "level": "anonymous", "at": T0}
    assert isinstance(events[0]["extra"], str)


@pytest.mark.anyio
async def test_event_counts_add_up_per_day_and_key(store: Store) -> None:
    await store.add_event_counts(
        [
            EventCount("2026-11-01", "wall_shown", "/a", "control", "offer", 3),
            EventCount("2026-11-01", "wall_shown", "/b", "", "offer", 1),
            EventCount("2026-11-02", "trial_started", "/a", "control", "cta", 1),
        ]
    )
    await store.add_event_counts([EventCount("2026-11-01", "wall_shown", "/a", "control", "offer", 2)])
    await store.add_event_counts([])
    got = await store.event_counts(since_day="2026-11-01", until_day="2026-11-02")
    assert sorted(got, key=lambda c: c.key) == [
        EventCount("2026-11-01", "wall_shown", "/a", "control", "offer", 5),
        EventCount("2026-11-01", "wall_shown", "/b", "", "offer", 1),
        EventCount("2026-11-02", "trial_started", "/a", "control", "cta", 1),
    ]
    assert [c.day for c in await store.event_counts(since_day="2026-11-02", until_day="2026-11-30")] == ["2026-11-02"]
    assert await store.event_counts(since_day="2026-10-01", until_day="2026-10-31") == []
    # Text is kept as it was given, whatever it holds.
    odd = EventCount("2026-11-03", "copy_blocked", '/a?q="x",[1]|é', "v:1", "", 1)
    await store.add_event_counts([odd])
    assert await store.event_counts(since_day="2026-11-03", until_day="2026-11-03") == [odd]
    for bad in ("2026-13-01", "yesterday", "2026-1-1"):
        with pytest.raises(ValueError):
            await store.event_counts(since_day=bad, until_day="2026-11-03")


@pytest.mark.anyio
async def test_event_counts_from_concurrent_instances_all_count(new_store: StoreFactory) -> None:
    a, b = new_store(), new_store()

    async def add(i: int) -> None:
        await (a if i % 2 else b).add_event_counts(
            [EventCount("2026-11-05", "wall_shown", "/a"), EventCount("2026-11-05", "wall_shown", f"/x{i % 3}")]
        )

    async with anyio.create_task_group() as tg:
        for i in range(30):
            tg.start_soon(add, i)
    totals = {c.article: c.count for c in await b.event_counts(since_day="2026-11-05", until_day="2026-11-05")}
    assert totals == {"/a": 30, "/x0": 10, "/x1": 10, "/x2": 10}


@pytest.mark.anyio
async def test_ping(store: Store) -> None:
    await store.ping()
    await store.aclose()
    await store.ping()  # reopens by itself


# --- backend specifics ----------------------------------------------------------


@pytest.mark.anyio
async def test_sqlite_events_are_append_only(tmp_path: Path) -> None:
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path}/p.db")
    await store.record_event({"kind": "gate"})
    await store.aclose()
    with sqlite3.connect(tmp_path / "p.db") as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE events SET data = '{}'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM events")
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)


@pytest.mark.anyio
async def test_sqlite_database_of_the_first_schema_gains_event_counts(tmp_path: Path) -> None:
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path}/p.db")
    await start(store, "ann@example.com", "d1", trial_id="kept")
    await store.aclose()
    with sqlite3.connect(tmp_path / "p.db") as conn:
        conn.execute("DROP TABLE event_counts")
        conn.execute("PRAGMA user_version = 1")
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path}/p.db")
    await store.add_event_counts([EventCount("2026-11-05", "wall_shown", "/a")])
    assert [c.count for c in await store.event_counts(since_day="2026-11-05", until_day="2026-11-05")] == [1]
    assert await store.get_trial("kept") is not None
    await store.aclose()


@pytest.mark.anyio
async def test_sqlite_drops_event_counts_older_than_they_are_kept(tmp_path: Path) -> None:
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path}/p.db")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    await store.add_event_counts(
        [EventCount("2020-01-01", "wall_shown", "/old"), EventCount(today, "wall_shown", "/new")]
    )
    assert await store.event_counts(since_day="2020-01-01", until_day="2020-01-01") == []
    assert [c.article for c in await store.event_counts(since_day=today, until_day=today)] == ["/new"]
    await store.aclose()


@pytest.mark.anyio
async def test_sqlite_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = SQLiteStore.from_url("sqlite:///relative.db?timeout=2.5")
    assert (relative.path, relative.timeout) == ("relative.db", 2.5)
    assert not (tmp_path / "relative.db").exists()  # nothing on disk until first use
    await relative.ping()
    assert (tmp_path / "relative.db").is_file()
    await relative.aclose()
    absolute = SQLiteStore.from_url(f"sqlite:///{tmp_path}/abs.db")
    assert absolute.path == f"{tmp_path}/abs.db"
    for bad in (
        "sqlite://",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite://host/x.db",
        "sqlite:///x.db?foo=1",
        "sqlite:///x.db?timeout=soon",
        "redis:///x.db",
    ):
        with pytest.raises(ValueError):
            SQLiteStore.from_url(bad)


async def _assert_every_call_unavailable(store: Store) -> None:
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.ping(),
        lambda: store.start_trial(trial_id="t", email="e@example.com", device_id="d", started_at=T0, ends_at=T0 + 1),
        lambda: store.get_trial("t"),
        lambda: store.list_trials(),
        lambda: store.revoke_trial("e@example.com"),
        lambda: store.meter(
            device_id="d", article_key="/a", period="2026-11", limit=3, ip="1.2.3.4", day="x", ip_cap=2
        ),
        lambda: store.meter_used(device_id="d", period="2026-11"),
        lambda: store.record_event({"kind": "gate"}),
        lambda: store.add_event_counts([EventCount("2026-11-05", "wall_shown", "/a")]),
        lambda: store.event_counts(since_day="2026-11-01", until_day="2026-11-05"),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable):
            await call()


@pytest.mark.anyio
async def test_sqlite_unusable_paths_are_unavailable(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "plain-file"
    not_a_dir.write_text("x")
    for path in (not_a_dir / "paywall.db", tmp_path / "missing-dir" / "paywall.db", tmp_path):
        await _assert_every_call_unavailable(SQLiteStore(path))
    if os.geteuid() != 0:  # root writes anywhere; the cases above cover it
        locked_dir = tmp_path / "read-only"
        locked_dir.mkdir()
        locked_dir.chmod(0o500)
        try:
            await _assert_every_call_unavailable(SQLiteStore(locked_dir / "paywall.db"))
        finally:
            locked_dir.chmod(0o700)


@pytest.mark.anyio
async def test_sqlite_not_a_database_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "paywall.db"
    path.write_bytes(b"this is not a database, " * 100)
    store = SQLiteStore(path)
    await _assert_every_call_unavailable(store)
    path.unlink()
    assert (await start(store, "ann@example.com", "d")).outcome is TrialOutcome.STARTED
    await store.aclose()


@pytest.mark.anyio
async def test_sqlite_lock_held_beyond_timeout_is_unavailable_then_recovers(tmp_path: Path) -> None:
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path}/paywall.db?timeout=0.2")
    await store.ping()
    holder = sqlite3.connect(tmp_path / "paywall.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    began = time.monotonic()
    with pytest.raises(StoreUnavailable, match="locked"):
        await start(store, "ann@example.com", "d")
    with pytest.raises(StoreUnavailable):
        await store.meter(device_id="d", article_key="/a", period="2026-11", limit=3)
    assert time.monotonic() - began < 3
    holder.execute("ROLLBACK")
    holder.close()
    assert (await start(store, "ann@example.com", "d")).outcome is TrialOutcome.STARTED
    await store.aclose()


@pytest.mark.redis
@pytest.mark.anyio
async def test_redis_down_is_unavailable_and_recovers_by_itself() -> None:
    server = _start_redis()
    try:
        store = RedisStore.from_url(server.url + "?socket_timeout=0.5&socket_connect_timeout=0.5")
        assert (await start(store, "before@example.com", "d0")).outcome is TrialOutcome.STARTED
        server.stop()
        began = time.monotonic()
        await _assert_every_call_unavailable(store)
        assert time.monotonic() - began < 5
        server.start()  # same port, empty (nothing persisted)
        await store.ping()
        assert (await start(store, "after@example.com", "d1")).outcome is TrialOutcome.STARTED
        assert [t.email for t in await store.list_trials()] == ["after@example.com"]
        # A restart between two calls: the pooled connection is dead, the next call still works.
        server.restart()
        await store.ping()
        assert await store.list_trials() == []
        await store.aclose()
    finally:
        server.close()


@pytest.mark.redis
@pytest.mark.anyio
async def test_redis_nothing_listening_is_unavailable() -> None:
    server = _start_redis()
    url = server.url
    server.close()
    store = RedisStore.from_url(url)
    await _assert_every_call_unavailable(store)
    await store.aclose()


@pytest.mark.redis
@pytest.mark.anyio
async def test_redis_keys_prefix_and_expiry(redis_url: str) -> None:
    with redis_sync.Redis.from_url(redis_url, decode_responses=True) as raw:
        raw.flushdb()
        store = RedisStore.from_url(redis_url + "?prefix=site1:&events_max=10")
        assert store.prefix == "site1:"
        await start(store, "ann@example.com", "dev")
        longest_meter_ttl = meter_ttl("2026-11", time.time())
        await store.meter(
            device_id="dev", article_key="/a", period="2026-11", limit=3, ip="1.2.3.4", day="2026-11-05", ip_cap=5
        )
        for i in range(300):
            await store.record_event({"n": i})
        await store.add_event_counts([EventCount("2026-11-05", "wall_shown", "/a")])
        keys = set(raw.keys("*"))
        assert keys and all(k.startswith("site1:") for k in keys)
        meter_key = "site1:meter:2026-11:dev"
        assert 0 < raw.ttl(meter_key) <= longest_meter_ttl
        assert raw.keys("site1:held:*") == []  # a hold lasts while its request decides
        assert 0 < raw.ttl("site1:{quota:ipday:2026-11-05:1.2.3.4}:opened") <= IP_DAY_SECONDS
        assert raw.ttl("site1:{trials}:email:ann@example.com") == -1  # one trial per e-mail, for good
        assert 400 * DAY < raw.ttl("site1:{counts}:2026-11-05") <= 402 * DAY
        assert raw.xlen("site1:events") < 300  # capped (approximately, by whole nodes)
        assert (await store.recent_events(limit=1)) == [{"n": 299}]
        await store.aclose()


def test_meter_ttl_covers_the_period_plus_margin() -> None:
    nov_1 = 1_793_491_200.0  # 2026-11-01T00:00:00Z
    dec_1 = nov_1 + 30 * DAY
    assert meter_ttl("2026-11", nov_1) == 30 * DAY + METER_MARGIN
    assert meter_ttl("2026-11", dec_1 - 10) == 10 + METER_MARGIN
    assert meter_ttl("2026-11", dec_1 + 5 * DAY) == METER_MARGIN  # period over: margin only
    assert meter_ttl("2030-01", nov_1) == 31 * DAY + METER_MARGIN  # far future: a month at most
    assert meter_ttl("weekly-45", nov_1) == 31 * DAY + METER_MARGIN


def test_redis_url_options() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/3?prefix=x:&socket_timeout=0.25&events_max=5")
    assert (store.prefix, store.events_max) == ("x:", 5)
    assert "prefix" not in store.url and "socket_timeout=0.25" in store.url
    with pytest.raises(ValueError):
        RedisStore.from_url("redis://127.0.0.1:1/0?events_max=lots")
    with pytest.raises(ValueError):
        RedisStore.from_url("redis://127.0.0.1:1/0?socket_timeout=soon")


def test_store_used_from_successive_event_loops(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """A command-line run or a test client may drive one store from several loops in turn."""
    if backend == "redis":
        url: str = request.getfixturevalue("redis_url")
        with redis_sync.Redis.from_url(url) as raw:
            raw.flushdb()
        store = open_store(url)
    elif backend == "redis-cluster":
        nodes: RedisCluster = request.getfixturevalue("cluster")
        nodes.flush()
        store = open_store(nodes.url)
    else:
        store = open_store(f"sqlite:///{tmp_path}/loops.db")

    async def first() -> None:
        assert (await start(store, "ann@example.com", "d1")).outcome is TrialOutcome.STARTED

    async def second() -> None:
        assert (await start(store, "ann@example.com", "d2")).outcome is TrialOutcome.EMAIL_TAKEN
        await store.aclose()

    anyio.run(first)
    anyio.run(second)


@pytest.mark.redis
@pytest.mark.anyio
async def test_redis_server_answering_garbage_is_unavailable() -> None:
    """Something that is not Redis on the port: the store fails closed, no other exception."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0?socket_timeout=0.5")
        await _assert_every_call_unavailable(store)
        await store.aclose()
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.redis
@pytest.mark.anyio
async def test_redis_server_that_never_answers_times_out_fast() -> None:
    """Connections are accepted by the kernel but nothing ever replies."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0?socket_timeout=0.1")
        began = time.monotonic()
        await _assert_every_call_unavailable(store)
        assert time.monotonic() - began < 3
        await store.aclose()


@pytest.mark.redis
@pytest.mark.anyio
async def test_cluster_spreads_readers_over_the_masters(cluster: RedisCluster) -> None:
    """Meters (the bulk of the keys) land on every master; the trial rules keep one slot."""
    cluster.flush()
    store = open_store(cluster.url)
    assert isinstance(store, RedisStore) and store.cluster
    for i in range(60):
        result = await store.meter(
            device_id=f"device-{i}", article_key="/a", period="2026-11", limit=3, ip=f"10.0.0.{i}", day="d", ip_cap=2
        )
        assert result.allowed
    await start(store, "ann@example.com", "device-0")
    assert all(count > 0 for count in cluster.keys_per_node())
    trial_slots = {
        key_slot(key.encode())
        for key in ("paywall:{trials}:email:a", "paywall:{trials}:device:b", "paywall:{trials}:index")
    }
    assert len(trial_slots) == 1
    await store.aclose()


@pytest.fixture(
    params=[pytest.param("redis", marks=pytest.mark.redis), pytest.param("redis-cluster", marks=pytest.mark.redis)]
)
def redis_and_raw(request: pytest.FixtureRequest) -> Iterator[tuple[str, redis_sync.Redis | redis_sync.RedisCluster]]:
    """An empty single Redis server or cluster: the store URL, and a plain client of the same data."""
    raw: redis_sync.Redis | redis_sync.RedisCluster
    if request.param == "redis-cluster":
        nodes: RedisCluster = request.getfixturevalue("cluster")
        nodes.flush()
        url = nodes.url
        raw = redis_sync.RedisCluster(host="127.0.0.1", port=nodes.ports[0], decode_responses=True)
    else:
        url = request.getfixturevalue("redis_url")
        raw = redis_sync.Redis.from_url(url, decode_responses=True)
        raw.flushdb()
    try:
        yield url, raw
    finally:
        raw.close()


def _leave_hold(
    raw: redis_sync.Redis | redis_sync.RedisCluster, device: str, article: str, *, expires_in: float
) -> None:
    """The hold a request leaves on ``device``'s meter when its instance dies between holding and deciding."""
    seconds, micros = raw.time()
    expires_ms = int(seconds * 1000 + micros // 1000 + expires_in * 1000)
    raw.hset(f"paywall:held:{{paywall:meter:2026-11:{device}}}", article, f"{expires_ms}:5eadc0de5eadc0de")


@pytest.mark.anyio
async def test_redis_meter_hold_of_a_dead_request_blocks_only_what_it_holds_and_expires(
    redis_and_raw: tuple[str, redis_sync.Redis | redis_sync.RedisCluster],
) -> None:
    url, raw = redis_and_raw
    store = RedisStore.from_url(url)

    async def read(device: str, article: str, limit: int = 3) -> MeterResult:
        return await store.meter(
            device_id=device, article_key=article, period="2026-11", limit=limit, ip="net", day="d", ip_cap=10
        )

    # The dead hold leaves room: other articles are neither refused nor kept waiting (3 s of patience).
    await store.ping()
    _leave_hold(raw, "roomy", "/held", expires_in=60)
    began = time.monotonic()
    assert (await read("roomy", "/a")).allowed and (await read("roomy", "/b")).allowed
    assert time.monotonic() - began < 1.5
    # It holds the article asked for, or the last room: requests wait, and fail closed when it never moves.
    store.hold_patience = 0.3
    for article in ("/held", "/c"):
        began = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await read("roomy", article)
        assert 0.3 <= time.monotonic() - began < 2
    # Once it expires, the device's room is its own again; a waiting request goes on by itself.
    _leave_hold(raw, "full", "/held", expires_in=0.6)
    store.hold_patience = 5
    began = time.monotonic()
    result = await read("full", "/other", limit=1)
    assert result.allowed and result.used == 1
    assert 0.5 <= time.monotonic() - began < 3
    assert await store.meter_used(device_id="full", period="2026-11") == 1
    assert raw.hlen("paywall:held:{paywall:meter:2026-11:full}") == 0
    await store.aclose()


@pytest.mark.anyio
async def test_redis_meter_counts_a_hold_that_expired_before_its_request_decided_only_with_room(
    redis_and_raw: tuple[str, redis_sync.Redis | redis_sync.RedisCluster],
) -> None:
    """A request that stalled past its hold's life: its article counts if the device has room, else it is refused."""
    url, _ = redis_and_raw
    store = RedisStore.from_url(url)
    client = await store._get_client().ready()
    keys = list(store._meter_keys("2026-11", "dev"))

    async def confirm(article: str, token: str) -> list[int]:
        return [int(x) for x in await client.meter_confirm(keys=keys, args=[article, 2, 60, token])]

    assert await confirm("/a", "lost-token") == [3, 1]  # room: counted
    assert await confirm("/a", "lost-token") == [1, 1]  # counted already: a re-read
    assert (await store.meter(device_id="dev", article_key="/b", period="2026-11", limit=2)).allowed
    assert await confirm("/c", "lost-token") == [0, 2]  # full: refused
    assert await store.meter_used(device_id="dev", period="2026-11") == 2
    await store.aclose()


@pytest.mark.anyio
async def test_redis_meter_holds_share_the_meters_slot_whatever_the_device_id(
    redis_and_raw: tuple[str, redis_sync.Redis | redis_sync.RedisCluster],
) -> None:
    url, raw = redis_and_raw
    store = RedisStore.from_url(url)
    for device in ("dev", "x{trials}y", "}{", "%7B", "a{}b"):
        meter, held = store._meter_keys("2026-11", device)
        assert key_slot(meter.encode()) == key_slot(held.encode())
        result = await store.meter(
            device_id=device, article_key="/a", period="2026-11", limit=3, ip="net", day="d", ip_cap=10
        )
        assert result.allowed
        assert await store.meter_used(device_id=device, period="2026-11") == 1
    assert store._meter_keys("2026-11", "dev")[0] == "paywall:meter:2026-11:dev"  # as before holds existed
    assert len({store._meter_keys("2026-11", d)[0] for d in ("{", "%7B", "%257B")}) == 3
    assert raw.scard("paywall:meter:2026-11:x%7Btrials%7Dy") == 1
    await store.aclose()
