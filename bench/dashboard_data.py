"""The dashboard benchmark's communities, generated once and kept in a cache between runs.

Built on :func:`bench.datagen.build` (members, rounds of the ``coffee`` campaign, answers, the ledger and
everything derived from it), plus what only the dashboard reads: ideas in every status with their votes
and vote events, and a password teammate (owner) to sign in as. A million answers take minutes to write,
so the file is kept under the system's temporary folder, named by its sizes and by a digest of the schema
(every migration's text) and of the generators' code: a new migration or a changed generator builds a new
file, and a re-run with neither reuses the old one in seconds.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.dashboard.auth import hash_password
from bench import datagen
from bot.store import migrations
from bot.store.timestamps import to_text

CACHE = Path(tempfile.gettempdir()) / "crowdpulse-bench-cache"
TEAMMATE = "bench-owner"
PASSWORD = "bench password, not a secret"
CATEGORIES = ("drinks", "food", "space", "service", None)
STATUSES = (  # (status, share): mostly waiting or under way, as a lived-in board looks
    ("new", 0.40),
    ("under_review", 0.20),
    ("accepted", 0.12),
    ("launched", 0.08),
    ("declined", 0.12),
    ("pending", 0.04),
    ("hidden", 0.04),
)
MEAN_VOTES = 10
IDEA_DAYS = 60  # ideas were proposed over this many days before the generation
SEED = 20  # issue 20


@dataclass(frozen=True, slots=True)
class Sizes:
    """A community's size: members, answers (``one_round``: every one of them in the open round), ideas."""

    members: int
    answers: int
    ideas: int
    one_round: bool = False

    @property
    def key(self) -> str:
        shape = "r1" if self.one_round else "spread"
        return f"{self.members}m-{self.answers}a-{self.ideas}i-{shape}"


def schema_digest() -> str:
    """A digest of every SQLite migration and of the generators' code: what a cached file depends on."""
    digest = hashlib.sha256()
    for _, _, path in migrations.available():
        digest.update(path.read_bytes())
    for module in (datagen.__file__, __file__):
        digest.update(Path(module).read_bytes())
    return digest.hexdigest()[:12]


def cached_community(sizes: Sizes, cache: Path, on_progress: Callable[[int, int], None] | None = None) -> Path:
    """The database of these sizes in the ``cache`` folder, generated first when it has none for this schema."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"dashboard-{sizes.key}-{schema_digest()}.db"
    if not path.exists():
        for stale in cache.glob(f"dashboard-{sizes.key}-*"):  # built for another schema: never read again
            stale.unlink()
        building = path.with_suffix(".building")
        generate(building, sizes, on_progress)
        building.replace(path)  # atomic: an interrupted build never looks finished
    return path


def working_copy(cached: Path, folder: Path) -> Path:
    """A copy the benchmark may write to (an export is audited), so the cached file stays as built."""
    copy = folder / cached.name
    shutil.copyfile(cached, copy)
    return copy


def answer_counts(sizes: Sizes) -> list[int] | None:
    """``one_round``: every member answers the open round's tasks in catalog order, the answers filling
    members one after another (the last one partly); otherwise ``None``, datagen's long tail."""
    if not sizes.one_round:
        return None
    tasks = len(datagen.coffee_campaign().tasks)
    full, rest = divmod(sizes.answers, tasks)
    counts = [tasks] * full + ([rest] if rest else [])
    assert len(counts) <= sizes.members, "one round holds at most every member answering every task"
    return counts + [0] * (sizes.members - len(counts))


def generate(path: Path, sizes: Sizes, on_progress: Callable[[int, int], None] | None = None) -> None:
    """Write the community of ``sizes`` to ``path``: datagen's members and answers, then ideas, votes
    and the teammate."""
    datagen.build(path, sizes.members, sizes.answers, counts=answer_counts(sizes), on_progress=on_progress)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN")
        _ideas(db, sizes)
        db.execute(
            "INSERT INTO dashboard_users (name, password_hash, role, created_at) VALUES (?, ?, 'owner', ?)",
            (TEAMMATE, hash_password(PASSWORD), to_text(datetime.now(UTC))),
        )
        db.execute("COMMIT")  # no ANALYZE: the store never runs it, so the planner works without statistics
    finally:
        db.close()


def _ideas(db: sqlite3.Connection, sizes: Sizes) -> None:
    """``sizes.ideas`` ideas by random members over the last weeks, with votes by distinct members."""
    chooser = random.Random(SEED)
    now = datetime.now(UTC).replace(microsecond=0)
    statuses, weights = zip(*STATUSES, strict=True)
    ideas, votes = [], []
    for number in range(1, sizes.ideas + 1):
        created = now - timedelta(seconds=chooser.randrange(IDEA_DAYS * 86400))
        stamp = to_text(created)
        wanted = min(sizes.members - 1, int(chooser.expovariate(1 / MEAN_VOTES)))
        voters = chooser.sample(range(1, sizes.members + 1), wanted)
        status = chooser.choices(statuses, weights)[0]
        text = f"Idea {number}: {chooser.choice(('more', 'fewer', 'better', 'warmer'))} {chooser.choice(_THINGS)}"
        author, category = chooser.randrange(1, sizes.members + 1), chooser.choice(CATEGORIES)
        ideas.append((number, datagen.SPACE_ID, author, text, category, status, len(voters), stamp, stamp))
        votes += [(number, voter, to_text(created + timedelta(minutes=place))) for place, voter in enumerate(voters)]
    db.executemany(
        "INSERT INTO ideas (id, space_id, author_id, text, category, status, votes, created_at, status_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ideas,
    )
    db.executemany("INSERT INTO votes (idea_id, user_id, created_at) VALUES (?, ?, ?)", votes)
    db.executemany("INSERT INTO vote_events (idea_id, user_id, kind, created_at) VALUES (?, ?, 'up', ?)", votes)


_THINGS = ("oat milk", "seats by the window", "pastries in the morning", "music", "plugs", "tea choices", "light")
