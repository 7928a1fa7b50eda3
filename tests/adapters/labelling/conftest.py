"""The labelling e2e tests run on the starter catalog plus a transcription job (:mod:`.jobs`).

Why ``settings`` is overridden here rather than per module: the Telegram, Discord and console tests of
labelling all need the same catalog, and the project-wide ``engine`` fixture builds on ``settings``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, load_settings
from tests.adapters.labelling.jobs import labelling_catalog


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Members here tap through a dozen photos in a second, faster than any person: no rate limit bites."""
    return load_settings(
        catalog_dir=labelling_catalog(tmp_path / "catalog"),
        storage={"path": tmp_path / "crowdpulse.db"},
        limits={"per_second": 1000, "burst": 1000},
    )
