-- Destinations read the application's message log in an order every reader sees the same and
-- that never gains an earlier entry: by the id of the transaction that wrote each message
-- (then its id), reading only transactions older than every one still running
-- (pg_snapshot_xmin), so a message committed late can never land behind a reader's position.
-- Adding the column is instant; the index is built under a write lock (see docs/operations.md).
ALTER TABLE messages ADD COLUMN log_xid xid8;
ALTER TABLE messages ALTER COLUMN log_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX messages_log ON messages (app_id, log_xid, id) WHERE log_xid IS NOT NULL;

-- `body` is the settings (the API writes it); the other columns are a fifoEndpoint's progress
-- (the node holding its lease writes them) and whether a sender drives it at all.
CREATE TABLE destinations (
    id TEXT COLLATE "C" PRIMARY KEY,
    app_id TEXT COLLATE "C" NOT NULL,
    uid TEXT COLLATE "C",
    body TEXT NOT NULL,
    driven BOOLEAN NOT NULL DEFAULT false,
    position TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    failure_reason TEXT,
    next_retry_at BIGINT,
    lease_owner TEXT COLLATE "C",
    lease_until BIGINT
);
CREATE INDEX destinations_driven ON destinations (next_retry_at) WHERE driven;
CREATE INDEX destinations_app ON destinations (app_id, id);
CREATE UNIQUE INDEX destinations_uid ON destinations (app_id, uid) WHERE uid IS NOT NULL;

CREATE TABLE destination_consumers (
    destination_id TEXT COLLATE "C" NOT NULL,
    consumer_id TEXT COLLATE "C" NOT NULL,
    position TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (destination_id, consumer_id)
);
