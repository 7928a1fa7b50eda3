"""A scripted mixed load for the crash test: every action it gets acknowledged is printed, flushed.

Run as ``python -m tests.reliability.load_writer DB_PATH SEED``. The plan (:func:`plan`) is the same for a
seed wherever it is computed, so the test can SIGKILL this process at any line, restart an engine on the
same file and deliver the whole plan again, as a platform redelivers what it was not sure the bot saw.

Members answer questions, share ideas (each with the update key of its message), upvote each other's
ideas and redeem rewards (with the update key as request key) while the moderator opens and closes
ideas rounds; actions run a dozen at a time, so the group commit is always busy when the kill comes.
A line is printed only when the engine answered that the action is done, which it does only after
the commit that holds it.
"""

from __future__ import annotations

import asyncio
import random
import string
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.app import running_engine
from bot.commands import dispatch
from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply
from bot.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
LOAD = SpaceRef("console", "load", "Load test")
IDEA_SPACES = tuple(SpaceRef("console", f"ideas-{n}", f"Ideas {n}") for n in range(3))
MODERATOR = UserRef("console", "mod", "Mod", "en")  # a console moderator by default
MEMBERS = tuple(UserRef("console", f"m{n}", f"Member {n}", "en") for n in range(16))
ANSWERABLE = {0: "0123", 2: ("m1", "m3", "m6"), 3: "01", 4: "12345", 5: "0123456789", 6: "012"}  # index → payloads
REWARDS = {"mug": (5, 40), "sticker": (3, 0)}  # id → (cost, codes; 0: no codes, unlimited stock)
BATCH = 12
DONE = (Outcome.DONE, Outcome.ALREADY_DONE)


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a member or the moderator sends; ``key`` is the update a platform would redeliver.

    ``what`` is the task and payload of an answer, the text of an idea, the key of the idea a vote is
    for, or the reward to redeem.
    """

    kind: str
    key: str
    who: str
    where: str
    what: str = ""

    @property
    def line(self) -> str:
        return f"{self.kind} {self.key}"


def settings_for(db_path: Path) -> Settings:
    """The defaults on ``db_path``, with the flood limits out of the way of a load test."""
    overrides: dict[str, Any] = {}
    if "limits" in Settings.model_fields:
        overrides["limits"] = {"per_second": 1e6, "burst": 10**6, "ideas_per_hour": 10**6}
    return load_settings(catalog_dir=REPO / "tasks_catalog", storage={"path": db_path}, **overrides)


def _idea_text(rng: random.Random) -> str:
    """Words made up of random letters: no two ideas are similar, so each one is stored at once."""
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(4))


def plan(seed: int) -> list[Action]:
    """The whole load for ``seed``: rounds open, members start, then a shuffled mix, and rounds close."""
    rng = random.Random(seed)
    opens = [
        Action("open", f"open-{space.external_id}", MODERATOR.platform_user_id, space.external_id)
        for space in IDEA_SPACES
    ]
    starts = [
        Action("start", f"start-{member.platform_user_id}", member.platform_user_id, LOAD.external_id)
        for member in MEMBERS
    ]
    body: list[Action] = []
    for member in MEMBERS:
        who = member.platform_user_id
        body += [
            Action("answer", f"answer-{who}-{index}", who, LOAD.external_id, f"{index}:{rng.choice(payloads)}")
            for index, payloads in ANSWERABLE.items()
        ]
        body += [
            Action("idea", f"idea-{who}-{n}", who, rng.choice(IDEA_SPACES).external_id, _idea_text(rng))
            for n in range(2)
        ]
        body += [
            Action("redeem", f"redeem-{who}-{n}", who, LOAD.external_id, rng.choice(sorted(REWARDS))) for n in range(2)
        ]
    rng.shuffle(body)
    for position, idea in reversed([(p, a) for p, a in enumerate(body) if a.kind == "idea"]):  # votes after
        voters = rng.sample([m.platform_user_id for m in MEMBERS if m.platform_user_id != idea.who], 2)
        for voter in voters:
            vote = Action("vote", f"vote-{voter}-{idea.key}", voter, idea.where, idea.key)
            body.insert(rng.randint(position + 1, len(body)), vote)
    closes = [
        Action("close", f"close-{space.external_id}", MODERATOR.platform_user_id, space.external_id)
        for space in IDEA_SPACES
    ]
    cut = len(body) * 3 // 4
    return [*opens, *starts, *body[:cut], *closes, *body[cut:]]


def person(who: str) -> UserRef:
    return next(user for user in (MODERATOR, *MEMBERS) if user.platform_user_id == who)


def place(where: str) -> SpaceRef:
    return next(space for space in (LOAD, *IDEA_SPACES) if space.external_id == where)


async def tasks_round(engine: Engine) -> int:
    """The standing round of the load's campaign (opened on first use, the same one after a restart)."""
    question = await engine.tasks.next_task(await engine.context(MODERATOR, LOAD))
    action = engine.services.codec.parse(question.buttons[0][0].action)
    assert action is not None and action.int_field(0) is not None, question
    return int(action.fields[0])


async def perform(engine: Engine, round_id: int, action: Action) -> bool:
    """Send one action the way its platform update would arrive; ``True`` when the engine says it is done."""
    user, space = person(action.who), place(action.where)
    reply: Reply | None
    if action.kind == "start":
        reply = await dispatch(engine, user, space, "/start", action.key)
        return reply is not None and not reply.is_refusal
    if action.kind == "answer":
        index, payload = action.what.split(":")
        reply = await engine.act(user, space, engine.services.codec.pack("a", round_id, index, payload))
    elif action.kind == "idea":
        reply = await dispatch(engine, user, space, f"/idea {action.what}", action.key)
    elif action.kind == "vote":
        idea_id = await engine.ideas.queries.processed(f"idea:{action.what}")
        if idea_id is None:
            return False  # the idea is not there (yet): nothing to vote for
        reply = await engine.ideas.vote(await engine.context(user, space), idea_id, up=True)
    elif action.kind == "redeem":
        reply = await dispatch(engine, user, space, f"/redeem {action.what}", action.key)
    elif action.kind == "open":
        reply = await dispatch(engine, user, space, "/round open winter-menu", action.key)
    else:
        reply = await dispatch(engine, user, space, "/round close", action.key)
    return reply is not None and reply.outcome in DONE


async def main(db_path: Path, seed: int) -> None:
    async with running_engine(settings_for(db_path)) as engine:
        round_id = await tasks_round(engine)
        actions = plan(seed)

        async def run(action: Action) -> None:
            if await perform(engine, round_id, action):
                sys.stdout.write(f"{action.line}\n")
                sys.stdout.flush()

        for start in range(0, len(actions), BATCH):
            await asyncio.gather(*(run(action) for action in actions[start : start + BATCH]))
        sys.stdout.write("idle\n")
        sys.stdout.flush()
        await asyncio.Event().wait()  # the test kills this process; nothing more to do until then


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
