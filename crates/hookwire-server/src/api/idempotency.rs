//! `idempotency-key` on every write (Svix's contract is every POST; its SDKs send one with each
//! and reuse it when they retry; PUT, PATCH and DELETE take it too, so no key is accepted and
//! ignored): the first answer to a key is kept for `IDEMPOTENCY_WINDOW_SECONDS` and given again,
//! without running the request, to a retry with the same key. A key reused with a different
//! request is a 422; a retry of one still running waits `IN_PROGRESS_WAIT` for its answer, then
//! is a 409. An answer of 5xx is not kept (nothing was done, or nobody knows what was): a retry
//! runs again. A read (GET, HEAD) repeats by nature and passes through.
//!
//! Message create is not here: its key is kept with the message it created, in the same commit
//! (`Accept::idempotency_key`), so a crash between the two cannot split them.
//!
//! An answer that carries a secret (a portal or dashboard access token, a destination's new
//! signing secret) is never written down: on those routes a key still holds off a concurrent
//! duplicate, and a retry after the answer runs again (`keeps_answer`). The request runs to its
//! end and its answer is kept even when the client hangs up first (it is run on a task of its
//! own), since that client's retry is what the key is for.

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
/// How long a retry waits for its first request's answer before a 409, and how often it looks.
const IN_PROGRESS_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const IN_PROGRESS_POLL: std::time::Duration = std::time::Duration::from_millis(100);

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

/// The methods a key applies to.
fn takes_key(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE)
}

/// Route layer, inside the token check (the caller is known): answers a write with a known key
/// from its first answer, or runs it and keeps the answer.
pub async fn replay_or_run(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !takes_key(request.method()) || !request.headers().contains_key(HEADER) {
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>().map_or("", MatchedPath::as_str);
    if request.method() == Method::POST && route == MESSAGE_CREATE_ROUTE {
        return next.run(request).await;
    }
    let keep = keeps_answer(route);
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
        Err(error) => return ApiError::unreadable_body(&error).into_response(),
    };
    let target = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let key = RequestKey { scope, key, fingerprint: fingerprint(&parts.method, target, &body) };
    let began = match claim(&state, &key).await {
        Ok(began) => began,
        Err(response) => return *response,
    };
    let request = Request::from_parts(parts, Body::from(body));
    let run = tokio::spawn(run_and_keep(state.clone(), key.clone(), began, keep, next, request));
    match run.await {
        Ok(response) => response,
        Err(error) => {
            // The handler panicked: nothing is known to be done, so a retry runs again.
            tracing::error!(%error, "a request with an idempotency key failed");
            forget(&state, &key, began).await;
            ApiError::internal().into_response()
        }
    }
}

/// Claims `key` for this request (`Ok`: when, to finish it with), or the answer to give instead:
/// the first answer again, a 422 for another request, a 409 when the first is still running
/// after `IN_PROGRESS_WAIT` (a retry that overtook its first request waits for its answer).
async fn claim(state: &AppState, key: &RequestKey) -> Result<Millis, Box<Response>> {
    let window_ms = IDEMPOTENCY_WINDOW_SECONDS * 1_000;
    let waited = std::time::Instant::now();
    loop {
        let now = state.clock.now();
        let begun = state.store.begin_request(key, now, now - REQUEST_HELD_MS_MAX, now - window_ms).await;
        let refusal = match begun {
            Ok(RequestBegun::Run) => return Ok(now),
            Ok(RequestBegun::Replay(answer)) => replayed(answer),
            Ok(RequestBegun::InProgress) if waited.elapsed() < IN_PROGRESS_WAIT => {
                tokio::time::sleep(IN_PROGRESS_POLL).await;
                continue;
            }
            Ok(RequestBegun::InProgress) => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still running; retry when it has answered",
            )
            .into_response(),
            Ok(RequestBegun::Mismatch) => {
                let message = "this Idempotency-Key was used with a different request (method, path, query or \
                    body); use a new key for a new request";
                ApiError::invalid(&["header", HEADER], message).into_response()
            }
            Err(error) => ApiError::from(error).into_response(),
        };
        return Err(Box::new(refusal));
    }
}

/// Runs the request and keeps its answer under `key` (or lets the key go: a 5xx, an answer that
/// is not kept). Spawned, so a client hanging up does not stop it half-way.
async fn run_and_keep(
    state: AppState,
    key: RequestKey,
    began: Millis,
    keep: bool,
    next: Next,
    request: Request,
) -> Response {
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    // Hookwire's POST answers are one resource or an error, never a stream: read whole.
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            forget(&state, &key, began).await;
            tracing::warn!(%error, "cannot read an answer to keep for its idempotency key");
            return ApiError::internal().into_response();
        }
    };
    let kept = (keep && !parts.status.is_server_error() && body.len() <= ANSWER_KEPT_BYTES_MAX)
        .then(|| String::from_utf8(body.to_vec()).ok())
        .flatten()
        .map(|text| StoredAnswer { status: parts.status.as_u16(), body: text });
    match kept {
        Some(answer) => {
            if let Err(error) = state.store.finish_request(&key, began, Some(answer)).await {
                // The request ran: answer it. A retry finds the key held, then taken over.
                tracing::warn!(%error, "cannot keep the answer for an idempotency key");
            }
        }
        None => forget(&state, &key, began).await,
    }
    Response::from_parts(parts, Body::from(body))
}

/// Whether an answer of `route` may be written down: not one that carries a secret.
fn keeps_answer(route: &str) -> bool {
    !(route.starts_with("/api/v1/auth/") || route.ends_with("/secret/rotate"))
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

/// A kept answer, given again: its status and body, JSON when there is one (a 204 has none).
fn replayed(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let json = !answer.body.is_empty();
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if json {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// Marks a message create answered from its idempotency key, as every other POST's replay is.
pub fn mark_replayed(response: &mut Response) {
    response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
}
