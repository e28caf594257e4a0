//! Idempotency keys of POST requests on SQLite.

use async_trait::async_trait;
use hookwire_core::time_fmt::Millis;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::error::StoreResult;
use crate::{RequestBegun, RequestKey, RequestStore, StoredAnswer};

/// Claims a key: inserted when new, taken over when expired or when its first request stopped
/// answering (same request only); returns a row only when this request now holds it.
const CLAIM_SQL: &str = "INSERT INTO request_keys (scope, key, fingerprint, status, body, created_at) \
    VALUES (?1, ?2, ?3, NULL, NULL, ?4) ON CONFLICT (scope, key) DO UPDATE \
    SET fingerprint = excluded.fingerprint, status = NULL, body = NULL, created_at = excluded.created_at \
    WHERE request_keys.created_at < ?6 OR (request_keys.status IS NULL AND request_keys.created_at < ?5 \
    AND request_keys.fingerprint = excluded.fingerprint) RETURNING created_at";

#[async_trait]
impl RequestStore for SqliteStore {
    async fn begin_request(
        &self,
        key: &RequestKey,
        now: Millis,
        stale_before: Millis,
        expired_before: Millis,
    ) -> StoreResult<RequestBegun> {
        let key = key.clone();
        self.write(move |conn| {
            let claimed = conn
                .prepare_cached(CLAIM_SQL)?
                .query_row(params![key.scope, key.key, key.fingerprint, now, stale_before, expired_before], |_| Ok(()))
                .optional()?;
            if claimed.is_some() {
                return Ok(RequestBegun::Run);
            }
            let held = conn
                .prepare_cached("SELECT fingerprint, status, body FROM request_keys WHERE scope = ?1 AND key = ?2")?
                .query_row(params![key.scope, key.key], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<u16>>(1)?, r.get::<_, Option<String>>(2)?))
                })
                .optional()?;
            Ok(RequestBegun::of_held(&key, held))
        })
        .await
    }

    async fn finish_request(&self, key: &RequestKey, began: Millis, answer: Option<StoredAnswer>) -> StoreResult<()> {
        let key = key.clone();
        self.write(move |conn| {
            match answer {
                Some(answer) => conn.execute(
                    "UPDATE request_keys SET status = ?4, body = ?5 \
                     WHERE scope = ?1 AND key = ?2 AND created_at = ?3 AND status IS NULL",
                    params![key.scope, key.key, began, answer.status, answer.body],
                )?,
                None => conn.execute(
                    "DELETE FROM request_keys WHERE scope = ?1 AND key = ?2 AND created_at = ?3 AND status IS NULL",
                    params![key.scope, key.key, began],
                )?,
            };
            Ok(())
        })
        .await
    }

    async fn purge_request_keys(&self, before: Millis) -> StoreResult<u64> {
        self.write(move |conn| Ok(conn.execute("DELETE FROM request_keys WHERE created_at < ?1", [before])? as u64))
            .await
    }
}
