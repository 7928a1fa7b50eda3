"""Members earn points, levels and badges, climb leaderboards and spend points on rewards, exactly once."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from bot.app import running_engine
from bot.commands import dispatch
from bot.engine import Engine
from bot.features.rewards import add_reward, import_codes
from bot.identity import SpaceRef, UserRef
from bot.point_rules import level_for
from bot.ratelimit import RateLimiter
from bot.replies import Outcome, Reply, to_plain
from bot.settings import load_settings
from bot.store.effects import award_badges
from bot.store.records import Award
from tests.conftest import REPO, FakeClock
from tests.helpers import answer_tasks, button, last, open_task, say


@asynccontextmanager
async def engine_with(tmp_path: Path, clock: FakeClock, **overrides: Any) -> AsyncIterator[Engine]:
    """An engine whose settings differ from the defaults (time zone, point rules)."""
    settings = load_settings(catalog_dir=REPO / "tasks_catalog", storage={"path": tmp_path / "own.db"}, **overrides)
    async with running_engine(settings, clock) as ready:
        yield ready


async def offer(
    engine: Engine,
    tmp_path: Path,
    reward_id: str,
    title: str,
    cost: int,
    codes: Sequence[str] = (),
    stock: int | None = None,
) -> None:
    """What an operator does with ``crowdpulse rewards add`` and ``rewards import``."""
    await add_reward(engine.rewards.queries, reward_id, title, cost, stock)
    if codes:
        file = tmp_path / f"{reward_id}-codes.csv"
        file.write_text("reward_id,code\n" + "".join(f"{reward_id},{code}\n" for code in codes), encoding="utf-8")
        await import_codes(engine.rewards.queries, file)


def seen(reply: Reply) -> str:
    return "\n".join(to_plain(part.text) for part in reply.chain())


async def shown_balance(engine: Engine, user: UserRef, space: SpaceRef) -> int:
    match = re.search(r"You have (\d+) points", seen(await say(engine, user, space, "/points")))
    assert match is not None
    return int(match.group(1))


async def ledger_sum(engine: Engine, user: UserRef, space: SpaceRef) -> int:
    ctx = await engine.context(user, space)
    return int(
        await engine.services.store.fetchval("SELECT SUM(delta) FROM ledger WHERE user_id = ?", (ctx.user_id,), 0)
    )


# earning ----------------------------------------------------------------------------------------


async def test_the_daily_cap_and_the_streak_follow_the_local_day_of_the_settings_time_zone(
    tmp_path: Path, person, cafe: SpaceRef
) -> None:
    clock = FakeClock(datetime(2026, 11, 23, 21, 59, tzinfo=UTC))  # 23:59 in Bucharest, still the 23rd in UTC
    async with engine_with(tmp_path, clock, timezone="Europe/Bucharest", points={"daily_cap": 12}) as engine:
        ana = person("Ana")
        latte = await engine.act(ana, cafe, button(await open_task(engine, ana, cafe, "What do you order"), "Latte"))
        assert "+5 points" in seen(latte)
        ten = await engine.act(ana, cafe, button(await open_task(engine, ana, cafe, "recommend"), "10"))
        assert "+7 points" in to_plain(ten.text)
        assert "today's limit of 12 points" in to_plain(ten.text)
        pastry = await engine.act(ana, cafe, button(await open_task(engine, ana, cafe, "pastry"), "Croissant"))
        assert pastry.outcome == Outcome.DONE
        assert "+0 points" in to_plain(pastry.text)

        clock.advance(minutes=2)  # 00:01 in Bucharest: a new day there, the same day in UTC
        await open_task(engine, ana, cafe, "change one thing")
        typed = await engine.text_message(ana, cafe, "Longer opening hours")
        assert typed is not None
        assert "+17 points" in to_plain(typed.text)  # 12, the whole day's cap, and the bonus
        assert "2-day streak! +5 bonus" in to_plain(typed.text)
        assert "limit" not in to_plain(typed.text)

        clock.advance(days=2)  # a whole day without answering ends the streak
        bar = SpaceRef("console", "bar", "Corner Bar")  # every question in the café was answered or skipped
        rated = await engine.act(ana, bar, button(await open_task(engine, ana, bar, "rate the service"), "4★"))
        assert "+3 points" in to_plain(rated.text)
        assert "streak" not in to_plain(rated.text)

        ctx = await engine.context(ana, cafe)
        rows = await engine.services.store.fetchall(
            "SELECT delta, reason FROM ledger WHERE user_id = ? ORDER BY id", (ctx.user_id,)
        )
        assert [(row[0], row[1]) for row in rows] == [
            (5, "answer"),
            (7, "answer"),
            (0, "answer"),
            (12, "answer"),
            (5, "streak"),
            (3, "answer"),
        ]
        assert await shown_balance(engine, ana, cafe) == await ledger_sum(engine, ana, cafe) == 32


async def test_the_welcome_bonus_is_given_once(engine: Engine, person, cafe: SpaceRef) -> None:
    ana = person("Ana")
    assert "Welcome bonus: +10" in seen(await engine.tasks.start(await engine.context(ana, cafe)))
    assert "Welcome bonus" not in seen(await engine.tasks.start(await engine.context(ana, cafe)))
    points = to_plain((await say(engine, ana, cafe, "/points")).text)
    assert "You have 10 points" in points
    assert "+10 · welcome bonus" in points


async def test_the_first_answer_names_the_new_badge_and_the_level_reached(
    tmp_path: Path, clock: FakeClock, person, cafe: SpaceRef
) -> None:
    almost_level_two = level_for(0)[1] - 1
    async with engine_with(tmp_path, clock, points={"welcome_bonus": almost_level_two}) as engine:
        ana = person("Ana")
        await engine.tasks.start(await engine.context(ana, cafe))
        first = await engine.act(ana, cafe, button(await open_task(engine, ana, cafe, "What do you order"), "Latte"))
        assert "New badge: First answer" in to_plain(first.text)
        assert "Level 2!" in to_plain(first.text)
        second = await engine.act(ana, cafe, button(await open_task(engine, ana, cafe, "rate the service"), "5★"))
        assert "badge" not in to_plain(second.text)
        assert "Level" not in to_plain(second.text)
        me = await say(engine, ana, cafe, "/me")
        assert me.private
        assert "level 2" in to_plain(me.text)
        assert "First answer" in to_plain(me.text)
        assert "#1 in Corner Café" in to_plain(me.text)


async def test_answers_arriving_together_earn_the_first_answer_badge_once(engine: Engine, person, cafe) -> None:
    ana = person("Ana")
    taps: list[tuple[str, tuple[str, ...]]] = []
    reply = await engine.tasks.next_task(await engine.context(ana, cafe))
    while reply.buttons:
        if reply.select is not None:
            taps.append((reply.select.action, ("0",)))
        elif reply.text_input is None:
            taps.append((reply.buttons[0][0].action, ()))
        reply = last(await engine.act(ana, cafe, button(reply, "⏭")))
    assert len(taps) >= 5
    replies = await asyncio.gather(*(engine.act(ana, cafe, token, values=values) for token, values in taps))
    assert all(reply.outcome == Outcome.DONE for reply in replies)
    assert sum("New badge: First answer" in to_plain(reply.text) for reply in replies) == 1
    ctx = await engine.context(ana, cafe)
    badges = await engine.services.store.fetchall("SELECT badge FROM user_badges WHERE user_id = ?", (ctx.user_id,))
    assert [row[0] for row in badges] == ["first_answer"]


async def test_votes_counted_in_many_units_at_once_make_a_top_voter_once(engine: Engine, clock, person, cafe) -> None:
    """The ideas code counts each vote with ``award_badges`` in the vote's own unit of work."""
    ctx = await engine.context(person("Bob"), cafe)
    results = await asyncio.gather(
        *(
            engine.services.store.write(
                lambda db: award_badges(db, ctx.user_id, "votes", engine.services.rules, clock())
            )
            for _ in range(100)
        )
    )
    assert [result for result in results if result] == [("top_voter",)]
    assert await engine.services.store.fetchval("SELECT value FROM user_counters WHERE counter = 'votes'") == 100
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM user_badges") == 1


async def test_answering_seven_days_in_a_row_earns_the_streak_badge(engine: Engine, clock, person, cafe) -> None:
    ana = person("Ana")
    for _ in range(7):
        assert await answer_tasks(engine, ana, cafe, 1) == 1
        clock.advance(days=1)
    me = to_plain((await say(engine, ana, cafe, "/me")).text)
    assert "Streak: 7 days (best 7)" in me
    assert "7-day streak" in me
    clock.advance(days=1)
    assert "Streak: 0 days (best 7)" in to_plain((await say(engine, ana, cafe, "/me")).text)


async def test_a_badge_whose_title_has_no_text_stops_the_engine_at_start(tmp_path: Path, clock) -> None:
    odd = [{"id": "odd", "title_key": "badge.odd", "counter": "answers", "at_least": 3}]
    with pytest.raises(ValueError, match=r"badge\.odd"):
        async with engine_with(tmp_path, clock, points={"badges": odd}):
            pass


# leaderboards -----------------------------------------------------------------------------------


async def test_a_member_far_down_the_leaderboard_sees_their_own_rank(engine: Engine, clock, person, cafe) -> None:
    members = [person(f"Member{i:02d}") for i in range(50)]
    for place, member in enumerate(members):
        ctx = await engine.context(member, cafe)
        award = Award(ctx.user_id, ctx.space_id, None, 100 - place, "welcome", "", f"welcome:{ctx.user_id}")
        await engine.services.store.points.award(award, engine.services.rules, clock())
    top = to_plain((await say(engine, members[36], cafe, "/top")).text).splitlines()
    assert top[1] == "1. Member00: 100"
    assert top[10] == "10. Member09: 91"
    assert len(top) == 12
    assert top[-1] == "… you are #37 with 64 points"
    assert "you are" not in to_plain((await say(engine, members[3], cafe, "/top")).text)


async def test_the_weekly_leaderboard_starts_afresh_each_week(engine: Engine, clock, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    await answer_tasks(engine, ana, cafe, 2)
    assert "Ana: 10" in seen(await say(engine, ana, cafe, "/top week"))
    clock.advance(days=7)
    assert "No points here yet" in seen(await say(engine, ana, cafe, "/top week"))
    await answer_tasks(engine, bob, cafe, 1)
    this_week = seen(await say(engine, ana, cafe, "/top week"))
    assert "This week" in this_week
    assert "Bob: 5" in this_week
    assert "Ana" not in this_week
    all_time = seen(await say(engine, ana, cafe, "/top"))
    assert "1. Ana: 10" in all_time
    assert "2. Bob: 5" in all_time


async def test_round_and_global_leaderboards(engine: Engine, person, cafe) -> None:
    ana, bob = person("Ana"), person("Bob")
    bar = SpaceRef("console", "bar", "Night Bar")
    await answer_tasks(engine, ana, cafe, 1)
    await answer_tasks(engine, bob, bar, 2)
    ctx = await engine.context(ana, cafe)
    round_id = (await engine.services.store.rounds.open_in(ctx.space_id, "tasks"))[0].id
    in_round = seen(await say(engine, ana, cafe, f"/top round {round_id}"))
    assert f"Round #{round_id}" in in_round
    assert "Ana: 5" in in_round
    assert "Bob" not in in_round
    everywhere = seen(await say(engine, ana, cafe, "/top global"))
    assert "1. Bob: 10" in everywhere
    assert "2. Ana: 5" in everywhere
    bar_round = (await engine.services.store.rounds.open_in((await engine.context(bob, bar)).space_id, "tasks"))[0].id
    elsewhere = await say(engine, ana, cafe, f"/top round {bar_round}")
    assert elsewhere.outcome == Outcome.REFUSED
    assert f"no round #{bar_round} here" in seen(elsewhere)
    assert "/top week" in seen(await say(engine, ana, cafe, "/top yesterday"))


# rewards ----------------------------------------------------------------------------------------


async def test_a_hundred_simultaneous_redeems_with_points_for_one_spend_them_once(
    engine: Engine, tmp_path: Path, person, cafe
) -> None:
    engine.interactions = RateLimiter(1e6, 10**6)  # the flood limit would refuse most first: test the database
    ana = person("Ana")
    await engine.tasks.start(await engine.context(ana, cafe))
    await answer_tasks(engine, ana, cafe, 3)
    balance = await engine.points.balance(await engine.context(ana, cafe))
    await offer(engine, tmp_path, "coffee", "Free coffee", cost=balance, codes=["CAFE-1", "CAFE-2", "CAFE-3"])
    replies = await asyncio.gather(*(say(engine, ana, cafe, "/redeem coffee") for _ in range(100)))
    assert Counter(reply.outcome for reply in replies) == {Outcome.DONE: 1, Outcome.REFUSED: 99}
    assert all(f"costs {balance} points and you have 0" in seen(r) for r in replies if r.outcome == Outcome.REFUSED)
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM reward_codes WHERE redeemed_by IS NOT NULL") == 1
    assert await engine.services.store.fetchval("SELECT stock FROM rewards WHERE id = 'coffee'") == 2
    ctx = await engine.context(ana, cafe)
    deltas = [
        row[0]
        for row in await engine.services.store.fetchall(
            "SELECT delta FROM ledger WHERE user_id = ? ORDER BY id", (ctx.user_id,)
        )
    ]
    running = [sum(deltas[: i + 1]) for i in range(len(deltas))]
    assert min(running) >= 0
    assert running[-1] == 0
    assert await shown_balance(engine, ana, cafe) == 0
    with pytest.raises(sqlite3.IntegrityError, match="handed out once"):  # even a buggy unit cannot take it back
        await engine.services.store.write(
            lambda db: db.execute("UPDATE reward_codes SET redeemed_by = NULL, redemption_id = NULL")
        )


async def test_redeeming_with_buttons_delivers_the_code_privately_and_once(
    engine: Engine, tmp_path: Path, person, cafe
) -> None:
    ana, mod = person("Ana"), person("Mod")
    await engine.tasks.start(await engine.context(ana, cafe))
    await answer_tasks(engine, ana, cafe, 2)
    await offer(engine, tmp_path, "coffee", "Free coffee", cost=15, codes=["CAFE-SECRET-1", "CAFE-SECRET-2"])
    catalog = await say(engine, ana, cafe, "/rewards")
    assert "Free coffee (coffee) · 15 points · 2 left" in seen(catalog)
    confirm = await engine.act(ana, cafe, button(catalog, "Free coffee"))
    assert confirm.private
    assert "Spend 15 of your 20 points on Free coffee?" in seen(confirm)
    token = button(confirm, "Redeem")
    redeemed = await engine.act(ana, cafe, token)
    assert redeemed.outcome == Outcome.DONE
    assert "Your code: CAFE-SECRET-1" in seen(redeemed)
    again = await engine.act(ana, cafe, token)
    assert again.outcome == Outcome.ALREADY_DONE
    assert "CAFE-SECRET-1" in seen(again)
    assert await shown_balance(engine, ana, cafe) == await ledger_sum(engine, ana, cafe) == 5
    assert await engine.services.store.fetchval("SELECT value FROM user_counters WHERE counter = 'redemptions'") == 1

    points = seen(await say(engine, ana, cafe, "/points"))
    assert "-15 · redeemed “Free coffee”" in points
    assert "level 1" in points
    audit = seen(await say(engine, mod, cafe, "/audit"))
    assert "Ana · redeem coffee #1 -15" in audit
    shown = [
        catalog,
        confirm,
        redeemed,
        again,
        await say(engine, ana, cafe, "/me"),
        await say(engine, mod, cafe, "/audit"),
        await say(engine, ana, cafe, "/top"),
        await say(engine, ana, cafe, "/rewards"),
    ]
    for reply in shown:
        for part in reply.chain():
            assert "CAFE-SECRET" not in part.text or part.private, part.text
            assert "CAFE-SECRET" not in part.notice

    profile = await say(engine, ana, cafe, "/me")
    assert profile.private and "Free coffee: CAFE-SECRET-1" in seen(profile), "a lost reply never loses the code"
    export = await engine.rewards.queries.redemptions((await engine.context(ana, cafe)).space_id)
    assert [(r.reward_id, r.display_name, r.cost, r.code_issued) for r in export] == [("coffee", "Ana", 15, True)]


async def test_out_of_stock_and_not_enough_points_are_clear_and_change_nothing(
    engine: Engine, tmp_path: Path, person, cafe
) -> None:
    ana, mihai, bob = person("Ana"), person("Mihai", "ro"), person("Bob")
    for member in (ana, mihai, bob):
        await engine.tasks.start(await engine.context(member, cafe))
    await offer(engine, tmp_path, "mug", "Mug", cost=1000)
    await offer(engine, tmp_path, "sticker", "Sticker", cost=5, stock=0)
    await offer(engine, tmp_path, "tote", "Tote bag", cost=5, codes=["TOTE-1"], stock=3)  # more stock than codes

    poor = await say(engine, ana, cafe, "/redeem mug")
    assert poor.outcome == Outcome.REFUSED
    assert poor.private
    assert "Mug costs 1000 points and you have 10" in seen(poor)
    assert "Mug costă 1000 de puncte și tu ai 10" in seen(await say(engine, mihai, cafe, "/redeem mug"))
    assert "Sorry, Sticker is out of stock" in seen(await say(engine, ana, cafe, "/redeem sticker"))
    assert "Sticker nu mai este în stoc" in seen(await say(engine, mihai, cafe, "/redeem sticker"))
    assert "There is no reward “unicorn”" in seen(await say(engine, ana, cafe, "/redeem unicorn"))
    assert "/redeem <id>" in seen(await say(engine, ana, cafe, "/redeem"))
    assert "Sticker (sticker) · 5 points · out of stock" in seen(await say(engine, ana, cafe, "/rewards"))

    assert (await say(engine, ana, cafe, "/redeem tote")).outcome == Outcome.DONE
    no_code_left = await say(engine, bob, cafe, "/redeem tote")
    assert "Sorry, Tote bag is out of stock" in seen(no_code_left)
    assert await engine.services.store.fetchval("SELECT stock FROM rewards WHERE id = 'tote'") == 3
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM ledger WHERE reason = 'redeem'") == 1
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM redemptions") == 1
    assert await shown_balance(engine, bob, cafe) == 10


def test_operators_import_codes_and_a_file_naming_an_unknown_reward_imports_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CROWDPULSE_STORAGE__PATH", str(tmp_path / "operator.db"))
    assert main(["rewards", "add", "--id", "coffee", "--title", "Free coffee", "--cost", "100"]) == 0
    codes = tmp_path / "codes.csv"
    codes.write_text("reward_id,code\ncoffee,CAFE-1\ncoffee,CAFE-2\n", encoding="utf-8")
    assert main(["rewards", "import", str(codes)]) == 0
    assert "imported 2 codes for coffee" in capsys.readouterr().out

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("coffee,CAFE-3\ntea,TEA-1\n", encoding="utf-8")
    assert main(["rewards", "import", str(unknown)]) == 1
    refusal = capsys.readouterr().err
    assert "line 2: 'tea'" in refusal
    assert "nothing imported" in refusal
    assert main(["rewards", "import", str(codes)]) == 0
    assert "skipped 2 codes already loaded" in capsys.readouterr().out
    assert main(["rewards", "add", "--id", "Bad Id", "--title", "x", "--cost", "1"]) == 1
    capsys.readouterr()

    assert main(["rewards", "list"]) == 0
    assert capsys.readouterr().out.strip() == (
        "coffee: Free coffee · cost 100 · stock 2 · 2 unused codes · redeemed 0 times"
    )
    one = tmp_path / "one.csv"
    one.write_text("coffee,CAFE-4\n", encoding="utf-8")
    assert main(["rewards", "import", str(one)]) == 0
    assert capsys.readouterr().out.strip() == "imported 1 code for coffee"


async def test_idea_badges_come_with_the_first_idea_and_its_acceptance_once(engine: Engine, person, cafe) -> None:
    author, voter, mod = person("Ana"), person("Bob"), person("Mod")
    await dispatch(engine, author, cafe, "/idea Gingerbread latte with oat milk every December")
    await dispatch(engine, voter, cafe, "/idea Board games on the shelf for rainy afternoons")
    for status in ("accepted", "under_review", "accepted"):
        reply = await dispatch(engine, mod, cafe, f"/status 1 {status} sounds great")
        assert reply is not None and reply.outcome == Outcome.DONE, to_plain(reply.text)
    badges = await engine.services.store.fetchall(
        "SELECT u.display_name, b.badge FROM user_badges b JOIN users u ON u.id = b.user_id ORDER BY 1, 2"
    )
    assert [tuple(row) for row in badges] == [
        ("Ana", "first_idea"),
        ("Ana", "idea_accepted"),
        ("Bob", "first_idea"),
    ]
    counted = await engine.services.store.fetchval(
        "SELECT value FROM user_counters c JOIN users u ON u.id = c.user_id"
        " WHERE u.display_name = 'Ana' AND counter = 'ideas_accepted'"
    )
    assert counted == 1
