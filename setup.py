"""The wheel build's one addition: the starter kit (``settings.toml``, ``tasks_catalog/``) as package data.

Both stay at the repository's top level, where operators and the design card expect them, and are
copied into ``bot/_starter/`` of the built package, so an installed ``crowdpulse`` runs in an empty
folder (see ``bot/starter.py``). Everything else is in ``pyproject.toml``; ``MANIFEST.in`` puts the two
into the sdist, so a wheel built from the sdist has them too.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

STARTER_FILES = ("settings.toml", "tasks_catalog")
STARTER_PACKAGE = Path("bot", "_starter")


class BuildPyWithStarter(build_py):
    """``build_py``, then the starter kit copied into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads the top-level files themselves
        target = Path(self.build_lib) / STARTER_PACKAGE
        for name in STARTER_FILES:
            if Path(name).is_dir():
                self.copy_tree(name, str(target / name))
            else:
                self.mkpath(str(target))
                self.copy_file(name, str(target / name))


setup(cmdclass={"build_py": BuildPyWithStarter})
