-- Hookwire schema, PostgreSQL. The same shape as the SQLite schema (all its migrations to date),
-- plus what several nodes sharing one database need: lease owners, the node registry, and
-- per-endpoint flow state (throttle slots, Retry-After pauses). Integers are BIGINT, times are
-- Unix milliseconds, ids are their prefixed text form, configuration rows keep their model as
-- JSON text in `body`.

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    uid TEXT UNIQUE,
    body TEXT NOT NULL
);

CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    uid TEXT,
    body TEXT NOT NULL,
    UNIQUE (app_id, uid)
);
CREATE INDEX endpoints_app ON endpoints (app_id, id);

CREATE TABLE event_types (
    name TEXT PRIMARY KEY,
    archived BOOLEAN NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_id TEXT,
    channels TEXT,
    tags TEXT,
    payload TEXT,
    created_at BIGINT NOT NULL,
    payload_expires_at BIGINT
);
CREATE INDEX messages_app ON messages (app_id, id);
CREATE UNIQUE INDEX messages_event_id ON messages (app_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at) WHERE payload IS NOT NULL;

CREATE TABLE idempotency_keys (
    app_id TEXT NOT NULL,
    key TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, key)
);

-- One row per message and endpoint: the unit of work that is leased, attempted and retried.
-- A lease holds while `lease_until` is ahead and its owner node's heartbeat is fresh.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    status BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT,
    lease_owner TEXT,
    lease_until BIGINT,
    trigger_type BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    chunk BIGINT
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 1;
CREATE INDEX deliveries_msg ON deliveries (msg_id);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status, created_at);
CREATE INDEX deliveries_parked ON deliveries (endpoint_id) WHERE status = 1 AND next_attempt_at IS NULL;
CREATE INDEX deliveries_app ON deliveries (app_id);

CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    url TEXT NOT NULL,
    status BIGINT NOT NULL,
    response_status_code BIGINT NOT NULL,
    response TEXT NOT NULL,
    response_duration_ms BIGINT NOT NULL,
    error_kind TEXT,
    trigger_type BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_app ON attempts (app_id);
CREATE INDEX attempts_unpurged ON attempts (created_at) WHERE response != '';

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE endpoint_counters (
    endpoint_id TEXT PRIMARY KEY,
    filter_errors BIGINT NOT NULL,
    last_filter_error TEXT,
    last_filter_error_at BIGINT,
    failing_since BIGINT,
    last_success_at BIGINT
);

-- Flow state every node obeys: the next free send slot under the endpoint's throttle rate, and
-- until when a 429/503 `Retry-After` paused it.
CREATE TABLE endpoint_flow (
    endpoint_id TEXT PRIMARY KEY,
    next_slot_at BIGINT NOT NULL DEFAULT 0,
    paused_until BIGINT NOT NULL DEFAULT 0
);

-- The nodes sharing this database, each heartbeating while it runs.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    version TEXT NOT NULL
);
