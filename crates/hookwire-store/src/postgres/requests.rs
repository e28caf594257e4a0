//! Idempotency keys of POST requests on PostgreSQL.

use async_trait::async_trait;
use hookwire_core::time_fmt::Millis;

use super::PgStore;
use crate::error::StoreResult;
use crate::{RequestBegun, RequestKey, RequestStore, StoredAnswer};

/// Claims a key: inserted when new, taken over when expired or when its first request stopped
/// answering (same request only); returns a row only when this request now holds it. One
/// statement, so two nodes racing for a key cannot both hold it.
const CLAIM_SQL: &str = "INSERT INTO request_keys (scope, key, fingerprint, status, body, created_at) \
    VALUES ($1, $2, $3, NULL, NULL, $4) ON CONFLICT (scope, key) DO UPDATE \
    SET fingerprint = excluded.fingerprint, status = NULL, body = NULL, created_at = excluded.created_at \
    WHERE request_keys.created_at < $6 OR (request_keys.status IS NULL AND request_keys.created_at < $5 \
    AND request_keys.fingerprint = excluded.fingerprint) RETURNING created_at";

#[async_trait]
impl RequestStore for PgStore {
    async fn begin_request(
        &self,
        key: &RequestKey,
        now: Millis,
        stale_before: Millis,
        expired_before: Millis,
    ) -> StoreResult<RequestBegun> {
        let client = self.client().await?;
        let claim = client.prepare_cached(CLAIM_SQL).await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&key.scope, &key.key, &key.fingerprint, &now, &stale_before, &expired_before];
        if client.query_opt(&claim, &params).await?.is_some() {
            return Ok(RequestBegun::Run);
        }
        let read = client
            .prepare_cached("SELECT fingerprint, status, body FROM request_keys WHERE scope = $1 AND key = $2")
            .await?;
        let held = client.query_opt(&read, &[&key.scope, &key.key]).await?.map(|row| {
            let status: Option<i32> = row.get(1);
            (row.get::<_, String>(0), status.and_then(|s| u16::try_from(s).ok()), row.get::<_, Option<String>>(2))
        });
        Ok(RequestBegun::of_held(key, held))
    }

    async fn finish_request(&self, key: &RequestKey, began: Millis, answer: Option<StoredAnswer>) -> StoreResult<()> {
        let client = self.client().await?;
        match answer {
            Some(answer) => {
                let status = i32::from(answer.status);
                client
                    .execute(
                        "UPDATE request_keys SET status = $4, body = $5 \
                         WHERE scope = $1 AND key = $2 AND created_at = $3 AND status IS NULL",
                        &[&key.scope, &key.key, &began, &status, &answer.body],
                    )
                    .await?
            }
            None => {
                client
                    .execute(
                        "DELETE FROM request_keys WHERE scope = $1 AND key = $2 AND created_at = $3 AND status IS NULL",
                        &[&key.scope, &key.key, &began],
                    )
                    .await?
            }
        };
        Ok(())
    }

    async fn purge_request_keys(&self, before: Millis) -> StoreResult<u64> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM request_keys WHERE created_at < $1", &[&before]).await?)
    }
}
