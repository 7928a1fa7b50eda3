"""A full disk or a read-only database: a clear log line for the operator, a polite reply, nothing silent."""

from __future__ import annotations

import logging

import pytest

from bot.commands import dispatch
from bot.engine import Engine
from bot.replies import Outcome, to_plain
from tests.helpers import button, open_task

STORAGE_TEXT = "couldn't save that just now"


def _logged_for_the_operator(caplog: pytest.LogCaptureFixture) -> bool:
    return any(
        "storage write failed" in record.getMessage() and "doctor" in record.getMessage() for record in caplog.records
    )


async def test_a_read_only_database_is_told_to_the_user_and_logged_for_the_operator(
    engine: Engine, person, cafe, caplog: pytest.LogCaptureFixture
) -> None:
    ana = person("Ana")
    question = await open_task(engine, ana, cafe, "What do you order")
    await engine.services.store.write(lambda db: db.execute("PRAGMA query_only = ON"))
    with caplog.at_level(logging.ERROR, logger="bot.store.sqlite"):
        tapped = await engine.act(ana, cafe, button(question, "Latte"))
        newcomer = await dispatch(engine, person("Newcomer"), cafe, "/start")
        passer_by = await engine.act(person("Passer-by"), cafe, button(question, "Tea"))
    for reply in (tapped, newcomer, passer_by):
        assert reply is not None and reply.outcome == Outcome.REFUSED
        assert STORAGE_TEXT in to_plain(reply.text)
    assert _logged_for_the_operator(caplog)
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM answers") == 0


async def test_a_full_disk_refuses_politely_and_keeps_every_member_whole(
    engine: Engine, person, cafe, caplog: pytest.LogCaptureFixture
) -> None:
    await engine.tasks.start(await engine.context(person("Ana"), cafe))
    pages = await engine.services.store.fetchval("PRAGMA page_count")
    await engine.services.store.write(
        lambda db: db.execute(f"PRAGMA max_page_count = {int(pages)}")
    )  # the disk is full
    refused = None
    with caplog.at_level(logging.ERROR, logger="bot.store.sqlite"):
        for number in range(2000):
            member = person(f"Member{number}")
            reply = await dispatch(engine, member, cafe, "/start")
            assert reply is not None
            if reply.outcome == Outcome.REFUSED:
                refused = reply
                break
    assert refused is not None and STORAGE_TEXT in to_plain(refused.text)
    assert _logged_for_the_operator(caplog)
    await engine.services.store.write(
        lambda db: db.execute("PRAGMA max_page_count = 1073741823")
    )  # the operator frees space
    again = await dispatch(engine, member, cafe, "/start")
    assert again is not None and "Welcome bonus" in to_plain(again.text)
    welcomes = await engine.services.store.fetchall(
        "SELECT user_id, COUNT(*) FROM ledger WHERE reason = 'welcome' GROUP BY user_id HAVING COUNT(*) > 1"
    )
    assert (
        welcomes == []
        and await engine.services.store.fetchval(
            "SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.user_id = u.id)"
        )
        == 0
    ), "after the retry every member has exactly one welcome bonus"
