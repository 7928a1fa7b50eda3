"""What must hold after anything a member, a moderator or a crash did: replies and the database.

Shared by the fuzzer and the crash test, so both hold the product to the same contract. Reply checks
say what an adapter may rely on (markup it can send as Telegram HTML or turn into Discord Markdown,
tokens that fit a button, chunks within each platform's limit); database checks restate the
invariants the schema and the units of work promise, computed from the raw rows, so a missing
constraint, trigger or idempotency key shows up as a number that does not add up.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from html.parser import HTMLParser

from bot.actions import MAX_TOKEN_BYTES, ActionCodec
from bot.replies import Reply, split_markup, to_markdown, to_plain
from tests.fakes.telegram.parse_mode import parse_html
from tests.fakes.telegram.protocol import ApiError

ALLOWED_TAGS = frozenset({"b", "i", "code"})
TELEGRAM_LIMIT = 4096
DISCORD_LIMIT = 2000
DISCORD_CUSTOM_ID = 100
# Discord's angle-bracket syntaxes (mentions, channels, roles, emoji, timestamps, commands, bare links)
# need an unescaped "<" and an unescaped ">" around them; echoed text must never form one.
_ANGLE_SYNTAX = re.compile(r"(?<!\\)<[^<>\n]*(?<!\\)>")
_CODE_SPAN_MD = re.compile(r"``.*?``|`[^`]*`", re.DOTALL)


class _TagChecker(HTMLParser):
    """Records every problem ``html.parser`` sees: foreign tags, attributes, unbalanced nesting."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS or attrs:
            self.problems.append(f"foreign tag <{tag} {attrs}>")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"self-closing tag <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"declaration <!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"processing instruction <?{data}>")

    def handle_comment(self, data: str) -> None:
        self.problems.append(f"comment <!--{data}-->")

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"declaration <![{data}]>")


def markup_problems(markup: str) -> list[str]:
    """Why ``markup`` is not the reply markup the adapters expect (empty when it is).

    The subset is b/i/code, balanced on every line (``split_markup`` cuts between lines), strict enough
    for Telegram's HTML parser (the fake's parser refuses a bare ``&`` or ``>`` as the real one can),
    and harmless as Discord Markdown: no angle-bracket syntax outside code spans.
    """
    problems: list[str] = []
    for number, line in enumerate(markup.split("\n")):
        checker = _TagChecker()
        checker.feed(line)
        checker.close()
        problems += [f"line {number}: {problem}" for problem in checker.problems]
        if checker.stack:
            problems.append(f"line {number}: unclosed {checker.stack}")
    try:
        parse_html(markup)
    except ApiError as error:
        problems.append(f"Telegram would refuse it: {error.description}")
    markdown = _CODE_SPAN_MD.sub("", to_markdown(markup))
    for match in _ANGLE_SYNTAX.finditer(markdown):
        problems.append(f"Discord angle-bracket syntax in Markdown: {match.group()[:40]!r}")
    return problems


def split_problems(markup: str) -> list[str]:
    """Why splitting ``markup`` for Telegram (4096) or Discord (2000) would break a limit or lose text."""
    problems: list[str] = []
    visible = "".join(to_plain(markup).split())
    for limit in (TELEGRAM_LIMIT, DISCORD_LIMIT):
        chunks = split_markup(markup, limit)
        for index, chunk in enumerate(chunks):
            if len(chunk) > limit:
                problems.append(f"chunk {index} of {len(chunks)} has {len(chunk)} > {limit} characters")
            if visible and not to_plain(chunk).strip():
                problems.append(f"chunk {index} of {len(chunks)} is blank (Telegram: 'message text is empty')")
            problems += [f"chunk {index} at {limit}: {problem}" for problem in markup_problems(chunk)]
        kept = "".join("".join(to_plain(chunk).split()) for chunk in chunks)
        if kept != visible:
            problems.append(f"splitting at {limit} changed the text ({len(kept)} vs {len(visible)} characters)")
    return problems


def reply_problems(reply: Reply, codec: ActionCodec) -> list[str]:
    """Everything wrong with a reply and its follow-ups, as an adapter would meet it."""
    problems: list[str] = []
    for depth, part in enumerate(reply.chain()):
        where = f"reply[{depth}] {part.outcome.value} {to_plain(part.text)[:60]!r}"
        if part.is_refusal and not to_plain(part.text).strip():
            problems.append(f"{where}: a refusal without text")
        problems += [f"{where}: {problem}" for problem in markup_problems(part.text)]
        if len(part.text) > DISCORD_LIMIT:
            problems += [f"{where}: {problem}" for problem in split_problems(part.text)]
        tokens = [button.action for row in part.buttons for button in row if not button.url]
        tokens += [part.select.action] if part.select is not None else []
        tokens += [part.text_input.action] if part.text_input is not None else []
        for token in tokens:
            if not token or len(token.encode()) > MAX_TOKEN_BYTES or len(token) > DISCORD_CUSTOM_ID:
                problems.append(f"{where}: token {token!r} does not fit a button")
            elif codec.parse(token) is None:
                problems.append(f"{where}: token {token!r} is not one the engine accepts")
        for row in part.buttons:
            for button in row:
                if not button.label.strip():
                    problems.append(f"{where}: a button without a label")
    return problems


def tokens_in(reply: Reply) -> list[str]:
    """Every action token a member could send back from this reply (buttons, select, text form)."""
    found: list[str] = []
    for part in reply.chain():
        found += [button.action for row in part.buttons for button in row if button.action]
        if part.select is not None:
            found.append(part.select.action)
        if part.text_input is not None:
            found.append(part.text_input.action)
    return found


# the database ---------------------------------------------------------------------------------

_VIOLATIONS: dict[str, str] = {
    "two answers by one member to one task of one round": (
        "SELECT round_id, user_id, task_id, COUNT(*) FROM answers GROUP BY 1, 2, 3 HAVING COUNT(*) > 1"
    ),
    "task_counts differs from the answers it counts": (
        "SELECT tc.round_id, tc.task_id, tc.answers, COUNT(a.id)"
        " FROM (SELECT round_id, task_id, SUM(answers) AS answers FROM task_counts GROUP BY 1, 2) tc"
        " LEFT JOIN answers a ON a.round_id = tc.round_id AND a.task_id = tc.task_id"
        " GROUP BY tc.round_id, tc.task_id, tc.answers HAVING tc.answers != COUNT(a.id)"
    ),
    "answers not counted in task_counts": (
        "SELECT a.round_id, a.task_id FROM answers a WHERE NOT EXISTS (SELECT 1 FROM task_counts tc"
        " WHERE tc.round_id = a.round_id AND tc.task_id = a.task_id)"
    ),
    "an answer without exactly one award": (
        "SELECT a.id, COUNT(l.id) FROM answers a LEFT JOIN ledger l ON l.source_key = 'answer:' || a.id"
        " GROUP BY a.id HAVING COUNT(l.id) != 1"
    ),
    "an answer award without its answer": (
        "SELECT l.id FROM ledger l WHERE l.reason = 'answer'"
        " AND NOT EXISTS (SELECT 1 FROM answers a WHERE l.source_key = 'answer:' || a.id)"
    ),
    "an answer recorded after its round closed": (
        "SELECT a.id FROM answers a JOIN rounds r ON r.id = a.round_id"
        " WHERE r.closed_at IS NOT NULL AND a.created_at > r.closed_at"
    ),
    "an answer from a member banned in that space": (
        "SELECT a.id FROM answers a JOIN rounds r ON r.id = a.round_id"
        " JOIN bans b ON b.space_id = r.space_id AND b.user_id = a.user_id WHERE a.created_at >= b.created_at"
    ),
    "two votes by one member on one idea": (
        "SELECT idea_id, user_id, COUNT(*) FROM votes GROUP BY 1, 2 HAVING COUNT(*) > 1"
    ),
    "ideas.votes differs from the votes it counts": (
        "SELECT i.id, i.votes, COUNT(v.user_id) FROM ideas i LEFT JOIN votes v ON v.idea_id = i.id"
        " GROUP BY i.id HAVING i.votes != COUNT(v.user_id)"
    ),
    "a vote for one's own idea": (
        "SELECT v.idea_id, v.user_id FROM votes v JOIN ideas i ON i.id = v.idea_id WHERE v.user_id = i.author_id"
    ),
    "a vote left on a merged idea": (
        "SELECT v.idea_id FROM votes v JOIN ideas i ON i.id = v.idea_id WHERE i.status = 'merged'"
    ),
    "a vote cast after its ideas round closed": (
        "SELECT v.idea_id, v.user_id FROM votes v JOIN ideas i ON i.id = v.idea_id"
        " JOIN rounds r ON r.id = i.round_id WHERE r.closed_at IS NOT NULL AND v.created_at > r.closed_at"
    ),
    "a vote from a member banned in that space": (
        "SELECT v.idea_id, v.user_id FROM votes v JOIN ideas i ON i.id = v.idea_id"
        " JOIN bans b ON b.space_id = i.space_id AND b.user_id = v.user_id WHERE v.created_at >= b.created_at"
    ),
    "an idea from a member banned in that space": (
        "SELECT i.id FROM ideas i JOIN bans b ON b.space_id = i.space_id AND b.user_id = i.author_id"
        " WHERE i.created_at >= b.created_at"
    ),
    "upvote points paid differ from the ledger's upvote entries": (
        "SELECT i.id, i.upvote_points, (SELECT COALESCE(SUM(l.delta), 0) FROM ledger l"
        " WHERE l.reason IN ('idea_upvote', 'idea_unvote') AND l.detail = CAST(i.id AS TEXT)) AS paid"
        " FROM ideas i WHERE i.upvote_points != paid"
    ),
    "one update stored as two ideas": (
        "SELECT result, COUNT(*) FROM processed_updates WHERE update_key LIKE 'idea%'"
        " GROUP BY result HAVING COUNT(*) > 1"
    ),
    "a negative balance": "SELECT user_id, SUM(delta) FROM ledger GROUP BY user_id HAVING SUM(delta) < 0",
    "a redemption without exactly one matching spend": (
        "SELECT d.id, COUNT(l.id) FROM redemptions d LEFT JOIN ledger l"
        " ON l.source_key = 'redeem:' || d.id AND l.delta = -d.cost AND l.user_id = d.user_id"
        " GROUP BY d.id HAVING COUNT(l.id) != 1"
    ),
    "a spend without its redemption": (
        "SELECT l.id FROM ledger l WHERE l.reason = 'redeem'"
        " AND NOT EXISTS (SELECT 1 FROM redemptions d WHERE l.source_key = 'redeem:' || d.id)"
    ),
    "a redemption of a reward with codes that got no code, or several": (
        "SELECT d.id, COUNT(c.id) FROM redemptions d LEFT JOIN reward_codes c ON c.redemption_id = d.id"
        " WHERE EXISTS (SELECT 1 FROM reward_codes k WHERE k.reward_id = d.reward_id)"
        " GROUP BY d.id HAVING COUNT(c.id) != 1"
    ),
    "a code handed to someone else than its redemption's member": (
        "SELECT c.id FROM reward_codes c JOIN redemptions d ON d.id = c.redemption_id"
        " WHERE c.redeemed_by != d.user_id OR c.reward_id != d.reward_id"
    ),
    "a redemption by a member banned in that space": (
        "SELECT d.id FROM redemptions d JOIN bans b ON b.space_id = d.space_id AND b.user_id = d.user_id"
        " WHERE d.created_at >= b.created_at"
    ),
    "a round closed twice or results queued twice": (
        "SELECT r.id FROM rounds r WHERE (SELECT COUNT(*) FROM outbox o"
        " WHERE o.dedup_key = 'round-results:' || r.id) != (r.status = 'closed')"
    ),
    "a round opened by command without exactly one announcement": (
        "SELECT r.id FROM rounds r WHERE r.opened_by IS NOT NULL AND (SELECT COUNT(*) FROM outbox o"
        " WHERE o.dedup_key = 'round-open:' || r.id) != 1"
    ),
    "round winners paid twice": (
        "SELECT l.round_id, l.detail, COUNT(*) FROM ledger l WHERE l.reason = 'round_winner'"
        " GROUP BY l.round_id, l.detail HAVING COUNT(*) > 1"
    ),
}


def database_violations(db: sqlite3.Connection) -> list[str]:
    """Every broken invariant, with a few offending rows; empty when the database is consistent."""
    found: list[str] = []
    for name, sql in _VIOLATIONS.items():
        rows = db.execute(sql).fetchall()
        if rows:
            found.append(f"{name}: {[tuple(row) for row in rows[:5]]}")
    found += _score_violations(db)
    return found


def _score_violations(db: sqlite3.Connection) -> list[str]:
    """Leaderboards (every scope) and their histograms, recomputed from the ledger."""
    expected: Counter[tuple[str, int]] = Counter()
    for user_id, space_id, round_id, week, delta in db.execute(
        "SELECT user_id, space_id, round_id, week, delta FROM ledger WHERE reason != 'redeem'"
    ):
        scopes = ["all"]
        if space_id is not None:
            scopes.append(f"s{space_id}")
            if week:
                scopes.append(f"s{space_id}w{week}")
        if round_id is not None:
            scopes.append(f"r{round_id}")
        for scope in scopes:
            expected[(scope, user_id)] += delta
    stored = {(scope, user_id): points for scope, user_id, points in db.execute("SELECT * FROM scores")}
    problems = [
        f"scores {key}: stored {stored.get(key, 0)}, ledger says {expected.get(key, 0)}"
        for key in set(expected) | set(stored)
        if stored.get(key, 0) != expected.get(key, 0)
    ]
    # The histogram counts members above zero only: ranks are asked of them alone (bot/store/scores.py).
    histogram = Counter((scope, points) for (scope, _), points in stored.items() if points > 0)
    counted = {
        (scope, points): users
        for scope, points, users in db.execute(
            "SELECT scope, points, SUM(users) FROM score_counts GROUP BY scope, points"
        )
        if users
    }
    problems += [
        f"score_counts {key}: stored {counted.get(key, 0)}, scores say {histogram.get(key, 0)}"
        for key in set(histogram) | set(counted)
        if counted.get(key, 0) != histogram.get(key, 0)
    ]
    return problems[:10]


def domain_snapshot(db: sqlite3.Connection) -> dict[str, int]:
    """Row counts of everything a member's action can change (identities aside)."""
    tables = (
        "answers",
        "votes",
        "vote_events",
        "ideas",
        "idea_drafts",
        "redemptions",
        "ledger",
        "outbox",
        "rounds",
        "bans",
        "processed_updates",
        "user_badges",
    )
    return {table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) for table in tables}
