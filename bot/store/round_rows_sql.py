"""SQL for a round's rows as exports and quality checks read them: answers and skips a page at a time,
who missed the attention checks, and the audit log of the round's space; with the conditions the
tallies share (:mod:`bot.store.rounds_sql`'s :class:`~bot.store.rounds_sql.RoundQueries` extends this).
"""

from __future__ import annotations

from typing import Any

from bot.store.answer_filter import filtered
from bot.store.database import Database
from bot.store.records import EVERY_ANSWER, NO_CHECKS, AnswerFilter, AttentionChecks

ALL_ROWS = 2**62  # a LIMIT both databases take as "no limit"
# A skip stands unless the member answered the task after all.
SKIP_STANDS = (
    "NOT EXISTS (SELECT 1 FROM answers a WHERE a.round_id = s.round_id AND a.user_id = s.user_id"
    " AND a.task_id = s.task_id)"
)


def failing(round_id: int, checks: AttentionChecks) -> tuple[str, tuple[Any, ...]]:
    """The members of the round who gave another value than the instructed one to ``checks.failures`` or
    more attention checks: a subquery over the round's answers to those tasks, and its parameters.

    One ``GROUP BY`` over a handful of tasks' answers; the tallies then filter on it, so no list of
    members ever travels to Python and back.
    """
    missed = " OR ".join("(f.task_id = ? AND f.value <> ?)" for _ in checks.passing)
    sql = (
        f"SELECT f.user_id FROM answers f WHERE f.round_id = ? AND ({missed})"  # noqa: S608
        " GROUP BY f.user_id HAVING COUNT(DISTINCT f.task_id) >= ?"
    )
    return sql, (round_id, *(part for pair in checks.passing for part in pair), checks.failures)


def kept_members(column: str, round_id: int, checks: AttentionChecks) -> tuple[str, tuple[Any, ...]]:
    """``AND column NOT IN (the failing members)``, or nothing when the campaign has no attention checks."""
    if not checks.passing:
        return "", ()
    sql, parameters = failing(round_id, checks)
    return f" AND {column} NOT IN ({sql})", parameters


def excluded_column(column: str, round_id: int, checks: AttentionChecks) -> tuple[str, tuple[Any, ...]]:
    """A select column, 1 when ``column`` is a failing member, else 0 (exports flag, never drop)."""
    if not checks.passing:
        return "0 AS excluded", ()
    sql, parameters = failing(round_id, checks)
    return f"CASE WHEN {column} IN ({sql}) THEN 1 ELSE 0 END AS excluded", parameters


class RoundRows:
    """A round's rows over a :class:`Database`."""

    def __init__(self, store: Database) -> None:
        self.store = store

    async def left_out(self, round_id: int, checks: AttentionChecks) -> int:
        """How many members missed enough attention checks to have their answers left out."""
        if not checks.passing:
            return 0
        sql, parameters = failing(round_id, checks)
        return int(await self.store.fetchval(f"SELECT COUNT(*) FROM ({sql}) failing", parameters, 0))  # noqa: S608

    async def left_out_answers(self, round_id: int, checks: AttentionChecks) -> int:
        """How many answers the members who missed enough attention checks gave: what the tallies lose."""
        if not checks.passing:
            return 0
        sql, parameters = failing(round_id, checks)
        return int(
            await self.store.fetchval(
                f"SELECT COUNT(*) FROM answers WHERE round_id = ? AND user_id IN ({sql})",  # noqa: S608
                (round_id, *parameters),
                0,
            )
        )

    async def missed_checks(self, round_id: int, checks: AttentionChecks) -> dict[int, int]:
        """Per member who missed any, how many of the round's attention checks they answered otherwise
        than instructed (a member who missed none is not listed)."""
        if not checks.passing:
            return {}
        missed = " OR ".join("(task_id = ? AND value <> ?)" for _ in checks.passing)
        rows = await self.store.fetchall(
            f"SELECT user_id, COUNT(DISTINCT task_id) FROM answers WHERE round_id = ? AND ({missed})"  # noqa: S608
            " GROUP BY user_id",
            (round_id, *(part for pair in checks.passing for part in pair)),
        )
        return {int(row[0]): int(row[1]) for row in rows}

    async def export_rows(
        self,
        round_id: int,
        checks: AttentionChecks = NO_CHECKS,
        where: AnswerFilter = EVERY_ANSWER,
        after: int = 0,
        limit: int = ALL_ROWS,
    ) -> list[Any]:
        """The answers ``where`` selects, oldest first, each with ``excluded`` (1 when its member's answers
        are left out); a page of ``limit`` with ids above ``after`` (a streamed export's next page: one
        range read of the index on (round, id) of migration 0019, however deep the page)."""
        excluded, parameters = excluded_column("a.user_id", round_id, checks)
        chosen, chosen_parameters = filtered("a", where)
        return await self.store.fetchall(
            f"SELECT a.id, a.task_id, a.user_id, u.platform, u.display_name, a.value, a.created_at, {excluded}"  # noqa: S608
            f" FROM answers a JOIN users u ON u.id = a.user_id WHERE a.round_id = ? AND a.id > ?{chosen}"
            " ORDER BY a.id LIMIT ?",
            (*parameters, round_id, after, *chosen_parameters, limit),
        )

    async def skip_rows(
        self,
        round_id: int,
        checks: AttentionChecks = NO_CHECKS,
        where: AnswerFilter = EVERY_ANSWER,
        after: int = 0,
        limit: int = ALL_ROWS,
    ) -> list[Any]:
        """The skips that stand (no answer came after) and ``where`` selects, oldest first, for exports;
        flagged like answers; paged like :meth:`export_rows`."""
        excluded, parameters = excluded_column("s.user_id", round_id, checks)
        chosen, chosen_parameters = filtered("s", where)
        return await self.store.fetchall(
            f"SELECT s.id, s.task_id, s.user_id, u.platform, u.display_name, s.created_at, {excluded} FROM skips s"  # noqa: S608
            f" JOIN users u ON u.id = s.user_id WHERE s.round_id = ? AND s.id > ? AND {SKIP_STANDS}{chosen}"
            " ORDER BY s.id LIMIT ?",
            (*parameters, round_id, after, *chosen_parameters, limit),
        )

    async def answer_total(self, round_id: int) -> int:
        """How many answers the round has, from the counters every answer bumps (no answer row read)."""
        value = await self.store.fetchval("SELECT SUM(answers) FROM task_counts WHERE round_id = ?", (round_id,), 0)
        return int(value or 0)

    async def audit_of_round_space(self, round_id: int) -> list[Any]:
        """Every audit row of the space the round belongs to, oldest first."""
        return await self.store.fetchall(
            "SELECT a.created_at, a.moderator_id, u.display_name, a.action, a.target, a.detail FROM audit a"
            " LEFT JOIN users u ON u.id = a.moderator_id"
            " WHERE a.space_id = (SELECT space_id FROM rounds WHERE id = ?) ORDER BY a.id",
            (round_id,),
        )
