-- Core schema: people, spaces, rounds, answers, the points ledger and what derives from it.
-- Constraints guard the invariants (one answer per user per task per round, idempotent awards);
-- the code only turns their refusals into friendly messages.

CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    platform         TEXT NOT NULL,
    platform_user_id TEXT NOT NULL,
    display_name     TEXT NOT NULL DEFAULT '',
    language         TEXT,
    created_at       TEXT NOT NULL,
    UNIQUE (platform, platform_user_id)
);

CREATE TABLE spaces (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    external_id TEXT NOT NULL,
    title       TEXT NOT NULL DEFAULT '',
    is_private  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (platform, external_id)
);

CREATE TABLE rounds (
    id         INTEGER PRIMARY KEY,
    space_id   INTEGER NOT NULL REFERENCES spaces (id),
    kind       TEXT NOT NULL CHECK (kind IN ('tasks', 'ideas')),
    subject    TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_by  INTEGER REFERENCES users (id),
    opened_at  TEXT NOT NULL,
    closes_at  TEXT,
    closed_at  TEXT
);
-- At most one open round per subject and space: two processes auto-opening race safely.
CREATE UNIQUE INDEX rounds_one_open ON rounds (space_id, subject) WHERE status = 'open';
CREATE INDEX rounds_due ON rounds (closes_at) WHERE status = 'open';

CREATE TABLE answers (
    id         INTEGER PRIMARY KEY,
    round_id   INTEGER NOT NULL REFERENCES rounds (id),
    task_id    TEXT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (round_id, user_id, task_id)
);
CREATE INDEX answers_by_task ON answers (round_id, task_id);
CREATE INDEX answers_by_user_task ON answers (user_id, task_id);

-- Answers per task and round, kept with each answer: quotas and next_task never count rows.
CREATE TABLE task_counts (
    round_id INTEGER NOT NULL,
    task_id  TEXT NOT NULL,
    answers  INTEGER NOT NULL,
    PRIMARY KEY (round_id, task_id)
) WITHOUT ROWID;

-- Append-only: an award or a spend is a row whose source_key says why; a retried award is a no-op.
CREATE TABLE ledger (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    space_id   INTEGER REFERENCES spaces (id),
    delta      INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    source_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE INDEX ledger_by_user ON ledger (user_id, id);
CREATE TRIGGER ledger_is_append_only_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_is_append_only_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;

-- Points earned per leaderboard scope ('all', 's<space>', 's<space>w<yyyyww>', 'r<round>'),
-- maintained in the transaction of each ledger entry, and how many users hold each score, so a rank
-- is a short sum over distinct scores instead of a count over every user.
CREATE TABLE scores (
    scope   TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    points  INTEGER NOT NULL,
    PRIMARY KEY (scope, user_id)
) WITHOUT ROWID;
CREATE INDEX scores_ranking ON scores (scope, points DESC, user_id);

CREATE TABLE score_counts (
    scope  TEXT NOT NULL,
    points INTEGER NOT NULL,
    users  INTEGER NOT NULL,
    PRIMARY KEY (scope, points)
) WITHOUT ROWID;

CREATE TABLE daily_points (
    user_id INTEGER NOT NULL,
    day     TEXT NOT NULL,
    earned  INTEGER NOT NULL,
    PRIMARY KEY (user_id, day)
) WITHOUT ROWID;

CREATE TABLE streaks (
    user_id  INTEGER PRIMARY KEY,
    last_day TEXT NOT NULL,
    length   INTEGER NOT NULL,
    best     INTEGER NOT NULL
);

-- The free-text answer a user is expected to type next in a space (reply-based platforms).
CREATE TABLE pending_inputs (
    user_id    INTEGER NOT NULL,
    space_id   INTEGER NOT NULL,
    action     TEXT NOT NULL,
    round_id   INTEGER NOT NULL,
    task_id    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, space_id)
) WITHOUT ROWID;

-- Platform updates whose effect is not naturally idempotent, recorded with the effect.
CREATE TABLE processed_updates (
    update_key TEXT PRIMARY KEY,
    result     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

-- What the bot must say without being asked, written with the change that caused it.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    target      TEXT NOT NULL,
    payload     TEXT NOT NULL,
    dedup_key   TEXT UNIQUE,
    not_before  TEXT NOT NULL,
    claimed_by  TEXT,
    claimed_at  TEXT,
    sent_at     TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox (platform, not_before) WHERE sent_at IS NULL;
