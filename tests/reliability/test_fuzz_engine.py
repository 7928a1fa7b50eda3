"""Fuzzing the engine: random members, moderators and strangers do random things, and nothing breaks.

The state machine (rules and invariants) is :class:`tests.reliability.fuzz_machine.EngineMachine`, fed by
:mod:`tests.reliability.fuzz_inputs`; this module runs it, and keeps the regressions it found as plain
tests. The profile decides how hard it looks: ``ci`` (the default) is quick, ``HYPOTHESIS_PROFILE=long``
explores far more (see ``tests/conftest.py``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis.stateful import run_state_machine_as_test

from bot.app import running_engine
from bot.commands import dispatch
from bot.engine import Engine
from bot.replies import Outcome, escape, split_markup
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.helpers import open_task
from tests.reliability.fuzz_inputs import CAFE, IDEAS, PEOPLE
from tests.reliability.fuzz_machine import EngineMachine, fuzz_settings
from tests.reliability.invariants import DISCORD_LIMIT, TELEGRAM_LIMIT, reply_problems, split_problems


def test_members_moderators_and_attackers_never_break_the_engine() -> None:
    """Random sessions of everything people can send keep every reply valid and the database consistent."""
    run_state_machine_as_test(EngineMachine)


async def test_a_member_who_types_a_lone_slash_is_not_answered_with_a_crash(engine: Engine) -> None:
    assert await dispatch(engine, PEOPLE["ana"], CAFE, "/") is None


@pytest.mark.parametrize("limit", [64, DISCORD_LIMIT, TELEGRAM_LIMIT])
def test_a_long_line_that_escaping_lengthens_is_split_and_not_looped_on_forever(limit: int) -> None:
    """Found by the fuzzer: "/redeem <<<<…" made split_markup spin forever, freezing the whole bot."""
    for unit in ("<", "&", "<b>", "a <"):
        markup = f"<b>Unknown</b> {escape(unit * 3000)}"
        assert split_problems(markup) == []
        assert all(len(chunk) <= limit for chunk in split_markup(markup, limit))


async def test_a_line_break_in_a_name_or_an_answer_never_leaves_a_tag_open_at_the_end_of_a_line(
    settings: Settings, clock: FakeClock
) -> None:
    """Found by the long fuzz run: "<b>{name}</b>" with a name holding a line break spanned two lines.

    A line is structure in the reply markup (split_markup cuts between lines, Discord converts each
    chunk on its own), so text from members arrives on one line; an idea keeps its own lines, which
    hold no tag.
    """
    async with running_engine(fuzz_settings(settings.storage.path.parent), clock) as engine:
        broken = replace(PEOPLE["ana"], display_name="Ana\nMaria\r\n<i>\u2028x")
        replies = [
            await dispatch(engine, broken, CAFE, "/me"),
            await dispatch(engine, broken, CAFE, f"/idea {IDEAS[3]}\nand a second paragraph", "update-1"),
        ]
        question = await open_task(engine, broken, CAFE, "change one thing")
        assert question.text_input is not None
        replies.append(await engine.act(broken, CAFE, question.text_input.action, text="Two\nlines"))
        for reply in replies:
            assert reply is not None
            assert reply_problems(reply, engine.services.codec) == []
        assert "second paragraph" in replies[1].text.split("\n", 2)[-1]


async def test_a_retracted_upvote_never_drives_an_author_who_spent_the_points_below_zero(
    settings: Settings, clock: FakeClock
) -> None:
    """Found by the fuzzer's balance invariant: upvote, the author redeems, the voter retracts."""
    settings = fuzz_settings(settings.storage.path.parent)
    async with running_engine(settings, clock) as engine:
        await engine.services.store.rewards.add_reward("mug", "Mug", 12, None, clock())
        ana, bob = PEOPLE["ana"], PEOPLE["bob"]
        await dispatch(engine, ana, CAFE, "/start")  # +10
        page = await dispatch(engine, ana, CAFE, f"/idea {IDEAS[1]}", "update-1")
        assert page is not None
        upvote, retract = (button.action for button in page.buttons[0])
        assert (await engine.act(bob, CAFE, upvote)).outcome == Outcome.DONE  # ana +2
        redeemed = await dispatch(engine, ana, CAFE, "/redeem mug", "update-2")  # ana -12
        assert redeemed is not None and redeemed.outcome == Outcome.DONE
        assert (await engine.act(bob, CAFE, retract)).outcome == Outcome.DONE
        assert await engine.points.balance(await engine.context(ana, CAFE)) == 0
        again = await engine.act(bob, CAFE, upvote)  # voting again pays nothing twice
        assert again.outcome == Outcome.DONE and await engine.points.balance(await engine.context(ana, CAFE)) == 0
