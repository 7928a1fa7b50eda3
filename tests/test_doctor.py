"""``crowdpulse doctor`` tells the operator what is wrong and how to fix it, without changing anything."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from adapters.doctor import run_doctor
from bot.app import running_engine
from bot.engine import Engine
from tests.conftest import REPO
from tests.fakes.telegram.server import FakeTelegramServer
from tests.helpers import answer_tasks
from tests.store.conftest import postgres_schema, postgres_url, settings_for

TOKEN = "123456:DOCTOR-TOKEN"


async def doctor() -> tuple[int, str]:
    lines: list[str] = []
    code = await asyncio.to_thread(run_doctor, lines.append)
    return code, "\n".join(lines)


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch, settings) -> Path:
    monkeypatch.setenv("CROWDPULSE_STORAGE__PATH", str(settings.storage.path))
    monkeypatch.setenv("CROWDPULSE_CATALOG_DIR", str(REPO / "tasks_catalog"))
    return Path(settings.storage.path)


async def test_a_healthy_instance_passes_every_check(engine: Engine, person, cafe, operator_env: Path) -> None:
    for name in ("Ana", "Bob"):
        await answer_tasks(engine, person(name), cafe, 4)
    code, report = await doctor()
    assert code == 0, report
    assert "✓ SQLite integrity check" in report and "✓ leaderboards match the points ledger" in report


async def test_the_doctor_names_the_files_it_uses_and_the_old_name_of_a_setting(
    operator_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, report = await doctor()
    assert code == 0, report
    assert "✓ settings: /dev/null (CROWDPULSE_SETTINGS_FILE)" in report
    assert f"✓ catalog: {REPO / 'tasks_catalog'} (catalog.path) (set as catalog_dir, the old name" in report
    monkeypatch.delenv("CROWDPULSE_CATALOG_DIR")
    monkeypatch.setenv("CROWDPULSE_CATALOG__PATH", str(REPO / "tasks_catalog"))
    _, report = await doctor()
    assert "old name" not in report


async def test_the_quick_check_skips_the_scans_and_the_platforms(
    engine: Engine, person, cafe, operator_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await answer_tasks(engine, person("Ana"), cafe, 2)
    monkeypatch.setenv("CROWDPULSE_TELEGRAM__BASE_URL", "http://127.0.0.1:9/bot")
    monkeypatch.setenv("CROWDPULSE_TELEGRAM__TOKEN", "123:UNREACHABLE")
    lines: list[str] = []
    code = await asyncio.to_thread(run_doctor, lines.append, quick=True)
    assert code == 0, lines
    assert "✓ schema is up to date" in lines
    assert not any("integrity" in line or "ledger" in line or "Telegram" in line for line in lines)
    with sqlite3.connect(operator_env) as db:
        db.execute("DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)")
    assert await asyncio.to_thread(run_doctor, lines.append, quick=True) == 1, "a pending migration fails it"


async def test_a_leaderboard_that_disagrees_with_the_ledger_is_reported(
    engine: Engine, person, cafe, operator_env: Path
) -> None:
    await answer_tasks(engine, person("Ana"), cafe, 3)
    with sqlite3.connect(operator_env) as db:
        db.execute("UPDATE scores SET points = points + 7 WHERE scope = 'all'")
    code, report = await doctor()
    assert code == 1
    assert "✗ leaderboards match the points ledger" in report and "report a bug" in report


async def test_bad_catalog_and_rejected_token_are_named_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, operator_env: Path
) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "broken.toml").write_text('[campaign]\nid = "Bad Id"\n', encoding="utf-8")
    monkeypatch.setenv("CROWDPULSE_CATALOG_DIR", str(catalog))
    async with FakeTelegramServer(token=TOKEN) as tg:
        monkeypatch.setenv("CROWDPULSE_TELEGRAM__BASE_URL", tg.base_url)
        monkeypatch.setenv("CROWDPULSE_TELEGRAM__TOKEN", "999:WRONG")
        code, report = await doctor()
        assert code == 1
        assert "broken.toml" in report and "Telegram refused the bot token (HTTP 401)" in report
        assert "WRONG" not in report, "a token never appears in the output"
        monkeypatch.setenv("CROWDPULSE_TELEGRAM__TOKEN", TOKEN)
        _, report = await doctor()
        assert "✓ Telegram accepts the bot token" in report


async def test_the_doctor_checks_a_postgresql_database_too(
    person, cafe, monkeypatch: pytest.MonkeyPatch, operator_env: Path
) -> None:
    with postgres_schema(postgres_url()) as url:
        async with running_engine(settings_for(url)) as engine:
            for name in ("Ana", "Bob"):
                await answer_tasks(engine, person(name), cafe, 4)
        monkeypatch.setenv("CROWDPULSE_STORAGE__URL", url)
        code, report = await doctor()
    assert code == 0, report
    assert "✓ PostgreSQL accepts the connection" in report
    assert "✓ leaderboards match the points ledger" in report
