"""The reply to a recorded answer: the choice and its points (streak, daily cap, level, badges), then the
next question.

Every answer gets one, and members answering alike get the same words and, from the task view cache,
the same next question. Replies are immutable, so recent ones are kept (bounded) instead of worded,
escaped and built again for each member.
"""

from __future__ import annotations

from bot.features.points import Points
from bot.replies import Outcome, Reply, to_plain, toast_choice
from bot.store.records import Awarded
from bot.texts import Markup, t

RECORDED_REPLIES_KEPT = 4096


class RecordedReplies:
    """Recent replies to recorded answers, by language, choice, award and next question."""

    def __init__(self, daily_cap: int, points: Points) -> None:
        self.daily_cap = daily_cap
        self.points = points  # words the celebrations (level reached, badges earned)
        self._kept: dict[tuple[str, str, Awarded | None, int], Reply] = {}

    def reply(self, language: str, summary: str, awarded: Awarded | None, follow_up: Reply) -> Reply:
        """What a member who chose ``summary`` and got ``awarded`` is told, ``follow_up`` after it.

        Keyed by the follow-up's identity: the kept reply holds it, so no other object takes its id.
        """
        key = (language, summary, awarded, id(follow_up))
        kept = self._kept.get(key)
        if kept is not None:
            return kept
        gained = awarded.points if awarded else 0
        lines = [t("answer.recorded", language, choice=summary, points=gained)]
        if awarded and awarded.streak_bonus:
            bonus = t("answer.streak_bonus", language, points=awarded.streak_bonus)
            lines.append(t("answer.streak", language, days=awarded.streak_days, bonus=bonus))
        if awarded and awarded.capped:
            lines.append(t("answer.daily_cap", language, cap=self.daily_cap))
        lines += self.points.celebrations(awarded, language)
        reply = Reply(
            Markup("\n".join(lines)),
            Outcome.DONE,
            notice=to_plain(t("answer.toast", language, choice=toast_choice(summary), points=gained)),
            follow_up=follow_up,
        )
        if len(self._kept) >= RECORDED_REPLIES_KEPT:
            self._kept.clear()
        self._kept[key] = reply
        return reply
