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
