"""Labelling jobs in the catalog: the job's rules, its item file's problems by file and line, and item
files followed while the bot runs."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from adapters.cli import main
from bot import catalog_items
from bot.catalog import Catalog, CatalogError, Task, TaskKind, load_catalog
from bot.catalog_items import Item, ItemFiles, read_items
from tests.conftest import REPO

CAMPAIGN = '[campaign]\nid = "c"\ntitle = "T"\nobjective = "O"\n'
PHOTO_JOB = (
    '[[campaign.tasks]]\nid = "photos"\nkind = "image_label"\nprompt = "What is in this photo?"\n'
    'options = ["Croissant", "Muffin"]\nitems = "items.csv"\n'
)
TEXT_JOB = (
    '[[campaign.tasks]]\nid = "reviews"\nkind = "single_choice"\nprompt = "Is this review about coffee?"\n'
    'options = ["Coffee", "Food"]\nitems = "items.csv"\n'
)
PNG = b"\x89PNG\r\n\x1a\n"


def catalog_folder(tmp_path: Path, job: str, rows: str | bytes, *, extra: str = "") -> Path:
    """A catalog folder with one campaign holding ``job`` (and ``extra``), its items.csv holding ``rows``
    and two images beside it."""
    folder = tmp_path / "catalog"
    folder.mkdir(exist_ok=True)
    (folder / "jobs.toml").write_text(CAMPAIGN + job + extra, encoding="utf-8")
    data = rows.encode() if isinstance(rows, str) else rows
    (folder / "items.csv").write_bytes(data)
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(PNG)
    return folder


def job_of(catalog: Catalog) -> Task:
    campaign = catalog.campaign("c")
    assert campaign is not None
    return next(task for task in campaign.tasks if task.is_job)


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(CatalogError) as refused:
        load_catalog(folder)
    return refused.value.problems


def test_a_photo_job_reads_its_items_with_gold_and_resolved_images(tmp_path: Path) -> None:
    folder = catalog_folder(
        tmp_path,
        PHOTO_JOB,
        "id,image,known_answer\np1,a.png,\np2,b.png,Muffin\n\np3,https://example.org/c.jpg,\n",
    )
    catalog = load_catalog(folder)
    job = job_of(catalog)
    assert job.is_job and job.kind == TaskKind.IMAGE_LABEL
    assert job.items == str(folder / "items.csv")
    assert job.overlap.min == 3 and job.overlap.max == 7 and job.overlap.confidence == 0.9
    assert catalog.items(job) == (
        Item(key="p1", image=str(folder / "a.png"), text="", known_answer=None, line=2),
        Item(key="p2", image=str(folder / "b.png"), text="", known_answer="Muffin", line=3),
        Item(key="p3", image="https://example.org/c.jpg", text="", known_answer=None, line=5),
    )
    assert [item.gold for item in catalog.items(job)] == [False, True, False]
    assert catalog.summary() == "1 campaign, 1 task, 0 topics, 3 items"


def test_a_text_job_with_a_bom_and_quoted_multiline_texts(tmp_path: Path) -> None:
    rows = 'id,text,known_answer\nr1,"Great flat white,\nsmooth",Coffee\nr2,The muffins were dry,\n'
    folder = catalog_folder(tmp_path, TEXT_JOB, "\ufeff" + rows)
    catalog = load_catalog(folder)
    items = catalog.items(job_of(catalog))
    assert [(item.key, item.text, item.known_answer, item.line) for item in items] == [
        ("r1", "Great flat white,\nsmooth", "Coffee", 2),
        ("r2", "The muffins were dry", None, 4),
    ]
    assert all(item.image == "" for item in items)


def test_a_free_text_job_takes_any_transcription_as_gold_and_yes_no_other_takes_its_three_answers(
    tmp_path: Path,
) -> None:
    job = '[[campaign.tasks]]\nid = "signs"\nkind = "free_text"\nprompt = "Type the sign"\nitems = "items.csv"\n'
    folder = catalog_folder(tmp_path, job, "id,text,known_answer\ns1,OPEN 9-5,open 9 to 5\n")
    assert job_of(load_catalog(folder)).kind == TaskKind.FREE_TEXT
    yes_no = '[[campaign.tasks]]\nid = "spam"\nkind = "yes_no_other"\nprompt = "Spam?"\nitems = "items.csv"\n'
    folder = catalog_folder(tmp_path, yes_no, "id,text,known_answer\nm1,Buy now,yes\nm2,Hello,maybe\n")
    assert problems_of(folder) == [
        f"{folder / 'items.csv'}:3: known_answer 'maybe' is not one of ['no', 'other', 'yes']"
    ]


@pytest.mark.parametrize(
    ("job", "rows", "expected"),
    [
        (PHOTO_JOB, "id,image\np1,a.png\np2,missing.png\n", ":3: no image file at "),
        (PHOTO_JOB, "id,image,known_answer\np1,a.png,Bagel\n", ":2: known_answer 'Bagel' is not one of"),
        (PHOTO_JOB, "id,image\np1,a.png\np2,b.png\np1,b.png\n", ":4: id 'p1' is already used on line 2"),
        (PHOTO_JOB, "id,image\n,a.png\np2,b.png\n", ":2: empty id"),
        (PHOTO_JOB, "id,image\nphoto one,a.png\n", ":2: id 'photo one': 1 to 40 letters"),
        (PHOTO_JOB, "id,image\np1,\np2,a.png\n", ":2: item 'p1' has no image"),
        (TEXT_JOB, "id,text\nr1,\nr2,fine\n", ":2: item 'r1' has no text"),
        (PHOTO_JOB, "id,text\np1,a croissant\n", ":1: no 'image' column: a image_label job's items need one"),
        (PHOTO_JOB, "id,image,text\np1,a.png,caption\n", ":1: column 'text': a image_label job's items are images"),
        (TEXT_JOB, "id,image,text\nr1,a.png,hi\n", ":1: column 'image': a single_choice job's items are texts"),
        (PHOTO_JOB, "id,image,colour\np1,a.png,red\n", ":1: unknown column 'colour'"),
        (PHOTO_JOB, "key,image\np1,a.png\n", ":1: no 'id' column"),
        (PHOTO_JOB, "id,image,id\np1,a.png,p2\n", ":1: column 'id' appears twice"),
        (PHOTO_JOB, "id,image\np1,a.png,extra\np2,b.png\n", ":2: 3 fields where the header has 2"),
        (PHOTO_JOB, "id,image\n", ":1: no items below the header"),
        (PHOTO_JOB, "", ":1: no header row"),
        (TEXT_JOB, b"id,text\nr1,fine\nr2,caf\xe9 au lait\n", ":3: not UTF-8 text"),
    ],
)
def test_a_bad_item_file_is_refused_naming_the_file_and_line(
    tmp_path: Path, job: str, rows: str | bytes, expected: str
) -> None:
    folder = catalog_folder(tmp_path, job, rows)
    problems = problems_of(folder)
    item_file = str(folder / "items.csv")
    assert [problem for problem in problems if problem.startswith(item_file) and expected in problem], problems


def test_more_items_than_a_job_can_hold_are_refused_at_the_first_one_too_many(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_items, "MAX_ITEMS", 3)
    folder = catalog_folder(tmp_path, PHOTO_JOB, "id,image\n" + "".join(f"p{n},a.png\n" for n in range(5)))
    assert problems_of(folder) == [f"{folder / 'items.csv'}:5: more than 3 items: split the job into several tasks"]


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        (PHOTO_JOB.replace('"items.csv"', '"nowhere.csv"'), "task 'photos': field items: no item file at"),
        (
            PHOTO_JOB.replace("image_label", "multi_choice"),
            "task 'photos': field items: a multi_choice task cannot be a labelling job",
        ),
        (
            '[[campaign.tasks]]\nid = "r"\nkind = "rating"\nprompt = "P"\nitems = "items.csv"\n',
            "task 'r': field items: a rating task cannot be a labelling job",
        ),
        (PHOTO_JOB + 'image = "a.png"\n', "task 'photos': field image: a labelling job's images are in its item"),
        (PHOTO_JOB + 'known_answer = "Muffin"\n', "task 'photos': field known_answer: a labelling job's gold"),
        (PHOTO_JOB + "quota = 10\n", "task 'photos': field quota: a labelling job takes no quota"),
        (
            PHOTO_JOB + 'known_answer = "Muffin"\nattention = true\n',
            "task 'photos': field known_answer: a labelling job's gold",
        ),
        (PHOTO_JOB + "overlap = { min = 5, max = 3 }\n", "task 'photos': field overlap: min (5) is more than max"),
        (PHOTO_JOB + "overlap = { confidence = 0.5 }\n", "task 'photos': field overlap.confidence"),
        (PHOTO_JOB + "overlap = { max = 60 }\n", "task 'photos': field overlap.max"),
        (
            '[[campaign.tasks]]\nid = "q"\nkind = "rating"\nprompt = "P"\noverlap = { min = 2 }\n',
            "task 'q': field overlap: only a labelling job",
        ),
        (
            '[[campaign.tasks]]\nid = "q"\nkind = "image_label"\nprompt = "P"\noptions = ["a", "b"]\n',
            "task 'q': field image: an image_label task needs an image path or URL (or items, for a job)",
        ),
        (
            PHOTO_JOB + '[[campaign.tasks]]\nid = "after"\nkind = "rating"\nprompt = "P"\n'
            'audience = { answered = { task = "photos", is_any = ["Muffin"] } }\n',
            "audience.answered.task: 'photos' is a labelling job, with no single answer",
        ),
        (
            PHOTO_JOB + "[campaign.quality]\ngold_share = 0.8\n",
            "campaign 'c': field quality.gold_share",
        ),
        (
            PHOTO_JOB + '[campaign.quality]\naggregation = "vote"\n',
            "campaign 'c': field quality.aggregation",
        ),
    ],
)
def test_a_bad_job_is_refused_naming_the_task_and_field(tmp_path: Path, job: str, expected: str) -> None:
    folder = catalog_folder(tmp_path, job, "id,image\np1,a.png\n")
    problems = problems_of(folder)
    assert any(expected in problem for problem in problems), problems


def test_a_job_without_a_quota_may_still_have_an_audience_and_quality_rules(tmp_path: Path) -> None:
    quality = (
        "[campaign.quality]\ngold_share = 0.2\nmin_gold = 4\nexclude_below = 0.7\nmin_seconds = 1.5\n"
        'pay_on_agreement = true\naggregation = "dawid_skene"\n'
    )
    job = PHOTO_JOB + 'audience = { languages = ["ro"] }\noverlap = { min = 2, max = 5, confidence = 0.95 }\n'
    catalog = load_catalog(catalog_folder(tmp_path, quality + job, "id,image\np1,a.png\n"))
    campaign = catalog.campaign("c")
    assert campaign is not None
    assert campaign.quality.model_dump() == {
        "gold_share": 0.2,
        "min_gold": 4,
        "exclude_below": 0.7,
        "min_seconds": 1.5,
        "pay_on_agreement": True,
        "aggregation": "dawid_skene",
    }
    assert job_of(catalog).overlap.model_dump() == {"min": 2, "max": 5, "confidence": 0.95}


def test_options_may_be_plain_strings_or_translation_tables(tmp_path: Path) -> None:
    job = PHOTO_JOB.replace('["Croissant", "Muffin"]', '["Croissant", { en = "Muffin", ro = "Brioșă" }]')
    task = job_of(load_catalog(catalog_folder(tmp_path, job, "id,image,known_answer\np1,a.png,Muffin\n")))
    assert task.answer_labels == ("Croissant", "Muffin")
    assert task.option_labels("ro") == ["Croissant", "Brioșă"]


def test_a_task_without_items_is_no_job_and_keeps_its_catalog_summary(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "c.toml").write_text(CAMPAIGN + '[[campaign.tasks]]\nid = "q"\nkind = "rating"\nprompt = "P"\n', "utf-8")
    catalog = load_catalog(folder)
    assert catalog.jobs() == [] and catalog.summary() == "1 campaign, 1 task, 0 topics"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rewrite(path: Path, text: str, tick: int) -> None:
    """New content with a new modification time, whatever the file system's time resolution."""
    path.write_text(text, encoding="utf-8")
    stamp = 1_700_000_000_000_000_000 + tick * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_item_files_follow_added_and_removed_rows_at_most_once_per_recheck_period(tmp_path: Path) -> None:
    folder = catalog_folder(tmp_path, PHOTO_JOB, "id,image\np1,a.png\n")
    task = job_of(load_catalog(folder))
    csv_file = folder / "items.csv"
    clock = Clock()
    files = ItemFiles(recheck_seconds=1.0, clock=clock)
    assert [item.key for item in files.items(task)] == ["p1"]

    rewrite(csv_file, "id,image\np1,a.png\np2,b.png\n", tick=1)
    assert [item.key for item in files.items(task)] == ["p1"], "not looked at again within the second"
    clock.now += 1.0
    assert [item.key for item in files.items(task)] == ["p1", "p2"], "an added row"

    rewrite(csv_file, "id,image\np2,b.png\n", tick=2)
    clock.now += 1.0
    assert [item.key for item in files.items(task)] == ["p2"], "a removed row"
    assert files.problems(task) == []


def test_a_file_that_turns_bad_keeps_serving_its_last_good_items_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = catalog_folder(tmp_path, PHOTO_JOB, "id,image\np1,a.png\np2,b.png\n")
    task = job_of(load_catalog(folder))
    csv_file = folder / "items.csv"
    files = ItemFiles(recheck_seconds=0)
    good = files.items(task)

    rewrite(csv_file, "id,image\np1,a.png\np3,gone.png\n", tick=1)
    with caplog.at_level(logging.WARNING, logger="bot.catalog_items"):
        for _ in range(3):
            assert files.items(task) == good
    assert files.problems(task) == [f"{csv_file}:3: no image file at {folder / 'gone.png'}"]
    assert len(caplog.records) == 1 and "gone.png" in caplog.records[0].getMessage()
    assert "last good items" in caplog.records[0].getMessage()

    csv_file.unlink()
    assert files.items(task) == good, "a file gone serves its last good items too"
    assert files.problems(task)[0].startswith(f"{csv_file}:1: cannot read")

    rewrite(csv_file, "id,image\np4,a.png\n", tick=2)
    assert [item.key for item in files.items(task)] == ["p4"] and files.problems(task) == []


def test_read_items_can_be_called_on_its_own(tmp_path: Path) -> None:
    folder = catalog_folder(tmp_path, PHOTO_JOB, "id,image\np1,a.png\np1,b.png\n")
    with pytest.raises(CatalogError):
        load_catalog(folder)
    (folder / "items.csv").write_text("id,image\np1,a.png\n", encoding="utf-8")
    task = job_of(load_catalog(folder))
    (folder / "items.csv").write_text("id,image\np1,a.png\np1,b.png\n", encoding="utf-8")
    items, problems = read_items(folder / "items.csv", task)
    assert [item.key for item in items] == ["p1"]
    assert problems == [f"{folder / 'items.csv'}:3: id 'p1' is already used on line 2"]


def test_catalog_check_names_the_item_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = catalog_folder(tmp_path, PHOTO_JOB, "id,image,known_answer\np1,a.png,Bagel\np2,,\n")
    assert main(["catalog", "check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"{folder}: 2 problems" in err
    assert f"  {folder / 'items.csv'}:2: known_answer 'Bagel' is not one of ['Croissant', 'Muffin']" in err
    assert f"  {folder / 'items.csv'}:3: item 'p2' has no image" in err


def test_the_starter_catalog_has_a_pastry_photo_job_with_twelve_items_three_of_them_gold() -> None:
    catalog = load_catalog(REPO / "tasks_catalog")
    pastries = catalog.campaign("pastries")
    assert pastries is not None and not pastries.auto_open
    (job,) = pastries.tasks
    assert job.id == "pastry-photos" and job.kind == TaskKind.IMAGE_LABEL
    assert job.answer_labels == ("Croissant", "Muffin", "Cinnamon roll")
    assert job.option_labels("ro") == ["Croissant", "Brioșă", "Melc cu scorțișoară"]
    assert "ro" in job.prompt and "ro" in pastries.title
    assert job.overlap.model_dump() == {"min": 2, "max": 5, "confidence": 0.9}
    assert pastries.quality.min_gold == 2 and pastries.quality.gold_share == 0.1
    items = catalog.items(job)
    assert len(items) == 12 and sum(item.gold for item in items) == 3
    assert {item.known_answer for item in items if item.gold} == set(job.answer_labels)
    for item in items:
        image = Path(item.image)
        assert image.read_bytes().startswith(PNG) and image.stat().st_size < 15_000, image
    assert catalog.summary() == "3 campaigns, 11 tasks, 1 topic, 12 items"
