"""Instructions per request, with and without the paywall, counted by valgrind: figures a busy machine cannot move.

Timings on a small shared machine move by 10-30% from one run to the next, more
than the differences worth measuring on the request path. ``valgrind
--tool=callgrind`` counts the instructions a process executes instead: the same
figure on every run, whatever else the machine is doing. Each figure here is
the count for ``--requests`` more requests minus the count for a short run
(start-up, imports and warm-up cancel out), divided by the extra requests.

Requests go straight through the ASGI interface (no server, no socket), on
``bench/http_load.py``'s site, so the bare figure is the app's own work and
the difference is the paywall's:

* a member reading a 100 KB article (protection tags injected in its head),
  and the same without the tags (``protect_members`` off);
* a non-member reading it again (the cut from the cache);
* a non-member reading the 100 KB news page with a new CSRF token in every
  response (the cut of the page judged before, the token replaced);
* a small page without an article, and a 1 MB download;

and, for the HTML engine against its yardstick, a non-member's first view of
the 100 KB news page (``bench/engine.py``'s: decode, parse, find, cut, sweep,
serialise) against one ``lxml.html`` parse and serialisation of it.

With ``--server``, the same requests go through a real uvicorn instead,
started under valgrind, over one keep-alive connection from an HTTP client
outside it: the count is the whole server's (HTTP parsing, event loop,
sockets), so the ratio is the one ``bench/http_load.py`` measures with
``wrk``, without the noise of a shared machine. One thing is left out of that
count: the insights' write of the events tallied (once a second, a few hundred
thousand instructions). Under valgrind the server is about fifty times slower,
so each write would be charged to some thirty requests, where a real server
spreads it over a thousand and more (a few hundred instructions each); the
pause between writes is stretched past the run instead (``BENCH_INSIGHTS_INTERVAL``).
Counting each event as it is tallied stays in the figure.
With the member's row, a yardstick: the member's page behind a minimal
middleware that does only what sending it needs (asks the member resolver,
makes the page private, puts the protection tags in its head:
``bench.http_load.minimal_member_site``) and nothing else the paywall does. The
gap between its ratio and the paywall's is what everything else costs; its
own ratio is the most any middleware of this kind can reach behind that
server. With ``--server``, one more figure: the bare site adding to every
response only the two headers a member's page carries (``Cache-Control:
private, no-store`` and ``Vary: Cookie``), which every personalised response
needs whoever adds them. It says how much of the member's ratio the HTTP
server spends on those headers alone.

With ``--cache`` (in process), cachegrind counts each request's instructions
and first-level cache misses instead, bare, paywalled and (with the member's
row) behind the minimal middleware: a miss costs time that no instruction
shows, which is why a throughput ratio can be below the instruction ratio.

    python bench/instructions.py [--requests 400] [--only NAME] [--server [--http IMPL] [--loop IMPL]] [--cache]

Needs valgrind (``apt-get install valgrind``); each figure takes two runs of
a few seconds to a minute under it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.http_load import MEMBER_ROW, add_server_options, implementations  # noqa: E402
from tests.asgi import http_scope  # noqa: E402

WARM_UP = 100
"""Requests run before counting in every child, so that caches and lazy imports are settled."""
ENGINE_WARM_UP = 5
"""First views (or lxml parses) run before counting: a few settle imports and compiled patterns."""

MEMBER = [(b"x-bench-member", b"1")]

#: name, path, request headers, settings (as ``PAYWALL_*`` variables) of the paywalled app.
REQUESTS: list[tuple[str, str, list[tuple[bytes, bytes]], dict[str, str]]] = [
    (MEMBER_ROW, "/article", MEMBER, {}),
    ("member, 100 KB, no tags", "/article", MEMBER, {"PAYWALL_PROTECT_MEMBERS": "false"}),
    ("non-member, repeat article", "/article", [], {}),
    ("non-member, news, new token", "/news", [], {}),
    ("non-member, news, new time", "/news-time", [], {}),
    ("small page, no article", "/", [], {}),
    ("1 MB download", "/download.bin", [], {}),
]


def _request(name: str) -> tuple[str, list[tuple[bytes, bytes]]]:
    """The path and headers of scenario ``name``, as sent in process and to the server alike."""
    _, path, headers, _ = next(r for r in REQUESTS if r[0] == name)
    return path, [(b"accept", b"text/html"), *headers]


def _child_requests(name: str, which: str, count: int) -> None:
    """Run ``count`` requests of scenario ``name`` (after the warm-up): ``which`` is "bare", "paywall" or
    "minimal" (the yardstick of :func:`bench.http_load.minimal_member_site`)."""
    from bench import http_load

    path, request_headers = _request(name)
    apps = {"bare": lambda: http_load.site, "paywall": http_load.build_app, "minimal": http_load.minimal_member_site}
    app: Any = apps[which]()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    async def run() -> None:
        for _ in range(WARM_UP + count):
            # A scope of its own for each request, as a server makes it (with its own state).
            await app(http_scope(path, headers=request_headers, client=("127.0.0.1", 50000)), receive, send)

    asyncio.run(run())


def _child_engine(which: str, count: int) -> None:
    """``count`` first views of the news page by the engine, or lxml parses and serialisations of it."""
    from bench import engine

    page = engine.news_page(padding=70_000)
    work: Callable[[bytes], object] = engine.engine_view if which == "engine" else engine.lxml_view
    for _ in range(ENGINE_WARM_UP + count):
        work(engine.with_nonce(page))


def _server_requests(
    app: str, path: str, headers: list[tuple[bytes, bytes]], count: int, env: dict[str, str], server: tuple[str, str]
) -> int:
    """Instructions of a uvicorn serving ``app`` (under valgrind) for the warm-up and ``count`` requests."""
    import httpx

    from tests.servers import free_port

    port = free_port()
    factory = ["--factory"] if app.endswith(("build_app", "minimal_member_site")) else []
    with tempfile.TemporaryDirectory() as tmp, open(f"{tmp}/log", "w+b") as log:
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", sys.executable, "-m", "uvicorn"]
        argv += [app, *factory, "--port", str(port), "--log-level", "warning", "--no-access-log", "--lifespan", "off"]
        argv += ["--http", server[0], "--loop", server[1]]
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT), "BENCH_INSIGHTS_INTERVAL": "3600", **env}
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        try:
            url = f"http://127.0.0.1:{port}{path}"
            with httpx.Client(timeout=120) as client:
                deadline = time.monotonic() + 300
                while True:  # valgrind starts the server in tens of seconds
                    try:
                        client.get(url, headers=headers)
                        break
                    except httpx.TransportError:
                        if time.monotonic() > deadline or proc.poll() is not None:
                            log.seek(0)
                            tail = log.read()[-2000:].decode(errors="replace")
                            raise RuntimeError(f"uvicorn under valgrind did not start:\n{tail}") from None
                        time.sleep(0.5)
                for _ in range(WARM_UP + count):
                    client.get(url, headers=headers).raise_for_status()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=300)
        log.seek(0)
        return _collected(log.read().decode(errors="replace"))


def _collected(stderr: str) -> int:
    found = re.search(r"Collected : (\d+)", stderr)
    if found is None:
        raise RuntimeError(f"no count from valgrind:\n{stderr[-2000:]}")
    return int(found.group(1))


def per_server_request(
    name: str, bare: bool, env: dict[str, str], count: int, server: tuple[str, str], *, app: str | None = None
) -> float:
    """Instructions per request of scenario ``name`` through a real server: ``count`` more, minus none.

    ``server`` is uvicorn's HTTP parser and event loop; ``app`` serves it instead of the bare site or the
    paywalled one (a yardstick).
    """
    path, headers = _request(name)
    app = app or ("bench.http_load:site" if bare else "bench.http_load:build_app")
    runs = [_server_requests(app, path, headers, n, env, server) for n in (count, 0)]
    return (runs[0] - runs[1]) / count


def _under_valgrind(tool: str, args: list[str], env: dict[str, str], *options: str) -> str:
    """What valgrind's ``tool`` reports (its standard error) of a child run of this script, start to end."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", f"--tool={tool}", *options, f"--{tool}-out-file={tmp}/out", sys.executable, __file__, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0", **env},
            check=True,
        )
    return out.stderr


def instructions(args: list[str], env: dict[str, str]) -> int:
    """Instructions a child run of this script executes, start to end."""
    return _collected(_under_valgrind("callgrind", args, env))


def per_unit(args: list[str], env: dict[str, str], count: int) -> float:
    """Instructions per request (or view): ``count`` more of them, minus a run with none, over ``count``."""
    return (instructions([*args, str(count)], env) - instructions([*args, "0"], env)) / count


#: What ``--cache`` reads of cachegrind's summary: instructions, first-level instruction-cache misses and
#: first-level data-cache misses.
CACHE_EVENTS = ("I   refs", "I1  misses", "D1  misses")


def cache_events(args: list[str], env: dict[str, str]) -> list[int]:
    """:data:`CACHE_EVENTS` of a child run of this script, start to end, in cachegrind's model of the caches."""
    report = _under_valgrind("cachegrind", args, env, "--cache-sim=yes")
    counts = []
    for event in CACHE_EVENTS:
        found = re.search(rf"{event}:\s*([\d,]+)", report)
        if found is None:
            raise RuntimeError(f"no {event.split()[0]} count from cachegrind:\n{report[-2000:]}")
        counts.append(int(found.group(1).replace(",", "")))
    return counts


def cache_per_unit(args: list[str], env: dict[str, str], count: int) -> list[float]:
    """:data:`CACHE_EVENTS` per request, as :func:`per_unit` counts instructions."""
    more, none = cache_events([*args, str(count)], env), cache_events([*args, "0"], env)
    return [(a - b) / count for a, b in zip(more, none, strict=True)]


def cache_table(
    names: list[tuple[str, dict[str, str]]], base: dict[str, str], count: int, pool: ThreadPoolExecutor
) -> None:
    """``--cache``: each request's instructions and first-level cache misses, bare and paywalled, and behind
    the minimal middleware with the member's row (misses cost time that instructions do not show)."""
    runs = []
    for name, settings in names:
        apps = [("bare", base), ("paywall", {**base, **settings})] + ([("minimal", base)] if name == MEMBER_ROW else [])
        for app, env in apps:
            runs.append((name, app, pool.submit(cache_per_unit, ["--child", "request", name, app], env, count)))
    header = f"{'request':30} {'app':8} {'instructions':>12} {'I1 misses':>10} {'D1 misses':>10}"
    print(f"{header}   (per request, in process)")
    for name, app, counted in runs:
        refs, i1, d1 = counted.result()
        print(f"{name:30} {app:8} {refs:12.0f} {i1:10.0f} {d1:10.0f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=400, help="requests (or views) counted per figure")
    parser.add_argument("--only", action="append", help="only this row (repeatable): a request's name, or 'engine'")
    parser.add_argument("--server", action="store_true", help="count a real uvicorn's instructions per request")
    parser.add_argument(
        "--cache", action="store_true", help="in process: count first-level cache misses too (cachegrind)"
    )
    add_server_options(parser)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "engine":
            _child_engine(rest[0], int(rest[1]))
        else:
            _child_requests(rest[0], rest[1], int(rest[2]))
        return 0
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed (apt-get install valgrind)")
    if args.cache and args.server:
        sys.exit("--cache counts in process only")
    server = implementations(args.http, args.loop)
    # Each figure's runs go one after the other, the figures side by side (valgrind uses one core).
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        base = {
            "PAYWALL_SECRET_KEY": "bench-secret-key-0123456789",
            "PAYWALL_STORE": f"sqlite:///{tmp}/bench.db",
            "PAYWALL_MEMBER_RESOLVER": "bench.http_load:is_member",
        }
        names = [(name, settings) for name, _, _, settings in REQUESTS if not args.only or name in args.only]
        if args.cache:
            cache_table(names, base, args.requests, pool)
            return 0
        if args.server:
            rows = [
                (
                    name,
                    pool.submit(per_server_request, name, True, base, args.requests, server),
                    pool.submit(per_server_request, name, False, {**base, **settings}, args.requests, server),
                )
                for name, settings in names
            ]
        else:
            rows = [
                (
                    name,
                    pool.submit(per_unit, ["--child", "request", name, "bare"], base, args.requests),
                    pool.submit(per_unit, ["--child", "request", name, "paywall"], {**base, **settings}, args.requests),
                )
                for name, settings in names
            ]
        # The member's page carries two headers the bare site's does not (it is one reader's): what those
        # alone cost the HTTP server, measured on the bare site that adds them and does nothing else; and
        # what the least a middleware must do for a member's page costs.
        private = minimal = None
        if any(name == MEMBER_ROW for name, _ in names):
            if args.server:
                private, minimal = (
                    pool.submit(per_server_request, MEMBER_ROW, True, base, args.requests, server, app=yardstick)
                    for yardstick in ("bench.http_load:private_site", "bench.http_load:minimal_member_site")
                )
            else:
                minimal = pool.submit(per_unit, ["--child", "request", MEMBER_ROW, "minimal"], base, args.requests)
        views = max(1, args.requests // 10)
        engine = None
        if not args.server and (not args.only or "engine" in args.only):
            engine = (
                pool.submit(per_unit, ["--child", "engine", "lxml"], base, views),
                pool.submit(per_unit, ["--child", "engine", "engine"], base, views),
            )
        where = "in process" if not args.server else "through uvicorn with {} and {}".format(*server)
        print(
            f"{'request':30} {'bare':>10} {'paywall':>10} {'added':>10} {'ratio':>6}"
            f"   (instructions per request, {where})"
        )
        for name, bare_count, paid_count in rows:
            bare, paid = bare_count.result(), paid_count.result()
            print(f"{name:30} {bare:10.0f} {paid:10.0f} {paid - bare:10.0f} {bare / paid:6.2f}", flush=True)
        if private is not None:
            from bench.http_load import PRIVATE_HEADERS

            named = "; ".join(f"{name.decode()}: {value.decode()}" for name, value in PRIVATE_HEADERS)
            bare = next(bare_count for name, bare_count, _ in rows if name == MEMBER_ROW).result()
            headers = private.result()
            print(
                f"the bare site adding only a private page's two headers ({named}): {headers:.0f}, "
                f"+{headers - bare:.0f}, ratio {bare / headers:.2f}"
            )
        if minimal is not None:
            bare = next(bare_count for name, bare_count, _ in rows if name == MEMBER_ROW).result()
            least = minimal.result()
            print(
                f"the member's page behind a minimal middleware (resolver, private headers, tags; nothing else): "
                f"{least:.0f}, +{least - bare:.0f}, ratio {bare / least:.2f}"
            )
        if engine is not None:
            lxml_count, engine_count = engine[0].result(), engine[1].result()
            print(
                f"100 KB news page, first view: engine {engine_count / 1e6:.2f} M instructions, one lxml parse and "
                f"serialisation {lxml_count / 1e6:.2f} M: {engine_count / lxml_count:.1f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
