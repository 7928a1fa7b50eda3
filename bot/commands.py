"""Text commands (``/task``, ``/top``…): one table shared by every adapter.

Reply-based platforms (Telegram, the console) pass the raw text to :func:`dispatch`; platforms with
structured commands (Discord's slash commands) read :data:`COMMANDS` to register the same set and pass
their options as the argument string.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.engine import Engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply
from bot.store.sqlite import StoreUnavailableError
from bot.texts import Markup, t

Handler = Callable[[Engine, UserRef, SpaceRef, str, str | None], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Command:
    """A command: its name, the help key describing it, and whether only moderators may run it."""

    name: str
    description_key: str
    handler: Handler
    moderator: bool = False
    takes_argument: bool = False


async def _start(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.start(user, space, argument.strip())


async def _help(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    """Every command this person may use here, described in their language, from the one table."""
    ctx = await engine.context(user, space)
    moderator = await engine.is_moderator(ctx)
    lines = [t("help.title", ctx.language)]
    lines += [
        t("help.line", ctx.language, name=command.name, description=t(command.description_key, ctx.language))
        for command in COMMANDS.values()
        if moderator or not command.moderator
    ]
    return Reply(Markup("\n".join(lines)))


async def _task(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.next_task(user, space, argument.strip() or None)


async def _points(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.points(user, space)


async def _top(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.leaderboard(user, space, argument)


async def _me(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.rewards.profile(await engine.context(user, space))


async def _rewards(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.rewards.catalog(await engine.context(user, space))


async def _redeem(engine: Engine, user: UserRef, space: SpaceRef, argument: str, update: str | None) -> Reply:
    return await engine.rewards.redeem(await engine.context(user, space), argument, update)


async def _ban(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.ban(user, space, argument)


async def _unban(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.ban(user, space, argument, banned=False)


async def _audit(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.audit_log(user, space)


async def _round(engine: Engine, user: UserRef, space: SpaceRef, argument: str, update_key: str | None) -> Reply:
    ctx = await engine.context(user, space)
    verb, _, rest = argument.strip().partition(" ")
    if verb == "open":
        return await engine.rounds.open(ctx, rest, update_key)
    if verb == "close":
        return await engine.rounds.close(ctx, rest)
    refusal = await engine.refuse_unless_moderator(ctx, "round")
    if refusal is not None:
        return refusal
    if verb in ("", "list"):
        return await engine.rounds.listing(ctx)
    return Reply(t("round.usage", ctx.language), Outcome.REFUSED)


async def _results(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.rounds.results(await engine.context(user, space), argument)


async def _export(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.rounds.export_reply(await engine.context(user, space), argument)


async def _idea(engine: Engine, user: UserRef, space: SpaceRef, argument: str, update: str | None) -> Reply:
    return await engine.ideas.idea_command(user, space, argument, update)


async def _ideas(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.ideas.browse_command(user, space, argument)


async def _launched(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.ideas.browse_command(user, space, f"launched {argument}")


async def _status(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.ideas.status_command(user, space, argument)


async def _approve(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.ideas.moderate_command(user, space, argument, "approve")


async def _hide(engine: Engine, user: UserRef, space: SpaceRef, argument: str, _: str | None) -> Reply:
    return await engine.ideas.moderate_command(user, space, argument, "hide")


COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command("start", "command.start", _start, takes_argument=True),
        Command("help", "command.help", _help),
        Command("task", "command.task", _task, takes_argument=True),
        Command("points", "command.points", _points),
        Command("top", "command.top", _top, takes_argument=True),
        Command("me", "command.me", _me),
        Command("rewards", "command.rewards", _rewards),
        Command("redeem", "command.redeem", _redeem, takes_argument=True),
        Command("ban", "command.ban", _ban, moderator=True, takes_argument=True),
        Command("unban", "command.unban", _unban, moderator=True, takes_argument=True),
        Command("audit", "command.audit", _audit, moderator=True),
        Command("round", "command.round", _round, moderator=True, takes_argument=True),
        Command("results", "command.results", _results, moderator=True, takes_argument=True),
        Command("export", "command.export", _export, moderator=True, takes_argument=True),
        Command("idea", "command.idea", _idea, takes_argument=True),
        Command("ideas", "command.ideas", _ideas, takes_argument=True),
        Command("launched", "command.launched", _launched, takes_argument=True),
        Command("status", "command.status", _status, moderator=True, takes_argument=True),
        Command("approve", "command.approve", _approve, moderator=True, takes_argument=True),
        Command("hide", "command.hide", _hide, moderator=True, takes_argument=True),
    )
}


def parse(text: str) -> tuple[str, str] | None:
    """``"/round open coffee 2d"`` → ``("round", "open coffee 2d")``; ``None`` for non-commands.

    A ``@botname`` suffix on the command (Telegram groups) is dropped.
    """
    if not text.startswith("/"):
        return None
    parts = text[1:].split(maxsplit=1)
    if not parts:
        return None
    name = parts[0].split("@", 1)[0].lower()
    return (name, parts[1].strip() if len(parts) > 1 else "") if name else None


async def dispatch(
    engine: Engine, user: UserRef, space: SpaceRef, text: str, update_key: str | None = None
) -> Reply | None:
    """Run a text command; ``None`` when the text is not a command we know (not ours to answer)."""
    parsed = parse(text)
    if parsed is None or parsed[0] not in COMMANDS:
        return None
    name, argument = parsed
    try:
        return engine.admit(user) or await COMMANDS[name].handler(engine, user, space, argument, update_key)
    except StoreUnavailableError:
        return engine.storage_refusal(user)
