"""The store contract for themes: a theme promoted by two processes at once is one option, whatever label
or theme the race repeats; edits come back in the order they were made; both are audited."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.store.records import EditAction, NewThemeEdit, Promotion
from tests.store.conftest import NOW, a_round, people, value


async def test_contract_two_processes_promoting_the_same_theme_add_one_option(store: Any, second_store: Any) -> None:
    space_id, round_id = await a_round(store)
    moderators = await people(store, 2, "mod")

    def promotion(moderator: int, label: str = "Faster Wi-Fi", anchor: int = 7) -> Promotion:
        return Promotion("coffee", "one-change", label.casefold(), label, round_id, anchor, space_id, moderator)

    added = await asyncio.gather(
        *((store if i % 2 else second_store).themes.promote(promotion(moderators[i % 2]), NOW) for i in range(10))
    )
    assert added.count(True) == 1
    same_label_other_theme = await store.themes.promote(promotion(moderators[0], anchor=8), NOW)
    same_theme_renamed = await second_store.themes.promote(promotion(moderators[1], "Wi-Fi speed"), NOW)
    assert (same_label_other_theme, same_theme_renamed) == (False, False)
    (option,) = await store.themes.promoted()
    assert (option.campaign_id, option.task_id, option.label, option.source_round_id) == (
        "coffee",
        "one-change",
        "Faster Wi-Fi",
        round_id,
    )
    assert option.promoted_by in ("mod0", "mod1")
    assert await value(store, "SELECT COUNT(*) FROM audit WHERE action = 'theme_promote'") == 1


async def test_contract_theme_edits_come_back_in_order_and_are_audited(store: Any) -> None:
    space_id, round_id = await a_round(store)
    (moderator,) = await people(store, 1, "mod")
    for action, ids, name in (
        (EditAction.RENAME, (5,), "Wi-Fi"),
        (EditAction.MERGE, (5, 9, 12), ""),
        (EditAction.MOVE, (20, 21), ""),
    ):
        edit = NewThemeEdit(round_id, "one-change", action, ids, name, space_id, moderator)
        await store.themes.add_edit(edit, NOW)
    edits = await store.themes.edits(round_id, "one-change")
    assert [(edit.action, edit.answer_ids, edit.name) for edit in edits] == [
        (EditAction.RENAME, (5,), "Wi-Fi"),
        (EditAction.MERGE, (5, 9, 12), ""),
        (EditAction.MOVE, (20, 21), ""),
    ]
    assert await store.themes.edits(round_id, "other-task") == []
    assert await value(store, "SELECT COUNT(*) FROM audit WHERE action LIKE 'theme_%'") == 3
