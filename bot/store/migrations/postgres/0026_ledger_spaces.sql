-- A member's ledger rows with their space (twin of ../0026_ledger_spaces.sql). Counting who took part
-- in a community (the Overview's member count, the denominator of every response rate) asks of each member
-- whether a ledger row of theirs is in this space: with the space in the index, a probe is answered from
-- the index alone (an index-only scan), where (user_id, id) read the member's rows until one was of this
-- space (in SQLite, 100,000 members on 1,100,000 ledger rows: 73 ms then 44; PostgreSQL's planner may
-- still prefer to hash the ledger). Still one index, so an award writes no more entries than before, and a
-- member's rows stay in id order for their history.
DROP INDEX ledger_by_user;
CREATE INDEX ledger_by_user ON ledger (user_id, id, space_id);
