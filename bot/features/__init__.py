"""The product's features, one folder each; every feature takes :class:`bot.context.Services`.

A feature that owns buttons declares the :class:`bot.actions.Verb` values it handles and answers them in
``handle``; the engine routes each token to the one feature that claimed its verb.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.actions import Action, Verb
from bot.context import Context
from bot.replies import Reply


class HandlesActions(Protocol):
    """A feature with buttons: the verbs it claims, and what a tap on one of them does."""

    verbs: frozenset[Verb]

    async def handle(self, ctx: Context, action: Action, text: str | None, values: Sequence[str]) -> Reply:
        """Answer a verified token of one of :attr:`verbs`; re-check everything it names."""
        ...
