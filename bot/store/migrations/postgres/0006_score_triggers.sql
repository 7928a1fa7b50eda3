-- Leaderboards derived from the ledger by the database itself (twin of ../0006_score_triggers.sql):
-- each ledger row names its round and week, and triggers keep every scope's scores and the histogram
-- of scores in step, in the same transaction. Spending ('redeem') lowers the balance, never the points.

ALTER TABLE ledger ADD COLUMN round_id BIGINT;
ALTER TABLE ledger ADD COLUMN week TEXT NOT NULL DEFAULT '';

CREATE FUNCTION crowdpulse_ledger_feeds_scores() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scores (scope, user_id, points) VALUES ('all', NEW.user_id, NEW.delta)
        ON CONFLICT (scope, user_id) DO UPDATE SET points = scores.points + excluded.points;
    IF NEW.space_id IS NOT NULL THEN
        INSERT INTO scores (scope, user_id, points) VALUES ('s' || NEW.space_id, NEW.user_id, NEW.delta)
            ON CONFLICT (scope, user_id) DO UPDATE SET points = scores.points + excluded.points;
        IF NEW.week != '' THEN
            INSERT INTO scores (scope, user_id, points)
                VALUES ('s' || NEW.space_id || 'w' || NEW.week, NEW.user_id, NEW.delta)
                ON CONFLICT (scope, user_id) DO UPDATE SET points = scores.points + excluded.points;
        END IF;
    END IF;
    IF NEW.round_id IS NOT NULL THEN
        INSERT INTO scores (scope, user_id, points) VALUES ('r' || NEW.round_id, NEW.user_id, NEW.delta)
            ON CONFLICT (scope, user_id) DO UPDATE SET points = scores.points + excluded.points;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER ledger_feeds_scores AFTER INSERT ON ledger
    FOR EACH ROW WHEN (NEW.delta != 0 AND NEW.reason != 'redeem')
    EXECUTE FUNCTION crowdpulse_ledger_feeds_scores();

CREATE FUNCTION crowdpulse_scores_histogram() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        UPDATE score_counts SET users = users - 1 WHERE scope = OLD.scope AND points = OLD.points;
    END IF;
    INSERT INTO score_counts (scope, points, users) VALUES (NEW.scope, NEW.points, 1)
        ON CONFLICT (scope, points) DO UPDATE SET users = score_counts.users + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER scores_histogram_on_insert AFTER INSERT ON scores
    FOR EACH ROW EXECUTE FUNCTION crowdpulse_scores_histogram();
CREATE TRIGGER scores_histogram_on_update AFTER UPDATE OF points ON scores
    FOR EACH ROW EXECUTE FUNCTION crowdpulse_scores_histogram();
