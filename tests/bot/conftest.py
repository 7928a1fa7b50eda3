"""What the ideas test modules (``test_ideas_sharing.py``, ``test_ideas_votes_listings_statuses.py``) share:
sample ideas, and the steps they all take (submit an idea past any similar-idea prompt, count its votes,
open the ideas round on the winter menu).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, to_plain
from tests.helpers import button, say

OUTLETS = "More power outlets for laptops near the window"
OUTLETS_REWORDED = "Please add more power sockets for laptops by the windows"
MUSIC = "Quieter music in the morning please"
LOYALTY = "A loyalty card that works in the app"


async def submit(engine: Engine, user: UserRef, space: SpaceRef, text: str) -> int:
    """Submit through the command, past any similar-idea prompt; the new idea's id."""
    reply = await say(engine, user, space, f"/idea {text}")
    if reply.outcome == Outcome.INFO:
        reply = await engine.act(user, space, button(reply, "Submit anyway"))
    assert reply.outcome == Outcome.DONE, to_plain(reply.text)
    return int(await engine.services.store.fetchval("SELECT MAX(id) FROM ideas"))


async def votes_of(engine: Engine, idea_id: int) -> tuple[int, int]:
    """The idea's kept count and its vote rows, which must agree."""
    kept = await engine.services.store.fetchval("SELECT votes FROM ideas WHERE id = ?", (idea_id,))
    rows = await engine.services.store.fetchval("SELECT COUNT(*) FROM votes WHERE idea_id = ?", (idea_id,))
    return int(kept), int(rows)


async def open_winter_menu(engine: Engine, person: Callable[..., UserRef], space: SpaceRef) -> int:
    """A moderator opens the ideas round on the winter menu, as in production; its id."""
    mod = await engine.context(person("Mod"), space)
    assert (await engine.rounds.open(mod, "winter-menu")).outcome == Outcome.DONE
    (record,) = await engine.services.store.rounds.open_in(mod.space_id, "ideas")
    return record.id
