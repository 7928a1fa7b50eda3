-- Hot counters split into shards (twin of postgres/0007_sharded_counters.sql). Every answer adds one to
-- its task's count, and most awards move a member from one score bucket to another: on PostgreSQL,
-- writers in several processes doing that to the same row abort each other. Each writer now adds to its
-- own row of a counter (its shard) and readers sum the rows. SQLite has one writer: all of it is shard 0.

CREATE TABLE task_counts_sharded (
    round_id INTEGER NOT NULL,
    task_id  TEXT NOT NULL,
    shard    INTEGER NOT NULL DEFAULT 0,
    answers  INTEGER NOT NULL,
    PRIMARY KEY (round_id, task_id, shard)
) WITHOUT ROWID;
INSERT INTO task_counts_sharded (round_id, task_id, answers) SELECT round_id, task_id, answers FROM task_counts;
DROP TABLE task_counts;
ALTER TABLE task_counts_sharded RENAME TO task_counts;

-- The histogram's triggers name the table: they go while it is rebuilt.
DROP TRIGGER scores_histogram_on_insert;
DROP TRIGGER scores_histogram_on_update;
CREATE TABLE score_counts_sharded (
    scope  TEXT NOT NULL,
    points INTEGER NOT NULL,
    shard  INTEGER NOT NULL DEFAULT 0,
    users  INTEGER NOT NULL,
    PRIMARY KEY (scope, points, shard)
) WITHOUT ROWID;
INSERT INTO score_counts_sharded (scope, points, users) SELECT scope, points, users FROM score_counts;
DROP TABLE score_counts;
ALTER TABLE score_counts_sharded RENAME TO score_counts;

CREATE TRIGGER scores_histogram_on_insert AFTER INSERT ON scores
BEGIN
    INSERT INTO score_counts (scope, points, users) VALUES (NEW.scope, NEW.points, 1)
        ON CONFLICT DO UPDATE SET users = users + 1;
END;

CREATE TRIGGER scores_histogram_on_update AFTER UPDATE OF points ON scores
BEGIN
    UPDATE score_counts SET users = users - 1 WHERE scope = OLD.scope AND points = OLD.points AND shard = 0;
    INSERT INTO score_counts (scope, points, users) VALUES (NEW.scope, NEW.points, 1)
        ON CONFLICT DO UPDATE SET users = users + 1;
END;
