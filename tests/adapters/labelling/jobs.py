"""The labelling jobs the adapter tests play, and what a careful member makes of their items.

Why a module of its own: the Telegram, Discord and console tests play the same two jobs (the starter's
pastry photos, as shipped, and a small transcription job of typed receipt lines) and judge the outcome
by the same store counts, so the catalog, the members' eyes and the counts are kept here once.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from bot.engine import Engine
from bot.features.labelling.jobs import vote_label
from tests.conftest import REPO

STARTER = REPO / "tasks_catalog"
PHOTO_PROMPT = "What is in this photo?"
PHOTO_BUTTONS = ["Croissant", "Muffin", "Cinnamon roll", "Can't tell 🤷", "Enough for now ⏭"]  # in this order
# What each starter photo shows: the item file keeps this secret but for its three gold rows.
PASTRY_OF = {
    "p01": "Croissant",
    "p02": "Muffin",
    "p03": "Cinnamon roll",
    "p04": "Muffin",
    "p05": "Croissant",
    "p06": "Cinnamon roll",
    "p07": "Croissant",
    "p08": "Muffin",
    "p09": "Cinnamon roll",
    "p10": "Croissant",
    "p11": "Muffin",
    "p12": "Cinnamon roll",
}
GOLD = {"p03", "p05", "p08"}  # the rows with a known_answer

RECEIPTS_PROMPT = "Type this receipt line exactly as written."
RECEIPT_LINES = {"r1": "2 x flat white 7.00", "r2": "1 x almond croissant 3.20"}
RECEIPTS_JOB = f"""
[campaign]
id = "receipts"
title = "Type out our receipts"
objective = "Copy last week's handwritten receipt lines so the books add up."
auto_open = false

[campaign.quality]
gold_share = 0
min_seconds = 0

[[campaign.tasks]]
id = "receipt-lines"
kind = "free_text"
prompt = "{RECEIPTS_PROMPT}"
max_length = 80
items = "receipts.csv"
overlap = {{ min = 2, max = 3, confidence = 0.6 }}
"""

# The starter's photos again, under guidance longer than a Telegram caption may be (1024 characters).
GUIDANCE = "Look closely before you answer. " * 40
GUIDED_JOB = f"""
[campaign]
id = "guided"
title = "Label our pastry photos, with guidance"
objective = "The same photos, for members who want the house rules first."
auto_open = false

[[campaign.tasks]]
id = "guided-photos"
kind = "image_label"
prompt = "{GUIDANCE}{PHOTO_PROMPT}"
options = ["Croissant", "Muffin", "Cinnamon roll"]
items = "pastries/pastries.csv"
"""


def labelling_catalog(folder: Path) -> Path:
    """The starter catalog as shipped, plus the receipts and guided jobs; returns the folder."""
    shutil.copytree(STARTER, folder)
    (folder / "receipts.toml").write_text(RECEIPTS_JOB, encoding="utf-8")
    (folder / "guided.toml").write_text(GUIDED_JOB, encoding="utf-8")
    lines = "".join(f"{key},{text}\n" for key, text in RECEIPT_LINES.items())
    (folder / "receipts.csv").write_text(f"id,text\n{lines}", encoding="utf-8")
    return folder


def pastry_in(photo: bytes) -> str:
    """What a careful member answers on seeing ``photo``: the pastry the starter's photo shows."""
    with (STARTER / "pastries" / "pastries.csv").open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            if (STARTER / "pastries" / row["image"]).read_bytes() == photo:
                return PASTRY_OF[row["id"]]
    raise AssertionError(f"not one of the starter's photos ({len(photo)} bytes)")


async def labels(engine: Engine, task_id: str, where: str = "1 = 1") -> int:
    """How many labels of ``task_id`` the store holds (``where``: a condition on label_answers)."""
    sql = f"SELECT COUNT(*) FROM label_answers WHERE task_id = ? AND {where}"
    return int(await engine.services.store.fetchval(sql, (task_id,), 0))


async def settled(engine: Engine, campaign_id: str, task_id: str) -> dict[str, tuple[str, int]]:
    """The job's settled items: item key to (the agreed answer in words, how many members answered)."""
    campaign = engine.services.catalog.campaign(campaign_id)
    task = campaign.task(task_id) if campaign is not None else None
    assert task is not None, f"no job {campaign_id}/{task_id} in the catalog"
    rows = await engine.services.store.fetchall(
        "SELECT item_key, label, answers FROM label_items WHERE task_id = ? AND status = 'retired'", (task_id,)
    )
    return {str(row[0]): (vote_label(task, row[1]), int(row[2])) for row in rows}
