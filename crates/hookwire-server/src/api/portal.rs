//! Application-scoped access: tokens that see and change only one application.

use axum::Json;
use axum::extract::{Path, State};
use hookwire_core::AppId;
use hookwire_core::time_fmt::Millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::apps::load_app;
use super::error::{ApiError, ApiResult};
use super::extract::{Admin, JsonBody};
use crate::auth::{APP_TOKEN_TTL_SECONDS_DEFAULT, APP_TOKEN_TTL_SECONDS_MAX, Auth, Principal};
use crate::state::{AppState, now};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(app_portal_access))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppPortalAccessIn {
    /// Token lifetime in seconds (default and maximum 7 days).
    #[serde(default)]
    pub expiry: Option<u64>,
    /// Accepted for Svix compatibility; a portal token can do everything within its application.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub application: Option<serde_json::Value>,
    #[serde(default)]
    pub read_only: Option<bool>,
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    #[serde(default)]
    pub feature_flags: Option<Vec<String>>,
    #[serde(default)]
    pub session_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppPortalAccessOut {
    pub token: String,
    pub url: String,
}

/// Issue a token scoped to one application, and the portal URL that uses it.
#[utoipa::path(post, path = "/api/v1/auth/app-portal-access/{app_id}", tag = "Authentication",
    request_body = AppPortalAccessIn, params(("app_id" = String, Path)), responses((status = 200, body = AppPortalAccessOut)))]
async fn app_portal_access(
    State(state): State<AppState>,
    _admin: Admin,
    Path(app_id): Path<String>,
    JsonBody(input): JsonBody<AppPortalAccessIn>,
) -> ApiResult<Json<AppPortalAccessOut>> {
    let app = load_app(&state, Principal::Admin, &app_id).await?;
    let ttl = input.expiry.unwrap_or(APP_TOKEN_TTL_SECONDS_DEFAULT);
    if ttl == 0 || ttl > APP_TOKEN_TTL_SECONDS_MAX {
        return Err(ApiError::invalid(
            &["body", "expiry"],
            format!("must be between 1 and {APP_TOKEN_TTL_SECONDS_MAX} seconds"),
        ));
    }
    let token = Auth::issue_app_token(state.store.as_ref(), app.id, now() + ttl as Millis * 1_000).await?;
    let url = portal_url(&state, app.id, &token);
    Ok(Json(AppPortalAccessOut { token, url }))
}

/// The portal page on this server for one application. The token and application id ride in
/// the fragment, which browsers never send to a server or in a `Referer`.
pub(crate) fn portal_url(state: &AppState, app: AppId, token: &str) -> String {
    let base = state.config.public_url.clone().unwrap_or_else(|| format!("http://{}", state.config.listen));
    format!("{}{}", base.trim_end_matches('/'), portal_path(app, token))
}

/// The portal's path on this server, carrying the token and the application in the fragment
/// (never sent to a server, never in a log).
pub(crate) fn portal_path(app: AppId, token: &str) -> String {
    format!("/portal/#token={token}&app={app}")
}
