//! Delivery history: attempts by endpoint and by message, a message's destinations, and resend.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hookwire_core::model::{Application, Attempt, Endpoint, Message, Status};
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AttemptId, EndpointId};
use hookwire_store::{AttemptFilter, AttemptScope};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::apps::load_app;
use super::endpoints::load_endpoint;
use super::error::{ApiError, ApiResult};
use super::extract::QueryPairs;
use super::messages::{MessageOut, load_message};
use super::page::{ListResponse, id_iterator, list_response, page_from};
use crate::auth::Principal;
use crate::state::AppState;

// Svix's deprecated paths are served (older SDKs call them) and marked deprecated in the document.
#[allow(deprecated)]
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_by_endpoint))
        .routes(routes!(list_by_message))
        .routes(routes!(list_by_message_deprecated))
        .routes(routes!(list_by_message_and_endpoint_deprecated))
        .routes(routes!(get_attempt))
        .routes(routes!(expunge_attempt_content))
        .routes(routes!(list_destinations))
        .routes(routes!(resend))
        .routes(routes!(resend_attempt))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageAttemptOut {
    pub id: String,
    pub msg_id: String,
    pub endpoint_id: String,
    pub url: String,
    /// The first 4 KiB of the response body, or what went wrong when there was no answer.
    pub response: String,
    /// 0 when no HTTP answer arrived.
    pub response_status_code: u16,
    pub response_duration_ms: u64,
    /// 0 success, 1 pending, 2 fail, 3 sending.
    pub status: i64,
    pub status_text: &'static str,
    /// 0 scheduled, 1 manual.
    pub trigger_type: i64,
    /// Hookwire: `status`, `timeout`, `connect`, `dns`, `tls`, `refused` or `io`; null on success.
    pub error_kind: Option<&'static str>,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<MessageOut>,
}

impl From<Attempt> for MessageAttemptOut {
    fn from(a: Attempt) -> Self {
        Self {
            id: a.id.to_string(),
            msg_id: a.msg_id.to_string(),
            endpoint_id: a.endpoint_id.to_string(),
            url: a.url,
            response: a.response,
            response_status_code: a.response_status_code,
            response_duration_ms: a.response_duration_ms,
            status: a.status.code(),
            status_text: a.status.text(),
            trigger_type: a.trigger_type.code(),
            error_kind: a.error_kind.map(|k| k.as_str()),
            timestamp: a.timestamp,
            msg: None,
        }
    }
}

/// A message's delivery to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageEndpointOut {
    pub id: String,
    pub url: String,
    pub description: String,
    pub disabled: bool,
    pub uid: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub throttle_rate: Option<u32>,
    pub status: i64,
    pub status_text: &'static str,
    #[serde(with = "hookwire_core::time_fmt::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt: Option<Millis>,
    /// Hookwire: attempts made so far.
    pub attempts: u32,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Millis,
}

fn attempt_filter(query: &QueryPairs, scope: AttemptScope) -> ApiResult<AttemptFilter> {
    let status = query.status()?;
    let endpoint = query
        .get("endpoint_id")
        .map(|id| id.parse::<EndpointId>().map_err(|e| ApiError::invalid(&["query", "endpoint_id"], e.to_string())))
        .transpose()?;
    let status_code_class = query.number::<u16>("status_code_class")?;
    if status_code_class.is_some_and(|class| ![0, 100, 200, 300, 400, 500].contains(&class)) {
        return Err(ApiError::invalid(&["query", "status_code_class"], "must be 0, 100, 200, 300, 400 or 500"));
    }
    Ok(AttemptFilter {
        scope,
        page: page_from(query, true, id_iterator::<AttemptId>)?,
        matching: super::extract::message_match(query)?,
        status,
        status_code_class,
        endpoint,
        before: query.timestamp("before")?,
        after: query.timestamp("after")?,
    })
}

/// How an attempt list renders: with its message (`with_msg`), with content (`with_content`:
/// the answer's body and the message's payload).
struct Rendering {
    with_msg: bool,
    with_content: bool,
}

async fn list(
    state: &AppState,
    app: &Application,
    filter: AttemptFilter,
    rendering: Rendering,
) -> ApiResult<ListResponse<MessageAttemptOut>> {
    let attempts = state.store.list_attempts(app.id, &filter).await?;
    let mut out = list_response(&filter.page, attempts, |a| a.id.to_string(), MessageAttemptOut::from);
    if !rendering.with_content {
        out.data.iter_mut().for_each(|attempt| attempt.response.clear());
    }
    if rendering.with_msg {
        // Attempts of one message come in runs: read each message once.
        let mut messages: HashMap<String, Option<Message>> = HashMap::new();
        for attempt in &mut out.data {
            if !messages.contains_key(&attempt.msg_id) {
                let message = load_message(state, app, &attempt.msg_id).await.ok();
                messages.insert(attempt.msg_id.clone(), message);
            }
            attempt.msg =
                messages[&attempt.msg_id].clone().map(|m| MessageOut::from_message(m, rendering.with_content));
        }
    }
    Ok(out)
}

/// Attempts to one endpoint, newest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}", tag = "Message Attempt",
    params(("app_id" = String, Path), ("endpoint_id" = String, Path), ("limit" = Option<usize>, Query), ("iterator" = Option<String>, Query), ("order" = Option<String>, Query),
        ("status" = Option<i64>, Query), ("status_code_class" = Option<u16>, Query), ("channel" = Option<String>, Query),
        ("tag" = Option<String>, Query), ("event_types" = Option<String>, Query), ("before" = Option<String>, Query),
        ("after" = Option<String>, Query), ("with_content" = Option<bool>, Query), ("with_msg" = Option<bool>, Query),
        ("expanded_statuses" = Option<bool>, Query)),
    responses((status = 200, body = ListResponse<MessageAttemptOut>)))]
async fn list_by_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    let (app, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    let filter = attempt_filter(&query, AttemptScope::Endpoint(endpoint.id))?;
    let rendering = Rendering {
        with_msg: query.bool("with_msg")?.unwrap_or(false),
        with_content: query.bool("with_content")?.unwrap_or(true),
    };
    // An attempt is sent or failed, never cancelled: `expanded_statuses` changes nothing here.
    query.bool("expanded_statuses")?;
    Ok(Json(list(&state, &app, filter, rendering).await?))
}

/// Attempts of one message, newest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/msg/{msg_id}", tag = "Message Attempt",
    params(("app_id" = String, Path), ("msg_id" = String, Path), ("limit" = Option<usize>, Query), ("iterator" = Option<String>, Query), ("order" = Option<String>, Query),
        ("status" = Option<i64>, Query), ("status_code_class" = Option<u16>, Query), ("endpoint_id" = Option<String>, Query),
        ("channel" = Option<String>, Query), ("tag" = Option<String>, Query), ("event_types" = Option<String>, Query),
        ("before" = Option<String>, Query), ("after" = Option<String>, Query), ("with_content" = Option<bool>, Query),
        ("expanded_statuses" = Option<bool>, Query)),
    responses((status = 200, body = ListResponse<MessageAttemptOut>)))]
async fn list_by_message(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, msg_id)): Path<(String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    let app = load_app(&state, principal, &app_id).await?;
    let message = load_message(&state, &app, &msg_id).await?;
    let filter = attempt_filter(&query, AttemptScope::Message(message.id))?;
    let rendering = Rendering { with_msg: false, with_content: query.bool("with_content")?.unwrap_or(true) };
    query.bool("expanded_statuses")?;
    Ok(Json(list(&state, &app, filter, rendering).await?))
}

/// Attempts of one message (Svix's deprecated path for list-by-msg, which older SDKs call).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt", tag = "Message Attempt",
    params(("app_id" = String, Path), ("msg_id" = String, Path), ("limit" = Option<usize>, Query), ("iterator" = Option<String>, Query),
        ("status" = Option<i64>, Query), ("endpoint_id" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("tag" = Option<String>, Query), ("event_types" = Option<String>, Query), ("before" = Option<String>, Query),
        ("after" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<MessageAttemptOut>)))]
#[deprecated(note = "Svix's older path: GET /api/v1/app/{app_id}/attempt/msg/{msg_id}")]
async fn list_by_message_deprecated(
    state: State<AppState>,
    principal: Principal,
    path: Path<(String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    list_by_message(state, principal, path, query).await
}

/// Attempts of one message to one endpoint (Svix's deprecated list-attempts-for-endpoint).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/attempt", tag = "Message Attempt",
    params(("app_id" = String, Path), ("msg_id" = String, Path), ("endpoint_id" = String, Path), ("limit" = Option<usize>, Query),
        ("iterator" = Option<String>, Query), ("status" = Option<i64>, Query), ("channel" = Option<String>, Query),
        ("tag" = Option<String>, Query), ("event_types" = Option<String>, Query), ("before" = Option<String>, Query),
        ("after" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<MessageAttemptOut>)))]
#[deprecated(note = "Svix's older path: GET /api/v1/app/{app_id}/attempt/msg/{msg_id}?endpoint_id=")]
async fn list_by_message_and_endpoint_deprecated(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, msg_id, endpoint_id)): Path<(String, String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<MessageAttemptOut>>> {
    let (app, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    let message = load_message(&state, &app, &msg_id).await?;
    let mut filter = attempt_filter(&query, AttemptScope::Message(message.id))?;
    filter.endpoint = Some(endpoint.id);
    Ok(Json(list(&state, &app, filter, Rendering { with_msg: false, with_content: true }).await?))
}

async fn load_attempt(state: &AppState, app: &Application, message: &Message, attempt_id: &str) -> ApiResult<Attempt> {
    let id: AttemptId = attempt_id.parse().map_err(|_| ApiError::not_found("attempt"))?;
    let attempt = state.store.get_attempt(app.id, id).await?.ok_or_else(|| ApiError::not_found("attempt"))?;
    if attempt.msg_id != message.id {
        return Err(ApiError::not_found("attempt"));
    }
    Ok(attempt)
}

/// Get one attempt.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", tag = "Message Attempt",
    params(("app_id" = String, Path), ("msg_id" = String, Path), ("attempt_id" = String, Path),
        ("expanded_statuses" = Option<bool>, Query)),
    responses((status = 200, body = MessageAttemptOut)))]
async fn get_attempt(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, msg_id, attempt_id)): Path<(String, String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<MessageAttemptOut>> {
    query.bool("expanded_statuses")?; // an attempt is never cancelled
    let app = load_app(&state, principal, &app_id).await?;
    let message = load_message(&state, &app, &msg_id).await?;
    Ok(Json(load_attempt(&state, &app, &message, &attempt_id).await?.into()))
}

/// Delete an attempt's response body (say, a receiver that answered with something sensitive).
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content", tag = "Message Attempt",
    params(("app_id" = String, Path), ("msg_id" = String, Path), ("attempt_id" = String, Path)),
    responses((status = 204)))]
async fn expunge_attempt_content(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, msg_id, attempt_id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, principal, &app_id).await?;
    let message = load_message(&state, &app, &msg_id).await?;
    let attempt = load_attempt(&state, &app, &message, &attempt_id).await?;
    state.store.expunge_attempt_content(app.id, attempt.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoints a message is (or was) being delivered to, with each delivery's status, ordered
/// by endpoint id (a chunked endpoint appears once per page).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint", tag = "Message Attempt",
    params(("app_id" = String, Path), ("msg_id" = String, Path), ("limit" = Option<usize>, Query),
        ("iterator" = Option<String>, Query), ("expanded_statuses" = Option<bool>, Query)),
    responses((status = 200, body = ListResponse<MessageEndpointOut>)))]
async fn list_destinations(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, msg_id)): Path<(String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<MessageEndpointOut>>> {
    let page = page_from(&query, false, id_iterator::<EndpointId>)?;
    let expanded = query.bool("expanded_statuses")?.unwrap_or(false);
    let app = load_app(&state, principal, &app_id).await?;
    let message = load_message(&state, &app, &msg_id).await?;
    // One (cached) read of the application's endpoints, not one query per delivery. A message
    // has at most one delivery per endpoint and page, so paging happens here.
    let endpoints = state.store.app_endpoints(app.id).await?;
    let mut deliveries = state.store.message_deliveries(message.id).await?;
    deliveries.sort_by_key(|d| (d.endpoint_id, d.chunk));
    if let Some(after) = page.iterator.as_deref().and_then(|i| i.parse::<EndpointId>().ok()) {
        deliveries.retain(|d| d.endpoint_id > after);
    }
    deliveries.truncate(page.limit);
    let mut rows = Vec::new();
    for delivery in deliveries {
        let Some(endpoint) = endpoints.iter().find(|e| e.id == delivery.endpoint_id) else {
            continue;
        };
        let status = super::messages::shown_status(delivery.status, expanded);
        rows.push(MessageEndpointOut {
            id: endpoint.id.to_string(),
            url: endpoint.url.clone(),
            description: endpoint.description.clone(),
            disabled: endpoint.disabled,
            uid: endpoint.uid.clone(),
            event_types: endpoint.event_types.clone(),
            channels: endpoint.channels.clone(),
            throttle_rate: endpoint.throttle_rate,
            status: status.code(),
            status_text: status.text(),
            next_attempt: delivery.next_attempt_at.filter(|_| delivery.status == Status::Pending),
            attempts: delivery.attempts,
            created_at: delivery.created_at,
            updated_at: delivery.updated_at,
        });
    }
    Ok(Json(list_response(&page, rows, |row| row.id.clone(), |row| row)))
}

/// Send a message to an endpoint again (one manual attempt, same `webhook-id`).
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", tag = "Message Attempt",
    params(("app_id" = String, Path), ("msg_id" = String, Path), ("endpoint_id" = String, Path)), responses((status = 202, body = Object)))]
async fn resend(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, msg_id, endpoint_id)): Path<(String, String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (app, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    let message = load_message(&state, &app, &msg_id).await?;
    resend_message(&state, message, endpoint).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

/// Queues one manual attempt of `message` to `endpoint` (each page, for a chunked endpoint);
/// the API's resend and the dashboard's resend button.
pub(crate) async fn resend_message(state: &AppState, message: Message, endpoint: Endpoint) -> ApiResult<()> {
    state.intake.resend(&Arc::new(message), Arc::new(endpoint), None).await?;
    Ok(())
}

/// Hookwire: resend the message of any attempt to that attempt's endpoint, by attempt id.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/resend", tag = "Message Attempt",
    params(("app_id" = String, Path), ("msg_id" = String, Path), ("attempt_id" = String, Path)), responses((status = 202, body = Object)))]
async fn resend_attempt(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, msg_id, attempt_id)): Path<(String, String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = load_app(&state, principal, &app_id).await?;
    let message = load_message(&state, &app, &msg_id).await?;
    let attempt = load_attempt(&state, &app, &message, &attempt_id).await?;
    let endpoint = state
        .store
        .get_endpoint(app.id, &attempt.endpoint_id.to_string())
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    // A chunk's attempt resends that chunk only.
    let deliveries = state.store.message_deliveries(message.id).await?;
    let chunk = deliveries.iter().find(|d| d.id == attempt.delivery_id).and_then(|d| d.chunk);
    state.intake.resend(&Arc::new(message), Arc::new(endpoint), Some(vec![chunk])).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}
