-- Chunked deliveries carry their page; filter failures are counted per endpoint.
ALTER TABLE deliveries ADD COLUMN chunk INTEGER;

CREATE TABLE endpoint_counters (
    endpoint_id TEXT PRIMARY KEY,
    filter_errors INTEGER NOT NULL,
    last_filter_error TEXT,
    last_filter_error_at INTEGER
);

CREATE INDEX deliveries_parked ON deliveries (endpoint_id) WHERE status = 1 AND next_attempt_at IS NULL;
