"""Requests per second through a real uvicorn server, with and without the paywall, in one run.

Starts a small site twice on loopback, each under its own uvicorn (bare, and
behind PaywallMiddleware), drives each with ``wrk`` for the same time and
concurrency, and prints the throughput of both and their ratio. The site
serves every page from memory (bytes built once at import), so the bare figure
is the server's own ceiling and the ratio is the paywall's cost:

* a member reading a 100 KB article (the page streams, protection tags injected);
* a non-member reading that article again (the cut comes from the cache);
* a non-member reading a 100 KB news page whose body differs on every
  request by a fresh CSRF token in its head, as real pages carry: the page
  is taken for the one judged before with another token, and its cut is
  that page's with the token replaced (:mod:`paywall.http.variants`). The
  page is ``bench/engine.py``'s: a 1,700-word story among a site's chrome,
  inline styles and scripts, its JSON-LD holding the whole text;
* the same page with the time it was made in its footer instead, to the
  microsecond (``Updated 13:05:22.123456``): a number of the same length, taken
  the same way as a token;
* the same page with a fresh line of text instead (the server that made it,
  named by a new word): no cache helps, every request parses, finds, cuts and
  sweeps;
* the same for the 100 KB article above (600 short paragraphs, about 15,000
  words: a long read's worth of blocks, the engine's worst case per byte);
* a small HTML page without an article;
* a 1 MB download.

After the member's row, two yardsticks measured the same way against the bare
site: the member's page behind a minimal middleware that does only what
sending it needs (:func:`minimal_member_site`: asks the resolver, makes the
page private, puts the protection tags in its head), and the bare site adding
only the two headers every personalised response carries
(:func:`private_site`). The first is the most any middleware of this kind
reaches behind this server on this machine; the gap between it and the
paywall's row is what everything else the paywall does costs.

Before measuring, every scenario is checked once: the non-member's page holds
no words from beyond the teaser, the member's holds them all.

Where the machine has two CPUs or more and ``taskset``, the servers run on one
CPU and ``wrk`` on another (``--no-pin`` lets them share), so that the client
does not take its turns on the measured server's core.

    python bench/http_load.py [--seconds 5] [--connections 16] [--rounds 3] [--http IMPL] [--loop IMPL] [--no-pin]

The ratios depend on what the server itself costs a request, which the
paywall's cost is set against. uvicorn's defaults take ``httptools`` and
``uvloop`` where they are installed (``uvicorn[standard]``, as most
production set-ups run it) and pure-Python ``h11`` and asyncio's own loop
where not (a plain ``pip install uvicorn``): the first is about three times
faster per request, so the same paywall shows a lower ratio behind it. The
table's first line names the implementations used; ``--http`` and ``--loop``
choose them (uvicorn's options of the same names).

The client runs on the same machine, so on a small machine it shares the CPU
with the server: each request is measured in ``--rounds`` pairs of runs, bare
and paywalled alternating, and the table gives the medians (of the rates and
of each pair's ratio). Even so, read the ratios as rough figures;
``bench/instructions.py --server`` counts the same servers' instructions per
request, which no other load on the machine moves.
The table also gives the CPU time each server spent per request (from
``/proc``), and its ratio: on a busy machine that figure is steadier than the
throughput.
``bench/throughput.py`` isolates the engine's own cost.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.engine import news_page, sentence  # noqa: E402
from tests.servers import free_port, spawned  # noqa: E402

SECRET_WORDS = ("tessellwyn", "marrowgast", "brindlecomb")
MEMBER_HEADER = "x-bench-member"


def _article(size: int) -> bytes:
    teaser = "".join(
        f"<p>Teaser paragraph {n}: grid operators reported steady demand through the autumn months.</p>"
        for n in range(3)
    )
    secret = (
        "<p>The confidential forecast from tessellwyn partners shows a drop in margins; the marrowgast "
        "project slips again and the brindlecomb clause explains the merger talks.</p>"
    )
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Interconnector approved</title>'
        '<link rel="stylesheet" href="/site.css"></head><body><header><nav><a href="/">Home</a></nav></header>'
        "<main><article><h1>Interconnector approved</h1>"
    )
    tail = "</article></main><footer><p>Stay informed</p></footer></body></html>\n"
    body = teaser
    while len(head) + len(body) + len(tail) < size:
        body += secret
    return (head + body + tail).encode()


ARTICLE = _article(100 * 1024)
SMALL_PAGE = (
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Front page</title></head>'
    b'<body><header><nav><a href="/">Home</a></nav></header><main><div class="home"><h1>Front page</h1>'
    b"<ul><li><a href='/article'>Interconnector approved</a></li><li><a href='/b'>Oil reserves</a></li></ul>"
    b"</div></main><footer><p>Stay informed</p></footer></body></html>\n"
)
DOWNLOAD = bytes(range(256)) * 4096  # 1 MiB


def _serve(path: str, body: bytes, media_type: str) -> Route:
    async def endpoint(request: Request) -> Response:
        return Response(body, media_type=media_type)

    return Route(path, endpoint)


def _fresh(path: str, body: bytes, *, kind: str = "token") -> Route:
    """``body`` with something of its own in every response: a token (``kind="token"``: a CSRF token in its
    head, as a page with a CSRF token or a CSP nonce), the time it was made (``"time"``: a line in its footer,
    to the microsecond), or a line of text (``"text"``: the server that made it, named by a new word)."""
    at = body.index(b"</head>" if kind == "token" else b"</footer>")

    async def endpoint(request: Request) -> Response:
        if kind == "text":
            fresh = b"<p>Made by worker " + os.urandom(6).hex().encode() + b".</p>"
        elif kind == "time":
            now = time.time()
            fresh = (time.strftime("<p>Updated %H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}</p>").encode()
        else:
            fresh = b'<meta name="csrf-token" content="' + os.urandom(16).hex().encode() + b'">'
        return Response(body[:at] + fresh + body[at:], media_type="text/html; charset=utf-8")

    return Route(path, endpoint)


NEWS_PAGE = news_page(padding=70_000).encode()

site = Starlette(
    routes=[
        _serve("/article", ARTICLE, "text/html; charset=utf-8"),
        _fresh("/news", NEWS_PAGE),
        _fresh("/news-time", NEWS_PAGE, kind="time"),
        _fresh("/news-text", NEWS_PAGE, kind="text"),
        _fresh("/fresh", ARTICLE, kind="text"),
        _serve("/", SMALL_PAGE, "text/html; charset=utf-8"),
        _serve("/download.bin", DOWNLOAD, "application/octet-stream"),
    ]
)


#: What every personalised response carries, whoever adds it: a shared cache must not keep it for others.
PRIVATE_HEADERS = [(b"cache-control", b"private, no-store"), (b"vary", b"Cookie")]


async def private_site(scope: Any, receive: Any, send: Any) -> None:
    """The bare site with :data:`PRIVATE_HEADERS` added to every response, and nothing else: a yardstick for the
    paywall's cost on a member's page, whose headers these are (``bench/instructions.py --server``)."""

    async def send_private(message: Any) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *PRIVATE_HEADERS]}
        await send(message)

    await site(scope, receive, send_private if scope["type"] == "http" else send)


def minimal_member_site() -> Any:
    """The bare site behind the least a middleware must do to send a member's page: a yardstick for the
    paywall's member row (``bench/instructions.py``).

    It asks :func:`is_member` with a Starlette ``Request``, as the paywall asks its member resolver; drops
    the caching headers and adds :data:`PRIVATE_HEADERS`; and puts the paywall's protection tags before
    ``</head>``, sending the same page again without a copy when the body is the one it last made (as the
    paywall does). Nothing else: no reader kept for the app, no count of the view, no check of ranges,
    codings or validators, no other kind of reader or response. Every response is taken for a member's page.
    """
    from paywall import PaywallSettings
    from paywall.http.middleware import CACHE_HEADERS
    from paywall.protection.assets import Assets
    from paywall.protection.tags import Protection

    settings = PaywallSettings(secret_key="bench-secret-key-0123456789")
    tags = Protection(settings, Assets(settings.prefix)).head_html().encode()
    last: dict[str, tuple[bytes, bytes]] = {}
    caching = frozenset(CACHE_HEADERS)  # dropped from a member's page, as the paywall drops them

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not await is_member(Request(scope)):
            await site(scope, receive, send)
            return

        async def send_member(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = []
                for name, value in message.get("headers", []):
                    if name == b"content-length":
                        value = str(int(value) + len(tags)).encode()
                    if name not in caching:
                        headers.append((name, value))
                message = {**message, "headers": [*headers, *PRIVATE_HEADERS]}
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                made = last.get(scope["path"])
                if made is None or made[0] != body:
                    at = body.find(b"</head>")
                    made = last[scope["path"]] = (body, body[:at] + tags + body[at:])
                message = {**message, "body": made[1]}
            await send(message)

        await site(scope, receive, send_member)

    return app


def build_app() -> object:
    """The same site behind the paywall, configured from ``PAYWALL_*`` variables.

    ``BENCH_INSIGHTS_INTERVAL`` (seconds) stretches the pause between the insights' writes to the store
    (once a second): ``bench/instructions.py --server`` sets it, see there.
    """
    from paywall import PaywallMiddleware, PaywallSettings

    app = PaywallMiddleware(site, settings=PaywallSettings.from_env())
    interval = os.environ.get("BENCH_INSIGHTS_INTERVAL")
    if interval and app.insights.events is not None:
        app.insights.events.interval = float(interval)
    return app


async def is_member(request: object) -> bool:
    """The benchmark's member resolver: a header marks members.

    Async, as a resolver that asks an account service is: a sync resolver runs in a
    worker thread (so that a slow one cannot hold up other readers), which adds a
    thread hop of about 0.1 to 0.3 ms to every request that needs the reader.
    """
    headers = getattr(request, "headers", {})
    return bool(headers.get(MEMBER_HEADER))


MEMBER_ROW = "member, 100 KB article"
SCENARIOS = [
    (MEMBER_ROW, "/article", {MEMBER_HEADER: "1"}),
    ("non-member, repeat article", "/article", {}),
    ("non-member, news, new token", "/news", {}),
    ("non-member, news, new time", "/news-time", {}),
    ("non-member, news, new text", "/news-text", {}),
    ("non-member, long read, new text", "/fresh", {}),
    ("small page, no article", "/", {}),
    ("1 MB download", "/download.bin", {}),
]


def check(base: str) -> None:
    """Each scenario answers as it must before it is timed."""
    member = httpx.get(base + "/article", headers={MEMBER_HEADER: "1"}, timeout=30)
    assert all(w in member.text for w in SECRET_WORDS), "the member did not get the whole article"
    gated = httpx.get(base + "/article", timeout=30)
    assert gated.status_code == 200 and not any(w in gated.text for w in SECRET_WORDS), "the article leaked"
    assert "Teaser paragraph 0" in gated.text, "the non-member did not get the teaser"
    fresh = [httpx.get(base + "/fresh", timeout=30) for _ in range(2)]
    assert all(r.status_code == 200 and not any(w in r.text for w in SECRET_WORDS) for r in fresh), "it leaked"
    assert fresh[0].text != fresh[1].text and "Teaser paragraph 0" in fresh[0].text
    last = sentence(23 * 10 + 3)  # from the story's last paragraph
    for path in ("/news", "/news", "/news-time", "/news-time", "/news-text", "/news-text"):
        news = httpx.get(base + path, timeout=30)
        assert news.status_code == 200 and "paywall-cta" in news.text and last not in news.text, "the news page leaked"
    assert httpx.get(base + "/", timeout=30).content == SMALL_PAGE
    assert httpx.get(base + "/download.bin", timeout=30).content == DOWNLOAD


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """``--http`` and ``--loop``: uvicorn's HTTP parser and event loop (its options of the same names)."""
    from paywall.config import EVENT_LOOPS, HTTP_PARSERS

    parser.add_argument("--http", choices=HTTP_PARSERS, default="auto", help="uvicorn's --http")
    parser.add_argument("--loop", choices=EVENT_LOOPS, default="auto", help="uvicorn's --loop")


def implementations(http: str, loop: str) -> tuple[str, str]:
    """The HTTP protocol and event loop that uvicorn's ``--http`` and ``--loop`` choices come to here."""
    import importlib.util

    def installed(name: str) -> bool:
        return importlib.util.find_spec(name) is not None

    return (
        http if http != "auto" else "httptools" if installed("httptools") else "h11",
        loop if loop != "auto" else "uvloop" if installed("uvloop") else "asyncio",
    )


def pinned(cpu: int | None) -> list[str]:
    """The prefix that runs a command on ``cpu`` alone (``taskset``), or none."""
    return ["taskset", "-c", str(cpu)] if cpu is not None else []


def cpus_for_load() -> tuple[int | None, int | None]:
    """The CPUs for the servers and for ``wrk``: two different ones where the machine has two and ``taskset``.

    Unpinned, the measured server and ``wrk`` share the cores as the scheduler moves them, which on a small
    machine moves a ratio by a tenth from run to run.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return None, None
    return cpus[-1], cpus[0]


@contextlib.contextmanager
def server(
    app: str,
    env: dict[str, str],
    *,
    factory: bool = False,
    http: str = "auto",
    loop: str = "auto",
    cpu: int | None = None,
) -> Iterator[tuple[str, int]]:
    """One uvicorn process serving ``app`` on loopback (on ``cpu`` alone, when given): its URL and process id."""
    port = free_port()
    argv = [*pinned(cpu), sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--log-level", "warning"]
    argv += ["--no-access-log", "--http", http, "--loop", loop, *(["--factory"] if factory else [])]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    with spawned(argv, port, env=full_env) as proc:
        yield f"http://127.0.0.1:{port}", proc.pid


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    target: tuple[str, int],
    path: str,
    headers: dict[str, str],
    seconds: int,
    connections: int,
    cpu: int | None = None,
) -> tuple[float, float]:
    """Requests per second, and the server's CPU microseconds per request (``wrk`` on ``cpu``, when given)."""
    base, pid = target
    # A request the engine judges afresh takes milliseconds, and a few of the connections wait their turn for
    # longer than wrk's own two seconds: a time-out there would be counted as an error, not as the wait it is.
    argv = [*pinned(cpu), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    before = cpu_seconds(pid)
    out = subprocess.run([*argv, base + path], capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(pid) - before
    found = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if found is None or rate is None or errors is not None:
        raise RuntimeError(f"wrk failed against {base}{path}:\n{out}")
    return float(rate.group(1)), used / int(found.group(1)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=3, help="bare and paywalled runs per request, alternating (medians printed)"
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="let the servers and wrk share the CPUs (pinned apart by default)"
    )
    add_server_options(parser)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk)")
    http, loop = implementations(args.http, args.loop)
    server_cpu, wrk_cpu = (None, None) if args.no_pin else cpus_for_load()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "PAYWALL_SECRET_KEY": "bench-secret-key-0123456789",
            "PAYWALL_STORE": f"sqlite:///{tmp}/bench.db",
            "PAYWALL_MEMBER_RESOLVER": "bench.http_load:is_member",
        }
        options: dict[str, Any] = {"http": http, "loop": loop, "cpu": server_cpu}
        with (
            server("bench.http_load:site", {}, **options) as bare,
            server("bench.http_load:build_app", env, factory=True, **options) as paywalled,
            server("bench.http_load:minimal_member_site", {}, factory=True, **options) as minimal,
            server("bench.http_load:private_site", {}, **options) as private,
        ):
            check(paywalled[0])
            where = f"; the servers on CPU {server_cpu}, wrk on CPU {wrk_cpu}" if server_cpu is not None else ""
            print(f"uvicorn with {http} and {loop}{where}")
            print(
                f"{'request':30} {'bare req/s':>10} {'paywall req/s':>13} {'ratio':>6}"
                f" {'bare CPU us/req':>15} {'paywall CPU us/req':>18} {'ratio':>6}"
            )
            rows = [(name, path, headers, paywalled) for name, path, headers in SCENARIOS]
            member = next(row for row in SCENARIOS if row[0] == MEMBER_ROW)
            rows[1:1] = [
                ("  yardstick: minimal middleware", member[1], member[2], minimal),
                ("  yardstick: private headers", member[1], member[2], private),
            ]
            for name, path, headers, measured_target in rows:
                bare_rps, rps, ratio, bare_cpu, cpu, cpu_ratio = compare(
                    bare, measured_target, path, headers, args.rounds, args.seconds, args.connections, wrk_cpu
                )
                print(
                    f"{name:30} {bare_rps:10.0f} {rps:13.0f} {ratio:6.2f}"
                    f" {bare_cpu:15.0f} {cpu:18.0f} {cpu_ratio:6.2f}",
                    flush=True,
                )


def compare(
    bare: tuple[str, int],
    other: tuple[str, int],
    path: str,
    headers: dict[str, str],
    rounds: int,
    seconds: int,
    connections: int,
    wrk_cpu: int | None = None,
) -> tuple[float, float, float, float, float, float]:
    """Medians over ``rounds`` of the bare and the other server's rates, their ratio, CPU us per request, ratio.

    Bare and other runs alternate, the first of each pair swapped every round, so that a drift in the
    machine's speed weighs on both.
    """
    found = []
    for n in range(rounds):
        pair = [(bare, True), (other, False)]
        measured = {is_bare: wrk(target, path, headers, seconds, connections, wrk_cpu)
                    for target, is_bare in (pair if n % 2 == 0 else pair[::-1])}  # fmt: skip
        found.append((*measured[True], *measured[False]))
    bare_rps, bare_cpu, rps, cpu = (statistics.median(column) for column in zip(*found, strict=True))
    ratio = statistics.median(r[2] / r[0] for r in found)
    cpu_ratio = statistics.median(r[1] / r[3] for r in found)
    return bare_rps, rps, ratio, bare_cpu, cpu, cpu_ratio


if __name__ == "__main__":
    main()
