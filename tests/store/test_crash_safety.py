"""SIGKILL while answers are being recorded loses none that were acknowledged."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize("kill_after_lines", [40, 400])
async def test_killing_the_writer_loses_no_acknowledged_answer(tmp_path: Path, kill_after_lines: int) -> None:
    db_path = tmp_path / "crash.db"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.store.crash_writer",
        str(db_path),
        str(REPO / "tasks_catalog"),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert process.stdout is not None
    acknowledged: list[str] = []
    while len(acknowledged) < kill_after_lines:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert line, "the writer stopped before it was killed"
        acknowledged.append(line.decode().strip())
    process.send_signal(signal.SIGKILL)
    await process.wait()
    acknowledged.extend(line.strip() for line in (await process.stdout.read()).decode().splitlines() if line.strip())

    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {
            row[0] for row in db.execute("SELECT u.platform_user_id FROM answers a JOIN users u ON u.id = a.user_id")
        }
        assert set(acknowledged) <= stored
        answers = db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        awards = db.execute("SELECT COUNT(*) FROM ledger WHERE reason = 'answer'").fetchone()[0]
        assert answers == awards
        ledger_total = db.execute("SELECT COALESCE(SUM(delta), 0) FROM ledger").fetchone()[0]
        scores_total = db.execute("SELECT COALESCE(SUM(points), 0) FROM scores WHERE scope = 'all'").fetchone()[0]
        assert ledger_total == scores_total
