"""The package's layers, read from its import statements: they point one way, and never in a circle.

HTTP (``paywall.http``) sits on top and uses everything else; access, the
engine, the formats, protection and the reader-facing pages never import it;
the engine and access know nothing of each other. Imports made only for type
checking (``if TYPE_CHECKING:``) are not counted: they do not run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "paywall"

#: For each layer, the packages it must not import.
FORBIDDEN = {
    "paywall.access": ("paywall.http", "paywall.engine", "paywall.formats", "paywall.protection", "paywall.insights"),
    "paywall.engine": (
        "paywall.http",
        "paywall.access",
        "paywall.formats",
        "paywall.protection",
        "paywall.insights",
        "paywall.pages",
    ),
    "paywall.formats": ("paywall.http", "paywall.access", "paywall.protection", "paywall.insights"),
    "paywall.protection": ("paywall.http", "paywall.engine", "paywall.formats", "paywall.insights"),
    "paywall.pages": ("paywall.http", "paywall.access", "paywall.engine", "paywall.formats", "paywall.protection"),
    "paywall.insights": ("paywall.http",),
    "paywall.settings": ("paywall.http", "paywall.access", "paywall.engine", "paywall.protection", "paywall.insights"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(path: Path) -> set[str]:
    """Every paywall module ``path`` imports when it runs (lazily inside functions too)."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    modules = _modules()
    return {name for name in found if name in modules}


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _graph() -> dict[str, set[str]]:
    return {name: _runtime_imports(path) - {name} for name, path in _modules().items()}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_or_beside_it(layer: str) -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in sorted(_graph().items())
        if module == layer or module.startswith(layer + ".")
        for target in sorted(targets)
        if any(target == f or target.startswith(f + ".") for f in FORBIDDEN[layer])
    ]
    assert wrong == []


def test_no_module_imports_itself_through_others() -> None:
    graph = _graph()
    # a package imports its submodules when it re-exports them; that edge is not a cycle of layers
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target] if target in path else [node, target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_layers_are_packages() -> None:
    for layer in ("http", "access", "engine", "protection"):
        assert (PACKAGE / layer / "__init__.py").is_file(), layer


def test_every_file_the_package_reads_is_shipped() -> None:
    """Each file under ``paywall/`` that is not Python is named by the package data of ``pyproject.toml``.

    An editable install finds files that a wheel leaves out; this holds the wheel to the tree.
    """
    import fnmatch
    import tomllib

    declared: dict[str, list[str]] = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"][
        "setuptools"
    ]["package-data"]
    missing = []
    for path in PACKAGE.rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        shipped = any(
            path.is_relative_to(PACKAGE.parent / package.replace(".", "/"))
            and fnmatch.fnmatch(path.relative_to(PACKAGE.parent / package.replace(".", "/")).as_posix(), pattern)
            for package, patterns in declared.items()
            for pattern in patterns
        )
        if not shipped:
            missing.append(path.relative_to(PACKAGE.parent).as_posix())
    assert missing == []
