"""The WAL is copied into the database file by the checkpointer's thread, not inside members' commits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.engine import Engine
from bot.store.checkpoints import WRITER_CHECKPOINT_PAGES
from bot.store.sqlite import SqliteStore
from tests.helpers import button, open_task


def _in_database_file(path: Path, sql: str) -> int:
    """``sql``'s count read from the database file alone: ``immutable`` makes SQLite ignore the log, so
    only what a checkpoint copied is seen."""
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as db:
        return int(db.execute(sql).fetchone()[0])


async def test_answers_reach_the_database_file_while_the_writer_never_checkpoints(engine: Engine, person, cafe) -> None:
    store = engine.services.store
    assert isinstance(store, SqliteStore)
    assert await store.write(lambda db: db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == (
        WRITER_CHECKPOINT_PAGES
    )
    members = [person(f"Member{number}") for number in range(30)]
    questions = await asyncio.gather(*(open_task(engine, member, cafe, "What do you order") for member in members))
    await asyncio.gather(
        *(
            engine.act(member, cafe, button(question, "Tea"))
            for member, question in zip(members, questions, strict=True)
        )
    )
    answers = "SELECT COUNT(*) FROM answers"
    for _ in range(200):  # the checkpointer copies within a pause (0.1 s) of the last commit
        if _in_database_file(store.path, answers) == 30:
            break
        await asyncio.sleep(0.05)
    assert _in_database_file(store.path, answers) == 30
    assert store.checkpointer.checkpoints > 0
    assert await store.fetchval(answers) == 30
