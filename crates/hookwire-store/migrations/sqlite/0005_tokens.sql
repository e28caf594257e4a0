-- Issued tokens (application tokens, dashboard sessions), by the SHA-256 of the token: never the
-- token itself. Expiring, revocable one by one (logout) or by application (expire-all).
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    kind INTEGER NOT NULL,
    app_id TEXT,
    capabilities INTEGER NOT NULL,
    session_id TEXT,
    feature_flags TEXT,
    admin_hash TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX tokens_app ON tokens (app_id, session_id) WHERE app_id IS NOT NULL;
CREATE INDEX tokens_expiry ON tokens (expires_at);

-- Application tokens issued before this table existed move into it, with every capability.
INSERT INTO tokens (hash, kind, app_id, capabilities, session_id, feature_flags, admin_hash, created_at, expires_at)
SELECT substr(key, 11), 1, json_extract(value, '$.app'), 63, NULL, NULL, NULL, 0, json_extract(value, '$.expires_at')
FROM settings WHERE key LIKE 'app\_token:%' ESCAPE '\';
DELETE FROM settings WHERE key LIKE 'app\_token:%' ESCAPE '\';
