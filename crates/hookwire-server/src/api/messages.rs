//! Messages: accepted durably with one delivery per matching endpoint, then listed and read.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hookwire_core::MessageId;
use hookwire_core::limits::{
    CHANNELS_PER_MESSAGE_MAX, DELIVER_AT_DAYS_MAX, IDEMPOTENCY_KEY_LENGTH_MAX, PAYLOAD_BYTES_MAX,
    PAYLOAD_NESTING_DEPTH_MAX, RETENTION_DAYS_MAX, UID_LENGTH_MAX, json_nesting_depth,
};
use hookwire_core::model::{Application, Delivery, Endpoint, Message, TriggerType};
use hookwire_core::time_fmt::Millis;
use hookwire_store::{Accept, Accepted, MessageFilter};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::apps::{ApplicationIn, create_or_get, load_app};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryPairs};
use super::page::{ListResponse, list_response, page_from};
use super::validate;
use crate::auth::Principal;
use crate::delivery::Job;
use crate::delivery::fanout::{self, Planned, new_delivery};
use crate::state::{AppState, now};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages, create_message))
        .routes(routes!(get_message))
        .routes(routes!(expunge_content))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageIn {
    pub event_type: String,
    #[serde(default)]
    pub event_id: Option<String>,
    /// A JSON object; delivered byte for byte as received.
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Creates the application on the fly if the path's uid does not exist yet.
    #[serde(default)]
    pub application: Option<ApplicationIn>,
    /// Deliver no earlier than this time (at most `DELIVER_AT_DAYS_MAX` ahead).
    #[serde(default, with = "hookwire_core::time_fmt::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deliver_at: Option<Millis>,
    /// Keep the payload this many days (default: the server's retention).
    #[serde(default)]
    pub payload_retention_period: Option<u64>,
    /// Keep the payload this many hours; wins over `payloadRetentionPeriod`.
    #[serde(default)]
    pub payload_retention_hours: Option<u64>,
    /// Accepted for Svix compatibility; Hookwire has no transformations.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub transformations_params: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageOut {
    pub id: String,
    pub event_type: String,
    pub event_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    pub channels: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: Millis,
}

pub fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("valid JSON")
}

impl MessageOut {
    pub fn from_message(message: Message, with_content: bool) -> Self {
        let payload = message
            .payload
            .filter(|_| with_content)
            .and_then(|p| RawValue::from_string(p).ok())
            .unwrap_or_else(empty_object);
        Self {
            id: message.id.to_string(),
            event_type: message.event_type,
            event_id: message.event_id,
            payload,
            channels: message.channels,
            tags: message.tags,
            timestamp: message.created_at,
        }
    }
}

fn check(input: &MessageIn) -> ApiResult<()> {
    validate::event_type_name("eventType", &input.event_type, false)?;
    if let Some(event_id) = &input.event_id {
        validate::length("eventId", event_id, 1, UID_LENGTH_MAX)?;
    }
    if let Some(channels) = &input.channels {
        validate::channels("channels", channels, CHANNELS_PER_MESSAGE_MAX)?;
    }
    if input.payload_retention_period.is_some_and(|d| d == 0 || d > RETENTION_DAYS_MAX) {
        return Err(ApiError::invalid(
            &["body", "payloadRetentionPeriod"],
            format!("must be 1..={RETENTION_DAYS_MAX} days"),
        ));
    }
    if input.payload_retention_hours.is_some_and(|h| h == 0 || h > RETENTION_DAYS_MAX * 24) {
        return Err(ApiError::invalid(
            &["body", "payloadRetentionHours"],
            format!("must be 1..={} hours", RETENTION_DAYS_MAX * 24),
        ));
    }
    if input.deliver_at.is_some_and(|at| at > now() + DELIVER_AT_DAYS_MAX as Millis * 86_400_000) {
        return Err(ApiError::invalid(&["body", "deliverAt"], format!("must be within {DELIVER_AT_DAYS_MAX} days")));
    }
    let payload = input.payload.get();
    if payload.len() > PAYLOAD_BYTES_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("payload exceeds {PAYLOAD_BYTES_MAX} bytes"),
        ));
    }
    if json_nesting_depth(payload) > PAYLOAD_NESTING_DEPTH_MAX {
        return Err(ApiError::bad_request(format!("payload nests deeper than {PAYLOAD_NESTING_DEPTH_MAX} levels")));
    }
    if !payload.trim_start().starts_with('{') {
        return Err(ApiError::invalid(&["body", "payload"], "must be a JSON object"));
    }
    Ok(())
}

/// How long a message's payload is kept: its own `payloadRetentionHours` or
/// `payloadRetentionPeriod` (days), else the server's `retention_days`, within the server's maximum.
fn retention_ms(config: &crate::config::Config, days: Option<u64>, hours: Option<u64>) -> Millis {
    let hours = hours.or(days.map(|d| d * 24)).unwrap_or(config.retention_days * 24);
    (hours.clamp(1, RETENTION_DAYS_MAX * 24) * 3_600_000) as Millis
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
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

/// Commits `message` with the `planned` deliveries, then hands the due ones to the dispatcher.
/// When the dispatcher has room they are committed already leased to this process and sent
/// without a claim round-trip; otherwise the poller claims them. Deliveries to an unverified
/// endpoint are parked (no due time) until it is verified.
async fn accept(
    state: &AppState,
    message: Message,
    planned: Vec<Planned>,
    trigger: TriggerType,
    idempotency_key: Option<String>,
    due_at: Millis,
) -> ApiResult<Accepted> {
    let now = message.created_at;
    let deliveries: Vec<Delivery> =
        planned.iter().map(|p| new_delivery(&message, &p.endpoint, p.chunk, trigger, now, due_at)).collect();
    let is_due = |d: &Delivery| d.next_attempt_at.is_some_and(|at| at <= now);
    let due = deliveries.iter().filter(|d| is_due(d)).count();
    let scheduled = deliveries.iter().any(|d| d.next_attempt_at.is_some_and(|at| at > now));
    let reservation = state.dispatcher.try_reserve(due);
    let accept = Accept {
        message: message.clone(),
        deliveries: deliveries.clone(),
        leased_until: reservation.as_ref().map(|_| now + crate::delivery::LEASE_MS),
        idempotency_key,
    };
    let accepted = state.store.accept_message(accept).await?;
    if matches!(accepted, Accepted::Created) {
        state.metrics.message_accepted();
        match reservation {
            Some(reservation) => {
                let message = Arc::new(message);
                let jobs = deliveries
                    .into_iter()
                    .zip(planned)
                    .filter(|(delivery, _)| is_due(delivery))
                    .map(|(delivery, plan)| Job { delivery, message: message.clone(), endpoint: plan.endpoint });
                reservation.send(jobs);
            }
            None if due > 0 => state.dispatcher.wake(),
            None => {}
        }
        if scheduled {
            state.dispatcher.wake(); // the poller recomputes when it next has work
        }
    }
    Ok(accepted)
}

/// Sends a new message to one endpoint only, regardless of its subscription (send-example).
pub async fn send_to_one_endpoint(
    state: &AppState,
    app: &Application,
    endpoint: &Endpoint,
    event_type: String,
    payload: String,
) -> ApiResult<Message> {
    let message = Message {
        id: MessageId::generate(),
        app_id: app.id,
        event_type,
        event_id: None,
        channels: None,
        tags: None,
        payload: Some(payload),
        payload_expires_at: None,
        created_at: now(),
    };
    let endpoint = Arc::new(endpoint.clone());
    let planned =
        fanout::chunks(&endpoint, &message).into_iter().map(|chunk| Planned { endpoint: endpoint.clone(), chunk });
    let retention = retention_ms(&state.config, None, None);
    let message = Message { payload_expires_at: Some(message.created_at + retention), ..message };
    accept(state, message.clone(), planned.collect(), TriggerType::Manual, None, message.created_at).await?;
    Ok(message)
}

/// Send a message: it is on disk, with a delivery for every matching endpoint, when this answers.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg", tag = "Message", request_body = MessageIn,
    params(("app_id" = String, Path), ("with_content" = Option<bool>, Query), ("idempotency-key" = Option<String>, Header)),
    responses((status = 202, body = MessageOut), (status = 409), (status = 413), (status = 422)))]
async fn create_message(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
    query: QueryPairs,
    headers: HeaderMap,
    JsonBody(input): JsonBody<MessageIn>,
) -> ApiResult<(StatusCode, Json<MessageOut>)> {
    check(&input)?;
    let with_content = query.bool("with_content")?.unwrap_or(true);
    let key = idempotency_key(&headers)?;
    let app = match (state.store.get_app(&app_id).await?, input.application) {
        (Some(app), _) => app,
        (None, Some(application)) => {
            principal.require_admin()?;
            let application = ApplicationIn { uid: Some(app_id.clone()), ..application };
            create_or_get(&state, application, true).await?.1
        }
        (None, None) => return Err(ApiError::not_found("application")),
    };
    principal.require_app(app.id)?;
    if state.config.strict_event_types && state.store.get_event_type(&input.event_type).await?.is_none() {
        return Err(ApiError::invalid(
            &["body", "eventType"],
            format!("event type {:?} is not in the catalog", input.event_type),
        ));
    }
    let message = Message {
        id: MessageId::generate(),
        app_id: app.id,
        event_type: input.event_type,
        event_id: input.event_id,
        channels: input.channels,
        tags: input.tags,
        payload: Some(input.payload.get().to_owned()),
        payload_expires_at: None,
        created_at: now(),
    };
    let retention = retention_ms(&state.config, input.payload_retention_period, input.payload_retention_hours);
    let message = Message { payload_expires_at: Some(message.created_at + retention), ..message };
    let due_at = input.deliver_at.map_or(message.created_at, |at| at.max(message.created_at));
    if state.config.validate_payloads {
        state
            .schemas
            .check(state.store.as_ref(), &message.event_type, message.payload.as_deref().unwrap_or("{}"))
            .await?;
    }
    let (planned, filter_failures) = state.fanout.plan(state.store.app_endpoints(app.id).await?, &message);
    for failure in filter_failures {
        tracing::info!(endpoint_id = %failure.endpoint, error = %failure.error, "filter could not be evaluated");
        state.store.record_filter_error(failure.endpoint, failure.error, message.created_at).await?;
    }
    let message = match accept(&state, message.clone(), planned, TriggerType::Scheduled, key, due_at).await? {
        Accepted::Created => message,
        Accepted::Existing(existing) => existing,
    };
    Ok((StatusCode::ACCEPTED, Json(MessageOut::from_message(message, with_content))))
}

/// List an application's messages, newest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg", tag = "Message",
    params(("app_id" = String, Path), ("limit" = Option<usize>, Query), ("iterator" = Option<String>, Query),
        ("event_types" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("before" = Option<String>, Query), ("after" = Option<String>, Query), ("with_content" = Option<bool>, Query)),
    responses((status = 200, body = ListResponse<MessageOut>)))]
async fn list_messages(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<MessageOut>>> {
    let app = load_app(&state, principal, &app_id).await?;
    let filter = MessageFilter {
        page: page_from(&query, true)?,
        event_types: query.list("event_types"),
        channel: query.get("channel").map(str::to_owned),
        before: query.timestamp("before")?,
        after: query.timestamp("after")?,
        status: None,
    };
    let with_content = query.bool("with_content")?.unwrap_or(true);
    let messages = state.store.list_messages(app.id, &filter).await?;
    Ok(Json(list_response(&filter.page, messages, |m| m.id.to_string(), |m| MessageOut::from_message(m, with_content))))
}

pub async fn load_message(state: &AppState, app: &Application, msg_id: &str) -> ApiResult<Message> {
    let id: MessageId = msg_id.parse().map_err(|_| ApiError::not_found("message"))?;
    state.store.get_message(app.id, id).await?.ok_or_else(|| ApiError::not_found("message"))
}

/// Get a message.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}", tag = "Message",
    params(("app_id" = String, Path), ("msg_id" = String, Path), ("with_content" = Option<bool>, Query)),
    responses((status = 200, body = MessageOut)))]
async fn get_message(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, msg_id)): Path<(String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<MessageOut>> {
    let app = load_app(&state, principal, &app_id).await?;
    let message = load_message(&state, &app, &msg_id).await?;
    Ok(Json(MessageOut::from_message(message, query.bool("with_content")?.unwrap_or(true))))
}

/// Delete a message's payload; the message and its attempts stay listed.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/msg/{msg_id}/content", tag = "Message",
    params(("app_id" = String, Path), ("msg_id" = String, Path)), responses((status = 204)))]
async fn expunge_content(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, msg_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, principal, &app_id).await?;
    let message = load_message(&state, &app, &msg_id).await?;
    state.store.expunge_message_content(app.id, message.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
