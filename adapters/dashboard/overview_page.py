"""The Overview: open rounds with their progress and response rate per platform and space, answers per
hour as a small chart, ideas waiting for a status, rewards running low.

Every number is an aggregate the database computes (one ``GROUP BY`` per open round, one for the hours),
and the chart is an inline SVG drawn here from those counts: no script, so the CSP stays strict, and it
reads without JavaScript.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.dashboard.app import Dashboard
from adapters.dashboard.pages import Pages
from bot.store.dashboard_views_sql import SpaceTurnout
from bot.store.records import RoundRecord
from bot.store.timestamps import to_text

LOW_STOCK = 5  # a reward with this many or fewer left shows on the Overview
IDEAS_SHOWN = 10
HOURS = 24  # the answers-per-hour chart's span
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 480, 80, 2


@dataclass(frozen=True, slots=True)
class HourBar:
    """One bar of the answers-per-hour chart, in the SVG's coordinates, with its tooltip."""

    x: int
    y: int
    width: int
    height: int
    hour: str  # "13:00" UTC
    count: int


def hour_bars(counts: dict[str, int], now: datetime) -> list[HourBar]:
    """The last :data:`HOURS` hours' bars, oldest first, scaled to the busiest hour (an empty hour has
    a bar of height 0, so the axis keeps its length)."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    hours = [start + timedelta(hours=index) for index in range(HOURS)]
    values = [counts.get(to_text(hour)[:13], 0) for hour in hours]
    top = max(values, default=0) or 1
    width = CHART_WIDTH // HOURS
    bars = []
    for index, (hour, count) in enumerate(zip(hours, values, strict=True)):
        height = round(CHART_HEIGHT * count / top)
        bars.append(HourBar(index * width, CHART_HEIGHT - height, width - BAR_GAP, height, f"{hour:%H}:00", count))
    return bars


def _rate(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def _time_progress(opened: datetime, closes: datetime | None, now: datetime) -> str:
    """How far an open round is through its time ("–" without a deadline)."""
    if closes is None or closes <= opened:
        return "–"
    return f"{min(1.0, max(0.0, (now - opened) / (closes - opened))):.0%}"


class OverviewPage(Pages):
    """The Overview's handler."""

    async def overview(self, request: Request) -> Response:
        _, community, _ = await self._community(request)
        now = self.engine.services.clock()
        store = self.store
        # sent together: a dashboard request reads as a report, side by side on the store's readers (bot.store.reads)
        members, turnouts, (ideas, waiting), catalog, per_hour = await asyncio.gather(
            store.dashboard.member_count(community.id),
            self._open_turnouts(community.id),
            store.ideas.page(community.id, "waiting", 0, IDEAS_SHOWN),
            store.rewards.catalog(),
            store.dashboard_views.answers_per_hour(community.id, now - timedelta(hours=HOURS)),
        )
        bars = hour_bars(per_hour, now)
        return await self._page(
            request,
            "overview.html",
            open_rounds=[_open_round(turnout, members, now) for turnout in turnouts],
            ideas=ideas,
            waiting=waiting,
            rewards=[r for r in catalog if r.stock is not None and r.stock <= LOW_STOCK],
            bars=bars,
            answers_today=sum(bar.count for bar in bars),
            chart={"width": CHART_WIDTH, "height": CHART_HEIGHT},
        )

    async def _open_turnouts(self, community_id: int) -> list[RoundTurnout]:
        records = [record for record in await self.store.rounds.rounds_in(community_id, 200) if record.is_open]
        return list(await asyncio.gather(*(self._turnout(record) for record in records)))

    async def _turnout(self, record: RoundRecord) -> RoundTurnout:
        answered, spaces = await asyncio.gather(
            self.store.rounds.participants(record.id), self.store.dashboard_views.turnout(record.id)
        )
        return RoundTurnout(record, answered, spaces)


@dataclass(frozen=True, slots=True)
class RoundTurnout:
    """An open round with who answered it: in all, and per space."""

    record: RoundRecord
    answered: int
    spaces: list[SpaceTurnout]


def _open_round(turnout: RoundTurnout, members: int, now: datetime) -> dict[str, Any]:
    """A row of the open rounds' table and its rows per space: who answered there, of the members."""
    record = turnout.record
    return {
        "round": record,
        "participants": turnout.answered,
        "rate": _rate(turnout.answered, members),
        "progress": _time_progress(record.opened_at, record.closes_at, now),
        "spaces": [{"space": space, "rate": _rate(space.persons, members)} for space in turnout.spaces],
    }


def routes(dashboard: Dashboard) -> list[Route]:
    return [Route("/c/{community:int}", OverviewPage(dashboard).overview)]
