"""What `crowdpulse run` does to the heap once start-up is done (in a process of its own: a test suite
building hundreds of engines must keep collecting their cycles as usual)."""

from __future__ import annotations

import subprocess
import sys

SETTLED = """
import gc
from bot.app import YOUNG_COLLECTION_THRESHOLD, settle_startup_heap
before = gc.get_threshold()
settle_startup_heap()
after = gc.get_threshold()
print(after[0] == YOUNG_COLLECTION_THRESHOLD, after[1:] == before[1:], gc.get_freeze_count() > 0)
"""


def test_a_settled_heap_is_frozen_and_collects_its_youngest_generation_less_often() -> None:
    result = subprocess.run([sys.executable, "-c", SETTLED], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "True", "True"]
