"""The task catalog: campaigns of micro-tasks and idea topics, read from ``tasks_catalog/*.toml``.

Validated with pydantic when the bot starts and by ``crowdpulse catalog check``. A bad file stops the
start with one line per problem naming the file, the task and the field, rather than running half a
catalog. Every user-facing text may be a plain string or a table of translations (``{en = "…", ro = "…"}``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Self

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


CHOICE_KINDS = frozenset({TaskKind.SINGLE_CHOICE, TaskKind.MULTI_CHOICE, TaskKind.IMAGE_LABEL})
# The kinds an attention check can be: one answer, so "picked the instructed one or not" is a single comparison
ATTENTION_KINDS = frozenset({TaskKind.SINGLE_CHOICE, TaskKind.IMAGE_LABEL, TaskKind.YES_NO_OTHER})


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


class Condition(_Strict):
    """Show a task only to users whose earlier answer to ``task`` was one of ``is_any``."""

    task: str
    is_any: list[str] = Field(min_length=1)


class Audience(_Strict):
    languages: list[str] = Field(default_factory=list)
    answered: Condition | None = None


class Task(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    kind: TaskKind
    prompt: LocalizedText
    options: list[LocalizedText] = Field(default_factory=list)
    min_picks: int = Field(default=1, ge=0)
    max_picks: int | None = None
    max_length: int = Field(default=280, ge=1, le=4000)
    image: str = ""
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

    @model_validator(mode="after")
    def _kind_rules(self) -> Self:
        choice_kind = self.kind in CHOICE_KINDS
        if choice_kind and not 2 <= len(self.options) <= MAX_OPTIONS:
            raise ValueError(f"options: a {self.kind} task needs 2 to {MAX_OPTIONS} options")
        if not choice_kind and self.options:
            raise ValueError(f"options: a {self.kind} task takes no options")
        if self.kind == TaskKind.IMAGE_LABEL and not self.image:
            raise ValueError("image: an image_label task needs an image path or URL")
        if self.kind == TaskKind.MULTI_CHOICE:
            top = self.max_picks if self.max_picks is not None else len(self.options)
            if not 1 <= self.min_picks <= top <= len(self.options):
                raise ValueError("max_picks: need 1 <= min_picks <= max_picks <= number of options")
        if self.known_answer is not None and self.known_answer not in self.answer_keys():
            raise ValueError(f"known_answer: {self.known_answer!r} is not one of {sorted(self.answer_keys())}")
        if self.attention:
            self._attention_rules()
        return self

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


class Campaign(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    title: LocalizedText
    objective: LocalizedText
    auto_open: bool = True
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
                unknown = set(condition.is_any) - earlier.answer_keys()
                if unknown:
                    raise ValueError(f"audience.answered.is_any: {sorted(unknown)} are not answers of {earlier.id!r}")
            seen[task.id] = task
        return self

    def task(self, task_id: str) -> Task | None:
        return next((task for task in self.tasks if task.id == task_id), None)


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

    def __init__(self, campaigns: Iterable[Campaign], topics: Iterable[Topic]) -> None:
        self.campaigns = {campaign.id: campaign for campaign in campaigns}
        self.topics = {topic.id: topic for topic in topics}

    def campaign(self, campaign_id: str) -> Campaign | None:
        return self.campaigns.get(campaign_id)

    def topic(self, topic_id: str) -> Topic | None:
        return self.topics.get(topic_id)

    def summary(self) -> str:
        """What the catalog holds ("2 campaigns, 9 tasks, 1 topic"), as the CLI and the doctor report it."""
        tasks = sum(len(campaign.tasks) for campaign in self.campaigns.values())
        counts = {"campaigns": len(self.campaigns), "tasks": tasks, "topics": len(self.topics)}
        return ", ".join(operator_text(what, count=count) for what, count in counts.items())


def load_catalog(directory: Path) -> Catalog:
    """Read and validate every ``*.toml`` in ``directory``.

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
    if problems:
        raise CatalogError(problems)
    return Catalog(campaigns, topics)


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
