-- Destinations read the application's message log in commit order: SQLite has one writer, so a
-- per-application sequence assigned in the insert (the application's highest plus one, found
-- through this index) follows commit order. Rows older than this migration have none and are
-- never read by a destination (each starts at the log's end when it is created).
ALTER TABLE messages ADD COLUMN log_seq INTEGER;
CREATE INDEX messages_log ON messages (app_id, log_seq);

CREATE TABLE destinations (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    uid TEXT,
    body TEXT NOT NULL
);
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
