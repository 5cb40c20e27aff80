"""The layout holds: a pure domain, no import cycles, surfaces on top, short simple functions.

The package's imports are read from the source (module level and inside functions alike), so a
cycle hidden in a function-local import fails here as surely as one at the top of a module.
"""

from __future__ import annotations

import ast
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "rightsdesk"
#: What people and programs touch: the web blueprints, the command line, the benches, and the
#: factory that assembles them. Nothing below these may import them.
SURFACES = ("admin", "public", "api", "inbound", "cli", "bench", "app")
#: Capabilities from the bottom up: a package may import only those before it (and itself).
LAYERS = (
    ("domain",),
    ("extensions", "config", "models", "database", "security", "i18n"),
    ("core",),
    ("systems",),
    ("delivery",),
    ("requests",),
    ("organisation", "reports"),
    ("fulfilment",),
    ("policy",),
    ("retention",),
    ("demo",),
)
MAX_LOCAL_IMPORTS_BELOW_SURFACES = 10
MAX_FUNCTION_LINES = 80
P90_FUNCTION_LINES = 25


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _resolve(source: str, node: ast.ImportFrom, is_package: bool) -> list[str]:
    base = node.module or ""
    if node.level:
        parts = source.split(".") if is_package else source.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*parts, *([node.module] if node.module else [])])
    return [
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
        for alias in node.names
    ]


def _owning_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _function_lines(tree: ast.AST) -> set[int]:
    return {
        line
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }


def imports_of(source: str) -> Iterator[Import]:
    path = MODULES[source]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = _function_lines(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            targets = _resolve(source, node, path.name == "__init__.py")
        else:
            continue
        for target in targets:
            owner = _owning_module(target)
            if owner and owner != source and owner.startswith("rightsdesk"):
                yield Import(source, owner, node.lineno, node.lineno in inside)


ALL_IMPORTS = [edge for source in MODULES for edge in imports_of(source)]


def _part(module: str) -> str:
    """The first name under the package: ``rightsdesk.requests.intake`` → ``requests``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for edge in ALL_IMPORTS:
        graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check above can fail: two modules importing each other are one component."""
    saved = list(ALL_IMPORTS)
    try:
        ALL_IMPORTS.append(Import("rightsdesk.core.audit", "rightsdesk.requests.intake", 1, True))
        assert any("rightsdesk.core.audit" in cycle for cycle in _cycles())
    finally:
        ALL_IMPORTS[:] = saved


def test_nothing_below_the_surfaces_imports_them() -> None:
    offending = [
        f"{edge.source}:{edge.line} imports {edge.target}"
        for edge in ALL_IMPORTS
        if _part(edge.source) not in SURFACES
        and edge.source != "rightsdesk"
        and _part(edge.target) in SURFACES
    ]
    assert offending == []


def _layer(module: str) -> int | None:
    for number, names in enumerate(LAYERS):
        if _part(module) in names:
            return number
    return None


def test_capabilities_import_only_downward() -> None:
    offending = []
    for edge in ALL_IMPORTS:
        source, target = _layer(edge.source), _layer(edge.target)
        if source is not None and target is not None and target > source:
            offending.append(f"{edge.source}:{edge.line} imports {edge.target} (a higher layer)")
    assert offending == []


def test_every_package_has_a_layer_or_is_a_surface() -> None:
    unplaced = {
        _part(name)
        for name in MODULES
        if _part(name) and _part(name) not in SURFACES and _layer(name) is None
    }
    assert unplaced == set()


def test_few_function_local_imports_below_the_surfaces() -> None:
    local = [
        f"{edge.source}:{edge.line}"  # one statement, however many names
        for edge in ALL_IMPORTS
        if edge.in_function and _part(edge.source) not in SURFACES and edge.source != "rightsdesk"
    ]
    assert len(set(local)) <= MAX_LOCAL_IMPORTS_BELOW_SURFACES, "\n".join(sorted(set(local)))


def test_no_private_names_imported_across_modules() -> None:
    offending = []
    for source, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rightsdesk"):
                offending += [
                    f"{source}:{node.lineno} {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    assert offending == []


def function_lengths() -> dict[str, int]:
    lengths = {}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                end = node.end_lineno or node.lineno
                lengths[f"{name}:{node.lineno} {node.name}"] = end - node.lineno + 1
    return lengths


def test_functions_are_short() -> None:
    lengths = function_lengths()
    too_long = {name: n for name, n in lengths.items() if n > MAX_FUNCTION_LINES}
    assert too_long == {}
    p90 = statistics.quantiles(lengths.values(), n=10)[8]
    assert p90 <= P90_FUNCTION_LINES, sorted(lengths.items(), key=lambda item: -item[1])[:20]


def test_ruff_limits_complexity() -> None:
    """C901 is on in the project's ruff configuration (``make lint`` and CI run it)."""
    import tomllib

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    lint = config["tool"]["ruff"]["lint"]
    assert "C90" in lint["select"] or "C901" in lint["select"]
    assert lint["mccabe"]["max-complexity"] <= 12


def test_importing_the_domain_loads_neither_flask_nor_sqlalchemy():
    domain = sorted(name for name in MODULES if _part(name) == "domain")
    code = (
        "import sys, importlib\n"
        f"for name in {domain!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
