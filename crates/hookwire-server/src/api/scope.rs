//! Authentication and application scope, checked before a handler reads anything else: a
//! request without a valid token is 401, and an application token aimed at another
//! application's routes is 404, whatever its body. Handlers still check (defence in depth).

use axum::extract::{RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hookwire_core::AppId;

use super::error::ApiError;
use crate::auth::Principal;
use crate::state::AppState;

/// Route layer for every authenticated route.
pub async fn require_scope(
    State(state): State<AppState>,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    let header = request.headers().get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = header.and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer "))).map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return ApiError::unauthorized().into_response();
    };
    let principal = match state.auth.authenticate(state.store.as_ref(), token).await {
        Ok(principal) => principal,
        Err(error) => return error.into_response(),
    };
    if let Principal::App(own) = principal
        && let Some((_, key)) = params.iter().find(|(name, _)| *name == "app_id")
        && !is_own(&state, own, key).await
    {
        return ApiError::not_found("application").into_response();
    }
    // Handlers' `Principal` extractor reuses this instead of authenticating again.
    request.extensions_mut().insert(principal);
    next.run(request).await
}

async fn is_own(state: &AppState, own: AppId, key: &str) -> bool {
    if key == own.to_string() {
        return true;
    }
    matches!(state.store.get_app(key).await, Ok(Some(app)) if app.id == own)
}
