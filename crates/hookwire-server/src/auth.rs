//! Who is calling: the admin token (everything) or an application-scoped token (one application,
//! as the portal uses). Tokens are stored only as SHA-256 hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hookwire_core::AppId;
use hookwire_core::time_fmt::Millis;
use hookwire_store::{Store, StoreResult};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::error::{ApiError, ApiResult};

const ADMIN_TOKEN_SETTING: &str = "admin_token_sha256";
const APP_TOKEN_SETTING_PREFIX: &str = "app_token:";
const TOKEN_RANDOM_BYTES: usize = 32;
/// How long an application-scoped (portal) token is valid unless the caller says otherwise.
pub const APP_TOKEN_TTL_SECONDS_DEFAULT: u64 = 7 * 24 * 3_600;
pub const APP_TOKEN_TTL_SECONDS_MAX: u64 = 7 * 24 * 3_600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Admin,
    App(AppId),
}

impl Principal {
    pub fn require_admin(&self) -> ApiResult<()> {
        match self {
            Self::Admin => Ok(()),
            Self::App(_) => Err(ApiError::forbidden("this operation needs the admin token")),
        }
    }

    /// Application tokens see only their own application; others look absent.
    pub fn require_app(&self, app: AppId) -> ApiResult<()> {
        match self {
            Self::App(own) if *own != app => Err(ApiError::not_found("application")),
            _ => Ok(()),
        }
    }
}

pub struct Auth {
    admin_hash: String,
}

#[derive(Serialize, Deserialize)]
struct AppTokenRecord {
    app: AppId,
    expires_at: Millis,
}

fn hash(token: &str) -> String {
    hookwire_core::hex(&Sha256::digest(token.as_bytes()))
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; TOKEN_RANDOM_BYTES];
    rand::fill(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl Auth {
    /// Uses the configured admin token, or the stored one, or generates and stores one; returns
    /// the token in clear only when it was generated now (to be printed once).
    pub async fn init(store: &dyn Store, configured: Option<&str>) -> StoreResult<(Self, Option<String>)> {
        if let Some(token) = configured {
            return Ok((Self { admin_hash: hash(token) }, None));
        }
        let candidate = random_token("hw_");
        let stored = store.put_setting_if_absent(ADMIN_TOKEN_SETTING, &hash(&candidate)).await?;
        let generated = (stored == hash(&candidate)).then_some(candidate);
        Ok((Self { admin_hash: stored }, generated))
    }

    pub async fn authenticate(&self, store: &dyn Store, token: &str) -> ApiResult<Principal> {
        let token_hash = hash(token);
        if token_hash == self.admin_hash {
            return Ok(Principal::Admin);
        }
        if !token.starts_with("hwp_") {
            return Err(ApiError::unauthorized());
        }
        let record = store.get_setting(&format!("{APP_TOKEN_SETTING_PREFIX}{token_hash}")).await?;
        let record: AppTokenRecord =
            record.and_then(|r| serde_json::from_str(&r).ok()).ok_or_else(ApiError::unauthorized)?;
        if record.expires_at <= crate::state::now() {
            return Err(ApiError::unauthorized());
        }
        Ok(Principal::App(record.app))
    }

    /// Issues a token that can act only on `app`, valid until `expires_at`.
    pub async fn issue_app_token(store: &dyn Store, app: AppId, expires_at: Millis) -> StoreResult<String> {
        let token = random_token("hwp_");
        let record = serde_json::to_string(&AppTokenRecord { app, expires_at }).expect("serializes");
        store.put_setting_if_absent(&format!("{APP_TOKEN_SETTING_PREFIX}{}", hash(&token)), &record).await?;
        Ok(token)
    }
}
