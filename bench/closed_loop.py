"""The closed loop a member lives in, as figures: shared by the Telegram and Discord benchmarks.

A member taps, sees the toast *and* the next question, taps again. Each variant (ours in a follow-up
mode, the bare library app) runs in its own process (:mod:`bench.bot_process`) against its fake; the
fake plays the members (:mod:`bench.members`) and reports every tap's latency, the wall time and the
bot's requests; the parent reads the bot's CPU time around the loop. Per repetition that gives taps/s,
p50/p99 of tap → next question on screen, requests per tap and CPU ms per tap; each figure is the
median over the repetitions, and the ratios are of medians, as everywhere in the suite.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.bot_process import BotProcess
from bench.fakes import FakeProcess
from bench.runner import Figure, Target, compared, interleaved, measured, percentile
from bot.settings import Settings

LOOP_TIMEOUT = 300.0
FOLLOW_UP_MODES = ("edit", "keep")  # ours runs in each; the targets are for the default one


@dataclass(frozen=True, slots=True)
class LoopSize:
    """How big a closed loop runs: in full, or small enough for the quick suite's time budget."""

    members: int
    repetitions: int  # at most; the run's own count when lower
    warmup: int
    taps: int  # ours: at most this many taps a member (the starter campaign asks about a dozen)
    bare_taps: int


FULL = LoopSize(members=200, repetitions=3, warmup=1, taps=40, bare_taps=12)
QUICK = LoopSize(members=20, repetitions=1, warmup=0, taps=8, bare_taps=8)


@dataclass(frozen=True, slots=True)
class LoopRun:
    """One repetition of one variant's closed loop."""

    taps_per_second: float
    p50_ms: float
    p99_ms: float
    requests_per_tap: float
    cpu_ms_per_tap: float
    fake_cpu_ms_per_tap: float  # the fake server's process, members included: the machine's other big cost

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_ms_per_tap / self.requests_per_tap if self.requests_per_tap else 0.0


async def timed_loop(bot: BotProcess, fake: FakeProcess, loop: Callable[[], Awaitable[dict[str, Any]]]) -> LoopRun:
    """Run ``loop`` (the fake's ``closed_loop`` op) and read ``bot``'s and ``fake``'s CPU time around it.

    The fake's share matters on a machine of two cores: the bot and the fake (with the members it plays)
    share them, so a bot whose messages cost the fake more to parse and store gets fewer taps a second
    even at the same CPU of its own."""
    before, fake_before = bot.cpu_seconds(), fake.cpu_seconds()
    result = await loop()
    cpu, fake_cpu = bot.cpu_seconds() - before, fake.cpu_seconds() - fake_before
    taps = result["taps"]
    if not taps:
        raise RuntimeError("no member tapped: nobody was shown a question")
    latencies = result["latencies"]
    return LoopRun(
        taps_per_second=taps / result["seconds"],
        p50_ms=percentile(latencies, 0.5) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        requests_per_tap=result["requests"] / taps,
        cpu_ms_per_tap=cpu * 1000 / taps,
        fake_cpu_ms_per_tap=fake_cpu * 1000 / taps,
    )


def loop_figures(
    prefix: str,
    runs: Mapping[str, Sequence[LoopRun]],
    *,
    ours: str,
    bare: str,
    rate_target: Target,
    cpu_target: Target | None = None,
    note: str = "",
) -> list[Figure]:
    """Every variant's figures, then ours/bare for taps/s (and CPU per platform request when targeted)."""
    figures: list[Figure] = []
    for variant, samples in runs.items():
        name = f"{prefix}.{variant}"
        figures += [
            measured(f"{name}.taps_per_s", [r.taps_per_second for r in samples], "taps/s", note=note),
            measured(f"{name}.p50_ms", [r.p50_ms for r in samples], "ms"),
            measured(f"{name}.p99_ms", [r.p99_ms for r in samples], "ms"),
            measured(f"{name}.requests_per_tap", [r.requests_per_tap for r in samples], "requests"),
            measured(f"{name}.cpu_ms_per_tap", [r.cpu_ms_per_tap for r in samples], "ms"),
            measured(f"{name}.fake_cpu_ms_per_tap", [r.fake_cpu_ms_per_tap for r in samples], "ms"),
        ]
    ratios = [("ours_vs_bare", "taps_per_second", rate_target, "taps/s")]
    if cpu_target is not None:
        ratios.append(("cpu_per_request_ours_vs_bare", "cpu_ms_per_request", cpu_target, "CPU ms per platform request"))
    for name, field, target, what in ratios:
        numerators = [getattr(run, field) for run in runs[ours]]
        denominators = [getattr(run, field) for run in runs[bare]]
        figures.append(compared(f"{prefix}.{name}", numerators, denominators, target, f"{what}, {ours} against {bare}"))
    return figures


async def first_questions(fake: FakeProcess, ids: list[int], command: str) -> None:
    """Each member sends ``command`` (``/start``, ``/task``): every one must then see a question."""
    shown = await fake.call("start", ids=ids, command=command, timeout=LOOP_TIMEOUT)
    if shown != len(ids):
        raise RuntimeError(f"only {shown} of {len(ids)} members were shown a first question")


async def tapped(
    fake: FakeProcess, bot: BotProcess, ids: list[int], variant: str, size: LoopSize, **where: Any
) -> LoopRun:
    """The members' closed loop on ``fake`` (``where``: what else the fake's op takes), timed on ``bot``.

    Ours: members tap until they are all caught up, each awaiting the next question; the bare app's
    members tap as often as the campaign asks, each awaiting only the answer. Ours opened its
    connections to the fake untimed, sending every member a first question; the bare app sends
    nothing before the first tap, so each of its members taps once untimed first, or the bare loop
    alone would pay for opening a couple of hundred connections.
    """
    taps, follow = (size.bare_taps, False) if variant == "bare" else (size.taps, True)
    if variant == "bare":
        await fake.call("closed_loop", ids=ids, taps=1, follow=False, timeout=LOOP_TIMEOUT, **where)
    return await timed_loop(
        bot,
        fake,
        lambda: fake.call("closed_loop", ids=ids, taps=taps, follow=follow, timeout=LOOP_TIMEOUT, **where),
    )


def default_follow_up() -> str:
    """The follow-up mode a bot runs in unless ``[chat] follow_up`` says otherwise."""
    return str(Settings().chat.follow_up)


async def compared_loops(
    prefix: str,
    measures: Sequence[tuple[str, Callable[[int], Awaitable[LoopRun]]]],
    size: LoopSize,
    repetitions: int,
    *,
    rate_target: Target,
    cpu_target: Target | None = None,
    note: str = "",
) -> list[Figure]:
    """Run the variants' loops interleaved, then their figures against the bare app (``"bare"``)."""
    runs = await interleaved(measures, min(repetitions, size.repetitions), warmup=size.warmup)
    ours = f"ours_{default_follow_up()}"
    return loop_figures(prefix, runs, ours=ours, bare="bare", rate_target=rate_target, cpu_target=cpu_target, note=note)
