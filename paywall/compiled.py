"""Which of the package's modules run compiled, and a warning where a compiled one is older than its source.

``setup.py`` compiles the request path and the HTML engine with mypyc (and
the engine's word scan from C) where it can. The compiled modules stand beside their sources and
Python imports them in their place: in a checkout installed with
``pip install -e .``, a source edited (or checked out) since the last build
would not run. :func:`warn_if_stale` says so when the package is imported
from a checkout; an installed wheel is never stale, and is not looked at.
"""

from __future__ import annotations

import sys
import warnings
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def compiled_files(package: Path = PACKAGE) -> dict[Path, Path]:
    """Each compiled module under ``package`` with the source it was built from."""
    found = {}
    for suffix in EXTENSION_SUFFIXES:
        for built in package.rglob("*" + suffix):
            base = built.name[: -len(suffix)]
            for source in (built.with_name(base + ".py"), built.with_name(base + ".c")):
                if source.exists():
                    found[built] = source
                    break
    return found


def stale(package: Path = PACKAGE) -> list[Path]:
    """The sources under ``package`` changed since their compiled module was built."""
    return sorted(
        source for built, source in compiled_files(package).items() if source.stat().st_mtime > built.stat().st_mtime
    )


def compiled_modules() -> list[str]:
    """The names of the package's modules imported so far that run compiled."""
    return sorted(
        name
        for name, module in sys.modules.items()
        if name.startswith("paywall.") and str(getattr(module, "__file__", "")).endswith(tuple(EXTENSION_SUFFIXES))
    )


def warn_if_stale(package: Path = PACKAGE) -> None:
    """Warn, in a checkout, when a source is newer than the compiled module that is imported in its place."""
    if not (package.parent / "setup.py").exists():  # an installed package: built from the sources it ships
        return
    changed = stale(package)
    if changed:
        names = ", ".join(str(path.relative_to(package.parent)) for path in changed)
        warnings.warn(
            f"paywall: {names} changed since it was compiled, and the compiled module runs in its place: "
            "run `pip install -e .` again (PAYWALL_PURE_PYTHON=1 builds without compiling)",
            RuntimeWarning,
            stacklevel=2,
        )
