"""Ideas: submitting, similar-idea detection, votes, statuses, the team's triage and how ideas are shown."""

from bot.features.ideas.triage import IdeaTriage
from bot.features.ideas.use_cases import SETTABLE, Ideas
from bot.features.ideas.views import VIEWS

__all__ = ["SETTABLE", "VIEWS", "IdeaTriage", "Ideas"]
