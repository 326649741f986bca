-- Part 9: an address staff linked (`VERKNÜPFEN`) belongs to one application
-- per programme, not one in all: the same office may be linked to its EWS 7
-- and its EWS 8 application. `store::ownership::link` keeps it to one
-- application per programme.
--
-- NOTE: rebuilt (SQLite cannot drop a UNIQUE constraint); no table refers to
-- this one.
CREATE TABLE application_addresses_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  INTEGER NOT NULL REFERENCES applications(id),
    address         TEXT NOT NULL,         -- lower case
    linked_by       TEXT NOT NULL,         -- mail:leitung@… | cli | merge:EWS7-0007
    created_at      TEXT NOT NULL,
    UNIQUE (application_id, address)
);
INSERT INTO application_addresses_new (id, application_id, address, linked_by, created_at)
SELECT id, application_id, address, linked_by, created_at FROM application_addresses;
DROP TABLE application_addresses;
ALTER TABLE application_addresses_new RENAME TO application_addresses;
CREATE INDEX application_addresses_application ON application_addresses(application_id);
CREATE INDEX application_addresses_address ON application_addresses(address);
