-- Part 7: each mail once across crashes, and no silent stop.
-- A row is claimed (state 'sending', owner = the sender's run id, claimed_at)
-- before its SMTP transaction. A row left 'sending' by another run may have
-- been accepted: it is checked (its copy in the project mailbox) before it is
-- sent again.
ALTER TABLE outbox ADD COLUMN owner TEXT;
ALTER TABLE outbox ADD COLUMN claimed_at TEXT;
-- Mail tied to a time (a reminder, an invitation) is marked 'expired' instead
-- of being sent after this; staff get one notice (expiry_noticed = 1 then).
ALTER TABLE outbox ADD COLUMN expires_at TEXT;
ALTER TABLE outbox ADD COLUMN expiry_noticed INTEGER NOT NULL DEFAULT 0;
-- When a mail failed permanently, and when an administrator acknowledged it
-- (`postbote outbox ack`); unacknowledged recent failures make status exit 1.
ALTER TABLE outbox ADD COLUMN failed_at TEXT;
ALTER TABLE outbox ADD COLUMN acked_at TEXT;
CREATE INDEX outbox_claims ON outbox(state, owner);
