-- A delivery is written once on the hot path (postgres/inflight.rs). A message accepted by the
-- batch writer whose deliveries go straight to the accepting node's workers gets one row here
-- (its fan-out: one delivery id and endpoint id per delivery, leased to that node) instead of a
-- row per delivery in `deliveries`; the first outcome inserts the delivery in its state after the
-- attempt. Rows here are moved into `deliveries` (as they were: pending, under their lease) after
-- a few seconds, when their lease lapses or their node dies, and at shutdown, so the table only
-- ever holds the last seconds of messages.
CREATE TABLE deliveries_inflight (
    msg_id TEXT COLLATE "C" PRIMARY KEY,
    app_id TEXT COLLATE "C" NOT NULL,
    lease_owner TEXT COLLATE "C" NOT NULL,
    lease_until BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    -- When the row was written, by the database's clock (what the move's age is measured by).
    stored_at BIGINT NOT NULL DEFAULT (extract(epoch from clock_timestamp()) * 1000)::bigint,
    delivery_ids TEXT[] COLLATE "C" NOT NULL,
    endpoint_ids TEXT[] COLLATE "C" NOT NULL
);

-- Every delivery: those stored, and those of the fan-out still in flight without a row (pending,
-- not yet attempted, leased to the node that accepted them). What every reader of deliveries
-- reads; claims, the lease's own writes and the moves read `deliveries` itself.
CREATE VIEW deliveries_all AS
SELECT id, app_id, msg_id, endpoint_id, status, attempts, next_attempt_at, lease_owner, lease_until, trigger_type,
    created_at, updated_at, chunk
FROM deliveries
UNION ALL
SELECT f.id, i.app_id, i.msg_id, f.endpoint_id, 1::bigint, 0::bigint, i.next_attempt_at, i.lease_owner,
    i.lease_until, 0::bigint, i.created_at, i.created_at, NULL::bigint
FROM deliveries_inflight i CROSS JOIN LATERAL unnest(i.delivery_ids, i.endpoint_ids) AS f(id, endpoint_id)
WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = f.id)
    AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = f.endpoint_id);
