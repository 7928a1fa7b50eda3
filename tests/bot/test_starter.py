"""Which settings file and catalog the bot uses: the environment's, then the working folder's, then the
packaged starter kit; ``catalog_dir`` still works as the old name of ``catalog.path``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.settings import SETTINGS_FILE_ENV, load_settings
from bot.starter import settings_file, starter_folder

TIMEZONE_FILE = 'timezone = "Asia/Tokyo"\n'


@pytest.fixture
def operator_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder and no CROWDPULSE_SETTINGS_FILE: the lookup order's later steps."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SETTINGS_FILE_ENV)
    return tmp_path


def test_with_nothing_here_the_packaged_defaults_and_starter_catalog_are_used(operator_folder: Path) -> None:
    chosen = settings_file()
    assert (chosen.path, chosen.source) == (starter_folder() / "settings.toml", "packaged defaults")
    settings = load_settings()
    assert settings.timezone == "Europe/Bucharest", "read from the packaged settings.toml"
    catalog = settings.catalog_location
    assert (catalog.path, catalog.source) == (starter_folder() / "tasks_catalog", "packaged starter catalog")


def test_the_working_folders_files_come_before_the_packaged_ones(operator_folder: Path) -> None:
    (operator_folder / "settings.toml").write_text(TIMEZONE_FILE, encoding="utf-8")
    (operator_folder / "tasks_catalog").mkdir()
    assert str(settings_file()) == f"{operator_folder / 'settings.toml'} (./settings.toml)"
    settings = load_settings()
    assert settings.timezone == "Asia/Tokyo"
    assert str(settings.catalog_location) == f"{operator_folder / 'tasks_catalog'} (./tasks_catalog)"


def test_the_environment_and_catalog_path_come_first(operator_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (operator_folder / "settings.toml").write_text('timezone = "UTC"\n', encoding="utf-8")
    (operator_folder / "tasks_catalog").mkdir()
    elsewhere = operator_folder / "elsewhere.toml"
    elsewhere.write_text(TIMEZONE_FILE + '[catalog]\npath = "campaigns"\n', encoding="utf-8")
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(elsewhere))
    settings = load_settings()
    assert settings.timezone == "Asia/Tokyo"
    assert str(settings.catalog_location) == "campaigns (catalog.path)"
    monkeypatch.setenv("CROWDPULSE_CATALOG__PATH", "/srv/catalog")
    assert load_settings().catalog_location.path == Path("/srv/catalog"), "the environment overrides the file"


def test_a_settings_file_named_but_missing_stops_the_bot_rather_than_running_on_other_settings(
    operator_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(operator_folder / "setings.toml"))
    with pytest.raises(ValueError, match=r"setings\.toml, which does not exist"):
        load_settings()
    monkeypatch.setenv(SETTINGS_FILE_ENV, os.devnull)
    assert load_settings().timezone == "UTC", "/dev/null: no file, the code's defaults"


def test_catalog_dir_is_still_read_as_the_old_name_of_catalog_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROWDPULSE_CATALOG_DIR", "old-place")
    assert str(load_settings().catalog_location) == "old-place (catalog.path)"
    assert load_settings(catalog={"path": "old-place"}).catalog.path == Path("old-place"), "agreeing is fine"
    with pytest.raises(ValueError, match=r"catalog_dir is the old name of catalog\.path"):
        load_settings(catalog={"path": "new-place"})
