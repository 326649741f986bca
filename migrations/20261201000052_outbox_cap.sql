-- Which budget an outgoing mail counted against (applicant, staff_caused,
-- to_staff, alarm; NULL for rows written before): alarms and the digest
-- are counted apart from other staff notices, and applicant-facing mail
-- against a global hourly cap as well.
ALTER TABLE outbox ADD COLUMN cap TEXT;
CREATE INDEX outbox_cap_created ON outbox(cap, created_at);
