"""The ``paywall`` command: serve, check settings, manage trials, trace copies.

Exit status: 0 on success; 1 when the command ran but found nothing to do or
could not reach a service (no such trial, no mark, store down); 2 on a bad
command line, settings file or value, always reported as one line
``error: <field>: <problem>`` on standard error.

Settings come from the TOML file (``--config`` or ``PAYWALL_CONFIG``), then
``PAYWALL_*`` environment variables, then flags (``--set NAME=VALUE`` and the
named flags of each command), each overriding the one before.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import json
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from .config import (
    EVENT_LOOPS,
    HTTP_PARSERS,
    LOG_LEVELS,
    ServerOptions,
    Sourced,
    collect_values,
    load_server_options,
    settings_from_values,
)
from .errors import ConfigError, StoreUnavailable
from .settings import PaywallSettings

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
#: What a shell reports for a program stopped by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141

_SETTINGS_HELP = (
    "Settings are read from the TOML file given by --config (or PAYWALL_CONFIG), then from PAYWALL_* "
    "environment variables, then from flags; each source overrides the one before. "
    "examples/paywall.toml lists every setting with its default."
)


class UsageError(Exception):
    """A bad command line or value: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one ``error:`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument "):
            message = message[len("argument ") :]
        self.exit(EXIT_USAGE, f"error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------------------
# argument types


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {value}")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes, got {text!r}") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"must be between 1 and 256, got {value}")
    return value


def _assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if name not in PaywallSettings.field_names():
        raise argparse.ArgumentTypeError(f"{name}: unknown setting")
    return name, value


def _assignment_any(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


# ---------------------------------------------------------------------------
# parser


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="paywall",
        description=(
            "A paywall for news sites: non-members get articles cut at the teaser with one call to "
            "action, members get the whole page. Run it in front of any HTTP site (proxy), try it on "
            "the example site (demo), and manage it from here."
        ),
        epilog=_SETTINGS_HELP,
    )
    parser.add_argument("--version", action="version", version=f"paywall {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def settings_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--config", metavar="FILE", help="TOML settings file (default: $PAYWALL_CONFIG, else none)")
        sub.add_argument(
            "--set",
            dest="assignments",
            metavar="NAME=VALUE",
            type=_assignment,
            action="append",
            default=[],
            help="override one setting, e.g. --set teaser_paragraphs=2 (repeatable; lists are comma-separated)",
        )

    def serve_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--host", help="address to listen on (default: 127.0.0.1, or [server] host)")
        sub.add_argument(
            "--port", type=_port, metavar="PORT", help="port to listen on (default: 8000, or [server] port)"
        )
        sub.add_argument(
            "--workers", type=_workers, metavar="N", help="worker processes (default: 1, or [server] workers)"
        )
        sub.add_argument(
            "--log-level",
            dest="log_level",
            choices=LOG_LEVELS,
            help="server log level (default: info)",
        )
        sub.add_argument(
            "--http",
            choices=HTTP_PARSERS,
            help="uvicorn's HTTP parser (default: auto, httptools where installed, or [server] http)",
        )
        sub.add_argument(
            "--loop",
            choices=EVENT_LOOPS,
            help="uvicorn's event loop (default: auto, uvloop where installed, or [server] loop)",
        )

    demo = commands.add_parser(
        "demo",
        help="serve the example news site behind the paywall",
        description=(
            "Serve the example news site (examples/news_site in a source checkout) behind the paywall, "
            "on http://127.0.0.1:8000 by default, with trials kept in SQLite. Without a configured "
            "secret_key a random one is made for this run (trial cookies then last until the restart)."
        ),
        epilog=_SETTINGS_HELP,
    )
    serve_options(demo)
    demo.add_argument("--store", metavar="URL", help="trial store, e.g. sqlite:///paywall.db or redis://host:6379/0")
    settings_options(demo)

    proxy = commands.add_parser(
        "proxy",
        help="serve any HTTP site through the paywall (reverse proxy)",
        description=(
            "Forward every request to the upstream site and gate its article pages on the way back. "
            "Bodies stream both ways; redirects, cookies and status codes pass through; the upstream "
            "receives its own host in Host and the reader's in X-Forwarded-Host, X-Forwarded-Proto and "
            "X-Forwarded-For. The site can mark a response 'X-Paywall: free' or 'X-Paywall: members', "
            "or a reader as a member with 'X-Paywall-Access: member'; both headers are removed before "
            "the reader sees the response. WebSockets are not proxied."
        ),
        epilog=_SETTINGS_HELP,
    )
    proxy.add_argument(
        "--upstream", metavar="URL", help="the site to protect, e.g. http://127.0.0.1:8080 (or upstream setting)"
    )
    serve_options(proxy)
    settings_options(proxy)

    check = commands.add_parser(
        "check-config",
        help="validate the settings and print the effective values",
        description=(
            "Validate the settings from every source and print the effective values, secrets masked, "
            "as TOML (or JSON with --json). Exit status 2 and one line naming the field on a problem."
        ),
        epilog=_SETTINGS_HELP,
    )
    settings_options(check)
    check.add_argument("--json", action="store_true", help="print JSON instead of TOML")

    trials = commands.add_parser(
        "trials",
        help="list or revoke free trials",
        description="Inspect and revoke free trials in the configured store (SQLite or Redis).",
        epilog=_SETTINGS_HELP,
    )
    trial_commands = trials.add_subparsers(dest="trials_command", metavar="ACTION", title="actions")
    listing = trial_commands.add_parser(
        "list",
        help="list every trial, newest first",
        description="List every trial in the store, newest first: e-mail, status, start, end, id.",
        epilog=_SETTINGS_HELP,
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    settings_options(listing)
    revoke = trial_commands.add_parser(
        "revoke",
        help="revoke the trials of an e-mail address",
        description=(
            "Revoke every trial of EMAIL (normalised as at sign-up). The trial stops working at the "
            "reader's next request on every instance sharing the store. Exit status 1 when the "
            "address has no trial."
        ),
        epilog=_SETTINGS_HELP,
    )
    revoke.add_argument("email", metavar="EMAIL", help="the address the reader signed up with")
    settings_options(revoke)

    stats = commands.add_parser(
        "stats",
        help="the conversion funnel, top articles and call-to-action experiments",
        description=(
            "Print the funnel (walls shown, trial page views, trials started, conversion), the figures per "
            "article, the top articles by trials started, and each call-to-action variant's conversion with "
            "its 95%% interval and whether it differs significantly from the first (the control). Reads the "
            "configured store; days are UTC."
        ),
        epilog=_SETTINGS_HELP,
    )
    stats.add_argument(
        "--since", default="30d", metavar="PERIOD", help="30d (the default), any number of days, or a date YYYY-MM-DD"
    )
    stats.add_argument("--json", action="store_true", help="print JSON instead of tables")
    settings_options(stats)

    inspect = commands.add_parser(
        "inspect",
        help="show what the paywall makes of one page (a file or a URL)",
        description=(
            "Gate one page as a non-member's first view, with the same settings as the other commands, "
            "and report which element was taken for the article, the first and last words of the teaser, "
            "how many words are withheld, every copy found and swept, and the time of each stage. "
            "Exit status 0 when the page is gated or has no article, 1 when the engine refuses it."
        ),
        epilog=_SETTINGS_HELP,
    )
    inspect.add_argument("page", metavar="FILE|URL", help="an HTML file, '-' for standard input, or an http(s) URL")
    inspect.add_argument("--html", metavar="OUT", help="write the gated page to this file")
    settings_options(inspect)

    trace = commands.add_parser(
        "trace",
        help="name the reader whose copy a pasted text is",
        description=(
            "Read text copied from the site (with trace_copies on) and print the subject (trial or member "
            "id) of the reader who copied it, or 'no mark found' with exit status 1. The same secret_key "
            "(or one of secret_key_fallbacks) must be configured."
        ),
        epilog=_SETTINGS_HELP,
    )
    trace.add_argument("file", metavar="FILE", help="file with the pasted text, or '-' for standard input")
    settings_options(trace)

    ranges = commands.add_parser(
        "crawler-ranges",
        help="download the search engines' published crawler IP ranges",
        description=(
            "Download the IP ranges each configured crawler's engine publishes (Google's googlebot.json, "
            "Bing's bingbot.json), check each file, and write it as <crawler>.json in the folder that "
            "crawler_ranges_dir names (or --out). A file that cannot be fetched or is no ranges document "
            "leaves the one there as it was, and the exit status is 1. Run it now and then (cron), then "
            "restart the server: ranges are read when it starts."
        ),
        epilog=_SETTINGS_HELP,
    )
    ranges.add_argument("--out", metavar="DIR", help="folder to write to (default: the crawler_ranges_dir setting)")
    ranges.add_argument(
        "--url",
        dest="urls",
        metavar="CRAWLER=URL",
        type=_assignment_any,
        action="append",
        default=[],
        help="fetch this crawler's ranges from URL instead (repeatable)",
    )
    settings_options(ranges)
    return parser


# ---------------------------------------------------------------------------
# commands


def _overrides(args: argparse.Namespace, **named: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(args.assignments)
    values.update({k: v for k, v in named.items() if v is not None})
    return values


def _server_options(args: argparse.Namespace, env: Mapping[str, str]) -> ServerOptions:
    return load_server_options(
        args.config,
        env,
        {
            "host": args.host,
            "port": args.port,
            "workers": args.workers,
            "log_level": args.log_level,
            "http": args.http,
            "loop": args.loop,
        },
    )


def _cmd_demo(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from .http.server import ServeSpec, load_demo_site, serve, settings_for

    site = load_demo_site()
    overrides = _overrides(args, store=args.store)
    if "secret_key" not in collect_values(args.config, env, overrides, defaults=site.defaults):
        overrides["secret_key"] = secrets.token_urlsafe(32)
        _note(
            "no secret_key configured: using a random one for this run "
            "(set PAYWALL_SECRET_KEY to keep trials across restarts)"
        )
    spec = ServeSpec("demo", args.config, overrides)
    settings = settings_for(spec, env)
    options = _server_options(args, env)
    _note(f"the example news site behind the paywall on http://{options.host}:{options.port}/")
    serve(spec, settings, options)
    return EXIT_OK


def _cmd_proxy(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from .http.server import ServeSpec, require_upstream, serve, settings_for

    spec = ServeSpec("proxy", args.config, _overrides(args, upstream=args.upstream))
    settings = settings_for(spec, env)
    upstream = require_upstream(settings)
    options = _server_options(args, env)
    _note(f"proxying {upstream} through the paywall on http://{options.host}:{options.port}/")
    serve(spec, settings, options)
    return EXIT_OK


def _cmd_check_config(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = settings_from_values(collect_values(args.config, env, _overrides(args)))
    from .access.credentials import Credentials

    Credentials.load(settings)  # reads the JWT key files as start-up does: a bad one is a bad setting
    server = load_server_options(args.config, env)
    masked = settings.masked()
    if args.json:
        print(json.dumps({**masked, "server": dataclasses.asdict(server)}, indent=2, sort_keys=False))
    else:
        print("# effective paywall settings (secrets masked)")
        for name, value in masked.items():
            print(_toml_line(name, value))
        print("\n[server]")
        for name, value in dataclasses.asdict(server).items():
            print(_toml_line(name, value))
    return EXIT_OK


def _unsigned_settings(args: argparse.Namespace, env: Mapping[str, str]) -> PaywallSettings:
    """Settings for a command that signs nothing: no secret key is needed."""
    values = collect_values(args.config, env, _overrides(args))
    values.setdefault("secret_key", Sourced(secrets.token_urlsafe(32), "an unused placeholder"))
    return settings_from_values(values)


def _store_settings(args: argparse.Namespace, env: Mapping[str, str]) -> PaywallSettings | None:
    """Settings for a command that only reads or changes the store; None (said why) when it does not exist yet."""
    settings = _unsigned_settings(args, env)
    missing = _missing_sqlite_file(settings.store)
    if missing is not None:
        print(
            f"paywall: no store at {missing}: the server creates it (in the folder it was started from, "
            "for the default sqlite:///paywall.db) when it first needs it; name another with "
            "--set store=URL or --config FILE",
            file=sys.stderr,
        )
        return None
    return settings


def _cmd_trials(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if args.trials_command is None:
        raise UsageError("trials: choose an action: list or revoke (see 'paywall trials --help')")
    settings = _store_settings(args, env)
    if settings is None:
        return EXIT_NOT_FOUND
    if args.trials_command == "list":
        return asyncio.run(_trials_list(settings, as_json=args.json))
    return asyncio.run(_trials_revoke(settings, args.email))


def _missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite store that does not exist yet (reading it must not create it)."""
    if not url.startswith("sqlite://"):
        return None
    from .access.store.sqlite import SQLiteStore

    path = SQLiteStore.from_url(url).path
    return None if os.path.exists(path) else os.path.abspath(path)


async def _trials_list(settings: PaywallSettings, *, as_json: bool) -> int:
    from .access.store import open_store

    store = open_store(settings.store)
    try:
        trials = await store.list_trials()
    finally:
        await store.aclose()
    now = datetime.datetime.now(datetime.UTC).timestamp()
    rows = [
        {
            "email": t.email,
            "status": "revoked" if t.revoked else ("active" if t.active(now) else "ended"),
            "started_at": _iso(t.started_at),
            "ends_at": _iso(t.ends_at),
            "trial_id": t.trial_id,
        }
        for t in trials
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no trials")
        return EXIT_OK
    columns = ("email", "status", "started_at", "ends_at", "trial_id")
    print("\n".join(_columns([c.upper() for c in columns], [[row[c] for c in columns] for row in rows], indent="")))
    return EXIT_OK


async def _trials_revoke(settings: PaywallSettings, raw_email: str) -> int:
    from .access.readers import is_valid_email, reader_email
    from .access.store import open_store

    email = reader_email(raw_email, settings)
    if not is_valid_email(email):
        raise ConfigError("email", f"not a valid e-mail address: {raw_email!r}")
    store = open_store(settings.store)
    try:
        count = await store.revoke_trial(email)
    finally:
        await store.aclose()
    if count == 0:
        print(f"no trial for {email}")
        return EXIT_NOT_FOUND
    print(f"revoked {count} trial{'s' if count != 1 else ''} of {email}")
    return EXIT_OK


def _cmd_stats(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from .insights.stats import parse_since

    today = datetime.datetime.now(datetime.UTC).date()
    try:
        since = parse_since(args.since, today)
    except ValueError as exc:
        raise ConfigError("since", str(exc)) from None
    settings = _store_settings(args, env)
    if settings is None:
        return EXIT_NOT_FOUND
    report = asyncio.run(_stats_report(settings, since, today))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_stats_text(report))
    return EXIT_OK


async def _stats_report(settings: PaywallSettings, since: datetime.date, until: datetime.date) -> dict[str, Any]:
    from .access.store import open_store
    from .insights.experiments import parse_variants
    from .insights.stats import build_report

    store = open_store(settings.store)
    try:
        counts = await store.event_counts(since_day=since.isoformat(), until_day=until.isoformat())
    finally:
        await store.aclose()
    names = [v.name for v in parse_variants(settings.cta_variants)]
    return build_report(counts, since=since, until=until, variants=names)


def _stats_text(report: dict[str, Any]) -> str:
    from .insights.stats import percent

    f = report["funnel"]
    lines = [
        f"paywall statistics from {report['since']} to {report['until']} (UTC)",
        "",
        f"walls shown              {f['walls_shown']}",
        f"trial page views         {f['trial_page_views']}",
        f"trials started           {f['trials_started']} ({f['trials_started_in_cta']} in the call to action, "
        f"{f['trials_started_on_page']} on the trial page)",
        f"trials refused           {f['trials_refused']}",
        f"conversion               {percent(f['conversion_rate'], 2)} (trials started per wall shown)",
        f"free articles read       {f['metered_views']}",
        f"member views             {f['member_views']}",
        f"verified crawler views   {f['crawler_views']}",
        f"copies blocked           {f['copies_blocked']}",
        "",
        "top articles by trials started",
    ]
    rows = [
        (a["article"], a["walls_shown"], a["trial_page_views"], a["trials_started"], percent(a["conversion_rate"], 2))
        for a in report["top_articles"]
    ]
    lines += _columns(("ARTICLE", "WALLS", "TRIAL PAGE", "TRIALS", "CONVERSION"), rows) if rows else ["  none"]
    if report["variants"]:
        lines += ["", f"call-to-action experiment (control: {report['experiment']['control']})"]
        rows = [
            (v["variant"], v["walls_shown"], v["trials_started"], percent(v["conversion_rate"], 2),
             f"{percent(v['rate_low'], 2)} to {percent(v['rate_high'], 2)}")
            for v in report["variants"]
        ]  # fmt: skip
        lines += _columns(("VARIANT", "WALLS", "TRIALS", "CONVERSION", "95% INTERVAL"), rows)
        lines += [f"  {text}" for text in report["experiment"]["verdicts"]]
    return "\n".join(lines)


def _columns(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, indent: str = "  ") -> list[str]:
    """A plain-text table: a header line, then one line per row, columns padded to their widest cell."""
    table = [tuple(headers), *(tuple(str(c) for c in row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table]


def _cmd_inspect(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = _unsigned_settings(args, env)
    from .inspect import inspect_page

    body, charset = _read_page(args.page)
    result = inspect_page(body, settings, source=args.page, charset=charset)
    for line in result.lines():
        print(line)
    if args.html and result.gated:
        with open(args.html, "wb") as handle:
            handle.write(result.gated)
        print(f"gated page written to {args.html}")
    return EXIT_NOT_FOUND if result.error else EXIT_OK


def _read_page(where: str) -> tuple[bytes, str | None]:
    """The page's bytes and the charset its HTTP header names (for a URL)."""
    if where.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(where, follow_redirects=True, timeout=30.0)
        except httpx.HTTPError as exc:
            raise ConfigError(where, f"cannot fetch: {exc}") from None
        return response.content, response.charset_encoding
    if where == "-":
        return sys.stdin.buffer.read(), None
    try:
        with open(where, "rb") as handle:
            return handle.read(), None
    except OSError as exc:
        raise ConfigError(where, exc.strerror or str(exc)) from None


def _cmd_crawler_ranges(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    import httpx

    from .access.crawlers import parse_crawlers, published_sources, write_ranges

    # The folder is where files are to be written, not read: it may not exist yet, or hold a broken file.
    values = collect_values(args.config, env, _overrides(args))
    configured = values.pop("crawler_ranges_dir", None)
    values.setdefault("secret_key", Sourced(secrets.token_urlsafe(32), "an unused placeholder"))
    settings = settings_from_values(values)
    folder = args.out or (str(configured.value) if configured is not None and configured.value else None)
    if not folder:
        raise ConfigError("out", "name the folder to write to with --out, or set crawler_ranges_dir")
    sources = published_sources(parse_crawlers(settings.crawlers), dict(args.urls))
    if not sources:
        print("no configured crawler publishes its ranges: nothing to fetch")
        return EXIT_NOT_FOUND
    failed = 0
    with httpx.Client(timeout=30.0, follow_redirects=True) as client:
        for key, url in sources.items():
            try:
                response = client.get(url)
                response.raise_for_status()
                ranges = write_ranges(folder, key, response.content)
            except (httpx.HTTPError, ValueError, OSError) as exc:
                failed += 1
                _error(f"{key}: {url}: {exc}")
                continue
            print(f"{key}: {ranges.count} networks from {url} -> {os.path.join(folder, key + '.json')}")
    return EXIT_NOT_FOUND if failed else EXIT_OK


def _cmd_trace(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = settings_from_values(collect_values(args.config, env, _overrides(args)))
    from .protection.tracing import trace_text

    if args.file == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            with open(args.file, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ConfigError(args.file, exc.strerror or str(exc)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(args.file, "is not UTF-8 text") from None
    subject = trace_text(settings, text)
    if subject is None:
        print("no mark found")
        return EXIT_NOT_FOUND
    print(subject)
    return EXIT_OK


# ---------------------------------------------------------------------------
# entry point


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run the command line; returns the exit status. ``env`` defaults to ``os.environ``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    environ: Mapping[str, str] = os.environ if env is None else env
    handlers = {
        "demo": _cmd_demo,
        "proxy": _cmd_proxy,
        "check-config": _cmd_check_config,
        "trials": _cmd_trials,
        "stats": _cmd_stats,
        "inspect": _cmd_inspect,
        "trace": _cmd_trace,
        "crawler-ranges": _cmd_crawler_ranges,
    }
    if args.command is None:
        _error(f"choose a command: {', '.join(handlers)} (see 'paywall --help')")
        return EXIT_USAGE
    try:
        status = handlers[args.command](args, environ)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return status
    except BrokenPipeError:
        # The reader of our output went away (``paywall check-config | head -1``): not an
        # error worth a traceback. Later writes go nowhere; the status is the shell's for SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except ConfigError as exc:
        _error(f"{exc.field}: {exc.problem}")
        return EXIT_USAGE
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except StoreUnavailable as exc:
        _error(f"store: cannot use the store ({exc})")
        return EXIT_NOT_FOUND
    except KeyboardInterrupt:
        return 130


# ---------------------------------------------------------------------------
# output helpers


def _error(message: str) -> None:
    print(f"error: {_one_line(message)}", file=sys.stderr)


def _note(message: str) -> None:
    print(f"paywall: {message}", file=sys.stderr)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _toml_line(name: str, value: Any) -> str:
    if value is None:
        return f"# {name} is not set"
    return f"{name} = {_toml_value(value)}"


if __name__ == "__main__":
    raise SystemExit(main())
