-- Issued tokens (application tokens, dashboard sessions), by the SHA-256 of the token: never the
-- token itself. Expiring, revocable one by one (logout) or by application (expire-all).
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    kind BIGINT NOT NULL,
    app_id TEXT,
    capabilities BIGINT NOT NULL,
    session_id TEXT,
    feature_flags TEXT,
    admin_hash TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_app ON tokens (app_id, session_id) WHERE app_id IS NOT NULL;
CREATE INDEX tokens_expiry ON tokens (expires_at);

-- Application tokens issued before this table existed move into it, with every capability.
INSERT INTO tokens (hash, kind, app_id, capabilities, session_id, feature_flags, admin_hash, created_at, expires_at)
SELECT substring(key FROM 11), 1, value::jsonb->>'app', 63, NULL, NULL, NULL, 0, (value::jsonb->>'expires_at')::bigint
FROM settings WHERE key LIKE 'app\_token:%';
DELETE FROM settings WHERE key LIKE 'app\_token:%';
