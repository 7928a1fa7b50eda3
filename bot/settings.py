"""Settings: ``settings.toml`` for defaults, ``CROWDPULSE_*`` environment variables for overrides.

Which file is read, and which catalog folder is used, is :mod:`bot.starter`'s lookup order.

Nested fields use ``__`` (``CROWDPULSE_STORAGE__PATH``). Secrets (bot tokens, the webhook secret, the
action signing key) are accepted only from the environment: a secret found in the TOML file is refused
at start-up, so nobody commits one by accident. Secrets are :class:`pydantic.SecretStr`, which never
prints its value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.starter import SETTINGS_FILE_ENV as SETTINGS_FILE_ENV  # re-exported: where tests and tools look
from bot.starter import Chosen, catalog_folder, settings_file

_SECRET_FIELDS = {
    ("telegram", "token"),
    ("telegram", "webhook_secret"),
    ("discord", "token"),
    ("secret_key",),
}


class StorageSettings(BaseModel):
    """Where answers, ideas and the ledger live."""

    url: str = ""
    path: Path = Path("crowdpulse.db")
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    busy_timeout_ms: int = Field(default=5000, ge=0)
    # Units one SQLite group commit takes at most. Not all that wait: while the writer commits 128, the event
    # loop is already preparing the next answers (SQLite works without the GIL), where 512 left the two
    # threads taking turns (bench/throughput.py, 1,000 members: steadier and faster at 128).
    max_batch: int = Field(default=128, ge=1)
    writers: int = Field(default=4, ge=1, le=64)  # PostgreSQL: write transactions at once per process


class TelegramSettings(BaseModel):
    token: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""
    webhook_listen: str = "0.0.0.0"  # noqa: S104 - a webhook server must accept the platform's requests
    webhook_port: int = 8443
    webhook_secret: SecretStr | None = None
    moderators: list[str] = Field(default_factory=list)
    bot_username: str = ""
    poll_timeout: int = Field(default=30, ge=0, le=50)


class DiscordSettings(BaseModel):
    """Discord: the bot's token and endpoints, where commands are synced, who moderates, and sharding.

    ``shard_count`` and ``shard_ids`` let a big community run several processes on one database: every
    process gets the same ``shard_count`` and its own ``shard_ids``, so Discord sends each server's
    events (``(server id >> 22) % shard_count``) to exactly one of them. Neither set: one process runs
    every shard, as many as Discord recommends.
    """

    token: SecretStr | None = None
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    guild_ids: list[int] = Field(default_factory=list)
    moderator_role: str = "CrowdPulse Moderator"
    moderators: list[str] = Field(default_factory=list)
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: list[int] | None = None

    @model_validator(mode="after")
    def _shard_ids_fit_the_count(self) -> Self:
        """Refuse at start-up what would otherwise fail later or silently: discord.py raises only once
        the client is built, runs *every* shard for an empty list, and Discord closes the gateway for an
        id outside the count; a shard named twice, or by two processes, answers each interaction twice."""
        ids, count = self.shard_ids, self.shard_count
        if ids is None:
            return self
        if count is None:
            raise ValueError(
                "discord.shard_ids needs discord.shard_count (CROWDPULSE_DISCORD__SHARD_COUNT): "
                "the same total in every process"
            )
        if not ids:
            raise ValueError("discord.shard_ids is empty: name this process's shards, or leave it out to run all")
        outside = sorted({shard for shard in ids if not 0 <= shard < count})
        if outside:
            raise ValueError(f"discord.shard_ids {outside} outside 0..{count - 1}: discord.shard_count is {count}")
        twice = sorted({shard for shard in ids if ids.count(shard) > 1})
        if twice:
            raise ValueError(f"discord.shard_ids names shards {twice} more than once: {ids}")
        return self


class ConsoleSettings(BaseModel):
    moderators: list[str] = Field(default_factory=lambda: ["mod"])


FollowUp = Literal["edit", "keep"]


class ChatSettings(BaseModel):
    """How a tapped answer is followed up in a private chat (a group always keeps its question).

    ``follow_up = "edit"``: the tapped question becomes the next one and the toast confirms the choice
    ("✅ Tea, +5"): two requests per tap. ``"keep"``: the question stays, answered (the choice below
    it, no buttons), and the next one is a new message: three requests per tap, a scrollable record.
    The README's Configuration section says why the default is what it is.
    """

    follow_up: FollowUp = "edit"


# badges (gamification: bot/rewards.py) ---------------------------------------------------------------

BadgeCounter = Literal["answers", "ideas", "ideas_accepted", "ideas_launched", "votes"]
"""What a member does that a badge can count (kept per member in ``user_counters``)."""


class BadgeRule(BaseModel):
    """A badge earned once, when ``counter`` (or the answering ``streak``) reaches ``at_least``.

    ``title_key`` names the badge's title in ``bot/locales`` (``badge.first_answer``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    title_key: str
    counter: BadgeCounter | Literal["streak"]
    at_least: int = Field(ge=1)


def _default_badges() -> list[BadgeRule]:
    rules: list[tuple[str, BadgeCounter | Literal["streak"], int]] = [
        ("first_answer", "answers", 1),
        ("answers_10", "answers", 10),
        ("answers_100", "answers", 100),
        ("first_idea", "ideas", 1),
        ("idea_accepted", "ideas_accepted", 1),
        ("idea_launched", "ideas_launched", 1),
        ("streak_7", "streak", 7),
        ("top_voter", "votes", 25),
    ]
    return [
        BadgeRule(id=badge_id, title_key=f"badge.{badge_id}", counter=counter, at_least=at_least)
        for badge_id, counter, at_least in rules
    ]


class PointsSettings(BaseModel):
    """Point rules; a task's own ``points`` overrides the per-kind default."""

    per_kind: dict[str, int] = Field(
        default_factory=lambda: {
            "single_choice": 5,
            "multi_choice": 5,
            "yes_no_other": 3,
            "rating": 3,
            "nps": 5,
            "free_text": 10,
            "image_label": 5,
            "idea_pair": 2,
        }
    )
    welcome_bonus: int = Field(default=10, ge=0)
    daily_cap: int = Field(default=500, ge=0)
    streak_bonus: int = Field(default=5, ge=0)
    known_answer_bonus: int = Field(default=0, ge=0)
    badges: list[BadgeRule] = Field(default_factory=_default_badges)

    @field_validator("badges")
    @classmethod
    def _unique_badge_ids(cls, badges: list[BadgeRule]) -> list[BadgeRule]:
        ids = [badge.id for badge in badges]
        if len(set(ids)) != len(ids):
            raise ValueError(f"badge ids must be unique: {ids}")
        return badges


class IdeaSettings(BaseModel):
    min_length: int = Field(default=15, ge=1)
    max_length: int = Field(default=500, ge=10)
    similarity_threshold: float = Field(default=62.0, ge=0, le=100)
    categories: list[str] = Field(default_factory=list)
    moderation_queue: bool = False
    points_per_upvote: int = 2
    upvote_points_cap: int = 50
    accepted_bonus: int = 50
    launched_bonus: int = 100
    early_supporters: int = Field(default=10, ge=0)  # the first voters of a launched idea who share in it
    early_supporter_bonus: int = Field(default=20, ge=0)  # points each of them gets, once per idea
    page_size: int = Field(default=5, ge=1, le=10)


class RoundSettings(BaseModel):
    """Rounds: points for an ideas round's winners (1st, 2nd, …) and how often deadlines are checked."""

    winner_points: list[int] = Field(default_factory=lambda: [50, 30, 20])
    deadline_check_seconds: float = Field(default=15.0, gt=0)


class LimitSettings(BaseModel):
    """Per-member rate limits: interactions of any kind, and idea submissions."""

    per_second: float = Field(default=2.0, gt=0)
    burst: int = Field(default=15, ge=1)
    ideas_per_hour: int = Field(default=10, ge=1)
    tracked_members: int = Field(default=100_000, ge=100)


class AccountSettings(BaseModel):
    """Linked accounts: how long a link stays before ``/unlink`` may split it (points moved are not
    moved back, so a short cooldown would only let a member juggle one wallet between platforms)."""

    unlink_cooldown_days: int = Field(default=7, ge=0)


class CatalogSettings(BaseModel):
    """Where the campaigns and topics are; unset: ``./tasks_catalog``, else the packaged starter."""

    path: Path | None = None


class ExportSettings(BaseModel):
    include_names: bool = False


class ResultSettings(BaseModel):
    """Results: below ``min_answers`` answers a question's numbers say "too few answers to tell"
    instead of intervals, a margin of error and a tie (a 95 % interval over a handful is mostly noise)."""

    min_answers: int = Field(default=10, ge=1)


class CommunitySettings(BaseModel):
    """A community the operator declares: its spaces as ``"platform:id"`` (``"telegram:-100123"``,
    ``"discord:456"``), the first one its home. Applied at every start; the operator's word wins over
    links moderators made with ``/community join``."""

    name: str = ""
    spaces: list[str] = Field(min_length=2)

    @field_validator("spaces")
    @classmethod
    def _platform_and_id(cls, spaces: list[str]) -> list[str]:
        for space in spaces:
            platform, _, external_id = space.partition(":")
            if not platform or not external_id:
                raise ValueError(f"community space {space!r} is not platform:id (e.g. telegram:-100123)")
        if len(set(spaces)) != len(spaces):
            raise ValueError("a community lists a space twice")
        return spaces

    @property
    def space_keys(self) -> list[tuple[str, str]]:
        """The spaces as ``(platform, external id)``, the home first."""
        return [(space.partition(":")[0], space.partition(":")[2]) for space in self.spaces]


class DashboardSettings(BaseModel):
    """The web dashboard ``crowdpulse run`` serves beside the adapters (``crowdpulse dashboard`` alone).

    ``public_url`` is the address teammates open (behind a reverse proxy with HTTPS, say); empty: the
    listening address. Sign-in links from ``/dashboard`` point there and live ``link_minutes``.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = ""
    link_minutes: int = Field(default=10, ge=1, le=60)
    session_hours: int = Field(default=12, ge=1, le=24 * 30)

    @property
    def address(self) -> str:
        """Where teammates open it: ``public_url`` or the listening address."""
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


class Settings(BaseSettings):
    """All of CrowdPulse's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="CROWDPULSE_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    catalog_dir: Path | None = None  # the old name of catalog.path, still read
    default_language: str = "en"
    timezone: str = "UTC"
    secret_key: SecretStr | None = None
    storage: StorageSettings = Field(default_factory=StorageSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    points: PointsSettings = Field(default_factory=PointsSettings)
    ideas: IdeaSettings = Field(default_factory=IdeaSettings)
    rounds: RoundSettings = Field(default_factory=RoundSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    results: ResultSettings = Field(default_factory=ResultSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    communities: list[CommunitySettings] = Field(default_factory=list)
    accounts: AccountSettings = Field(default_factory=AccountSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)

    @model_validator(mode="after")
    def _catalog_dir_is_catalog_path(self) -> Self:
        """``catalog_dir`` (before ``[catalog] path``) keeps working, as another name for the same setting.

        No DeprecationWarning: operators do not read warnings; ``crowdpulse doctor`` tells them instead."""
        if self.catalog_dir is None:
            return self
        if self.catalog.path is not None and self.catalog.path != self.catalog_dir:
            raise ValueError(
                f"catalog_dir ({self.catalog_dir}) and catalog.path ({self.catalog.path}) disagree: "
                "catalog_dir is the old name of catalog.path, keep only catalog.path"
            )
        self.catalog.path = self.catalog_dir
        return self

    @field_validator("communities")
    @classmethod
    def _a_space_in_one_community(cls, communities: list[CommunitySettings]) -> list[CommunitySettings]:
        """A space belongs to one community: listed in two, the later would silently win at every start."""
        seen: dict[str, str] = {}
        for community in communities:
            for space in community.spaces:
                if space in seen:
                    raise ValueError(f"space {space!r} is in two communities ({seen[space]!r} and {community.name!r})")
                seen[space] = community.name
        return communities

    @property
    def catalog_location(self) -> Chosen:
        """The catalog folder in use and why (``catalog.path``, ``./tasks_catalog`` or the packaged one)."""
        return catalog_folder(self.catalog.path)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    def moderators_for(self, platform: str) -> list[str]:
        """Platform user ids that moderate every space on ``platform``, from settings."""
        sections: dict[str, TelegramSettings | DiscordSettings | ConsoleSettings] = {
            "telegram": self.telegram,
            "discord": self.discord,
            "console": self.console,
        }
        section = sections.get(platform)
        return [str(user_id) for user_id in section.moderators] if section is not None else []

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _SecretFreeToml(settings_cls))


class _SecretFreeToml(TomlConfigSettingsSource):
    """The TOML file source, refusing any secret written into the file."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls, toml_file=settings_file().path)

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        for path in _SECRET_FIELDS:
            node: Any = values
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            if node:
                name = "CROWDPULSE_" + "__".join(part.upper() for part in path)
                raise ValueError(f"{'.'.join(path)} is a secret: set it in the environment ({name}), not in the file")
        return values


def load_settings(**overrides: Any) -> Settings:
    """Read settings the documented way; keyword overrides win (tests, the demo)."""
    return Settings(**overrides)
