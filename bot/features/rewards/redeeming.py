"""Rewards members spend their points on: the catalog, a confirmation, and the redemption itself.

A reward is spent with ``/redeem <id>`` or the buttons of ``/rewards``: a :attr:`Verb.REWARD_CONFIRM`
button asks to confirm, its :attr:`Verb.REDEEM` button redeems, and the nonce it carries makes a double
tap redeem once. A code is only ever shown privately: in the private reply to the redemption, and again
in ``/me`` (also private), so a reply lost in transit never loses the code.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import replace

from bot.actions import Action, Verb
from bot.context import Context, Services, stale
from bot.replies import Button, Outcome, Reply, to_plain
from bot.store.database import StoreUnavailableError
from bot.store.records import RedeemOutcome, RedeemRequest, RedeemStatus, RewardRecord
from bot.texts import Markup, t

log = logging.getLogger(__name__)

REWARD_ID = re.compile(r"[a-z0-9_-]{1,24}")  # fits an action token field


class Rewards:
    """The reward catalog members see, and redemptions."""

    verbs = frozenset({Verb.REWARD_CONFIRM, Verb.REDEEM})

    def __init__(self, services: Services) -> None:
        self.services = services
        self.queries = services.store.rewards

    async def catalog(self, ctx: Context) -> Reply:
        """Every reward with its cost and stock, and a Redeem button for those in stock."""
        language = ctx.language
        rewards = await self.queries.catalog()
        if not rewards:
            return Reply(t("rewards.empty", language))
        lines = [t("rewards.title", language)]
        buttons: list[tuple[Button, ...]] = []
        for reward in rewards:
            stock = self._stock(reward, language)
            lines.append(t("rewards.line", language, title=reward.title, id=reward.id, cost=reward.cost, stock=stock))
            if reward.available:
                label = to_plain(t("rewards.button", language, title=reward.title, cost=reward.cost))
                buttons.append((Button(label, self.services.codec.pack(Verb.REWARD_CONFIRM, reward.id)),))
        lines.append(t("rewards.hint", language))
        return Reply(Markup("\n".join(lines)), buttons=tuple(buttons))

    async def choices(self) -> list[tuple[str, str]]:
        """Rewards in stock as ``(id, title)``, cheapest first: what a platform's autocomplete offers."""
        return [(reward.id, reward.title) for reward in await self.queries.catalog() if reward.available]

    def _stock(self, reward: RewardRecord, language: str) -> Markup:
        if reward.stock is None:
            return t("rewards.unlimited", language)
        return (
            t("rewards.stock_left", language, count=reward.stock) if reward.stock else t("rewards.sold_out", language)
        )

    async def handle(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        """The confirm and redeem buttons."""
        if action.verb == Verb.REWARD_CONFIRM and len(action.fields) == 1:
            return await self._confirm(ctx, action.fields[0])
        if action.verb == Verb.REDEEM and len(action.fields) == 2:
            return await self.redeem(ctx, action.fields[0], f"q:{action.fields[1]}")
        return stale(ctx)

    async def _confirm(self, ctx: Context, reward_id: str) -> Reply:
        reward = await self.queries.reward(reward_id)
        if reward is None:
            return self._refusal(ctx.language, RedeemOutcome(RedeemStatus.UNKNOWN_REWARD), reward_id)
        if not reward.available:
            return self._refusal(ctx.language, RedeemOutcome(RedeemStatus.OUT_OF_STOCK, reward.title), reward_id)
        balance = await self.services.store.points.balance(ctx.user_id)
        if balance < reward.cost:
            refused = RedeemOutcome(RedeemStatus.NOT_ENOUGH_POINTS, reward.title, reward.cost, balance)
            return self._refusal(ctx.language, refused, reward_id)
        token = self.services.codec.pack(Verb.REDEEM, reward.id, secrets.token_urlsafe(6))
        text = t("rewards.confirm", ctx.language, cost=reward.cost, points=balance, title=reward.title)
        button = Button(str(t("rewards.confirm_button", ctx.language)), token)
        return Reply(text, buttons=((button,),), private=True)

    async def redeem(self, ctx: Context, reward_id: str, request_key: str | None = None) -> Reply:
        """Spend points on a reward in one atomic unit; the code comes privately.

        ``request_key`` (a platform update id, a confirmation nonce) makes a retried request return the
        first redemption instead of spending again. Refusals (unknown reward, out of stock, not enough
        points, banned) are private replies that change nothing.
        """
        language = ctx.language
        wanted = reward_id.strip().lower()
        if not wanted:
            return Reply(t("rewards.usage", language), Outcome.REFUSED, private=True)
        if await self.services.store.members.is_banned(ctx.space_id, ctx.user_id):
            return Reply(t("moderation.you_are_banned", language), Outcome.REFUSED, private=True)
        request = RedeemRequest(
            user_id=ctx.user_id,
            space_id=ctx.space_id,
            reward_id=wanted,
            request_key=f"{ctx.user_id}:{request_key}" if request_key else None,
            rules=self.services.rules,
        )
        try:
            outcome = await self.queries.redeem(request, self.services.clock())
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
