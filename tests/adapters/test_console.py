"""The console adapter as a member types into it: numbered buttons, typed answers, commands."""

from __future__ import annotations

from adapters.console import ConsoleSession
from bot.engine import Engine
from tests.adapters.harness import number_of


async def test_skipping_the_first_question_then_answering_the_rest_ends_all_caught_up(engine: Engine) -> None:
    session = ConsoleSession(engine)
    shown = await session.say("/start")
    assert "What do you order most often?" in shown[-1]
    shown = await session.say(number_of(shown, "Skip"))
    assert shown[0] == "Skipped."
    for _ in range(10):
        question = shown[-1]
        if "all caught up" in question:
            break
        if "Reply with your answer" in question:
            shown = await session.say("Longer opening hours")
        elif "Submit (0)" in question:
            shown = await session.say(number_of(shown, "Oat milk"))
            shown = await session.say(number_of(shown, "Submit (1)"))
        else:
            shown = await session.say("1")
    assert "all caught up" in shown[-1]
    assert "all caught up" in (await session.say("/task"))[-1]
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM answers") == 6
    assert await engine.services.store.fetchval("SELECT COUNT(*) FROM skips") == 1
    session.switch("Mod")
    results = "\n".join(await session.say("/results"))
    assert "What do you order most often?" in results
    assert "⏭ Skipped: 1 (100% of those asked)" in results
