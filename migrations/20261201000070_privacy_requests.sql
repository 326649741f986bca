-- Part 8: the staff commands LÖSCHEN and AUSKUNFT by mail. The command only
-- records a request here, in its own transaction; the scheduler performs it
-- right after (an erasure touches the mailbox over IMAP and must not run
-- inside the command's transaction). Holds the reference and the requesting
-- staff address only, never content.
CREATE TABLE privacy_requests (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- preview (LÖSCHEN REF) | erase (LÖSCHEN REF BESTÄTIGT) | export (AUSKUNFT REF)
    kind         TEXT NOT NULL CHECK (kind IN ('preview', 'erase', 'export')),
    reference    TEXT NOT NULL,
    -- the authenticated staff address the results go to
    requested_by TEXT NOT NULL,
    -- the command mail (messages.id); the row itself may be erased later
    message_row  INTEGER NOT NULL,
    requested_at TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    done_at      TEXT,
    -- the last error (English, for `status`), never content
    note         TEXT,
    -- one request per command line: a replayed command cannot queue twice
    UNIQUE (message_row, kind, reference)
);
CREATE INDEX privacy_requests_pending ON privacy_requests (state, requested_at);
