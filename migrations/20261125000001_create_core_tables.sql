-- Raw messages, content-addressed: stored before anything acts on them.
CREATE TABLE raw_messages (
    sha256      TEXT PRIMARY KEY NOT NULL,
    size        INTEGER NOT NULL,
    bytes       BLOB NOT NULL,
    stored_at   TEXT NOT NULL
);

-- One row per distinct incoming message (by content hash).
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256          TEXT NOT NULL UNIQUE REFERENCES raw_messages(sha256),
    message_id      TEXT,
    from_address    TEXT,
    subject         TEXT,
    internal_date   TEXT NOT NULL,
    -- received | processed | duplicate | failed
    state           TEXT NOT NULL DEFAULT 'received',
    -- application | automatic | staff | other (NULL until classified)
    class           TEXT,
    class_reason    TEXT,
    -- move | keep: what to do with it in the mailbox once processed
    disposition     TEXT,
    application_id  INTEGER REFERENCES applications(id),
    duplicate_of    INTEGER REFERENCES messages(id),
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    received_at     TEXT NOT NULL,
    processed_at    TEXT
);
CREATE INDEX messages_message_id ON messages(message_id);
CREATE INDEX messages_state ON messages(state);

-- Where a message was seen: (source, folder, validity, uid) never processed twice.
CREATE TABLE mailbox_locations (
    source          TEXT NOT NULL,     -- imap | maildir
    folder          TEXT NOT NULL,
    validity        INTEGER NOT NULL,  -- IMAP UIDVALIDITY; 0 for Maildir
    uid             TEXT NOT NULL,     -- IMAP UID or Maildir unique name
    message_row     INTEGER NOT NULL REFERENCES messages(id),
    moved_at        TEXT,
    seen_at         TEXT NOT NULL,
    PRIMARY KEY (source, folder, validity, uid)
);

CREATE TABLE applications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    reference       TEXT NOT NULL UNIQUE,
    applicant       TEXT NOT NULL UNIQUE,  -- lower-cased sender address
    applicant_name  TEXT,
    subject         TEXT,
    first_message   INTEGER NOT NULL REFERENCES messages(id),
    received_at     TEXT NOT NULL,         -- INTERNALDATE of the first mail (UTC)
    late            INTEGER NOT NULL DEFAULT 0,
    -- received | confirmed
    state           TEXT NOT NULL DEFAULT 'received',
    message_count   INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- The transactional outbox: a row is written with the state change that causes it.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    message_id      TEXT NOT NULL UNIQUE,
    purpose         TEXT NOT NULL,
    application_id  INTEGER REFERENCES applications(id),
    env_from        TEXT NOT NULL,
    env_to          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    raw             BLOB NOT NULL,
    -- queued | sent | failed | suppressed
    state           TEXT NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    copied_to_sent  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox(env_to, created_at);

-- Health facts (last successful mailbox check and so on).
CREATE TABLE health (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
