-- Part 5: what waits in the watched folder, and why.
-- One row per message seen in the watched folder that is not done yet: not
-- stored, not processed, or processed and waiting to be moved. A row is
-- removed when the message is done (moved, or kept for staff) or has left
-- the folder. Failures of one message are recorded here, with the decision:
-- retry at next_attempt_at (transient) or left for a human (permanent = 1).
-- Holds no personal data beyond the location and the server's error text;
-- rows live only while the message sits unhandled in the folder.
CREATE TABLE mailbox_waiting (
    source          TEXT NOT NULL,
    folder          TEXT NOT NULL,
    validity        INTEGER NOT NULL,
    uid             TEXT NOT NULL,
    first_seen_at   TEXT NOT NULL,
    -- fetch | move: the step that failed (NULL while nothing failed)
    stage           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    failing_since   TEXT,
    next_attempt_at TEXT,
    permanent       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, folder, validity, uid)
);
