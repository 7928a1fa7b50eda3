"""Communities: linking two spaces with a one-time code, and one round, one idea list and one leaderboard
shared by both; a space nobody linked is a community of one and behaves as before."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.outbox.drainer import OutboxDrainer, Pacer
from bot.replies import Outcome, Reply, to_plain
from bot.settings import CommunitySettings, Settings
from tests.bot.conftest import submit
from tests.conftest import FakeClock
from tests.helpers import answer_tasks, button, say

TERRACE = SpaceRef("console", "terrace", "Terrace")


async def drain(engine: Engine) -> list[tuple[str, Reply]]:
    sent: list[tuple[str, Reply]] = []

    async def send(target: str, reply: Reply) -> None:
        sent.append((target, reply))

    await OutboxDrainer(engine, "console", send, Pacer(per_second=10_000)).drain_once()
    return sent


def code_in(reply: Reply) -> str:
    found = re.search(r"join ([0-9A-Z]{8})", to_plain(reply.text))
    assert found is not None, to_plain(reply.text)
    return found.group(1)


async def fresh_code(engine: Engine, mod: UserRef, space: SpaceRef) -> str:
    return code_in(await say(engine, mod, space, "/community link"))


async def link(engine: Engine, mod: UserRef, home: SpaceRef, joining: SpaceRef) -> None:
    made = await say(engine, mod, home, "/community link")
    assert made.outcome == Outcome.DONE and made.private
    joined = await say(engine, mod, joining, f"/community join {code_in(made)}")
    assert joined.outcome == Outcome.DONE, to_plain(joined.text)


async def test_a_moderator_links_two_spaces_and_both_list_them(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    mod = person("Mod")
    alone = await say(engine, mod, cafe, "/community")
    assert "community of its own" in to_plain(alone.text)
    await link(engine, mod, cafe, TERRACE)
    for space in (cafe, TERRACE):
        listing = to_plain((await say(engine, person("Ana"), space, "/community")).text)
        assert "🏠 Console: Corner Café" in listing and "• Console: Terrace" in listing
    here, there = await engine.context(mod, cafe), await engine.context(mod, TERRACE)
    assert here.space_id == there.space_id and here.here != there.here


async def test_bad_codes_and_the_wrong_people_are_refused(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef, clock: FakeClock
) -> None:
    mod, ana = person("Mod"), person("Ana")
    assert "Only moderators" in to_plain((await say(engine, ana, cafe, "/community link")).text)
    code = await fresh_code(engine, mod, cafe)
    refused = {
        "/community join ZZZZZZZZ": "not one I made",
        "/community join nonsense!": "Usage",
        "/community join": "Usage",
    }
    for command, text in refused.items():
        reply = await say(engine, mod, TERRACE, command)
        assert reply.outcome == Outcome.REFUSED and text in to_plain(reply.text), command
    member = await say(engine, ana, TERRACE, f"/community join {code}")
    assert "Only moderators" in to_plain(member.text)
    private = SpaceRef("console", "mod-dm", "", True)
    assert "private chat" in to_plain((await say(engine, mod, private, f"/community join {code}")).text)
    assert "private chat" in to_plain((await say(engine, mod, private, "/community link")).text)
    same = await say(engine, mod, cafe, f"/community join {code}")
    assert same.outcome == Outcome.ALREADY_DONE
    # Typed the way people type it: lower case, a dash, an O for a zero.
    typed = f"{code[:4].lower()}-{code[4:]}".replace("0", "o")
    assert (await say(engine, mod, TERRACE, f"/community join {typed}")).outcome == Outcome.DONE
    again = await say(engine, mod, SpaceRef("console", "garden", "Garden"), f"/community join {code}")
    assert "already used" in to_plain(again.text)
    late = await fresh_code(engine, mod, cafe)
    clock.advance(minutes=11)
    expired = await say(engine, mod, SpaceRef("console", "garden", "Garden"), f"/community join {late}")
    assert "expired" in to_plain(expired.text)
    stored = await engine.services.store.fetchall("SELECT code_hash FROM community_codes")
    assert len(stored) == 2 and all(code not in row[0] and late not in row[0] for row in stored)


async def test_a_space_with_open_rounds_or_another_community_cannot_join(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    mod = person("Mod")
    await say(engine, mod, TERRACE, "/round open coffee")
    busy = await say(engine, mod, TERRACE, f"/community join {await fresh_code(engine, mod, cafe)}")
    assert "open rounds" in to_plain(busy.text)
    await say(engine, mod, TERRACE, "/round close")
    garden = SpaceRef("console", "garden", "Garden")
    await link(engine, mod, TERRACE, garden)
    taken = await say(engine, mod, garden, f"/community join {await fresh_code(engine, mod, cafe)}")
    assert "another community" in to_plain(taken.text)


async def test_one_round_is_announced_answered_tallied_and_closed_once_for_both_spaces(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    mod, ana, bob = person("Mod"), person("Ana"), person("Bob")
    await link(engine, mod, cafe, TERRACE)
    assert (await say(engine, mod, cafe, "/round open coffee")).outcome == Outcome.DONE
    announced = await drain(engine)
    assert sorted(target for target, _ in announced) == ["space:cafe", "space:terrace"]
    (in_terrace,) = [reply for target, reply in announced if target == "space:terrace"]
    assert "What do you order" in to_plain((await engine.act(bob, TERRACE, button(in_terrace, "Start"))).text)
    assert await answer_tasks(engine, ana, cafe, 2) == 2
    assert await answer_tasks(engine, bob, TERRACE, 2) == 2
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM rounds") == 1
    assert (await say(engine, mod, TERRACE, "/round open coffee")).outcome == Outcome.ALREADY_DONE
    assert (await say(engine, mod, TERRACE, "/round close")).outcome == Outcome.DONE
    assert (await say(engine, mod, cafe, "/round close")).outcome == Outcome.REFUSED
    results = await drain(engine)
    assert sorted(target for target, _ in results) == ["space:cafe", "space:terrace", "user:ana", "user:bob"]
    assert all("2 participants" in to_plain(reply.text) for target, reply in results if target.startswith("space:"))
    assert await drain(engine) == []
    board = to_plain((await say(engine, ana, TERRACE, "/top")).text)
    assert "Ana" in board and "Bob" in board


async def test_ideas_are_one_list_with_similar_ideas_found_across_spaces(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    mod, ana, bob = person("Mod"), person("Ana"), person("Bob")
    await link(engine, mod, cafe, TERRACE)
    first = await submit(engine, ana, cafe, "More power outlets for laptops near the window")
    similar = await say(engine, bob, TERRACE, "/idea Please add more power sockets for laptops by the windows")
    assert f"#{first}" in to_plain(similar.text)
    listing = to_plain((await say(engine, bob, TERRACE, "/ideas")).text)
    assert "power outlets" in listing


async def test_a_space_leaves_its_community_and_what_was_said_there_stays(
    engine: Engine, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    mod, ana = person("Mod"), person("Ana")
    assert "not linked" in to_plain((await say(engine, mod, TERRACE, "/community leave")).text)
    await link(engine, mod, cafe, TERRACE)
    idea = await submit(engine, ana, TERRACE, "Blankets on the terrace chairs in winter")
    assert "Only moderators" in to_plain((await say(engine, ana, TERRACE, "/community leave")).text)
    home = await say(engine, mod, cafe, "/community leave")
    assert home.outcome == Outcome.REFUSED and "home" in to_plain(home.text)
    left = await say(engine, mod, TERRACE, "/community leave")
    assert left.outcome == Outcome.DONE, to_plain(left.text)
    here, there = await engine.context(ana, cafe), await engine.context(ana, TERRACE)
    assert here.space_id != there.space_id
    assert "Blankets" in to_plain((await say(engine, ana, cafe, f"/idea {idea}")).text)
    assert "Blankets" not in to_plain((await say(engine, ana, TERRACE, "/ideas")).text)
    again = await say(engine, mod, TERRACE, "/community leave")
    assert again.outcome == Outcome.REFUSED and "not linked" in to_plain(again.text)


@pytest.fixture
def declared(settings: Settings) -> Settings:
    settings.communities = [CommunitySettings(name="Corner Café", spaces=["console:cafe", "console:terrace"])]
    return settings


async def test_communities_declared_in_settings_apply_at_start_idempotently(
    declared: Settings, person: Callable[..., UserRef], cafe: SpaceRef
) -> None:
    from bot.app import running_engine

    for _ in range(2):
        async with running_engine(declared) as engine:
            here, there = await engine.context(person("Ana"), cafe), await engine.context(person("Ana"), TERRACE)
            assert here.space_id == there.space_id
            assert await engine.services.store.fetchval("SELECT COUNT(*) FROM spaces") == 2
            refused = await say(engine, person("Mod"), TERRACE, "/community leave")
            assert refused.outcome == Outcome.REFUSED and "settings" in to_plain(refused.text)


def test_a_declared_community_names_platform_and_id() -> None:
    with pytest.raises(ValueError, match="platform:id"):
        CommunitySettings(spaces=["telegram:-1", "456"])


def test_a_space_declared_in_two_communities_stops_the_start(settings: Settings) -> None:
    declared = [
        {"name": "Café", "spaces": ["telegram:-1", "discord:2"]},
        {"name": "Terrace", "spaces": ["discord:2", "telegram:-3"]},
    ]
    with pytest.raises(ValueError, match=r"'discord:2' is in two communities \('Café' and 'Terrace'\)"):
        Settings.model_validate(settings.model_dump() | {"communities": declared})
