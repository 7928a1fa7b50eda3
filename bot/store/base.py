"""The store: a database's primitives, written by each backend, composed with every feature's queries.

A store (:class:`~bot.store.sqlite.SqliteStore`, :class:`~bot.store.postgres.PostgresStore`) supplies
four primitives: ``write(unit)``, ``read(unit)``, ``fetchall(sql, params)`` and its lifetime (``open``,
``close``). Everything else is written once over them, in one query module per feature, so both
databases run the very same units and the very same SQL (see :mod:`bot.store.database`). Where the
dialects truly differ a unit asks :mod:`bot.store.dialects`.

The features reach their SQL through the store's parts: ``store.members``, ``store.tasks``,
``store.labelling``, ``store.points``, ``store.rounds``, ``store.ideas``, ``store.pairs``, ``store.rewards``,
``store.outbox`` and ``store.communities``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Self, TypeVar

from bot.store.communities_sql import CommunityQueries
from bot.store.dashboard_sql import DashboardQueries
from bot.store.dashboard_views_sql import DashboardViews
from bot.store.database import Connection, Unit
from bot.store.idea_board_sql import IdeaBoardQueries
from bot.store.ideas_sql import IdeaQueries
from bot.store.labelling_sql import LabellingQueries
from bot.store.linking_sql import LinkQueries
from bot.store.members_sql import MemberQueries
from bot.store.outbox_sql import OutboxQueries
from bot.store.pairs_sql import PairQueries
from bot.store.points_sql import PointQueries
from bot.store.rewards_sql import RewardQueries
from bot.store.rounds_sql import RoundQueries
from bot.store.tasks_sql import TaskQueries
from bot.store.themes_sql import ThemeQueries

__all__ = ["Store"]

T = TypeVar("T")


class Store(ABC):
    """The primitives of one database (``write``, ``read``, ``fetchall``, supplied by the subclass), the
    instance's own facts (``meta``) and the queries of every feature over them."""

    dialect: ClassVar[str] = "sqlite"

    def __init__(self) -> None:
        self.members = MemberQueries(self)
        self.tasks = TaskQueries(self)
        self.labelling = LabellingQueries(self)
        self.points = PointQueries(self)
        self.rounds = RoundQueries(self)
        self.ideas = IdeaQueries(self)
        self.pairs = PairQueries(self)
        self.idea_board = IdeaBoardQueries(self)
        self.rewards = RewardQueries(self)
        self.outbox = OutboxQueries(self)
        self.communities = CommunityQueries(self)
        self.links = LinkQueries(self)
        self.dashboard = DashboardQueries(self)
        self.dashboard_views = DashboardViews(self)
        self.themes = ThemeQueries(self)

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations. Idempotent."""

    @abstractmethod
    async def close(self) -> None:
        """Finish what is under way, then disconnect. Idempotent."""

    @abstractmethod
    async def write(self, unit: Unit[T]) -> T:
        """Run a write unit in its own transaction; return its result once it is durable."""

    @abstractmethod
    async def read(self, unit: Unit[T]) -> T:
        """Run a read unit over one consistent snapshot."""

    @abstractmethod
    async def fetchall(self, sql: str, parameters: Iterable[Any] = ()) -> list[Any]:
        """One query's rows."""

    async def fetchone(self, sql: str, parameters: Iterable[Any] = ()) -> Any:
        rows = await self.fetchall(sql, parameters)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, parameters: Iterable[Any] = (), default: Any = None) -> Any:
        row = await self.fetchone(sql, parameters)
        return default if row is None or row[0] is None else row[0]

    # the instance's own facts ------------------------------------------------------------------

    async def secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        """A per-instance secret, created once and shared by every process on this database."""

        def unit(db: Connection) -> bytes:
            db.execute("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (name, make()))
            return bytes(db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0])

        return await self.write(unit)

    async def meta_value(self, name: str) -> bytes | None:
        """What the instance remembered under ``name`` in ``meta`` (see :meth:`set_meta_value`), or ``None``.

        For small facts about the deployment that every process on this database should share, such
        as which slash commands a platform was last given; not for domain data.
        """
        value = await self.fetchval("SELECT value FROM meta WHERE name = ?", (name,))
        return None if value is None else bytes(value)

    async def set_meta_value(self, name: str, value: bytes) -> None:
        """Remember ``value`` under ``name`` in ``meta``, replacing what was there (one portable upsert).

        Last writer wins, which suits facts that any process may refresh; :meth:`secret` is the
        first-writer-wins variant for values that must never change once created.
        """
        await self.write(
            lambda db: db.execute(
                "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )
        )
