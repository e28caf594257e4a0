-- Retention: when a message's payload may be purged, and indexes that keep the sweep cheap.
ALTER TABLE messages ADD COLUMN payload_expires_at INTEGER;
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at) WHERE payload IS NOT NULL;
CREATE INDEX attempts_unpurged ON attempts (created_at) WHERE response != '';
