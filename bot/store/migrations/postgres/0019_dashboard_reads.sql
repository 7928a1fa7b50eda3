-- Indexes for the dashboard's reads of a large community (twin of ../0019_dashboard_reads.sql).
-- SQLite's answers_tally (round_id, task_id, value) is left out here on purpose: a PostgreSQL B-tree entry
-- is capped near 2.7 kB and a typed answer may be longer (max_length is the catalog's choice), so indexing
-- the value could refuse an answer. PostgreSQL reads a round's answers for the tallies through
-- answers_by_task and aggregates them with a hash, which it does without the index.
-- A round's answers in id order, a page at a time (a streamed export's keyset pages: WHERE round_id = ? AND
-- id > ? ORDER BY id LIMIT ?): read from here in order, where an index of (round_id, task_id) made every page
-- sort the whole round (a million answers on SQLite: about a second a page, not a fiftieth).
CREATE INDEX answers_by_round ON answers (round_id, id);
-- Who took part in a community counts its idea authors: one index probe per member, not a scan of ideas.
CREATE INDEX ideas_by_author ON ideas (author_id, space_id);
