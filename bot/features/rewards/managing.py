"""The reward catalog managed from the web dashboard by its owners: the operators' own rules, audited.

The command line's ``crowdpulse rewards add`` and ``rewards import`` run :mod:`bot.features.rewards.operators`
on a file the operator has; the dashboard runs the very same functions on a form and an uploaded file,
as the signed-in teammate, and writes an audit row naming them, so the Audit log shows who restocked
what. Who may call these (an owner) is the dashboard's rule: roles are its accounts'.
"""

from __future__ import annotations

from bot.context import Context, Services
from bot.features.rewards.operators import RewardError, add_reward, load_codes, parse_codes
from bot.replies import Outcome, Reply
from bot.texts import t

MAX_UPLOAD_BYTES = 1_000_000  # a codes file: about 30,000 codes of 30 characters


class RewardManagement:
    """Adding or restocking a reward and importing codes, as an audited use case."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def save(self, ctx: Context, reward_id: str, title: str, cost: int, stock: int | None) -> Reply:
        """Add a reward, or change an existing one's title, cost and stock (a restock)."""
        try:
            await add_reward(self.services.store.rewards, reward_id, title, cost, stock)
        except RewardError as error:
            return Reply(t("reward_admin.refused", ctx.language, detail=str(error)), Outcome.REFUSED)
        detail = f"{title} · {cost} · {'-' if stock is None else stock}"
        await self._audit(ctx, "reward_save", reward_id, detail)
        return Reply(t("reward_admin.saved", ctx.language, id=reward_id), Outcome.DONE)

    async def import_upload(self, ctx: Context, data: bytes, filename: str) -> Reply:
        """Import the codes of an uploaded ``reward_id,code`` file: all or nothing, a code loaded before
        (or twice in the file) skipped and reported, never counted twice."""
        if len(data) > MAX_UPLOAD_BYTES:
            return Reply(t("reward_admin.too_big", ctx.language, limit=MAX_UPLOAD_BYTES // 1000), Outcome.REFUSED)
        try:
            text = data.decode("utf-8-sig")
            loaded = await load_codes(self.services.store.rewards, parse_codes(text, filename), filename)
        except UnicodeDecodeError:
            return Reply(t("reward_admin.not_text", ctx.language), Outcome.REFUSED)
        except RewardError as error:
            return Reply(t("reward_admin.refused", ctx.language, detail=str(error)), Outcome.REFUSED)
        report = "; ".join(loaded.report(ctx.language))
        await self._audit(ctx, "codes_import", filename, "; ".join(loaded.report("en")))
        return Reply(t("reward_admin.imported", ctx.language, report=report), Outcome.DONE)

    async def _audit(self, ctx: Context, action: str, target: str, detail: str) -> None:
        views = self.services.store.dashboard_views
        await views.record(ctx.space_id, ctx.user_id, action, target, detail, self.services.clock())
