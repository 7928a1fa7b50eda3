"""The engine stays platform-neutral: nothing under bot/ imports a chat platform's library."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import REPO

PLATFORM_LIBRARIES = {"telegram", "discord", "adapters"}


def test_no_module_in_bot_imports_a_platform_library() -> None:
    offenders = []
    for path in (REPO / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.relative_to(REPO)}: {name}" for name in names if name.split(".")[0] in {"telegram", "discord"}
            ]
    assert offenders == []


def test_importing_the_engine_loads_no_platform_library() -> None:
    code = (
        "import sys, bot, bot.engine, bot.app, bot.commands;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'discord')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
