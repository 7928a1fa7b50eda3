"""An operator installs the wheel (not an editable checkout) and runs the bot in an empty folder."""

from __future__ import annotations

import zipfile
from pathlib import Path

from bot.catalog import load_catalog
from tests.conftest import REPO
from tests.packaging.conftest import Installed

STARTER = "bot/_starter/"


def first_question() -> str:
    coffee = load_catalog(REPO / "tasks_catalog").campaign("coffee")
    assert coffee is not None
    return coffee.tasks[0].prompt["en"]


def test_the_wheel_carries_the_starter_kit_byte_for_byte(wheel: Path) -> None:
    shipped = sorted(
        path.relative_to(REPO).as_posix() for path in (REPO / "tasks_catalog").rglob("*") if path.is_file()
    )
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in ["settings.toml", *shipped]:
            assert archive.read(STARTER + name) == (REPO / name).read_bytes(), name
        assert any(name.startswith("bot/locales/en/") for name in names), "the message catalogs ship too"
        assert any(name.startswith("bot/store/migrations/postgres/") for name in names), "and the migrations"
        for name in ("templates/base.html", "templates/ideas.html", "static/htmx.min.js", "static/style.css"):
            assert f"adapters/dashboard/{name}" in names, "the dashboard's templates and static files ship"
        assert not any(name.startswith(("tests/", "bench/")) for name in names)


def test_in_an_empty_folder_the_installed_bot_uses_its_packaged_settings_and_catalog(
    installed: Installed, empty_folder: Path
) -> None:
    check = installed.run("crowdpulse", "catalog", "check", cwd=empty_folder)
    assert check.returncode == 0, check.stderr
    assert f"{STARTER}tasks_catalog: OK: 3 campaigns, 11 tasks, 1 topic, 12 items" in check.stdout
    doctor = installed.run("crowdpulse", "doctor", cwd=empty_folder)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"✓ settings: {installed.venv}" in doctor.stdout and "settings.toml (packaged defaults)" in doctor.stdout
    assert "(packaged starter catalog): 3 campaigns, 11 tasks" in doctor.stdout
    assert list(empty_folder.iterdir()) == [], "checking writes nothing"


def test_a_console_session_in_an_empty_folder_shows_the_starter_catalogs_first_question(
    installed: Installed, empty_folder: Path
) -> None:
    session = installed.run("crowdpulse", "run", cwd=empty_folder, stdin="/start\n1\n/quit\n")
    assert session.returncode == 0, session.stderr
    assert first_question() in session.stdout
    assert "Recorded: Espresso" in session.stdout
    assert (empty_folder / "crowdpulse.db").is_file(), "the database is created where the bot runs"


def test_init_writes_an_editable_copy_that_the_bot_then_prefers(installed: Installed, empty_folder: Path) -> None:
    written = installed.run("crowdpulse", "init", "site", cwd=empty_folder)
    assert written.returncode == 0, written.stderr
    site = empty_folder / "site"
    assert (site / "settings.toml").read_bytes() == (REPO / "settings.toml").read_bytes()
    assert (site / "tasks_catalog" / "images" / "pastry.png").is_file()

    catalog = site / "tasks_catalog" / "coffee_feedback.toml"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace(first_question(), "Our own question?"), "utf-8")
    doctor = installed.run("crowdpulse", "doctor", "--quick", cwd=site)
    assert doctor.returncode == 0, doctor.stdout
    assert f"✓ settings: {site / 'settings.toml'} (./settings.toml)" in doctor.stdout
    assert f"catalog: {site / 'tasks_catalog'} (./tasks_catalog)" in doctor.stdout
    session = installed.run("crowdpulse", "run", cwd=site, stdin="/start\n/quit\n")
    assert "Our own question?" in session.stdout

    again = installed.run("crowdpulse", "init", "site", cwd=empty_folder)
    assert again.returncode == 1 and "--force" in again.stderr
    assert "Our own question?" in catalog.read_text(encoding="utf-8"), "nothing is overwritten without --force"
    forced = installed.run("crowdpulse", "init", "--force", "site", cwd=empty_folder)
    assert forced.returncode == 0, forced.stderr
    assert first_question() in catalog.read_text(encoding="utf-8")
