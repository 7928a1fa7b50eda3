"""The outbox survives a crash between the commit that queued a message and its sending."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import running_engine
from bot.outbox.drainer import OutboxDrainer, Pacer
from bot.replies import Reply
from bot.settings import load_settings
from tests.conftest import REPO, FakeClock

CRASHING_MODERATOR = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from bot.app import running_engine
    from bot.commands import dispatch
    from bot.identity import SpaceRef, UserRef
    from bot.outbox.drainer import OutboxDrainer, Pacer
    from bot.settings import load_settings

    async def main():
        settings = load_settings(catalog_dir=Path(sys.argv[1]), storage={"path": Path(sys.argv[2])})
        async with running_engine(settings) as engine:
            reply = await dispatch(engine, UserRef("console", "mod", "Mod"), SpaceRef("console", "cafe"),
                                   "/round open coffee")
            print(reply.outcome, flush=True)
            if sys.argv[3] == "claimed":
                drainer = OutboxDrainer(engine, "console", None, Pacer(per_second=1))
                now = engine.services.clock()
                await drainer.queries.claim("console", drainer.worker, 10, timedelta(minutes=2), now)
            os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
    """
)


async def _restart_and_drain(db_path: Path, clock: FakeClock) -> list[str]:
    settings = load_settings(catalog_dir=REPO / "tasks_catalog", storage={"path": db_path})
    sent: list[str] = []

    async def send(target: str, reply: Reply) -> None:
        sent.append(target)

    async with running_engine(settings, clock) as engine:
        drainer = OutboxDrainer(engine, "console", send, Pacer(per_second=1000), lease=timedelta(minutes=2))
        for _ in range(3):
            await drainer.drain_once()
        clock.advance(minutes=3)  # a dead worker's lease runs out
        for _ in range(3):
            await drainer.drain_once()
    return sent


def _crash(db_path: Path, mode: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_MODERATOR, str(REPO / "tasks_catalog"), str(db_path), mode],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == -9, result.stderr
    assert result.stdout.strip() == "done"


async def test_a_message_committed_before_a_crash_is_sent_once_after_restart(tmp_path: Path) -> None:
    db_path = tmp_path / "outbox.db"
    _crash(db_path, "queued")
    assert await _restart_and_drain(db_path, FakeClock(datetime.now(UTC))) == ["space:cafe"]


async def test_a_message_claimed_by_a_worker_that_died_is_sent_once_after_its_lease(tmp_path: Path) -> None:
    db_path = tmp_path / "outbox.db"
    _crash(db_path, "claimed")
    assert await _restart_and_drain(db_path, FakeClock(datetime.now(UTC))) == ["space:cafe"]
