"""Load settings from the three places a publisher can put them.

Precedence, lowest first: the TOML file, ``PAYWALL_*`` environment variables,
command-line flags. Each layer replaces whole values of the layer below (a list
given in the environment replaces the file's list; lists are not merged), so
what ``paywall check-config`` prints is exactly what runs.

The TOML file holds :class:`~paywall.settings.PaywallSettings` fields as
top-level keys, plus an optional ``[server]`` table (``host``, ``port``,
``workers``, ``log_level``) that only the command line reads: serving options
are not paywall settings, and a library user never needs them.

Every problem is one :class:`~paywall.errors.ConfigError` naming the field (or
the file) and the problem, so the command line can print a single line.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .settings import ENV_PREFIX, PaywallSettings, env_values

#: Environment variable naming the settings file when ``--config`` is not given.
CONFIG_ENV = "PAYWALL_CONFIG"

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
#: uvicorn's HTTP parsers and event loops; "auto" takes the compiled one where it is installed
#: (``paywall[server]``), else the pure-Python one.
HTTP_PARSERS = ("auto", "h11", "httptools")
EVENT_LOOPS = ("auto", "asyncio", "uvloop")
#: The compiled choices: each is a module of its name, which ``paywall[server]`` installs.
_COMPILED = frozenset({"httptools", "uvloop"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServerOptions:
    """How the command line serves the app (the ``[server]`` table, then flags)."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    http: str = "auto"
    loop: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host.strip():
            raise ConfigError("server.host", "must be a host name or IP address")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigError("server.port", f"must be a whole number between 0 and 65535, got {self.port!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or not 1 <= self.workers <= 256:
            raise ConfigError("server.workers", f"must be a whole number between 1 and 256, got {self.workers!r}")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError("server.log_level", f"must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        for name, value, choices in (("http", self.http, HTTP_PARSERS), ("loop", self.loop, EVENT_LOOPS)):
            if value not in choices:
                raise ConfigError(f"server.{name}", f"must be one of {', '.join(choices)}, got {value!r}")
            if value in _COMPILED and importlib.util.find_spec(value) is None:
                raise ConfigError(
                    f"server.{name}", f"{value} is not installed (python3 -m pip install 'paywall[server]')"
                )


@dataclasses.dataclass(frozen=True)
class Sourced:
    """A raw setting value and where it came from (for error messages)."""

    value: Any
    source: str


def config_path_from(config_path: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The settings file to read: the flag, else ``PAYWALL_CONFIG``, else none."""
    if config_path:
        return config_path
    environ = os.environ if env is None else env
    return environ.get(CONFIG_ENV) or None


def read_config_file(path: str) -> dict[str, Any]:
    """Parse a TOML settings file; a missing, unreadable or invalid file is a ConfigError."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError("config", f"no such file: {path}") from None
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("config", f"{path} is not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message already says "(at line N, column M)".
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None


def collect_values(
    config_path: str | None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Sourced]:
    """Merge the sources into raw values, each remembering where it came from.

    ``defaults`` (lowest precedence) lets a command bring its own starting
    values, like the demo site's member check. Unknown keys are errors in the
    file and in the flags (a misspelt setting silently ignored is a setting not
    applied). ``PAYWALL_*`` variables that name no field are left alone: the
    environment is shared with other programs.
    """
    path = config_path_from(config_path, env)
    known = set(PaywallSettings.field_names())
    values: dict[str, Sourced] = {k: Sourced(v, "defaults") for k, v in (defaults or {}).items() if k in known}
    if path:
        for key, value in read_config_file(path).items():
            if key == "server":
                continue
            if key not in known:
                raise ConfigError(key, f"unknown setting in {path}")
            values[key] = Sourced(value, path)
    for key, value in env_values(env).items():
        values[key] = Sourced(value, f"{ENV_PREFIX}{key.upper()}")
    for key, value in (overrides or {}).items():
        if key not in known:
            raise ConfigError(key, "unknown setting")
        values[key] = Sourced(value, "command line")
    return values


def settings_from_values(values: Mapping[str, Sourced]) -> PaywallSettings:
    """Build settings; a ConfigError names where the offending value came from."""
    if "secret_key" not in values:
        raise ConfigError("secret_key", "is required: set PAYWALL_SECRET_KEY or secret_key in the settings file")
    try:
        return PaywallSettings.from_mapping({k: v.value for k, v in values.items()})
    except ConfigError as exc:
        origin = values.get(exc.field)
        if origin is None:
            raise
        raise ConfigError(exc.field, f"{exc.problem} (from {origin.source})") from None


def load_settings(
    config_path: str | None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PaywallSettings:
    """Effective settings: TOML file < ``PAYWALL_*`` environment < ``overrides`` (flags).

    ``env`` defaults to ``os.environ``; ``config_path`` falls back to
    ``PAYWALL_CONFIG``. Raises :class:`ConfigError` on any problem.
    """
    return settings_from_values(collect_values(config_path, env, overrides))


def load_server_options(
    config_path: str | None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ServerOptions:
    """Serving options: the file's ``[server]`` table < ``overrides`` (flags; ``None`` values ignored)."""
    path = config_path_from(config_path, env)
    raw: dict[str, Any] = {}
    if path:
        table = read_config_file(path).get("server", {})
        if not isinstance(table, dict):
            raise ConfigError("server", f"must be a table ([server]) in {path}")
        raw.update(table)
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name for f in dataclasses.fields(ServerOptions)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"server.{key}", f"unknown server option (known: {', '.join(sorted(known))})")
    return ServerOptions(**raw)
