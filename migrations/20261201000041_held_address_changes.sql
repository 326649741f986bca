-- Part 8: a later questionnaire that changes the contact person's or the
-- supervisor's address does not take effect until staff confirm it
-- (ADRESSE BESTÄTIGEN), unless the new address is linked to the application.
-- The facts of the held change are stored under `held:field:…` so that the
-- previous addresses stay in use; confirming copies them to `field:…`.
CREATE TABLE held_address_changes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  INTEGER NOT NULL REFERENCES applications(id),
    message_row     INTEGER REFERENCES messages(id),
    field           TEXT NOT NULL,         -- person_email | vorgesetzte_email
    old_value       TEXT,
    new_value       TEXT NOT NULL,
    -- held | confirmed | rejected | superseded
    state           TEXT NOT NULL DEFAULT 'held',
    decided_by      TEXT,
    created_at      TEXT NOT NULL,
    decided_at      TEXT
);
CREATE INDEX held_address_changes_application ON held_address_changes(application_id, state);
