"""The README's command for the long reliability profile runs as documented: the profile it names exists,
each test gets the time that profile needs (not pyproject's 120 s), and the crash seeds it asks for are
the crash tests collected. Collected only: the long profile itself runs for many minutes."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib

from hypothesis import settings as hypothesis_settings

from tests.conftest import FUZZ_STEP_SECONDS, REPO


def configured_timeout() -> float:
    """pyproject's limit per test (``[tool.pytest.ini_options] timeout``), which the long profile outgrows."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return float(pyproject["tool"]["pytest"]["ini_options"]["timeout"])


def documented_command() -> tuple[dict[str, str], list[str]]:
    """The README's ``HYPOTHESIS_PROFILE=… python -m pytest …`` line: its variables and pytest's arguments."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (line,) = re.findall(r"^HYPOTHESIS_PROFILE=.*python -m pytest.*$", readme, re.MULTILINE)
    words = shlex.split(line)
    start = words.index("python")
    assert words[start : start + 3] == ["python", "-m", "pytest"], line
    variables = dict(word.split("=", 1) for word in words[:start])
    return variables, words[start + 3 :]


def test_the_documented_long_profile_exists_and_names_real_tests() -> None:
    variables, arguments = documented_command()
    assert variables.keys() == {"HYPOTHESIS_PROFILE", "CROWDPULSE_TEST_CRASH_SEEDS"}
    profile = hypothesis_settings.get_profile(variables["HYPOTHESIS_PROFILE"])
    assert profile.max_examples > hypothesis_settings.get_profile("ci").max_examples, "it looks harder than CI"
    assert all((REPO / argument).exists() for argument in arguments if not argument.startswith("-"))


def test_the_documented_command_gives_each_test_the_time_its_profile_needs() -> None:
    variables, arguments = documented_command()
    environment = {
        name: value for name, value in os.environ.items() if name not in {"PYTEST_TIMEOUT", "HYPOTHESIS_PROFILE"}
    }
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", *arguments, "--collect-only", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=environment | variables,
        capture_output=True,
        text=True,
        check=False,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    raised = re.search(rf"hypothesis profile {variables['HYPOTHESIS_PROFILE']}: (\d+) s per test", collected.stdout)
    assert raised is not None, collected.stdout
    profile = hypothesis_settings.get_profile(variables["HYPOTHESIS_PROFILE"])
    longest_fuzz = profile.max_examples * profile.stateful_step_count * FUZZ_STEP_SECONDS
    assert int(raised.group(1)) >= max(longest_fuzz, configured_timeout() + 1)
    seeds = int(variables["CROWDPULSE_TEST_CRASH_SEEDS"])
    crash_tests = re.findall(r"test_a_crash_under_load\S*\[\d+\]", collected.stdout)
    assert len(crash_tests) == seeds
