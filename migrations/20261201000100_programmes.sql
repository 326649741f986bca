-- Part 9: several programmes in one instance.
--
-- Every programme-owned row names its programme by code (`EWS7`). Rows from
-- before part 9 get '' here: at start-up postbote gives them to the first
-- programme of the settings (`store::programmes::adopt`), which becomes the
-- programme's "legacy" owner, and keeps its references and keys unchanged.
--
-- NOTE: SQLite cannot change a UNIQUE constraint in place: the tables are
-- rebuilt. Migrations run with foreign keys off and are checked afterwards
-- (`store::migrate`), so a table that others reference can be dropped and
-- its new copy renamed in its place.

CREATE TABLE programmes (
    code            TEXT PRIMARY KEY NOT NULL,    -- EWS7
    legacy          INTEGER NOT NULL DEFAULT 0,   -- owns the rows from before part 9
    last_number     INTEGER NOT NULL DEFAULT 0,   -- the last reference number given
    added_at        TEXT NOT NULL
);

CREATE TABLE applications_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    programme       TEXT NOT NULL DEFAULT '',
    reference       TEXT NOT NULL UNIQUE,
    applicant       TEXT NOT NULL,         -- lower-cased sender address
    applicant_name  TEXT,
    subject         TEXT,
    first_message   INTEGER NOT NULL REFERENCES messages(id),
    received_at     TEXT NOT NULL,         -- INTERNALDATE of the first mail (UTC)
    late            INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'received',
    message_count   INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    complete        INTEGER NOT NULL DEFAULT 0,
    municipality    TEXT,
    owner           TEXT,
    duplicate_of    INTEGER REFERENCES applications(id),
    merged_into     INTEGER REFERENCES applications(id),
    UNIQUE (programme, applicant)
);
INSERT INTO applications_new (id, programme, reference, applicant, applicant_name, subject,
    first_message, received_at, late, state, message_count, created_at, updated_at, complete,
    municipality, owner, duplicate_of, merged_into)
SELECT id, '', reference, applicant, applicant_name, subject, first_message, received_at, late,
    state, message_count, created_at, updated_at, complete, municipality, owner, duplicate_of,
    merged_into
FROM applications;
DROP TABLE applications;
ALTER TABLE applications_new RENAME TO applications;

CREATE TABLE participants_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    programme       TEXT NOT NULL DEFAULT '',
    application_id  INTEGER REFERENCES applications(id),
    municipality    TEXT NOT NULL,
    name            TEXT,
    email           TEXT NOT NULL,          -- lower case
    role            TEXT NOT NULL,          -- participant | supervisor
    source          TEXT NOT NULL,          -- selection | import
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (programme, email, role)
);
INSERT INTO participants_new (id, programme, application_id, municipality, name, email, role,
    source, active, created_at, updated_at)
SELECT id, '', application_id, municipality, name, email, role, source, active, created_at,
    updated_at
FROM participants;
DROP TABLE participants;
ALTER TABLE participants_new RENAME TO participants;

CREATE TABLE programme_events_new (
    programme       TEXT NOT NULL DEFAULT '',
    key             TEXT NOT NULL,               -- module-1, learning-group-2
    fingerprint     TEXT NOT NULL,
    status          TEXT NOT NULL,
    sequence        INTEGER NOT NULL DEFAULT 0,
    start_at        TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    uid             TEXT,
    PRIMARY KEY (programme, key)
);
INSERT INTO programme_events_new (programme, key, fingerprint, status, sequence, start_at,
    updated_at, uid)
SELECT '', key, fingerprint, status, sequence, start_at, updated_at, uid FROM programme_events;
DROP TABLE programme_events;
ALTER TABLE programme_events_new RENAME TO programme_events;

CREATE TABLE event_overrides_new (
    programme       TEXT NOT NULL DEFAULT '',
    key             TEXT NOT NULL,               -- module-3, learning-group-4
    status          TEXT NOT NULL,               -- confirmed | cancelled
    decided_by      TEXT NOT NULL,
    decided_at      TEXT NOT NULL,
    PRIMARY KEY (programme, key)
);
INSERT INTO event_overrides_new (programme, key, status, decided_by, decided_at)
SELECT '', key, status, decided_by, decided_at FROM event_overrides;
DROP TABLE event_overrides;
ALTER TABLE event_overrides_new RENAME TO event_overrides;

-- programme_mails keep their keys (the legacy programme's keys are unprefixed,
-- every other programme's start with its code and a colon).
ALTER TABLE programme_mails ADD COLUMN programme TEXT NOT NULL DEFAULT '';

-- Staff routed this mail to a programme (`ZUORDNEN`).
ALTER TABLE messages ADD COLUMN programme TEXT;

