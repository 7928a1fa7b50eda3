-- Quiet members (twin of postgres/0013_quiet.sql): a person who typed /quiet gets no private summary when
-- a round they answered closes. Stored on the person's (primary account's) row, 0 or 1; every existing
-- member starts not quiet, so nothing changes for anyone until they ask.
ALTER TABLE users ADD COLUMN quiet INTEGER NOT NULL DEFAULT 0;
