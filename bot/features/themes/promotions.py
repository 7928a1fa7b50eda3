"""Options promoted from themes, applied on top of the catalog: the campaign a round serves.

Where they live, and why. A promoted option is a row of ``promoted_options`` in the database, not a
line written into the catalog's TOML: the bot may run in several processes on a read-only catalog
directory, two moderators promoting the same theme at once must add exactly one option (a ``UNIQUE``
constraint does that; two processes appending to a file would not), and an operator reviews the
overrides with ``crowdpulse catalog check``, which lists them beside the catalog they change (and
may copy one into the catalog's ``promoted`` field to keep it for good).

Which rounds serve one: the rounds of the campaign in the same community (its moderators promoted it;
another community's questions stay as the catalog says) opened after the round the theme came from
(round ids only grow), so the round whose answers made the theme is never changed under its members' feet.

Cost: one small query every :data:`PROMOTIONS_CACHE_SECONDS` per process (another process's promotion
shows within that time; this process's own at once), shared by the taps that find the cache run out
together (:class:`~bot.single_flight.SingleFlight`), and the changed campaigns are built once each (with
one call to the theme worker for the labels' languages).
"""

from __future__ import annotations

import time

from bot.catalog import MAX_PROMOTED, PROMOTED_KINDS, Campaign, text_in
from bot.context import Services
from bot.features.themes import worker
from bot.features.themes.folding import fold
from bot.single_flight import SingleFlight
from bot.store.records import PromotedOption, RoundRecord

PROMOTIONS_CACHE_SECONDS = 10.0


class Promotions:
    """The promoted options, read through a short-lived cache, and the campaigns they change."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._read_at = -PROMOTIONS_CACHE_SECONDS
        self._options: list[PromotedOption] = []
        self._campaigns: dict[tuple[str, tuple[int, ...]], Campaign] = {}
        self._reads: SingleFlight[None] = SingleFlight()

    async def all(self) -> list[PromotedOption]:
        """Every promoted option, oldest first, as this process last read them (see the module's docstring)."""
        if time.monotonic() - self._read_at < PROMOTIONS_CACHE_SECONDS:
            return self._options
        return await self._reads.run(None, self.services.store.themes.promoted, self._keep)

    def _keep(self, options: list[PromotedOption]) -> None:
        self._options, self._read_at = options, time.monotonic()

    def forget(self) -> None:
        """Read the options again at the next use (this process just promoted one)."""
        self._read_at = -PROMOTIONS_CACHE_SECONDS
        self._reads.forget()

    async def campaign(self, record: RoundRecord) -> Campaign | None:
        """The campaign ``record`` serves: the catalog's, with the options promoted before it opened."""
        base = self.services.catalog.campaign(record.subject)
        if base is None:
            return None
        options = [
            option
            for option in await self.all()
            if (option.space_id, option.campaign_id) == (record.space_id, base.id)
            and option.source_round_id < record.id
        ]
        if not options:
            return base
        key = (base.id, tuple(option.id for option in options))
        built = self._campaigns.get(key)
        if built is None:
            labels = [option.label for option in options]
            languages = await worker.run("bot.features.themes.runs:languages", labels)
            built = self._campaigns[key] = with_promoted(base, options, dict(zip(labels, languages, strict=True)))
        return built


def with_promoted(campaign: Campaign, options: list[PromotedOption], languages: dict[str, str]) -> Campaign:
    """``campaign`` with each option added to its task's ``promoted`` (after the catalog's own), skipping
    a task gone from the catalog, a label it already has and any beyond the task's limit. Each label is
    kept under its language (``languages``: by label), detected in the theme worker, since py3langid's
    model stays out of the bot process (:mod:`bot.features.themes.worker`)."""
    tasks = []
    for task in campaign.tasks:
        promoted = [dict(option) for option in task.promoted]
        known = {fold(text_in(option, "en")) for option in promoted}
        for option in options:
            label_key = fold(option.label)
            fits = option.task_id == task.id and task.kind in PROMOTED_KINDS and len(promoted) < MAX_PROMOTED
            if fits and label_key not in known:
                promoted.append({languages[option.label]: option.label})
                known.add(label_key)
        tasks.append(task.model_dump(exclude_unset=True) | ({"promoted": promoted} if promoted else {}))
    return Campaign.model_validate(campaign.model_dump(exclude_unset=True) | {"tasks": tasks})
