-- Destinations read the application's message log in commit order: SQLite has one writer, so a
-- per-application sequence assigned in the insert (the application's highest plus one, found
-- through this index) follows commit order. Rows older than this migration have none and are
-- never read by a destination (each starts at the log's end when it is created).
ALTER TABLE messages ADD COLUMN log_seq INTEGER;
CREATE INDEX messages_log ON messages (app_id, log_seq);

-- `body` is the settings (the API writes it); the other columns are a fifoEndpoint's progress
-- (the sender writes them, under its lease) and whether the sender drives it at all.
CREATE TABLE destinations (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    uid TEXT,
    body TEXT NOT NULL,
    driven INTEGER NOT NULL DEFAULT 0,
    position TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    failure_reason TEXT,
    next_retry_at INTEGER,
    lease_owner TEXT,
    lease_until INTEGER
);
CREATE INDEX destinations_driven ON destinations (driven, next_retry_at) WHERE driven = 1;
CREATE INDEX destinations_app ON destinations (app_id, id);
CREATE UNIQUE INDEX destinations_uid ON destinations (app_id, uid) WHERE uid IS NOT NULL;

-- Where each named consumer of a polling endpoint has read to.
CREATE TABLE destination_consumers (
    destination_id TEXT NOT NULL,
    consumer_id TEXT NOT NULL,
    position TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (destination_id, consumer_id)
) WITHOUT ROWID;
