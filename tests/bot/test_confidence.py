"""95 % intervals for a poll's shares, rating means and NPS; margins, ties, "too few answers to tell".

Expected values are computed here another way than the module does (the Wilson bounds as the roots of
their quadratic, a mean's and NPS's spread with :mod:`statistics` over the expanded answers), or are
published textbook values.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter

import pytest

from bot.catalog import load_catalog
from bot.engine import Engine
from bot.features.rounds.charts import chart_series, render_png
from bot.features.rounds.confidence import (
    Z95,
    Interval,
    leader_tied,
    margin_of_error,
    mean_interval,
    nps_interval,
    too_few,
    wilson,
)
from bot.features.rounds.tally import tally_task
from bot.replies import Outcome, to_plain
from tests.conftest import REPO
from tests.helpers import answer_tasks, button, open_task, say


def wilson_by_quadratic(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson bounds are the p with (p̂ − p)² = z²·p(1 − p)/n: the roots of a quadratic in p."""
    p_hat = successes / n
    a = 1 + z * z / n
    b = -(2 * p_hat + z * z / n)
    c = p_hat * p_hat
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


def test_wilson_matches_the_textbook_example_81_of_263() -> None:
    interval = wilson(81, 263)
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.2553, 0.3662)
    low, high = wilson_by_quadratic(81, 263)
    assert interval.low == pytest.approx(low) and interval.high == pytest.approx(high)


@pytest.mark.parametrize(("successes", "n"), [(1, 10), (5, 10), (37, 120), (999, 1000)])
def test_wilson_agrees_with_the_quadratic_and_holds_its_share(successes: int, n: int) -> None:
    interval = wilson(successes, n)
    low, high = wilson_by_quadratic(successes, n)
    assert (interval.low, interval.high) == (pytest.approx(low), pytest.approx(high))
    assert 0 <= interval.low < successes / n < interval.high <= 1


@pytest.mark.parametrize("n", [1, 7, 50])
def test_wilson_at_none_and_all_is_not_zero_wide(n: int) -> None:
    z2 = Z95 * Z95
    none, everyone = wilson(0, n), wilson(n, n)
    assert none.low == 0 and none.high == pytest.approx(z2 / (n + z2))
    assert everyone.high == 1 and everyone.low == pytest.approx(n / (n + z2))


def test_wilson_without_answers_says_anything() -> None:
    assert wilson(0, 0) == Interval(0.0, 1.0)


def test_a_rating_mean_interval_is_the_mean_plus_or_minus_its_standard_error() -> None:
    scores = {5: 6, 4: 9, 3: 3, 1: 2}
    answers = [score for score, count in scores.items() for _ in range(count)]
    mean, spread = statistics.mean(answers), statistics.stdev(answers)
    interval = mean_interval(scores, (1, 5))
    assert interval is not None
    margin = Z95 * spread / math.sqrt(len(answers))
    assert (interval.low, interval.high) == (pytest.approx(mean - margin), pytest.approx(mean + margin))


def test_a_rating_mean_interval_edges() -> None:
    assert mean_interval({}, (1, 5)) is None
    assert mean_interval({4: 1}, (1, 5)) == Interval(1.0, 5.0), "one answer says nothing about the spread"
    assert mean_interval({5: 30}, (1, 5)) == Interval(5.0, 5.0), "everyone agreeing: no spread"
    wide = mean_interval({1: 1, 5: 1}, (1, 5))
    assert wide == Interval(1.0, 5.0), "kept within the scale"


def test_nps_interval_is_that_of_a_mean_of_plus_zero_minus_one_scores() -> None:
    detractors, passives, promoters = 7, 11, 22
    scores = [-100] * detractors + [0] * passives + [100] * promoters
    nps, spread = statistics.mean(scores), statistics.pstdev(scores)
    interval = nps_interval(detractors, passives, promoters)
    assert interval is not None
    margin = Z95 * spread / math.sqrt(len(scores))
    assert (interval.low, interval.high) == (pytest.approx(nps - margin), pytest.approx(nps + margin))


def test_nps_interval_sanity() -> None:
    assert nps_interval(0, 0, 0) is None
    small, large = nps_interval(3, 4, 5), nps_interval(300, 400, 500)
    assert small is not None and large is not None
    nps = 100 * (5 - 3) / 12
    assert small.low < nps < small.high and large.low < nps < large.high
    assert large.half_width == pytest.approx(small.half_width / 10), "a hundred times the answers: a tenth"
    assert small.low >= -100 and small.high <= 100
    assert nps_interval(0, 0, 9) == Interval(100.0, 100.0) and nps_interval(9, 0, 0) == Interval(-100.0, -100.0)


def test_the_margin_of_error_is_the_widest_half_width() -> None:
    intervals = [wilson(count, 100) for count in (50, 30, 20)]
    low, high = wilson_by_quadratic(50, 100)
    assert margin_of_error(intervals) == pytest.approx((high - low) / 2), "a share of a half is the least sure"
    assert margin_of_error([]) == 0


def test_overlapping_leaders_are_a_tie_and_clear_ones_are_not() -> None:
    close = (12, 10, 3)
    assert leader_tied(close, [wilson(count, 25) for count in close]) == (0, 1)
    clear = (40, 5, 5)
    intervals = [wilson(count, 50) for count in clear]
    assert intervals[0].low > intervals[1].high and leader_tied(clear, intervals) is None
    assert leader_tied((0, 0), [wilson(0, 0)] * 2) is None, "nobody answered: no race"
    assert leader_tied((4,), [wilson(4, 4)]) is None


def test_too_few_is_strictly_below_the_threshold() -> None:
    assert too_few(9, 10) and not too_few(10, 10)


def test_the_tally_carries_the_intervals_the_text_chart_and_export_share() -> None:
    campaign = load_catalog(REPO / "tasks_catalog").campaign("coffee")
    assert campaign is not None
    drink, service = campaign.task("drink"), campaign.task("service")
    assert drink and service
    picks = Counter(["1"] * 12 + ["0"] * 10 + ["2"] * 3)
    tally = tally_task(drink, picks.items(), "en", min_answers=10)
    assert not tally.too_few and tally.tie == (1, 0)
    assert tally.intervals[1] == wilson(12, 25)
    low, high = wilson_by_quadratic(12, 25)
    assert tally.margin == pytest.approx(100 * (high - low) / 2)
    assert tally_task(drink, picks.items(), "en", min_answers=26).too_few
    rated = tally_task(service, Counter(["5", "4", "4"]).items(), "en")
    assert rated.mean_interval == mean_interval({5: 1, 4: 2}, (1, 5))
    (series,) = chart_series([tally], ("D", "P", "Pr"), {})
    assert series.errors is not None
    below, above = series.errors
    assert below[1] == pytest.approx(12 - low * 25) and above[1] == pytest.approx(high * 25 - 12)
    too_few_chart = chart_series([tally_task(drink, picks.items(), "en", min_answers=26)], ("D", "P", "Pr"), {})
    assert too_few_chart[0].errors is None, "no error bars when there are too few answers to tell"


async def test_results_and_the_export_show_intervals_margin_and_tie(engine: Engine, person, cafe) -> None:
    engine.services.settings.results.min_answers = 5
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    for index, choice in enumerate(["Espresso"] * 3 + ["Latte"] * 2):
        member = person(f"P{index}")
        asked = await open_task(engine, member, cafe, "What do you order")
        assert (await engine.act(member, cafe, button(asked, choice))).outcome == Outcome.DONE

    lines = to_plain((await say(engine, mod, cafe, "/results")).text).splitlines()
    espresso_low, espresso_high = wilson_by_quadratic(3, 5)
    latte_low, latte_high = wilson_by_quadratic(2, 5)
    shown = f"Espresso ▇▇▇▇▇▇▇▇▇▇ 60% ({round(100 * espresso_low)}–{round(100 * espresso_high)}%, 3)"
    assert shown in lines
    margin = round(100 * max(espresso_high - espresso_low, latte_high - latte_low) / 2)
    assert f"± {margin} points margin of error" in lines
    assert "🤝 Espresso and Latte: too close to call" in lines

    _, as_json = await engine.exports.export(1, "json")
    document = json.loads(as_json)
    assert {"round", "answers", "skips", "audit"} < document.keys(), "the existing fields stay"
    (drink,) = [entry for entry in document["summary"] if entry["task"] == "drink"]
    assert (drink["n"], drink["skips"], drink["tie"], drink["too_few"]) == (5, 0, ["Espresso", "Latte"], False)
    espresso = drink["options"][0]
    assert espresso["share"] == pytest.approx(3 / 5)
    assert (espresso["low"], espresso["high"]) == (pytest.approx(espresso_low), pytest.approx(espresso_high))
    unanswered = [entry for entry in document["summary"] if entry["n"] == 0]
    assert unanswered and all(entry["too_few"] for entry in unanswered)


async def test_below_the_threshold_results_say_too_few_answers_to_tell(engine: Engine, person, cafe) -> None:
    mod = person("Mod")
    await say(engine, mod, cafe, "/round open coffee")
    for index in range(3):
        await answer_tasks(engine, person(f"F{index}"), cafe, 9)
    text = to_plain((await say(engine, mod, cafe, "/results")).text)
    minimum = engine.services.settings.results.min_answers
    assert minimum > 3 and f"🔍 Too few answers to tell (fewer than {minimum})" in text
    assert "Espresso ▇▇▇▇▇▇▇▇▇▇ 100% (3)" in text and "margin of error" not in text
    _, as_json = await engine.exports.export(1, "json")
    assert all(entry["too_few"] for entry in json.loads(as_json)["summary"])


def test_the_chart_draws_a_ratings_mean_and_the_nps_with_their_intervals() -> None:
    campaign = load_catalog(REPO / "tasks_catalog").campaign("coffee")
    assert campaign is not None
    service, recommend = campaign.task("service"), campaign.task("recommend")
    assert service and recommend
    rated = tally_task(service, Counter(["5", "4", "4", "2"]).items(), "en")
    scored = tally_task(recommend, Counter(["10", "9", "7", "3"]).items(), "en")
    rating, nps = chart_series([rated, scored], ("D", "P", "Pr"), {})
    interval = mean_interval({5: 1, 4: 2, 2: 1}, (1, 5))
    assert interval is not None and rating.point is not None
    assert (rating.point.x, rating.point.low, rating.point.high) == pytest.approx(
        (3.75 - 1, interval.low - 1, interval.high - 1)
    ), "the mean sits over the bar of the score it equals"
    spread = nps_interval(1, 1, 2)
    assert spread is not None and nps.point is not None
    assert (nps.point.x, nps.point.low, nps.point.high) == pytest.approx(
        ((25 + 100) / 100, (spread.low + 100) / 100, (spread.high + 100) / 100)
    ), "-100 over the detractors' bar, +100 over the promoters'"
    assert nps.point.text.startswith("NPS +25 (")
    sparse = chart_series([tally_task(service, Counter(["5"]).items(), "en", min_answers=2)], ("D", "P", "Pr"), {})
    assert sparse[0].point is None, "no interval drawn when there are too few answers to tell"


def test_a_narrow_nps_interval_keeps_its_point_inside_though_the_text_rounds_it() -> None:
    """NPS +33.6 from a million answers reads "+34", outside its ±0.09 interval: the point is drawn at 33.6."""
    campaign = load_catalog(REPO / "tasks_catalog").campaign("coffee")
    recommend = campaign.task("recommend") if campaign else None
    assert recommend is not None
    scored = tally_task(recommend, [("8", 664_000), ("10", 336_000)], "en")
    (nps,) = chart_series([scored], ("D", "P", "Pr"), {})
    assert nps.point is not None and nps.point.text.startswith("NPS +34 (")
    assert nps.point.low <= nps.point.x <= nps.point.high
    assert render_png([nps], "A big round").startswith(b"\x89PNG")
