-- Labelling jobs (twin of postgres/0009_labelling.sql): one task, many items, each answered by several
-- members until its aggregated answer is sure enough; hidden gold items judge the members.
--
-- The overlap is a constraint, not a check: an item's ``answers`` can never pass its ``cap`` (the
-- job's overlap maximum), so two members taking its last slot at once cannot both get it.

CREATE TABLE label_items (
    id         INTEGER PRIMARY KEY,
    round_id   INTEGER NOT NULL REFERENCES rounds (id),
    task_id    TEXT NOT NULL,
    item_key   TEXT NOT NULL,                 -- the item's id in the item file
    gold       TEXT,                          -- the known answer, as a vote: a gold item, never retired
    cap        INTEGER NOT NULL CHECK (cap >= 1),
    answers    INTEGER NOT NULL DEFAULT 0,    -- votes taken ("can't tell" takes no slot)
    status     TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'retired', 'withdrawn')),
    label      TEXT,                          -- the aggregated answer so far, as a vote
    confidence REAL,
    note       TEXT NOT NULL DEFAULT '',      -- why it was withdrawn
    UNIQUE (round_id, task_id, item_key),
    CHECK (answers <= cap)
);
CREATE INDEX label_items_open ON label_items (round_id, task_id, status, answers);

CREATE TABLE label_answers (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES label_items (id),
    round_id   INTEGER NOT NULL REFERENCES rounds (id),
    task_id    TEXT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    value      TEXT,                          -- NULL: "can't tell", not a vote
    vote       TEXT,                          -- what the value counts as: the same, or normalised free text
    seconds    REAL,                          -- since the item was shown to this member, when known
    flags      TEXT NOT NULL DEFAULT '',      -- "too_fast"
    created_at TEXT NOT NULL,
    UNIQUE (item_id, user_id)
);
CREATE INDEX label_answers_by_member ON label_answers (round_id, user_id);

-- What each member's gold answers and their agreement with settled items say of them in a round, kept
-- with each answer and each settling.
CREATE TABLE label_members (
    round_id     INTEGER NOT NULL REFERENCES rounds (id),
    user_id      INTEGER NOT NULL REFERENCES users (id),
    answers      INTEGER NOT NULL DEFAULT 0,
    gold_answers INTEGER NOT NULL DEFAULT 0,
    gold_correct INTEGER NOT NULL DEFAULT 0,
    too_fast     INTEGER NOT NULL DEFAULT 0,
    resolved     INTEGER NOT NULL DEFAULT 0,    -- their votes on items that settled
    agreed       INTEGER NOT NULL DEFAULT 0,    -- … that matched the settled label
    excluded_at  TEXT,
    PRIMARY KEY (round_id, user_id)
);

-- The item each member was last shown per job: when it was shown times the answer ("too fast").
CREATE TABLE label_views (
    round_id INTEGER NOT NULL,
    task_id  TEXT NOT NULL,
    user_id  INTEGER NOT NULL,
    item_id  INTEGER NOT NULL,
    shown_at TEXT NOT NULL,
    PRIMARY KEY (round_id, task_id, user_id)
);
