//! `idempotency-key` on every POST (Svix's contract; its SDKs send one with every POST and reuse
//! it when they retry): the first answer to a key is kept for `IDEMPOTENCY_WINDOW_SECONDS` and
//! given again, without running the request, to a retry with the same key. A key reused with a
//! different request is a 422; one whose first request is still running, a 409. An answer of
//! 5xx is not kept (nothing was done, or nobody knows what was): a retry runs again.
//!
//! Message create is not here: its key is kept with the message it created, in the same commit
//! (`Accept::idempotency_key`), so a crash between the two cannot split them.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hookwire_core::limits::{IDEMPOTENCY_KEY_LENGTH_MAX, IDEMPOTENCY_WINDOW_SECONDS, REQUEST_BODY_BYTES_MAX};
use hookwire_core::time_fmt::Millis;
use hookwire_store::{RequestBegun, RequestKey, StoredAnswer};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::auth::Principal;
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";
/// Set on an answer given again from a key (Stripe's name).
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// The route whose key is kept with its message instead.
const MESSAGE_CREATE_ROUTE: &str = "/api/v1/app/{app_id}/msg";
/// How long a key's first request may run before a retry may take the key over (its node
/// stopped answering): longer than any request takes with the bounded waits (an endpoint
/// verification is at most `DELIVERY_TIMEOUT_MS_MAX`).
const REQUEST_HELD_MS_MAX: Millis = 120_000;
/// The largest answer kept; a larger one is answered and its key forgotten (never the case for
/// Hookwire's POST answers, which are one resource).
const ANSWER_KEPT_BYTES_MAX: usize = 1024 * 1024;

/// The request's `idempotency-key`, checked: 1 to `IDEMPOTENCY_KEY_LENGTH_MAX` visible ASCII.
pub fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))?;
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_LENGTH_MAX {
        return Err(ApiError::bad_request(format!(
            "Idempotency-Key must be 1..={IDEMPOTENCY_KEY_LENGTH_MAX} characters"
        )));
    }
    Ok(Some(key.to_owned()))
}

/// Route layer, inside the token check (the caller is known): answers a POST with a known key
/// from its first answer, or runs it and keeps the answer.
pub async fn replay_or_run(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !request.headers().contains_key(HEADER) {
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    if route == Some(MESSAGE_CREATE_ROUTE) {
        return next.run(request).await;
    }
    let key = match key_of(request.headers()) {
        Ok(Some(key)) => key,
        Ok(None) => return next.run(request).await,
        Err(error) => return error.into_response(),
    };
    let scope = match request.extensions().get::<Principal>() {
        Some(Principal::Admin) => "admin".to_owned(),
        Some(Principal::App(access)) => access.app.to_string(),
        None => return next.run(request).await, // not an authenticated route
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, REQUEST_BODY_BYTES_MAX).await {
        Ok(body) => body,
        Err(_) => return ApiError::request_too_large().into_response(),
    };
    let target = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let key = RequestKey { scope, key, fingerprint: fingerprint(&parts.method, target, &body) };
    let now = state.clock.now();
    let window_ms = IDEMPOTENCY_WINDOW_SECONDS * 1_000;
    let begun = state.store.begin_request(&key, now, now - REQUEST_HELD_MS_MAX, now - window_ms).await;
    match begun {
        Ok(RequestBegun::Run) => {}
        Ok(RequestBegun::Replay(answer)) => return replayed(answer),
        Ok(RequestBegun::InProgress) => {
            return ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still running; retry when it has answered",
            )
            .into_response();
        }
        Ok(RequestBegun::Mismatch) => {
            let message = "this Idempotency-Key was used with a different request (method, path, query or body); \
                use a new key for a new request";
            return ApiError::invalid(&["header", HEADER], message).into_response();
        }
        Err(error) => return ApiError::from(error).into_response(),
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    // Hookwire's POST answers are one resource or an error, never a stream: read whole.
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            forget(&state, &key, now).await;
            tracing::warn!(%error, "cannot read an answer to keep for its idempotency key");
            return ApiError::internal().into_response();
        }
    };
    let kept = (!parts.status.is_server_error() && body.len() <= ANSWER_KEPT_BYTES_MAX)
        .then(|| String::from_utf8(body.to_vec()).ok())
        .flatten()
        .map(|text| StoredAnswer { status: parts.status.as_u16(), body: text });
    match kept {
        Some(answer) => {
            if let Err(error) = state.store.finish_request(&key, now, Some(answer)).await {
                // The request ran: answer it. A retry will find the key held, then taken over.
                tracing::warn!(%error, "cannot keep the answer for an idempotency key");
            }
        }
        None => forget(&state, &key, now).await,
    }
    Response::from_parts(parts, Body::from(body))
}

async fn forget(state: &AppState, key: &RequestKey, began: Millis) {
    if let Err(error) = state.store.finish_request(key, began, None).await {
        tracing::warn!(%error, "cannot let an idempotency key go; a retry waits until it is taken over");
    }
}

/// A digest of what the request asks: a key must come back with the same.
fn fingerprint(method: &Method, target: &str, body: &[u8]) -> String {
    let mut digest = Sha256::new();
    digest.update(method.as_str());
    digest.update(b" ");
    digest.update(target);
    digest.update(b"\n");
    digest.update(body);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest.finalize())
}

fn replayed(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let json = !answer.body.is_empty();
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    if json {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}
