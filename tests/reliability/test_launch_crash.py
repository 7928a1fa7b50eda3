"""A launch whose messages are being sent when the bot is SIGKILLed: after a restart (and the launch
command delivered again), the author and the early supporters are credited exactly once and everyone is
told; what "told once" can mean on Telegram is stated here precisely.

The bot runs as a process of its own (:mod:`tests.reliability.telegram_process`) against the fake
Telegram server in this test. The fake never answers one launch message to Bea: either before taking it
(the kill lands while the request is on its way) or after (Telegram shows the message, the bot never
hears so). Once every other message is marked sent in the outbox, the test kills the bot and starts it
again later than the outbox's lease.

**The guarantee.** Credits are exactly once: each is a ledger row with a unique ``source_key`` in the
transaction of the launch, and a redelivered launch changes nothing. Messages are *at least once, and
exactly once but for the messages in flight at the kill*: a row is marked sent only after Telegram
answered, so a message Telegram took whose answer the dead process never read is sent again after the
lease. Telegram's Bot API has no idempotency key and no way for a bot to read a private chat's history,
so the restarted process cannot tell "taken" from "never arrived"; marking before sending would turn
this duplicate into a possible loss instead. The window is one message per recipient at most (a
recipient's messages go in order, one at a time), only those whose request was on the wire.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.app import running_engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome
from tests.adapters.harness import TELEGRAM_TOKEN, texts
from tests.bot.conftest import MUSIC, submit
from tests.conftest import REPO
from tests.fakes.telegram.server import FakeTelegramServer
from tests.reliability.telegram_process import EARLY_SUPPORTER_BONUS, LAUNCHED_BONUS, settings_for

GROUP = -1007
ADMIN, ANA, BEA, CAL, DAN = 701, 702, 703, 704, 705
NAMES = {ANA: "Ana", BEA: "Bea", CAL: "Cal", DAN: "Dan"}
LAUNCH = "launched in every shop from Monday"


async def prepare(db_path: Path) -> int:
    """Ana's idea, upvoted by Bea and Cal (the early supporters), then Dan; returns its id."""
    space = SpaceRef("telegram", str(GROUP), "Café regulars")
    async with running_engine(settings_for(db_path)) as engine:
        ana = UserRef("telegram", str(ANA), "Ana", "en")
        idea = await submit(engine, ana, space, MUSIC)
        for voter in (BEA, CAL, DAN):
            ctx = await engine.context(UserRef("telegram", str(voter), NAMES[voter], "en"), space)
            assert (await engine.ideas.vote(ctx, idea, up=True)).outcome == Outcome.DONE
    return idea


@asynccontextmanager
async def bot_process(db_path: Path, tg: FakeTelegramServer, later_minutes: float) -> AsyncIterator[None]:
    """The bot in a child process, polling ``tg``; SIGKILLed when the block ends."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.reliability.telegram_process",
        str(db_path),
        tg.base_url,
        str(later_minutes),
        cwd=REPO,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        await tg.wait_for(lambda: bool(tg.calls_to("getUpdates")) or process.returncode is not None, timeout=60)
        yield
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL


def unsent(db_path: Path) -> int:
    with sqlite3.connect(db_path) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])


def launch_messages(tg: FakeTelegramServer, member: int) -> int:
    return sum("launched" in text for text in texts(tg, member))


@pytest.mark.parametrize("taken", [False, True], ids=["killed-before-telegram-took-it", "killed-after"])
async def test_a_launch_killed_mid_send_credits_once_and_tells_everyone(tmp_path: Path, taken: bool) -> None:
    db_path = tmp_path / "launch.db"
    idea = await prepare(db_path)
    async with FakeTelegramServer(token=TELEGRAM_TOKEN) as tg:
        admin = tg.user(ADMIN, "Admin")
        for member, name in NAMES.items():
            tg.user(member, name)
        group = tg.group(GROUP, "Café regulars")
        tg.set_admins(GROUP, [ADMIN])
        tg.hold_next("sendMessage", BEA, after_handling=taken)
        async with bot_process(db_path, tg, later_minutes=0):
            update = tg.send_text(admin, group, f"/status {idea} {LAUNCH}")
            await tg.wait_for(lambda: bool(tg.held) and unsent(db_path) == 1, timeout=30)
            assert launch_messages(tg, BEA) == int(taken)
        # the kill: Bea's message is claimed, unanswered, unmarked
        tg.redeliver(update)  # the launch once more, as Telegram redelivers an update never confirmed
        async with bot_process(db_path, tg, later_minutes=3):
            await tg.wait_for(lambda: unsent(db_path) == 0 and launch_messages(tg, BEA) == 1 + int(taken), 30)

    told = {member: launch_messages(tg, member) for member in NAMES}
    assert told == {ANA: 1, BEA: 1 + int(taken), CAL: 1, DAN: 1}, (
        "everyone is told; only the message Telegram took while the bot was being killed comes twice"
    )
    assert "+100 points" in next(text for text in texts(tg, ANA) if "launched" in text)
    with sqlite3.connect(db_path) as db:
        credits = db.execute(
            "SELECT source_key, COUNT(*), SUM(delta) FROM ledger WHERE source_key LIKE 'idea-%' GROUP BY source_key"
        ).fetchall()
        duplicates = db.execute(
            "SELECT dedup_key FROM outbox WHERE dedup_key IS NOT NULL GROUP BY dedup_key HAVING COUNT(*) > 1"
        ).fetchall()
        users = dict(db.execute("SELECT platform_user_id, id FROM users").fetchall())
    by_key = {key: (times, delta) for key, times, delta in credits}
    assert all(times == 1 for times, _ in by_key.values()), by_key
    supporters = {key for key in by_key if key.startswith("idea-supporter:")}
    assert supporters == {f"idea-supporter:{idea}:{users[str(member)]}" for member in (BEA, CAL)}
    assert {delta for key, (_, delta) in by_key.items() if key in supporters} == {EARLY_SUPPORTER_BONUS}
    assert LAUNCHED_BONUS in {delta for _, delta in by_key.values()}
    assert duplicates == []
