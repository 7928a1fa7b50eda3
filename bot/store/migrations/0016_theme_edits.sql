-- Moderators' edits of themes and the options promoted from them (twin of postgres/0016_theme_edits.sql).
-- A theme has no row of its own: themes are recomputed from the answers (bot/features/rounds/themes.py),
-- so an edit names the answers it is about (answer ids of a task's answers, idea ids for an ideas round,
-- a JSON list whose first id is the anchor) and is applied, in id order, on top of every new clustering.
CREATE TABLE theme_edits (
    id           INTEGER PRIMARY KEY,
    round_id     INTEGER NOT NULL REFERENCES rounds (id),
    task_id      TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('rename', 'merge', 'split', 'move')),
    answer_ids   TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    moderator_id INTEGER REFERENCES users (id),
    created_at   TEXT NOT NULL
);
CREATE INDEX theme_edits_of_task ON theme_edits (round_id, task_id, id);

-- A theme promoted to a new option of its question, served by the campaign's later rounds in the same
-- community (space_id: the community's home space, whose moderators promoted it): a catalog override the
-- operator reviews with `crowdpulse catalog check`. One option per label per question per community and
-- one promotion per theme (its central answer): two moderators promoting at once add exactly one.
CREATE TABLE promoted_options (
    id               INTEGER PRIMARY KEY,
    space_id         INTEGER NOT NULL REFERENCES spaces (id),
    campaign_id      TEXT NOT NULL,
    task_id          TEXT NOT NULL,
    option_key       TEXT NOT NULL,
    label            TEXT NOT NULL,
    source_round_id  INTEGER NOT NULL REFERENCES rounds (id),
    anchor_answer_id INTEGER NOT NULL,
    promoted_by      INTEGER REFERENCES users (id),
    created_at       TEXT NOT NULL,
    UNIQUE (space_id, campaign_id, task_id, option_key),
    UNIQUE (source_round_id, task_id, anchor_answer_id)
);
