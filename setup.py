"""The package's compiled parts; everything else about the build is in ``pyproject.toml``.

Two kinds, both optional: an install where they cannot be built (no C
compiler, ``PAYWALL_PURE_PYTHON=1``) runs the same code as Python.

* Two small modules written in C: ``paywall.engine._scan``, the engine's word
  scan (``paywall/engine/_scan.c``, see :mod:`paywall.engine.scan`), and
  ``paywall.access._step``, a coroutine's first step without an exception
  (``paywall/access/_step.c``, see :mod:`paywall.access.eager`).
* The modules every request runs through, and the HTML engine, compiled to C
  by mypyc from their own type hints (:data:`REQUEST_PATH`): the same source,
  checked by mypy as the rest is, run without the interpreter's work per
  line. On the way a member's page, a cached cut or a page without an article
  takes, that takes 40 to 50% off the paywall's own cost; a non-member's first
  view of a page, a tenth (``bench/instructions.py``). mypyc checks the hints at run time too: a
  value of another type than its hint says raises ``TypeError`` there, which
  the suite, run on the compiled build, would show. Compiled modules call each
  other directly: a test that replaces a part of one runs on the sources
  (``tests/sources.py``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from importlib.machinery import EXTENSION_SUFFIXES
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SCAN = Extension("paywall.engine._scan", sources=["paywall/engine/_scan.c"], optional=True)
STEP = Extension("paywall.access._step", sources=["paywall/access/_step.c"], optional=True)

REQUEST_PATH = [
    "paywall/bounded.py",
    "paywall/paths.py",
    "paywall/access/eager.py",
    "paywall/access/reader_state.py",
    "paywall/access/readers.py",
    "paywall/http/cache.py",
    "paywall/http/decision.py",
    "paywall/http/headers.py",
    "paywall/http/middleware.py",
    "paywall/http/variants.py",
    "paywall/insights/__init__.py",
    "paywall/insights/events.py",
    "paywall/insights/experiments.py",
    "paywall/protection/tags.py",
    # The HTML engine, which a non-member's first view of a page runs: all of it but label.py (a compiled
    # class cannot derive from str).
    "paywall/engine/code.py",
    "paywall/engine/cut.py",
    "paywall/engine/decode.py",
    "paywall/engine/detect.py",
    "paywall/engine/fingerprint.py",
    "paywall/engine/head.py",
    "paywall/engine/headscan.py",
    "paywall/engine/locate.py",
    "paywall/engine/outline.py",
    "paywall/engine/page.py",
    "paywall/engine/scan.py",
    "paywall/engine/structured.py",
    "paywall/engine/sweep.py",
    "paywall/engine/text.py",
]
"""The modules mypyc compiles: the middleware and what it calls on every request, and the HTML engine."""
STAYS_PYTHON = "the request path and the engine stay Python"


def compiled() -> list[Any]:
    """mypyc's extensions for :data:`REQUEST_PATH`, or none where mypyc is not there or not wanted."""
    if os.environ.get("PAYWALL_PURE_PYTHON", "").strip() not in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # a build without the build requirements (``--no-build-isolation``)
        print(f"paywall: mypyc is not installed; {STAYS_PYTHON}", file=sys.stderr)
        return []
    # The build's own type check: the compiler reads the hints, and nothing more is asked of them here (the
    # checks of the project are `python3 -m mypy`, with its strict settings). The build environment holds no
    # runtime dependency but selectolax (build-system.requires): the others' types are unknown here, Any.
    config = os.path.join(tempfile.mkdtemp(), "mypy.ini")
    with open(config, "w") as file:
        file.write("[mypy]\nignore_missing_imports = True\n")
    options = ["--config-file", config]
    try:
        extensions: list[Any] = list(mypycify([*options, *REQUEST_PATH], opt_level="3", group_name="paywall"))
    except (Exception, SystemExit) as exc:  # mypyc stops on what it cannot compile: the source serves
        print(f"paywall: mypyc could not compile ({exc!r}); {STAYS_PYTHON}", file=sys.stderr)
        return []
    for extension in extensions:
        extension.optional = True
    return extensions


class BuildExt(build_ext):
    """Builds what it can (every extension is optional), and mypyc's modules all or none: each needs the
    library they share, so one that failed would leave the others unable to load."""

    def run(self) -> None:
        if getattr(self, "editable_mode", False) or self.inplace:
            self._drop_compiled_in_tree()  # built before: not to be imported in place of the sources
        super().run()

    def _drop_compiled_in_tree(self) -> None:
        """Remove the compiled modules an earlier build left beside their sources (what is listed now is built
        again; what is not, or everything when nothing is compiled, runs from its source)."""
        for suffix in EXTENSION_SUFFIXES:
            left = [f"paywall__mypyc{suffix}"]
            for folder, _dirs, files in os.walk("paywall"):
                left += [os.path.join(folder, name) for name in files if name.endswith(suffix)]
            for path in left:
                source = path[: -len(suffix)] + ".py"
                if os.path.exists(path) and (os.path.exists(source) or "__mypyc" in path):
                    os.remove(path)

    def build_extensions(self) -> None:
        super().build_extensions()
        ours = [ext for ext in self.extensions if ext.name not in (SCAN.name, STEP.name)]
        built = [path for path in map(self.get_ext_fullpath, (ext.name for ext in ours)) if os.path.exists(path)]
        if len(built) < len(ours):
            print(f"paywall: mypyc's modules could not all be built; {STAYS_PYTHON}", file=sys.stderr)
            for path in built:
                os.remove(path)


setup(ext_modules=[SCAN, STEP, *compiled()], cmdclass={"build_ext": BuildExt})
