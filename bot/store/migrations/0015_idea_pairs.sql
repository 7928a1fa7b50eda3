-- Ideas judged in pairs (twin of postgres/0015_idea_pairs.sql): "which would you rather see?", a wiki
-- survey. One row per member and unordered pair (low_id < high_id), so a member judges a pair once
-- however many taps, processes or replays: the UNIQUE constraint is the rule, the code only words it.
-- winner_id NULL is "can't decide": it counts for the member (points, the pair is done) but tells the
-- Bradley-Terry fit nothing.

CREATE TABLE idea_judgements (
    id         INTEGER PRIMARY KEY,
    space_id   INTEGER NOT NULL REFERENCES spaces (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    low_id     INTEGER NOT NULL REFERENCES ideas (id),
    high_id    INTEGER NOT NULL REFERENCES ideas (id),
    winner_id  INTEGER REFERENCES ideas (id),
    round_id   INTEGER REFERENCES rounds (id),
    created_at TEXT NOT NULL,
    CHECK (low_id < high_id),
    CHECK (winner_id IS NULL OR winner_id = low_id OR winner_id = high_id),
    UNIQUE (user_id, low_id, high_id)
);
-- The fit and the pair index read a space's judgements, the newest since their last read first.
CREATE INDEX idea_judgements_by_space ON idea_judgements (space_id, id);
-- /results counts a round's judgements (those made in a campaign's idea_pair task).
CREATE INDEX idea_judgements_by_round ON idea_judgements (round_id) WHERE round_id IS NOT NULL;

-- The pair index follows every change to a space's ideas (a new one, hidden, merged, declined,
-- approved) by reading the rows whose status_at moved since its last look.
CREATE INDEX ideas_by_change ON ideas (space_id, status_at);
