"""The package's sources alone, as an install without a C compiler runs them; and tests that must run there.

A test that replaces a part of the engine to inject a fault (``monkeypatch.setattr(sweep, "sweep_places", …)``)
needs its callers to look the part up in its module. Compiled modules (``setup.py``) call each other
directly, so :func:`on_sources` runs such a test in a subprocess on a copy of the sources, where it fails if it
fails; where the engine runs from its sources already, the test runs in place.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
ON_SOURCES = "PAYWALL_TEST_ON_SOURCES"
"""Set in the subprocess that runs a test on the sources."""

Test = TypeVar("Test", bound=Callable[..., None])


def copy_sources(folder: Path) -> Path:
    """The package's sources copied into ``folder`` without any compiled module; ``folder`` first on the path
    imports them instead of the build."""
    shutil.copytree(
        ROOT / "paywall",
        folder / "paywall",
        ignore=shutil.ignore_patterns(*(f"*{suffix}" for suffix in EXTENSION_SUFFIXES), "__pycache__", "*.so"),
    )
    return folder


def engine_compiled() -> bool:
    """Whether the engine's modules run compiled here."""
    from paywall.engine import page

    return not str(page.__file__).endswith(".py")


def on_sources(test: Test) -> Test:
    """Run ``test`` on the engine's sources: in place where they run, else in a subprocess on a copy of them."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        if os.environ.get(ON_SOURCES):
            assert not engine_compiled(), "the copy of the sources imported a compiled module"
            test(*args, **kwargs)
            return
        if not engine_compiled():
            test(*args, **kwargs)
            return
        node = os.environ["PYTEST_CURRENT_TEST"].rsplit(" (", 1)[0]  # "tests/test_x.py::name[id] (call)"
        with tempfile.TemporaryDirectory() as folder:
            argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=append"]
            done = subprocess.run(
                [*argv, f"{ROOT}/{node}"],
                cwd=copy_sources(Path(folder)),  # first on the path: the copied sources, before the build
                env={**os.environ, ON_SOURCES: "1", "PYTHONPATH": str(ROOT)},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        assert done.returncode == 0 and " passed" in done.stdout, done.stdout[-4000:] + done.stderr[-2000:]

    return run  # type: ignore[return-value]
