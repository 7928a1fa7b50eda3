-- Leaderboards kept by the writer instead of by triggers (twin of postgres/0017_lean_scores.sql).
-- The ledger's trigger ran four score upserts per ledger row, each firing a histogram trigger: some
-- twelve steps per answer, one member at a time. Now the unit that writes a ledger row upserts the
-- member's scores of every scope in one statement (bot/store/scores.py), and the histogram moves of a
-- whole group commit are netted and written once before its COMMIT. The histogram counts only members
-- with points above zero: a rank is asked for those alone, and the writer can then tell a member's old
-- bucket from the new score and the delta, with no need to know whether the row existed.

DROP TRIGGER ledger_feeds_scores;
DROP TRIGGER scores_histogram_on_insert;
DROP TRIGGER scores_histogram_on_update;
DELETE FROM score_counts WHERE points <= 0 OR users = 0;  -- and the buckets left empty
