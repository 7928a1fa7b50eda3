"""The task catalog: campaigns of micro-tasks and idea topics, read from ``tasks_catalog/*.toml``.

Validated with pydantic when the bot starts and by ``crowdpulse catalog check``. A bad file stops the
start with one line per problem naming the file, the task and the field, rather than running half a
catalog. Every user-facing text may be a plain string or a table of translations (``{en = "…", ro = "…"}``).

A labelling job is a task naming an item file (``items = "photos.csv"``): one task, many items, each
answered by several members (``overlap``), judged by the campaign's ``[campaign.quality]`` rules. The
item files themselves are read by :mod:`bot.catalog_items`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.catalog_items import Item, ItemFiles
from bot.texts import operator_text

MAX_OPTIONS = 25  # Discord select menus and our 64-byte tokens both stay comfortable below this


class TaskKind(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTI_CHOICE = "multi_choice"
    YES_NO_OTHER = "yes_no_other"
    RATING = "rating"
    NPS = "nps"
    FREE_TEXT = "free_text"
    IMAGE_LABEL = "image_label"
    IDEA_PAIR = "idea_pair"  # "which would you rather see?": two of the space's ideas (bot.features.pairs)


CHOICE_KINDS = frozenset({TaskKind.SINGLE_CHOICE, TaskKind.MULTI_CHOICE, TaskKind.IMAGE_LABEL})
# The kinds an attention check can be: one answer, so "picked the instructed one or not" is a single comparison
ATTENTION_KINDS = frozenset({TaskKind.SINGLE_CHOICE, TaskKind.IMAGE_LABEL, TaskKind.YES_NO_OTHER})
# The kinds a labelling job can be: one answer per item, which agreement between members can settle
JOB_KINDS = frozenset({TaskKind.IMAGE_LABEL, TaskKind.SINGLE_CHOICE, TaskKind.YES_NO_OTHER, TaskKind.FREE_TEXT})
# The kinds a theme of typed answers can be promoted to an option of (``promoted``): tapping one records
# the option's words as the typed answer, so tallies, themes and exports read it like any other
PROMOTED_KINDS = frozenset({TaskKind.FREE_TEXT, TaskKind.YES_NO_OTHER})
MAX_PROMOTED = 8  # promoted options per question: a few rows of buttons under it, not a wall


def _localized(value: Any) -> Any:
    return {"en": value} if isinstance(value, str) else value


class Localized(dict[str, str]):
    """A text with translations; ``in_(lang)`` falls back to English, then to any translation."""

    def in_(self, language: str) -> str:
        return self.get(language) or self.get("en") or next(iter(self.values()), "")


LocalizedText = Annotated[dict[str, Annotated[str, Field(min_length=1)]], BeforeValidator(_localized)]


def text_in(text: Mapping[str, str], language: str) -> str:
    return Localized(text).in_(language)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Overlap(_Strict):
    """How many members answer each item of a labelling job: at least ``min``; more, up to ``max``,
    while the leading answer is less likely than ``confidence`` to be the right one."""

    min: int = Field(default=3, ge=1)
    max: int = Field(default=7, ge=1, le=50)
    confidence: float = Field(default=0.9, gt=0.5, lt=1)

    @model_validator(mode="after")
    def _min_below_max(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is more than max ({self.max})")
        return self


class Quality(_Strict):
    """A campaign's rules for judging labelling answers with its hidden gold items."""

    gold_share: float = Field(default=0.1, ge=0, le=0.5)  # about this share of served items are gold
    min_gold: int = Field(default=3, ge=1)  # a member is judged only after this many gold answers
    exclude_below: float = Field(default=0.6, ge=0, le=1)  # smoothed gold accuracy under this: left out
    min_seconds: float = Field(default=2, ge=0)  # answers faster than this are flagged "too fast"
    pay_on_agreement: bool = False  # labelling points credited when the item resolves to the answer
    aggregation: Literal["posterior", "dawid_skene", "majority"] = "posterior"


class Condition(_Strict):
    """Show a task only to users whose earlier answer to ``task`` was one of ``is_any``."""

    task: str
    is_any: list[str] = Field(min_length=1)

    @cached_property
    def answers(self) -> frozenset[str]:
        """``is_any`` as a set: matched against a member's answer on every tap's path."""
        return frozenset(self.is_any)


class Audience(_Strict):
    languages: list[str] = Field(default_factory=list)
    answered: Condition | None = None


class Task(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    kind: TaskKind
    prompt: LocalizedText
    options: list[LocalizedText] = Field(default_factory=list)
    # Options promoted from the themes of earlier rounds' typed answers (``/theme promote``): the bot adds
    # them from its database (``crowdpulse catalog check`` lists them); an operator may copy them here.
    promoted: list[LocalizedText] = Field(default_factory=list, max_length=MAX_PROMOTED)
    min_picks: int = Field(default=1, ge=0)
    max_picks: int | None = None
    max_length: int = Field(default=280, ge=1, le=4000)
    image: str = ""
    items: str = ""  # a labelling job's item file (CSV), beside the catalog file
    overlap: Overlap = Field(default_factory=Overlap)
    points: int | None = Field(default=None, ge=0)
    known_answer: str | None = None
    attention: bool = False  # an instructed item ("pick Latte"): ``known_answer`` is the instruction
    quota: int | None = Field(default=None, ge=1)
    audience: Audience = Field(default_factory=Audience)

    @cached_property
    def for_everyone(self) -> bool:
        """No quota, no language and no earlier answer decides who sees it: asked on every tap's path."""
        return self.quota is None and not self.audience.languages and self.audience.answered is None

    @cached_property
    def is_job(self) -> bool:
        """A labelling job: one task, many items from its item file."""
        return bool(self.items)

    @cached_property
    def answer_labels(self) -> tuple[str, ...]:
        """The options' English labels: the keys conditions and gold answers name, read on every tap."""
        return tuple(text_in(option, "en") for option in self.options)

    @field_validator("image")
    @classmethod
    def _image_beside_the_file(cls, value: str, info: ValidationInfo) -> str:
        """A relative image path is relative to the catalog file; URLs stay as they are."""
        base = (info.context or {}).get("base")
        if not value or value.startswith(("http://", "https://")) or base is None:
            return value
        path = Path(base) / value
        if not path.is_file():
            raise ValueError(f"no image file at {path}")
        return str(path)

    @field_validator("items")
    @classmethod
    def _items_beside_the_file(cls, value: str, info: ValidationInfo) -> str:
        """An item file is relative to the catalog file, like an image."""
        base = (info.context or {}).get("base")
        if not value or base is None:
            return value
        path = Path(base) / value
        if not path.is_file():
            raise ValueError(f"no item file at {path}")
        return str(path)

    @model_validator(mode="after")
    def _kind_rules(self) -> Self:
        choice_kind = self.kind in CHOICE_KINDS
        if choice_kind and not 2 <= len(self.options) <= MAX_OPTIONS:
            raise ValueError(f"options: a {self.kind} task needs 2 to {MAX_OPTIONS} options")
        if not choice_kind and self.options:
            raise ValueError(f"options: a {self.kind} task takes no options")
        if self.promoted and (self.kind not in PROMOTED_KINDS or self.items):
            raise ValueError("promoted: only a free_text or yes_no_other question (not a job) takes promoted options")
        if self.kind == TaskKind.IMAGE_LABEL and not self.image and not self.items:
            raise ValueError("image: an image_label task needs an image path or URL (or items, for a job)")
        if self.kind == TaskKind.MULTI_CHOICE:
            top = self.max_picks if self.max_picks is not None else len(self.options)
            if not 1 <= self.min_picks <= top <= len(self.options):
                raise ValueError("max_picks: need 1 <= min_picks <= max_picks <= number of options")
        if self.known_answer is not None and self.known_answer not in self.answer_keys():
            raise ValueError(f"known_answer: {self.known_answer!r} is not one of {sorted(self.answer_keys())}")
        if self.attention:
            self._attention_rules()
        if self.items:
            self._job_rules()
        elif "overlap" in self.model_fields_set:
            raise ValueError("overlap: only a labelling job (a task with items) has an overlap")
        return self

    def _job_rules(self) -> None:
        """A job's items carry its images and gold, and overlap (not a quota) bounds its answers."""
        if self.kind not in JOB_KINDS:
            kinds = ", ".join(sorted(JOB_KINDS))
            raise ValueError(f"items: a {self.kind} task cannot be a labelling job (only {kinds})")
        if self.image:
            raise ValueError("image: a labelling job's images are in its item file, not the task")
        if self.known_answer is not None:
            raise ValueError("known_answer: a labelling job's gold answers are in its item file's known_answer")
        if self.quota is not None:
            raise ValueError("quota: a labelling job takes no quota (overlap bounds the answers to each item)")
        if self.attention:
            raise ValueError("attention: a labelling job cannot be an attention check (its gold items check)")

    def _attention_rules(self) -> None:
        """An attention check compares one stored value with the instructed one: so one pick, a known
        answer to compare with, and not "other", whose typed words no comparison could judge."""
        if self.kind not in ATTENTION_KINDS:
            kinds = ", ".join(sorted(ATTENTION_KINDS))
            raise ValueError(f"attention: a {self.kind} task cannot be an attention check (only {kinds})")
        if self.known_answer is None:
            raise ValueError("attention: an attention check needs a known_answer (the instructed answer)")
        if self.kind == TaskKind.YES_NO_OTHER and self.known_answer == "other":
            raise ValueError("attention: the instructed answer of a yes_no_other check must be yes or no")

    @property
    def pick_range(self) -> tuple[int, int]:
        return self.min_picks, self.max_picks if self.max_picks is not None else len(self.options)

    def option_labels(self, language: str) -> list[str]:
        if self.kind == TaskKind.YES_NO_OTHER:
            return []
        return [text_in(option, language) for option in self.options]

    def answer_keys(self) -> set[str]:
        """The canonical values an answer can take, as strings (audience conditions, known answers)."""
        if self.kind in CHOICE_KINDS:
            return set(self.answer_labels)
        if self.kind == TaskKind.YES_NO_OTHER:
            return {"yes", "no", "other"}
        if self.kind == TaskKind.RATING:
            return {str(n) for n in range(1, 6)}
        if self.kind == TaskKind.NPS:
            return {str(n) for n in range(11)}
        return set()


@dataclass(frozen=True, slots=True)
class Audienced:
    """A task not every member sees, as plain values: whether a member sees it is worked out on every
    tap, and reading a pydantic model's attribute costs about twice a plain one's."""

    index: int  # in its campaign
    task_id: str
    quota: int | None
    languages: frozenset[str]  # empty: every language
    earlier: Task | None  # asked only after one of ``answers`` to this earlier task (None: no such condition)
    answers: frozenset[str]


class Campaign(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    title: LocalizedText
    objective: LocalizedText
    auto_open: bool = True
    quality: Quality = Field(default_factory=Quality)
    tasks: list[Task] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _unique_tasks_and_known_conditions(self) -> Self:
        seen: dict[str, Task] = {}
        for task in self.tasks:
            if task.id in seen:
                raise ValueError(f"tasks: task id {task.id!r} appears twice")
            condition = task.audience.answered
            if condition is not None:
                earlier = seen.get(condition.task)
                if earlier is None:
                    raise ValueError(f"audience.answered.task: {condition.task!r} is not an earlier task")
                if earlier.is_job:
                    raise ValueError(
                        f"audience.answered.task: {condition.task!r} is a labelling job, with no single answer"
                    )
                unknown = set(condition.is_any) - earlier.answer_keys()
                if unknown:
                    raise ValueError(f"audience.answered.is_any: {sorted(unknown)} are not answers of {earlier.id!r}")
            seen[task.id] = task
        return self

    def task(self, task_id: str) -> Task | None:
        return self._tasks_by_id.get(task_id)

    @cached_property
    def _tasks_by_id(self) -> dict[str, Task]:
        return {task.id: task for task in self.tasks}

    @cached_property
    def condition_task_ids(self) -> frozenset[str]:
        """The tasks whose answer decides who sees a later one: read with the member's progress on every tap."""
        return frozenset(task.audience.answered.task for task in self.tasks if task.audience.answered)

    @cached_property
    def everyone_task_indices(self) -> tuple[int, ...]:
        """The tasks every member sees (:attr:`Task.for_everyone`), by index: which tasks a member sees is
        worked out on every tap, and only the others' audiences need a look."""
        return tuple(index for index, task in enumerate(self.tasks) if task.for_everyone)

    @cached_property
    def audienced(self) -> tuple[Audienced, ...]:
        """The tasks whose quota, languages or earlier answer decide who sees them (see :class:`Audienced`)."""
        audienced = []
        for index, task in enumerate(self.tasks):
            if not task.for_everyone:
                condition = task.audience.answered  # validated: it names an earlier task of the campaign
                earlier = None if condition is None else self._tasks_by_id[condition.task]
                answers = frozenset() if condition is None else condition.answers
                languages = frozenset(task.audience.languages)
                audienced.append(Audienced(index, task.id, task.quota, languages, earlier, answers))
        return tuple(audienced)

    @cached_property
    def quota_task_ids(self) -> tuple[str, ...]:
        """The tasks that take a limited number of answers: the progress read counts their answers."""
        return tuple(task.id for task in self.tasks if task.quota is not None)


class Topic(_Strict):
    """An ideas topic: what the community is asked to propose."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    title: LocalizedText
    prompt: LocalizedText
    categories: list[str] = Field(default_factory=list)


class CatalogFile(_Strict):
    campaign: Campaign | None = None
    topics: list[Topic] = Field(default_factory=list)


class CatalogError(Exception):
    """The catalog cannot be used; ``problems`` holds one readable line per fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Catalog:
    """All campaigns and topics, indexed by id."""

    def __init__(
        self, campaigns: Iterable[Campaign], topics: Iterable[Topic], item_files: ItemFiles | None = None
    ) -> None:
        self.campaigns = {campaign.id: campaign for campaign in campaigns}
        self.topics = {topic.id: topic for topic in topics}
        self.item_files = item_files if item_files is not None else ItemFiles()

    def jobs(self) -> list[Task]:
        """Every labelling job of every campaign."""
        return [task for campaign in self.campaigns.values() for task in campaign.tasks if task.is_job]

    def items(self, task: Task) -> tuple[Item, ...]:
        """A labelling job's items, as its file holds them now (see :class:`ItemFiles`)."""
        return self.item_files.items(task)

    def campaign(self, campaign_id: str) -> Campaign | None:
        return self.campaigns.get(campaign_id)

    def topic(self, topic_id: str) -> Topic | None:
        return self.topics.get(topic_id)

    def summary(self) -> str:
        """What the catalog holds ("2 campaigns, 10 tasks, 1 topic, 12 items"), as the CLI and the doctor
        report it; items are counted only when the catalog has labelling jobs."""
        tasks = sum(len(campaign.tasks) for campaign in self.campaigns.values())
        counts = {"campaigns": len(self.campaigns), "tasks": tasks, "topics": len(self.topics)}
        jobs = self.jobs()
        if jobs:
            counts["items"] = sum(len(self.items(task)) for task in jobs)
        return ", ".join(operator_text(what, count=count) for what, count in counts.items())


def load_catalog(directory: Path) -> Catalog:
    """Read and validate every ``*.toml`` in ``directory``.

    Every labelling job's item file is read too: its problems are among the catalog's, each naming the
    item file and line.

    Raises:
        CatalogError: with every problem found, each naming file, task and field.
    """
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise CatalogError([f"{directory}: no *.toml catalog files found"])
    problems: list[str] = []
    campaigns: list[Campaign] = []
    topics: list[Topic] = []
    owners: dict[str, Path] = {}
    item_files = ItemFiles()
    for path in files:
        parsed = _load_file(path, problems)
        if parsed is None:
            continue
        found = ([parsed.campaign] if parsed.campaign else []) + list(parsed.topics)
        for item in found:
            if item.id in owners:
                problems.append(f"{path}: id {item.id!r} is already used in {owners[item.id]}")
            owners[item.id] = path
        campaigns.extend([parsed.campaign] if parsed.campaign else [])
        topics.extend(parsed.topics)
        for task in parsed.campaign.tasks if parsed.campaign else []:
            if task.is_job:
                problems.extend(item_files.refresh(task))
    if problems:
        raise CatalogError(problems)
    return Catalog(campaigns, topics, item_files)


def _load_file(path: Path, problems: list[str]) -> CatalogFile | None:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        problems.append(f"{path}: cannot read: {error}")
        return None
    try:
        return CatalogFile.model_validate(raw, context={"base": path.parent})
    except ValidationError as error:
        problems.extend(f"{path}: {_describe(raw, err['loc'], err['msg'])}" for err in error.errors())
        return None


def _describe(raw: dict[str, Any], location: tuple[int | str, ...], message: str) -> str:
    """Name the task (or campaign/topic) and the field a pydantic error points at."""
    where: list[str] = []
    node: Any = raw
    field_path: list[str] = []
    for step in location:
        node = node[step] if isinstance(node, dict | list) and _has(node, step) else None  # type: ignore[index]  # _has() matched the step to the node
        if isinstance(step, int) and isinstance(node, dict):
            owner = "task" if field_path[-1:] == ["tasks"] else "topic"
            where.append(f"{owner} {node.get('id', f'#{step + 1}')!r}")
            field_path = []
        elif isinstance(step, str) and step not in ("campaign",):
            field_path.append(step)
        elif step == "campaign" and isinstance(node, dict):
            where.append(f"campaign {node.get('id', '?')!r}")
    fields = [part for part in field_path if part != "tasks" and part != "topics"]
    detail = message.removeprefix("Value error, ")
    field = ".".join(fields) if fields else "(whole entry)"
    if ":" in detail and not fields:
        field, _, detail = detail.partition(":")
        detail = detail.strip()
    return f"{' '.join(where) or 'file'}: field {field}: {detail}"


def _has(node: dict[str, Any] | list[Any], step: int | str) -> bool:
    if isinstance(node, dict):
        return step in node
    return isinstance(step, int) and 0 <= step < len(node)
