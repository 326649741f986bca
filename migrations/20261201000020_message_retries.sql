-- Part 7: a failed message can be put back (`postbote messages retry ID`).
-- `retries` counts how often that happened: the staff notice of a message
-- that fails again after a retry is keyed by it, so staff hear of each
-- failure once. Existing rows start at 0 (never retried).
ALTER TABLE messages ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
