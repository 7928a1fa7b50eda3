-- Linked accounts (twin of postgres/0010_linked_accounts.sql): several platform accounts, one person.
--
-- account_links maps a linked (secondary) account to its person: the id of the primary account (the
-- one whose /link code was used; it keeps the wallet). A table of its own, copied after the ledger. Everything a person owns (answers,
-- votes, ledger, badges, bans) is written under the primary's id, so the hot paths need no join.
-- The guards below refuse, inside the database, a ledger row, a vote, an answer or a label for a linked
-- (secondary) account (an answer or a label may pay nothing, so the ledger's guard alone would not do): a process whose identity cache is stale fails that write, refreshes and runs it again.

CREATE TABLE account_links (
    account_id INTEGER PRIMARY KEY REFERENCES users (id),
    person_id  INTEGER NOT NULL REFERENCES users (id),
    linked_at  TEXT NOT NULL,
    CHECK (account_id != person_id)
);
CREATE INDEX account_links_by_person ON account_links (person_id);

-- One-time codes: only the sha256 of a code is stored; single use (used_at), valid until expires_at.
-- claimed_by is the account that typed the code and waits for the owner's confirmation.
CREATE TABLE link_codes (
    id         INTEGER PRIMARY KEY,
    code_hash  TEXT NOT NULL UNIQUE,
    owner_id   INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    claimed_by INTEGER REFERENCES users (id),
    used_at    TEXT,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX link_codes_by_owner ON link_codes (owner_id);

-- Mistyped codes, per account: at most a few per window (the feature's rule), counted here.
CREATE TABLE link_attempts (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX link_attempts_by_user ON link_attempts (user_id, created_at);

CREATE TRIGGER ledger_only_for_persons BEFORE INSERT ON ledger
WHEN (SELECT person_id FROM account_links WHERE account_id = NEW.user_id) IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'crowdpulse: account linked'); END;

CREATE TRIGGER votes_only_for_persons BEFORE INSERT ON votes
WHEN (SELECT person_id FROM account_links WHERE account_id = NEW.user_id) IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'crowdpulse: account linked'); END;

CREATE TRIGGER answers_only_for_persons BEFORE INSERT ON answers
WHEN (SELECT person_id FROM account_links WHERE account_id = NEW.user_id) IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'crowdpulse: account linked'); END;

CREATE TRIGGER label_answers_only_for_persons BEFORE INSERT ON label_answers
WHEN (SELECT person_id FROM account_links WHERE account_id = NEW.user_id) IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'crowdpulse: account linked'); END;
