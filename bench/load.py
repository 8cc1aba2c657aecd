"""Sustained load through real uvicorn servers: many concurrent readers of every kind, for a while.

Starts a news site behind the paywall with uvicorn on 127.0.0.1 and drives it
with ``--clients`` concurrent readers for ``--duration`` seconds, each on its
own keep-alive connection, in a mix of non-members, trial readers, members and
static files. Runs it on the SQLite store (one instance) and on Redis with two
paywall instances sharing one Redis (readers spread over both), and the bare
site without the paywall in the same run for reference.

Checked on every response: status 200; no word from beyond the teaser in any
non-member's page; the whole article for trial readers and members. Reported
per window of the run: requests per second, p50 and p99 latency, and each
server's memory (RSS), so that a leak or a slow-down over the run shows; then
the store operations each kind of request costs (Redis ``INFO commandstats``).
Exits 1 on any error or leak.

    python3 bench/load.py                       # 200 clients, 60 s, sqlite + redis (2 instances) + bare
    python3 bench/load.py --clients 50 --duration 10 --stores sqlite
    python3 bench/load.py --redis-url redis://127.0.0.1:6379/12   # an existing Redis (flushed!)

The client runs on the same machine as the servers and takes a share of the
CPU, so absolute figures understate what a server alone does; compare with the
bare site's line of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.http_load import add_server_options, implementations  # noqa: E402
from tests.servers import free_port, stop_process, wait_for_port  # noqa: E402

SECRET_KEY = "load-bench-secret-6f1d2c9a8b7e4f30"
ARTICLES = 300
HIDDEN_WORD = "quorvantish"  # in every paragraph after the teaser, nowhere else
KINDS = ("non-member", "trial", "member", "static")
#: Share of the clients of each kind.
MIX = {"non-member": 0.5, "trial": 0.15, "member": 0.2, "static": 0.15}
CSS = ("body{font:1rem/1.5 system-ui;margin:0 auto;max-width:40rem}\n" * 40).encode()


# ---------------------------------------------------------------------------
# the site (run by uvicorn in each server process)


def article_page(n: int) -> bytes:
    teaser = "".join(
        f"<p>Story {n}, paragraph {i}: the council met on Tuesday to discuss the harbour plans.</p>" for i in range(3)
    )
    hidden = "".join(
        f"<p>Paragraph {i} of story {n}: the {HIDDEN_WORD} figures show what the minutes left out.</p>"
        for i in range(3, 12)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Story {n}</title><link rel=stylesheet href=/static/site.css></head>"
        "<body><header><nav><a href=/>Home</a> <a href=/news>News</a></nav></header>"
        f"<main><article><h1>Story {n}</h1>{teaser}{hidden}</article></main>"
        "<aside><h2>Most read</h2><ul>"
        + "".join(f"<li><a href=/news/{(n + k) % ARTICLES}>Story {(n + k) % ARTICLES}</a></li>" for k in range(1, 6))
        + "</ul></aside><footer><p>The Harbour Gazette</p></footer></body></html>"
    ).encode()


def news_site() -> Any:
    """The site: article pages and a stylesheet."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    pages = [article_page(n) for n in range(ARTICLES)]

    async def story(request: Request) -> Response:
        n = int(request.path_params["n"]) % ARTICLES
        return Response(pages[n], media_type="text/html; charset=utf-8")

    async def stylesheet(request: Request) -> Response:
        return Response(CSS, media_type="text/css", headers={"cache-control": "public, max-age=3600"})

    return Starlette(routes=[Route("/news/{n:int}", story), Route("/static/site.css", stylesheet)])


def build_app() -> Any:
    """uvicorn factory: the site, behind the paywall unless ``LOAD_BARE`` is set."""
    site = news_site()
    if os.environ.get("LOAD_BARE"):
        return site
    from paywall import PaywallMiddleware, PaywallSettings

    return PaywallMiddleware(site, settings=PaywallSettings.from_env())


# ---------------------------------------------------------------------------
# servers


@contextlib.contextmanager
def servers(
    count: int, env: dict[str, str], log_dir: Path, server: tuple[str, str] = ("auto", "auto")
) -> Iterator[list[tuple[int, int]]]:
    """``count`` uvicorn processes of :func:`build_app` (``server``: its HTTP parser and event loop); yields
    (port, pid) of each."""
    procs: list[subprocess.Popen[bytes]] = []
    started: list[tuple[int, int]] = []
    try:
        for i in range(count):
            port = free_port()
            argv = [sys.executable, "-m", "uvicorn", "bench.load:build_app", "--factory", "--host", "127.0.0.1"]
            argv += ["--port", str(port), "--log-level", "warning", "--no-access-log", "--http", server[0]]
            argv += ["--loop", server[1]]
            log = open(log_dir / f"server-{i}.log", "wb")  # noqa: SIM115 - closed with the process
            proc = subprocess.Popen(
                argv, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT, stdout=log, stderr=log
            )
            procs.append(proc)
            wait_for_port(port, proc)
            started.append((port, proc.pid))
        yield started
    finally:
        for proc in procs:
            stop_process(proc)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on a free port (nothing persisted)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        proc = subprocess.Popen([*argv, "--dir", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port, proc)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            stop_process(proc)


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# ---------------------------------------------------------------------------
# a small HTTP/1.1 keep-alive client (cheap enough to run 200 of on a shared core)


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, cookie: str = "") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        extra = f"Cookie: {cookie}\r\n" if cookie else ""
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: news.example\r\nAccept: text/html\r\n{extra}\r\n".encode())
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            body = b"".join(parts)
        else:
            body = await self.reader.read()
            await self.close()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


# ---------------------------------------------------------------------------
# readers


@dataclass
class Sample:
    at: float
    kind: str
    latency: float


@dataclass
class Outcome:
    name: str
    duration: float
    samples: list[Sample] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    leaks: int = 0
    rss: dict[int, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    store_ops: dict[str, float] = field(default_factory=dict)
    #: Requests the paywall failed closed on because the store was slow or down (from the server logs).
    fail_closed: int = 0

    @property
    def requests(self) -> int:
        return len(self.samples)


def trial_cookies(port: int, count: int) -> list[str]:
    """Start ``count`` trials through the form; the cookies each trial reader sends."""
    import httpx

    cookies = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, follow_redirects=False) as client:
        for i in range(count):
            client.cookies.clear()
            form = client.get("/_paywall/trial", params={"next": "/news/1"})
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None, form.text
            fields = {"email": f"load-{i}-{random.random()}@example.com", "consent": "yes", "csrf": csrf[1]}
            answer = client.post("/_paywall/trial", data={**fields, "next": "/news/1"})
            if answer.status_code != 303:
                raise RuntimeError(f"could not start a trial: {answer.status_code} {answer.text[:200]}")
            cookies.append("; ".join(f"{k}={v}" for k, v in client.cookies.items()))
    return cookies


def member_cookies(count: int) -> list[str]:
    from paywall import PaywallSettings, issue_member_token

    settings = PaywallSettings(secret_key=SECRET_KEY)
    return [f"paywall_member={issue_member_token(settings, f'member-{i}', 30)}" for i in range(count)]


async def reader(
    kind: str, port: int, cookie: str, until: float, outcome: Outcome, started: float, paywalled: bool
) -> None:
    connection = Connection(port)
    rng = random.Random(f"{kind}{port}{cookie}")
    try:
        while time.perf_counter() < until:
            path = "/static/site.css" if kind == "static" else f"/news/{rng.randrange(ARTICLES)}"
            begun = time.perf_counter()
            try:
                status, body = await connection.get(path, cookie if kind in ("trial", "member") else "")
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                outcome.errors[f"{kind}: {type(exc).__name__}"] += 1
                await connection.close()
                continue
            outcome.samples.append(Sample(begun - started, kind, time.perf_counter() - begun))
            if status != 200:
                outcome.errors[f"{kind}: HTTP {status}"] += 1
            elif kind == "non-member" and paywalled and HIDDEN_WORD.encode() in body:
                outcome.leaks += 1
            elif kind in ("trial", "member") and HIDDEN_WORD.encode() not in body:
                outcome.errors[f"{kind}: got the teaser"] += 1
    finally:
        await connection.close()


async def sample_memory(pids: Sequence[int], until: float, outcome: Outcome, started: float) -> None:
    while time.perf_counter() < until:
        for pid in pids:
            outcome.rss[pid].append((time.perf_counter() - started, rss_mib(pid)))
        await asyncio.sleep(1.0)


async def drive(
    name: str,
    ports: Sequence[int],
    pids: Sequence[int],
    *,
    clients: int,
    duration: float,
    trials: list[str],
    members: list[str],
    paywalled: bool,
) -> Outcome:
    outcome = Outcome(name, duration)
    started = time.perf_counter()
    until = started + duration
    tasks = []
    counts = {kind: max(1, round(clients * share)) for kind, share in MIX.items()}
    counts["non-member"] = clients - sum(v for k, v in counts.items() if k != "non-member")
    n = 0
    for kind, count in counts.items():
        for i in range(count):
            cookie = (
                trials[i % len(trials)] if kind == "trial" else members[i % len(members)] if kind == "member" else ""
            )
            port = ports[n % len(ports)]
            tasks.append(reader(kind, port, cookie, until, outcome, started, paywalled))
            n += 1
    tasks.append(sample_memory(pids, until, outcome, started))
    await asyncio.gather(*tasks)
    return outcome


# ---------------------------------------------------------------------------
# store operations per kind of request (Redis)


class RoundTrips:
    """Counts the commands clients send to Redis (MONITOR), not those a script runs inside."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.count = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        self._ready.wait(5)
        self.mark()  # opens the connection mark() uses, whose handshake is not a request's

    def _watch(self) -> None:
        with self.client.monitor() as monitor:
            self._ready.set()
            while not self._stop.is_set():
                command = monitor.next_command()
                if command.get("client_type") != "lua" and command.get("command", "").upper() != "PING":
                    self.count += 1
                if command.get("command", "").upper() == "ECHO":
                    return

    def mark(self) -> int:
        """Wait until every command sent so far has been seen; the count up to here."""
        import redis

        with redis.Redis(connection_pool=self.client.connection_pool) as client:
            client.ping()  # PINGs are not counted: this one only flushes the monitor's view
        time.sleep(0.05)
        return self.count

    def close(self) -> None:
        self._stop.set()
        self.client.echo("stop")
        self._thread.join(5)
        self.client.close()


async def store_ops_per_kind(url: str, repeat: int = 20) -> dict[str, float]:
    """Redis round trips per request of each kind, counted in-process on a fresh database.

    Covers what the load run does not: metered reads (a new article, a re-read)
    and the two requests of a trial sign-up.
    """
    import httpx
    import redis

    from paywall import PaywallMiddleware, PaywallSettings, issue_member_token

    with redis.Redis.from_url(url) as client:
        client.flushdb()
    trips = RoundTrips(url)
    # Sign-up caps on (as by default) but high: every request here comes from one address.
    base: dict[str, Any] = {
        "secret_key": SECRET_KEY,
        "store": url,
        "trial_ip_daily_cap": 10**6,
        "trial_network_daily_cap": 10**6,
    }
    out: dict[str, float] = {}

    async def count(settings: PaywallSettings, kind: str, steps: Any) -> None:
        app = PaywallMiddleware(news_site(), settings=settings)
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://news.example") as client:
            await steps(client, 0)  # warm-up: scripts loaded, connections open
            before = trips.mark()
            for i in range(1, repeat + 1):
                await steps(client, i)
            out[kind] = (trips.mark() - before) / repeat
        await app.store.aclose()

    plain = PaywallSettings(**base)
    metered = PaywallSettings(**base, free_articles=1000, meter_ip_daily_cap=100_000)
    member = issue_member_token(plain, "member-1", 30)

    async def get(client: Any, path: str, cookies: dict[str, str] | None = None) -> Any:
        client.cookies.clear()
        for name, value in (cookies or {}).items():
            client.cookies.set(name, value)
        response = await client.get(path, headers={"accept": "text/html"})
        assert response.status_code == 200, response.status_code
        return response

    async def non_member(client: Any, i: int) -> None:
        await get(client, f"/news/{i}")

    async def member_read(client: Any, i: int) -> None:
        await get(client, f"/news/{i}", {"paywall_member": member})

    async def static(client: Any, i: int) -> None:
        await get(client, "/static/site.css")

    device: dict[str, str] = {}

    async def metered_new(client: Any, i: int) -> None:
        response = await get(client, f"/news/{i}", device)
        device.update({k: v for k, v in response.cookies.items() if k == "paywall_device"})

    async def metered_again(client: Any, i: int) -> None:
        await get(client, "/news/1", device)

    trial: dict[str, str] = {}

    async def sign_up(client: Any, i: int) -> None:
        client.cookies.clear()
        form = await client.get("/_paywall/trial", params={"next": "/news/1"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        fields = {"email": f"ops-{i}-{random.random()}@example.com", "consent": "yes", "csrf": csrf[1]}
        answer = await client.post("/_paywall/trial", data={**fields, "next": "/news/1"})
        assert answer.status_code == 303, answer.status_code
        trial.update(dict(client.cookies.items()))

    async def trial_read(client: Any, i: int) -> None:
        await get(client, f"/news/{i}", trial)

    await count(plain, "non-member", non_member)
    await count(plain, "member", member_read)
    await count(plain, "static", static)
    await count(metered, "metered, new article", metered_new)
    await count(metered, "metered, re-read", metered_again)
    await count(plain, "trial sign-up (form + post)", sign_up)
    await count(plain, "trial reader", trial_read)
    trips.close()
    return out


# ---------------------------------------------------------------------------
# running and reporting


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(
    store: str,
    *,
    clients: int = 200,
    duration: float = 60.0,
    instances: int = 1,
    redis_url: str | None = None,
    bare: bool = False,
    server: tuple[str, str] = ("auto", "auto"),
) -> Outcome:
    """One scenario: ``store`` is ``"sqlite"`` or ``"redis"``; ``bare`` runs the site without the paywall."""
    with tempfile.TemporaryDirectory(prefix="paywall-load-") as folder, contextlib.ExitStack() as stack:
        env = {
            "PAYWALL_SECRET_KEY": SECRET_KEY,
            "PAYWALL_TRIAL_IP_DAILY_CAP": "0",  # every reader comes from 127.0.0.1
            "PAYWALL_TRIAL_NETWORK_DAILY_CAP": "0",
            "PAYWALL_SITE_NAME": "The Harbour Gazette",
            # Event counts are written in the background once a second, not per request: left out
            # so that the store operations counted are those of the request path.
            "PAYWALL_INSIGHTS": "false",
        }
        url = None
        if store == "redis":
            url = redis_url or stack.enter_context(redis_server())
            import redis

            with redis.Redis.from_url(url) as client:
                client.flushdb()
            env["PAYWALL_STORE"] = url
        else:
            env["PAYWALL_STORE"] = f"sqlite:///{Path(folder) / 'paywall.db'}"
        if bare:
            env["LOAD_BARE"] = "1"
        started = stack.enter_context(servers(instances, env, Path(folder), server))
        ports = [port for port, _ in started]
        pids = [pid for _, pid in started]
        trials = [] if bare else trial_cookies(ports[0], 20)
        members = member_cookies(20)
        name = "bare site" if bare else f"{store}, {instances} instance{'s' if instances > 1 else ''}"
        outcome = asyncio.run(
            drive(
                name,
                ports,
                pids,
                clients=clients,
                duration=duration,
                trials=trials or members,
                members=members,
                paywalled=not bare,
            )
        )
        if url is not None and not bare:
            outcome.store_ops = asyncio.run(store_ops_per_kind(url))
        for log in Path(folder).glob("server-*.log"):
            text = log.read_text(errors="replace")
            outcome.fail_closed += text.count("store unavailable")
            if "Traceback" in text or "Exception in ASGI application" in text:
                outcome.errors["server logged an exception"] += 1
                print(text[-2000:], file=sys.stderr)
        return outcome


def report(outcome: Outcome, windows: int = 6) -> None:
    print(f"\n== {outcome.name}: {outcome.requests} requests in {outcome.duration:.0f} s "
          f"({outcome.requests / outcome.duration:.0f}/s), errors {sum(outcome.errors.values())}, "
          f"leaks {outcome.leaks}")  # fmt: skip
    for error, count in outcome.errors.most_common():
        print(f"   error: {error} x{count}")
    if outcome.fail_closed:
        print(f"   failed closed (store slower than its timeout, or down): {outcome.fail_closed}")
    width = outcome.duration / windows
    print(f"   {'window':>9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}   RSS MiB per server")
    p99s = []
    for w in range(windows):
        chunk = [s.latency for s in outcome.samples if w * width <= s.at < (w + 1) * width]
        rss = [
            max((mib for at, mib in series if w * width <= at < (w + 1) * width), default=0.0)
            for series in outcome.rss.values()
        ]
        p99 = percentile(chunk, 0.99) * 1000
        p99s.append(p99)
        print(
            f"   {w * width:4.0f}-{(w + 1) * width:<4.0f} {len(chunk) / width:7.0f} "
            f"{percentile(chunk, 0.5) * 1000:7.1f} {p99:7.1f}   " + " ".join(f"{r:6.1f}" for r in rss)
        )
    print(f"   {'kind':>10} {'requests':>9} {'p50 ms':>7} {'p99 ms':>7}")
    for kind in KINDS:
        lat = [s.latency for s in outcome.samples if s.kind == kind]
        print(f"   {kind:>10} {len(lat):9d} {percentile(lat, 0.5) * 1000:7.1f} {percentile(lat, 0.99) * 1000:7.1f}")
    firsts = [series[1][1] for series in outcome.rss.values() if len(series) > 1]
    lasts = [series[-1][1] for series in outcome.rss.values() if series]
    if firsts and p99s[1]:
        growth = [last - first for first, last in zip(firsts, lasts, strict=False)]
        print(
            f"   flat? p99 last/second window {p99s[-1] / p99s[1]:.2f}; "
            f"RSS growth from 1 s to the end {', '.join(f'{g:+.1f}' for g in growth)} MiB"
        )
    if outcome.store_ops:
        print("   Redis round trips (commands and scripts) per request:")
        for kind, ops in outcome.store_ops.items():
            print(f"   {kind:>30} {ops:5.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--stores", default="sqlite,redis", help="comma-separated: sqlite, redis")
    parser.add_argument("--redis-instances", type=int, default=2)
    parser.add_argument("--redis-url", help="an existing Redis to use (its database is flushed)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare site's reference run")
    add_server_options(parser)
    args = parser.parse_args(argv)
    server = implementations(args.http, args.loop)
    print("uvicorn with {} and {}".format(*server))
    outcomes = []
    if not args.no_bare:
        outcomes.append(run("sqlite", clients=args.clients, duration=args.duration, bare=True, server=server))
        report(outcomes[-1])
    for store in args.stores.split(","):
        instances = args.redis_instances if store == "redis" else 1
        outcome = run(
            store,
            clients=args.clients,
            duration=args.duration,
            instances=instances,
            redis_url=args.redis_url,
            server=server,
        )
        outcomes.append(outcome)
        report(outcome)
    if not args.no_bare:
        bare_rate = outcomes[0].requests / outcomes[0].duration
        for outcome in outcomes[1:]:
            rate = outcome.requests / outcome.duration
            print(f"\n{outcome.name}: {rate:.0f} req/s, {rate / bare_rate:.2f} x the bare site ({bare_rate:.0f} req/s)")
    failed = any(o.errors or o.leaks for o in outcomes)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
