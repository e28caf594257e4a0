//! Messages: accepted durably with one delivery per matching endpoint, then listed and read.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hookwire_core::MessageId;
use hookwire_core::limits::{CHANNELS_PER_MESSAGE_MAX, DELIVER_AT_DAYS_MAX, RETENTION_DAYS_MAX, UID_LENGTH_MAX};
use hookwire_core::model::{Application, Message};
use hookwire_core::time_fmt::Millis;
use hookwire_store::MessageFilter;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::apps::{ApplicationIn, create_or_get, load_app};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryPairs};
use super::page::{ListResponse, id_iterator, list_response, page_from};
use super::validate;
use crate::auth::Principal;
use crate::intake::{Accepted, Submission};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages, create_message))
        .routes(routes!(get_message))
        .routes(routes!(get_raw_payload))
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
    /// Svix's transformation parameters: `rawPayload` (a body sent exactly as given instead of
    /// `payload`, which must then be `{}`) and `headers` (`{"content-type": …}` for it).
    #[serde(default)]
    pub transformations_params: Option<TransformationsParams>,
}

/// `transformationsParams`, as the Svix SDKs' `messageInRaw` sends it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransformationsParams {
    /// The body to deliver, byte for byte (any text: XML, form data, pre-serialised JSON…).
    #[serde(default)]
    pub raw_payload: Option<String>,
    /// Headers of the raw body: only `content-type` (default `application/json`).
    #[serde(default)]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
}

/// The `Content-Type` a raw payload is sent with when the producer names none.
const RAW_CONTENT_TYPE_DEFAULT: &str = "application/json";

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
    /// When the producer asked for it to be delivered, if later than `timestamp`.
    #[serde(with = "hookwire_core::time_fmt::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deliver_at: Option<Millis>,
    /// Hookwire: for a raw payload, the `Content-Type` it is sent with; `payload` is then `{}` and
    /// the bytes are at `GET …/msg/{msg_id}/raw`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

pub fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("valid JSON")
}

impl MessageOut {
    pub fn from_message(message: Message, with_content: bool) -> Self {
        // Without content, and for a raw payload (read it at `/raw`): `{}`; once expunged or
        // past retention: `{"expired": true}`, as Svix shows it.
        let payload = match (with_content && message.content_type.is_none(), message.payload) {
            (false, _) => empty_object(),
            (true, Some(payload)) => RawValue::from_string(payload).unwrap_or_else(|_| empty_object()),
            (true, None) => RawValue::from_string(r#"{"expired":true}"#.to_owned()).expect("valid JSON"),
        };
        Self {
            id: message.id.to_string(),
            event_type: message.event_type,
            event_id: message.event_id,
            payload,
            channels: message.channels,
            tags: message.tags,
            timestamp: message.created_at,
            deliver_at: message.deliver_at,
            content_type: message.content_type,
        }
    }
}

fn check(state: &AppState, input: &MessageIn) -> ApiResult<()> {
    validate::event_type_name("eventType", &input.event_type, false)?;
    if let Some(event_id) = &input.event_id {
        validate::length("eventId", event_id, 1, UID_LENGTH_MAX)?;
    }
    if let Some(channels) = &input.channels {
        validate::channels("channels", channels, CHANNELS_PER_MESSAGE_MAX)?;
    }
    if let Some(tags) = &input.tags {
        validate::tags("tags", tags)?;
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
    let latest = state.clock.now() + DELIVER_AT_DAYS_MAX as Millis * 86_400_000;
    if input.deliver_at.is_some_and(|at| at > latest) {
        return Err(ApiError::invalid(&["body", "deliverAt"], format!("must be within {DELIVER_AT_DAYS_MAX} days")));
    }
    Ok(())
}

/// The payload to store and send, and for a raw one its content type: `payload`, or
/// `transformationsParams.rawPayload` (with `payload` then `{}`, as the Svix SDKs send it).
fn payload_of(input: &MessageIn) -> ApiResult<(String, Option<String>)> {
    let Some(params) = &input.transformations_params else {
        return Ok((input.payload.get().to_owned(), None));
    };
    let mut content_type = None;
    for (name, value) in params.headers.iter().flatten() {
        if !name.eq_ignore_ascii_case("content-type") {
            let loc = ["body", "transformationsParams", "headers", name.as_str()];
            return Err(ApiError::invalid(&loc, "only content-type may be set for a raw payload"));
        }
        if axum::http::HeaderValue::from_str(value).is_err() || value.is_empty() {
            let loc = ["body", "transformationsParams", "headers", name.as_str()];
            return Err(ApiError::invalid(&loc, "not a valid header value"));
        }
        content_type = Some(value.clone());
    }
    match &params.raw_payload {
        None if content_type.is_some() => Err(ApiError::invalid(
            &["body", "transformationsParams", "headers"],
            "headers apply to rawPayload, which is missing",
        )),
        None => Ok((input.payload.get().to_owned(), None)),
        Some(_) if input.payload.get().trim() != "{}" => {
            Err(ApiError::invalid(&["body", "payload"], "must be {} when transformationsParams.rawPayload is the body"))
        }
        Some(raw) => Ok((raw.clone(), Some(content_type.unwrap_or_else(|| RAW_CONTENT_TYPE_DEFAULT.to_owned())))),
    }
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
) -> ApiResult<Response> {
    check(&state, &input)?;
    let (payload, content_type) = payload_of(&input)?;
    let with_content = query.bool("with_content")?.unwrap_or(true);
    let key = super::idempotency::key_of(&headers)?;
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
    let submission = Submission {
        event_id: input.event_id,
        channels: input.channels,
        tags: input.tags,
        deliver_at: input.deliver_at,
        retention_hours: input.payload_retention_hours.or(input.payload_retention_period.map(|days| days * 24)),
        idempotency_key: key,
        content_type,
        ..Submission::new(app.id, input.event_type, payload)
    };
    let accepted = state.intake.submit(submission).await?;
    let (message, replayed) = match accepted {
        Accepted::Created(message) => (Arc::unwrap_or_clone(message), false),
        Accepted::Existing(existing) => (*existing, true),
    };
    let mut response = (StatusCode::ACCEPTED, Json(MessageOut::from_message(message, with_content))).into_response();
    if replayed {
        super::idempotency::mark_replayed(&mut response);
    }
    Ok(response)
}

/// List an application's messages, newest first. Hookwire: `status` (0 success, 1 pending, 2
/// failed, 3 sending, 4 canceled) keeps the messages with at least one delivery in that status.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg", tag = "Message",
    params(("app_id" = String, Path), ("limit" = Option<usize>, Query), ("iterator" = Option<String>, Query),
        ("order" = Option<String>, Query), ("event_types" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("tag" = Option<String>, Query), ("status" = Option<i64>, Query),
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
        page: page_from(&query, true, id_iterator::<MessageId>)?,
        matching: super::extract::message_match(&query)?,
        before: query.timestamp("before")?,
        after: query.timestamp("after")?,
        status: query.status()?,
    };
    let with_content = query.bool("with_content")?.unwrap_or(true);
    let messages = state.store.list_messages(app.id, &filter).await?;
    Ok(Json(list_response(&filter.page, messages, |m| m.id.to_string(), |m| MessageOut::from_message(m, with_content))))
}

/// The message a path names: by its id, or (as Svix resolves `msg_id`) by its `eventId`.
pub async fn load_message(state: &AppState, app: &Application, msg_id: &str) -> ApiResult<Message> {
    let found = match msg_id.parse::<MessageId>() {
        Ok(id) => state.store.get_message(app.id, id).await?,
        Err(_) => state.store.get_message_by_event_id(app.id, msg_id).await?,
    };
    found.ok_or_else(|| ApiError::not_found("message"))
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

/// A message's payload as text, exactly as it is sent: a raw payload, or the JSON object.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageRawPayloadOut {
    pub payload: String,
}

/// Get a message's payload exactly as delivered (by its id or eventId); raw payloads have only
/// `{}` in `MessageOut.payload`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/raw", tag = "Message",
    params(("app_id" = String, Path), ("msg_id" = String, Path)), responses((status = 200, body = MessageRawPayloadOut)))]
async fn get_raw_payload(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, msg_id)): Path<(String, String)>,
) -> ApiResult<Json<MessageRawPayloadOut>> {
    let app = load_app(&state, principal, &app_id).await?;
    let message = load_message(&state, &app, &msg_id).await?;
    Ok(Json(MessageRawPayloadOut { payload: message.payload.unwrap_or_default() }))
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

/// `expanded_statuses`: Svix shows a cancelled delivery as succeeded unless asked for the
/// expanded statuses (its older clients know only 0 to 3).
pub fn shown_status(status: hookwire_core::model::Status, expanded: bool) -> hookwire_core::model::Status {
    use hookwire_core::model::Status;
    if status == Status::Canceled && !expanded { Status::Success } else { status }
}
