-- Leaderboards kept by the writer instead of by triggers (twin of ../0017_lean_scores.sql): the unit
-- that writes a ledger row upserts the member's scores of every scope in one statement, and the
-- histogram moves of a transaction are netted and written once before its COMMIT, into the writer's
-- shard. The histogram counts only members with points above zero (a rank is asked for those alone).

DROP TRIGGER ledger_feeds_scores ON ledger;
DROP FUNCTION crowdpulse_ledger_feeds_scores();
DROP TRIGGER scores_histogram_on_insert ON scores;
DROP TRIGGER scores_histogram_on_update ON scores;
DROP FUNCTION crowdpulse_scores_histogram();
DELETE FROM score_counts WHERE points <= 0 OR users = 0;  -- and the buckets left empty
