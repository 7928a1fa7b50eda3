"""The dashboard's filter of a round's answers and skips as SQL conditions, for tallies and exports alike.

One function turns an :class:`~bot.store.records.AnswerFilter` into ``AND …`` conditions on a row of
``answers`` or ``skips`` (both carry ``user_id``, ``space_id`` and ``created_at``), so the numbers a page
shows and the rows its export streams are chosen by the same words. The platform is the space's (where the
answer was given), else the member's account's for rows recorded before spaces were; the language is the
member's, the default one for a member who never chose. An open filter adds nothing at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from bot.store.records import AnswerFilter
from bot.store.timestamps import to_text

Alias = Literal["answers", "a", "s"]  # how the query names its answers or skips table


def filtered(alias: Alias, where: AnswerFilter) -> tuple[str, tuple[Any, ...]]:
    """``AND`` conditions keeping the rows of ``alias`` (``answers`` or ``skips``) that ``where`` selects,
    and their parameters; ``("", ())`` when it selects everything."""
    conditions: list[str] = []
    parameters: list[Any] = []
    if where.platform is not None:
        conditions.append(
            f"COALESCE((SELECT fs.platform FROM spaces fs WHERE fs.id = {alias}.space_id),"  # noqa: S608 - an alias
            f" (SELECT fu.platform FROM users fu WHERE fu.id = {alias}.user_id)) = ?"
        )
        parameters.append(where.platform)
    if where.space_id is not None:
        conditions.append(f"{alias}.space_id = ?")
        parameters.append(where.space_id)
    if where.language is not None:
        conditions.append(
            f"(SELECT COALESCE(fu.language, ?) FROM users fu WHERE fu.id = {alias}.user_id) = ?"  # noqa: S608 - an alias
        )
        parameters += [where.default_language, where.language]
    if where.since is not None:
        conditions.append(f"{alias}.created_at >= ?")
        parameters.append(to_text(datetime.combine(where.since, time(), UTC)))
    if where.until is not None:
        conditions.append(f"{alias}.created_at < ?")
        parameters.append(to_text(datetime.combine(where.until + timedelta(days=1), time(), UTC)))
    return "".join(f" AND {condition}" for condition in conditions), tuple(parameters)
