"""``crowdpulse demo``: a newcomer sees the whole product work, start to finish, without typing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_the_demo_plays_a_round_ideas_points_and_rewards_and_writes_the_chart(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
        env={"PATH": "/usr/bin:/bin", "CROWDPULSE_SETTINGS_FILE": str(tmp_path / "none.toml")},
    )
    shown = result.stdout
    for scene in ("opens this week's coffee round", "Ideas:", "closes the round", "Leaderboard", "Rewards:"):
        assert scene in shown
    assert "Similar ideas already exist" in shown and "Results: Corner Café feedback" in shown
    assert re.search(r"\n {4}1\. \w+: \d+", shown), "the leaderboard lists members with points"
    assert "New badge" in shown and "Level" in shown and "Your code: DEMO-" in shown
    assert "slow down" not in shown and "Sorry" not in shown
    chart = Path(re.search(r"results chart written to (\S+)\)", shown).group(1))  # type: ignore[union-attr]
    assert chart.read_bytes().startswith(b"\x89PNG")
