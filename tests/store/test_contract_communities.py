"""The store contract for communities: codes are stored hashed, expire and are used once; a space joins a
community once however many joins race; announcements reach every space of the community once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot.store.records import Announcement, Closing, JoinOutcome, NewRound
from tests.store.conftest import NOW, RULES, people, value

LATER = NOW + timedelta(minutes=10)


async def spaces(store: Any, *names: str) -> list[int]:
    return [(await store.members.ensure_space("console", name, name.title(), False)).space_id for name in names]


async def test_contract_a_code_is_used_once_and_not_after_it_expires(store: Any, second_store: Any) -> None:
    cafe, terrace, garden = await spaces(store, "cafe", "terrace", "garden")
    (mod,) = await people(store, 1)
    await store.communities.create_code("hash-1", cafe, mod, LATER)
    await store.communities.create_code("hash-2", cafe, mod, NOW + timedelta(seconds=1))
    assert await store.communities.join(terrace, "hash-unknown", NOW) is JoinOutcome.WRONG_CODE
    assert await store.communities.join(garden, "hash-2", NOW + timedelta(seconds=1)) is JoinOutcome.EXPIRED
    assert await store.communities.join(terrace, "hash-1", NOW) is JoinOutcome.JOINED
    assert await second_store.communities.join(garden, "hash-1", NOW) is JoinOutcome.USED
    assert await value(store, "SELECT COUNT(*) FROM community_codes WHERE used_at IS NOT NULL") == 1
    place = await second_store.members.ensure_space("console", "terrace", "Terrace", False)
    assert (place.space_id, place.community_id) == (terrace, cafe)


async def test_contract_a_space_joins_once_under_racing_joins(store: Any, second_store: Any) -> None:
    cafe, terrace = await spaces(store, "cafe", "terrace")
    (mod,) = await people(store, 1)
    hashes = [f"hash-{i}" for i in range(8)]
    for code_hash in hashes:
        await store.communities.create_code(code_hash, cafe, mod, LATER)
    outcomes = await asyncio.gather(
        *(
            (store if i % 2 else second_store).communities.join(terrace, code_hash, NOW)
            for i, code_hash in enumerate(hashes)
        )
    )
    assert outcomes.count(JoinOutcome.JOINED) == 1
    assert set(outcomes) == {JoinOutcome.JOINED, JoinOutcome.ALREADY_MEMBER}
    assert await value(store, "SELECT COUNT(*) FROM community_codes WHERE used_at IS NOT NULL") == 1


async def test_contract_one_code_raced_by_two_spaces_joins_one(store: Any, second_store: Any) -> None:
    cafe, terrace, garden = await spaces(store, "cafe", "terrace", "garden")
    (mod,) = await people(store, 1)
    await store.communities.create_code("hash", cafe, mod, LATER)
    outcomes = await asyncio.gather(
        store.communities.join(terrace, "hash", NOW), second_store.communities.join(garden, "hash", NOW)
    )
    assert sorted(outcomes) == sorted([JoinOutcome.JOINED, JoinOutcome.USED])
    assert await value(store, "SELECT COUNT(*) FROM spaces WHERE community_id = ?", cafe) == 1


async def test_contract_a_round_is_announced_and_its_results_queued_once_per_space(
    store: Any, second_store: Any
) -> None:
    cafe, terrace = await spaces(store, "cafe", "terrace")
    await store.communities.declare([("console", "cafe"), ("console", "terrace"), ("telegram", "-100")])
    assert await store.communities.declare([("console", "cafe"), ("console", "terrace"), ("telegram", "-100")]) == cafe
    (mod,) = await people(store, 1)
    # Opened with the joined space's own id, as a process whose cached community is stale would: the unit
    # still opens it in the community.
    new = NewRound(terrace, "tasks", "daily", opened_by=mod, announcement=Announcement({"render": "round_opened"}))
    round_id, created = await store.rounds.open(new, NOW)
    assert created and await value(store, "SELECT space_id FROM rounds WHERE id = ?", round_id) == cafe
    closing = Closing(round_id, mod, (), RULES)
    await asyncio.gather(*((store if i % 2 else second_store).rounds.close(closing, NOW) for i in range(6)))
    rows = await store.fetchall("SELECT platform, target, payload FROM outbox ORDER BY id")
    targets = sorted((row[0], row[1], "results" in row[2]) for row in rows)
    assert targets == sorted(
        (platform, target, results)
        for platform, target in (("console", "space:cafe"), ("console", "space:terrace"), ("telegram", "space:-100"))
        for results in (False, True)
    )
