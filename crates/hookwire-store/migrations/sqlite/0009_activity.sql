-- Delivery activity kept for charts (hookwire_core::activity): per endpoint, per minute
-- (resolution 60000) and per hour (3600000), counts that writers add to; lat_N is the
-- histogram of attempt durations by LATENCY_BOUNDS_MS. Old rows are deleted by the retention
-- sweep (minutes after 2 days, hours after 90).
CREATE TABLE activity (
    endpoint_id TEXT NOT NULL,
    resolution INTEGER NOT NULL,
    start INTEGER NOT NULL,
    app_id TEXT NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    exhausted INTEGER NOT NULL DEFAULT 0,
    lat_0 INTEGER NOT NULL DEFAULT 0,
    lat_1 INTEGER NOT NULL DEFAULT 0,
    lat_2 INTEGER NOT NULL DEFAULT 0,
    lat_3 INTEGER NOT NULL DEFAULT 0,
    lat_4 INTEGER NOT NULL DEFAULT 0,
    lat_5 INTEGER NOT NULL DEFAULT 0,
    lat_6 INTEGER NOT NULL DEFAULT 0,
    lat_7 INTEGER NOT NULL DEFAULT 0,
    lat_8 INTEGER NOT NULL DEFAULT 0,
    lat_9 INTEGER NOT NULL DEFAULT 0,
    lat_10 INTEGER NOT NULL DEFAULT 0,
    lat_11 INTEGER NOT NULL DEFAULT 0,
    lat_12 INTEGER NOT NULL DEFAULT 0,
    lat_13 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint_id, resolution, start)
) WITHOUT ROWID;
CREATE INDEX activity_app ON activity (app_id, resolution, start);
CREATE INDEX activity_time ON activity (resolution, start);

-- Pending deliveries sampled once a minute by every node (the largest sample kept).
CREATE TABLE activity_queue (
    start INTEGER PRIMARY KEY,
    due INTEGER NOT NULL,
    scheduled INTEGER NOT NULL
);
