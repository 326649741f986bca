-- Part 8: retention and erasure. Every erasure (a retention run, `postbote
-- forget`, a staff LÖSCHEN) is recorded here as counts, dates and the
-- application references only, never content or addresses.
--
-- Foreign keys: no ON DELETE CASCADE (SQLite would need every table rebuilt,
-- while the daemon runs). store/retention.rs deletes the children explicitly,
-- in one transaction with deferred foreign keys, in a fixed order.
CREATE TABLE erasures (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    -- retention | forget | command
    reason      TEXT NOT NULL,
    -- the application references erased (comma-separated), NULL if none
    reference   TEXT,
    -- what went, per kind, as a JSON object of counts
    counts      TEXT NOT NULL,
    -- the oldest and newest date (received or sent) among what went
    oldest      TEXT,
    newest      TEXT
);
