-- Where each answer and skip was given (twin of ../0018_answer_spaces.sql): the space of the community the
-- member answered in, for the dashboard's filter by space and platform; NULL for older rows.
ALTER TABLE answers ADD COLUMN space_id BIGINT;
ALTER TABLE skips ADD COLUMN space_id BIGINT;
-- A round's answers by time: the Overview's answers per hour and the filter by date read a range of it.
CREATE INDEX answers_by_round_time ON answers (round_id, created_at);
