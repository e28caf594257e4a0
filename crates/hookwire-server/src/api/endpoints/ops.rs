//! Endpoint operations beside CRUD: secret, headers, stats and send-example (recover and the
//! replays are background tasks: `api/tasks.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hookwire_core::limits::{SECRET_ROTATION_GRACE_SECONDS_DEFAULT, SECRET_ROTATION_GRACE_SECONDS_MAX};
use hookwire_core::model::RetiringSecret;
use hookwire_core::model::{Application, Endpoint, Message, TriggerType};
use hookwire_core::schemes;
use hookwire_core::time_fmt::Millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shape::{check_headers, load_endpoint, sensitive_header_names};
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{JsonBody, OptionalJsonBody};
use crate::api::messages::MessageOut;
use crate::auth::Principal;
use crate::intake::{Audience, Submission};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_secret))
        .routes(routes!(rotate_secret))
        .routes(routes!(get_headers, update_headers, patch_headers))
        .routes(routes!(endpoint_stats))
        .routes(routes!(send_example))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointSecretOut {
    /// The signing secret; for the ed25519 scheme, the `whpk_` public key receivers verify with.
    pub key: String,
}

impl EndpointSecretOut {
    pub fn of(endpoint: &Endpoint) -> Self {
        Self { key: endpoint.receiver_secret() }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointSecretRotateIn {
    #[serde(default)]
    pub key: Option<String>,
    /// How long the previous secret keeps signing (both signatures are sent meanwhile).
    #[serde(default)]
    pub grace_period_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointHeadersIn {
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointHeadersPatchIn {
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub delete_headers: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointHeadersOut {
    /// Non-sensitive headers with their values.
    pub headers: BTreeMap<String, String>,
    /// Names of headers whose values are write-only.
    pub sensitive: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointStats {
    pub success: u64,
    pub pending: u64,
    pub sending: u64,
    pub fail: u64,
    pub canceled: u64,
    /// Hookwire: messages whose filter could not be evaluated (counted as no match).
    #[serde(rename = "filterErrors")]
    pub filter_errors: u64,
    #[serde(rename = "lastFilterError")]
    pub last_filter_error: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventExampleIn {
    pub event_type: String,
    #[serde(default)]
    pub example_index: Option<usize>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

/// Get the endpoint's signing secret.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret", tag = "Endpoint",
    params(("app_id" = String, Path), ("endpoint_id" = String, Path)), responses((status = 200, body = EndpointSecretOut)))]
async fn get_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointSecretOut>> {
    let (_, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    Ok(Json(EndpointSecretOut::of(&endpoint)))
}

/// Rotate the signing secret; the previous one keeps signing for the grace period (default 24 h).
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate", tag = "Endpoint",
    request_body = EndpointSecretRotateIn, params(("app_id" = String, Path), ("endpoint_id" = String, Path)), responses((status = 200, body = EndpointSecretOut)))]
async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    OptionalJsonBody(input): OptionalJsonBody<EndpointSecretRotateIn>,
) -> ApiResult<Json<EndpointSecretOut>> {
    let (_, mut endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    let new_secret = match input.key {
        Some(key) => {
            schemes::normalize_secret(endpoint.scheme(), &key).map_err(|e| ApiError::invalid(&["body", "key"], e))?
        }
        None => schemes::generate_secret(endpoint.scheme()),
    };
    let grace = input.grace_period_seconds.unwrap_or(SECRET_ROTATION_GRACE_SECONDS_DEFAULT);
    if grace > SECRET_ROTATION_GRACE_SECONDS_MAX {
        return Err(ApiError::invalid(
            &["body", "gracePeriodSeconds"],
            format!("at most {SECRET_ROTATION_GRACE_SECONDS_MAX}"),
        ));
    }
    let now = state.clock.now();
    endpoint.previous_secrets.retain(|s| s.expires_at > now);
    if grace > 0 {
        let old = std::mem::replace(&mut endpoint.secret, new_secret);
        endpoint.previous_secrets.push(RetiringSecret { key: old, expires_at: now + grace as Millis * 1_000 });
    } else {
        endpoint.secret = new_secret;
    }
    endpoint.updated_at = now;
    let out = EndpointSecretOut::of(&endpoint);
    state.store.update_endpoint(endpoint).await?;
    Ok(Json(out))
}

/// Get the endpoint's custom headers; sensitive values are not returned.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "Endpoint",
    params(("app_id" = String, Path), ("endpoint_id" = String, Path)), responses((status = 200, body = EndpointHeadersOut)))]
async fn get_headers(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointHeadersOut>> {
    let (_, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    let (headers, sensitive) = super::shape::shown_headers(&endpoint.headers, endpoint.sensitive_headers);
    Ok(Json(EndpointHeadersOut { headers, sensitive }))
}

/// Replace the endpoint's custom headers.
#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "Endpoint",
    request_body = EndpointHeadersIn, params(("app_id" = String, Path), ("endpoint_id" = String, Path)), responses((status = 204)))]
async fn update_headers(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<EndpointHeadersIn>,
) -> ApiResult<StatusCode> {
    let (_, mut endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    check_headers(&input.headers)?;
    endpoint.sensitive_headers = sensitive_header_names(&input.headers);
    endpoint.headers = input.headers;
    endpoint.updated_at = state.clock.now();
    state.store.update_endpoint(endpoint).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add, change or delete some of the endpoint's custom headers.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "Endpoint",
    request_body = EndpointHeadersPatchIn, params(("app_id" = String, Path), ("endpoint_id" = String, Path)), responses((status = 204)))]
async fn patch_headers(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<EndpointHeadersPatchIn>,
) -> ApiResult<StatusCode> {
    let (_, mut endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    for name in &input.delete_headers {
        endpoint.headers.remove(name);
    }
    endpoint.headers.extend(input.headers);
    check_headers(&endpoint.headers)?;
    endpoint.sensitive_headers = sensitive_header_names(&endpoint.headers);
    endpoint.updated_at = state.clock.now();
    state.store.update_endpoint(endpoint).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deliveries to this endpoint by status: all, or those created in `[since, until)`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats", tag = "Endpoint",
    params(("app_id" = String, Path), ("endpoint_id" = String, Path), ("since" = Option<String>, Query),
        ("until" = Option<String>, Query)),
    responses((status = 200, body = EndpointStats)))]
async fn endpoint_stats(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    query: crate::api::extract::QueryPairs,
) -> ApiResult<Json<EndpointStats>> {
    let since = query.timestamp("since")?.unwrap_or(Millis::MIN);
    let until = query.timestamp("until")?.unwrap_or(Millis::MAX);
    let (_, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    let c = state.store.endpoint_stats(endpoint.id, since, until).await?;
    Ok(Json(EndpointStats {
        success: c.success,
        pending: c.pending,
        sending: c.sending,
        fail: c.fail,
        canceled: c.canceled,
        filter_errors: c.filter_errors,
        last_filter_error: c.last_filter_error,
    }))
}

/// Send a test message of an event type to this endpoint only: the given payload, else the
/// event type's schema example (`exampleIndex`), else `{}`.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example", tag = "Endpoint",
    request_body = EventExampleIn, params(("app_id" = String, Path), ("endpoint_id" = String, Path)), responses((status = 202, body = MessageOut)))]
async fn send_example(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<EventExampleIn>,
) -> ApiResult<(StatusCode, Json<MessageOut>)> {
    let (app, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    let message = send_example_to(&state, &app, &endpoint, input).await?;
    Ok((StatusCode::ACCEPTED, Json(MessageOut::from_message(message, true))))
}

/// Sends a test message to `endpoint` only (the API's send-example and the dashboard's form).
pub async fn send_example_to(
    state: &AppState,
    app: &Application,
    endpoint: &Endpoint,
    input: EventExampleIn,
) -> ApiResult<Message> {
    crate::api::validate::event_type_name("eventType", &input.event_type, false)?;
    let payload = match input.payload {
        Some(payload) if payload.is_object() => payload,
        Some(_) => {
            return Err(ApiError::invalid(&["body", "payload"], "must be a JSON object"));
        }
        None => example_payload(state, &input.event_type, input.example_index.unwrap_or(0)).await?,
    };
    let submission = Submission {
        audience: Audience::Endpoint(Arc::new(endpoint.clone())),
        trigger: TriggerType::Manual,
        ..Submission::new(app.id, input.event_type, payload.to_string())
    };
    let accepted = state.intake.submit(submission).await?;
    Ok(accepted.message().clone())
}

/// Svix's test event type, sent with `{"success": true}`.
const SVIX_PING_EVENT_TYPE: &str = "svix.ping";

/// `svix.ping` gets `{"success": true}`; any other type the example at `index` from its newest
/// schema with examples, or `{}` when it has none (Svix refuses: here a test event works before
/// a catalog exists).
pub async fn example_payload(state: &AppState, event_type: &str, index: usize) -> ApiResult<serde_json::Value> {
    if event_type == SVIX_PING_EVENT_TYPE {
        return Ok(serde_json::json!({"success": true}));
    }
    let Some(event_type) = state.store.get_event_type(event_type).await? else {
        return Ok(serde_json::json!({}));
    };
    let examples = event_type
        .schemas
        .as_ref()
        .and_then(|s| s.as_object())
        .and_then(|versions| versions.values().next_back())
        .and_then(|schema| schema.get("examples"))
        .and_then(|e| e.as_array());
    match examples {
        Some(examples) => examples.get(index).filter(|e| e.is_object()).cloned().ok_or_else(|| {
            ApiError::invalid(&["body", "exampleIndex"], format!("event type has {} examples", examples.len()))
        }),
        None => Ok(serde_json::json!({})),
    }
}
