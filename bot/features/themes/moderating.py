"""Moderators shape a round's themes: list them with ids, rename, merge, split, promote one to an option.

A theme's id is one of its answers' ids (its central answer's, or the anchor of the edit that last
named it; see :mod:`bot.features.themes.edits`), so an id names the round and the question by itself
and stays meaningful while answers arrive. An ideas round's themes are edited the same way, their ids
being ideas' ids written with an ``i`` (:class:`ThemeId`: ``i12``), so that idea 12's theme is never
taken for the theme of answer 12; their edits are stored under the task id ``ideas`` and applied by the
same code. They cannot be promoted: an idea is no option of any question.

Every use case is for moderators, answers privately, checks that the id is an answer (an idea) of a
round of this community (a forged id is "no such theme") and that it is still a theme's id (a stale
one, merged or split meanwhile, is refused with the id that holds its answers now), then stores the
edit, audited, and shows the question's (the ideas') themes as they now stand.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bot.catalog import MAX_PROMOTED, PROMOTED_KINDS, Campaign, Task, text_in
from bot.context import Context, Services
from bot.features.moderation import Moderation
from bot.features.rounds.attention import attention_checks
from bot.features.rounds.lookup import pick_round, round_title
from bot.features.rounds.themes import IDEAS, RoundThemes, TaskThemes, ThemeCount, themed
from bot.features.themes.folding import fold
from bot.features.themes.promotions import Promotions
from bot.replies import Outcome, Reply
from bot.store.records import EditAction, NewThemeEdit, Promotion, RoundRecord
from bot.texts import Markup, clean_text, t

NAME_LIMIT = 80
"""Characters a theme's new name may have (``/results`` shows names up to this length)."""

OPTION_LIMIT = 60
"""Characters a promoted theme's name may have: it becomes a button (rename a longer one first)."""

LISTED = 15
"""Themes listed per question by ``/themes``, largest first; the rest are counted."""

MOVED_AT_MOST = 50
"""Answers ``/theme split`` moves out at once."""


IDEAS_PREFIX = "i"
"""What an ideas theme's id starts with (``i12``): an answer theme's id is a bare number."""


@dataclass(frozen=True, slots=True)
class ThemeId:
    """A theme's id as moderators type it: an answer's id (``12``), or an idea's for an ideas round's
    themes (``i12``), so the two kinds of id, both numbered from 1, never name each other's themes."""

    number: int
    ideas: bool = False

    def __str__(self) -> str:
        return f"{IDEAS_PREFIX if self.ideas else ''}{self.number}"


@dataclass(frozen=True, slots=True)
class _Found:
    """A theme id resolved: its round, question (``None`` for an ideas round's ideas) and its themes now."""

    record: RoundRecord
    campaign: Campaign | None
    task: Task | None
    themes: TaskThemes
    theme: ThemeCount

    @property
    def task_id(self) -> str:
        """The task id its edits are stored under."""
        return IDEAS if self.task is None else self.task.id


class ThemeEditing:
    """``/themes`` and ``/theme rename|merge|split|promote`` over one set of services."""

    def __init__(self, services: Services, moderation: Moderation, themes: RoundThemes, promotions: Promotions) -> None:
        self.services = services
        self.moderation = moderation
        self.themes = themes
        self.promotions = promotions

    # listing --------------------------------------------------------------------------------------

    async def listing(self, ctx: Context, round_id: int | None, task_id: str | None = None) -> Reply:
        """A round's themes (the latest round here by default), per typed question, with their ids.

        An ideas round's themes are listed with ``i`` ids (:class:`ThemeId`), and without promotion.
        """
        record = await pick_round(self.services, self.moderation, ctx, "themes", round_id, only_open=False)
        if isinstance(record, Reply):
            return record
        title = round_title(self.services, record.subject, ctx.language)
        lines = [t("themes.title", ctx.language, id=record.id, title=title)]
        if record.kind == "ideas":
            found = await self.themes.of_ideas(record.id, record.status != "open")
            lines += _theme_lines(found.themes, ctx.language, ideas=True)
            lines.append(t("themes.ideas_how", ctx.language))
            return Reply(Markup("\n".join(lines)), private=True)
        campaign = self.services.catalog.campaign(record.subject)
        if campaign is None:
            return Reply(Markup("\n".join([*lines, t("themes.no_questions", ctx.language)])), private=True)
        tasks = [task for task in campaign.tasks if themed(task) and task_id in (None, task.id)]
        if task_id is not None and not tasks:
            ids = ", ".join(task.id for task in campaign.tasks if themed(task)) or "—"
            return Reply(t("themes.unknown_question", ctx.language, id=task_id, ids=ids), Outcome.REFUSED)
        for task in tasks:
            found = await self._themes_of(record, campaign, task)
            lines.append(t("themes.question", ctx.language, prompt=text_in(task.prompt, ctx.language), id=task.id))
            lines += _theme_lines(found.themes, ctx.language)
        if len(lines) == 1:
            lines.append(t("themes.no_questions", ctx.language))
        lines.append(t("themes.how", ctx.language))
        return Reply(Markup("\n".join(lines)), private=True)

    async def _themes_of(self, record: RoundRecord, campaign: Campaign | None, task: Task | None) -> TaskThemes:
        """A question's themes now, or an ideas round's (``task`` ``None``)."""
        if campaign is None or task is None:
            return await self.themes.of_ideas(record.id, record.status != "open")
        checks = attention_checks(campaign)
        return await self.themes.of_task(record.id, task, record.status != "open", checks)

    # edits ----------------------------------------------------------------------------------------

    async def rename(self, ctx: Context, theme_id: ThemeId, name: str) -> Reply:
        """Call a theme ``name`` from now on, whatever the clustering finds later."""
        found = await self._find(ctx, "theme rename", theme_id)
        if isinstance(found, Reply):
            return found
        cleaned = clean_text(name)
        if not any(unicodedata.category(char)[0] not in "ZC" for char in cleaned) or len(cleaned) > NAME_LIMIT:
            return Reply(t("theme.bad_name", ctx.language, limit=NAME_LIMIT), Outcome.REFUSED)
        await self._store(ctx, found, EditAction.RENAME, (theme_id.number,), cleaned)
        return await self._after(ctx, found, t("theme.renamed", ctx.language, id=theme_id, name=cleaned))

    async def merge(self, ctx: Context, theme_ids: Sequence[ThemeId]) -> Reply:
        """Put the other themes' answers into the first one (any languages): it keeps its id and name."""
        found = await self._find(ctx, "theme merge", theme_ids[0]) if theme_ids else None
        if isinstance(found, Reply):
            return found
        distinct = list(dict.fromkeys(theme_ids))
        if found is None or len(distinct) < 2:
            return await self._usage(ctx, "theme merge")
        for other in distinct[1:]:
            joining = await self._find(ctx, "theme merge", other)
            if isinstance(joining, Reply):
                return joining
            if (joining.record.id, joining.task_id) != (found.record.id, found.task_id):
                return Reply(t("theme.other_question", ctx.language, id=other), Outcome.REFUSED)
        await self._store(ctx, found, EditAction.MERGE, tuple(theme_id.number for theme_id in distinct), "")
        merged = ", ".join(f"#{theme_id}" for theme_id in distinct[1:])
        return await self._after(ctx, found, t("theme.merged", ctx.language, ids=merged, id=distinct[0]))

    async def split(self, ctx: Context, theme_id: ThemeId, answer_ids: Sequence[int] = ()) -> Reply:
        """Cluster a theme's answers again, tighter; or, with ``answer_ids``, move those answers (ideas, for
        an ideas theme) out of it into a theme of their own."""
        found = await self._find(ctx, "theme split", theme_id)
        if isinstance(found, Reply):
            return found
        moving = list(dict.fromkeys(answer_ids))
        if len(moving) > MOVED_AT_MOST:
            return Reply(t("theme.too_many_moved", ctx.language, limit=MOVED_AT_MOST), Outcome.REFUSED)
        strangers = [answer for answer in moving if found.themes.of_answer.get(answer) != found.theme]
        if strangers:
            listed = ", ".join(f"#{answer}" for answer in strangers)
            key = "theme.ideas_not_in_theme" if found.task is None else "theme.not_in_theme"
            return Reply(t(key, ctx.language, answers=listed, id=theme_id), Outcome.REFUSED)
        if moving:
            await self._store(ctx, found, EditAction.MOVE, tuple(moving), "")
            key = "theme.ideas_moved" if found.task is None else "theme.moved"
            return await self._after(ctx, found, t(key, ctx.language, count=len(moving), id=theme_id))
        await self._store(ctx, found, EditAction.SPLIT, (theme_id.number,), "")
        now = await self._themes_of(found.record, found.campaign, found.task)
        parts = sum(1 for theme in now.themes if any(now.of_answer.get(a) == theme for a in _members(found)))
        nothing = "theme.ideas_split_nothing" if found.task is None else "theme.split_nothing"
        key = "theme.split" if parts > 1 else nothing
        return await self._after(ctx, found, t(key, ctx.language, id=theme_id, count=parts), now)

    async def promote(self, ctx: Context, theme_id: ThemeId) -> Reply:
        """Add the theme, by its name, as an option of its question in the campaign's next rounds.

        Stored as a catalog override (see :mod:`bot.features.themes.promotions`); two moderators
        promoting the same theme at once add it once, the database's constraint deciding.
        """
        found = await self._find(ctx, "theme promote", theme_id)
        if isinstance(found, Reply):
            return found
        label = found.theme.name
        if found.campaign is None or found.task is None:
            return Reply(t("theme.ideas_not_promotable", ctx.language), Outcome.REFUSED)
        if found.task.kind not in PROMOTED_KINDS:
            return Reply(t("theme.not_promotable", ctx.language), Outcome.REFUSED)
        if len(label) > OPTION_LIMIT:
            return Reply(t("theme.option_too_long", ctx.language, id=theme_id, limit=OPTION_LIMIT), Outcome.REFUSED)
        existing = [
            option
            for option in await self.promotions.all()
            if (option.space_id, option.campaign_id, option.task_id)
            == (found.record.space_id, found.campaign.id, found.task.id)
        ]
        if len(existing) + len(found.task.promoted) >= MAX_PROMOTED:
            return Reply(t("theme.options_full", ctx.language, limit=MAX_PROMOTED), Outcome.REFUSED)
        promotion = Promotion(
            found.campaign.id,
            found.task.id,
            fold(label),
            label,
            found.record.id,
            found.theme.key,
            found.record.space_id,
            ctx.user_id,
        )
        added = await self.services.store.themes.promote(promotion, self.services.clock())
        self.promotions.forget()
        if not added:
            return Reply(t("theme.already_promoted", ctx.language, name=label), Outcome.ALREADY_DONE, private=True)
        prompt = text_in(found.task.prompt, ctx.language)
        return Reply(t("theme.promoted", ctx.language, name=label, prompt=prompt), Outcome.DONE, private=True)

    # shared ---------------------------------------------------------------------------------------

    async def usage(self, ctx: Context) -> Reply:
        """``/theme`` typed wrong: not theirs for a member, how to type it for a moderator."""
        return await self._usage(ctx, "theme")

    async def _usage(self, ctx: Context, command: str) -> Reply:
        refusal = await self.moderation.refuse_unless_moderator(ctx, command)
        return refusal or Reply(t("theme.usage", ctx.language), Outcome.REFUSED)

    async def _find(self, ctx: Context, command: str, theme_id: ThemeId) -> _Found | Reply:
        """The theme ``theme_id`` names now, or a refusal (not a moderator, forged id, stale id)."""
        refusal = await self.moderation.refuse_unless_moderator(ctx, command)
        if refusal is not None:
            return refusal
        unknown = Reply(t("theme.unknown", ctx.language, id=theme_id), Outcome.REFUSED)
        place = await self._place(theme_id)
        record = await self.services.store.rounds.round(place[0]) if place else None
        if record is None or record.space_id != ctx.space_id or (record.kind == "ideas") != theme_id.ideas:
            return unknown
        campaign = None if theme_id.ideas else self.services.catalog.campaign(record.subject)
        task = campaign.task(place[1]) if campaign and place else None
        if not theme_id.ideas and (task is None or not themed(task)):
            return unknown
        themes = await self._themes_of(record, campaign, task)
        theme = themes.of_answer.get(theme_id.number)
        if theme is None:
            return unknown
        if theme.key != theme_id.number:
            now = ThemeId(theme.key, theme_id.ideas)
            return Reply(t("theme.stale", ctx.language, id=theme_id, now=now), Outcome.STALE)
        return _Found(record, campaign, task, themes, theme)

    async def _place(self, theme_id: ThemeId) -> tuple[int, str] | None:
        """(round id, task id) of the answer or idea a theme id is: where its theme belongs."""
        if not theme_id.ideas:
            return await self.services.store.themes.answer_round(theme_id.number)
        idea = await self.services.store.ideas.idea(theme_id.number)
        return None if idea is None or idea.round_id is None else (idea.round_id, IDEAS)

    async def _store(self, ctx: Context, found: _Found, action: EditAction, ids: tuple[int, ...], name: str) -> None:
        edit = NewThemeEdit(found.record.id, found.task_id, action, ids, name, ctx.space_id, ctx.user_id)
        await self.services.store.themes.add_edit(edit, self.services.clock())

    async def _after(self, ctx: Context, found: _Found, done: Markup, now: TaskThemes | None = None) -> Reply:
        """What a moderator sees after an edit: what changed, and the question's themes as they now stand."""
        themes = now or await self._themes_of(found.record, found.campaign, found.task)
        lines = [done]
        if found.task is not None:
            prompt = text_in(found.task.prompt, ctx.language)
            lines.append(t("themes.question", ctx.language, prompt=prompt, id=found.task.id))
        lines += _theme_lines(themes.themes, ctx.language, ideas=found.task is None)
        return Reply(Markup("\n".join(lines)), Outcome.DONE, private=True)


def _members(found: _Found) -> list[int]:
    """The answers of the theme as it was found (before the edit)."""
    return [answer for answer, theme in found.themes.of_answer.items() if theme == found.theme]


def _theme_lines(themes: Sequence[ThemeCount], language: str, *, ideas: bool = False) -> list[Markup]:
    """One line per theme (id, name, count, top words), the largest :data:`LISTED`, then how many more;
    ideas' themes with their ``i`` ids (:class:`ThemeId`)."""
    if not themes:
        return [t("themes.none", language)]
    key = "themes.idea_line" if ideas else "themes.line"
    lines = [
        t(key, language, id=ThemeId(theme.key, ideas), name=_short(theme.name), count=theme.count, terms=terms)
        for theme in themes[:LISTED]
        for terms in [", ".join(theme.terms)]
    ]
    if len(themes) > LISTED:
        lines.append(t("themes.more", language, count=len(themes) - LISTED))
    return lines


def _short(text: str) -> str:
    return text if len(text) <= NAME_LIMIT else text[: NAME_LIMIT - 1] + "…"
