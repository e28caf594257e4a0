//! Issued tokens on PostgreSQL.

use async_trait::async_trait;
use hookwire_core::AppId;
use hookwire_core::access::{Capabilities, IssuedToken, TokenKind};
use hookwire_core::time_fmt::Millis;
use tokio_postgres::Row;

use super::PgStore;
use crate::TokenStore;
use crate::error::{StoreError, StoreResult};

const TOKEN_COLUMNS: &str =
    "hash, kind, app_id, capabilities, session_id, feature_flags, admin_hash, created_at, expires_at";

#[async_trait]
impl TokenStore for PgStore {
    async fn insert_token(&self, token: IssuedToken) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                &format!("INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
                &[
                    &token.hash,
                    &token.kind.code(),
                    &token.app_id.map(|a| a.to_string()),
                    &i64::from(token.capabilities.bits()),
                    &token.session_id,
                    &crate::json::flags_to_text(&token.feature_flags),
                    &token.admin_hash,
                    &token.created_at,
                    &token.expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn get_token(&self, hash: &str) -> StoreResult<Option<IssuedToken>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1")).await?;
        client.query_opt(&statement, &[&hash]).await?.as_ref().map(token).transpose()
    }

    async fn delete_token(&self, hash: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM tokens WHERE hash = $1", &[&hash]).await? > 0)
    }

    async fn expire_app_tokens(&self, app: AppId, sessions: Option<Vec<String>>, at: Millis) -> StoreResult<u64> {
        let client = self.client().await?;
        let app = app.to_string();
        Ok(match sessions {
            None => {
                client
                    .execute("UPDATE tokens SET expires_at = $2 WHERE app_id = $1 AND expires_at > $2", &[&app, &at])
                    .await?
            }
            Some(sessions) => client
                .execute(
                    "UPDATE tokens SET expires_at = $2 WHERE app_id = $1 AND expires_at > $2 AND session_id = ANY($3)",
                    &[&app, &at, &sessions],
                )
                .await?,
        })
    }

    async fn purge_expired_tokens(&self, now: Millis) -> StoreResult<u64> {
        let client = self.client().await?;
        Ok(client.execute("DELETE FROM tokens WHERE expires_at < $1", &[&now]).await?)
    }
}

fn token(row: &Row) -> StoreResult<IssuedToken> {
    let kind: i64 = row.get(1);
    let kind = TokenKind::from_code(kind).ok_or_else(|| StoreError::Corrupt(format!("token kind {kind}")))?;
    let app: Option<String> = row.get(2);
    let app_id =
        app.map(|a| a.parse().map_err(|e| StoreError::Corrupt(format!("token app {a:?}: {e}")))).transpose()?;
    let capabilities: i64 = row.get(3);
    Ok(IssuedToken {
        hash: row.get(0),
        kind,
        app_id,
        capabilities: Capabilities::from_bits(capabilities as u8),
        session_id: row.get(4),
        feature_flags: crate::json::flags_from_text(row.get::<_, Option<&str>>(5))?,
        admin_hash: row.get(6),
        created_at: row.get(7),
        expires_at: row.get(8),
    })
}
