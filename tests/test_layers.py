"""The package's layers, read from its import statements: they point one way, and never in a circle.

HTTP (``paywall.http``) sits on top and uses everything else; access, the
engine, the formats, protection and the reader-facing pages never import it;
the engine and access know nothing of each other. Imports made only for type
checking (``if TYPE_CHECKING:``) are not counted: they do not run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _runtime_imports(ast.Module([child], [])))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _runtime_imports(node)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                submodules = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in modules]
                targets = submodules if len(submodules) == len(node.names) else [target, *submodules]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


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


def test_the_package_has_no_import_cycle() -> None:
    """Imports inside functions count too: a cycle put off until run time is still a cycle."""
    graph = _graph()
    assert "paywall.settings" in graph and "paywall.http.runtime" in graph
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_settings_stand_on_their_own() -> None:
    """Settings depend on nothing of the access layer, the insights, the protection or the HTTP layer."""
    graph = _graph()
    reached: set[str] = set()
    pending = ["paywall.settings"]
    while pending:
        for target in graph[pending.pop()] - reached:
            reached.add(target)
            pending.append(target)
    assert reached <= {"paywall.errors", "paywall.variants", "paywall.search_engines", "paywall.paths"}, reached


def test_the_layers_are_packages() -> None:
    for layer in ("http", "access", "engine", "protection"):
        assert (PACKAGE / layer / "__init__.py").is_file(), layer


def test_every_file_the_package_reads_is_shipped() -> None:
    """Each file under ``paywall/`` that is not Python is named by the package data of ``pyproject.toml``, or
    is the source of a compiled extension that ``setup.py`` declares, or that extension built in place.

    An editable install finds files that a wheel leaves out; this holds the wheel to the tree.
    """
    import fnmatch
    import tomllib

    from paywall.compiled import compiled_files

    setuptools = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared: dict[str, list[str]] = setuptools["package-data"]
    build_script = ast.parse((PACKAGE.parent / "setup.py").read_text())
    sources = {
        node.value
        for node in ast.walk(build_script)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("paywall/")
    }
    built = {
        path.relative_to(PACKAGE.parent).as_posix()
        for path, source in compiled_files(PACKAGE).items()
        if source.relative_to(PACKAGE.parent).as_posix() in sources
    }
    missing = []
    for path in PACKAGE.rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(PACKAGE.parent).as_posix()
        if relative in sources or relative in built:
            continue
        shipped = any(
            path.is_relative_to(PACKAGE.parent / package.replace(".", "/"))
            and fnmatch.fnmatch(path.relative_to(PACKAGE.parent / package.replace(".", "/")).as_posix(), pattern)
            for package, patterns in declared.items()
            for pattern in patterns
        )
        if not shipped:
            missing.append(relative)
    assert missing == []
