"""The team's work on ideas through the engine (what the dashboard's Ideas page calls): tags, assignees and
internal notes, audited and refused to members; a merge's preview and the refused merges; a bulk status
change that tells each author and voter exactly what ``/status`` tells them."""

from __future__ import annotations

import json
from collections.abc import Callable

from bot.engine import Engine
from bot.features.ideas.triage import NOTE_MAX_LENGTH, TAG_MAX_LENGTH
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, to_plain
from bot.store.records import BoardFilter, BoardRow, IdeaStatus
from tests.bot.conftest import LOYALTY, MUSIC, OUTLETS, submit
from tests.helpers import say

HOSTILE_TAG = "<script>x</script>"


async def _row(engine: Engine, space_id: int, idea_id: int) -> BoardRow:
    page = await engine.services.store.idea_board.board(BoardFilter(space_id, limit=100), engine.services.clock())
    return next(row for row in page.rows if row.idea.id == idea_id)


async def test_tags_assignees_and_notes_are_the_teams_audited_and_refused_to_members(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    idea = await submit(engine, person("Ana"), cafe, OUTLETS)
    mod, ana = await engine.context(person("Mod"), cafe), await engine.context(person("Ana"), cafe)
    triage = engine.triage
    assert (await triage.tag(ana, idea, "power")).outcome == Outcome.REFUSED
    assert (await triage.note(ana, idea, "mine")).outcome == Outcome.REFUSED
    assert (await triage.assign(ana, idea, person("Mod"))).outcome == Outcome.REFUSED
    assert (await triage.tag(mod, idea, f"#{HOSTILE_TAG}")).outcome == Outcome.DONE
    assert (await triage.tag(mod, idea, HOSTILE_TAG)).outcome == Outcome.ALREADY_DONE
    too_long = await triage.tag(mod, idea, "x" * (TAG_MAX_LENGTH + 1))
    assert too_long.outcome == Outcome.REFUSED and str(TAG_MAX_LENGTH) in to_plain(too_long.text)
    assert (await triage.tag(mod, idea, "   ")).outcome == Outcome.REFUSED
    not_mod = await triage.assign(mod, idea, person("Bob"))
    assert not_mod.outcome == Outcome.REFUSED and "Bob" in to_plain(not_mod.text)
    assert (await triage.assign(mod, idea, person("Mod"))).outcome == Outcome.DONE
    assert (await triage.note(mod, idea, "")).outcome == Outcome.REFUSED
    assert (await triage.note(mod, idea, "n" * (NOTE_MAX_LENGTH + 1))).outcome == Outcome.REFUSED
    assert (await triage.note(mod, idea, "javascript:alert(1)")).outcome == Outcome.DONE
    row = await _row(engine, mod.space_id, idea)
    assert (row.tags, row.assignee, [n.text for n in row.notes]) == ((HOSTILE_TAG,), "Mod", ["javascript:alert(1)"])
    shown = to_plain((await say(engine, person("Bob"), cafe, f"/idea {idea}")).text)
    assert "javascript" not in shown and "script" not in shown, "members never see the team's notes or tags"
    audit = to_plain((await engine.moderation.audit_log(mod)).text)
    assert all(action in audit for action in ("tag", "assign", "note")), audit
    untagged = await triage.tag(mod, idea, HOSTILE_TAG, remove=True)
    assert untagged.outcome == Outcome.DONE
    assert (await triage.assign(mod, idea, None)).outcome == Outcome.DONE


async def test_a_merge_preview_counts_each_voter_once_and_refuses_what_the_merge_would(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    first = await submit(engine, person("Ana"), cafe, OUTLETS)
    second = await submit(engine, person("Bob"), cafe, MUSIC)
    for voter, ideas in (("Cy", (first, second)), ("Di", (first,)), ("Ed", (second,))):
        for idea in ideas:
            await engine.ideas.vote(await engine.context(person(voter), cafe), idea, up=True)
    mod = await engine.context(person("Mod"), cafe)
    preview = await engine.triage.merge_preview(mod, first, second)
    assert preview.outcome == Outcome.INFO
    assert "keeps 3 votes" in to_plain(preview.text), to_plain(preview.text)
    assert await engine.services.store.fetchval("SELECT votes FROM ideas WHERE id = ?", (second,)) == 2  # unchanged
    itself = await engine.ideas.set_status(mod, first, IdeaStatus.MERGED, merged_into=first)
    assert itself.outcome == Outcome.REFUSED and "itself" in to_plain(itself.text)
    assert (await engine.triage.merge_preview(mod, first, first)).outcome == Outcome.REFUSED
    merged = await engine.ideas.set_status(mod, first, IdeaStatus.MERGED, merged_into=second)
    assert merged.outcome == Outcome.DONE and "3 in all" in to_plain(merged.text)
    back = await engine.ideas.set_status(mod, second, IdeaStatus.MERGED, merged_into=first)
    assert back.outcome == Outcome.REFUSED and "already merged into" in to_plain(back.text), to_plain(back.text)
    assert (await engine.triage.merge_preview(mod, second, first)).outcome == Outcome.REFUSED
    member = await engine.triage.merge_preview(await engine.context(person("Cy"), cafe), second, first)
    assert member.outcome == Outcome.REFUSED


async def test_a_bulk_status_tells_each_author_and_voter_what_status_tells_them(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    by_chat, in_bulk, also = [await submit(engine, person("Ana"), cafe, OUTLETS) for _ in range(3)]
    other = await submit(engine, person("Ana"), SpaceRef("console", "bakery", "Bakery"), LOYALTY)
    for idea in (by_chat, in_bulk):
        await engine.ideas.vote(await engine.context(person("Cy"), cafe), idea, up=True)
    await say(engine, person("Mod"), cafe, f"/status {by_chat} accepted Next month")
    mod = await engine.context(person("Mod"), cafe)
    reply = await engine.triage.bulk_status(mod, [in_bulk, also, also, other], IdeaStatus.ACCEPTED, "Next month")
    assert reply.outcome == Outcome.DONE
    text = to_plain(reply.text)
    assert "2 ideas are now accepted" in text and f"#{other}" in text, text
    rows = await engine.services.store.fetchall("SELECT target, payload FROM outbox ORDER BY id")
    told = [(target, json.loads(payload)) for target, payload in rows]

    def about(idea: int) -> list[tuple[str, str]]:
        return [(target, json.dumps(p)) for target, p in told if f"#{idea} " in json.dumps(p)]

    from_chat = about(by_chat)
    assert sorted(target for target, _ in from_chat) == ["user:ana", "user:cy"]
    expected = [(target, payload.replace(f"#{by_chat} ", f"#{in_bulk} ")) for target, payload in from_chat]
    assert about(in_bulk) == expected
    again = await engine.triage.bulk_status(mod, [in_bulk], IdeaStatus.ACCEPTED, "Next month")
    assert again.outcome == Outcome.REFUSED and "nothing changed" in to_plain(again.text)
    assert (await engine.triage.bulk_status(mod, [], IdeaStatus.ACCEPTED)).outcome == Outcome.REFUSED
    assert (await engine.triage.bulk_status(mod, [also], IdeaStatus.MERGED)).outcome == Outcome.REFUSED
    member = await engine.triage.bulk_status(await engine.context(person("Cy"), cafe), [also], IdeaStatus.DECLINED)
    assert member.outcome == Outcome.REFUSED
    statuses = await engine.services.store.fetchall("SELECT id, status FROM ideas ORDER BY id")
    assert [tuple(row) for row in statuses] == [
        (by_chat, "accepted"),
        (in_bulk, "accepted"),
        (also, "accepted"),
        (other, "new"),
    ]
