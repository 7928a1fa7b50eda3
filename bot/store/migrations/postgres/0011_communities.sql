-- Communities (twin of ../0011_communities.sql): community_id is the home space's id, NULL a community of
-- one; linking codes are stored hashed, expire, and are used once.
-- No foreign key on community_id (copy-store copies spaces in id order; a home may come later).
ALTER TABLE spaces ADD COLUMN community_id BIGINT;
CREATE INDEX spaces_community ON spaces (community_id) WHERE community_id IS NOT NULL;

CREATE TABLE community_codes (
    code_hash    TEXT PRIMARY KEY,
    community_id BIGINT NOT NULL REFERENCES spaces (id),
    created_by   BIGINT NOT NULL REFERENCES users (id),
    expires_at   TEXT NOT NULL,
    used_at      TEXT,
    used_by      BIGINT REFERENCES spaces (id)
);
