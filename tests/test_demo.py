"""``crowdpulse demo``: a newcomer sees the whole product work, start to finish, without typing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.store.conftest import postgres_schema, postgres_url


def play_demo(tmp_path: Path, **environment: str) -> str:
    """Run ``crowdpulse demo`` as an operator would (no settings file), check every scene; its output."""
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "demo", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
        env={"PATH": "/usr/bin:/bin", "CROWDPULSE_SETTINGS_FILE": os.devnull, **environment},
    )
    shown = result.stdout
    for scene in (
        "opens this week's coffee round",
        "Ideas:",
        "Labelling:",
        "closes the round",
        "Leaderboard",
        "Rewards:",
        "Linked accounts:",
        "Themes:",
    ):
        assert scene in shown
    themes = shown[shown.index("=== Themes:") : shown.index("=== Ideas:")]
    assert "🔗 Merged into theme" in themes and "is now called “More seats by the window”" in themes
    assert "“More seats by the window” is now an option" in themes
    closing = shown[shown.index("closes the round") :]
    assert "🧩 Themes:\n    • “More seats by the window”: 4 answers" in closing  # the results, merged
    assert "[to user:" in closing and "is closed. Thank you for answering!" in closing  # a member's summary
    assert "→ most common: More seats by the window (4 of 5)" in closing
    linked = shown[shown.index("Linked accounts:") : shown.index("closes the round")]
    assert "Linked! Your Discord account Eve" in linked
    assert "Eve@telegram> 2\n    ✅ Recorded: Latte" in linked
    assert "Eve@discord> 3\n    You already answered this one" in linked
    telegram, discord = (re.search(rf"Eve@{p}> /points\n    (.*)", linked) for p in ("telegram", "discord"))
    assert (
        telegram
        and discord
        and telegram.group(1) == discord.group(1) == "⭐ You have 5 points (level 1; next level at 50)."
    )
    assert "Similar ideas already exist" in shown and "Results: Corner Café feedback" in shown
    judged = shown[shown.index("Ideas judged in pairs:") : shown.index("Labelling:")]
    assert "Which would you rather see?" in judged and "Pe care ai vrea să o vezi?" in judged
    assert judged.count("Noted, thank you!") == 3 and "Am notat, mulțumim!" in judged
    assert re.search(r"#\d+ · score \d+ · .+ · 👍 \d+", judged), "/ideas best shows scores beside upvotes"
    assert "Quality: Label our pastry photos" in shown and "No labelling tasks for you right now" in shown
    assert re.search(r"Croissant \S* \d+% \(\d+–\d+%, \d+\)", shown), "a label's share with its interval"
    assert "Left out for quality: 1 member" in shown
    assert re.search(r"\n {4}1\. \w+: \d+", shown), "the leaderboard lists members with points"
    assert "New badge" in shown and "Level" in shown and "Your code: DEMO-" in shown
    assert "slow down" not in shown and "Sorry" not in shown
    chart = Path(re.search(r"results chart written to (\S+)\)", shown).group(1))  # type: ignore[union-attr]
    assert chart.read_bytes().startswith(b"\x89PNG")
    return shown


def test_the_demo_plays_a_round_ideas_points_and_rewards_and_writes_the_chart(tmp_path: Path) -> None:
    shown = play_demo(tmp_path)
    assert f"demo database: {tmp_path / 'demo' / 'demo.db'}" in shown


def test_the_demo_plays_on_the_postgresql_database_the_settings_name(tmp_path: Path) -> None:
    with postgres_schema(postgres_url()) as url:
        shown = play_demo(tmp_path, CROWDPULSE_STORAGE__URL=url)
    assert "the demo plays in the store the settings name" in shown
    assert "password" not in shown and "crowdpulse:crowdpulse@" not in shown, "the URL's credentials stay hidden"
