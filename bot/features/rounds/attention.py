"""Attention checks: instructed items ("to show you are reading, pick Latte") in opinion campaigns.

No opinion is right or wrong, so quality is judged on the items that say which answer to give: a
member who misses ``FAILURES`` of them in a round has all their answers in that round left out of its
tallies (``/results``, the chart, the export's summary). Exports still hold every answer, flagged.
Members are never told: the check is served, paid and acknowledged like any other task.
"""

from __future__ import annotations

import json

from bot.catalog import Campaign, Catalog, Task, TaskKind
from bot.store.records import NO_CHECKS, AttentionChecks, RoundRecord

FAILURES = 2  # one slip is human; two says the member is not reading
REASON = "attention"  # the reason exports and the audit log give for an exclusion


def attention_checks(campaign: Campaign) -> AttentionChecks:
    """The campaign's checks as the store compares them: task id and the instructed answer as stored."""
    return AttentionChecks(
        tuple((task.id, _stored(task)) for task in campaign.tasks if task.attention),
        FAILURES,
    )


def round_checks(catalog: Catalog, record: RoundRecord | None) -> AttentionChecks:
    """The checks of a round's campaign; none for an ideas round or a campaign gone from the catalog."""
    campaign = catalog.campaign(record.subject) if record is not None and record.kind != "ideas" else None
    return attention_checks(campaign) if campaign is not None else NO_CHECKS


def _stored(task: Task) -> str:
    """The JSON an answer of the instructed choice is recorded as (an option's index, or "yes"/"no")."""
    known = task.known_answer or ""
    if task.kind == TaskKind.YES_NO_OTHER:
        return json.dumps(known)
    return json.dumps(task.answer_labels.index(known))
