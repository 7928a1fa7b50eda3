"""The project as an operator gets it: a wheel built from the sdist, installed into a fresh virtual
environment, run in an empty folder with nothing of the checkout in reach.

Built and installed once per session (about 25 s, mostly installing the dependencies from pip's cache);
every test here then runs the installed ``crowdpulse`` as a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

# What a clean clone lacks and the build must not see: caches, virtual environments, earlier builds, secrets.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "*.db*", ".env"
)
COMMAND_SECONDS = 120  # a guard against a hung subprocess, not a measurement


@dataclass(frozen=True, slots=True)
class Installed:
    """The wheel installed in a virtual environment of its own."""

    wheel: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def run(
        self, *args: str, cwd: Path, stdin: str = "", env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``args`` (a command of the venv, e.g. ``crowdpulse``) in ``cwd``, with no CROWDPULSE_* setting
        of the test run and none of the checkout on the path; ``env`` adds variables."""
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("CROWDPULSE_", "PYTHON", "VIRTUAL_ENV"))
        }
        environment |= {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "MPLCONFIGDIR": str(cwd / ".matplotlib"),
            **(env or {}),
        }
        return subprocess.run(
            args,  # looked up on the PATH given: the venv's commands first
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            env=environment,
            timeout=COMMAND_SECONDS,
            check=False,
        )


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` on a copy of the source tree: the sdist, then the wheel built from it (so the
    sdist's MANIFEST.in is checked too)."""
    source = tmp_path_factory.mktemp("source") / "crowdpulse"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=COMMAND_SECONDS * 3,
    )
    (built,) = dist.glob("crowdpulse-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel and its dependencies (from pip's cache when it has them) in a new virtual environment."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=COMMAND_SECONDS)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
        timeout=COMMAND_SECONDS * 5,
    )
    return Installed(wheel, venv)


@pytest.fixture
def empty_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "operator"
    folder.mkdir()
    return folder
