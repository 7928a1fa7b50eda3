"""``crowdpulse doctor``: check what an operator can get wrong, and say how to fix it.

Which settings file and catalog it uses (and why: ``bot/starter.py``'s lookup order), settings,
catalog, the database (SQLite's integrity check, migrations, the ledger against the leaderboards and
balances, free disk space) and the platforms (the bot tokens are accepted). Read-only: it never changes
the database. Tokens are used, never printed.

``--quick`` is the container's health check: settings, catalog and the database's schema, without the
scans (integrity, ledger sums) that grow with the data and without a request to the platforms.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import ValidationError

from bot.catalog import CatalogError, load_catalog
from bot.settings import Settings, load_settings
from bot.starter import settings_file
from bot.store import health
from bot.store.database import Connection
from bot.store.dialects import has_table
from bot.texts import operator_text

LOW_DISK_BYTES = 200 * 1024 * 1024
PLATFORM_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""

    def __str__(self) -> str:
        return f"✓ {self.what}" if self.ok else f"✗ {self.what}\n    → {self.fix}"


def run_doctor(print_line: Callable[[str], None] = print, *, quick: bool = False) -> int:
    """Print every finding; exit code 0 when all is well, 1 otherwise. ``quick``: no platform request and
    no scan of the data, so it stays fast however big the community grows."""
    findings: list[Finding] = []
    try:
        settings = load_settings()
    except (ValidationError, ValueError) as error:
        findings.append(
            Finding(False, "settings are not valid", f"fix the settings file / CROWDPULSE_* variables: {error}")
        )
        settings = None
    else:
        findings.append(Finding(True, f"settings: {settings_file()}"))
    if settings is not None:
        findings += check_catalog(settings)
        url = settings.storage.url
        if url.startswith(("postgresql://", "postgres://")):
            findings += check_postgres(url, quick=quick)
        else:
            findings += check_database(Path(url.removeprefix("sqlite:///") or settings.storage.path), quick=quick)
        if not quick:
            findings += check_platforms(settings)
    for finding in findings:
        print_line(str(finding))
    return 0 if all(finding.ok for finding in findings) else 1


def check_catalog(settings: Settings) -> list[Finding]:
    location = settings.catalog_location
    try:
        catalog = load_catalog(location.path)
    except CatalogError as error:
        return [
            Finding(
                False,
                f"the catalog {location} has {operator_text('problems', count=len(error.problems))}",
                "; ".join(error.problems[:5]),
            )
        ]
    renamed = " (set as catalog_dir, the old name: write [catalog] path instead)" if settings.catalog_dir else ""
    return [Finding(True, f"catalog: {location}{renamed}: {catalog.summary()}")]


def check_database(path: Path, *, quick: bool = False) -> list[Finding]:
    folder = path.resolve().parent
    findings = [_disk_space(folder)]
    if not path.exists():
        writable = os.access(folder if folder.exists() else folder.parent, os.W_OK)
        findings.append(
            Finding(
                writable,
                f"no database yet at {path}; it will be created on the first start",
                f"make {folder} writable for the bot's user",
            )
        )
        return findings
    findings.append(
        Finding(
            os.access(path, os.W_OK) and os.access(folder, os.W_OK),
            f"{path} is writable",
            f"give the bot's user write access to {path} and its folder (SQLite writes beside it)",
        )
    )
    try:
        with health.open_read_only(path) as db:
            findings += _database_findings(db, quick=quick)
    except sqlite3.DatabaseError as error:
        findings.append(
            Finding(
                False,
                f"{path} cannot be read: {error}",
                "restore the file from a backup; this is not a CrowdPulse database or it is damaged",
            )
        )
    return findings


def check_postgres(url: str, *, quick: bool = False) -> list[Finding]:
    """The same ledger checks on a PostgreSQL database (which guards its own page integrity)."""
    from bot.store.postgres import connect

    try:
        db = connect(url)
    except Exception as error:
        return [
            Finding(
                False,
                f"PostgreSQL is not reachable ({type(error).__name__})",
                "check CROWDPULSE_STORAGE__URL, that the server runs and accepts this user",
            )
        ]
    try:
        consistency = _consistency_findings(db, "postgresql", quick=quick)
        return [Finding(True, "PostgreSQL accepts the connection"), *consistency]
    finally:
        db.raw.close()


def _database_findings(db: sqlite3.Connection, *, quick: bool) -> list[Finding]:
    if quick:
        return _consistency_findings(db, "sqlite", quick=True)
    complaints = health.integrity(db)
    findings = [
        Finding(
            not complaints,
            "SQLite integrity check",
            "restore from a backup; SQLite reports: " + "; ".join(complaints[:3]),
        )
    ]
    return findings + _consistency_findings(db, "sqlite", quick=False)


def _consistency_findings(db: Connection, for_dialect: str, *, quick: bool) -> list[Finding]:
    """The schema, then (unless ``quick``) the ledger against what is derived from it."""
    if not has_table(db, "schema_migrations"):
        return [
            Finding(
                False, "the database has no CrowdPulse tables yet", "run `crowdpulse migrate` (or start the bot once)"
            )
        ]
    findings: list[Finding] = []
    pending = health.pending_migrations(db, for_dialect)
    findings.append(
        Finding(
            not pending,
            "schema is up to date",
            f"migrations {pending} are pending: start the bot once (or `crowdpulse run`) to apply them",
        )
    )
    if pending or quick:
        return findings
    mismatches = health.ledger_mismatches(db)
    findings.append(
        Finding(
            not mismatches,
            "leaderboards match the points ledger",
            f"members (id, ledger, score) {mismatches} disagree: report a bug, with this output",
        )
    )
    for count, fine, key in (
        (health.negative_balances(db), "no balance below zero", "negative_balances"),
        (health.histogram_mismatches(db), "rank histograms match the scores", "histogram_mismatches"),
    ):
        findings.append(Finding(not count, fine, operator_text(key, count=count)))
    unsent = health.unsent_messages(db)
    findings.append(Finding(True, operator_text("outbox_unsent", count=unsent)))
    return findings


def _disk_space(folder: Path) -> Finding:
    existing = folder
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    return Finding(
        free >= LOW_DISK_BYTES,
        f"{free // (1024 * 1024)} MB free for the database",
        "free some disk space: below 200 MB the database may soon refuse writes",
    )


def check_platforms(settings: Settings) -> list[Finding]:
    findings: list[Finding] = []
    if settings.telegram.token is not None:
        url = f"{settings.telegram.base_url}{settings.telegram.token.get_secret_value()}/getMe"
        findings.append(
            _reach(
                "Telegram",
                url,
                {},
                "check CROWDPULSE_TELEGRAM__TOKEN (from @BotFather) and CROWDPULSE_TELEGRAM__BASE_URL",
            )
        )
    if settings.discord.token is not None:
        headers = {"Authorization": f"Bot {settings.discord.token.get_secret_value()}"}
        findings.append(
            _reach(
                "Discord",
                f"{settings.discord.api_base}/users/@me",
                headers,
                "check CROWDPULSE_DISCORD__TOKEN (Developer Portal → Bot → Reset Token) and "
                "CROWDPULSE_DISCORD__API_BASE",
            )
        )
    if not findings:
        findings.append(Finding(True, "no platform token set: `crowdpulse run` starts the console"))
    return findings


def _reach(platform: str, url: str, headers: dict[str, str], fix: str) -> Finding:
    """One authenticated request; the URL may hold the token, so only the status is ever shown."""
    try:
        response = httpx.get(url, headers=headers, timeout=PLATFORM_TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        return Finding(False, f"{platform} is not reachable ({type(error).__name__})", f"check the network; {fix}")
    if response.status_code == 200:
        return Finding(True, f"{platform} accepts the bot token")
    return Finding(False, f"{platform} refused the bot token (HTTP {response.status_code})", fix)
