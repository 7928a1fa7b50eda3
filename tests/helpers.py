"""Test helpers that act like a person reading replies and tapping buttons."""

from __future__ import annotations

from bot.commands import dispatch
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Reply, to_plain


def button(reply: Reply, label: str) -> str:
    """The action token of the button whose label contains ``label``."""
    for row in reply.buttons:
        for candidate in row:
            if label in candidate.label:
                return candidate.action
    raise AssertionError(f"no button {label!r} in {[b.label for row in reply.buttons for b in row]}")


def last(reply: Reply) -> Reply:
    return reply.chain()[-1]


async def say(engine: Engine, user: UserRef, space: SpaceRef, text: str, update_key: str | None = None) -> Reply:
    """What ``user`` sees after typing a command."""
    reply = await dispatch(engine, user, space, text, update_key)
    assert reply is not None, text
    return reply


async def open_task(engine: Engine, user: UserRef, space: SpaceRef, prompt_part: str) -> Reply:
    """Ask for tasks, skipping until the one whose prompt contains ``prompt_part`` shows."""
    reply = await engine.tasks.next_task(await engine.context(user, space))
    for _ in range(30):
        if prompt_part in to_plain(reply.text):
            return reply
        if not reply.buttons:
            break
        reply = last(await engine.act(user, space, button(reply, "⏭")))
    raise AssertionError(f"task {prompt_part!r} never offered; last reply: {to_plain(reply.text)!r}")


async def ledger_rows(engine: Engine, user_id: int) -> list[tuple[int, str, str]]:
    rows = await engine.services.store.fetchall(
        "SELECT delta, reason, source_key FROM ledger WHERE user_id = ?", (user_id,)
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def answer_tasks(engine: Engine, user: UserRef, space: SpaceRef, count: int) -> int:
    """Answer up to ``count`` tasks the way a hurried member would (first option, a short text)."""
    reply = await engine.tasks.next_task(await engine.context(user, space))
    answered = 0
    while answered < count:
        if reply.text_input is not None:
            outcome = await engine.text_message(user, space, "Fine as it is")
            assert outcome is not None
        elif reply.select is not None:
            outcome = await engine.act(user, space, reply.select.action, values=["0"])
        elif reply.buttons:
            outcome = await engine.act(user, space, reply.buttons[0][0].action)
        else:
            break
        answered += 1
        reply = last(outcome)
    return answered
