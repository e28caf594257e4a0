-- Ids, keys and names compare byte by byte (COLLATE "C"): every id is ASCII, so the order is the
-- same, but the database's collation (en_US.UTF-8, C.UTF-8…) made every comparison in every
-- B-tree a strcoll() call, and the hot tables maintain a dozen indexes per message. Rewrites
-- these tables and their indexes once (an ACCESS EXCLUSIVE lock while it runs: see
-- docs/operations.md, "Rolling upgrades").
ALTER TABLE applications ALTER COLUMN id TYPE TEXT COLLATE "C", ALTER COLUMN uid TYPE TEXT COLLATE "C";
ALTER TABLE endpoints ALTER COLUMN id TYPE TEXT COLLATE "C", ALTER COLUMN app_id TYPE TEXT COLLATE "C",
    ALTER COLUMN uid TYPE TEXT COLLATE "C";
ALTER TABLE event_types ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE messages ALTER COLUMN id TYPE TEXT COLLATE "C", ALTER COLUMN app_id TYPE TEXT COLLATE "C",
    ALTER COLUMN event_type TYPE TEXT COLLATE "C", ALTER COLUMN event_id TYPE TEXT COLLATE "C";
ALTER TABLE idempotency_keys ALTER COLUMN app_id TYPE TEXT COLLATE "C", ALTER COLUMN key TYPE TEXT COLLATE "C",
    ALTER COLUMN msg_id TYPE TEXT COLLATE "C";
ALTER TABLE deliveries ALTER COLUMN id TYPE TEXT COLLATE "C", ALTER COLUMN app_id TYPE TEXT COLLATE "C",
    ALTER COLUMN msg_id TYPE TEXT COLLATE "C", ALTER COLUMN endpoint_id TYPE TEXT COLLATE "C",
    ALTER COLUMN lease_owner TYPE TEXT COLLATE "C";
ALTER TABLE attempts ALTER COLUMN id TYPE TEXT COLLATE "C", ALTER COLUMN app_id TYPE TEXT COLLATE "C",
    ALTER COLUMN msg_id TYPE TEXT COLLATE "C", ALTER COLUMN endpoint_id TYPE TEXT COLLATE "C",
    ALTER COLUMN delivery_id TYPE TEXT COLLATE "C";
ALTER TABLE endpoint_counters ALTER COLUMN endpoint_id TYPE TEXT COLLATE "C";
ALTER TABLE endpoint_flow ALTER COLUMN endpoint_id TYPE TEXT COLLATE "C";
ALTER TABLE nodes ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE tokens ALTER COLUMN hash TYPE TEXT COLLATE "C", ALTER COLUMN app_id TYPE TEXT COLLATE "C",
    ALTER COLUMN session_id TYPE TEXT COLLATE "C";
ALTER TABLE message_tags ALTER COLUMN app_id TYPE TEXT COLLATE "C", ALTER COLUMN tag TYPE TEXT COLLATE "C",
    ALTER COLUMN msg_id TYPE TEXT COLLATE "C";
ALTER TABLE tasks ALTER COLUMN id TYPE TEXT COLLATE "C", ALTER COLUMN app_id TYPE TEXT COLLATE "C",
    ALTER COLUMN lease_owner TYPE TEXT COLLATE "C";

-- Deliveries and attempts are found by endpoint or by message, never by application alone
-- (deleting an application goes through its messages): two indexes fewer to maintain per
-- message, three counting the delivery's update.
DROP INDEX deliveries_app;
DROP INDEX attempts_app;
