-- Interviews (part 3). One row per application once staff pinned a slot or
-- released the invitations; the plan for everyone else is computed on demand.
CREATE TABLE interviews (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  INTEGER NOT NULL UNIQUE REFERENCES applications(id),
    -- The iCalendar UID: the same for the whole life of the interview.
    uid             TEXT NOT NULL UNIQUE,
    start_at        TEXT NOT NULL,         -- UTC
    end_at          TEXT NOT NULL,         -- UTC
    -- pinned: placed by staff, not yet sent | released: invitation queued |
    -- cancelled: called off (a CANCEL went out if it had been released)
    state           TEXT NOT NULL,
    -- iCalendar SEQUENCE of the last version sent (raised on every move).
    sequence        INTEGER NOT NULL DEFAULT 0,
    sent            INTEGER NOT NULL DEFAULT 0,  -- 1 once any invitation was queued
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- Selection decisions: one per application; the notice is held until release.
CREATE TABLE decisions (
    application_id  INTEGER PRIMARY KEY REFERENCES applications(id),
    outcome         TEXT NOT NULL,          -- accept | reject | waitlist
    persons         INTEGER NOT NULL DEFAULT 1,
    revision        INTEGER NOT NULL DEFAULT 1,
    -- held: notice waits in the outbox | released: notice sent or sending
    notice          TEXT NOT NULL DEFAULT 'held',
    decided_by      TEXT NOT NULL,
    decided_at      TEXT NOT NULL,
    released_at     TEXT
);

-- The cohort's roster: from accepted applications or imported from CSV.
CREATE TABLE participants (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  INTEGER REFERENCES applications(id),
    municipality    TEXT NOT NULL,
    name            TEXT,
    email           TEXT NOT NULL,          -- lower case
    role            TEXT NOT NULL,          -- participant | supervisor
    source          TEXT NOT NULL,          -- selection | import
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (email, role)
);

-- Every mail from a staff address that looked like a command, and what came of it.
CREATE TABLE staff_commands (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_row     INTEGER NOT NULL UNIQUE REFERENCES messages(id),
    sender          TEXT NOT NULL,
    authenticated   INTEGER NOT NULL,
    via             TEXT,                   -- dkim | spf | secret
    summary         TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

-- Outbox rows may be held for a release (state 'held'), or withdrawn before
-- it (state 'withdrawn'); `batch` names the release they wait for.
ALTER TABLE outbox ADD COLUMN batch TEXT;
