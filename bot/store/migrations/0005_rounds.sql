-- Rounds are closed by a moderator or by their deadline; remember who, for the audit and the results.
ALTER TABLE rounds ADD COLUMN closed_by INTEGER REFERENCES users (id);
ALTER TABLE rounds ADD COLUMN title TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_claims ON outbox (claimed_at) WHERE sent_at IS NULL;
