"""Long operator work shows its progress: a bar on a terminal, plain lines in a log or a pipe."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.progress import progress
from bot.commands import dispatch
from bot.engine import Engine
from tests.helpers import answer_tasks


class Terminal(io.StringIO):
    """What rich writes to a terminal, kept to read back."""

    def isatty(self) -> bool:
        return True


def test_off_a_terminal_progress_is_a_plain_line_at_each_tenth_and_at_the_end() -> None:
    log = io.StringIO()
    with progress("copy-store", "progress_rows", stream=log) as shown:
        shown.update(0, 2000)
        for done in range(50, 2001, 50):
            shown.update(done)
    lines = log.getvalue().splitlines()
    assert lines[0] == "copy-store: 0 of 2000 rows (0%)"
    assert lines[-1] == "copy-store: 2000 of 2000 rows (100%)"
    assert len(lines) == 11, "one line a tenth, not one per update"
    assert "\x1b[" not in log.getvalue(), "no terminal codes in a log"
    with progress("rewards import", "progress_codes", 1, stream=log) as shown:
        shown.update(1)
    assert log.getvalue().endswith("rewards import: 1 of 1 code (100%)\n"), "the unit follows the plural rules"


def test_work_that_stops_half_way_does_not_claim_to_be_done() -> None:
    log = io.StringIO()

    def import_that_fails() -> None:
        with progress("rewards import", "progress_codes", 10, stream=log) as shown:
            shown.update(3)
            raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        import_that_fails()
    assert "10 of" not in log.getvalue() and "3 of 10 codes (30%)" in log.getvalue()


def test_on_a_terminal_progress_is_a_bar_fed_from_any_thread_with_notes_above_it() -> None:
    screen = Terminal()
    with progress("copy-store", "progress_rows", 400, stream=screen) as shown:
        shown.note("copying sqlite:///a.db")
        writer = threading.Thread(target=lambda: [shown.update(done) for done in range(0, 401, 100)])
        writer.start()
        writer.join()
    drawn = screen.getvalue()
    assert "\x1b[" in drawn and "━" in drawn, "a drawn bar"
    assert "copy-store" in drawn and "400/400" in drawn and "copying sqlite:///a.db" in drawn


async def test_copy_store_rewards_import_and_export_report_progress_on_stderr(
    engine: Engine, person, cafe, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await dispatch(engine, person("Mod"), cafe, "/round open coffee")
    for name in ("Ana", "Bob"):
        await answer_tasks(engine, person(name), cafe, 3)
    source = engine.services.settings.storage.path
    monkeypatch.setenv("CROWDPULSE_STORAGE__PATH", str(source))

    def crowdpulse(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        printed = capsys.readouterr()
        return code, printed.out, printed.err

    code, out, err = await asyncio.to_thread(
        crowdpulse, "copy-store", "--from", f"sqlite:///{source}", "--to", f"sqlite:///{tmp_path / 'copy.db'}"
    )
    assert code == 0, err
    assert err.splitlines()[-1].startswith("copy-store: ") and err.endswith(" rows (100%)\n")
    assert "copy-store" not in out, "stdout keeps the report alone"

    codes = tmp_path / "codes.csv"
    codes.write_text("".join(f"coffee,C-{n}\n" for n in range(25)), encoding="utf-8")
    assert (await asyncio.to_thread(crowdpulse, "rewards", "add", "--id", "coffee", "--title", "C", "--cost", "9"))[
        0
    ] == 0
    code, out, err = await asyncio.to_thread(crowdpulse, "rewards", "import", str(codes))
    assert code == 0 and "imported 25 codes" in out
    assert err.splitlines() == ["rewards import: 0 of 25 codes (0%)", "rewards import: 25 of 25 codes (100%)"]

    code, out, err = await asyncio.to_thread(crowdpulse, "export", "--round", "1", "--out", str(tmp_path / "r.csv"))
    assert code == 0
    assert err.splitlines() == ["export round 1: 6 of 6 answers (100%)"]
