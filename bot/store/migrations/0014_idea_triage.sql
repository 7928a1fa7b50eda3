-- Sorting ideas from the dashboard (twin of postgres/0014_idea_triage.sql): where an idea was proposed
-- (a community's space, so its Ideas page filters by space and platform; NULL for ideas stored before, which
-- were proposed in the home space), the teammate it is assigned to, its tags and its internal notes.
-- Tags and notes are the team's own: no member ever sees them. The CHECKs bound what a form can store.
ALTER TABLE ideas ADD COLUMN origin_space_id INTEGER REFERENCES spaces (id);
ALTER TABLE ideas ADD COLUMN assignee_id INTEGER REFERENCES users (id);
ALTER TABLE idea_drafts ADD COLUMN origin_space_id INTEGER REFERENCES spaces (id);
-- The Ideas page lists every status but merged, so the listings' partial indexes (0003) do not serve it:
-- its top and new orders, and its category filter, read these instead of sorting the community's ideas.
CREATE INDEX ideas_board_top ON ideas (space_id, votes DESC, id);
CREATE INDEX ideas_board_new ON ideas (space_id, created_at DESC, id DESC);
CREATE INDEX ideas_by_category ON ideas (space_id, category);

CREATE TABLE idea_tags (
    idea_id INTEGER NOT NULL REFERENCES ideas (id),
    tag     TEXT NOT NULL CHECK (length(tag) BETWEEN 1 AND 32),
    PRIMARY KEY (idea_id, tag)
) WITHOUT ROWID;

CREATE TABLE idea_notes (
    id         INTEGER PRIMARY KEY,
    idea_id    INTEGER NOT NULL REFERENCES ideas (id),
    author_id  INTEGER NOT NULL REFERENCES users (id),
    text       TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 10000),
    created_at TEXT NOT NULL
);
CREATE INDEX idea_notes_by_idea ON idea_notes (idea_id, id);
