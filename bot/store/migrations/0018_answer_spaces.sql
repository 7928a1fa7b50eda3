-- Where each answer and skip was given (twin of postgres/0018_answer_spaces.sql): the space of the community
-- the member answered in, so the dashboard filters a round by space and platform in SQL. NULL for what
-- was recorded before (the dashboard's filter by space then leaves them out; the platform falls back to
-- the member's account). No foreign key, like spaces.community_id: copy-store keeps its own table order.
ALTER TABLE answers ADD COLUMN space_id INTEGER;
ALTER TABLE skips ADD COLUMN space_id INTEGER;
-- A round's answers by time: the Overview's answers per hour and the filter by date read a range of it.
CREATE INDEX answers_by_round_time ON answers (round_id, created_at);
