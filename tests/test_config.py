"""The settings file, its precedence under environment and flags, and its errors."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from paywall.config import (
    ServerOptions,
    collect_values,
    load_server_options,
    load_settings,
    read_config_file,
)
from paywall.errors import ConfigError
from paywall.settings import PaywallSettings
from tests.conftest import SECRET
from tests.servers import ROOT

EXAMPLE = ROOT / "examples" / "paywall.toml"


def write(tmp_path: Path, text: str, name: str = "paywall.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------------------
# the documented example


def test_example_lists_every_field_with_a_comment() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    listed: dict[str, int] = {}
    for number, line in enumerate(lines):
        match = re.match(r"^#?\s*([a-z0-9_]+)\s*=", line)
        if match and match.group(1) in PaywallSettings.field_names():
            listed.setdefault(match.group(1), number)
    assert set(listed) == set(PaywallSettings.field_names())
    for name, number in listed.items():
        comment = lines[number - 1]
        assert comment.startswith("# ") and "=" not in comment.split()[1], f"{name} has no comment line"


def test_example_parses_to_the_defaults() -> None:
    demo_secret = "demo-secret-for-the-example-file"
    settings = load_settings(str(EXAMPLE), {}, {"secret_key": demo_secret})
    assert settings == PaywallSettings(secret_key=demo_secret)
    assert load_server_options(str(EXAMPLE), {}) == ServerOptions()


def test_example_sets_every_field_that_has_a_value_by_default() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    defaults = PaywallSettings(secret_key=SECRET)
    for field in dataclasses.fields(PaywallSettings):
        value = getattr(defaults, field.name)
        if value is None or field.name == "secret_key":
            assert field.name not in data, f"{field.name} is unset by default: it belongs in a comment"
        else:
            assert field.name in data, f"{field.name} is missing"
            assert PaywallSettings.from_mapping({"secret_key": SECRET, field.name: data[field.name]}) == defaults


def test_example_alone_says_the_secret_is_required() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(str(EXAMPLE), {}, {})
    assert info.value.field == "secret_key"
    assert "PAYWALL_SECRET_KEY" in info.value.problem


# ---------------------------------------------------------------------------
# precedence


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'secret_key = "{SECRET}"\ntrial_days = 9\nteaser_paragraphs = 2\nsite_name = "From file"\n'
        'trusted_proxies = ["10.0.0.0/8"]\n',
    )
    env = {"PAYWALL_TRIAL_DAYS": "10", "PAYWALL_SITE_NAME": "From env", "PAYWALL_TRUSTED_PROXIES": "192.0.2.1"}
    settings = load_settings(path, env, {"trial_days": "11"})
    assert settings.trial_days == 11  # flag beats environment beats file
    assert settings.site_name == "From env"  # environment beats file
    assert settings.teaser_paragraphs == 2  # file beats default
    assert settings.trusted_proxies == ("192.0.2.1",)  # lists are replaced, not merged
    assert settings.upstream_timeout == 30.0  # default


def test_environment_alone_and_unrelated_variables(tmp_path: Path) -> None:
    env = {"PAYWALL_SECRET_KEY": SECRET, "PAYWALL_FREE_ARTICLES": "3", "PAYWALL_SOMETHING_ELSE": "x", "HOME": "/"}
    settings = load_settings(None, env, {})
    assert settings.free_articles == 3


def test_config_path_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, f'secret_key = "{SECRET}"\ntrial_days = 12\n[server]\nport = 9001\n')
    env = {"PAYWALL_CONFIG": path}
    assert load_settings(None, env, {}).trial_days == 12
    assert load_server_options(None, env).port == 9001


def test_server_options_file_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nhost = "0.0.0.0"\nport = 9000\nworkers = 3\n')
    options = load_server_options(path, {}, {"port": 9100, "host": None})
    assert options == ServerOptions(host="0.0.0.0", port=9100, workers=3)


def test_demo_defaults_sit_below_every_source(tmp_path: Path) -> None:
    values = collect_values(None, {"PAYWALL_SITE_NAME": "Env"}, {}, defaults={"site_name": "Demo", "trial_days": 5})
    assert values["site_name"].value == "Env"
    assert values["trial_days"].value == 5


# ---------------------------------------------------------------------------
# errors: one ConfigError naming the field and the problem


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(str(tmp_path / "nope.toml"), {}, {})
    assert info.value.field == "config"
    assert "no such file" in info.value.problem


def test_not_toml_shows_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, f'secret_key = "{SECRET}"\n\ntrial_days = = 7\n')
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    assert info.value.field == "config"
    assert "line 3" in info.value.problem


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('site_name = "Café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_config_file(str(path))


def test_unknown_key_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, f'secret_key = "{SECRET}"\nteaser_paragraps = 2\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    assert info.value.field == "teaser_paragraps"
    assert "unknown setting" in info.value.problem


def test_unknown_table_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, f'secret_key = "{SECRET}"\n[paywall]\ntrial_days = 2\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    assert info.value.field == "paywall"


def test_unknown_flag_setting() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"PAYWALL_SECRET_KEY": SECRET}, {"trial_dayz": "3"})
    assert info.value.field == "trial_dayz"


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        ("trial_days = 0", "trial_days", "between 1 and 3650"),
        ('trial_days = "seven"', "trial_days", "whole number"),
        ("trial_days = 7.5", "trial_days", "wrong type"),
        ('prefix = "paywall"', "prefix", "start with '/'"),
        ('trusted_proxies = ["not-an-ip"]', "trusted_proxies", "not an IP"),
        ('upstream = "ftp://example.org"', "upstream", "http://"),
        ('copy_protection = "maybe"', "copy_protection", ""),
        ('store = "mysql://db"', "store", "sqlite"),
    ],
)
def test_bad_value_in_the_file_names_field_and_file(tmp_path: Path, line: str, field: str, words: str) -> None:
    path = write(tmp_path, f'secret_key = "{SECRET}"\n{line}\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, {}, {})
    assert info.value.field == field
    assert words in info.value.problem
    assert path in info.value.problem


def test_bad_value_in_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"PAYWALL_SECRET_KEY": SECRET, "PAYWALL_UPSTREAM_TIMEOUT": "soon"}, {})
    assert info.value.field == "upstream_timeout"
    assert "PAYWALL_UPSTREAM_TIMEOUT" in info.value.problem


def test_short_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"PAYWALL_SECRET_KEY": "short"}, {})
    assert info.value.field == "secret_key"
    assert "short" not in info.value.problem  # the secret itself is never echoed


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ("port = 70000", "server.port"),
        ('port = "80"', "server.port"),
        ("workers = 0", "server.workers"),
        ('log_level = "loud"', "server.log_level"),
        ('http = "h2"', "server.http"),
        ('loop = "trio"', "server.loop"),
        ('host = ""', "server.host"),
        ("colour = 1", "server.colour"),
    ],
)
def test_bad_server_options(tmp_path: Path, table: str, field: str) -> None:
    path = write(tmp_path, f"[server]\n{table}\n")
    with pytest.raises(ConfigError) as info:
        load_server_options(path, {})
    assert info.value.field == field


def test_server_parser_and_loop_from_file_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nhttp = "h11"\nloop = "asyncio"\n')
    assert load_server_options(path, {}) == ServerOptions(http="h11", loop="asyncio")
    assert load_server_options(path, {}, {"http": "httptools", "loop": "uvloop"}).http == "httptools"


def test_a_compiled_parser_that_is_not_installed_is_named_with_its_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Told at start-up, with the extra that installs it, rather than as uvicorn's ImportError."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a))
    path = write(tmp_path, '[server]\nloop = "uvloop"\n')
    with pytest.raises(ConfigError) as info:
        load_server_options(path, {})
    assert info.value.field == "server.loop" and "paywall[server]" in info.value.problem


def test_server_must_be_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'server = "localhost"\n')
    with pytest.raises(ConfigError) as info:
        load_server_options(path, {})
    assert info.value.field == "server"
