"""The store contract for the outbox: every row claimed by exactly one drainer, expired leases claimed again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot.store.effects import enqueue
from bot.store.outbox_sql import OutboxQueries
from tests.store.conftest import NOW


async def test_contract_outbox_rows_are_claimed_exactly_once(store: Any, second_store: Any) -> None:
    for i in range(150):
        await store.write(
            lambda db, i=i: enqueue(db, platform="console", target=f"user:{i}", payload={"n": i}, now=NOW)
        )
    claimed: list[int] = []

    async def worker(name: str, queries: OutboxQueries) -> None:
        while rows := await queries.claim("console", name, 7, timedelta(minutes=5), NOW):
            claimed.extend(row.id for row in rows)
            for row in rows:
                await queries.sent(row.id, name, NOW)

    await asyncio.gather(*(worker(f"w{i}", (store if i % 2 else second_store).outbox) for i in range(8)))
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 150
    assert await store.outbox.pending("console") == 0


async def test_contract_an_expired_outbox_lease_is_claimed_again(store: Any) -> None:
    await store.write(lambda db: enqueue(db, platform="console", target="user:1", payload={}, now=NOW))
    outbox = store.outbox
    first = await outbox.claim("console", "dead", 10, timedelta(minutes=1), NOW)
    assert len(first) == 1
    assert await outbox.claim("console", "live", 10, timedelta(minutes=1), NOW) == []
    again = await outbox.claim("console", "live", 10, timedelta(minutes=1), NOW + timedelta(minutes=2))
    assert [(row.id, row.attempts) for row in again] == [(first[0].id, 2)]
