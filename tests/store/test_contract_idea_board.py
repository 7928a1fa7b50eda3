"""The store contract for the team's work on ideas (the dashboard's Ideas page), on SQLite and PostgreSQL:
the listing's filters, its top/new/trending orders (trending as the chat's :func:`trending` ranks), its
paging and count; a merge's preview against the merge itself; tags, assignees and notes with their audit
rows and their bounds held by the database."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from bot.features.ideas.similarity import trending
from bot.store.records import (
    BoardFilter,
    ChangeOutcome,
    IdeaPoints,
    IdeaStatus,
    NewIdea,
    Proposal,
    StatusChange,
    TriageOutcome,
)
from tests.store.conftest import NOW, RULES, people, value

POINTS = IdeaPoints(RULES, per_upvote=0, upvote_cap=0, bonuses={})


async def _community(store: Any) -> tuple[int, int]:
    """The café's home space on the console and a Telegram group joined to it; their ids."""
    home = (await store.members.ensure_space("console", "cafe", "Corner Café", False)).space_id
    group = (await store.members.ensure_space("telegram", "-100", "Café group", False)).space_id
    await store.communities.declare([("console", "cafe"), ("telegram", "-100")])
    return home, group


async def _idea(store: Any, author: int, home: int, text: str, **fields: Any) -> int:
    hours = fields.pop("hours_ago", 0)
    status = fields.pop("status", IdeaStatus.NEW)
    proposal = Proposal(author, home, text, **fields)
    submitted = await store.ideas.add(NewIdea(proposal, None, status), RULES, NOW - timedelta(hours=hours))
    return int(submitted.idea_id)


async def _vote(store: Any, idea_id: int, voters: list[int]) -> None:
    for voter in voters:
        await store.ideas.vote(idea_id, voter, True, POINTS, NOW)


async def test_contract_the_board_filters_sorts_and_pages_in_the_database(store: Any) -> None:
    home, group = await _community(store)
    author, *voters = await people(store, 6)
    old = await _idea(store, author, home, "Oat milk", hours_ago=72, category="drinks")
    fresh = await _idea(store, author, home, "Longer hours", hours_ago=1, origin_id=group)
    middle = await _idea(store, author, home, "Board games", hours_ago=20, origin_id=home)
    declined = await _idea(store, author, home, "Live music", hours_ago=30, status=IdeaStatus.DECLINED)
    await _vote(store, old, voters[:5])
    await _vote(store, fresh, voters[:2])
    await _vote(store, middle, voters[:3])
    board = store.idea_board

    async def ids(**wanted: Any) -> list[int]:
        page = await board.board(BoardFilter(home, **wanted), NOW)
        return [row.idea.id for row in page.rows]

    assert await ids(sort="top") == [old, middle, fresh, declined]
    assert await ids(sort="new") == [fresh, middle, declined, old]
    listed = [idea for idea in [await store.ideas.idea(i) for i in (old, fresh, middle, declined)] if idea]
    assert await ids(sort="trending") == [idea.id for idea in trending(listed, NOW)]
    assert await ids(status=IdeaStatus.DECLINED) == [declined]
    assert await ids(category="drinks") == [old]
    assert await ids(platform="telegram") == [fresh]
    assert await ids(space_id=home) == [old, middle, declined]  # an idea stored without a space is the home's
    assert await ids(since=date(2026, 11, 22)) == [middle, fresh, declined]
    assert await ids(since=date(2026, 11, 22), until=date(2026, 11, 22)) == [middle, declined]
    assert await ids(until=(NOW - timedelta(days=3)).date()) == [old]
    first = await board.board(BoardFilter(home, sort="top", limit=2), NOW)
    second = await board.board(BoardFilter(home, sort="top", offset=2, limit=2), NOW)
    assert (first.total, second.total) == (4, 4)
    assert [row.idea.id for row in (*first.rows, *second.rows)] == [old, middle, fresh, declined]
    fresh_row = next(row for row in first.rows + second.rows if row.idea.id == fresh)
    assert (fresh_row.platform, fresh_row.space_title) == ("telegram", "Café group")
    assert [choice.id for choice in await board.spaces(home)] == [home, group]
    assert await board.categories(home) == ["drinks"]


async def test_contract_a_merge_preview_counts_the_voters_the_merge_keeps(store: Any) -> None:
    home, _ = await _community(store)
    source_author, target_author, both, only_source, only_target = await people(store, 5)
    source = await _idea(store, source_author, home, "Oat milk")
    target = await _idea(store, target_author, home, "Plant milks")
    await _vote(store, source, [both, only_source, target_author])  # the target's author's vote is dropped
    await _vote(store, target, [both, only_target, source_author])
    preview = await store.idea_board.merge_preview(source, target)
    assert (preview.source_votes, preview.target_votes, preview.kept) == (3, 3, 4)
    change = StatusChange(source, home, source_author, IdeaStatus.MERGED, "status", "", target)
    result = await store.ideas.change_status(change, POINTS, NOW)
    assert result.outcome == ChangeOutcome.CHANGED
    assert result.votes == preview.kept


async def test_contract_a_merge_carries_the_tags_and_shows_the_merged_ideas_notes_on_the_target(store: Any) -> None:
    home, _ = await _community(store)
    author, moderator = await people(store, 2)
    source = await _idea(store, author, home, "Oat milk")
    target = await _idea(store, author, home, "Plant milks")
    board = store.idea_board
    for idea, tag in ((source, "drinks"), (source, "supplier"), (target, "drinks")):
        await board.tag(idea, home, moderator, tag, True, NOW)
    await board.add_note(source, home, moderator, "Ask the oat supplier", NOW)
    await board.add_note(target, home, moderator, "Seasonal?", NOW)
    change = StatusChange(source, home, moderator, IdeaStatus.MERGED, "status", "", target)
    assert (await store.ideas.change_status(change, POINTS, NOW)).outcome == ChangeOutcome.CHANGED
    row = next(row for row in (await board.board(BoardFilter(home), NOW)).rows if row.idea.id == target)
    assert row.tags == ("drinks", "supplier")
    notes = [(note.text, note.merged_from) for note in row.notes]
    assert notes == [("Ask the oat supplier", source), ("Seasonal?", None)]


async def test_contract_tags_assignees_and_notes_are_audited_and_bounded(store: Any) -> None:
    home, _ = await _community(store)
    author, moderator = await people(store, 2)
    idea = await _idea(store, author, home, "Oat milk")
    other_space = (await store.members.ensure_space("console", "bakery", "Bakery", False)).space_id
    board = store.idea_board
    assert await board.tag(idea, home, moderator, "drinks", True, NOW) == TriageOutcome.DONE
    assert await board.tag(idea, home, moderator, "drinks", True, NOW) == TriageOutcome.UNCHANGED
    assert await board.tag(idea, other_space, moderator, "drinks", True, NOW) == TriageOutcome.NOT_FOUND
    assert await board.assign(idea, home, moderator, moderator, NOW) == TriageOutcome.DONE
    assert await board.assign(idea, home, moderator, moderator, NOW) == TriageOutcome.UNCHANGED
    assert await board.add_note(idea, home, moderator, "Ask the supplier" * 600, NOW) == TriageOutcome.DONE
    assert await board.add_note(idea, other_space, moderator, "Elsewhere", NOW) == TriageOutcome.NOT_FOUND
    row = (await board.board(BoardFilter(home), NOW)).rows[0]
    assert (row.tags, row.assignee, len(row.notes)) == (("drinks",), "u1", 1)
    assert row.notes[0].text == "Ask the supplier" * 600
    actions = await store.fetchall("SELECT action, moderator_id, target FROM audit ORDER BY id")
    assert [tuple(a) for a in actions] == [(name, moderator, f"#{idea}") for name in ("tag", "assign", "note")]
    assert await board.tag(idea, home, moderator, "drinks", False, NOW) == TriageOutcome.DONE
    assert await value(store, "SELECT COUNT(*) FROM idea_tags") == 0
    with pytest.raises(Exception, match=r"(?i)check"):
        await store.write(lambda db: db.execute("INSERT INTO idea_tags (idea_id, tag) VALUES (?, ?)", (idea, "x" * 33)))


async def test_contract_a_bulk_change_changes_every_idea_in_one_transaction(store: Any) -> None:
    home, _ = await _community(store)
    author, moderator = await people(store, 2)
    first, second = [await _idea(store, author, home, text) for text in ("Oat milk", "Board games")]
    changes = [StatusChange(i, home, moderator, IdeaStatus.ACCEPTED, "status", "Soon") for i in (first, second)]
    results = await store.ideas.change_many(changes, POINTS, NOW)
    assert [r.outcome for r in results] == [ChangeOutcome.CHANGED, ChangeOutcome.CHANGED]
    assert await value(store, "SELECT COUNT(*) FROM ideas WHERE status = 'accepted' AND status_note = 'Soon'") == 2
    assert await value(store, "SELECT COUNT(*) FROM audit WHERE action = 'status'") == 2
