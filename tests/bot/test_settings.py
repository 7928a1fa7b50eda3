"""Settings come from settings.toml with environment overrides; secrets only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SETTINGS_FILE_ENV, load_settings


def test_environment_overrides_the_file_with_nested_names(tmp_path: Path, monkeypatch) -> None:
    file = tmp_path / "settings.toml"
    file.write_text('[storage]\npath = "from-file.db"\n[points]\ndaily_cap = 100\n', encoding="utf-8")
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(file))
    monkeypatch.setenv("CROWDPULSE_STORAGE__PATH", "from-env.db")
    monkeypatch.setenv("CROWDPULSE_TELEGRAM__TOKEN", "123:secret-token")
    settings = load_settings()
    assert settings.storage.path == Path("from-env.db")
    assert settings.points.daily_cap == 100
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "123:secret-token"
    assert "secret-token" not in repr(settings) and "secret-token" not in str(settings.model_dump())


def test_a_token_written_into_the_settings_file_is_refused(tmp_path: Path, monkeypatch) -> None:
    file = tmp_path / "settings.toml"
    file.write_text('[telegram]\ntoken = "123:leaked"\n', encoding="utf-8")
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(file))
    with pytest.raises(ValueError, match="CROWDPULSE_TELEGRAM__TOKEN"):
        load_settings()


def test_the_shipped_settings_file_is_valid(monkeypatch) -> None:
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(Path(__file__).resolve().parents[2] / "settings.toml"))
    settings = load_settings()
    assert settings.telegram.token is None and settings.discord.token is None


def test_discord_shard_ids_come_from_the_environment_as_a_list(monkeypatch) -> None:
    monkeypatch.setenv("CROWDPULSE_DISCORD__SHARD_COUNT", "4")
    monkeypatch.setenv("CROWDPULSE_DISCORD__SHARD_IDS", "[0,1]")
    settings = load_settings()
    assert (settings.discord.shard_count, settings.discord.shard_ids) == (4, [0, 1])


@pytest.mark.parametrize(
    ("discord", "complaint"),
    [
        ({"shard_ids": [0]}, "discord.shard_ids needs discord.shard_count"),
        ({"shard_count": 2, "shard_ids": []}, "discord.shard_ids is empty"),
        ({"shard_count": 2, "shard_ids": [0, 2, -1]}, r"discord.shard_ids \[-1, 2\] outside 0..1"),
        ({"shard_count": 2, "shard_ids": [1, 0, 1]}, r"discord.shard_ids names shards \[1\] more than once"),
        ({"shard_count": 0}, "greater than or equal to 1"),
    ],
)
def test_discord_shard_ids_that_cannot_work_stop_the_bot_at_start_up(discord: dict, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        load_settings(discord=discord)
