-- Ideas: members propose ideas, upvote and build on each other's; moderators move them through statuses.
-- The constraints hold the invariants (one vote per member per idea, an append-only vote log); ideas.votes
-- is kept in the transaction of every vote, so listings never count rows.

CREATE TABLE ideas (
    id            INTEGER PRIMARY KEY,
    space_id      INTEGER NOT NULL REFERENCES spaces (id),
    round_id      INTEGER REFERENCES rounds (id),
    author_id     INTEGER NOT NULL REFERENCES users (id),
    text          TEXT NOT NULL,
    category      TEXT,
    parent_id     INTEGER REFERENCES ideas (id),
    status        TEXT NOT NULL CHECK (status IN (
                      'pending', 'new', 'under_review', 'accepted', 'launched', 'declined', 'merged', 'hidden')),
    status_note   TEXT NOT NULL DEFAULT '',
    merged_into   INTEGER REFERENCES ideas (id),
    votes         INTEGER NOT NULL DEFAULT 0 CHECK (votes >= 0),
    -- What the author was paid for this idea's upvotes so far (the per-idea cap counts against it).
    upvote_points INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    status_at     TEXT NOT NULL,
    CHECK ((status = 'merged') = (merged_into IS NOT NULL))
);
-- Listings show only the open statuses; the WHERE must stay identical to LISTED in bot/store/ideas_sql.py,
-- or SQLite stops using these partial indexes.
CREATE INDEX ideas_top ON ideas (space_id, votes DESC)
    WHERE status IN ('new', 'under_review', 'accepted', 'launched');
CREATE INDEX ideas_new ON ideas (space_id, created_at)
    WHERE status IN ('new', 'under_review', 'accepted', 'launched');
CREATE INDEX ideas_by_status ON ideas (space_id, status, status_at);
CREATE INDEX ideas_children ON ideas (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX ideas_by_round ON ideas (round_id, votes DESC) WHERE round_id IS NOT NULL;

CREATE TABLE votes (
    idea_id    INTEGER NOT NULL REFERENCES ideas (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (idea_id, user_id)
) WITHOUT ROWID;

-- Every vote and retraction, in order: the n-th event of a member on an idea names its ledger entry
-- (idea-upvote:<idea>:<voter>:<n>), so a vote after a retraction earns under a fresh key.
CREATE TABLE vote_events (
    id         INTEGER PRIMARY KEY,
    idea_id    INTEGER NOT NULL REFERENCES ideas (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL CHECK (kind IN ('up', 'retract')),
    created_at TEXT NOT NULL
);
CREATE INDEX vote_events_by_voter ON vote_events (idea_id, user_id);
CREATE TRIGGER vote_events_are_append_only_update BEFORE UPDATE ON vote_events
BEGIN SELECT RAISE(ABORT, 'vote events are append-only'); END;
CREATE TRIGGER vote_events_are_append_only_delete BEFORE DELETE ON vote_events
BEGIN SELECT RAISE(ABORT, 'vote events are append-only'); END;

-- An idea held back because similar ones exist, until its author taps "Submit anyway": one per member and
-- space. AUTOINCREMENT: a replaced draft never hands its id to the next one, so an old button goes stale.
CREATE TABLE idea_drafts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    space_id   INTEGER NOT NULL REFERENCES spaces (id),
    text       TEXT NOT NULL,
    category   TEXT,
    parent_id  INTEGER REFERENCES ideas (id),
    created_at TEXT NOT NULL,
    UNIQUE (user_id, space_id)
);
