"""The labelling contract, on SQLite and PostgreSQL: an item's overlap is a constraint that concurrency cannot
pass, one label per member per item, a held-back member labels no more, agreement pays once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from bot.store.records import (
    Award,
    Evidence,
    ItemQuery,
    ItemRow,
    ItemVote,
    JobRules,
    LabelStatus,
    NewLabel,
    Settling,
)
from tests.store.conftest import NOW, RULES, a_round, people, value

CAP = 4


def rules(*, pay_on_agreement: bool = False, hold_back_below: int = 0) -> JobRules:
    """A job that settles an item when its cap is reached (agreeing on option 0), and holds back a member
    with fewer than ``hold_back_below`` right of two gold answers."""

    def settle(votes: Sequence[ItemVote], taken: int) -> Settling:
        return Settling("0", 0.5, taken >= CAP)

    def holds_back(evidence: Evidence) -> bool:
        return evidence.gold_answers >= 2 and evidence.gold_correct < hold_back_below

    return JobRules(2, 0.0, pay_on_agreement, holds_back, settle)


def a_label(round_id: int, space_id: int, item_id: int, user_id: int, vote: str | None = "0") -> NewLabel:
    award = Award(user_id, space_id, round_id, 5, "answer", "job", "", capped=True)
    return NewLabel(round_id, "job", item_id, user_id, vote, vote, award)


async def job_with(store: Any, *items: ItemRow) -> tuple[int, int, dict[str, int]]:
    """A round whose job holds ``items``; the space's and round's ids and the items' ids by key."""
    space_id, round_id = await a_round(store)
    await store.labelling.sync_items(round_id, "job", list(items), CAP)
    rows = await store.fetchall("SELECT item_key, id FROM label_items WHERE round_id = ?", (round_id,))
    return space_id, round_id, {str(row[0]): int(row[1]) for row in rows}


async def test_concurrent_labels_never_pass_an_items_overlap(store: Any, second_store: Any) -> None:
    space_id, round_id, ids = await job_with(store, ItemRow("p1", None))
    members = await people(store, 12)
    results = await asyncio.gather(
        *(
            (store if i % 2 else second_store).labelling.record_label(
                a_label(round_id, space_id, ids["p1"], user_id), rules(), RULES, NOW, space_id
            )
            for i, user_id in enumerate(members)
        )
    )
    statuses = [result.status for result in results]
    assert statuses.count(LabelStatus.RECORDED) == CAP
    assert set(statuses) == {LabelStatus.RECORDED, LabelStatus.ITEM_SETTLED}
    assert await value(store, "SELECT COUNT(*) FROM label_answers WHERE item_id = ?", ids["p1"]) == CAP
    assert await value(store, "SELECT answers FROM label_items WHERE id = ?", ids["p1"]) == CAP
    assert await value(store, "SELECT status FROM label_items WHERE id = ?", ids["p1"]) == "retired"
    assert await value(store, "SELECT COUNT(*) FROM ledger WHERE reason = 'answer'") == CAP


async def test_the_database_itself_refuses_an_answer_past_the_cap(store: Any) -> None:
    _, _, ids = await job_with(store, ItemRow("p1", None))
    with pytest.raises(Exception, match=r"(?i)check|constraint"):
        await store.write(lambda db: db.execute("UPDATE label_items SET answers = cap + 1 WHERE id = ?", (ids["p1"],)))


async def test_a_double_tap_records_one_label(store: Any, second_store: Any) -> None:
    space_id, round_id, ids = await job_with(store, ItemRow("p1", None))
    (member,) = await people(store, 1)
    label = a_label(round_id, space_id, ids["p1"], member)
    first, second = await asyncio.gather(
        store.labelling.record_label(label, rules(), RULES, NOW, space_id),
        second_store.labelling.record_label(label, rules(), RULES, NOW, space_id),
    )
    assert sorted([first.status, second.status]) == sorted([LabelStatus.RECORDED, LabelStatus.ALREADY_ANSWERED])
    assert await value(store, "SELECT answers FROM label_items WHERE id = ?", ids["p1"]) == 1
    assert await value(store, "SELECT COUNT(*) FROM ledger") == 1


async def test_a_member_held_back_by_gold_labels_no_more_and_is_audited(store: Any) -> None:
    space_id, round_id, ids = await job_with(store, ItemRow("g1", "1"), ItemRow("g2", "1"), ItemRow("p1", None))
    (member,) = await people(store, 1)
    job = rules(hold_back_below=2)
    for key in ("g1", "g2"):  # both gold answers wrong
        result = await store.labelling.record_label(
            a_label(round_id, space_id, ids[key], member), job, RULES, NOW, space_id
        )
        assert result.status == LabelStatus.RECORDED
    assert result.excluded_now
    refused = await store.labelling.record_label(
        a_label(round_id, space_id, ids["p1"], member), job, RULES, NOW, space_id
    )
    assert refused.status == LabelStatus.NOT_FOR_YOU
    served, held = await store.labelling.next_item(ItemQuery(round_id, "job", member, lambda answered: False), NOW)
    assert (served, held) == (None, True)
    assert await value(store, "SELECT COUNT(*) FROM audit WHERE action = 'quality_exclude'") == 1


async def test_agreement_pays_each_matching_member_once_when_the_item_settles(store: Any) -> None:
    space_id, round_id, ids = await job_with(store, ItemRow("p1", None))
    members = await people(store, CAP)
    job = rules(pay_on_agreement=True)
    for i, user_id in enumerate(members):
        vote = "1" if i == 0 else "0"  # the first member disagrees with the settled label
        await store.labelling.record_label(
            a_label(round_id, space_id, ids["p1"], user_id, vote), job, RULES, NOW, space_id
        )
    rows = await store.fetchall("SELECT user_id, detail, source_key FROM ledger ORDER BY user_id")
    assert [int(row[0]) for row in rows] == members[1:]
    assert {str(row[1]) for row in rows} == {"job/p1"}
    assert len({str(row[2]) for row in rows}) == CAP - 1


async def test_an_item_file_change_adds_withdraws_and_restores_items(store: Any) -> None:
    space_id, round_id, ids = await job_with(store, ItemRow("p1", None), ItemRow("p2", None))
    (member,) = await people(store, 1)
    await store.labelling.record_label(a_label(round_id, space_id, ids["p2"], member), rules(), RULES, NOW, space_id)
    await store.labelling.sync_items(round_id, "job", [ItemRow("p1", None), ItemRow("p3", None)], CAP)
    states = {item.key: item for item in await store.labelling.items_of(round_id)}
    assert (states["p2"].status, states["p3"].status) == ("withdrawn", "open")
    assert states["p2"].answers == 1  # its answer kept
    await store.labelling.sync_items(round_id, "job", [ItemRow("p1", None), ItemRow("p2", None)], CAP)
    states = {item.key: item for item in await store.labelling.items_of(round_id)}
    assert (states["p2"].status, states["p3"].status) == ("open", "withdrawn")


async def test_a_member_held_back_gives_back_their_slots_and_items_they_settled_open_again(store: Any) -> None:
    """Votes that settled an item count as agreement in the voters' records; once one voter is held back,
    the item is settled again without them: here it no longer is, so it is served again."""

    def settle(votes: Sequence[ItemVote], taken: int) -> Settling:
        agreeing = len(votes) >= 2 and len({vote.vote for vote in votes}) == 1
        return Settling(votes[0].vote if votes else "0", 1.0 if agreeing else 0.5, agreeing)

    def holds_back(evidence: Evidence) -> bool:
        return evidence.gold_answers >= 2 and evidence.gold_correct == 0

    job = JobRules(2, 0.0, False, holds_back, settle)
    space_id, round_id, ids = await job_with(store, ItemRow("g1", "1"), ItemRow("g2", "1"), ItemRow("p1", None))
    spammer, careful = await people(store, 2)
    for member in (spammer, careful):
        await store.labelling.record_label(a_label(round_id, space_id, ids["p1"], member), job, RULES, NOW, space_id)
    records = {m.user_id: m.evidence for m in await store.labelling.members_of(round_id)}
    assert (records[careful].resolved, records[careful].agreed) == (1, 1)
    assert await value(store, "SELECT status FROM label_items WHERE id = ?", ids["p1"]) == "retired"
    for key in ("g1", "g2"):
        await store.labelling.record_label(a_label(round_id, space_id, ids[key], spammer), job, RULES, NOW, space_id)
    item = {item.key: item for item in await store.labelling.items_of(round_id)}["p1"]
    assert (item.status, item.answers) == ("open", 1)
    records = {m.user_id: m.evidence for m in await store.labelling.members_of(round_id)}
    assert (records[careful].resolved, records[careful].agreed) == (0, 0)
    served, held = await store.labelling.next_item(ItemQuery(round_id, "job", spammer, lambda answered: False), NOW)
    assert (served, held) == (None, True)
