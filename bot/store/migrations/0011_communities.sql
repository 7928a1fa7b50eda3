-- Communities (twin of postgres/0011_communities.sql): spaces that share rounds, ideas and leaderboards.
-- community_id is the id of the community's home space (the first one); NULL is a community of one, so
-- a space nobody linked keeps its own id for everything, as before. A linking code is stored hashed
-- (sha256), lives a few minutes and is used once (used_at set in the joining transaction).
-- No foreign key on community_id: a home may have a higher id than a member space, and copy-store
-- copies spaces in id order.
ALTER TABLE spaces ADD COLUMN community_id INTEGER;
CREATE INDEX spaces_community ON spaces (community_id) WHERE community_id IS NOT NULL;

CREATE TABLE community_codes (
    code_hash    TEXT PRIMARY KEY,
    community_id INTEGER NOT NULL REFERENCES spaces (id),
    created_by   INTEGER NOT NULL REFERENCES users (id),
    expires_at   TEXT NOT NULL,
    used_at      TEXT,
    used_by      INTEGER REFERENCES spaces (id)
);
