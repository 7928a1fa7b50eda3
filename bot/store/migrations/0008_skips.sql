-- Skips (twin of postgres/0008_skips.sql): a member passing on a question is recorded, not an answer and
-- worth no points, so the question is not asked again in that round and results show a skip rate per
-- question. One skip per member per task per round; answering later supersedes it (results count only
-- skips without an answer).
CREATE TABLE skips (
    id         INTEGER PRIMARY KEY,
    round_id   INTEGER NOT NULL REFERENCES rounds (id),
    task_id    TEXT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    UNIQUE (round_id, user_id, task_id)
);
