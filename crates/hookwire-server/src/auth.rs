//! Who is calling: the admin token (everything) or an application-scoped token (one
//! application, narrowed by its capabilities, as the portal uses). Tokens are stored only as
//! SHA-256 hashes; application tokens expire, and can be revoked one by one (logout) or all at
//! once for an application (expire-all).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hookwire_core::AppId;
use hookwire_core::access::{Capabilities, Capability, IssuedToken, TokenKind};
use hookwire_core::time_fmt::Millis;
use hookwire_store::{Store, StoreError, StoreResult};
use sha2::{Digest, Sha256};

use crate::clock::SharedClock;

const ADMIN_TOKEN_SETTING: &str = "admin_token_sha256";
const TOKEN_RANDOM_BYTES: usize = 32;
/// Prefix of application tokens.
pub const APP_TOKEN_PREFIX: &str = "hwp_";
/// Prefix of dashboard session ids (the dashboard's cookie; never the admin token itself).
pub const DASHBOARD_SESSION_PREFIX: &str = "hws_";
/// How long an application-scoped (portal) token is valid unless the caller says otherwise.
pub const APP_TOKEN_TTL_SECONDS_DEFAULT: u64 = 7 * 24 * 3_600;
pub const APP_TOKEN_TTL_SECONDS_MAX: u64 = 7 * 24 * 3_600;

/// Why a caller may not do something; `api/error.rs` turns it into HTTP.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token, or one that is unknown, expired or revoked (401).
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// A valid token that may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// An application token aimed at another application, which it must not even see (404).
    #[error("application not found")]
    OtherApplication,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An application token: its application and what it may do there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppAccess {
    pub app: AppId,
    pub capabilities: Capabilities,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Admin,
    App(AppAccess),
}

/// What a route asks of an application token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Any one of these capabilities.
    AnyOf(&'static [Capability]),
    /// Every capability: writes no capability names (sending messages, expunging content).
    Everything,
}

impl Principal {
    pub fn require_admin(&self) -> Result<(), AuthError> {
        match self {
            Self::Admin => Ok(()),
            Self::App(_) => Err(AuthError::Forbidden("this operation needs the admin token".into())),
        }
    }

    /// Application tokens see only their own application; others look absent.
    pub fn require_app(&self, app: AppId) -> Result<(), AuthError> {
        match self {
            Self::App(access) if access.app != app => Err(AuthError::OtherApplication),
            _ => Ok(()),
        }
    }

    /// Whether the caller may do what `requirement` asks (the admin may do everything).
    pub fn allows(&self, requirement: Requirement) -> bool {
        let Self::App(access) = self else { return true };
        match requirement {
            Requirement::AnyOf(any) => any.iter().any(|c| access.capabilities.contains(*c)),
            Requirement::Everything => access.capabilities.is_all(),
        }
    }
}

pub struct Auth {
    admin_hash: String,
    clock: SharedClock,
}

/// Lowercase hex SHA-256 of a token: how tokens are stored and looked up.
pub fn hash(token: &str) -> String {
    hookwire_core::hex(&Sha256::digest(token.as_bytes()))
}

/// A new random token with `prefix`.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; TOKEN_RANDOM_BYTES];
    rand::fill(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What an application token is issued with.
pub struct AppTokenRequest {
    pub app: AppId,
    pub capabilities: Capabilities,
    pub session_id: Option<String>,
    pub feature_flags: Vec<String>,
    pub ttl_seconds: u64,
}

/// The feature flags of the calling application token (a request extension set with its
/// `Principal`): event types flagged with none of them are hidden from it.
#[derive(Debug, Clone, Default)]
pub struct FeatureFlags(pub Vec<String>);

impl FeatureFlags {
    /// Whether an event type with `flags` is visible: unflagged types are, flagged ones when the
    /// token carries one of their flags.
    pub fn reveal(&self, flags: Option<&[String]>) -> bool {
        match flags {
            None | Some([]) => true,
            Some(flags) => flags.iter().any(|flag| self.0.contains(flag)),
        }
    }
}

impl Auth {
    /// Uses the configured admin token, or the stored one, or generates and stores one; returns
    /// the token in clear only when it was generated now (to be printed once).
    pub async fn init(
        store: &dyn Store,
        configured: Option<&str>,
        clock: SharedClock,
    ) -> StoreResult<(Self, Option<String>)> {
        if let Some(token) = configured {
            return Ok((Self { admin_hash: hash(token), clock }, None));
        }
        let candidate = random_token("hw_");
        let stored = store.put_setting_if_absent(ADMIN_TOKEN_SETTING, &hash(&candidate)).await?;
        let generated = (stored == hash(&candidate)).then_some(candidate);
        Ok((Self { admin_hash: stored, clock }, generated))
    }

    /// The SHA-256 of the admin token in force (dashboard sessions remember it).
    pub fn admin_hash(&self) -> &str {
        &self.admin_hash
    }

    pub async fn authenticate(&self, store: &dyn Store, token: &str) -> Result<Principal, AuthError> {
        self.authenticate_with_flags(store, token).await.map(|(principal, _)| principal)
    }

    /// `authenticate`, with the token's feature flags (none for the admin, who sees everything).
    pub async fn authenticate_with_flags(
        &self,
        store: &dyn Store,
        token: &str,
    ) -> Result<(Principal, Option<FeatureFlags>), AuthError> {
        let token_hash = hash(token);
        if token_hash == self.admin_hash {
            return Ok((Principal::Admin, None));
        }
        if !token.starts_with(APP_TOKEN_PREFIX) {
            return Err(AuthError::Unauthenticated);
        }
        match store.get_token(&token_hash).await? {
            Some(IssuedToken {
                kind: TokenKind::App,
                app_id: Some(app),
                capabilities,
                expires_at,
                feature_flags,
                ..
            }) if expires_at > self.clock.now() => {
                Ok((Principal::App(AppAccess { app, capabilities }), Some(FeatureFlags(feature_flags))))
            }
            _ => Err(AuthError::Unauthenticated),
        }
    }

    /// Opens a dashboard session for an operator who just proved the admin token: a random id,
    /// stored only as its hash, tied to the admin token in force, expiring after `ttl_seconds`.
    pub async fn open_dashboard_session(&self, store: &dyn Store, ttl_seconds: u64) -> StoreResult<String> {
        let session = random_token(DASHBOARD_SESSION_PREFIX);
        let now = self.clock.now();
        let record = IssuedToken {
            hash: hash(&session),
            kind: TokenKind::Dashboard,
            app_id: None,
            capabilities: Capabilities::ALL,
            session_id: None,
            feature_flags: Vec::new(),
            admin_hash: Some(self.admin_hash.clone()),
            created_at: now,
            expires_at: now + ttl_seconds as Millis * 1_000,
        };
        store.insert_token(record).await?;
        Ok(session)
    }

    /// Whether `session` is a live dashboard session: known, unexpired, not signed out, and
    /// opened with the admin token still in force (changing the token ends every session).
    pub async fn dashboard_session(&self, store: &dyn Store, session: &str) -> StoreResult<bool> {
        if !session.starts_with(DASHBOARD_SESSION_PREFIX) {
            return Ok(false);
        }
        Ok(store.get_token(&hash(session)).await?.is_some_and(|record| {
            record.kind == TokenKind::Dashboard
                && record.expires_at > self.clock.now()
                && record.admin_hash.as_deref() == Some(self.admin_hash.as_str())
        }))
    }

    /// Ends a dashboard session (sign-out): its cookie stops working at once.
    pub async fn close_dashboard_session(&self, store: &dyn Store, session: &str) -> StoreResult<()> {
        store.delete_token(&hash(session)).await.map(|_| ())
    }

    /// Issues a token that can act only on `request.app`, with its capabilities; returns the
    /// token (shown once) and when it expires.
    pub async fn issue_app_token(&self, store: &dyn Store, request: AppTokenRequest) -> StoreResult<(String, Millis)> {
        let token = random_token(APP_TOKEN_PREFIX);
        let now = self.clock.now();
        let expires_at = now + request.ttl_seconds as Millis * 1_000;
        let record = IssuedToken {
            hash: hash(&token),
            kind: TokenKind::App,
            app_id: Some(request.app),
            capabilities: request.capabilities,
            session_id: request.session_id,
            feature_flags: request.feature_flags,
            admin_hash: None,
            created_at: now,
            expires_at,
        };
        store.insert_token(record).await?;
        Ok((token, expires_at))
    }
}
