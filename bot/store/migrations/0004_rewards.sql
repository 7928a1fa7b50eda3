-- Gamification and rewards: per-member counters, badges earned once, the rewards catalog, one-time
-- codes and redemptions. Constraints guard what must never happen twice (a badge, a code handed out,
-- a redemption request); the code only turns their refusals into friendly messages.

-- How many answers, ideas, votes… a member has to their name, kept with each effect, so a badge
-- threshold is checked against one row instead of a count over the member's history.
CREATE TABLE user_counters (
    user_id INTEGER NOT NULL REFERENCES users (id),
    counter TEXT NOT NULL,
    value   INTEGER NOT NULL,
    PRIMARY KEY (user_id, counter)
) WITHOUT ROWID;
INSERT INTO user_counters (user_id, counter, value)
SELECT user_id, 'answers', COUNT(*) FROM answers GROUP BY user_id;

CREATE TABLE user_badges (
    user_id   INTEGER NOT NULL REFERENCES users (id),
    badge     TEXT NOT NULL,
    earned_at TEXT NOT NULL,
    PRIMARY KEY (user_id, badge)
) WITHOUT ROWID;

-- stock: how many more can be handed out (NULL: no limit); importing codes adds them to it.
CREATE TABLE rewards (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    cost       INTEGER NOT NULL CHECK (cost > 0),
    stock      INTEGER CHECK (stock >= 0),
    created_at TEXT NOT NULL
);

-- request_key (user id and a platform update or a confirmation nonce) makes a retried request a no-op.
CREATE TABLE redemptions (
    id          INTEGER PRIMARY KEY,
    reward_id   TEXT NOT NULL REFERENCES rewards (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    space_id    INTEGER REFERENCES spaces (id),
    cost        INTEGER NOT NULL,
    request_key TEXT UNIQUE,
    created_at  TEXT NOT NULL
);
CREATE INDEX redemptions_by_space ON redemptions (space_id, id);

CREATE TABLE reward_codes (
    id            INTEGER PRIMARY KEY,
    reward_id     TEXT NOT NULL REFERENCES rewards (id),
    code          TEXT NOT NULL UNIQUE,
    redemption_id INTEGER UNIQUE REFERENCES redemptions (id),
    redeemed_by   INTEGER REFERENCES users (id),
    created_at    TEXT NOT NULL,
    CHECK ((redemption_id IS NULL) = (redeemed_by IS NULL))
);
CREATE INDEX reward_codes_unused ON reward_codes (reward_id, id) WHERE redeemed_by IS NULL;
-- A code handed out stays with its redemption, whatever a future bug tries.
CREATE TRIGGER reward_codes_are_handed_out_once BEFORE UPDATE OF redeemed_by, redemption_id ON reward_codes
WHEN OLD.redeemed_by IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a reward code is handed out once'); END;
CREATE TRIGGER reward_codes_handed_out_stay BEFORE DELETE ON reward_codes
WHEN OLD.redeemed_by IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a handed-out reward code stays on record'); END;
