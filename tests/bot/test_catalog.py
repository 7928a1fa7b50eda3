"""The catalog: the shipped one is valid; a broken one is refused naming file, task and field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.cli import main
from bot.catalog import CatalogError, TaskKind, load_catalog
from tests.conftest import REPO

GOOD_TASK = """
[campaign]
id = "c"
title = "T"
objective = "O"
"""


def write(folder: Path, body: str, name: str = "bad.toml") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(GOOD_TASK + body, encoding="utf-8")
    return folder


def test_the_starter_catalog_uses_every_task_kind_and_has_an_ideas_topic() -> None:
    catalog = load_catalog(REPO / "tasks_catalog")
    coffee = catalog.campaign("coffee")
    assert coffee is not None
    assert {task.kind for task in coffee.tasks} == set(TaskKind) - {TaskKind.IDEA_PAIR}  # pairs: its own campaign
    assert {task.kind for task in catalog.campaigns["pick-ideas"].tasks} == {TaskKind.IDEA_PAIR}
    assert catalog.topic("winter-menu") is not None
    assert all("ro" in task.prompt for task in coffee.tasks)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '[[campaign.tasks]]\nid = "q1"\nkind = "single_choice"\nprompt = "P"\noptions = ["only one"]\n',
            "task 'q1': field options",
        ),
        (
            '[[campaign.tasks]]\nid = "q2"\nkind = "rating"\nprompt = "P"\npoints = -3\n',
            "task 'q2': field points",
        ),
        (
            '[[campaign.tasks]]\nid = "q3"\nkind = "multi_choice"\nprompt = "P"\noptions = ["a", "b"]\nmax_picks = 5\n',
            "task 'q3': field max_picks",
        ),
        (
            '[[campaign.tasks]]\nid = "q4"\nkind = "image_label"\nprompt = "P"\n'
            'options = ["a", "b"]\nimage = "nope.png"\n',
            "task 'q4': field image",
        ),
        ('[[campaign.tasks]]\nid = "q5"\nkind = "poll"\nprompt = "P"\n', "task 'q5': field kind"),
        (
            '[[campaign.tasks]]\nid = "q6"\nkind = "single_choice"\nprompt = "P"\noptions = ["a", "b"]\n'
            'audience = { answered = { task = "later", is_any = ["x"] } }\n',
            "audience.answered.task",
        ),
        (
            '[[campaign.tasks]]\nid = "q7"\nkind = "nps"\nprompt = "P"\nknown_answer = "12"\n',
            "task 'q7': field known_answer",
        ),
        (
            '[[campaign.tasks]]\nid = "q8"\nkind = "single_choice"\nprompt = "P"\noptions = ["a", "b"]\n'
            "attention = true\n",
            "task 'q8': field attention: an attention check needs a known_answer",
        ),
        (
            '[[campaign.tasks]]\nid = "q9"\nkind = "rating"\nprompt = "P"\nknown_answer = "3"\nattention = true\n',
            "task 'q9': field attention: a rating task cannot be an attention check",
        ),
        (
            '[[campaign.tasks]]\nid = "q10"\nkind = "yes_no_other"\nprompt = "P"\nknown_answer = "other"\n'
            "attention = true\n",
            "task 'q10': field attention: the instructed answer of a yes_no_other check must be yes or no",
        ),
    ],
)
def test_a_bad_task_is_refused_with_file_task_and_field(tmp_path: Path, body: str, expected: str) -> None:
    folder = write(tmp_path / "catalog", body)
    with pytest.raises(CatalogError) as refused:
        load_catalog(folder)
    message = str(refused.value)
    assert "bad.toml" in message
    assert expected in message, message


def test_catalog_check_command_reports_problems_and_exit_code(tmp_path: Path, capsys) -> None:
    folder = write(tmp_path / "catalog", '[[campaign.tasks]]\nid = "q1"\nkind = "free_text"\nprompt = ""\n')
    assert main(["catalog", "check", str(folder)]) == 1
    assert "task 'q1': field prompt" in capsys.readouterr().err
    assert main(["catalog", "check", str(REPO / "tasks_catalog")]) == 0
    assert "3 campaigns, 11 tasks, 1 topic, 12 items" in capsys.readouterr().out


def test_every_command_explains_a_bad_catalog_or_an_unreachable_database_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROWDPULSE_SETTINGS_FILE", os.devnull)
    monkeypatch.setenv("CROWDPULSE_STORAGE__PATH", str(tmp_path / "crowdpulse.db"))
    monkeypatch.setenv("CROWDPULSE_CATALOG_DIR", str(tmp_path / "no-catalog-here"))
    assert main(["export", "--round", "1"]) == 2
    assert "the catalog has problems" in capsys.readouterr().err
    monkeypatch.setenv("CROWDPULSE_CATALOG_DIR", str(REPO / "tasks_catalog"))
    monkeypatch.setenv("CROWDPULSE_STORAGE__URL", "postgresql://nobody:wrong@127.0.0.1:1/nothing")
    assert main(["rewards", "list"]) == 2
    assert "crowdpulse doctor" in capsys.readouterr().err


def test_an_idea_pair_task_takes_no_options_items_or_known_answer(tmp_path: Path) -> None:
    (tmp_path / "pairs.toml").write_text(
        '[campaign]\nid = "c"\ntitle = "C"\nobjective = "O"\n'
        '[[campaign.tasks]]\nid = "p"\nkind = "idea_pair"\nprompt = "Which?"\noptions = ["a", "b"]\n'
        '[[campaign.tasks]]\nid = "q"\nkind = "idea_pair"\nprompt = "Which?"\nknown_answer = "a"\n',
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    assert any("task 'p'" in problem and "takes no options" in problem for problem in caught.value.problems)
    assert any("task 'q'" in problem and "known_answer" in problem for problem in caught.value.problems)
