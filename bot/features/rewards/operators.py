"""The reward catalog as operators manage it from the command line (``crowdpulse rewards …``).

Codes come from the operator's own file, never from the repository.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.features.rewards.redeeming import REWARD_ID
from bot.replies import to_plain
from bot.store.records import CodeLine, UnknownRewardError
from bot.store.rewards_sql import RewardQueries
from bot.texts import OPERATOR_LANGUAGE, operator_text, t

MAX_TITLE = 60  # a button label with the cost stays within Discord's 80 characters
MAX_CODE = 200


class RewardError(ValueError):
    """An operator's request that was refused; the message says what to fix."""


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


async def import_codes(
    queries: RewardQueries, path: Path, on_progress: Callable[[int, int], None] | None = None
) -> list[str]:
    """Load one-time codes from a CSV file of ``reward_id,code`` lines (an optional header line first).

    All or nothing: a file naming an unknown reward, or with a malformed line, imports no code. A
    code loaded before is skipped, so importing the same file twice is harmless. ``on_progress(codes
    imported, codes in the file)`` is told when the file is read and when its one transaction is done.

    Raises:
        RewardError: the file cannot be read, a line is malformed, or it names an unknown reward.
    """
    lines = await asyncio.to_thread(read_codes, path)
    if on_progress is not None:
        on_progress(0, len(lines))
    loaded = await load_codes(queries, lines, str(path))
    if on_progress is not None:
        on_progress(len(lines), len(lines))
    return loaded.report(OPERATOR_LANGUAGE)


@dataclass(frozen=True, slots=True)
class CodesLoaded:
    """What an import did: new codes per reward, and codes skipped (loaded before, or twice in the file:
    each code is counted once, by the database's UNIQUE constraint)."""

    added: dict[str, int]
    skipped: int

    def report(self, language: str) -> list[str]:
        """One line per reward that got codes, and one for the skipped, in ``language``."""
        lines = [
            to_plain(t("operator.codes_imported", language, count=count, reward=reward_id))
            for reward_id, count in sorted(self.added.items())
        ]
        if self.skipped:
            lines.append(to_plain(t("operator.codes_skipped", language, count=self.skipped)))
        return lines or [to_plain(t("operator.no_codes", language))]


async def load_codes(queries: RewardQueries, lines: list[CodeLine], source: str) -> CodesLoaded:
    """Import parsed code lines in one transaction (the command line's file, the dashboard's upload).

    Raises:
        RewardError: some lines name an unknown reward (``source`` names the file); nothing imported.
    """
    try:
        added = await queries.import_codes(lines, datetime.now(UTC))
    except UnknownRewardError as error:
        raise RewardError(f"{source}: unknown reward id(s), nothing imported: {error}") from error
    return CodesLoaded(dict(added), len(lines) - sum(added.values()))


def read_codes(path: Path) -> list[CodeLine]:
    """Read and parse a codes file; see :func:`import_codes`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise RewardError(f"{path}: {error.strerror or error}") from error
    return parse_codes(text, str(path))


def parse_codes(text: str, source: str) -> list[CodeLine]:
    """The ``reward_id,code`` lines of a codes file's text (a file on disk, or one uploaded to the
    dashboard); ``source`` names it in a refusal.

    Raises:
        RewardError: a line is malformed.
    """
    lines: list[CodeLine] = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or (number == 1 and [cell.lower() for cell in cells] == ["reward_id", "code"]):
            continue
        if len(cells) != 2 or not cells[0] or not cells[1] or len(cells[1]) > MAX_CODE:
            raise RewardError(
                f"{source}, line {number}: expected reward_id,code (a code of 1 to {MAX_CODE} characters)"
            )
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
        f" · {operator_text('unused_codes', count=reward.codes_left)}"
        f" · {operator_text('redeemed_times', count=reward.redeemed)}"
        for reward in rewards
    ]
