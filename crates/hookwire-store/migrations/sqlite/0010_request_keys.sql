-- Idempotency keys of POST requests other than message create (whose key is kept with the
-- message): the first answer is kept and given again to a retry with the same key.
CREATE TABLE request_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    -- NULL while the first request runs.
    status INTEGER,
    body TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX request_keys_created ON request_keys (created_at);
