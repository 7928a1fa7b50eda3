"""Rounds: opening and closing them, their results (tally, charts) and their exports."""

from bot.features.rounds.cache import OpenRounds
from bot.features.rounds.export import RoundExports
from bot.features.rounds.lifecycle import Rounds
from bot.features.rounds.results import RoundResults
from bot.features.rounds.summary import RoundSummaries

__all__ = ["OpenRounds", "RoundExports", "RoundResults", "RoundSummaries", "Rounds"]
