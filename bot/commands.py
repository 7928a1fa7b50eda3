"""Text commands (``/task``, ``/top``…): one table shared by every adapter, and the only place that parses.

Each command turns its argument text into typed values once (ids, durations, a board, a status) and calls
one typed use case of a feature; a malformed argument gets the command's usage, after the moderator
check for moderator commands (a member is told the command is not theirs, not how to type it).
Reply-based platforms (Telegram, the console) pass the raw text to :func:`dispatch`; platforms with
structured commands (Discord's slash commands) read :data:`COMMANDS` to register the same set and call
the typed use cases with their options directly, through :meth:`bot.engine.Engine.run`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.context import Context
from bot.engine import Engine
from bot.features.ideas import SETTABLE, VIEWS
from bot.features.points import Board
from bot.features.themes.moderating import IDEAS_PREFIX, ThemeId
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome, Reply
from bot.store.records import IdeaStatus
from bot.texts import Markup, t

Handler = Callable[[Engine, Context, str, str | None], Awaitable[Reply]]

MAX_ID_DIGITS = 18  # a longer number is no id (and does not fit SQLite's 64-bit integers)
NO_SUCH_ID = 0  # what a number too long for any id parses to: no row has it, so it is refused as unknown
_LAST_PAGE = 10**9  # a page number past any listing's end: the listing shows its last page
_DURATION = re.compile(r"^(\d{1,4})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# "/idea +12 #drinks text": builds on #12, in category drinks (a hashtag that is not a number).
_SUBMISSION = re.compile(
    r"(?:\+(?P<parent>\d+)(?:\s+|$))?(?:#(?P<category>(?!\d+(?:\s|$))[^\s#]+)(?:\s+|$))?(?P<text>.*)",
    re.DOTALL,
)
_EXPORT_FORMATS = ("csv", "json")


@dataclass(frozen=True, slots=True)
class Command:
    """A command: its name, the help key describing it, and whether only moderators may run it."""

    name: str
    description_key: str
    handler: Handler
    moderator: bool = False
    takes_argument: bool = False


# parsers ------------------------------------------------------------------------------------------


def parse_id(word: str) -> int | None:
    """``12`` or ``#12`` → 12; ``None`` for anything else; a number too long for any id → :data:`NO_SUCH_ID`."""
    digits = word.strip().removeprefix("#")
    if not digits.isdecimal():  # not isdigit(): int() refuses "²"
        return None
    return int(digits) if len(digits) <= MAX_ID_DIGITS else NO_SUCH_ID


def parse_theme_id(word: str) -> ThemeId | None:
    """``12``, ``#12`` → an answer theme's id; ``i12``, ``#I12`` → an ideas theme's; ``None`` for anything else."""
    bare = word.strip().removeprefix("#")
    ideas = bare[:1].lower() == IDEAS_PREFIX
    number = parse_id(bare[1:] if ideas else bare)
    return None if number is None else ThemeId(number, ideas)


def parse_duration(text: str) -> timedelta | None:
    """``30m``, ``2h``, ``3d``, ``1w`` → a timedelta; anything else → ``None``."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        return None
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


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


async def _usage(engine: Engine, ctx: Context, command: str, usage: Reply) -> Reply:
    """A moderator command typed wrong: not theirs for a member, the usage for a moderator."""
    return await engine.moderation.refuse_unless_moderator(ctx, command) or usage


def _refused(key: str, ctx: Context, **variables: object) -> Reply:
    return Reply(t(key, ctx.language, **variables), Outcome.REFUSED)


# members ------------------------------------------------------------------------------------------


async def _start(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await engine.tasks.start(ctx, argument.strip() or None)


async def _help(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await help_reply(engine, ctx)


async def help_reply(engine: Engine, ctx: Context) -> Reply:
    """Every command this person may use here, described in their language, from the one table."""
    moderator = await engine.moderation.is_moderator(ctx)
    lines = [t("help.title", ctx.language)]
    lines += [
        t("help.line", ctx.language, name=command.name, description=t(command.description_key, ctx.language))
        for command in COMMANDS.values()
        if moderator or not command.moderator
    ]
    return Reply(Markup("\n".join(lines)))


async def _task(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await engine.tasks.next_task(ctx, argument.strip() or None)


async def _points(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await engine.points.points(ctx)


async def _top(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    """``/top [week|all|round <id>|global]``."""
    match argument.lower().split():
        case []:
            return await engine.points.leaderboard(ctx)
        case [("all" | "week" | "global") as board]:
            chosen: Board = board
            return await engine.points.leaderboard(ctx, chosen)
        case ["round", number]:
            round_id = parse_id(number)
            if round_id is None:
                return _refused("top.unknown_round", ctx, round=number)
            return await engine.points.leaderboard(ctx, "round", round_id)
    return _refused("top.usage", ctx)


async def _me(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await engine.points.profile(ctx)


async def _rewards(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await engine.rewards.catalog(ctx)


async def _redeem(engine: Engine, ctx: Context, argument: str, update_key: str | None) -> Reply:
    return await engine.rewards.redeem(ctx, argument, update_key)


async def _link(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await engine.linking.link(ctx, argument.strip() or None)


async def _unlink(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await engine.linking.unlink(ctx)


async def _quiet(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    """``/quiet`` (switch), ``/quiet on`` or ``/quiet off``: the private summaries of closed rounds."""
    choice = {"": None, "on": True, "off": False}.get(argument.strip().lower(), "?")
    if choice == "?":
        return _refused("summary.quiet_usage", ctx)
    return await engine.summaries.quiet(ctx, choice if isinstance(choice, bool) else None)


# moderation ---------------------------------------------------------------------------------------


async def _ban(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await _ban_or_unban(engine, ctx, argument, banned=True)


async def _unban(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await _ban_or_unban(engine, ctx, argument, banned=False)


async def _ban_or_unban(engine: Engine, ctx: Context, argument: str, *, banned: bool) -> Reply:
    target = argument.strip().lstrip("@")
    if not target:
        return await _usage(engine, ctx, "ban" if banned else "unban", _refused("moderation.ban_usage", ctx))
    return await engine.moderation.ban(ctx, target, banned)


async def _audit(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await engine.moderation.audit_log(ctx)


async def _dashboard(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await engine.dashboard.sign_in_link(ctx)


# communities --------------------------------------------------------------------------------------


async def _community(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    """``/community``, ``/community link``, ``/community join CODE``, ``/community leave``."""
    match argument.split(maxsplit=1):
        case []:
            return await engine.communities.listing(ctx)
        case ["link"]:
            return await engine.communities.link(ctx)
        case ["join", code]:
            return await community_join(engine, ctx, code)
        case ["leave"]:
            return await community_leave(engine, ctx)
    return await _usage(engine, ctx, "community", _refused("community.usage", ctx))


async def community_join(engine: Engine, ctx: Context, code: str) -> Reply:
    """``/community join CODE``; this process sees the space's new community at once (others within
    :data:`bot.engine.COMMUNITY_CACHE_SECONDS`)."""
    reply = await engine.communities.join(ctx, code)
    if reply.outcome is Outcome.DONE:
        engine.forget_place(ctx.space)
    return reply


async def community_leave(engine: Engine, ctx: Context) -> Reply:
    """``/community leave``; like joining, this process sees the change at once."""
    reply = await engine.communities.leave(ctx)
    if reply.outcome is Outcome.DONE:
        engine.forget_place(ctx.space)
    return reply


# rounds -------------------------------------------------------------------------------------------


async def _round(engine: Engine, ctx: Context, argument: str, update_key: str | None) -> Reply:
    """``/round open <campaign-or-topic> [duration]``, ``/round close [id]``, ``/round [list]``."""
    verb, _, rest = argument.strip().partition(" ")
    if verb == "open":
        subject, _, duration_text = rest.strip().partition(" ")
        duration = parse_duration(duration_text) if duration_text.strip() else None
        if duration_text.strip() and duration is None:
            return await bad_duration(engine, ctx, duration_text)
        return await engine.rounds.open(ctx, subject, duration, update_key)
    if verb == "close":
        return await _about_round(engine, ctx, rest, "round close", engine.rounds.close)
    if verb in ("", "list"):
        return await engine.rounds.listing(ctx)
    return await _usage(engine, ctx, "round", _refused("round.usage", ctx))


async def bad_duration(engine: Engine, ctx: Context, text: str) -> Reply:
    """``/round open`` with a duration :func:`parse_duration` refuses: its usage for a moderator."""
    return await _usage(engine, ctx, "round open", _refused("round.bad_duration", ctx, duration=text.strip()))


async def _about_round(
    engine: Engine,
    ctx: Context,
    argument: str,
    command: str,
    use_case: Callable[[Context, int | None], Awaitable[Reply]],
) -> Reply:
    """A moderator's round command with an optional round id (``12`` or ``#12``)."""
    text = argument.strip()
    round_id = parse_id(text) if text else None
    if text and round_id is None:
        return await _usage(engine, ctx, command, _refused("round.bad_id", ctx, id=text.lstrip("#")))
    return await use_case(ctx, round_id)


async def _results(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await _about_round(engine, ctx, argument, "results", engine.results.results)


async def _quality(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await _about_round(engine, ctx, argument, "quality", engine.quality.quality)


async def _member(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    """``/member <user id>``: the member is named like ``/ban`` names them."""
    target = argument.strip().lstrip("@")
    if not target:
        return await _usage(engine, ctx, "member", _refused("quality.member_usage", ctx))
    return await engine.quality.member(ctx, target)


async def _export(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    """``/export [id] [csv|json]``."""
    words = argument.split()
    fmt = "json" if "json" in words else "csv"
    rest = " ".join(word for word in words if word not in _EXPORT_FORMATS)

    async def export(ctx: Context, round_id: int | None) -> Reply:
        return await engine.exports.export_reply(ctx, round_id, fmt)

    return await _about_round(engine, ctx, rest, "export", export)


# themes -------------------------------------------------------------------------------------------


async def _themes(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    """``/themes [round] [question]``: a round's themes with their ids (the latest round by default)."""
    words = argument.split()
    round_id = parse_id(words[0]) if words else None
    if (words and round_id is None) or len(words) > 2:
        return await _usage(engine, ctx, "themes", _refused("themes.usage", ctx))
    return await engine.theme_editing.listing(ctx, round_id, words[1].lower() if len(words) > 1 else None)


async def _theme(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    """``/theme rename <id> <name>``, ``/theme merge <id> <id>…``, ``/theme split <id> [answer id…]``,
    ``/theme promote <id>``: theme ids are those ``/themes`` lists (``i12`` for an ideas round's themes)."""
    editing = engine.theme_editing
    verb, _, rest = argument.strip().partition(" ")
    first, _, name = rest.strip().partition(" ")
    theme_id = parse_theme_id(first)
    refs = [parse_theme_id(word) for word in rest.split()]
    themes = [ref for ref in refs if ref is not None]
    moved = [parse_id(word) for word in rest.split()[1:]]
    answers = [number for number in moved if number is not None]
    match verb.lower():
        case "rename" if theme_id is not None and name.strip():
            return await editing.rename(ctx, theme_id, name)
        case "merge" if len(themes) == len(refs) >= 2:
            return await editing.merge(ctx, themes)
        case "split" if theme_id is not None and len(answers) == len(moved):
            return await editing.split(ctx, theme_id, answers)
        case "promote" if theme_id is not None and not name.strip():
            return await editing.promote(ctx, theme_id)
    return await editing.usage(ctx)


# ideas --------------------------------------------------------------------------------------------


async def _idea(engine: Engine, ctx: Context, argument: str, update_key: str | None) -> Reply:
    """``/idea`` (how to, and the open topic), ``/idea 12`` (show), ``/idea [+12] [#category] text``."""
    shown = parse_id(argument)
    if shown is not None:
        return await engine.ideas.show(ctx, shown)
    match = _SUBMISSION.fullmatch(argument.strip())
    assert match is not None  # every part is optional
    if not match["text"]:
        return await engine.ideas.usage(ctx)
    parent_id = parse_id(match["parent"]) if match["parent"] else None
    return await engine.ideas.submit(
        ctx, match["text"], category=match["category"], parent_id=parent_id, update_key=update_key
    )


async def _ideas(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    """``/ideas [top|new|trending|best|launched|pending] [page]``."""
    view, page = "top", 1
    for word in argument.lower().split():
        if word in VIEWS:
            view = word
        elif word.isdecimal():
            page = int(word) if len(word) <= MAX_ID_DIGITS // 2 else _LAST_PAGE
        else:
            return _refused("ideas.browse_usage", ctx)
    return await engine.ideas.browse(ctx, view, page)


async def _judge(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    return await engine.pairs.judge(ctx)


async def _launched(engine: Engine, ctx: Context, argument: str, update_key: str | None) -> Reply:
    return await _ideas(engine, ctx, f"launched {argument}", update_key)


async def _status(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    """``/status <id> <status> [note]`` or ``/status <id> merged <target id>``."""
    words = argument.split(maxsplit=2)
    idea_id = parse_id(words[0]) if words else None
    name = words[1].lower().replace("-", "_") if len(words) > 1 else ""
    rest = words[2] if len(words) > 2 else ""
    if idea_id is None or name not in {status.value for status in SETTABLE}:
        return await _usage(engine, ctx, "status", engine.ideas.status_usage(ctx))
    status = IdeaStatus(name)
    if status != IdeaStatus.MERGED:
        return await engine.ideas.set_status(ctx, idea_id, status, rest)
    target = parse_id(rest)
    if target is None:
        return await _usage(engine, ctx, "status", engine.ideas.status_usage(ctx))
    return await engine.ideas.set_status(ctx, idea_id, status, merged_into=target)


async def _approve(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    idea_id = parse_id(argument)
    if idea_id is None:
        return await _usage(engine, ctx, "approve", _refused("ideas.moderate_usage", ctx, command="approve"))
    return await engine.ideas.approve(ctx, idea_id)


async def _hide(engine: Engine, ctx: Context, argument: str, _: str | None) -> Reply:
    idea_id = parse_id(argument)
    if idea_id is None:
        return await _usage(engine, ctx, "hide", _refused("ideas.moderate_usage", ctx, command="hide"))
    return await engine.ideas.hide(ctx, idea_id)


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
        Command("link", "command.link", _link, takes_argument=True),
        Command("unlink", "command.unlink", _unlink),
        Command("quiet", "command.quiet", _quiet, takes_argument=True),
        Command("ban", "command.ban", _ban, moderator=True, takes_argument=True),
        Command("unban", "command.unban", _unban, moderator=True, takes_argument=True),
        Command("audit", "command.audit", _audit, moderator=True),
        Command("dashboard", "command.dashboard", _dashboard),
        Command("community", "command.community", _community, moderator=True, takes_argument=True),
        Command("round", "command.round", _round, moderator=True, takes_argument=True),
        Command("results", "command.results", _results, moderator=True, takes_argument=True),
        Command("export", "command.export", _export, moderator=True, takes_argument=True),
        Command("quality", "command.quality", _quality, moderator=True, takes_argument=True),
        Command("member", "command.member", _member, moderator=True, takes_argument=True),
        Command("themes", "command.themes", _themes, moderator=True, takes_argument=True),
        Command("theme", "command.theme", _theme, moderator=True, takes_argument=True),
        Command("idea", "command.idea", _idea, takes_argument=True),
        Command("ideas", "command.ideas", _ideas, takes_argument=True),
        Command("launched", "command.launched", _launched, takes_argument=True),
        Command("judge", "command.judge", _judge),
        Command("status", "command.status", _status, moderator=True, takes_argument=True),
        Command("approve", "command.approve", _approve, moderator=True, takes_argument=True),
        Command("hide", "command.hide", _hide, moderator=True, takes_argument=True),
    )
}


async def dispatch(
    engine: Engine, user: UserRef, space: SpaceRef, text: str, update_key: str | None = None
) -> Reply | None:
    """Run a text command; ``None`` when the text is not a command we know (not ours to answer)."""
    parsed = parse(text)
    if parsed is None or parsed[0] not in COMMANDS:
        return None
    name, argument = parsed
    handler = COMMANDS[name].handler
    return await engine.run(user, space, lambda ctx: handler(engine, ctx, argument, update_key))
