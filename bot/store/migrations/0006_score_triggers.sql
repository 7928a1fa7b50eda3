-- Leaderboards are derived from the ledger by the database itself: each ledger row names its round and
-- its week (in the settings' time zone), and triggers keep the scores of every scope and the histogram
-- of scores (one row per distinct score, so a rank is a short sum) in step, in the same transaction.
-- Spending ('redeem') lowers the balance, never the points earned.

ALTER TABLE ledger ADD COLUMN round_id INTEGER;
ALTER TABLE ledger ADD COLUMN week TEXT NOT NULL DEFAULT '';

CREATE TRIGGER ledger_feeds_scores AFTER INSERT ON ledger
WHEN NEW.delta != 0 AND NEW.reason != 'redeem'
BEGIN
    INSERT INTO scores (scope, user_id, points) VALUES ('all', NEW.user_id, NEW.delta)
        ON CONFLICT DO UPDATE SET points = points + excluded.points;
    INSERT INTO scores (scope, user_id, points) SELECT 's' || NEW.space_id, NEW.user_id, NEW.delta
        WHERE NEW.space_id IS NOT NULL
        ON CONFLICT DO UPDATE SET points = points + excluded.points;
    INSERT INTO scores (scope, user_id, points) SELECT 's' || NEW.space_id || 'w' || NEW.week, NEW.user_id, NEW.delta
        WHERE NEW.space_id IS NOT NULL AND NEW.week != ''
        ON CONFLICT DO UPDATE SET points = points + excluded.points;
    INSERT INTO scores (scope, user_id, points) SELECT 'r' || NEW.round_id, NEW.user_id, NEW.delta
        WHERE NEW.round_id IS NOT NULL
        ON CONFLICT DO UPDATE SET points = points + excluded.points;
END;

CREATE TRIGGER scores_histogram_on_insert AFTER INSERT ON scores
BEGIN
    INSERT INTO score_counts (scope, points, users) VALUES (NEW.scope, NEW.points, 1)
        ON CONFLICT DO UPDATE SET users = users + 1;
END;

CREATE TRIGGER scores_histogram_on_update AFTER UPDATE OF points ON scores
BEGIN
    UPDATE score_counts SET users = users - 1 WHERE scope = OLD.scope AND points = OLD.points;
    INSERT INTO score_counts (scope, points, users) VALUES (NEW.scope, NEW.points, 1)
        ON CONFLICT DO UPDATE SET users = users + 1;
END;
