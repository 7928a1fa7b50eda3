-- Hot counters split into shards (twin of ../0007_sharded_counters.sql). Every answer adds one to its
-- task's count, and most awards move a member from one score bucket to another: writers in several
-- processes doing that to the same row abort each other ("could not serialize access due to concurrent
-- update"). Each writer connection claims a shard (bot/store/postgres.py sets crowdpulse.shard) and adds
-- to its own row of a counter; readers sum the rows. A shard's row may go below zero: only sums count.

ALTER TABLE task_counts ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
ALTER TABLE task_counts DROP CONSTRAINT task_counts_pkey;
ALTER TABLE task_counts ADD PRIMARY KEY (round_id, task_id, shard);

ALTER TABLE score_counts ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
ALTER TABLE score_counts DROP CONSTRAINT score_counts_pkey;
ALTER TABLE score_counts ADD PRIMARY KEY (scope, points, shard);

-- The writing connection's shard; 0 for a connection that claimed none (migrations, tools).
CREATE FUNCTION crowdpulse_writer_shard() RETURNS INTEGER LANGUAGE sql STABLE AS $$
    SELECT COALESCE(NULLIF(current_setting('crowdpulse.shard', true), ''), '0')::INTEGER
$$;

CREATE OR REPLACE FUNCTION crowdpulse_scores_histogram() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO score_counts (scope, points, shard, users) VALUES (OLD.scope, OLD.points, crowdpulse_writer_shard(), -1)
            ON CONFLICT (scope, points, shard) DO UPDATE SET users = score_counts.users - 1;
    END IF;
    INSERT INTO score_counts (scope, points, shard, users) VALUES (NEW.scope, NEW.points, crowdpulse_writer_shard(), 1)
        ON CONFLICT (scope, points, shard) DO UPDATE SET users = score_counts.users + 1;
    RETURN NULL;
END;
$$;
