-- Part 8: applications belong to their sender.
-- `owner` is the From address (lower case) of the mail that created the
-- application; only it and the addresses staff link (`application_addresses`)
-- can change the application. Existing rows take it from `applicant`, which
-- until now held the same address.
ALTER TABLE applications ADD COLUMN owner TEXT;
UPDATE applications SET owner = applicant WHERE owner IS NULL;
-- An application from another address naming a municipality that already has
-- one: "possible duplicate of" that application, until staff merge or keep it.
ALTER TABLE applications ADD COLUMN duplicate_of INTEGER REFERENCES applications(id);
-- Set when staff merged this application into another (state 'merged').
ALTER TABLE applications ADD COLUMN merged_into INTEGER REFERENCES applications(id);

-- Addresses staff linked to an application (VERKNÜPFEN, ZUSAMMENFÜHREN,
-- `postbote applications link`). One address belongs to one application.
CREATE TABLE application_addresses (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  INTEGER NOT NULL REFERENCES applications(id),
    address         TEXT NOT NULL UNIQUE,  -- lower case
    linked_by       TEXT NOT NULL,         -- mail:leitung@… | cli | merge:EWS7-0007
    created_at      TEXT NOT NULL
);
CREATE INDEX application_addresses_application ON application_addresses(application_id);
