"""Points made visible and spendable: leaderboards, the member's profile, badges, levels and rewards.

Badges and level-ups are decided in the store, in the unit of the effect that earns them (see
:mod:`bot.store.rewards_sql`); this module shows them. Rewards are spent with ``/redeem <id>`` or the
buttons of ``/rewards``: a ``w.<reward>`` button asks to confirm, its ``q.<reward>.<nonce>`` button
redeems, and the nonce makes a double tap redeem once. A code is only ever shown privately: in the
private reply to the redemption, and again in ``/me`` (also private), so a reply lost in transit never
loses the code.

Operators manage the catalog from the command line (:func:`add_reward`, :func:`import_codes`,
:func:`list_rewards`, behind ``crowdpulse rewards``); codes come from the operator's own file, never
from the repository.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.actions import Action
from bot.points import EVERYONE, current_streak, level_for, round_scope, space_scope, week_scope
from bot.replies import Button, Outcome, Reply, escape, to_plain
from bot.store.records import Awarded
from bot.store.rewards_sql import (
    CodeLine,
    RedeemOutcome,
    RedeemRequest,
    RedeemStatus,
    RewardQueries,
    RewardRecord,
    UnknownRewardError,
)
from bot.store.sqlite import StoreUnavailableError
from bot.texts import FALLBACK, Markup, keys, t

if TYPE_CHECKING:
    from bot.engine import Context, Engine

log = logging.getLogger(__name__)

TOP_SIZE = 10
MY_CODES = 5  # the latest reward codes /me repeats
REWARD_ID = re.compile(r"[a-z0-9_-]{1,24}")  # fits an action token field
MAX_TITLE = 60  # a button label with the cost stays within Discord's 80 characters
MAX_CODE = 200
_MAX_ID_DIGITS = 18  # fits SQLite's 64-bit integers


class RewardError(ValueError):
    """An operator's request that was refused; the message says what to fix."""


class Rewards:
    """Leaderboards, profiles and rewards for one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queries = RewardQueries(engine.store)
        self._badges = {rule.id: rule for rule in engine.settings.points.badges}
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

    # leaderboards and profile -------------------------------------------------------------------

    async def leaderboard(self, ctx: Context, period: str = "") -> Reply:
        """``/top [week|all|round <id>|global]``: the top 10, and the caller's own rank below them.

        A rank is 1 + the members with more points, summed over the score histogram: it never scans
        every member, however large the community.
        """
        chosen = await self._scope(ctx, period)
        if isinstance(chosen, Reply):
            return chosen
        scope, title = chosen
        store = self.engine.store
        top = await store.top(scope, TOP_SIZE)
        if not top:
            return Reply(t("top.empty", ctx.language))
        lines = [title]
        lines += [
            t("top.line", ctx.language, rank=entry.rank, name=entry.display_name or "?", points=entry.points)
            for entry in top
        ]
        if all(entry.user_id != ctx.user_id for entry in top):
            mine = await store.standing(scope, ctx.user_id)
            lines.append(
                t("top.you", ctx.language, rank=mine.rank, points=mine.points)
                if mine
                else t("top.you_none", ctx.language)
            )
        return Reply(Markup("\n".join(lines)))

    async def _scope(self, ctx: Context, period: str) -> tuple[str, Markup] | Reply:
        space = ctx.space.title
        match period.lower().split():
            case [] | ["all"]:
                return space_scope(ctx.space_id), t("top.title", ctx.language, space=space)
            case ["week"]:
                scope = week_scope(ctx.space_id, self.engine.clock().astimezone(self.engine.settings.zone))
                return scope, t("top.title_week", ctx.language, space=space)
            case ["global"]:
                return EVERYONE, t("top.title_global", ctx.language)
            case ["round", number]:
                is_id = number.isdecimal() and len(number) <= _MAX_ID_DIGITS
                record = await self.engine.store.round(int(number)) if is_id else None
                if record is None or record.space_id != ctx.space_id:
                    return Reply(t("top.unknown_round", ctx.language, round=number), Outcome.REFUSED)
                return round_scope(record.id), t("top.title_round", ctx.language, round=record.id, space=space)
        return Reply(t("top.usage", ctx.language), Outcome.REFUSED)

    async def profile(self, ctx: Context) -> Reply:
        """``/me``: balance, level, rank here, streak and badges; for the member's eyes only."""
        language, store = ctx.language, self.engine.store
        balance = await store.balance(ctx.user_id)
        level, next_at = level_for(await self.queries.earned(ctx.user_id))
        standing = await store.standing(space_scope(ctx.space_id), ctx.user_id)
        last_day, length, best = await self.queries.streak(ctx.user_id)
        today = self.engine.clock().astimezone(self.engine.settings.zone).date()
        badges = [self.badge_title(badge, language) for badge in await self.queries.badges(ctx.user_id)]
        lines = [
            t("me.title", language, name=ctx.user.display_name or "?"),
            t("me.points", language, points=balance, level=level, next=next_at),
            t("me.rank", language, rank=standing.rank, space=ctx.space.title, points=standing.points)
            if standing
            else t("me.unranked", language),
            t("me.streak", language, days=current_streak(last_day, length, today), best=best),
            t("me.badges", language, badges=Markup(", ".join(badges))) if badges else t("me.no_badges", language),
        ]
        lines += [
            t("me.code", language, title=title, code=code)
            for title, code in await self.queries.codes_of(ctx.user_id, MY_CODES)
        ]
        return Reply(Markup("\n".join(lines)), private=True)

    # rewards ------------------------------------------------------------------------------------

    async def catalog(self, ctx: Context) -> Reply:
        """``/rewards``: every reward with its cost and stock, and a Redeem button for those in stock."""
        language = ctx.language
        rewards = await self.queries.catalog()
        if not rewards:
            return Reply(t("rewards.empty", language))
        lines = [t("rewards.title", language)]
        buttons: list[tuple[Button, ...]] = []
        for reward in rewards:
            lines.append(
                t(
                    "rewards.line",
                    language,
                    title=reward.title,
                    id=reward.id,
                    cost=reward.cost,
                    stock=self._stock(reward, language),
                )
            )
            if reward.available:
                label = to_plain(t("rewards.button", language, title=reward.title, cost=reward.cost))
                buttons.append((Button(label, self.engine.codec.pack("w", reward.id)),))
        lines.append(t("rewards.hint", language))
        return Reply(Markup("\n".join(lines)), buttons=tuple(buttons))

    def _stock(self, reward: RewardRecord, language: str) -> Markup:
        if reward.stock is None:
            return t("rewards.unlimited", language)
        return (
            t("rewards.stock_left", language, count=reward.stock) if reward.stock else t("rewards.sold_out", language)
        )

    async def act(self, ctx: Context, action: Action) -> Reply:
        """The ``w`` (ask to confirm) and ``q`` (redeem) buttons."""
        if action.verb == "w" and len(action.fields) == 1:
            return await self._confirm(ctx, action.fields[0])
        if action.verb == "q" and len(action.fields) == 2:
            return await self.redeem(ctx, action.fields[0], f"q:{action.fields[1]}")
        return self.engine._stale(ctx)

    async def _confirm(self, ctx: Context, reward_id: str) -> Reply:
        reward = await self.queries.reward(reward_id)
        if reward is None:
            return self._refusal(ctx.language, RedeemOutcome(RedeemStatus.UNKNOWN_REWARD), reward_id)
        if not reward.available:
            return self._refusal(ctx.language, RedeemOutcome(RedeemStatus.OUT_OF_STOCK, reward.title), reward_id)
        balance = await self.engine.store.balance(ctx.user_id)
        if balance < reward.cost:
            refused = RedeemOutcome(RedeemStatus.NOT_ENOUGH_POINTS, reward.title, reward.cost, balance)
            return self._refusal(ctx.language, refused, reward_id)
        token = self.engine.codec.pack("q", reward.id, secrets.token_urlsafe(6))
        text = t("rewards.confirm", ctx.language, cost=reward.cost, points=balance, title=reward.title)
        button = Button(str(t("rewards.confirm_button", ctx.language)), token)
        return Reply(text, buttons=((button,),), private=True)

    async def redeem(self, ctx: Context, reward_id: str, request_key: str | None = None) -> Reply:
        """``/redeem <id>``: spend points on a reward in one atomic unit; the code comes privately.

        ``request_key`` (a platform update id, a confirmation nonce) makes a retried request return the
        first redemption instead of spending again. Refusals (unknown reward, out of stock, not enough
        points, banned) are private replies that change nothing.
        """
        language = ctx.language
        wanted = reward_id.strip().lower()
        if not wanted:
            return Reply(t("rewards.usage", language), Outcome.REFUSED, private=True)
        if await self.engine.store.is_banned(ctx.space_id, ctx.user_id):
            return Reply(t("moderation.you_are_banned", language), Outcome.REFUSED, private=True)
        request = RedeemRequest(
            user_id=ctx.user_id,
            space_id=ctx.space_id,
            reward_id=wanted,
            request_key=f"{ctx.user_id}:{request_key}" if request_key else None,
            rules=self.engine.rules,
        )
        try:
            outcome = await self.queries.redeem(request, self.engine.clock())
        except StoreUnavailableError:
            return Reply(t("error.storage", language), Outcome.REFUSED, private=True)
        log.info("action=redeem reward=%s user=%s outcome=%s", wanted, ctx.user_id, outcome.status)
        if outcome.status == RedeemStatus.REDEEMED:
            return self._redeemed(outcome, language)
        if outcome.status == RedeemStatus.ALREADY_REDEEMED:
            return replace(self._redeemed(outcome, language), outcome=Outcome.ALREADY_DONE)
        return self._refusal(language, outcome, wanted)

    def _redeemed(self, outcome: RedeemOutcome, language: str) -> Reply:
        """The private message that delivers a reward (and its code, when it has one)."""
        details = {"title": outcome.title, "cost": outcome.cost, "number": outcome.redemption_id}
        text = (
            t("rewards.redeemed_code", language, code=outcome.code, **details)
            if outcome.code is not None
            else t("rewards.redeemed", language, **details)
        )
        return Reply(text, Outcome.DONE, notice=str(t("rewards.notice", language)), private=True)

    def _refusal(self, language: str, outcome: RedeemOutcome, reward_id: str) -> Reply:
        if outcome.status == RedeemStatus.OUT_OF_STOCK:
            text = t("rewards.out_of_stock", language, title=outcome.title)
        elif outcome.status == RedeemStatus.NOT_ENOUGH_POINTS:
            text = t("rewards.not_enough", language, title=outcome.title, cost=outcome.cost, points=outcome.balance)
        else:
            text = t("rewards.unknown", language, reward=reward_id)
        return Reply(text, Outcome.REFUSED, notice=to_plain(text), private=True)


# operators (``crowdpulse rewards …``) -----------------------------------------------------------


async def add_reward(queries: RewardQueries, reward_id: str, title: str, cost: int, stock: int | None) -> list[str]:
    """Add a reward or change an existing one's title, cost and (when given) stock.

    Raises:
        RewardError: an id that would not fit a button, an empty or long title, a cost below 1 or a
            negative stock.
    """
    if not REWARD_ID.fullmatch(reward_id):
        raise RewardError(f"reward id {reward_id!r}: use 1 to 24 of a-z, 0-9, '-' and '_'")
    if not title.strip() or len(title) > MAX_TITLE:
        raise RewardError(f"title: 1 to {MAX_TITLE} characters")
    if cost < 1:
        raise RewardError("cost: at least 1 point")
    if stock is not None and stock < 0:
        raise RewardError("stock: 0 or more")
    created = await queries.add_reward(reward_id, title.strip(), cost, stock, datetime.now(UTC))
    return [f"{'added' if created else 'updated'} reward {reward_id}"]


async def import_codes(queries: RewardQueries, path: Path) -> list[str]:
    """Load one-time codes from a CSV file of ``reward_id,code`` lines (an optional header line first).

    All or nothing: a file naming an unknown reward, or with a malformed line, imports no code. A
    code loaded before is skipped, so importing the same file twice is harmless.

    Raises:
        RewardError: the file cannot be read, a line is malformed, or it names an unknown reward.
    """
    lines = await asyncio.to_thread(read_codes, path)
    try:
        added = await queries.import_codes(lines, datetime.now(UTC))
    except UnknownRewardError as error:
        raise RewardError(f"{path}: unknown reward id(s), nothing imported: {error}") from error
    skipped = len(lines) - sum(added.values())
    report = [f"imported {count} code(s) for {reward_id}" for reward_id, count in sorted(added.items())]
    return [*report, f"skipped {skipped} code(s) already loaded"] if skipped else report or ["no codes in the file"]


def read_codes(path: Path) -> list[CodeLine]:
    """Parse a codes file; see :func:`import_codes`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise RewardError(f"{path}: {error.strerror or error}") from error
    lines: list[CodeLine] = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or (number == 1 and [cell.lower() for cell in cells] == ["reward_id", "code"]):
            continue
        if len(cells) != 2 or not cells[0] or not cells[1] or len(cells[1]) > MAX_CODE:
            raise RewardError(f"{path}, line {number}: expected reward_id,code (a code of 1 to {MAX_CODE} characters)")
        lines.append(CodeLine(number, cells[0], cells[1]))
    return lines


async def list_rewards(queries: RewardQueries) -> list[str]:
    """The catalog as an operator sees it: stock, unused codes and redemptions per reward."""
    rewards = await queries.catalog()
    if not rewards:
        return ["no rewards yet: crowdpulse rewards add --id ID --title TITLE --cost POINTS [--stock N]"]
    return [
        f"{reward.id}: {reward.title} · cost {reward.cost}"
        f" · stock {'unlimited' if reward.stock is None else reward.stock}"
        f" · {reward.codes_left} unused code(s) · redeemed {reward.redeemed} time(s)"
        for reward in rewards
    ]
