-- Part 10: the sender's looks for due and for expiring mail read indexes only.
-- `expires_at` was added after `raw`, so a filter on it read every queued
-- row's overflow pages (its raw bytes) for each claim and each expiry check:
-- a backlog of 1,000 queued mails cost tens of thousands of page reads.
CREATE INDEX outbox_due_claim ON outbox(state, next_attempt_at, id, expires_at);
CREATE INDEX outbox_expiry ON outbox(state, expires_at);
