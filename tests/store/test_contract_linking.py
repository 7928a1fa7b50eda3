"""The store contract of linked accounts, on SQLite and PostgreSQL: linking moves points and conserves the
ledger, duplicates are retired, vote counts stay equal to vote rows, racing confirmations (two stores, as
two processes) link once, a write from a stale process is refused, and unlinking duplicates nothing."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest

from bot.store.database import AccountLinkedError
from bot.store.records import (
    AnswerStatus,
    IdeaPoints,
    IdeaStatus,
    ItemRow,
    LinkStatus,
    NewIdea,
    Proposal,
    UnlinkStatus,
)
from tests.store.conftest import NOW, RULES, a_round, an_answer, assert_leaderboards_follow_the_ledger, people, value
from tests.store.test_contract_labelling import a_label, job_with, rules

MISTAKES = (5, timedelta(minutes=15))


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _payload(_: Any) -> dict[str, Any]:
    return {"text": "confirm?"}


async def _claimed(store: Any, owner: int, second: int, code: str = "ABCDEFGH") -> int:
    await store.links.create_code(owner, _hash(code), NOW, timedelta(minutes=10))
    outcome = await store.links.claim(_hash(code), second, NOW, MISTAKES, _payload)
    assert outcome.status is LinkStatus.CLAIMED
    return int(await value(store, "SELECT id FROM link_codes WHERE code_hash = ?", _hash(code)))


async def _conserved(store: Any) -> int:
    """The ledger total; every account's balance is its ledger (and the boards follow)."""
    await assert_leaderboards_follow_the_ledger(store)
    balances = 0
    for (user_id,) in await store.fetchall("SELECT id FROM users"):
        balances += await store.points.balance(user_id)
    ledger = int(await value(store, "SELECT SUM(delta) FROM ledger"))
    assert ledger == balances
    return ledger


async def test_linking_moves_points_and_retires_duplicates(store: Any) -> None:
    ana, ana_too = await people(store, 2)
    space_id, round_id = await a_round(store)
    for user_id, task in ((ana, "t1"), (ana, "t2"), (ana_too, "t2"), (ana_too, "t3")):
        assert (await store.tasks.record_answer(an_answer(round_id, space_id, user_id, task), RULES, NOW)).status is (
            AnswerStatus.RECORDED
        )
    before = await _conserved(store)
    code_id = await _claimed(store, ana, ana_too)
    assert (await store.links.confirm(code_id, ana, NOW)).status is LinkStatus.LINKED
    after = await _conserved(store)
    assert after == before - 5  # t2 answered twice: the later answer retired, its 5 points taken back
    assert await store.points.balance(ana) == after and await store.points.balance(ana_too) == 0
    tasks = await store.fetchall("SELECT task_id, user_id FROM answers ORDER BY task_id")
    assert [tuple(row) for row in tasks] == [("t1", ana), ("t2", ana), ("t3", ana)]
    counted = await value(store, "SELECT SUM(answers) FROM task_counts WHERE task_id = 't2'")
    assert counted == 1
    refused = await store.tasks.record_answer(an_answer(round_id, space_id, ana, "t3"), RULES, NOW)
    assert refused.status is AnswerStatus.ALREADY_ANSWERED


async def test_a_write_for_a_linked_account_is_refused(store: Any, second_store: Any) -> None:
    ana, ana_too = await people(store, 2)
    space_id, round_id = await a_round(store)
    code_id = await _claimed(store, ana, ana_too)
    assert (await store.links.confirm(code_id, ana, NOW)).status is LinkStatus.LINKED
    try:
        await second_store.tasks.record_answer(an_answer(round_id, space_id, ana_too), RULES, NOW)
    except AccountLinkedError:
        pass
    else:
        raise AssertionError("a stale process wrote for a linked account")
    assert await value(store, "SELECT COUNT(*) FROM answers") == 0


async def test_racing_confirmations_link_once(store: Any, second_store: Any) -> None:
    ana, ana_too = await people(store, 2)
    space_id, round_id = await a_round(store)
    for user_id in (ana, ana_too):
        await store.tasks.record_answer(an_answer(round_id, space_id, user_id, f"t{user_id}"), RULES, NOW)
    before = await _conserved(store)
    code_id = await _claimed(store, ana, ana_too)
    outcomes = await asyncio.gather(
        *(chosen.links.confirm(code_id, ana, NOW) for chosen in (store, second_store, store, second_store))
    )
    assert sorted(outcome.status for outcome in outcomes) == [LinkStatus.LINKED] + [LinkStatus.USED] * 3
    assert await value(store, "SELECT COUNT(*) FROM account_links") == 1
    assert await _conserved(store) == before


async def test_answers_racing_a_link_are_counted_once(store: Any, second_store: Any) -> None:
    """One answer per task per round for the person, while the link commits in another process."""
    ana, ana_too = await people(store, 2)
    space_id, round_id = await a_round(store)
    code_id = await _claimed(store, ana, ana_too)

    async def answer(chosen: Any, user_id: int) -> Any:
        try:
            return (await chosen.tasks.record_answer(an_answer(round_id, space_id, user_id), RULES, NOW)).status
        except AccountLinkedError:
            return (await chosen.tasks.record_answer(an_answer(round_id, space_id, ana), RULES, NOW)).status

    await asyncio.gather(
        answer(second_store, ana_too), store.links.confirm(code_id, ana, NOW), answer(second_store, ana_too)
    )
    assert await value(store, "SELECT COUNT(*) FROM answers") == 1
    assert await value(store, "SELECT COUNT(*) FROM answers WHERE user_id = ?", ana) == 1
    assert await _conserved(store) == 5


async def test_duplicate_votes_are_retired_and_counts_follow(store: Any) -> None:
    author, ana, ana_too = await people(store, 3)
    space_id, round_id = await a_round(store, "ideas")
    points = IdeaPoints(RULES, per_upvote=2, upvote_cap=50, bonuses={})
    submitted = await store.ideas.add(
        NewIdea(Proposal(author, space_id, "More outlets"), round_id, IdeaStatus.NEW), RULES, NOW
    )
    idea_id = submitted.idea_id
    for voter in (ana, ana_too):
        await store.ideas.vote(idea_id, voter, True, points, NOW)
    before = await _conserved(store)
    code_id = await _claimed(store, ana, ana_too)
    assert (await store.links.confirm(code_id, ana, NOW)).status is LinkStatus.LINKED
    kept = await value(store, "SELECT votes FROM ideas WHERE id = ?", idea_id)
    rows = await value(store, "SELECT COUNT(*) FROM votes WHERE idea_id = ?", idea_id)
    assert kept == rows == 1
    assert await _conserved(store) == before - 2  # the author keeps one upvote's points, not two


async def test_codes_refuse_mistakes_expiry_and_reuse(store: Any) -> None:
    ana, bob, cy, dee = await people(store, 4)
    await store.links.create_code(ana, _hash("CODE0001"), NOW, timedelta(minutes=10))
    for left in (4, 3, 2, 1, 0):
        wrong = await store.links.claim(_hash("NOPE"), bob, NOW, MISTAKES, _payload)
        assert (wrong.status, wrong.tries_left) == (LinkStatus.WRONG, left)
    assert (await store.links.claim(_hash("CODE0001"), bob, NOW, MISTAKES, _payload)).status is LinkStatus.TOO_MANY
    late = NOW + timedelta(minutes=11)
    assert (await store.links.claim(_hash("CODE0001"), cy, late, MISTAKES, _payload)).status is LinkStatus.EXPIRED
    assert (await store.links.claim(_hash("CODE0001"), ana, NOW, MISTAKES, _payload)).status is LinkStatus.SELF
    assert (await store.links.claim(_hash("CODE0001"), cy, NOW, MISTAKES, _payload)).status is LinkStatus.CLAIMED
    assert (await store.links.claim(_hash("CODE0001"), dee, NOW, MISTAKES, _payload)).status is LinkStatus.TAKEN
    assert await value(store, "SELECT COUNT(*) FROM link_codes WHERE code_hash = 'CODE0001'") == 0  # hashed only


async def test_unlink_after_the_cooldown_duplicates_nothing(store: Any) -> None:
    ana, ana_too = await people(store, 2)
    space_id, round_id = await a_round(store)
    await store.tasks.record_answer(an_answer(round_id, space_id, ana_too), RULES, NOW)
    code_id = await _claimed(store, ana, ana_too)
    await store.links.confirm(code_id, ana, NOW)
    before = await _conserved(store)
    week = timedelta(days=7)
    assert (await store.links.unlink(ana_too, ana, NOW, week)).status is UnlinkStatus.TOO_SOON
    assert (await store.links.unlink(ana_too, ana, NOW + week, week)).status is UnlinkStatus.UNLINKED
    assert await _conserved(store) == before == await store.points.balance(ana)
    assert await store.points.balance(ana_too) == 0
    recorded = await store.tasks.record_answer(an_answer(round_id, space_id, ana_too, "t9"), RULES, NOW + week)
    assert recorded.status is AnswerStatus.RECORDED  # their own person again


async def test_a_label_that_pays_nothing_is_refused_for_a_linked_account_too(store: Any, second_store: Any) -> None:
    """ "Can't tell" writes no ledger row, so the ledger's guard alone would let a stale process record it
    under the linked account; the labels' own guard refuses it."""
    ana, ana_too = await people(store, 2)
    space_id, round_id, ids = await job_with(store, ItemRow("p1", None))
    code_id = await _claimed(store, ana, ana_too)
    assert (await store.links.confirm(code_id, ana, NOW)).status is LinkStatus.LINKED
    with pytest.raises(AccountLinkedError):
        await second_store.labelling.record_label(
            a_label(round_id, space_id, ids["p1"], ana_too, vote=None), rules(), RULES, NOW, space_id
        )
    assert await value(store, "SELECT COUNT(*) FROM label_answers") == 0
