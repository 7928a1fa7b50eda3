"""Micro-tasks: serving the next question, the kinds of question, and recording answers."""

from bot.features.tasks.serving import Tasks

__all__ = ["Tasks"]
