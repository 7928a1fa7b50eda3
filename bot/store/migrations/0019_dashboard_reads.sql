-- Indexes for the dashboard's reads of a large community (twin of postgres/0019_dashboard_reads.sql).
-- A round's tallies group its answers by task and value: with the value in the index the GROUP BY reads
-- the index alone, in order, instead of looking up every answer's row (a round of 600,000 answers: about
-- a tenth of the time). answers_by_task stays: the latest typed answers of a task are read by id from it.
CREATE INDEX answers_tally ON answers (round_id, task_id, value);
-- A round's answers in id order, a page at a time (a streamed export's keyset pages: WHERE round_id = ? AND
-- id > ? ORDER BY id LIMIT ?): read from here in order, where an index of (round_id, task_id) made every page
-- sort the whole round (a million answers: about a second a page, not a fiftieth).
CREATE INDEX answers_by_round ON answers (round_id, id);
-- Who took part in a community counts its idea authors: one index probe per member, not a scan of ideas.
CREATE INDEX ideas_by_author ON ideas (author_id, space_id);
