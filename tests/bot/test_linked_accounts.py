"""Linked accounts, one wallet: the whole flow through the commands, every bad input with its friendly
reply, and the person's semantics afterwards (one balance, one answer per task, one rank, bans)."""

from __future__ import annotations

import asyncio
import json
import re

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, to_plain
from tests.conftest import FakeClock
from tests.helpers import answer_tasks, button, open_task, say

ANA_TG = UserRef("telegram", "100", "Ana", "en")
ANA_DC = UserRef("discord", "200", "AnaD", "en")
BOB_DC = UserRef("discord", "300", "Bob", "en")
TG_DM = SpaceRef("telegram", "100", "Ana", True)
DC_DM = SpaceRef("discord", "dm-200", "AnaD", True)
BOB_DM = SpaceRef("discord", "dm-300", "Bob", True)


async def new_code(engine: Engine, user: UserRef = ANA_TG, space: SpaceRef = TG_DM) -> str:
    reply = await say(engine, user, space, "/link")
    found = re.search(r"<code>([0-9A-Z]{8})</code>", reply.text)
    assert found is not None, reply.text
    return found.group(1)


async def confirmation(engine: Engine, owner: UserRef = ANA_TG) -> str:
    """The token of the latest confirmation button sent to ``owner``."""
    payload = await engine.services.store.fetchval(
        "SELECT payload FROM outbox WHERE platform = ? AND target = ? ORDER BY id DESC LIMIT 1",
        (owner.platform, f"user:{owner.platform_user_id}"),
    )
    assert payload is not None
    return str(json.loads(payload)["buttons"][0][0][1])


async def link(engine: Engine) -> None:
    code = await new_code(engine)
    asked = await say(engine, ANA_DC, DC_DM, f"/link {code}")
    assert asked.outcome == Outcome.DONE and "Confirm on your Telegram account" in to_plain(asked.text)
    linked = await engine.act(ANA_TG, TG_DM, await confirmation(engine))
    assert linked.outcome == Outcome.DONE and "Linked" in to_plain(linked.text), to_plain(linked.text)


async def total(engine: Engine) -> int:
    return int(await engine.services.store.fetchval("SELECT COALESCE(SUM(delta), 0) FROM ledger"))


async def balance(engine: Engine, user: UserRef, space: SpaceRef) -> int:
    return await engine.services.store.points.balance((await engine.context(user, space)).user_id)


async def test_linking_merges_both_wallets_without_creating_or_losing_points(engine: Engine, cafe) -> None:
    await answer_tasks(engine, ANA_TG, cafe, 3)
    await answer_tasks(engine, ANA_DC, cafe, 2)
    before = await total(engine)
    tg_before, dc_before = await balance(engine, ANA_TG, cafe), await balance(engine, ANA_DC, cafe)
    await link(engine)
    # Both answered the first two tasks: the later answers are retired, their points taken back.
    retired = int(
        await engine.services.store.fetchval("SELECT COALESCE(SUM(delta), 0) FROM ledger WHERE reason = 'link_retire'")
    )
    assert retired < 0
    assert await total(engine) == before + retired
    merged = tg_before + dc_before + retired
    assert await balance(engine, ANA_TG, cafe) == await balance(engine, ANA_DC, cafe) == merged
    account = (await engine.context(ANA_DC, cafe)).own_account
    assert await engine.services.store.points.balance(account) == 0
    listing = to_plain((await say(engine, ANA_DC, DC_DM, "/link")).text)
    assert "Telegram: Ana (keeps the wallet)" in listing and "Discord: AnaD" in listing


async def test_one_answer_per_task_for_the_person_the_earliest_kept(engine: Engine, cafe) -> None:
    first = await open_task(engine, ANA_TG, cafe, "What do you order")
    assert (await engine.act(ANA_TG, cafe, button(first, "Latte"))).outcome == Outcome.DONE
    second = await open_task(engine, ANA_DC, cafe, "What do you order")
    assert (await engine.act(ANA_DC, cafe, button(second, "Tea"))).outcome == Outcome.DONE
    before = await total(engine)
    earliest = await engine.services.store.fetchval("SELECT MIN(id) FROM answers")
    await link(engine)
    rows = await engine.services.store.fetchall("SELECT id FROM answers")
    assert [row[0] for row in rows] == [earliest]  # same second: the first recorded stays
    retired = await engine.services.store.fetchval("SELECT SUM(delta) FROM ledger WHERE reason = 'link_retire'")
    assert retired is not None and retired < 0
    assert await total(engine) == before + retired
    again = await engine.act(ANA_DC, cafe, button(second, "Tea"))
    assert again.outcome != Outcome.DONE


async def test_every_bad_code_is_refused_clearly(engine: Engine, clock: FakeClock, cafe) -> None:
    code = await new_code(engine)
    own = await say(engine, ANA_TG, TG_DM, f"/link {code}")
    assert own.outcome == Outcome.REFUSED and "same account" in to_plain(own.text)
    for left in (4, 3, 2, 1, 0):
        wrong = await say(engine, ANA_DC, DC_DM, "/link ZZZZZZZZ")
        assert f"Tries left: {left}" in to_plain(wrong.text)
    blocked = await say(engine, ANA_DC, DC_DM, f"/link {code}")
    assert "Too many wrong codes" in to_plain(blocked.text)
    clock.advance(minutes=16)
    expired = await say(engine, ANA_DC, DC_DM, f"/link {code}")
    assert "expired" in to_plain(expired.text)
    shown = await new_code(engine)
    in_group = await say(engine, ANA_DC, cafe, f"/link {shown}")
    assert in_group.outcome == Outcome.REFUSED and "shown in a group" in to_plain(in_group.text)
    assert "already used" in to_plain((await say(engine, ANA_DC, DC_DM, f"/link {shown}")).text)
    assert "private chat" in to_plain((await say(engine, ANA_TG, cafe, "/link")).text)


async def test_a_code_is_used_once_and_only_its_owner_confirms(engine: Engine, cafe) -> None:
    code = await new_code(engine)
    await say(engine, ANA_DC, DC_DM, f"/link {code}")
    token = await confirmation(engine)
    stranger = await engine.act(BOB_DC, BOB_DM, token)
    assert stranger.outcome == Outcome.REFUSED and "Only the account" in to_plain(stranger.text)
    racing = await asyncio.gather(*(engine.act(ANA_TG, TG_DM, token) for _ in range(3)))
    assert sorted(reply.outcome for reply in racing).count(Outcome.DONE) == 1
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM account_links") == 1
    twice = await say(engine, BOB_DC, BOB_DM, f"/link {code}")
    assert "already used" in to_plain(twice.text)
    third = await new_code(engine, BOB_DC, BOB_DM)
    refused = await say(engine, ANA_DC, DC_DM, f"/link {third}")
    assert "already linked" in to_plain(refused.text)


async def test_a_ban_follows_the_person_and_top_shows_them_once(engine: Engine, person, cafe) -> None:
    await answer_tasks(engine, ANA_TG, cafe, 2)
    await answer_tasks(engine, ANA_DC, cafe, 2)
    await link(engine)
    board = to_plain((await say(engine, ANA_DC, cafe, "/top")).text)
    assert board.count("Ana") == 1 and "AnaD" not in board
    person_id = (await engine.context(ANA_DC, cafe)).user_id
    mod = await engine.context(person("Mod"), cafe)
    await engine.services.store.members.set_ban(mod.space_id, person_id, mod.user_id, True, engine.services.clock())
    assert await engine.services.store.members.find_user("discord", "200") == person_id
    question = await engine.tasks.next_task(await engine.context(ANA_TG, cafe))
    assert question.outcome == Outcome.REFUSED


async def test_unlink_waits_for_the_cooldown_and_duplicates_nothing(engine: Engine, clock: FakeClock, cafe) -> None:
    await answer_tasks(engine, ANA_DC, cafe, 2)
    await link(engine)
    before = await total(engine)
    soon = await say(engine, ANA_DC, DC_DM, "/unlink")
    assert soon.outcome == Outcome.REFUSED and "can be split from" in to_plain(soon.text)
    clock.advance(days=8)
    done = await say(engine, ANA_DC, DC_DM, "/unlink")
    assert done.outcome == Outcome.DONE
    assert await total(engine) == before
    assert await balance(engine, ANA_DC, cafe) == 0
    assert await balance(engine, ANA_TG, cafe) == before
    assert "not linked" in to_plain((await say(engine, ANA_DC, DC_DM, "/unlink")).text)


async def test_a_stale_identity_in_another_engine_is_refused_and_resolved_again(
    engine: Engine, settings, clock
) -> None:
    from bot.app import running_engine

    cafe = SpaceRef("console", "cafe", "Corner Café")
    async with running_engine(settings, clock) as other:
        first = await open_task(other, ANA_DC, cafe, "What do you order")  # caches AnaD as her own person
        await link(engine)
        assert (await other.act(ANA_DC, cafe, button(first, "Latte"))).outcome == Outcome.DONE
    account = (await engine.context(ANA_DC, cafe)).own_account
    assert await engine.services.store.points.balance(account) == 0
    person_id = (await engine.context(ANA_DC, cafe)).user_id
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM answers WHERE user_id = ?", (account,)) == 0
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM answers WHERE user_id = ?", (person_id,)) == 1
