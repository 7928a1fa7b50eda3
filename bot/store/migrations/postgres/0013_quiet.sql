-- Quiet members (twin of ../0013_quiet.sql): a person who typed /quiet gets no private summary when a
-- round they answered closes; 0 or 1 on the person's (primary account's) row, 0 for everyone at first.
ALTER TABLE users ADD COLUMN quiet INTEGER NOT NULL DEFAULT 0;
