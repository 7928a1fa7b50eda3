"""Closing the loop, "you said, we did": each member who answered a round gets its short summary in private
(unless they chose /quiet), the earliest supporters of a launched idea are paid and told, and /launched
names who proposed each launched idea and how many supported it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from bot.app import running_engine
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.outbox.drainer import OutboxDrainer, Pacer
from bot.replies import Outcome, Reply, to_plain
from bot.settings import Settings
from tests.bot.conftest import MUSIC, submit
from tests.bot.test_linked_accounts import ANA_DC, ANA_TG, link
from tests.conftest import FakeClock
from tests.helpers import answer_tasks, say

EngineWith = Callable[..., Awaitable[Engine]]


async def drain(engine: Engine, platform: str = "console") -> dict[str, list[str]]:
    """What one drainer run sends on ``platform``, as plain texts per target."""
    sent: dict[str, list[str]] = {}

    async def send(target: str, reply: Reply) -> None:
        sent.setdefault(target, []).append(to_plain(reply.text))

    await OutboxDrainer(engine, platform, send, Pacer(per_second=10_000)).drain_once()
    return sent


@pytest.fixture
async def engine_with(settings: Settings, clock: FakeClock) -> AsyncIterator[EngineWith]:
    """An engine with other idea settings (how many early supporters share in a launch)."""
    async with AsyncExitStack() as stack:

        async def make(**ideas: Any) -> Engine:
            custom = settings.model_copy(update={"ideas": settings.ideas.model_copy(update=ideas)})
            return await stack.enter_async_context(running_engine(custom, clock))

        yield make


async def test_each_member_who_answered_gets_one_summary_in_their_language(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    mod, ana, ion, quiet = person("Mod"), person("Ana"), person("Ion", "ro"), person("Quiet")
    person("Outsider")
    await say(engine, mod, cafe, "/round open coffee")
    for member in (ana, ion, quiet):
        await answer_tasks(engine, member, cafe, 9)
    assert "won't get" in to_plain((await say(engine, quiet, cafe, "/quiet")).text)
    assert (await say(engine, mod, cafe, "/round close")).outcome == Outcome.DONE
    sent = await drain(engine)
    summaries = {target: texts for target, texts in sent.items() if target.startswith("user:")}
    assert sorted(summaries) == ["user:ana", "user:ion"], "one each; none for the quiet member nor the outsider"
    (english,) = summaries["user:ana"]
    assert "is closed" in english
    assert "What do you order most often? → Espresso (100%)" in english
    assert "/quiet" in english
    (romanian,) = summaries["user:ion"]
    assert "s-a încheiat" in romanian and "Trimite /quiet" in romanian
    assert (await say(engine, mod, cafe, "/round close")).outcome != Outcome.DONE
    assert await drain(engine) == {}, "a close asked again sends nothing twice"


async def test_quiet_switches_and_takes_on_or_off(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    ana = person("Ana")
    assert "won't get" in to_plain((await say(engine, ana, cafe, "/quiet on")).text)
    assert "won't get" in to_plain((await say(engine, ana, cafe, "/quiet on")).text)
    assert "You'll get" in to_plain((await say(engine, ana, cafe, "/quiet")).text)
    assert "You'll get" in to_plain((await say(engine, ana, cafe, "/quiet OFF")).text)
    refused = await say(engine, ana, cafe, "/quiet maybe")
    assert refused.outcome == Outcome.REFUSED and "/quiet on" in to_plain(refused.text)
    assert "/quiet" in to_plain((await say(engine, ana, cafe, "/help")).text)


async def test_a_linked_person_is_summarised_once_on_the_primary_account(engine: Engine) -> None:
    await link(engine)  # Ana's Telegram account is the primary; her Discord account is linked to it
    engine.services.settings.discord.moderators.append("mod")
    guild = SpaceRef("discord", "guild-1", "Café guild")
    await say(engine, UserRef("discord", "mod", "Mod", "en"), guild, "/round open coffee")
    await answer_tasks(engine, ANA_DC, guild, 9)
    await say(engine, UserRef("discord", "mod", "Mod", "en"), guild, "/round close")
    telegram = await drain(engine, "telegram")
    summaries = [text for text in telegram[f"user:{ANA_TG.platform_user_id}"] if "is closed" in text]
    assert len(summaries) == 1, "the link's own confirmation aside, one summary"
    discord = await drain(engine, "discord")
    assert f"user:{ANA_DC.platform_user_id}" not in discord


async def test_a_launch_pays_the_author_and_the_earliest_supporters_once(
    engine_with: EngineWith, person: Callable[..., UserRef], cafe: SpaceRef, clock: FakeClock
) -> None:
    engine = await engine_with(early_supporters=2, early_supporter_bonus=20, launched_bonus=100, points_per_upvote=0)
    mod, ana = person("Mod"), person("Ana")
    idea = await submit(engine, ana, cafe, MUSIC)
    voters = [person(name) for name in ("Bea", "Cal", "Dan")]
    for voter in voters:
        clock.advance(minutes=1)
        assert (await engine.ideas.vote(await engine.context(voter, cafe), idea, up=True)).outcome == Outcome.DONE
    await drain(engine)
    launched = await say(engine, mod, cafe, f"/status {idea} launched in every shop from Monday")
    assert launched.outcome == Outcome.DONE
    sent = await drain(engine)
    assert "+100 points" in sent["user:ana"][0] and "in every shop" in sent["user:ana"][0]
    for early in ("bea", "cal"):
        assert "one of the first" in sent[f"user:{early}"][0] and "+20 points" in sent[f"user:{early}"][0]
    assert "points" not in sent["user:dan"][0] and "launched" in sent["user:dan"][0]
    # Retried, moved back and launched again: nothing more is paid, nobody is told of the launch twice.
    assert (await say(engine, mod, cafe, f"/status {idea} launched in every shop from Monday")).outcome != Outcome.DONE
    await say(engine, mod, cafe, f"/status {idea} accepted")
    await say(engine, mod, cafe, f"/status {idea} launched")
    later = await drain(engine)
    assert sorted(later) == ["user:ana", "user:bea", "user:cal", "user:dan"]
    assert all(len(texts) == 1 and "accepted" in texts[0] for texts in later.values()), later
    balances = {
        name: await engine.points.balance(await engine.context(member, cafe))
        for name, member in (("ana", ana), ("bea", voters[0]), ("cal", voters[1]), ("dan", voters[2]))
    }
    assert balances["bea"] - balances["dan"] == 20 and balances["cal"] - balances["dan"] == 20
    assert balances["ana"] - balances["dan"] == 100 + engine.services.settings.ideas.accepted_bonus
    store = engine.services.store
    total = int(await store.fetchval("SELECT COALESCE(SUM(delta), 0) FROM ledger"))
    everyone = [int(row[0]) for row in await store.fetchall("SELECT id FROM users")]
    assert total == sum([await store.points.balance(user_id) for user_id in everyone])
    listing = to_plain((await say(engine, person("Eve"), cafe, "/launched")).text)
    assert f"#{idea}" in listing and "proposed by Ana · 3 supporters" in listing
