"""The starter kit (default settings, starter catalog) and which settings file and catalog the bot uses.

The repository keeps ``settings.toml`` and ``tasks_catalog/`` at its top level, where operators and the
design card expect them; the wheel build (``setup.py``) copies both into ``bot/_starter/``, so an
installed bot runs in an empty folder. In a source checkout (an editable install) there is no copy: the
top-level files themselves are the starter kit, so there is never a second copy to keep in step.

Lookup order (the README's "Configuration" section; ``crowdpulse doctor`` prints the choice):

- settings: ``CROWDPULSE_SETTINGS_FILE``, then ``./settings.toml``, then the packaged defaults;
- catalog: the ``catalog.path`` setting, then ``./tasks_catalog``, then the packaged starter catalog.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SETTINGS_FILE_ENV = "CROWDPULSE_SETTINGS_FILE"
SETTINGS_NAME = "settings.toml"
CATALOG_NAME = "tasks_catalog"
PACKAGED = Path(__file__).resolve().with_name("_starter")  # filled by the wheel build (setup.py)
CHECKOUT = Path(__file__).resolve().parents[1]


class StarterExistsError(FileExistsError):
    """``crowdpulse init`` would overwrite an operator's files; ``--force`` allows it."""


@dataclass(frozen=True, slots=True)
class Chosen:
    """A file or folder the bot uses, and which step of the lookup order chose it."""

    path: Path
    source: str

    def __str__(self) -> str:
        return f"{self.path} ({self.source})"


def starter_folder() -> Path:
    """Where the packaged ``settings.toml`` and ``tasks_catalog/`` are: inside an installed wheel its
    ``bot/_starter/``; in a source checkout, the checkout's top level."""
    return PACKAGED if PACKAGED.is_dir() else CHECKOUT


def settings_file(environ: Mapping[str, str] = os.environ) -> Chosen:
    """The settings file to read.

    Raises:
        ValueError: ``CROWDPULSE_SETTINGS_FILE`` names a file that does not exist (a typo would otherwise
            run the bot on other settings without a word; name ``/dev/null`` for none at all).
    """
    named = environ.get(SETTINGS_FILE_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.exists():
            raise ValueError(f"{SETTINGS_FILE_ENV} names {path}, which does not exist ({os.devnull}: no file)")
        return Chosen(path, SETTINGS_FILE_ENV)
    here = Path(SETTINGS_NAME)
    if here.is_file():
        return Chosen(here.resolve(), f"./{SETTINGS_NAME}")
    return Chosen(starter_folder() / SETTINGS_NAME, "packaged defaults")


def catalog_folder(configured: Path | None) -> Chosen:
    """The catalog folder: ``configured`` (the ``catalog.path`` setting, relative to the working
    folder), else ``./tasks_catalog`` when there is one, else the packaged starter catalog."""
    if configured is not None:
        return Chosen(configured, "catalog.path")
    here = Path(CATALOG_NAME)
    if here.is_dir():
        return Chosen(here.resolve(), f"./{CATALOG_NAME}")
    return Chosen(starter_folder() / CATALOG_NAME, "packaged starter catalog")


def write_starter(folder: Path, *, force: bool = False) -> list[Path]:
    """Copy the packaged ``settings.toml`` and ``tasks_catalog/`` into ``folder`` for an operator to edit;
    returns what was written. Files of the operator's own beside them are left alone.

    Raises:
        StarterExistsError: either already exists in ``folder`` and ``force`` is false (nothing written).
    """
    source = starter_folder()
    settings, catalog = folder / SETTINGS_NAME, folder / CATALOG_NAME
    existing = [path for path in (settings, catalog) if path.exists()]
    if existing and not force:
        names = ", ".join(str(path) for path in existing)
        raise StarterExistsError(f"already there: {names}; --force overwrites them (other files stay)")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / SETTINGS_NAME, settings)
    shutil.copytree(source / CATALOG_NAME, catalog, dirs_exist_ok=True)
    return [settings, catalog]
