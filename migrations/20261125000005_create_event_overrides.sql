-- Staff confirm or cancel events by mail ("BESTÄTIGEN MODUL 3"); the
-- programme file is not rewritten. The effective status is the more final of
-- the file's and this one (tentative < confirmed < cancelled).
CREATE TABLE event_overrides (
    key             TEXT PRIMARY KEY NOT NULL,   -- module-3, learning-group-4
    status          TEXT NOT NULL,               -- confirmed | cancelled
    decided_by      TEXT NOT NULL,
    decided_at      TEXT NOT NULL
);
