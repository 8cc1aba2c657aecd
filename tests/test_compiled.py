"""The compiled request path (``setup.py``): built where the suite runs, the same answers as its source, and a
source edited since its build is warned of."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import warnings
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

import pytest

from paywall.compiled import compiled_files, stale, warn_if_stale
from tests.sources import ROOT, copy_sources

SUFFIX = EXTENSION_SUFFIXES[0]


def request_path() -> list[str]:
    """The modules ``setup.py`` compiles, as module names."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    listed = next(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "REQUEST_PATH" for t in node.targets)
    )
    paths = ast.literal_eval(listed)
    return [path.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for path in paths]


def test_the_request_path_runs_compiled_where_the_suite_runs() -> None:
    """The suite (and the benchmarks) run what a wheel ships: the request path compiled, unless the build was
    asked not to compile (``PAYWALL_PURE_PYTHON=1``)."""
    import importlib

    pure = os.environ.get("PAYWALL_PURE_PYTHON", "").strip() not in ("", "0")
    modules = request_path()
    assert "paywall.http.middleware" in modules
    for name in modules:
        origin = str(importlib.import_module(name).__file__)
        assert origin.endswith(SUFFIX) is not pure, (name, origin)


def views() -> list[dict[str, Any]]:
    """A member's page, a non-member's first and second view of an article, a page without one and a file, through
    the middleware in this process: status, headers and a digest of the body."""
    from bench.http_load import MEMBER_HEADER, site
    from paywall import PaywallMiddleware, PaywallSettings
    from tests.asgi import call

    with tempfile.TemporaryDirectory() as tmp:
        settings = PaywallSettings(
            secret_key="compiled-or-not-0123456789",
            store=f"sqlite:///{tmp}/store.db",
            member_resolver="bench.http_load:is_member",
        )
        app = PaywallMiddleware(site, settings=settings)
        member = [(MEMBER_HEADER.encode(), b"1")]
        requests = [("/article", member), ("/article", []), ("/article", []), ("/", []), ("/download.bin", [])]

        async def run() -> list[dict[str, Any]]:
            out = []
            for path, headers in requests:
                result = await call(app, path, headers=[(b"accept", b"text/html"), *headers])
                out.append(
                    {
                        "path": path,
                        "status": result.status,
                        # (an ETag is keyed for each instance: its kind is compared)
                        "headers": sorted(
                            [k.decode(), v.decode()[:4] if k == b"etag" else v.decode()]
                            for k, v in result.headers
                            if k not in (b"date", b"set-cookie")
                        ),
                        "cookies": sorted(v.decode().split("=")[0] for k, v in result.headers if k == b"set-cookie"),
                        "body": hashlib.sha256(result.body).hexdigest(),
                    }
                )
            return out

        return asyncio.run(run())


def test_the_source_alone_answers_as_the_compiled_build(tmp_path: Path) -> None:
    """The package's sources without anything compiled (an install without a C compiler) answer every kind
    of request with the same bytes as the build the suite runs."""
    copy_sources(tmp_path)
    probe = (
        "import json, paywall.compiled as c, tests.test_compiled as t; "
        "print(json.dumps({'compiled': c.compiled_modules(), 'views': t.views()}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,  # first on the path: the copied sources, before the installed build
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    source = json.loads(done.stdout.splitlines()[-1])
    assert source["compiled"] == []
    assert source["views"] == views()


def test_a_source_changed_since_its_module_was_compiled_is_warned_of(tmp_path: Path) -> None:
    package = tmp_path / "paywall"
    (package / "http").mkdir(parents=True)
    (tmp_path / "setup.py").write_text("")  # a checkout
    source = package / "http" / "middleware.py"
    built = package / "http" / ("middleware" + SUFFIX)
    source.write_text("")
    built.write_bytes(b"")
    os.utime(source, (1_000, 1_000))
    os.utime(built, (2_000, 2_000))
    assert compiled_files(package) == {built: source}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_stale(package)  # built after its source: nothing to say

    os.utime(source, (3_000, 3_000))  # edited since
    assert stale(package) == [source]
    with pytest.warns(RuntimeWarning, match=r"http/middleware\.py changed since it was compiled"):
        warn_if_stale(package)

    (tmp_path / "setup.py").unlink()  # an installed package is never looked at
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_stale(package)
