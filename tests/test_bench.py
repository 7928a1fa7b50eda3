"""The benchmark suite runs and reports every figure in the documented shape (values are not checked:
timings on a shared machine are not test material), and the databases it generates are consistent."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench.dashboard import PAGES, Plan, measure
from bench.dashboard_data import Sizes, cached_community
from bench.datagen import build
from bench.runner import Context
from bot.store import migrations
from bot.store.scores import add_points

REPO = Path(__file__).resolve().parent.parent
KEYS = {"name", "value", "unit", "target", "meets"}


@pytest.mark.timeout(180)
def test_quick_run_writes_every_figure_in_the_documented_shape(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["mode"] == "quick" and document["errors"] == []
    figures = document["figures"]
    names = [figure["name"] for figure in figures]
    assert len(names) == len(set(names))
    for prefix in (
        "throughput.",
        "votes.",
        "telegram.",
        "discord.",
        "growth.",
        "broadcast.",
        "flood.",
        "memory.",
        "postgres.",
        "quality.",
        "statements.",
        "insight.",
        "theme_edits.",
        "dashboard.",
    ):
        assert any(name.startswith(prefix) for name in names), prefix
    for figure in figures:
        assert figure.keys() >= KEYS, figure
        assert isinstance(figure["name"], str) and isinstance(figure["unit"], str)
        value, target, meets = figure["value"], figure["target"], figure["meets"]
        assert value is None or (isinstance(value, int | float) and not isinstance(value, bool)), figure
        assert target is None or isinstance(target, str), figure
        if target is None or value is None:
            assert meets is None, figure
        else:
            assert isinstance(meets, bool), figure
    assert "| figure" in run.stdout  # the table


def test_generated_scores_match_what_the_writer_would_have_kept(tmp_path: Path) -> None:
    generated = build(tmp_path / "community.db", users=600, answers=2400)
    source = sqlite3.connect(generated.path)
    replay = sqlite3.connect(":memory:", isolation_level=None)
    migrations.apply(replay)
    replay.execute("BEGIN")
    for row in source.execute(
        "SELECT id, user_id, space_id, round_id, week, delta, reason, detail, source_key, created_at"
        " FROM ledger ORDER BY id"
    ):
        replay.execute(
            "INSERT INTO ledger (id, user_id, space_id, round_id, week, delta, reason, detail, source_key,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        add_points(replay, *row[1:6], row[6]).lifetime()  # as the unit that wrote the row would have
    replay.execute("COMMIT")
    for sql in (
        "SELECT scope, user_id, points FROM scores ORDER BY 1, 2",
        "SELECT scope, points, SUM(users) FROM score_counts GROUP BY 1, 2 HAVING SUM(users) > 0 ORDER BY 1, 2",
    ):
        assert source.execute(sql).fetchall() == replay.execute(sql).fetchall(), sql
    assert source.execute("SELECT COUNT(*) FROM answers").fetchone() == (2400,)
    assert source.execute("SELECT SUM(answers) FROM task_counts").fetchone() == (2400,)
    assert source.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.timeout(120)
async def test_the_dashboard_bench_reads_every_page_and_streams_an_export_at_a_tiny_scale(tmp_path: Path) -> None:
    plan = Plan(Sizes(60, 300, 25), Sizes(40, 333, 0, one_round=True), requests=2, cache=tmp_path / "cache")
    work = tmp_path / "work"
    work.mkdir()
    figures = await measure(Context(quick=True, workdir=work, repetitions=1, log=lambda _: None), plan)
    names = [figure.name for figure in figures]
    assert names == [f"dashboard.{page}.{p}" for page in PAGES for p in ("p50", "p95")] + [
        "dashboard.export_csv.peak_over_baseline",
        "dashboard.export_csv.themes_cached.peak_over_baseline",
        "dashboard.export_csv.theme_worker_peak",
    ]
    assert all(figure.value is not None for figure in figures)
    assert "333 rows" in figures[-3].note, "the export streamed every answer of the round"
    assert (figures[-1].value or 0) > 0, "the export themed the round's typed answers in the theme worker"
    cached = cached_community(plan.export, plan.cache)
    built_at = cached.stat().st_mtime_ns
    assert cached_community(plan.export, plan.cache).stat().st_mtime_ns == built_at, "a re-run reuses the file"
    db = sqlite3.connect(cached)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT round_id) FROM answers").fetchone() == (333, 1)
    assert db.execute("SELECT COUNT(*) FROM ideas").fetchone() == (0,)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
