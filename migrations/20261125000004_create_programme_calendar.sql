-- The programme calendar (part 4): the last version of every module and
-- learning group that postbote acted on, to notice changes in the config.
CREATE TABLE programme_events (
    key             TEXT PRIMARY KEY NOT NULL,   -- module-1, learning-group-2
    fingerprint     TEXT NOT NULL,               -- dates, times, place, link, title
    status          TEXT NOT NULL,               -- confirmed | tentative | cancelled
    sequence        INTEGER NOT NULL DEFAULT 0,  -- iCalendar SEQUENCE
    start_at        TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- Every scheduled mail decided on (sent or skipped), with the clock time it
-- was decided: reminders, announcements, updates, cancellations, digests.
CREATE TABLE programme_mails (
    key             TEXT PRIMARY KEY NOT NULL,
    event_key       TEXT,
    kind            TEXT NOT NULL,               -- reminder | announcement | update | cancel | digest | alarm
    recipient       TEXT,
    due_at          TEXT NOT NULL,
    decided_at      TEXT NOT NULL,               -- the scheduler's clock
    state           TEXT NOT NULL,               -- sent | skipped
    note            TEXT
);
CREATE INDEX programme_mails_event ON programme_mails(event_key, state);

-- Bounces (delivery status notifications) matched to the outbox.
CREATE TABLE bounces (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_row     INTEGER NOT NULL REFERENCES messages(id),
    outbox_id       INTEGER REFERENCES outbox(id),
    address         TEXT NOT NULL,
    action          TEXT NOT NULL,
    status          TEXT,
    diagnostic      TEXT,
    created_at      TEXT NOT NULL,
    UNIQUE (message_row, address)
);
ALTER TABLE outbox ADD COLUMN bounced INTEGER NOT NULL DEFAULT 0;
