"""The dependency rule, enforced: adapters depend on the engine, never the reverse; no import cycles; the
store below the features.

Imports are read with ``ast`` from every module, including those inside functions and under
``TYPE_CHECKING``: a cycle that only the type checker walks is still a cycle in the design.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

PLATFORM_LIBRARIES = {"telegram", "discord"}
PROJECT_PACKAGES = ("bot", "adapters")
FEATURE_LAYERS = ("bot.features", "bot.engine", "bot.commands", "bot.outbox.drainer")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(path): path for path in sorted((REPO / package).rglob("*.py"))}


ALL_MODULES = {name: path for package in PROJECT_PACKAGES for name, path in modules(package).items()}


def imported(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, absolute or relative; ``from package import submodule`` names the
    submodule when there is one."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            yield base
            for alias in node.names:
                if f"{base}.{alias.name}" in ALL_MODULES:
                    yield f"{base}.{alias.name}"


def project_imports(path: Path) -> set[str]:
    """The project modules ``path`` imports (each resolved to the module itself)."""
    return {target for target in imported(path) if target in ALL_MODULES and target != module_name(path)}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_nothing_in_bot_imports_a_platform_library_or_an_adapter() -> None:
    offenders = [
        f"{name}: {target}"
        for name, path in modules("bot").items()
        for target in imported(path)
        if target.split(".")[0] in {*PLATFORM_LIBRARIES, "adapters"}
    ]
    assert offenders == []


def test_no_import_cycle_in_bot_or_adapters() -> None:
    graph = {name: project_imports(path) for name, path in ALL_MODULES.items()}
    assert cycles(graph) == []


def test_the_store_imports_no_feature() -> None:
    offenders = [
        f"{name}: {target}"
        for name, path in modules("bot/store").items()
        for target in imported(path)
        if any(target == layer or target.startswith(f"{layer}.") for layer in FEATURE_LAYERS)
    ]
    assert offenders == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The rule above is only as good as its finder: a two-module loop and a longer one are reported."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert cycles(graph) == [["a", "b"], ["c", "d", "e"]]


def test_importing_the_engine_loads_no_platform_library() -> None:
    code = (
        "import sys, bot, bot.engine, bot.app, bot.commands;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'discord', 'adapters')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


WORKER_ONLY = {"bot.features.themes.clustering", "bot.features.themes.edits", "bot.features.themes.runs"}
"""The theme worker's modules (:mod:`bot.features.themes.worker`): they, and the heavy libraries they use,
are imported by each other only, never by a module the bot process loads."""


def test_only_the_theme_worker_imports_the_clustering_and_its_libraries() -> None:
    offenders = [
        f"{name}: {target}"
        for name, path in ALL_MODULES.items()
        if name not in WORKER_ONLY
        for target in imported(path)
        if target in WORKER_ONLY or target.split(".")[0] in {"sklearn", "scipy", "py3langid"}
    ]
    assert offenders == []
