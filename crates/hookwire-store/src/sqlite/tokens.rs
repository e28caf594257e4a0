//! Issued tokens on SQLite.

use async_trait::async_trait;
use hookwire_core::AppId;
use hookwire_core::access::{Capabilities, IssuedToken, TokenKind};
use hookwire_core::time_fmt::Millis;
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use crate::TokenStore;
use crate::error::{StoreError, StoreResult};

const TOKEN_COLUMNS: &str =
    "hash, kind, app_id, capabilities, session_id, feature_flags, admin_hash, created_at, expires_at";

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token(&self, token: IssuedToken) -> StoreResult<()> {
        self.write(move |conn| {
            conn.prepare_cached(&format!(
                "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?
            .execute(params![
                token.hash,
                token.kind.code(),
                token.app_id.map(|a| a.to_string()),
                i64::from(token.capabilities.bits()),
                token.session_id,
                crate::json::flags_to_text(&token.feature_flags),
                token.admin_hash,
                token.created_at,
                token.expires_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn get_token(&self, hash: &str) -> StoreResult<Option<IssuedToken>> {
        let hash = hash.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1");
            let row = conn.prepare_cached(&sql)?.query_row([hash], raw_token).optional()?;
            row.map(token).transpose()
        })
        .await
    }

    async fn delete_token(&self, hash: &str) -> StoreResult<bool> {
        let hash = hash.to_owned();
        self.write(move |conn| Ok(conn.execute("DELETE FROM tokens WHERE hash = ?1", [hash])? > 0)).await
    }

    async fn expire_app_tokens(&self, app: AppId, sessions: Option<Vec<String>>, at: Millis) -> StoreResult<u64> {
        self.write(move |conn| {
            let changed = match sessions {
                None => conn.execute(
                    "UPDATE tokens SET expires_at = ?2 WHERE app_id = ?1 AND expires_at > ?2",
                    params![app.to_string(), at],
                )?,
                Some(sessions) => conn.execute(
                    "UPDATE tokens SET expires_at = ?2 WHERE app_id = ?1 AND expires_at > ?2 \
                     AND session_id IN (SELECT value FROM json_each(?3))",
                    params![app.to_string(), at, serde_json::to_string(&sessions).expect("strings serialize")],
                )?,
            };
            Ok(changed as u64)
        })
        .await
    }

    async fn purge_expired_tokens(&self, now: Millis) -> StoreResult<u64> {
        self.write(move |conn| Ok(conn.execute("DELETE FROM tokens WHERE expires_at < ?1", [now])? as u64)).await
    }
}

type RawToken = (String, i64, Option<String>, i64, Option<String>, Option<String>, Option<String>, i64, i64);

fn raw_token(row: &Row) -> rusqlite::Result<RawToken> {
    let get = |i| row.get::<_, Option<String>>(i);
    Ok((row.get(0)?, row.get(1)?, get(2)?, row.get(3)?, get(4)?, get(5)?, get(6)?, row.get(7)?, row.get(8)?))
}

fn token(raw: RawToken) -> StoreResult<IssuedToken> {
    let (hash, kind, app, capabilities, session_id, feature_flags, admin_hash, created_at, expires_at) = raw;
    let kind = TokenKind::from_code(kind).ok_or_else(|| StoreError::Corrupt(format!("token kind {kind}")))?;
    let app_id =
        app.map(|a| a.parse().map_err(|e| StoreError::Corrupt(format!("token app {a:?}: {e}")))).transpose()?;
    Ok(IssuedToken {
        hash,
        kind,
        app_id,
        capabilities: Capabilities::from_bits(capabilities as u8),
        session_id,
        feature_flags: crate::json::flags_from_text(feature_flags.as_deref())?,
        admin_hash,
        created_at,
        expires_at,
    })
}
