"""The store contract of linking's edges, on SQLite and PostgreSQL: labels merge like answers (one per person
per item, slots and records following the rows), a vote one account gave the other's idea is retired, and
the ledger total equals the sum of balances throughout."""

from __future__ import annotations

from typing import Any

from bot.store.records import IdeaPoints, IdeaStatus, ItemRow, LabelStatus, LinkStatus, NewIdea, Proposal
from tests.store.conftest import NOW, RULES, a_round, people, value
from tests.store.test_contract_labelling import a_label, job_with, rules
from tests.store.test_contract_linking import _claimed, _conserved


async def _label(
    store: Any, round_id: int, space_id: int, item_id: int, user_id: int, vote: str | None, job: Any
) -> int:
    result = await store.labelling.record_label(
        a_label(round_id, space_id, item_id, user_id, vote), job, RULES, NOW, space_id
    )
    assert result.status is LabelStatus.RECORDED
    return int(await value(store, "SELECT id FROM label_answers WHERE item_id = ? AND user_id = ?", item_id, user_id))


async def _slots_match_the_rows(store: Any) -> None:
    """Every item's slots taken are its votes by members not held back (gold: every vote)."""
    mismatched = await store.fetchall(
        "SELECT i.id FROM label_items i WHERE i.answers != (SELECT COUNT(*) FROM label_answers a"
        " LEFT JOIN label_members m ON m.round_id = a.round_id AND m.user_id = a.user_id"
        " WHERE a.item_id = i.id AND a.value IS NOT NULL AND (i.gold IS NOT NULL OR m.excluded_at IS NULL))"
    )
    assert mismatched == []


async def test_labels_merge_one_per_person_per_item_the_earliest_kept(store: Any) -> None:
    ana, ana_too = await people(store, 2)
    space_id, round_id, ids = await job_with(store, ItemRow("p1", None), ItemRow("p2", None), ItemRow("g1", "0"))
    job = rules()
    kept = await _label(store, round_id, space_id, ids["p1"], ana, "0", job)
    await _label(store, round_id, space_id, ids["p2"], ana, "1", job)
    retired = await _label(store, round_id, space_id, ids["p1"], ana_too, "1", job)
    await _label(store, round_id, space_id, ids["p2"], ana_too, None, job)  # "can't tell": no slot, no points
    await _label(store, round_id, space_id, ids["g1"], ana_too, "0", job)
    paid = int(await value(store, "SELECT delta FROM ledger WHERE source_key = ?", f"label:{retired}"))
    assert paid > 0
    before = await _conserved(store)
    assert (await store.links.confirm(await _claimed(store, ana, ana_too), ana, NOW)).status is LinkStatus.LINKED
    assert await _conserved(store) == before - paid
    labels = await store.fetchall("SELECT item_id, user_id, id FROM label_answers ORDER BY item_id")
    assert [tuple(row) for row in labels] == [
        (ids["p1"], ana, kept),
        (ids["p2"], ana, labels[1][2]),
        (ids["g1"], ana, labels[2][2]),
    ]
    assert await value(store, "SELECT answers FROM label_items WHERE id = ?", ids["p1"]) == 1
    await _slots_match_the_rows(store)
    record = await store.labelling.members_of(round_id)
    assert [(m.user_id, m.answers, m.evidence.gold_answers, m.evidence.gold_correct, m.excluded) for m in record] == [
        (ana, 3, 1, 1, False)
    ]
    again = await store.labelling.record_label(a_label(round_id, space_id, ids["g1"], ana), job, RULES, NOW, space_id)
    assert again.status is LabelStatus.ALREADY_ANSWERED


async def test_a_person_held_back_on_either_account_is_held_back_and_gives_the_slots_back(store: Any) -> None:
    ana, ana_too = await people(store, 2)
    space_id, round_id, ids = await job_with(store, ItemRow("p1", None), ItemRow("g1", "1"), ItemRow("g2", "1"))
    job = rules(hold_back_below=1)
    await _label(store, round_id, space_id, ids["p1"], ana, "0", job)
    await _label(store, round_id, space_id, ids["p1"], ana_too, "0", job)
    for gold in ("g1", "g2"):  # both wrong: this account is held back, its slot on p1 given back
        await _label(store, round_id, space_id, ids[gold], ana_too, "0", job)
    assert await value(store, "SELECT answers FROM label_items WHERE id = ?", ids["p1"]) == 1
    before = await _conserved(store)
    assert (await store.links.confirm(await _claimed(store, ana, ana_too), ana, NOW)).status is LinkStatus.LINKED
    assert await _conserved(store) < before  # the later label on p1 retired with its points
    assert await value(store, "SELECT answers FROM label_items WHERE id = ?", ids["p1"]) == 0
    await _slots_match_the_rows(store)
    [record] = await store.labelling.members_of(round_id)
    assert (record.user_id, record.excluded, record.evidence.gold_answers, record.answers) == (ana, True, 2, 3)
    refused = await store.labelling.record_label(a_label(round_id, space_id, ids["p1"], ana), job, RULES, NOW, space_id)
    assert refused.status in (LabelStatus.NOT_FOR_YOU, LabelStatus.ALREADY_ANSWERED)


async def test_agreement_pay_of_a_retired_label_is_taken_back(store: Any) -> None:
    ana, ana_too, bob, cy = await people(store, 4)
    space_id, round_id, ids = await job_with(store, ItemRow("p1", None))
    job = rules(pay_on_agreement=True)
    for member in (ana, ana_too, bob, cy):  # the fourth vote settles p1 on "0": every voter paid once
        await _label(store, round_id, space_id, ids["p1"], member, "0", job)
    paid = int(await value(store, "SELECT delta FROM ledger WHERE source_key = ?", f"agree:{ids['p1']}:{ana_too}"))
    assert paid > 0
    before = await _conserved(store)
    assert (await store.links.confirm(await _claimed(store, ana, ana_too), ana, NOW)).status is LinkStatus.LINKED
    assert await _conserved(store) == before - paid
    assert await value(store, "SELECT answers FROM label_items WHERE id = ?", ids["p1"]) == 3
    await _slots_match_the_rows(store)
    resolved = {m.user_id: (m.evidence.resolved, m.evidence.agreed) for m in await store.labelling.members_of(round_id)}
    assert resolved == {ana: (1, 1), bob: (1, 1), cy: (1, 1)}


async def test_a_vote_for_the_other_accounts_idea_is_retired(store: Any) -> None:
    ana, ana_too = await people(store, 2)
    space_id, round_id = await a_round(store, "ideas")
    points = IdeaPoints(RULES, per_upvote=2, upvote_cap=50, bonuses={})
    ideas = []
    for author in (ana, ana_too):
        added = await store.ideas.add(
            NewIdea(Proposal(author, space_id, f"Idea {author}"), round_id, IdeaStatus.NEW), RULES, NOW
        )
        ideas.append(added.idea_id)
    await store.ideas.vote(ideas[0], ana_too, True, points, NOW)  # each account upvotes the other's idea
    await store.ideas.vote(ideas[1], ana, True, points, NOW)
    before = await _conserved(store)
    assert (await store.links.confirm(await _claimed(store, ana, ana_too), ana, NOW)).status is LinkStatus.LINKED
    assert await _conserved(store) == before - 4  # both upvotes' points taken back from the person
    for idea_id in ideas:
        counted = await value(store, "SELECT votes FROM ideas WHERE id = ?", idea_id)
        rows = await value(store, "SELECT COUNT(*) FROM votes WHERE idea_id = ?", idea_id)
        assert counted == rows == 0
        assert await value(store, "SELECT upvote_points FROM ideas WHERE id = ?", idea_id) == 0
    assert await value(store, "SELECT COUNT(*) FROM ledger WHERE reason = 'link_retire'") == 2
