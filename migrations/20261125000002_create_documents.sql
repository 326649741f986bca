-- Documents found in application mails (part 2).
CREATE TABLE documents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  INTEGER NOT NULL REFERENCES applications(id),
    message_row     INTEGER NOT NULL REFERENCES messages(id),
    position        INTEGER NOT NULL,      -- order within the mail
    name            TEXT NOT NULL,         -- display name only, never a path
    format          TEXT NOT NULL,
    role            TEXT NOT NULL,         -- questionnaire | motivation | other
    sha256          TEXT NOT NULL,
    size            INTEGER NOT NULL,
    pages           INTEGER,
    problem         TEXT,                  -- NULL: readable; else why a human must look
    text            TEXT,                  -- extracted text (capped)
    extracted       TEXT,                  -- checkboxes and fields as JSON
    superseded_by   INTEGER REFERENCES documents(id),
    created_at      TEXT NOT NULL,
    UNIQUE (message_row, position)
);
CREATE INDEX documents_application ON documents(application_id, role);

-- Facts read from the documents, each with its source and a confidence.
CREATE TABLE facts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  INTEGER NOT NULL REFERENCES applications(id),
    name            TEXT NOT NULL,         -- e.g. interview:2026-06-29, flag:letter_pages
    value           TEXT NOT NULL,
    source          TEXT NOT NULL,
    confidence      TEXT NOT NULL,         -- high | medium | low
    message_row     INTEGER REFERENCES messages(id),
    created_at      TEXT NOT NULL
);
CREATE INDEX facts_application ON facts(application_id, name);

ALTER TABLE applications ADD COLUMN complete INTEGER NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN municipality TEXT;
