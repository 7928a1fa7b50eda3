"""The ``crowdpulse`` command: run the bot, play the demo, check the catalog, manage rewards."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from adapters.progress import Progress, progress
from bot.app import make_store, run_deadlines, running_engine, settle_startup_heap, store_for_url
from bot.catalog import PROMOTED_KINDS, Catalog, CatalogError, load_catalog
from bot.engine import Engine
from bot.features import rewards
from bot.features.rounds.export import filename
from bot.replies import to_plain
from bot.settings import Settings, load_settings
from bot.starter import StarterExistsError, write_starter
from bot.store.database import StoreUnavailableError
from bot.store.records import PromotedOption
from bot.store.rewards_sql import RewardQueries
from bot.texts import OPERATOR_LANGUAGE, operator_text, t

log = logging.getLogger("crowdpulse")


def configure_logging(level: str = "INFO") -> None:
    """One line per event; httpx logs request URLs, which hold the Telegram token, so it stays quiet."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings() -> Settings:
    try:
        return load_settings()
    except (ValidationError, ValueError) as error:
        sys.exit(f"crowdpulse: settings are not valid:\n{error}")


async def _run(settings: Settings) -> None:
    async with running_engine(settings) as engine:
        stop = asyncio.Event()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signal_number, stop.set)
        runners = []
        if settings.telegram.token is not None:
            from adapters.telegram import run_telegram

            runners.append(run_telegram(engine, settings, stop))
        if settings.discord.token is not None:
            from adapters.discord import run_discord

            runners.append(run_discord(engine, settings, stop))
        if not runners:
            from adapters.console import run_console

            log.info("no platform token set: starting the console adapter (storage=%s)", settings.storage.path)
            runners.append(run_console(engine, stop))
        if settings.dashboard.enabled:
            runners.append(_dashboard(engine, stop))
        settle_startup_heap()
        await asyncio.gather(run_deadlines(engine, stop), *runners)


async def _dashboard(engine: Engine, stop: asyncio.Event) -> None:
    """The web dashboard in this event loop, its address printed for the operator."""
    from adapters.dashboard.server import serve

    print(f"dashboard: {engine.services.settings.dashboard.address}", flush=True)
    await serve(engine, stop)


async def _run_dashboard(settings: Settings) -> None:
    async with running_engine(settings) as engine:
        stop = asyncio.Event()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signal_number, stop.set)
        await _dashboard(engine, stop)


def _command_dashboard(args: argparse.Namespace) -> int:
    """The dashboard alone (the bot runs elsewhere on the same database)."""
    settings = _settings()
    configure_logging("INFO")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_dashboard(settings))
    return 0


def _command_dashboard_user_add(args: argparse.Namespace) -> int:
    """Add a teammate (or change their password and role); the password is read from stdin, never argv."""
    from adapters.dashboard.auth import TeammateError, save_teammate

    password = sys.stdin.readline().rstrip("\r\n")
    settings = _settings()

    async def run() -> None:
        async with make_store(settings) as store:
            await save_teammate(store, args.name, password, args.role, datetime.now(UTC))

    try:
        asyncio.run(run())
    except TeammateError as error:
        key, variables = error.args
        print(f"crowdpulse: {to_plain(t(f'web.{key}', OPERATOR_LANGUAGE, **variables))}", file=sys.stderr)
        return 1
    print(f"dashboard teammate {args.name} saved ({args.role})")
    return 0


def _command_run(args: argparse.Namespace) -> int:
    settings = _settings()
    configure_logging("WARNING" if settings.telegram.token is None and settings.discord.token is None else "INFO")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(settings))
    return 0


def _command_demo(args: argparse.Namespace) -> int:
    from adapters.demo import run_demo

    configure_logging("WARNING")
    return asyncio.run(run_demo(Path(args.out)))


async def _export(settings: Settings, round_id: int, fmt: str, target: Path | None, shown: Progress) -> Path:
    """Write the export to ``target`` (its own name by default) as it streams: bounded memory."""
    path = target or Path(filename(round_id, fmt))
    async with running_engine(settings) as engine:
        with path.open("wb") as file:
            async for chunk in engine.exports.stream(round_id, fmt, on_progress=shown.update):
                file.write(chunk)
    return path


def _command_export(args: argparse.Namespace) -> int:
    settings = _settings()
    with progress(f"export round {args.round}", "progress_answers") as shown:
        target = asyncio.run(_export(settings, args.round, args.format, Path(args.out) if args.out else None, shown))
    print(f"wrote {target} ({operator_text('bytes', count=target.stat().st_size)})")
    return 0


# rewards (operators) ----------------------------------------------------------------------------


def _rewards_command(use: Callable[[RewardQueries], Awaitable[list[str]]]) -> int:
    """Run an operator's rewards command on the configured database; a refusal goes to stderr, exit code 1."""
    settings = _settings()

    async def run() -> list[str]:
        async with make_store(settings) as store:
            return await use(store.rewards)

    try:
        report = asyncio.run(run())
    except rewards.RewardError as error:
        print(f"crowdpulse: {error}", file=sys.stderr)
        return 1
    print("\n".join(report))
    return 0


def _command_rewards_add(args: argparse.Namespace) -> int:
    return _rewards_command(lambda q: rewards.add_reward(q, args.id, args.title, args.cost, args.stock))


def _command_rewards_import(args: argparse.Namespace) -> int:
    with progress("rewards import", "progress_codes") as shown:
        return _rewards_command(lambda queries: rewards.import_codes(queries, Path(args.file), shown.update))


def _command_rewards_list(args: argparse.Namespace) -> int:
    return _rewards_command(rewards.list_rewards)


def _command_catalog_check(args: argparse.Namespace) -> int:
    directory = Path(args.path) if args.path else _settings().catalog_location.path
    try:
        catalog = load_catalog(directory)
    except CatalogError as error:
        print(f"{directory}: {operator_text('problems', count=len(error.problems))}", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"{directory}: OK: {catalog.summary()}")
    _report_promoted(catalog)
    return 0


def _report_promoted(catalog: Catalog) -> None:
    """List the options moderators promoted from themes: catalog overrides kept in the database (see
    :mod:`bot.features.themes.promotions`), each with where it came from and whether it is served.

    A database that does not exist yet is not created for this (no overrides then); one that cannot be
    reached is said so, the catalog itself being fine.
    """
    storage = _settings().storage
    if not storage.url and not Path(storage.path).is_file():
        return

    async def read() -> list[PromotedOption]:
        async with make_store(_settings()) as store:
            return await store.themes.promoted()

    try:
        options = asyncio.run(read())
    except Exception as error:  # an unreachable database: the catalog is still checked
        print(f"promoted options: cannot read the database: {error}", file=sys.stderr)
        return
    if not options:
        return
    print(f"{operator_text('promoted', count=len(options))} (database overrides, /theme promote):")
    for option in options:
        campaign = catalog.campaign(option.campaign_id)
        task = campaign.task(option.task_id) if campaign else None
        served = task is not None and task.kind in PROMOTED_KINDS
        state = f"served after round {option.source_round_id}" if served else "not served: no such typed question"
        when = option.created_at.strftime("%Y-%m-%d %H:%M") if option.created_at else "?"
        by = option.promoted_by or "?"
        where = option.community or f"space {option.space_id}"
        question = f"{option.campaign_id}/{option.task_id}"
        print(f"  #{option.id} {question}: “{option.label}” ({state} in {where}; by {by}, {when})")


def _command_doctor(args: argparse.Namespace) -> int:
    from adapters.doctor import run_doctor

    return run_doctor(quick=args.quick)


def _command_init(args: argparse.Namespace) -> int:
    """Write an editable copy of the packaged settings and starter catalog for an operator."""
    folder = Path(args.folder)
    try:
        written = write_starter(folder, force=args.force)
    except StarterExistsError as error:
        print(f"crowdpulse: init: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}{'/' if path.is_dir() else ''}")
    print(f"next: edit them, then `crowdpulse catalog check` and `crowdpulse run` in {folder.resolve()}")
    return 0


# storage (operators) ------------------------------------------------------------------------------


def _storage_url(given: str | None) -> str:
    if given:
        return given
    storage = _settings().storage
    return storage.url or f"sqlite:///{storage.path}"


def _command_migrate(args: argparse.Namespace) -> int:
    """Bring the database's schema to the latest migration (the bot does it at start too)."""
    url = _storage_url(args.url)

    async def run() -> list[int]:
        async with store_for_url(url) as store:
            rows = await store.fetchall("SELECT version FROM schema_migrations ORDER BY version")
            return [int(row[0]) for row in rows]

    try:
        versions = asyncio.run(run())
    except Exception as error:
        print(f"crowdpulse: migrating {_redacted(url)} failed: {error}", file=sys.stderr)
        return 1
    version = versions[-1] if versions else 0
    print(f"{_redacted(url)}: schema at version {version} ({operator_text('migrations', count=len(versions))})")
    return 0


def _command_copy_store(args: argparse.Namespace) -> int:
    """Copy every row from one store into another, empty one, and verify counts and ledger sums."""
    from bot.store.copy import CopyMismatchError, TargetNotEmptyError, copy_store

    async def run(shown: Progress) -> list[str]:
        async with store_for_url(args.source) as source, store_for_url(args.target) as target:
            return (await copy_store(source, target, shown.update)).lines()

    try:
        with progress("copy-store", "progress_rows") as shown:
            report = asyncio.run(run(shown))
    except (CopyMismatchError, TargetNotEmptyError, ValueError) as error:
        print(f"crowdpulse: copy-store: {error}", file=sys.stderr)
        return 1
    print(f"copied {_redacted(args.source)} -> {_redacted(args.target)}")
    print("\n".join(report))
    return 0


def _redacted(url: str) -> str:
    """A URL fit for a terminal: the password left out."""
    scheme, _, rest = url.partition("://")
    credentials, at, place = rest.rpartition("@")
    return f"{scheme}://{credentials.partition(':')[0]}{at}{place}" if at else url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crowdpulse", description="Micro-tasks and ideas in Telegram and Discord.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start every adapter whose token is set (the console when none is)").set_defaults(
        handler=_command_run
    )
    demo = commands.add_parser("demo", help="play a scripted session of a small community and show what each saw")
    demo.add_argument("--out", default="crowdpulse-demo", help="folder for the demo's database and files")
    demo.set_defaults(handler=_command_demo)
    doctor = commands.add_parser("doctor", help="check settings, catalog, database and platform tokens")
    doctor.add_argument(
        "--quick", action="store_true", help="settings, catalog and a database connection only (a health check)"
    )
    doctor.set_defaults(handler=_command_doctor)
    init = commands.add_parser("init", help="write settings.toml and tasks_catalog/ to edit (the packaged starter)")
    init.add_argument("folder", nargs="?", default=".", help="where to write them (default: here)")
    init.add_argument("--force", action="store_true", help="overwrite a settings.toml or tasks_catalog/ there")
    init.set_defaults(handler=_command_init)
    export = commands.add_parser("export", help="write a round's answers to a CSV or JSON file")
    export.add_argument("--round", type=int, required=True, help="round id (see /round list)")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--out", help="file to write (default: round-<id>.<format>)")
    export.set_defaults(handler=_command_export)
    reward = commands.add_parser("rewards", help="the rewards catalog and its one-time codes").add_subparsers(
        dest="rewards_command", required=True
    )
    add = reward.add_parser("add", help="add a reward, or change its title, cost or stock")
    add.add_argument("--id", required=True, help="short id members type: /redeem <id> (a-z, 0-9, - and _)")
    add.add_argument("--title", required=True)
    add.add_argument("--cost", required=True, type=int, help="points it costs")
    add.add_argument("--stock", type=int, help="how many to hand out (default: no limit); codes add to it")
    add.set_defaults(handler=_command_rewards_add)
    codes = reward.add_parser("import", help="load one-time codes from a CSV file of reward_id,code lines")
    codes.add_argument("file", help="keep it outside the repository: codes are secrets")
    codes.set_defaults(handler=_command_rewards_import)
    reward.add_parser("list", help="rewards with stock, unused codes and redemptions").set_defaults(
        handler=_command_rewards_list
    )
    migrate = commands.add_parser("migrate", help="bring the database schema to the latest version")
    migrate.add_argument("--url", help="sqlite:///file.db or postgresql://… (default: from settings)")
    migrate.set_defaults(handler=_command_migrate)
    copy = commands.add_parser("copy-store", help="copy all data into an empty store (e.g. SQLite to PostgreSQL)")
    copy.add_argument("--from", dest="source", required=True, help="sqlite:///crowdpulse.db or postgresql://…")
    copy.add_argument("--to", dest="target", required=True, help="an empty database: postgresql://… or sqlite:///…")
    copy.set_defaults(handler=_command_copy_store)
    commands.add_parser("dashboard", help="serve the web dashboard alone (crowdpulse run serves it too)").set_defaults(
        handler=_command_dashboard
    )
    team = commands.add_parser("dashboard-user", help="the dashboard's teammates").add_subparsers(
        dest="dashboard_user_command", required=True
    )
    teammate = team.add_parser("add", help="add a teammate or change one; the password is read from stdin")
    teammate.add_argument("name")
    teammate.add_argument("--role", choices=["owner", "moderator", "viewer"], required=True)
    teammate.set_defaults(handler=_command_dashboard_user_add)
    catalog = commands.add_parser("catalog", help="catalog tools").add_subparsers(dest="catalog_command", required=True)
    check = catalog.add_parser("check", help="validate the catalog's *.toml files")
    check.add_argument("path", nargs="?", help="catalog folder (default: from settings)")
    check.set_defaults(handler=_command_catalog_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. A bad catalog or an unreachable database ends any command with a short
    explanation and exit status 2, not a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CatalogError as error:
        print(f"crowdpulse: the catalog has problems:\n{error}", file=sys.stderr)
    except StoreUnavailableError as error:
        print(f"crowdpulse: the database is not available ({error}); `crowdpulse doctor` checks why", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
