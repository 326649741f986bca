-- The per-instance secret (32 random bytes, made at first start) that keys
-- postbote's Message-IDs (HMAC-SHA256), so they cannot be predicted from an
-- idempotency key. One row.
CREATE TABLE instance_key (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    secret      BLOB NOT NULL,
    created_at  TEXT NOT NULL
);
