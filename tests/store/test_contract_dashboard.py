"""The dashboard's SQL on both stores: where each answer and skip was given, the round filter (platform,
space, language, day) over tallies and export rows, turnout per space, answers per hour, the audit log's
filter, and the last owner never removed nor demoted."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot.store.dashboard_views_sql import AuditQuery
from bot.store.records import AnswerFilter, Award, NewAnswer
from tests.store.conftest import NOW, RULES, a_round


async def _answer(store: Any, round_id: int, community: int, user: int, space: int, value: str, days: int) -> None:
    award = Award(user, community, round_id, 5, "answer", "t1", "", capped=True)
    answer = NewAnswer(round_id, "t1", user, value, None, award, space_id=space)
    await store.tasks.record_answer(answer, RULES, NOW + timedelta(days=days))


async def test_contract_a_round_filtered_by_platform_space_language_and_day(store: Any) -> None:
    cafe, round_id = await a_round(store)
    terrace = (await store.members.ensure_space("telegram", "-100", "Terrace", False)).space_id
    await store.write(lambda db: db.execute("UPDATE spaces SET community_id = ? WHERE id = ?", (cafe, terrace)))
    ana = await store.members.ensure_user("console", "ana", "Ana", "en", NOW)
    bo = await store.members.ensure_user("console", "bo", "Bo", None, NOW)  # the default language: en
    radu = await store.members.ensure_user("telegram", "radu", "Radu", "ro", NOW)
    sam = await store.members.ensure_user("telegram", "sam", "Sam", "en", NOW)
    await _answer(store, round_id, cafe, ana, cafe, '"yes"', 0)
    await _answer(store, round_id, cafe, bo, cafe, '"no"', 0)
    await _answer(store, round_id, cafe, radu, terrace, '"yes"', 1)
    await _answer(store, round_id, cafe, sam, terrace, '"yes"', 2)
    await store.tasks.skip(round_id, "t2", sam, NOW, terrace)
    await store.tasks.skip(round_id, "t2", ana, NOW, cafe)
    rounds = store.rounds
    day = NOW.date()
    cases: list[tuple[AnswerFilter, list[tuple[str, int]], int]] = [
        (AnswerFilter(), [('"no"', 1), ('"yes"', 3)], 2),
        (AnswerFilter(platform="telegram"), [('"yes"', 2)], 1),
        (AnswerFilter(space_id=cafe), [('"no"', 1), ('"yes"', 1)], 1),
        (AnswerFilter(language="en", default_language="en"), [('"no"', 1), ('"yes"', 2)], 2),
        (AnswerFilter(language="ro"), [('"yes"', 1)], 0),
        (AnswerFilter(since=day + timedelta(days=1), until=day + timedelta(days=1)), [('"yes"', 1)], 0),
        (AnswerFilter(until=day), [('"no"', 1), ('"yes"', 1)], 2),
    ]
    for where, counted, skipped in cases:
        assert sorted((await rounds.answer_counts(round_id, ["t1"], where=where))["t1"]) == counted, where
        assert (await rounds.skip_counts(round_id, where=where)).get("t2", 0) == skipped, where
        assert len(await rounds.export_rows(round_id, where=where)) == sum(count for _, count in counted), where
        assert len(await rounds.skip_rows(round_id, where=where)) == skipped, where
    latest = await rounds.latest_typed(round_id, "t1", False, 10, where=AnswerFilter(platform="telegram"))
    assert [value for _, value in latest] == ['"yes"', '"yes"']
    turnout = {(row.platform, row.persons) for row in await store.dashboard_views.turnout(round_id)}
    assert turnout == {("console", 2), ("telegram", 2)}
    per_hour = await store.dashboard_views.answers_per_hour(cafe, NOW + timedelta(days=1))
    assert sum(per_hour.values()) == 2 and all(len(hour) == 13 for hour in per_hour)
    assert [row.id for row in await store.dashboard_views.spaces_of(cafe)] == [cafe, terrace]


async def test_contract_the_audit_log_filters_by_teammate_action_and_day(store: Any) -> None:
    cafe, _ = await a_round(store)
    lena = await store.members.ensure_user("dashboard", "lena", "lena", None, NOW)
    mod = await store.members.ensure_user("console", "mod", "Mod", None, NOW)
    views = store.dashboard_views
    await views.record(cafe, lena, "codes_import", "codes.csv", "imported 3 codes", NOW)
    await views.record(cafe, mod, "reward_save", "mug", "Mug", NOW + timedelta(days=1))
    assert [row["action"] for row in await views.audit_log(cafe, AuditQuery())] == ["reward_save", "codes_import"]
    assert [row["moderator"] for row in await views.audit_log(cafe, AuditQuery(teammate="LEN"))] == ["lena"]
    assert [row["target"] for row in await views.audit_log(cafe, AuditQuery(action="reward_save"))] == ["mug"]
    day_two = NOW.date() + timedelta(days=1)
    assert len(await views.audit_log(cafe, AuditQuery(since=day_two))) == 1
    assert len(await views.audit_log(cafe, AuditQuery(until=NOW.date()))) == 1
    assert len(await views.audit_log(cafe, AuditQuery(until=date(2020, 1, 1)))) == 0
    assert await views.audit_actions(cafe) == ["codes_import", "reward_save"]


async def test_contract_the_last_owner_is_never_removed_nor_demoted(store: Any) -> None:
    team = store.dashboard
    await team.save_teammate("lena", "hash", "owner", NOW)
    await team.save_teammate("vic", "hash", "viewer", NOW)
    assert not await team.change_teammate("lena", "moderator")
    assert not await team.change_teammate("lena", None)
    assert await team.change_teammate("vic", "owner")
    assert await team.change_teammate("lena", None)
    assert not await team.change_teammate("nobody", "viewer")
    assert [(name, role) for name, role, _ in await team.teammates()] == [("vic", "owner")]
