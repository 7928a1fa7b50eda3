-- The web dashboard (twin of ../0012_dashboard.sql): teammates who sign in with a password
-- (argon2id hashes, never the password) and one-time sign-in links sent through a chat, stored as their
-- sha256 only, valid a few minutes and used once (used_at set in the signing-in transaction).
CREATE TABLE dashboard_users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'moderator', 'viewer')),
    created_at    TEXT NOT NULL
);

CREATE TABLE dashboard_links (
    token_hash       TEXT PRIMARY KEY,
    platform         TEXT NOT NULL,
    platform_user_id TEXT NOT NULL,
    display_name     TEXT NOT NULL DEFAULT '',
    expires_at       TEXT NOT NULL,
    used_at          TEXT
);
