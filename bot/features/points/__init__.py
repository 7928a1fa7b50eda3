"""Points made visible: the member's balance and ledger, their profile, leaderboards, badges and levels.

Badges and level-ups are decided in the store, in the unit of the effect that earns them; this feature
shows them. A rank is 1 + the members with more points, summed over the score histogram: it never
scans every member, however large the community.
"""

from __future__ import annotations

from typing import Literal

from bot.catalog import text_in
from bot.context import Context, Services
from bot.point_rules import EVERYONE, current_streak, level_for, round_scope, space_scope, week_scope
from bot.replies import Outcome, Reply, escape
from bot.store.records import Awarded
from bot.texts import FALLBACK, Markup, keys, t

Board = Literal["all", "week", "global", "round"]
BOARDS: tuple[Board, ...] = ("all", "week", "global", "round")
TOP_SIZE = 10
MY_CODES = 5  # the latest reward codes /me repeats
LEDGER_LINES = 8
REASON_LENGTH = 40


class Points:
    """Balances, ledgers, profiles and leaderboards."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._badges = {rule.id: rule for rule in services.settings.points.badges}
        missing = sorted(rule.title_key for rule in self._badges.values() if rule.title_key not in keys(FALLBACK))
        if missing:
            raise ValueError(f"points.badges: no English text for {missing} in bot/locales/en")

    # shown with an answer -----------------------------------------------------------------------

    def celebrations(self, awarded: Awarded | None, language: str) -> list[Markup]:
        """Lines for an answer's reply: a level reached, badges earned."""
        if awarded is None:
            return []
        lines = [t("answer.level_up", language, level=awarded.level_up)] if awarded.level_up else []
        lines += [t("answer.badge", language, badge=self.badge_title(badge, language)) for badge in awarded.badges]
        return lines

    def badge_title(self, badge_id: str, language: str) -> Markup:
        rule = self._badges.get(badge_id)
        return t(rule.title_key, language) if rule else Markup(escape(badge_id))  # a badge since retired

    # the member's own -------------------------------------------------------------------------

    async def balance(self, ctx: Context) -> int:
        """The member's balance: the sum of their ledger."""
        return await self.services.store.points.balance(ctx.user_id)

    async def points(self, ctx: Context) -> Reply:
        """Balance, level and the latest ledger entries with their reasons; privately."""
        store = self.services.store
        balance = await store.points.balance(ctx.user_id)
        entries = await store.points.ledger_entries(ctx.user_id, LEDGER_LINES)
        level, next_at = level_for(await store.points.earned(ctx.user_id))
        lines = [t("points.balance", ctx.language, points=balance, level=level, next=next_at)]
        for entry in entries:
            detail = self._task_title(entry.detail, ctx.language) if entry.reason == "answer" else entry.detail
            reason = t(f"reason.{entry.reason}", ctx.language, detail=detail)
            lines.append(t("points.entry", ctx.language, delta=f"{entry.delta:+d}", reason=reason))
        return Reply(Markup("\n".join(lines)), private=True)

    def _task_title(self, task_id: str, language: str) -> str:
        """A task's prompt, shortened, for the ledger lines ("answered “What do you order…”")."""
        for campaign in self.services.catalog.campaigns.values():
            task = campaign.task(task_id)
            if task is not None:
                prompt = text_in(task.prompt, language)
                return prompt if len(prompt) <= REASON_LENGTH else prompt[: REASON_LENGTH - 1] + "…"
        return task_id

    async def profile(self, ctx: Context) -> Reply:
        """``/me``: balance, level, rank here, streak and badges; for the member's eyes only."""
        language, store, settings = ctx.language, self.services.store, self.services.settings
        balance = await store.points.balance(ctx.user_id)
        level, next_at = level_for(await store.points.earned(ctx.user_id))
        standing = await store.points.standing(space_scope(ctx.space_id), ctx.user_id)
        streak = await store.points.streak(ctx.user_id)
        today = self.services.clock().astimezone(settings.zone).date()
        badges = [self.badge_title(badge, language) for badge in await store.points.badges(ctx.user_id)]
        next_level = t("me.next_level", language, next=next_at)
        lines = [
            t("me.title", language, name=ctx.user.display_name or "?"),
            t("me.points", language, points=balance, level=level, next_level=next_level),
            t("me.rank", language, rank=standing.rank, space=ctx.space.title, points=standing.points)
            if standing
            else t("me.unranked", language),
            t("me.streak", language, days=current_streak(streak.last_day, streak.length, today), best=streak.best),
            t("me.badges", language, badges=Markup(", ".join(badges))) if badges else t("me.no_badges", language),
        ]
        lines += [
            t("me.code", language, title=title, code=code)
            for title, code in await store.rewards.codes_of(ctx.user_id, MY_CODES)
        ]
        return Reply(Markup("\n".join(lines)), private=True)

    # leaderboards -------------------------------------------------------------------------------

    async def leaderboard(self, ctx: Context, board: Board = "all", round_id: int | None = None) -> Reply:
        """The top 10 of a board (this space, this week here, everyone, a round here), and the caller's
        own rank below them when they are not among the ten."""
        chosen = await self._scope(ctx, board, round_id)
        if isinstance(chosen, Reply):
            return chosen
        scope, title = chosen
        store = self.services.store
        top = await store.points.top(scope, TOP_SIZE)
        if not top:
            return Reply(t("top.empty", ctx.language))
        lines = [title]
        lines += [
            t("top.line", ctx.language, rank=entry.rank, name=entry.display_name or "?", points=entry.points)
            for entry in top
        ]
        if all(entry.user_id != ctx.user_id for entry in top):
            mine = await store.points.standing(scope, ctx.user_id)
            lines.append(
                t("top.you", ctx.language, rank=mine.rank, points=mine.points)
                if mine
                else t("top.you_none", ctx.language)
            )
        return Reply(Markup("\n".join(lines)))

    async def _scope(self, ctx: Context, board: Board, round_id: int | None) -> tuple[str, Markup] | Reply:
        space = ctx.space.title
        if board == "week":
            now = self.services.clock().astimezone(self.services.settings.zone)
            return week_scope(ctx.space_id, now), t("top.title_week", ctx.language, space=space)
        if board == "global":
            return EVERYONE, t("top.title_global", ctx.language)
        if board == "round":
            record = await self.services.store.rounds.round(round_id) if round_id is not None else None
            if record is None or record.space_id != ctx.space_id:
                return Reply(t("top.unknown_round", ctx.language, round=round_id), Outcome.REFUSED)
            return round_scope(record.id), t("top.title_round", ctx.language, round=record.id, space=space)
        return space_scope(ctx.space_id), t("top.title", ctx.language, space=space)
