-- The tables that grow with traffic become range partitions on each row's own id (a UUIDv7 in
-- Crockford base32, so the text sorts by creation time; see postgres/partitions.rs). Nothing is
-- copied: each table becomes the first partition of its new parent (`…_legacy`, every id before
-- the migration), under a write lock held while ATTACH checks the bound (one sequential scan of
-- each table: see docs/operations.md, "Partitions"). Hookwire then creates a partition per week ahead and drops weeks past retention.
-- Placeholders in braces are filled in by the migration (partitions.rs): the bounds are the
-- first id of the millisecond after the newest id in the database (or after now, if later).

-- A unique index on a partitioned table must contain the partition key, so the eventId's
-- uniqueness within an application moves to a table of its own; idempotency keys, deleted with
-- the week of their message, gain the index that finds them.
CREATE TABLE message_event_ids (
    app_id TEXT COLLATE "C" NOT NULL,
    event_id TEXT COLLATE "C" NOT NULL,
    msg_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (app_id, event_id)
);
CREATE INDEX message_event_ids_msg ON message_event_ids (msg_id);
INSERT INTO message_event_ids (app_id, event_id, msg_id)
SELECT app_id, event_id, id FROM messages WHERE event_id IS NOT NULL;
DROP INDEX messages_event_id;
CREATE INDEX idempotency_keys_msg ON idempotency_keys (msg_id);

-- messages
ALTER TABLE messages RENAME TO messages_legacy;
ALTER INDEX messages_pkey RENAME TO messages_legacy_pkey;
ALTER INDEX messages_app RENAME TO messages_legacy_app;
ALTER INDEX messages_payload_expiry RENAME TO messages_legacy_payload_expiry;
ALTER INDEX messages_log RENAME TO messages_legacy_log;
CREATE TABLE messages (LIKE messages_legacy INCLUDING DEFAULTS) PARTITION BY RANGE (id);
ALTER TABLE messages ADD PRIMARY KEY (id);
CREATE INDEX messages_app ON messages (app_id, id);
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at) WHERE payload IS NOT NULL;
CREATE INDEX messages_log ON messages (app_id, log_xid, id) WHERE log_xid IS NOT NULL;
ALTER TABLE messages ATTACH PARTITION messages_legacy FOR VALUES FROM (MINVALUE) TO ('{messages_bound}');
CREATE TABLE messages_default PARTITION OF messages DEFAULT;

-- message_tags (by the message's id)
ALTER TABLE message_tags RENAME TO message_tags_legacy;
ALTER INDEX message_tags_pkey RENAME TO message_tags_legacy_pkey;
CREATE TABLE message_tags (LIKE message_tags_legacy INCLUDING DEFAULTS) PARTITION BY RANGE (msg_id);
ALTER TABLE message_tags ADD PRIMARY KEY (app_id, tag, msg_id);
ALTER TABLE message_tags ATTACH PARTITION message_tags_legacy FOR VALUES FROM (MINVALUE) TO ('{messages_bound}');
CREATE TABLE message_tags_default PARTITION OF message_tags DEFAULT;

-- deliveries
ALTER TABLE deliveries RENAME TO deliveries_legacy;
ALTER INDEX deliveries_pkey RENAME TO deliveries_legacy_pkey;
ALTER INDEX deliveries_due RENAME TO deliveries_legacy_due;
ALTER INDEX deliveries_msg RENAME TO deliveries_legacy_msg;
ALTER INDEX deliveries_endpoint RENAME TO deliveries_legacy_endpoint;
ALTER INDEX deliveries_parked RENAME TO deliveries_legacy_parked;
CREATE TABLE deliveries (LIKE deliveries_legacy INCLUDING DEFAULTS) PARTITION BY RANGE (id);
ALTER TABLE deliveries ADD PRIMARY KEY (id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 1;
CREATE INDEX deliveries_msg ON deliveries (msg_id);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status, created_at);
CREATE INDEX deliveries_parked ON deliveries (endpoint_id) WHERE status = 1 AND next_attempt_at IS NULL;
ALTER TABLE deliveries ATTACH PARTITION deliveries_legacy FOR VALUES FROM (MINVALUE) TO ('{deliveries_bound}');
CREATE TABLE deliveries_default PARTITION OF deliveries DEFAULT;

-- attempts
ALTER TABLE attempts RENAME TO attempts_legacy;
ALTER INDEX attempts_pkey RENAME TO attempts_legacy_pkey;
ALTER INDEX attempts_endpoint RENAME TO attempts_legacy_endpoint;
ALTER INDEX attempts_msg RENAME TO attempts_legacy_msg;
ALTER INDEX attempts_unpurged RENAME TO attempts_legacy_unpurged;
CREATE TABLE attempts (LIKE attempts_legacy INCLUDING DEFAULTS) PARTITION BY RANGE (id);
ALTER TABLE attempts ADD PRIMARY KEY (id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_unpurged ON attempts (created_at) WHERE response != '';
ALTER TABLE attempts ATTACH PARTITION attempts_legacy FOR VALUES FROM (MINVALUE) TO ('{attempts_bound}');
CREATE TABLE attempts_default PARTITION OF attempts DEFAULT;
