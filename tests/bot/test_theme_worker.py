"""The theme worker process: the bot process themes a round without importing scikit-learn, scipy or
py3langid's model; two engines of one process never share a clustering; a killed worker is replaced."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from bot.app import running_engine
from bot.engine import Engine
from bot.features.themes import worker
from bot.settings import Settings, load_settings
from tests.bot.test_round_themes import MUSIC, WIFI, results_text, type_answers
from tests.conftest import REPO
from tests.helpers import say

HEAVY = ("sklearn", "scipy", "py3langid")

CHILD = """
import asyncio, csv, io, json, sys
from collections import Counter
from pathlib import Path

from bot.app import running_engine
from bot.identity import SpaceRef, UserRef
from bot.settings import load_settings
from tests.bot.test_round_themes import MUSIC, WIFI, type_answers
from tests.helpers import say


async def main(folder: str) -> None:
    settings = load_settings(catalog_dir=Path("tasks_catalog"), storage={"path": Path(folder) / "bot.db"})
    async with running_engine(settings) as engine:
        cafe = SpaceRef("console", "cafe", "Corner Café")

        def person(name: str) -> UserRef:
            return UserRef("console", name.lower(), name, "en")

        mod = person("Mod")
        await say(engine, mod, cafe, "/round open coffee")
        await type_answers(engine, person, cafe, WIFI + MUSIC, "M")
        closed = await say(engine, mod, cafe, "/round close")
        round_id = await engine.services.store.fetchval("SELECT id FROM rounds")
        _, data = await engine.exports.export(round_id, "csv")
        rows = [row for row in csv.DictReader(io.StringIO(data.decode())) if row["task_id"] == "one-change"]
        themed = Counter(row["theme"] for row in rows)
        loaded = [name for name in ("sklearn", "scipy", "py3langid") if name in sys.modules]
        print(json.dumps({"closed": closed.text, "themes": sorted(themed.values()), "loaded": loaded}))


asyncio.run(main(sys.argv[1]))
"""


def themed_counts(results: str) -> list[int]:
    """The answer counts of the themes ``/results`` lists, ascending."""
    return sorted(int(count) for count in re.findall(r"^• “.*”: (\d+) answers?", results, re.M))


def test_the_bot_process_themes_a_closed_round_and_its_export_without_scikit_learn(tmp_path: Path) -> None:
    """A fresh interpreter (this test process has imported scikit-learn for the clustering's own tests):
    a real engine on a real SQLite file closes a round of typed answers and exports it, themed."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CROWDPULSE_SETTINGS_FILE": os.devnull},
    )
    found = json.loads(result.stdout.splitlines()[-1])
    assert "closed" in found["closed"].lower()
    assert found["themes"] == [10, 10], "the export carries the worker's two themes"
    assert found["loaded"] == [], f"the bot process imported {found['loaded']}"


async def test_two_engines_of_one_process_keep_their_own_clusterings(
    engine: Engine, settings: Settings, person, cafe, tmp_path: Path
) -> None:
    """Both engines' rounds are round 1 with the same question: the worker keys runs by engine."""
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    await type_answers(engine, person, cafe, WIFI[:8] + MUSIC[:8], "A")
    first = await results_text(engine, mod, cafe)
    other_settings = load_settings(catalog_dir=REPO / "tasks_catalog", storage={"path": tmp_path / "other.db"})
    async with running_engine(other_settings) as other:
        await say(other, mod, cafe, "/round open coffee")
        await type_answers(other, person, cafe, WIFI[:6], "B")
        second = await results_text(other, mod, cafe)
        assert other.themes.full_runs == 1, "its own run, not the first engine's 16 answers"
    assert 0 < sum(themed_counts(second)) <= 6, "the other engine's six answers only"
    assert themed_counts(first) == [8, 8]
    assert await results_text(engine, mod, cafe) == first
    assert engine.themes.full_runs == 1


async def test_a_killed_theme_worker_is_replaced_and_themes_again(engine: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    await type_answers(engine, person, cafe, WIFI + MUSIC, "K")
    shown = await results_text(engine, mod, cafe)
    assert engine.themes.full_runs == 1
    killed = await worker.run("os:getpid")
    os.kill(killed, signal.SIGKILL)
    assert await results_text(engine, mod, cafe) == shown
    assert engine.themes.full_runs == 2, "the new worker had nothing kept: a full run"
    assert await worker.run("os:getpid") != killed
