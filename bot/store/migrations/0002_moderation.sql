-- Moderation: bans per space and an audit log of every moderator action.

CREATE TABLE bans (
    space_id   INTEGER NOT NULL REFERENCES spaces (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    banned_by  INTEGER REFERENCES users (id),
    reason     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (space_id, user_id)
) WITHOUT ROWID;

CREATE TABLE audit (
    id           INTEGER PRIMARY KEY,
    space_id     INTEGER REFERENCES spaces (id),
    moderator_id INTEGER REFERENCES users (id),
    action       TEXT NOT NULL,
    target       TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL
);
CREATE INDEX audit_by_space ON audit (space_id, id);
