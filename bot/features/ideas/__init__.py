"""Ideas: submitting, similar-idea detection, votes, statuses and how ideas are shown."""

from bot.features.ideas.use_cases import SETTABLE, Ideas
from bot.features.ideas.views import VIEWS

__all__ = ["SETTABLE", "VIEWS", "Ideas"]
