"""Linked accounts at the edges, through the commands: two wallets with spending, reward codes and a
redemption still to be handed out; a code typed by the wrong account; link and unlink in ``/audit``."""

from __future__ import annotations

from pathlib import Path

from bot.engine import Engine
from bot.replies import Outcome, to_plain
from tests.bot.test_linked_accounts import ANA_DC, ANA_TG, BOB_DC, BOB_DM, DC_DM, TG_DM, confirmation, link, new_code
from tests.bot.test_points_rewards import offer, seen
from tests.conftest import FakeClock
from tests.helpers import answer_tasks, say


async def conserved(engine: Engine) -> int:
    """The ledger total, checked against the sum of every account's balance."""
    store = engine.services.store
    total = int(await store.fetchval("SELECT COALESCE(SUM(delta), 0) FROM ledger"))
    balances = [await store.points.balance(row[0]) for row in await store.fetchall("SELECT id FROM users")]
    assert total == sum(balances)
    return total


async def test_two_wallets_with_rewards_and_a_pending_redemption_link_and_unlink_losing_nothing(
    engine: Engine, tmp_path: Path, clock: FakeClock, cafe
) -> None:
    await answer_tasks(engine, ANA_TG, cafe, 4)
    await answer_tasks(engine, ANA_DC, cafe, 4)
    await offer(engine, tmp_path, "coffee", "Free coffee", cost=5, codes=["CAFE-1", "CAFE-2"])
    await offer(engine, tmp_path, "mug", "Mug", cost=5)  # no codes: a moderator hands it out later
    assert (await say(engine, ANA_TG, cafe, "/redeem coffee")).outcome == Outcome.DONE
    assert (await say(engine, ANA_DC, cafe, "/redeem coffee")).outcome == Outcome.DONE
    assert (await say(engine, ANA_DC, cafe, "/redeem mug")).outcome == Outcome.DONE
    space_id = (await engine.context(ANA_TG, cafe)).space_id
    redemptions = [
        (r.reward_id, r.display_name, r.code_issued) for r in await engine.rewards.queries.redemptions(space_id)
    ]
    tg_left = await engine.services.store.points.balance((await engine.context(ANA_TG, cafe)).user_id)
    dc_left = await engine.services.store.points.balance((await engine.context(ANA_DC, cafe)).user_id)
    assert tg_left > 0 and dc_left > 0
    before = await conserved(engine)

    await link(engine)  # the confirmation's reply says it plainly: "Linked! … shares your points"
    after = await conserved(engine)
    retired = int(
        await engine.services.store.fetchval("SELECT COALESCE(SUM(delta), 0) FROM ledger WHERE reason = 'link_retire'")
    )
    assert after == before + retired  # only the duplicate answers' points left (both answered the same tasks)
    person = (await engine.context(ANA_DC, cafe)).user_id
    assert await engine.services.store.points.balance(person) == tg_left + dc_left + retired
    for account, space in ((ANA_TG, cafe), (ANA_DC, DC_DM)):
        me = seen(await say(engine, account, space, "/me"))
        assert "Free coffee: CAFE-1" in me and "Free coffee: CAFE-2" in me, me
    assert [
        (r.reward_id, r.display_name, r.code_issued) for r in await engine.rewards.queries.redemptions(space_id)
    ] == (redemptions)  # the redemption still waiting for a moderator stays, under the account that made it

    clock.advance(days=8)
    assert (await say(engine, ANA_DC, DC_DM, "/unlink")).outcome == Outcome.DONE
    assert await conserved(engine) == after
    assert "CAFE-2" in seen(await say(engine, ANA_DC, DC_DM, "/me"))  # its own code, still its own


async def test_a_code_typed_by_the_wrong_account_is_cancelled_by_a_new_link(engine: Engine) -> None:
    code = await new_code(engine)
    assert (await say(engine, BOB_DC, BOB_DM, f"/link {code}")).outcome == Outcome.DONE  # typed by the wrong one
    stale = await confirmation(engine)
    assert "Not yours? Don't press" in to_plain(
        str(await engine.services.store.fetchval("SELECT payload FROM outbox ORDER BY id DESC LIMIT 1"))
    )
    taken = await say(engine, ANA_DC, DC_DM, f"/link {code}")
    assert taken.outcome == Outcome.REFUSED and "send /link on your other account" in to_plain(taken.text)
    fresh = await new_code(engine)  # cancels the first code and its claim
    pressed = await engine.act(ANA_TG, TG_DM, stale)
    assert pressed.outcome == Outcome.REFUSED and "already used" in to_plain(pressed.text)
    assert (await say(engine, ANA_DC, DC_DM, f"/link {fresh}")).outcome == Outcome.DONE
    assert (await engine.act(ANA_TG, TG_DM, await confirmation(engine))).outcome == Outcome.DONE
    linked = await engine.services.store.fetchall("SELECT account_id FROM account_links")
    assert [row[0] for row in linked] == [(await engine.context(ANA_DC, DC_DM)).own_account]


async def test_link_and_unlink_show_in_the_audit_of_the_persons_community(
    engine: Engine, clock: FakeClock, person, cafe
) -> None:
    await answer_tasks(engine, ANA_DC, cafe, 1)
    await link(engine)
    clock.advance(days=8)
    assert (await say(engine, ANA_TG, TG_DM, "/unlink")).outcome == Outcome.DONE
    audit = seen(await say(engine, person("Mod"), cafe, "/audit"))
    assert "Ana · linked their other account: AnaD" in audit, audit
    assert "Ana · split their linked account: AnaD" in audit, audit
