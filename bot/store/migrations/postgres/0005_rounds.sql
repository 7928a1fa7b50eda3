-- Who closed a round, its title, and the index of outbox claims (twin of ../0005_rounds.sql).
ALTER TABLE rounds ADD COLUMN closed_by BIGINT REFERENCES users (id);
ALTER TABLE rounds ADD COLUMN title TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_claims ON outbox (claimed_at) WHERE sent_at IS NULL;
