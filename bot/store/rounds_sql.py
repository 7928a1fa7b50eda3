"""SQL for rounds: open (once per subject), close once, and what results and exports read of a round.

Closing queues, in its own transaction, the results for every space of the community and one private
summary per member who took part (unless they chose ``/quiet``), each under a dedup key: a retried close
or a second process closing too queues nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.outbox.payloads import user_target
from bot.store.answer_filter import filtered
from bot.store.database import Connection
from bot.store.effects import announce, apply_award, audit, enqueue
from bot.store.records import (
    EVERY_ANSWER,
    NO_CHECKS,
    AnswerFilter,
    AttentionChecks,
    Award,
    Closing,
    NewRound,
    RoundRecord,
)
from bot.store.round_rows_sql import SKIP_STANDS, RoundRows, failing, kept_members
from bot.store.timestamps import from_text, to_text

SUMMARY_BATCH = 5000
"""Participants read at a time while a round's private summaries are queued (bounded memory)."""


class RoundQueries(RoundRows):
    """Rounds over a :class:`Database`."""

    async def open(self, new: NewRound, now: datetime) -> tuple[int, bool]:
        """Open a round, with its audit row and announcement when it has one, in one transaction.

        Returns (round id, created); when a round on this subject is already open, nothing is written.
        """

        def unit(db: Connection) -> tuple[int, bool]:
            if new.update_key is not None:
                seen = db.execute(
                    "SELECT result FROM processed_updates WHERE update_key = ?", (new.update_key,)
                ).fetchone()
                if seen is not None:
                    return int(seen[0]), False
            # The community as this transaction sees it: a process whose cached community is older than a
            # join still opens the round where every space of the community finds it.
            space_id = int(
                db.execute("SELECT COALESCE(community_id, id) FROM spaces WHERE id = ?", (new.space_id,)).fetchone()[0]
            )
            cursor = db.execute(
                "INSERT INTO rounds (space_id, kind, subject, title, opened_by, opened_at, closes_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (space_id, subject) WHERE status = 'open' DO NOTHING",
                (
                    space_id,
                    new.kind,
                    new.subject,
                    new.title,
                    new.opened_by,
                    to_text(now),
                    to_text(new.closes_at) if new.closes_at else None,
                ),
            )
            round_id = int(
                db.execute(
                    "SELECT id FROM rounds WHERE space_id = ? AND subject = ? AND status = 'open'",
                    (space_id, new.subject),
                ).fetchone()[0]
            )
            if cursor.rowcount == 0:
                return round_id, False
            if new.announcement is not None:
                audit(
                    db,
                    space_id=space_id,
                    moderator_id=new.opened_by,
                    action="round_open",
                    target=str(round_id),
                    detail=new.subject,
                    now=now,
                )
                announce(
                    db,
                    community_id=space_id,
                    payload={**new.announcement.payload, "round_id": round_id},
                    now=now,
                    dedup_key=f"round-open:{round_id}",
                )
            if new.update_key is not None:
                db.execute(
                    "INSERT INTO processed_updates (update_key, result, created_at) VALUES (?, ?, ?)",
                    (new.update_key, str(round_id), to_text(now)),
                )
            return round_id, True

        return await self.store.write(unit)

    async def close(self, closing: Closing, now: datetime) -> bool:
        """Close once: the call that flips the status also awards winners and queues the results, one
        message for every space of the round's community, and each participant's private summary.

        Any other call (a second moderator, the deadline racing a command, another process) gets
        ``False`` and changes nothing.
        """

        def unit(db: Connection) -> bool:
            row = db.execute(
                "UPDATE rounds SET status = 'closed', closed_at = ?, closed_by = ? WHERE id = ? AND status = 'open'"
                " RETURNING space_id, kind",
                (to_text(now), closing.closed_by, closing.round_id),
            ).fetchone()
            if row is None:
                return False
            space_id, kind = row
            audit(
                db,
                space_id=space_id,
                moderator_id=closing.closed_by,
                action="round_close" if closing.closed_by else "round_deadline",
                target=str(closing.round_id),
                now=now,
            )
            if kind == "ideas":
                _award_winners(db, closing, space_id, now)
            elif closing.checks.passing:
                _audit_exclusions(db, closing, space_id, now)
            announce(
                db,
                community_id=space_id,
                payload={"render": "round_results", "round_id": closing.round_id},
                now=now,
                dedup_key=f"round-results:{closing.round_id}",
            )
            _queue_summaries(db, closing.round_id, now)
            return True

        return await self.store.write(unit)

    async def round(self, round_id: int) -> RoundRecord | None:
        row = await self.store.fetchone("SELECT * FROM rounds WHERE id = ?", (round_id,))
        return _round(row) if row else None

    async def open_in(self, space_id: int, kind: str) -> list[RoundRecord]:
        rows = await self.store.fetchall(
            "SELECT * FROM rounds WHERE space_id = ? AND kind = ? AND status = 'open' ORDER BY id",
            (space_id, kind),
        )
        return [_round(row) for row in rows]

    async def rounds_in(self, space_id: int, limit: int) -> list[RoundRecord]:
        """The space's latest rounds, newest first, open or not."""
        rows = await self.store.fetchall(
            "SELECT * FROM rounds WHERE space_id = ? ORDER BY id DESC LIMIT ?", (space_id, limit)
        )
        return [_round(row) for row in rows]

    async def due(self, now: datetime) -> list[int]:
        """The ids of open rounds whose deadline has passed."""
        rows = await self.store.fetchall(
            "SELECT id FROM rounds WHERE status = 'open' AND closes_at IS NOT NULL AND closes_at <= ?",
            (to_text(now),),
        )
        return [int(row[0]) for row in rows]

    async def answer_counts(
        self,
        round_id: int,
        task_ids: Sequence[str],
        text_task_ids: Sequence[str] = (),
        checks: AttentionChecks = NO_CHECKS,
        where: AnswerFilter = EVERY_ANSWER,
    ) -> dict[str, list[tuple[str, int]]]:
        """Each of ``task_ids``' distinct values and how often each was given, and one total (value
        ``'null'``) for each free-text task of ``text_task_ids``, without the answers of members who missed
        ``checks``, of those ``where`` selects; a task nobody answered is left out.

        Grouped in SQL, so tallying a round of a million answers moves a few dozen rows into Python; one
        statement a task, sent together, so a report's readers (:mod:`bot.store.reads`) count the tasks
        side by side (eight tasks of a round of 577,559 answers in SQLite: 80 ms as one statement, 59 ms
        as eight one after the other, 30 ms as eight on two threads)."""
        kept, kept_parameters = kept_members("answers.user_id", round_id, checks)
        chosen, chosen_parameters = filtered("answers", where)
        parameters = (*kept_parameters, *chosen_parameters)
        values = f"SELECT value, COUNT(*) FROM answers WHERE round_id = ? AND task_id = ?{kept}{chosen} GROUP BY value"  # noqa: S608
        total = f"SELECT 'null', COUNT(*) FROM answers WHERE round_id = ? AND task_id = ?{kept}{chosen}"  # noqa: S608
        asked = [(task_id, values) for task_id in task_ids] + [(task_id, total) for task_id in text_task_ids]
        found = await asyncio.gather(
            *(self.store.fetchall(sql, (round_id, task_id, *parameters)) for task_id, sql in asked)
        )
        counted = {
            task_id: [(str(value), int(count)) for value, count in rows if count]
            for (task_id, _), rows in zip(asked, found, strict=True)
        }
        return {task_id: values for task_id, values in counted.items() if values}

    async def latest_texts(
        self, round_id: int, task_id: str, other_only: bool, limit: int, checks: AttentionChecks = NO_CHECKS
    ) -> list[str]:
        """The latest typed answers to a task (for yes/no/other: the "other" explanations), of members
        whose answers count."""
        return [value for _, value in await self.latest_typed(round_id, task_id, other_only, limit, checks)]

    async def latest_typed(
        self,
        round_id: int,
        task_id: str,
        other_only: bool,
        limit: int,
        checks: AttentionChecks = NO_CHECKS,
        where: AnswerFilter = EVERY_ANSWER,
    ) -> list[tuple[int, str]]:
        """(answer id, stored value) of the latest ``limit`` typed answers :meth:`latest_texts` reads, of
        those ``where`` selects, oldest first: the dashboard groups them by theme by their ids."""
        kept, kept_parameters = kept_members("answers.user_id", round_id, checks)
        chosen, chosen_parameters = filtered("answers", where)
        rows = await self.store.fetchall(
            f"SELECT id, value FROM answers WHERE round_id = ? AND task_id = ?{self._others(other_only)}{kept}"  # noqa: S608
            f"{chosen} ORDER BY id DESC LIMIT ?",
            (round_id, task_id, *kept_parameters, *chosen_parameters, limit),
        )
        return [(int(row[0]), str(row[1])) for row in reversed(rows)]

    async def typed_answers(
        self, round_id: int, task_id: str, other_only: bool, checks: AttentionChecks = NO_CHECKS
    ) -> list[tuple[int, str]]:
        """(answer id, stored value) of every typed answer to a task, oldest first (for yes/no/other: the
        "other" ones), of members whose answers count: the texts a round's themes are computed from."""
        kept, kept_parameters = kept_members("user_id", round_id, checks)
        rows = await self.store.fetchall(
            f"SELECT id, value FROM answers WHERE round_id = ? AND task_id = ?{self._others(other_only)}{kept}"  # noqa: S608
            " ORDER BY id",
            (round_id, task_id, *kept_parameters),
        )
        return [(int(row[0]), str(row[1])) for row in rows]

    def _others(self, other_only: bool) -> str:
        """With ``other_only``, the condition keeping a yes/no/other task's "other" answers, stored as JSON
        objects. On SQLite a range on the index ``answers (round_id, task_id, value)`` (migration 0019), which
        ``LIKE`` cannot use: finding the latest "other" answers of a task of 68,434 answers, none of them
        "other", read every one of them (45 ms, against 0.2). PostgreSQL compares text in the database's
        collation, where ``{`` need not sort as in ASCII, so there it stays ``LIKE``. Single queries, not
        read units: a report's reads go to its own readers (:mod:`bot.store.reads`)."""
        if not other_only:
            return ""
        return " AND value >= '{' AND value < '|'" if self.store.dialect == "sqlite" else " AND value LIKE '{%'"

    async def participants(self, round_id: int, checks: AttentionChecks = NO_CHECKS) -> int:
        """Members who answered, judged a pair of ideas or labelled, not counting those whose answers
        ``checks`` leave out nor those held back from labelling. Judges count: a round of ``idea_pair``
        tasks stores judgements, not answers, and its members took part all the same.

        The distinct answerers (read in order from the index ``answers_turnout``), plus the judges and
        labellers who gave no answer that counts: two counts instead of a ``UNION`` of every list, which
        sorted every answerer again (about half the time on a round of a million answers)."""
        kept, kept_parameters = kept_members("user_id", round_id, checks)
        also, also_parameters = kept_members("b.user_id", round_id, checks)
        return int(
            await self.store.fetchval(
                f"SELECT (SELECT COUNT(*) FROM (SELECT DISTINCT user_id FROM answers WHERE round_id = ?{kept}) d)"  # noqa: S608
                f" + (SELECT COUNT(*) FROM (SELECT user_id FROM idea_judgements WHERE round_id = ?{kept}"
                " UNION SELECT user_id FROM label_answers a WHERE round_id = ? AND vote IS NOT NULL AND NOT EXISTS"
                " (SELECT 1 FROM label_members m WHERE m.round_id = a.round_id AND m.user_id = a.user_id"
                " AND m.excluded_at IS NOT NULL)) o"
                f" WHERE NOT EXISTS (SELECT 1 FROM answers b WHERE b.round_id = ? AND b.user_id = o.user_id{also}))",
                (round_id, *kept_parameters, round_id, *kept_parameters, round_id, round_id, *also_parameters),
                0,
            )
        )

    async def answers_to(
        self, round_id: int, task_ids: Sequence[str], after: int = 0, limit: int = 10_000
    ) -> list[tuple[int, str, str]]:
        """(member, task, stored value) of the answers to the given tasks of the members after member id
        ``after``, by member: the scale questions a straight-lining check reads, a page of whole members at
        a time (up to ``limit`` rows, more than the tasks), so screening a round of a million answers holds
        one page, not the round. An empty list: no member after ``after``."""
        if not task_ids:
            return []
        assert limit > len(task_ids), "a page holds at least one whole member"
        marks = ",".join("?" * len(task_ids))
        rows = await self.store.fetchall(
            f"SELECT user_id, task_id, value FROM answers WHERE round_id = ? AND user_id > ?"  # noqa: S608
            f" AND task_id IN ({marks}) ORDER BY user_id, task_id LIMIT ?",
            (round_id, after, *task_ids, limit),
        )
        found = [(int(row[0]), str(row[1]), str(row[2])) for row in rows]
        if len(found) == limit:  # the last member may go on in the next rows: the next page starts with them
            last = found[-1][0]
            found = [row for row in found if row[0] != last]
        return found

    async def rounds_taken_part(self, space_id: int, user_id: int, limit: int) -> list[RoundRecord]:
        """The space's rounds in which the member answered a question or labelled an item, newest first."""
        rows = await self.store.fetchall(
            "SELECT * FROM rounds r WHERE r.space_id = ? AND (EXISTS (SELECT 1 FROM answers a"
            " WHERE a.round_id = r.id AND a.user_id = ?) OR EXISTS (SELECT 1 FROM label_answers l"
            " WHERE l.round_id = r.id AND l.user_id = ?)) ORDER BY r.id DESC LIMIT ?",
            (space_id, user_id, user_id, limit),
        )
        return [_round(row) for row in rows]

    async def skip_counts(
        self, round_id: int, checks: AttentionChecks = NO_CHECKS, where: AnswerFilter = EVERY_ANSWER
    ) -> dict[str, int]:
        """How many members skipped each task and did not answer it after all (left-out members aside), of
        the skips ``where`` selects."""
        kept, kept_parameters = kept_members("s.user_id", round_id, checks)
        chosen, chosen_parameters = filtered("s", where)
        rows = await self.store.fetchall(
            f"SELECT s.task_id, COUNT(*) FROM skips s WHERE s.round_id = ? AND {SKIP_STANDS}{kept}{chosen}"  # noqa: S608
            " GROUP BY s.task_id",
            (round_id, *kept_parameters, *chosen_parameters),
        )
        return {row[0]: int(row[1]) for row in rows}

    async def idea_ranking(self, round_id: int, limit: int) -> list[Any]:
        """Ideas of an ideas round by votes."""
        return await self.store.fetchall(
            "SELECT i.id, i.text, i.votes, u.display_name AS author FROM ideas i JOIN users u ON u.id = i.author_id"
            " WHERE i.round_id = ? AND i.status NOT IN ('hidden', 'pending', 'merged', 'declined')"
            " ORDER BY i.votes DESC, i.id LIMIT ?",
            (round_id, limit),
        )

    async def audit(
        self, space_id: int, moderator_id: int, action: str, target: str, now: datetime, detail: str = ""
    ) -> None:
        await self.store.write(
            lambda db: audit(
                db, space_id=space_id, moderator_id=moderator_id, action=action, target=target, detail=detail, now=now
            )
        )


def _award_winners(db: Connection, closing: Closing, space_id: int, now: datetime) -> None:
    winners = db.execute(
        "SELECT id, author_id FROM ideas WHERE round_id = ? AND votes > 0"
        " AND status NOT IN ('hidden', 'pending', 'merged', 'declined') ORDER BY votes DESC, id LIMIT ?",
        (closing.round_id, len(closing.winner_points)),
    ).fetchall()
    for place, ((idea_id, author_id), points) in enumerate(zip(winners, closing.winner_points, strict=False), 1):
        apply_award(
            db,
            Award(
                author_id,
                space_id,
                closing.round_id,
                points,
                "round_winner",
                str(place),
                f"round-winner:{closing.round_id}:{idea_id}",
            ),
            closing.rules,
            now,
        )


def _queue_summaries(db: Connection, round_id: int, now: datetime) -> None:
    """One private summary per person who answered, judged a pair of ideas or labelled in the round, except
    those who chose ``/quiet``: to the person's own (primary) account, where answers are kept, so a member
    with linked accounts is told once. The row is a marker rendered when sent, in the language stored here.

    The participants are read :data:`SUMMARY_BATCH` at a time: a round of a million answers has hundreds
    of thousands, whose rows at once were the bot process's peak memory (``python -m bench --only memory``)."""
    participants = db.execute(
        "SELECT id, platform, platform_user_id, language FROM users WHERE quiet = 0 AND id IN"
        " (SELECT user_id FROM answers WHERE round_id = ?"
        " UNION SELECT user_id FROM idea_judgements WHERE round_id = ?"
        " UNION SELECT user_id FROM label_answers WHERE round_id = ? AND vote IS NOT NULL) ORDER BY id",
        (round_id, round_id, round_id),
    )
    while rows := participants.fetchmany(SUMMARY_BATCH):
        for user_id, platform, platform_user_id, language in rows:
            enqueue(
                db,
                platform=platform,
                target=user_target(platform_user_id),
                payload={"render": "round_summary", "round_id": round_id, "language": language},
                now=now,
                dedup_key=f"round-summary:{round_id}:{user_id}",
            )


def _audit_exclusions(db: Connection, closing: Closing, space_id: int, now: datetime) -> None:
    """One audit row per member left out for missed attention checks, written as the round closes: from
    then on no answer can change who is left out, so the log and every later ``/results`` agree."""
    sql, parameters = failing(closing.round_id, closing.checks)
    for (user_id,) in db.execute(f"{sql} ORDER BY f.user_id", parameters).fetchall():
        audit(
            db,
            space_id=space_id,
            moderator_id=closing.closed_by,
            action="attention_exclusion",
            target=str(user_id),
            detail=f"round {closing.round_id}: missed {closing.checks.failures}+ attention checks",
            now=now,
        )


def _round(row: Any) -> RoundRecord:
    return RoundRecord(
        id=row["id"],
        space_id=row["space_id"],
        kind=row["kind"],
        subject=row["subject"],
        status=row["status"],
        opened_at=datetime.fromisoformat(row["opened_at"]),
        closes_at=from_text(row["closes_at"]),
        closed_at=from_text(row["closed_at"]),
    )
