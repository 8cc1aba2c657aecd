"""The ``paywall`` command line: help, settings checks, trials, tracing and the demo."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paywall.access.store import open_store
from paywall.cli import main
from paywall.settings import PaywallSettings
from tests.conftest import SECRET
from tests.redis_server import redis_server
from tests.servers import ROOT, free_port, spawned

ENV = {"PAYWALL_SECRET_KEY": SECRET}


def run(capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    code = main(argv, env=ENV if env is None else env)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------
# help


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], ["demo", "proxy", "check-config", "trials", "trace", "PAYWALL_"]),
        (["demo"], ["example news site", "--host", "--port", "--config", "--store", "--workers", "secret_key"]),
        (["proxy"], ["--upstream", "--workers", "X-Forwarded-For", "X-Paywall", "WebSockets", "--set"]),
        (["check-config"], ["masked", "--json", "--config", "status 2"]),
        (["trials"], ["list", "revoke"]),
        (["trials", "list"], ["newest first", "--json"]),
        (["trials", "revoke"], ["EMAIL", "next request"]),
        (["trace"], ["FILE", "no mark found", "standard input"]),
    ],
)
def test_help_is_complete(capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"], env=ENV)
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for word in words:
        assert word in out, f"{word!r} missing from 'paywall {' '.join(argv)} --help'"


def test_help_from_a_real_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "paywall.cli", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: paywall")


# ---------------------------------------------------------------------------
# bad command lines: one line, exit status 2


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "error: choose a command"),
        (["proxy", "--port", "eighty"], "error: --port: expected a port number"),
        (["proxy", "--port", "70000"], "error: --port: must be between 0 and 65535"),
        (["proxy", "--workers", "0"], "error: --workers: must be between 1 and 256"),
        (["proxy"], "error: upstream: is required"),
        (["proxy", "--upstream", "ftp://x"], "error: upstream: must be an http:// or https:// URL"),
        (["check-config", "--set", "trial_dayz=3"], "error: --set: trial_dayz: unknown setting"),
        (["check-config", "--set", "novalue"], "error: --set: expected NAME=VALUE"),
        (["check-config", "--set", "trial_days=0"], "error: trial_days: must be between 1 and 3650"),
        (["check-config", "--config", "/nonexistent/paywall.toml"], "error: config: no such file"),
        (["bogus"], "error: COMMAND: invalid choice"),
        (["trials"], "error: trials: choose an action"),
        (["trials", "revoke"], "error: the following arguments are required: EMAIL"),
        (["trace"], "error: the following arguments are required: FILE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    try:
        code = main(argv, env=ENV)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(expected), err


def test_missing_secret_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, ["check-config"], env={})
    assert code == 2
    assert err.startswith("error: secret_key: is required")
    assert err.count("\n") == 1


def test_bad_file_is_one_line_with_the_line_number(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('trial_days = 7\nsite_name = "unterminated\n', encoding="utf-8")
    code, _, err = run(capsys, ["check-config", "--config", str(path)])
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("error: config: ")
    assert "line 2" in err


def test_bad_value_in_a_file_names_the_field(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "paywall.toml"
    path.write_text("teaser_paragraphs = -1\n", encoding="utf-8")
    code, _, err = run(capsys, ["check-config", "--config", str(path)])
    assert code == 2
    assert err.startswith("error: teaser_paragraphs: must be between 1 and 100")
    assert str(path) in err


# ---------------------------------------------------------------------------
# check-config


def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "paywall.toml"
    path.write_text(
        f'secret_key = "{SECRET}"\n'
        'secret_key_fallbacks = ["an-older-key-0123456789"]\n'
        'jwt_key = "jwt-shared-secret-0123456789-abcdefghij"\n'
        'jwt_algorithms = ["HS256"]\n'
        'jwt_audience = "news.example"\n'
        "trial_days = 9\n"
        'trusted_proxies = ["10.0.0.0/8"]\n'
        "[server]\nport = 9009\n",
        encoding="utf-8",
    )
    return path


def test_check_config_prints_effective_settings_with_secrets_masked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, ["check-config", "--config", str(good_file(tmp_path))], env={})
    assert code == 0, err
    for secret in (SECRET, "an-older-key-0123456789", "jwt-shared-secret-0123456789-abcdefghij"):
        assert secret not in out
    data = tomllib.loads(out)  # the text output is TOML
    assert data["secret_key"] == "****"
    assert data["secret_key_fallbacks"] == ["****"]
    assert data["jwt_key"] == "****"
    assert data["trial_days"] == 9
    assert data["trusted_proxies"] == ["10.0.0.0/8"]
    assert data["server"]["port"] == 9009
    assert "# article_selector is not set" in out
    assert set(PaywallSettings.field_names()) <= set(data) | {
        line.split()[1] for line in out.splitlines() if line.endswith(" is not set")
    }


def test_check_config_reads_the_jwt_key_files_as_start_up_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Settings read no file; check-config reads the key files the paywall would read when it starts."""
    missing = tmp_path / "jwks.json"
    env = {"PAYWALL_SECRET_KEY": SECRET, "PAYWALL_JWT_AUDIENCE": "news", "PAYWALL_JWT_JWKS_FILE": str(missing)}
    code, _, err = run(capsys, ["check-config"], env=env)
    assert code == 2 and "jwt_jwks_file" in err
    missing.write_text('{"keys": []}')
    code, _, err = run(capsys, ["check-config"], env=env)
    assert code == 0, err


def test_check_config_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, ["check-config", "--json", "--config", str(good_file(tmp_path))], env={})
    assert code == 0
    data = json.loads(out)
    assert data["secret_key"] == "****"
    assert data["article_selector"] is None
    assert data["server"] == {
        "host": "127.0.0.1",
        "port": 9009,
        "workers": 1,
        "log_level": "info",
        "http": "auto",
        "loop": "auto",
    }
    assert SECRET not in out


def test_check_config_environment_overrides_file_and_flags_override_environment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = str(good_file(tmp_path))
    env = {"PAYWALL_TRIAL_DAYS": "10", "PAYWALL_TEASER_PARAGRAPHS": "4"}
    _, out, _ = run(capsys, ["check-config", "--json", "--config", config], env=env)
    assert json.loads(out)["trial_days"] == 10
    _, out, _ = run(capsys, ["check-config", "--json", "--config", config, "--set", "trial_days=11"], env=env)
    data = json.loads(out)
    assert data["trial_days"] == 11
    assert data["teaser_paragraphs"] == 4


def test_check_config_reads_paywall_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, ["check-config", "--json"], env={"PAYWALL_CONFIG": str(good_file(tmp_path))})
    assert code == 0
    assert json.loads(out)["trial_days"] == 9


def test_check_config_of_the_example_with_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, ["check-config", "--json", "--config", str(ROOT / "examples" / "paywall.toml")])
    assert code == 0
    assert json.loads(out) == {
        **PaywallSettings(secret_key=SECRET).masked(),
        "server": {
            "host": "127.0.0.1",
            "port": 8000,
            "workers": 1,
            "log_level": "info",
            "http": "auto",
            "loop": "auto",
        },
    }


def test_check_config_in_a_real_process_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "paywall.toml"
    path.write_text('secret_key = "x"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "paywall.cli", "check-config", "--config", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: secret_key: must be at least 16 characters")
    assert result.stderr.count("\n") == 1


# ---------------------------------------------------------------------------
# trials


async def seed_trials(url: str) -> None:
    store = open_store(url)
    now = time.time()
    day = 86400
    try:
        await store.start_trial(
            trial_id="t-old", email="old@example.com", device_id="d1", started_at=now - 10 * day, ends_at=now - 3 * day
        )
        await store.start_trial(
            trial_id="t-new", email="reader@example.com", device_id="d2", started_at=now - 60, ends_at=now + 7 * day
        )
    finally:
        await store.aclose()


def check_trials_commands(capsys: pytest.CaptureFixture[str], store_url: str) -> None:
    asyncio.run(seed_trials(store_url))
    flags = ["--set", f"store={store_url}"]

    code, out, _ = run(capsys, ["trials", "list", "--json", *flags])
    assert code == 0
    rows = json.loads(out)
    assert [(r["email"], r["status"], r["trial_id"]) for r in rows] == [
        ("reader@example.com", "active", "t-new"),
        ("old@example.com", "ended", "t-old"),
    ]

    code, out, _ = run(capsys, ["trials", "list", *flags])
    assert code == 0
    assert out.splitlines()[0].split() == ["EMAIL", "STATUS", "STARTED_AT", "ENDS_AT", "TRIAL_ID"]
    assert "reader@example.com" in out and "active" in out

    # The address is normalised the way sign-up does it: case, spaces and +tags.
    code, out, _ = run(capsys, ["trials", "revoke", "  Reader+Newsletter@Example.COM ", *flags])
    assert code == 0
    assert out.strip() == "revoked 1 trial of reader@example.com"

    code, out, _ = run(capsys, ["trials", "list", "--json", *flags])
    assert {r["trial_id"]: r["status"] for r in json.loads(out)} == {"t-new": "revoked", "t-old": "ended"}

    code, out, _ = run(capsys, ["trials", "revoke", "nobody@example.com", *flags])
    assert code == 1
    assert out.strip() == "no trial for nobody@example.com"

    code, out, err = run(capsys, ["trials", "revoke", "not an address", *flags])
    assert code == 2
    assert err.startswith("error: email: not a valid e-mail address")


def test_trials_on_sqlite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    check_trials_commands(capsys, f"sqlite:///{tmp_path / 'trials.db'}")


@pytest.mark.redis
def test_trials_on_redis(capsys: pytest.CaptureFixture[str]) -> None:
    with redis_server() as server:
        check_trials_commands(capsys, server.url)


def test_trials_list_empty(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    asyncio.run(_touch_store(url))
    code, out, _ = run(capsys, ["trials", "list", "--set", f"store={url}"])
    assert code == 0
    assert out.strip() == "no trials"


async def _touch_store(url: str) -> None:
    store = open_store(url)
    await store.meter_used(device_id="d", period="2026-11")
    await store.aclose()


def test_trials_commands_never_create_a_store(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    for argv in (["trials", "list"], ["trials", "revoke", "a@example.com"]):
        code, _, err = run(capsys, [*argv, "--set", f"store=sqlite:///{missing}"])
        assert code == 1
        assert f"no store at {missing}" in err
    assert not missing.exists()


def test_trials_commands_need_no_secret(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    asyncio.run(_touch_store(url))
    code, out, err = run(capsys, ["trials", "list", "--set", f"store={url}"], env={})
    assert (code, out.strip()) == (0, "no trials"), err


def test_trials_with_the_store_down(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, ["trials", "list", "--set", f"store=redis://127.0.0.1:{free_port()}/0"])
    assert code == 1
    assert err.startswith("error: store: ")
    assert err.count("\n") == 1


# ---------------------------------------------------------------------------
# trace


def test_trace_names_the_reader(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from paywall.protection.tracing import embed, mark_for

    settings = PaywallSettings(secret_key=SECRET)
    text = embed(" ".join(f"word{i}" for i in range(40)), mark_for(settings, "trial:abc123"))
    path = tmp_path / "pasted.txt"
    path.write_text(text, encoding="utf-8")
    code, out, _ = run(capsys, ["trace", str(path)])
    assert code == 0
    assert out.strip() == "trial:abc123"


def test_trace_from_standard_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from paywall.protection.tracing import embed, mark_for

    text = embed("one two three four five", mark_for(PaywallSettings(secret_key=SECRET), "member-7"))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8"))
    code, out, _ = run(capsys, ["trace", "-"])
    assert code == 0
    assert out.strip() == "member-7"


def test_trace_without_a_mark(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "plain.txt"
    path.write_text("nothing hidden in here", encoding="utf-8")
    code, out, _ = run(capsys, ["trace", str(path)])
    assert code == 1
    assert out.strip() == "no mark found"


def test_trace_with_another_key_finds_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from paywall.protection.tracing import embed, mark_for

    foreign = PaywallSettings(secret_key="another-secret-key-abcdefghijkl")
    path = tmp_path / "pasted.txt"
    path.write_text(embed("a b c d e f", mark_for(foreign, "someone")), encoding="utf-8")
    code, out, _ = run(capsys, ["trace", str(path)])
    assert code == 1
    assert out.strip() == "no mark found"


@pytest.mark.parametrize("content", [None, b"\xff\xfe not utf-8"])
def test_trace_bad_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "pasted.txt"
    if content is not None:
        path.write_bytes(content)
    code, _, err = run(capsys, ["trace", str(path)])
    assert code == 2
    assert err.startswith(f"error: {path}: ")
    assert err.count("\n") == 1


# ---------------------------------------------------------------------------
# demo


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    argv = [sys.executable, "-m", "paywall.cli", "demo", "--port", str(port), "--log-level", "warning"]
    argv += ["--store", f"sqlite:///{tmp_path / 'demo.db'}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYWALL_")}
    env["PYTHONPATH"] = str(ROOT)
    with spawned(argv, port, env=env, cwd=tmp_path) as proc:
        yield f"http://127.0.0.1:{port}", proc


def test_demo_serves_the_example_site_behind_the_paywall(demo: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, proc = demo
    home = httpx.get(f"{url}/", timeout=10)
    assert home.status_code == 200
    article = httpx.get(f"{url}/articles/grid-transformer-shortage", timeout=10)
    assert article.status_code == 200
    assert article.text.count('class="paywall-cta"') == 1
    member = httpx.get(f"{url}/articles/grid-transformer-shortage", cookies={"demo_member": "1"}, timeout=10)
    assert 'class="paywall-cta"' not in member.text
    assert len(member.text) > len(article.text)
    trial = httpx.get(f"{url}/_paywall/trial?next=/articles/grid-transformer-shortage", timeout=10)
    assert trial.status_code == 200
    proc.terminate()
    output = proc.communicate(timeout=10)[0].decode()
    assert "no secret_key configured: using a random one for this run" in output


def test_demo_without_the_example_site_is_one_clear_error(tmp_path: Path) -> None:
    from paywall.errors import ConfigError
    from paywall.http.server import load_demo_site

    with pytest.raises(ConfigError) as info:
        load_demo_site(tmp_path / "examples")
    assert info.value.field == "demo"
    assert "source checkout" in info.value.problem


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"], env=ENV)
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("paywall ")


def test_output_into_a_closed_pipe_is_no_traceback() -> None:
    """``paywall check-config | head -1``: the reader leaves early, the command goes quietly."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # like head after its first line: every write now meets a closed pipe
    try:
        result = subprocess.run(
            [sys.executable, "-m", "paywall.cli", "check-config"],
            cwd=ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PAYWALL_SECRET_KEY": SECRET},
            timeout=30,
            check=False,
        )
    finally:
        os.close(write_end)
    assert b"Traceback" not in result.stderr and b"BrokenPipe" not in result.stderr, result.stderr
    assert result.returncode == 141


def test_check_config_into_head_through_a_shell() -> None:
    result = subprocess.run(
        f"{sys.executable} -m paywall.cli check-config | head -1",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PAYWALL_SECRET_KEY": SECRET},
        timeout=30,
        check=False,
    )
    assert result.stdout.decode().strip() == "# effective paywall settings (secrets masked)"
    assert result.stderr == b"", result.stderr
