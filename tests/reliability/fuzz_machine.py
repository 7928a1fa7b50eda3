"""The engine fuzzer's state machine: its rules (what people do) and its invariants (what must hold after
every step).

A hypothesis state machine drives the real engine on a real SQLite file: commands with hostile
arguments, taps on genuine, stale, forged, malformed, oversized and other people's tokens, free text
full of control characters, bidi marks and markup, renames, redelivered updates, double taps, time
passing and the outbox draining. After every step it checks what an adapter relies on (see
:mod:`tests.reliability.invariants`) and that the database still adds up. The inputs come from
:mod:`tests.reliability.fuzz_inputs`; the test that runs the machine is
:mod:`tests.reliability.test_fuzz_engine`.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bot.app import running_engine
from bot.commands import COMMANDS, dispatch, parse
from bot.engine import Engine
from bot.identity import SpaceRef
from bot.outbox.drainer import OutboxDrainer, Pacer
from bot.replies import Outcome, Reply
from bot.settings import Settings, load_settings
from bot.store.records import CodeLine
from tests.conftest import REPO, FakeClock
from tests.reliability.fuzz_inputs import (
    BANNED,
    CAFE,
    HOSTILE,
    IDEAS,
    MEMBERS,
    MODERATOR,
    PEOPLE,
    PLACES,
    SPACES,
    Big,
    everyday_commands,
    forge,
    hostile_commands,
    hostile_text,
    moderation_commands,
)
from tests.reliability.invariants import database_violations, domain_snapshot, reply_problems, tokens_in

T = TypeVar("T")

MUG_CODES = ("MUG-<1>", "MUG_*2*", "MUG`3`")  # codes travel verbatim in code spans
STOCK = {"mug": len(MUG_CODES), "gone": 0}
TOKEN_POOL = 400


def fuzz_settings(folder: Path) -> Settings:
    """The defaults, on a file in ``folder``, with the flood limits out of the way.

    Floods have their own tests (tests/bot/test_floods.py); here one member may act many times a
    second and share many ideas, or the machine would rarely reach deep states.
    """
    overrides: dict[str, Any] = {}
    if "limits" in Settings.model_fields:
        overrides["limits"] = {"per_second": 1e6, "burst": 10**6, "ideas_per_hour": 10**6}
    return load_settings(catalog_dir=REPO / "tasks_catalog", storage={"path": folder / "fuzz.db"}, **overrides)


class EngineMachine(RuleBasedStateMachine):
    """One engine on a fresh database per example, driven synchronously through its own event loop."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = Path(tempfile.mkdtemp(prefix="crowdpulse-fuzz-"))
        self.clock = FakeClock()
        self.people = dict(PEOPLE)
        self.tokens: list[str] = []
        self.shown: dict[str, tuple[SpaceRef, list[str]]] = {}  # what each person was asked last, and where
        self.updates = 0
        self._running = running_engine(fuzz_settings(self.folder), self.clock)
        try:
            self.engine: Engine = self.run(self._running.__aenter__())
            self.db = sqlite3.connect(f"file:{self.folder / 'fuzz.db'}?mode=ro", uri=True, isolation_level=None)
            self.run(self._set_the_scene())
        except BaseException:
            self.teardown()  # hypothesis does not tear down a machine whose constructor failed
            raise

    async def _set_the_scene(self) -> None:
        """Rewards with codes, without and out of stock; the banned member, banned by the moderator."""
        queries = self.engine.services.store.rewards
        now = self.clock()
        await queries.add_reward("mug", "Mug <b>&</b> `cup`", 12, None, now)
        await queries.add_reward("sticker", "Sticker", 4, None, now)
        await queries.add_reward("gone", "Sold out", 1, 0, now)
        await queries.import_codes([CodeLine(n, "mug", code) for n, code in enumerate(MUG_CODES, 1)], now)
        await self.engine.context(self.people[BANNED], CAFE)
        banned = await dispatch(self.engine, self.people[MODERATOR], CAFE, f"/ban {BANNED}")
        assert banned is not None and banned.outcome == Outcome.DONE, banned
        for who, user in self.people.items():
            started = await dispatch(self.engine, user, CAFE, "/start")
            assert started is not None
            self.look_at(started, who, CAFE)
        opened = await dispatch(self.engine, self.people[MODERATOR], CAFE, "/round open winter-menu")
        assert opened is not None and opened.outcome == Outcome.DONE, opened
        for who, idea in zip(("ana", "ioana", "bob"), IDEAS, strict=False):
            shared = await dispatch(self.engine, self.people[who], CAFE, f"/idea {idea}", self.update_key())
            assert shared is not None and shared.outcome == Outcome.DONE, shared
            self.look_at(shared, who, CAFE)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        """Close the store (its writer thread would keep the process alive), the loop, the folder."""
        if hasattr(self, "db"):
            self.db.close()
        try:
            if hasattr(self, "engine"):
                self.run(self._running.__aexit__(None, None, None))
            self.run(self.loop.shutdown_asyncgens())
            self.run(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    # helpers ------------------------------------------------------------------------------------

    def look_at(self, reply: Reply, who: str | None = None, where: SpaceRef | None = None) -> Reply:
        """Check a reply the way an adapter would meet it and remember the tokens it offers (and to whom)."""
        problems = reply_problems(reply, self.engine.services.codec)
        assert not problems, "\n".join(problems)
        offered = tokens_in(reply)
        self.tokens = (self.tokens + offered)[-TOKEN_POOL:]
        if who is not None and where is not None and offered:
            self.shown[who] = (where, offered)
        return reply

    def snapshot(self) -> dict[str, int]:
        return domain_snapshot(self.db)

    def update_key(self) -> str:
        self.updates += 1
        return f"fuzz:{self.updates}"

    def tick(self) -> None:
        """One second per step, so "after the round closed" and "after the ban" are visible in timestamps."""
        self.clock.advance(seconds=1)

    # members and moderators act -----------------------------------------------------------------

    def command(self, who: str, where: SpaceRef, text: str, twice: bool) -> None:
        """A command, sometimes redelivered by the platform with the same update: the second changes nothing."""
        self.tick()
        user, key = self.people[who], self.update_key()
        reply = self.run(dispatch(self.engine, user, where, text, key))
        parsed = parse(text)
        if reply is None:
            assert parsed is None or parsed[0] not in COMMANDS, f"{text!r} went unanswered"
            return
        self.look_at(reply, who, where)
        if twice:
            first = self.snapshot()
            again = self.run(dispatch(self.engine, user, where, text, key))
            assert again is not None
            self.look_at(again)
            assert self.snapshot() == first, f"redelivering {text[:80]!r} changed the database"

    @rule(who=MEMBERS, where=PLACES, text=everyday_commands(), twice=st.booleans())
    def use_the_bot(self, who: str, where: SpaceRef, text: str, twice: bool) -> None:
        """Everyday commands: questions, points, ideas, rewards."""
        self.command(who, where, text, twice)

    @rule(
        who=st.sampled_from([MODERATOR, MODERATOR, "ana", BANNED]),
        where=PLACES,
        text=moderation_commands(),
        twice=st.booleans(),
    )
    def moderate(self, who: str, where: SpaceRef, text: str, twice: bool) -> None:
        """Rounds, statuses, bans and results, mostly by the moderator, sometimes tried by members."""
        self.command(who, where, text, twice)

    @rule(where=PLACES, action=st.sampled_from(["open ideas", "open tasks", "close", "close"]), data=st.data())
    def moderator_runs_rounds(self, where: SpaceRef, action: str, data: st.DataObject) -> None:
        """The moderator opens an ideas round or a timed tasks round, or closes one of those open."""
        if action == "close":
            space = self.db.execute(
                "SELECT id FROM spaces WHERE platform = ? AND external_id = ?", (where.platform, where.external_id)
            ).fetchone()
            open_ids = [
                row[0]
                for row in self.db.execute(
                    "SELECT id FROM rounds WHERE status = 'open' AND space_id = ?", space or (0,)
                )
            ]
            text = f"/round close {data.draw(st.sampled_from(open_ids), label='round')}" if open_ids else "/round close"
        else:
            text = "/round open winter-menu" if action == "open ideas" else "/round open coffee 2h"
        self.command(MODERATOR, where, text, twice=False)

    @rule(
        idea=st.sampled_from(["1", "2", "3", "4"]),
        change=st.sampled_from(["under_review", "accepted", "launched", "declined", "new", "merged 1", "merged 2"]),
        note=st.sampled_from(["", "On the menu from Monday", "<b>soon</b> & @everyone"]),
        how=st.sampled_from(["status", "hide", "approve"]),
    )
    def moderator_reviews_ideas(self, idea: str, change: str, note: str, how: str) -> None:
        """Statuses (with bonuses and notices to voters), merges (votes move), hiding and approving."""
        text = f"/status {idea} {change} {note}" if how == "status" else f"/{how} {idea}"
        self.command(MODERATOR, CAFE, text.strip(), twice=False)

    @rule(who=MEMBERS, where=PLACES, text=hostile_commands(), twice=st.booleans())
    def send_a_hostile_command(self, who: str, where: SpaceRef, text: str, twice: bool) -> None:
        """Commands with hostile arguments: huge, numeric beyond any id, markup, control characters."""
        self.command(who, where, text, twice)

    @rule(
        who=MEMBERS,
        command=st.sampled_from(["/redeem", "/round open", "/top round", "/idea", "/ban", "/status 1 new", "/idea #"]),
        text=st.sampled_from(HOSTILE),
    )
    def quote_hostile_text(self, who: str, command: str, text: str) -> None:
        """Commands whose replies quote what was typed: the nasty texts come back escaped and within limits."""
        self.command(who, CAFE, f"{command} {text}" if not command.endswith("#") else f"{command}{text}", False)

    @precondition(lambda self: self.shown)
    @rule(
        data=st.data(),
        text=st.one_of(st.sampled_from(["Fine as it is", "More seats", "🙂"]), hostile_text()),
        values=st.lists(st.sampled_from(["0", "1", "2", "3"]), min_size=1, max_size=3, unique=True),
    )
    def answer_what_you_were_asked(self, data: st.DataObject, text: str, values: list[str]) -> None:
        """A member taps a button of the last thing the bot showed them, where it showed it."""
        self.tick()
        who = data.draw(st.sampled_from(sorted(self.shown)), label="who")
        where, offered = self.shown[who]
        token = data.draw(st.sampled_from(offered), label="token")
        verb = token.split(".", 1)[0]
        reply = self.run(
            self.engine.act(
                self.people[who], where, token, text=text if verb == "x" else None, values=values if verb == "s" else ()
            )
        )
        self.look_at(reply, who, where)

    @precondition(lambda self: self.tokens)
    @rule(
        who=st.sampled_from(sorted(PEOPLE)),
        where=st.sampled_from(SPACES),
        data=st.data(),
        text=st.none() | hostile_text(),
        values=st.lists(
            st.sampled_from(["0", "1", "2", "3", "9", "-1", "x", "", "²", "１", Big("9" * 5000)]), max_size=5
        ),
    )
    def tap_a_button(self, who: str, where: SpaceRef, data: st.DataObject, text: str | None, values: list[str]) -> None:
        """A genuine token, maybe old, maybe shown to someone else, maybe from a closed round."""
        self.tick()
        verb = data.draw(st.sampled_from(sorted({token.split(".", 1)[0] for token in self.tokens})), label="verb")
        token = data.draw(
            st.sampled_from([token for token in self.tokens if token.startswith(f"{verb}.")]), label="token"
        )
        self.look_at(self.run(self.engine.act(self.people[who], where, token, text=text, values=values)))

    @precondition(lambda self: self.tokens)
    @rule(
        who=st.sampled_from(sorted(PEOPLE)),
        where=st.sampled_from(SPACES),
        data=st.data(),
        how=st.sampled_from(["signature", "field", "verb", "truncated"]),
    )
    def tap_a_forged_button(self, who: str, where: SpaceRef, data: st.DataObject, how: str) -> None:
        """A tampered client alters a genuine token: refused as expired, and nothing changes."""
        self.tick()
        forged = forge(data.draw(st.sampled_from(self.tokens), label="token"), how)
        before = self.snapshot()
        reply = self.look_at(self.run(self.engine.act(self.people[who], where, forged)))
        assert reply.outcome == Outcome.STALE, (forged, reply)
        assert self.snapshot() == before

    @rule(
        who=st.sampled_from(sorted(PEOPLE)),
        where=st.sampled_from(SPACES),
        token=st.one_of(
            st.text(max_size=70),
            st.sampled_from(["", ".", "a", "a.", "a.1.0.", "a.1.0.AAAAAAAA", "v.1.AAAAAAAA", "é" * 40]),
            st.just(Big("a." * 512)),  # 1 KB
            st.just(Big("q.mug." + "A" * 1000)),
        ),
    )
    def tap_garbage(self, who: str, where: SpaceRef, token: str) -> None:
        """Malformed or oversized button data: refused as expired, and nothing changes."""
        self.tick()
        before = self.snapshot()
        reply = self.look_at(self.run(self.engine.act(self.people[who], where, token)))
        assert reply.outcome == Outcome.STALE, (token, reply)
        assert self.snapshot() == before

    @precondition(lambda self: self.tokens)
    @rule(who=st.sampled_from(sorted(PEOPLE)), where=st.sampled_from(SPACES), data=st.data())
    def double_tap(self, who: str, where: SpaceRef, data: st.DataObject) -> None:
        """The same button twice at once (an impatient member, or a platform retry)."""
        self.tick()
        token = data.draw(st.sampled_from(self.tokens), label="token")
        user = self.people[who]

        async def both() -> list[Reply]:
            return list(await asyncio.gather(*(self.engine.act(user, where, token) for _ in range(2))))

        for reply in self.run(both()):
            self.look_at(reply)

    @rule(
        who=st.sampled_from(sorted(PEOPLE)), where=st.sampled_from(SPACES), reward=st.sampled_from(["mug", "sticker"])
    )
    def redeem_twice_at_once(self, who: str, where: SpaceRef, reward: str) -> None:
        """One redemption request delivered twice concurrently spends once."""
        self.tick()
        key, user = self.update_key(), self.people[who]
        before = self.snapshot()["redemptions"]

        async def both() -> list[Reply | None]:
            return list(
                await asyncio.gather(*(dispatch(self.engine, user, where, f"/redeem {reward}", key) for _ in "ab"))
            )

        for reply in self.run(both()):
            assert reply is not None
            self.look_at(reply)
        assert self.snapshot()["redemptions"] - before <= 1

    @rule(who=st.sampled_from(sorted(PEOPLE)), where=st.sampled_from(SPACES), text=hostile_text())
    def type_text(self, who: str, where: SpaceRef, text: str) -> None:
        """Plain text: an answer when a free-text question waits for one, else not the bot's to answer."""
        self.tick()
        reply = self.run(self.engine.text_message(self.people[who], where, text))
        if reply is not None:
            self.look_at(reply, who, where)

    @rule(who=st.sampled_from(sorted(PEOPLE)), name=hostile_text(), language=st.sampled_from([None, "en", "ro", "xx"]))
    def change_name_and_language(self, who: str, name: str, language: str | None) -> None:
        """Names and languages come from the platform and change: they are data, never markup."""
        self.people[who] = replace(self.people[who], display_name=name, language=language)

    @rule(hours=st.sampled_from([1, 3, 25, 24 * 8]))
    def time_passes(self, hours: int) -> None:
        """Deadlines pass (the deadline loop closes rounds), days and weeks turn."""
        self.clock.advance(hours=hours)
        self.run(self.engine.rounds.close_due())

    @rule()
    def drain_the_outbox(self) -> None:
        """Announcements, results and notices go out once each; each is a valid reply too."""
        sent: list[tuple[str, Reply]] = []

        async def send(target: str, reply: Reply) -> None:
            sent.append((target, reply))

        drainer = OutboxDrainer(self.engine, "console", send, Pacer(per_second=1e6))
        self.run(drainer.drain_once())
        for _, reply in sent:
            self.look_at(reply)
        due = self.db.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
        assert due == 0, f"{due} outbox rows left unsent"
        assert len(sent) == drainer.sent

    # after every step ---------------------------------------------------------------------------

    @invariant()
    def the_database_adds_up(self) -> None:
        violations = database_violations(self.db)
        assert not violations, "\n".join(violations)

    @invariant()
    def balances_are_the_ledger_and_never_negative(self) -> None:
        for user in PEOPLE.values():
            user_id = self.db.execute(
                "SELECT id FROM users WHERE platform = ? AND platform_user_id = ?",
                (user.platform, user.platform_user_id),
            ).fetchone()
            if user_id is None:
                continue
            ledger = self.db.execute(
                "SELECT COALESCE(SUM(delta), 0) FROM ledger WHERE user_id = ?", user_id
            ).fetchone()[0]
            balance = self.run(self.engine.points.balance(self.run(self.engine.context(user, CAFE))))
            assert balance == ledger >= 0, (user.platform_user_id, balance, ledger)

    @invariant()
    def stock_and_codes_add_up(self) -> None:
        for reward, initial in STOCK.items():
            stock, redeemed = self.db.execute(
                "SELECT stock, (SELECT COUNT(*) FROM redemptions WHERE reward_id = ?) FROM rewards WHERE id = ?",
                (reward, reward),
            ).fetchone()
            assert stock >= 0 and stock + redeemed == initial, (reward, stock, redeemed)
        handed = self.db.execute("SELECT COUNT(*) FROM reward_codes WHERE redeemed_by IS NOT NULL").fetchone()[0]
        assert handed == self.db.execute("SELECT COUNT(*) FROM redemptions WHERE reward_id = 'mug'").fetchone()[0]

    @invariant()
    def only_the_moderator_moderated(self) -> None:
        moderator = self.db.execute(
            "SELECT id FROM users WHERE platform = 'console' AND platform_user_id = ?", (MODERATOR,)
        ).fetchone()
        strangers = self.db.execute(
            "SELECT action, moderator_id FROM audit WHERE moderator_id IS NOT ? AND action NOT IN ('redeem')"
            " AND moderator_id IS NOT NULL",
            moderator,
        ).fetchall()
        assert strangers == [], strangers
        openers = self.db.execute(
            "SELECT id, opened_by FROM rounds WHERE opened_by IS NOT NULL AND opened_by IS NOT ?", moderator
        ).fetchall()
        assert openers == [], openers
