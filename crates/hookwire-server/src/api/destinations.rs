//! Destinations (Svix's `destination` API) and the polling endpoints' readers (`poller`): a
//! destination is a filter and a position in the application's message log (the store's
//! `DestinationStore`), never a row per message. `pollingEndpoint` is served: consumers read
//! the log in order with an iterator they keep, or with a position the server keeps per
//! consumer id; a poll that finds nothing may wait for messages (`maxWaitSecs`, or `wait_secs`
//! on the call). `fifoEndpoint` is pushed to in ordered batches by `ops/fifo.rs`; its receiver
//! (`config: {url, headers, key}`) is checked here like an endpoint's. The cloud sinks are
//! refused by name.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hookwire_core::destination::{
    BATCH_SIZE_DEFAULT, Destination, DestinationAttempt, DestinationKind, DestinationStatus, FifoConfig,
    MAX_WAIT_SECS_MAX, POLL_LIMIT_MAX,
};
use hookwire_core::matching::channels_match;
use hookwire_core::model::{Message, Metadata};
use hookwire_core::time_fmt::{Millis, restamp};
use hookwire_core::{AttemptId, DestinationId};
use hookwire_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::apps::load_app;
use super::endpoints::{EndpointHeadersIn, EndpointHeadersOut, EndpointHeadersPatchIn};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryPairs};
use super::messages::MessageOut;
use super::page::{ListResponse, id_iterator, list_response, page_from};
use super::validate;
use crate::auth::Principal;
use crate::state::AppState;

/// Log entries one poll looks through for matching messages before it answers (with what it
/// found and an iterator past what it looked at).
const POLL_SCAN_MAX: usize = 10_000;
/// Entries read from the store at a time while scanning.
const POLL_SCAN_PAGE: usize = 500;
/// How often a waiting poll looks for messages other nodes accepted (this node's wake it).
const POLL_WAIT_STEP_MS: u64 = 250;
const EVENT_TYPES_MAX: usize = 1_000;
const CHANNELS_MAX: usize = 10;
const CONSUMER_ID_LENGTH_MAX: usize = 256;
/// Messages counted at most for a destination's `lag` (one bounded index scan each).
pub const LAG_COUNT_MAX: u64 = 100_000;

/// Svix's destination types Hookwire does not serve (yet), refused by name.
const NOT_SERVED: &[&str] = &[
    "azureBlobStorage",
    "otelTracing",
    "amazonS3",
    "googleCloudStorage",
    "googleCloudPubSub",
    "sqs",
    "sns",
    "bigQuery",
    "clickhouse",
    "eventBridge",
    "snowflake",
    "rabbitMq",
    "redshift",
    "postgres",
];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_destinations, create_destination))
        .routes(routes!(get_destination, update_destination, patch_destination, delete_destination))
        .routes(routes!(skip))
        .routes(routes!(force_retry))
        .routes(routes!(next_event))
        .routes(routes!(get_secret))
        .routes(routes!(get_transformation, patch_transformation))
        .routes(routes!(simulate_transformation))
        .routes(routes!(last_acked_event))
        .routes(routes!(list_attempts))
        .routes(routes!(get_attempt))
        .routes(routes!(get_headers, update_headers, patch_headers))
        .routes(routes!(rotate_secret))
        .routes(routes!(poll))
        .routes(routes!(consumer_poll))
        .routes(routes!(consumer_seek))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationIn {
    /// `pollingEndpoint`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A `pollingEndpoint` has no configuration: absent or `{}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    #[serde(default)]
    pub uid: Option<String>,
    /// `enabled` (default), `paused` (polls answer 409, the position is kept) or `disabled`.
    #[serde(default)]
    pub status: Option<String>,
    /// The page size a poll answers with when it gives no `limit` (1–1000, default 100).
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// How long a poll that finds nothing waits for messages (0–300 s, default 0).
    #[serde(default)]
    pub max_wait_secs: Option<u32>,
    /// Event types (Hookwire's `a.*` wildcards); absent means all.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// Only messages carrying one of these channels; absent means all.
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationPatch {
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub uid: Option<Option<String>>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub batch_size: Option<u32>,
    #[serde(default)]
    pub max_wait_secs: Option<u32>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub channels: Option<Option<Vec<String>>>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// Only `{}` (a `pollingEndpoint` has no configuration).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationOut {
    pub id: String,
    pub uid: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    pub status: &'static str,
    pub batch_size: u32,
    pub max_wait_secs: u32,
    pub event_types: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub metadata: Metadata,
    /// A fifoEndpoint: the position after the last batch its receiver took. A polling
    /// endpoint: where a new consumer starts (the log's end when it was created).
    pub current_iterator: String,
    /// Why the current batch of a fifoEndpoint failed (null for a polling endpoint).
    pub failure_reason: Option<String>,
    #[schema(value_type = Option<String>)]
    pub next_retry_at: Option<String>,
    /// Hookwire's: messages of the application after the position (a fifoEndpoint's, or its
    /// furthest-behind consumer's; null for a polling endpoint without consumers), counted up
    /// to 100,000. Its filters apply when sending, so fewer of them may be sent.
    pub lag: Option<u64>,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Millis,
}

impl From<Destination> for DestinationOut {
    fn from(d: Destination) -> Self {
        let progress = d.progress.clone().unwrap_or_default();
        let retrying = d.status == DestinationStatus::Enabled && progress.failures > 0;
        Self {
            id: d.id.to_string(),
            uid: d.uid,
            kind: d.kind.as_str(),
            // The receiver, not its key (read it at …/secret) nor its sensitive headers' values
            // (write-only, as an endpoint's; their names are at …/headers).
            config: match &d.config {
                Some(config) => {
                    let sensitive = super::endpoints::sensitive_header_names(&config.headers);
                    let shown = super::endpoints::shown_headers(&config.headers, sensitive).0;
                    serde_json::json!({"url": config.url, "headers": shown})
                }
                None => serde_json::json!({}),
            },
            status: if retrying { "retrying" } else { d.status.as_str() },
            batch_size: d.batch_size,
            max_wait_secs: d.max_wait_secs,
            event_types: d.event_types,
            channels: d.channels,
            metadata: d.metadata,
            current_iterator: if d.progress.is_some() { progress.position } else { d.start },
            failure_reason: progress.failure_reason,
            next_retry_at: progress.next_retry_at.map(hookwire_core::time_fmt::format_millis),
            lag: None,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// How far behind its application's log a destination is (see `DestinationOut::lag`).
pub async fn lag(state: &AppState, d: &Destination) -> ApiResult<Option<u64>> {
    let position = match (&d.kind, &d.progress) {
        (DestinationKind::FifoEndpoint, Some(progress)) => Some(progress.position.clone()),
        (DestinationKind::FifoEndpoint, None) => Some(d.start.clone()),
        (DestinationKind::PollingEndpoint, _) => state.store.slowest_consumer(d.id).await?,
    };
    Ok(match position {
        Some(position) => Some(state.store.log_behind(d.app_id, &position, LAG_COUNT_MAX).await?),
        None => None,
    })
}

/// A destination as the API shows it, its lag counted.
pub async fn destination_out(state: &AppState, d: Destination) -> ApiResult<DestinationOut> {
    let lag = lag(state, &d).await?;
    Ok(DestinationOut { lag, ..d.into() })
}

/// A page of a polling endpoint (Svix's `PollingEndpointOut`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PollingEndpointOut {
    pub data: Vec<MessageOut>,
    /// Where the next poll continues.
    pub iterator: String,
    /// True when the log had nothing more to read.
    pub done: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PollingEndpointConsumerSeekIn {
    /// The consumer reads on from the first message created after this time.
    pub after: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PollingEndpointConsumerSeekOut {
    pub iterator: String,
}

fn kind(text: &str) -> ApiResult<DestinationKind> {
    match text {
        "pollingEndpoint" => Ok(DestinationKind::PollingEndpoint),
        "fifoEndpoint" => Ok(DestinationKind::FifoEndpoint),
        other if NOT_SERVED.contains(&other) => Err(ApiError::invalid(
            &["body", "type"],
            format!("{other:?} destinations are not available in Hookwire; pollingEndpoint and fifoEndpoint are"),
        )),
        other => Err(ApiError::invalid(&["body", "type"], format!("unknown destination type {other:?}"))),
    }
}

fn status(text: &str) -> ApiResult<DestinationStatus> {
    match text {
        "enabled" => Ok(DestinationStatus::Enabled),
        "paused" => Ok(DestinationStatus::Paused),
        "disabled" => Ok(DestinationStatus::Disabled),
        other => Err(ApiError::invalid(
            &["body", "status"],
            format!("{other:?} is not a status; use enabled, paused or disabled"),
        )),
    }
}

fn check_config(config: &Option<serde_json::Value>) -> ApiResult<()> {
    match config {
        None => Ok(()),
        Some(serde_json::Value::Object(fields)) if fields.is_empty() => Ok(()),
        Some(serde_json::Value::Object(fields)) => {
            let name = fields.keys().next().expect("not empty");
            Err(ApiError::invalid(&["body", "config", name], "a pollingEndpoint takes no configuration"))
        }
        Some(_) => Err(ApiError::invalid(&["body", "config"], "must be an object")),
    }
}

/// A FIFO destination's signing key: `key` checked (a 422 at `loc` naming the problem), or a
/// new one.
fn signing_key(key: Option<String>, loc: &[&str]) -> ApiResult<String> {
    let scheme = hookwire_core::schemes::Scheme::default();
    match key {
        Some(key) => hookwire_core::schemes::normalize_secret(scheme, &key).map_err(|e| ApiError::invalid(loc, e)),
        None => Ok(hookwire_core::schemes::generate_secret(scheme)),
    }
}

/// A `fifoEndpoint`'s `config` (Svix's `FifoEndpointConfigIn`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FifoConfigIn {
    url: Option<String>,
    #[serde(default)]
    headers: Option<std::collections::BTreeMap<String, String>>,
    /// The signing secret (`whsec_…`); generated when absent.
    #[serde(default)]
    key: Option<String>,
}

/// A `fifoEndpoint`'s receiver from `config`, over `current` (a patch keeps what it omits):
/// the URL checked as an endpoint's is (SSRF rules included), the headers as an endpoint's.
async fn fifo_config(
    state: &AppState,
    config: Option<serde_json::Value>,
    current: Option<FifoConfig>,
) -> ApiResult<FifoConfig> {
    let input: FifoConfigIn = match config {
        Some(value) => {
            serde_json::from_value(value).map_err(|e| ApiError::invalid(&["body", "config"], e.to_string()))?
        }
        None => FifoConfigIn { url: None, headers: None, key: None },
    };
    let url = match (input.url, &current) {
        (Some(url), _) => url,
        (None, Some(current)) => current.url.clone(),
        (None, None) => return Err(ApiError::invalid(&["body", "config", "url"], "a fifoEndpoint needs config.url")),
    };
    super::endpoints::check_url(state, &url).await.map_err(|error| {
        // The endpoint rule's own words (it names --allow-private-networks), at this field.
        let why = match &error.detail {
            super::error::Detail::Validation(items) => {
                items.iter().map(|i| i.msg.clone()).collect::<Vec<_>>().join("; ")
            }
            super::error::Detail::Text(text) => text.clone(),
        };
        ApiError::invalid(&["body", "config", "url"], why)
    })?;
    let headers = input.headers.or(current.as_ref().map(|c| c.headers.clone())).unwrap_or_default();
    super::endpoints::check_headers(&headers)?;
    let secret = match (input.key, current) {
        (None, Some(current)) => current.secret,
        (key, _) => signing_key(key, &["body", "config", "key"])?,
    };
    Ok(FifoConfig { url, headers, secret })
}

/// Every field's rule, for a new or changed destination.
fn check(d: &Destination) -> ApiResult<()> {
    if let Some(uid) = &d.uid {
        validate::uid(uid, DestinationId::PREFIX)?;
    }
    if !(1..=POLL_LIMIT_MAX as u32).contains(&d.batch_size) {
        return Err(ApiError::invalid(&["body", "batchSize"], format!("must be between 1 and {POLL_LIMIT_MAX}")));
    }
    if d.max_wait_secs > MAX_WAIT_SECS_MAX {
        return Err(ApiError::invalid(&["body", "maxWaitSecs"], format!("must be between 0 and {MAX_WAIT_SECS_MAX}")));
    }
    if let Some(types) = &d.event_types {
        if types.len() > EVENT_TYPES_MAX {
            return Err(ApiError::invalid(&["body", "eventTypes"], format!("at most {EVENT_TYPES_MAX} entries")));
        }
        for name in types {
            validate::event_type_name("eventTypes", name, true)?;
        }
    }
    if let Some(channels) = &d.channels {
        validate::channels("channels", channels, CHANNELS_MAX)?;
    }
    validate::metadata(&d.metadata)
}

pub async fn load(state: &AppState, principal: Principal, app_key: &str, key: &str) -> ApiResult<Destination> {
    let app = load_app(state, principal, app_key).await?;
    state.store.get_destination(app.id, key).await?.ok_or_else(|| ApiError::not_found("destination"))
}

/// List an application's destinations.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/destination", tag = "Destination",
    params(("app_id" = String, Path), ("limit" = Option<usize>, Query), ("iterator" = Option<String>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<DestinationOut>)))]
async fn list_destinations(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<DestinationOut>>> {
    let app = load_app(&state, principal, &app_id).await?;
    let page = page_from(&query, true, id_iterator::<DestinationId>)?;
    let destinations = state.store.list_destinations(app.id, &page).await?;
    let mut rows = Vec::with_capacity(destinations.len());
    for d in destinations {
        let lag = lag(&state, &d).await?;
        rows.push((d, lag));
    }
    let out = |(d, lag): (Destination, Option<u64>)| DestinationOut { lag, ..d.into() };
    Ok(Json(list_response(&page, rows, |(d, _)| d.id.to_string(), out)))
}

/// Create a destination; a polling endpoint's consumers start at the log's end now.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/destination", tag = "Destination", request_body = DestinationIn,
    params(("app_id" = String, Path)), responses((status = 201, body = DestinationOut)))]
async fn create_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
    JsonBody(input): JsonBody<DestinationIn>,
) -> ApiResult<(StatusCode, Json<DestinationOut>)> {
    let app = load_app(&state, principal, &app_id).await?;
    let destination = destination_from(&state, app.id, input).await?;
    state.store.create_destination(destination.clone()).await?;
    state.intake.announce_log();
    Ok((StatusCode::CREATED, Json(destination_out(&state, destination).await?)))
}

async fn destination_from(state: &AppState, app: hookwire_core::AppId, input: DestinationIn) -> ApiResult<Destination> {
    let now = state.clock.now();
    let kind = kind(&input.kind)?;
    let config = match kind {
        DestinationKind::PollingEndpoint => {
            check_config(&input.config)?;
            None
        }
        DestinationKind::FifoEndpoint => Some(fifo_config(state, input.config, None).await?),
    };
    let destination = Destination {
        id: DestinationId::generate(),
        app_id: app,
        uid: input.uid,
        kind,
        status: input.status.as_deref().map(status).transpose()?.unwrap_or(DestinationStatus::Enabled),
        batch_size: input.batch_size.unwrap_or(BATCH_SIZE_DEFAULT),
        max_wait_secs: input.max_wait_secs.unwrap_or(0),
        event_types: input.event_types.filter(|t| !t.is_empty()),
        channels: input.channels.filter(|c| !c.is_empty()),
        metadata: input.metadata.unwrap_or_default(),
        start: state.store.log_end(app).await?,
        config,
        transformation: None,
        progress: None,
        created_at: now,
        updated_at: now,
    };
    check(&destination)?;
    Ok(destination)
}

/// Get a destination.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/destination/{destination_id}", tag = "Destination",
    params(("app_id" = String, Path), ("destination_id" = String, Path)), responses((status = 200, body = DestinationOut)))]
async fn get_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
) -> ApiResult<Json<DestinationOut>> {
    let d = load(&state, principal, &app_id, &destination_id).await?;
    Ok(Json(destination_out(&state, d).await?))
}

/// Replace a destination's settings (its consumers keep their positions).
#[utoipa::path(put, path = "/api/v1/app/{app_id}/destination/{destination_id}", tag = "Destination",
    request_body = DestinationIn, params(("app_id" = String, Path), ("destination_id" = String, Path)),
    responses((status = 200, body = DestinationOut)))]
async fn update_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<DestinationIn>,
) -> ApiResult<Json<DestinationOut>> {
    let current = load(&state, principal, &app_id, &destination_id).await?;
    let mut input = input;
    if let (Some(serde_json::Value::Object(config)), Some(kept)) = (&mut input.config, &current.config) {
        // A replacement that names no key keeps the signing secret, and one without headers
        // keeps them (sensitive values are never shown, so they could not be sent back).
        config.entry("key").or_insert_with(|| serde_json::Value::from(kept.secret.clone()));
        config.entry("headers").or_insert_with(|| serde_json::json!(kept.headers));
    }
    let mut replacement = destination_from(&state, current.app_id, input).await?;
    replacement.id = current.id;
    replacement.start = current.start;
    replacement.created_at = current.created_at;
    replacement.updated_at = current.updated_at;
    replacement.touch(state.clock.now());
    // The transformation is its own resource (…/transformation): a replacement keeps it.
    replacement.transformation = current.transformation;
    state.store.update_destination(replacement.clone()).await?;
    state.intake.announce_log();
    let replacement = Destination { progress: current.progress, ..replacement };
    Ok(Json(destination_out(&state, replacement).await?))
}

/// Change some of a destination's settings; `null` clears a field.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/destination/{destination_id}", tag = "Destination",
    request_body = DestinationPatch, params(("app_id" = String, Path), ("destination_id" = String, Path)),
    responses((status = 200, body = DestinationOut)))]
pub async fn patch_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
    JsonBody(patch): JsonBody<DestinationPatch>,
) -> ApiResult<Json<DestinationOut>> {
    let mut d = load(&state, principal, &app_id, &destination_id).await?;
    match d.kind {
        DestinationKind::PollingEndpoint => check_config(&patch.config)?,
        DestinationKind::FifoEndpoint if patch.config.is_some() => {
            d.config = Some(fifo_config(&state, patch.config.clone(), d.config.take()).await?);
        }
        DestinationKind::FifoEndpoint => {}
    }
    if let Some(uid) = patch.uid {
        d.uid = uid;
    }
    if let Some(text) = patch.status {
        d.status = status(&text)?;
    }
    if let Some(size) = patch.batch_size {
        d.batch_size = size;
    }
    if let Some(wait) = patch.max_wait_secs {
        d.max_wait_secs = wait;
    }
    if let Some(types) = patch.event_types {
        d.event_types = types.filter(|t| !t.is_empty());
    }
    if let Some(channels) = patch.channels {
        d.channels = channels.filter(|c| !c.is_empty());
    }
    if let Some(metadata) = patch.metadata {
        d.metadata = metadata;
    }
    check(&d)?;
    d.touch(state.clock.now());
    state.store.update_destination(d.clone()).await?;
    state.intake.announce_log();
    Ok(Json(destination_out(&state, d).await?))
}

/// Delete a destination and its consumers' positions.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/destination/{destination_id}", tag = "Destination",
    params(("app_id" = String, Path), ("destination_id" = String, Path)), responses((status = 204)))]
pub async fn delete_destination(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let d = load(&state, principal, &app_id, &destination_id).await?;
    state.store.delete_destination(d.app_id, d.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What one poll asks for beyond the destination's own filters.
struct PollRequest {
    limit: usize,
    event_type: Option<String>,
    channel: Option<String>,
    wait: Duration,
}

impl PollRequest {
    fn from(query: &QueryPairs, d: &Destination, filters: bool) -> ApiResult<Self> {
        let limit = query.number::<usize>("limit")?.unwrap_or(d.batch_size as usize);
        if limit == 0 || limit > POLL_LIMIT_MAX {
            return Err(ApiError::invalid(&["query", "limit"], format!("must be between 1 and {POLL_LIMIT_MAX}")));
        }
        let wait = query.number::<u32>("wait_secs")?.unwrap_or(d.max_wait_secs);
        if wait > MAX_WAIT_SECS_MAX {
            return Err(ApiError::invalid(
                &["query", "wait_secs"],
                format!("must be between 0 and {MAX_WAIT_SECS_MAX}"),
            ));
        }
        let (event_type, channel) = match filters {
            true => (query.get("event_type").map(str::to_owned), query.get("channel").map(str::to_owned)),
            false => (None, None),
        };
        if let Some(name) = &event_type {
            validate::event_type_name("event_type", name, true)?;
        }
        Ok(Self { limit, event_type, channel, wait: Duration::from_secs(wait.into()) })
    }

    fn wants(&self, d: &Destination, message: &Message) -> bool {
        d.wants(message)
            && self
                .event_type
                .as_deref()
                .is_none_or(|t| hookwire_core::matching::event_type_matches(Some(&[t.to_owned()]), &message.event_type))
            && self
                .channel
                .as_deref()
                .is_none_or(|c| channels_match(Some(&[c.to_owned()]), message.channels.as_deref()))
    }
}

/// Reads the destination's stream from `from`: up to `limit` matching messages, the position
/// after what was looked at, and whether the log had nothing more; waits up to `wait` when it
/// finds nothing.
async fn read(state: &AppState, d: &Destination, from: String, request: &PollRequest) -> ApiResult<PollingEndpointOut> {
    if d.kind != DestinationKind::PollingEndpoint {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_a_polling_endpoint",
            format!("the destination is a {}: its messages are sent, not polled", d.kind.as_str()),
        ));
    }
    match d.status {
        DestinationStatus::Enabled => {}
        other => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "destination_not_enabled",
                format!("the destination is {}: enable it to read", other.as_str()),
            ));
        }
    }
    let deadline = tokio::time::Instant::now() + request.wait;
    let mut position = from;
    let mut news = state.intake.log_news();
    loop {
        news.borrow_and_update();
        let (data, done) = scan(state, d, &mut position, request).await?;
        let now = tokio::time::Instant::now();
        if !data.is_empty() || now >= deadline {
            let data = data.into_iter().map(|m| MessageOut::from_message(m, true)).collect();
            return Ok(PollingEndpointOut { data, iterator: position, done });
        }
        // Woken by this node's accepts; the step finds what other nodes accepted.
        tokio::select! {
            _ = news.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(POLL_WAIT_STEP_MS).min(deadline - now)) => {}
        }
    }
}

async fn scan(
    state: &AppState,
    d: &Destination,
    position: &mut String,
    request: &PollRequest,
) -> ApiResult<(Vec<Message>, bool)> {
    let mut found = Vec::new();
    let mut scanned = 0;
    loop {
        let page = state.store.read_log(d.app_id, position, POLL_SCAN_PAGE).await?;
        let exhausted = page.len() < POLL_SCAN_PAGE;
        for (at, message) in page {
            *position = at;
            scanned += 1;
            if request.wants(d, &message) {
                found.push(message);
                if found.len() == request.limit {
                    return Ok((found, false));
                }
            }
        }
        if exhausted {
            return Ok((found, true));
        }
        if scanned >= POLL_SCAN_MAX {
            return Ok((found, false));
        }
    }
}

fn check_consumer_id(consumer: &str) -> ApiResult<()> {
    validate::length("consumer_id", consumer, 1, CONSUMER_ID_LENGTH_MAX)?;
    if !consumer.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(ApiError::invalid(&["path", "consumer_id"], "letters, digits, '-', '_' and '.' only"));
    }
    Ok(())
}

/// Read a polling endpoint's stream from an iterator the caller keeps (from the destination's
/// start without one, or from the first message created after `after`).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/poller/{sink_id}", tag = "Message Poller",
    params(("app_id" = String, Path), ("sink_id" = String, Path), ("limit" = Option<usize>, Query),
        ("iterator" = Option<String>, Query), ("event_type" = Option<String>, Query), ("channel" = Option<String>, Query),
        ("after" = Option<String>, Query), ("wait_secs" = Option<u32>, Query)),
    responses((status = 200, body = PollingEndpointOut)))]
async fn poll(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, sink_id)): Path<(String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<PollingEndpointOut>> {
    let d = load(&state, principal, &app_id, &sink_id).await?;
    let request = PollRequest::from(&query, &d, true)?;
    let from = match (query.get("iterator"), query.timestamp("after")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(&["query", "after"], "give iterator or after, not both"));
        }
        (Some(iterator), None) => iterator.to_owned(),
        (None, Some(after)) => state.store.log_position_after(d.app_id, after).await?,
        (None, None) => d.start.clone(),
    };
    Ok(Json(read(&state, &d, from, &request).await?))
}

/// Read a polling endpoint's stream as a named consumer: the server keeps its position and
/// moves it past what each read returns (`iterator` reads from there instead).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/poller/{sink_id}/consumer/{consumer_id}", tag = "Message Poller",
    params(("app_id" = String, Path), ("sink_id" = String, Path), ("consumer_id" = String, Path),
        ("limit" = Option<usize>, Query), ("iterator" = Option<String>, Query), ("wait_secs" = Option<u32>, Query)),
    responses((status = 200, body = PollingEndpointOut)))]
async fn consumer_poll(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, sink_id, consumer_id)): Path<(String, String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<PollingEndpointOut>> {
    check_consumer_id(&consumer_id)?;
    let d = load(&state, principal, &app_id, &sink_id).await?;
    let request = PollRequest::from(&query, &d, false)?;
    let from = match query.get("iterator") {
        Some(iterator) => iterator.to_owned(),
        None => state.store.consumer_position(d.id, &consumer_id).await?.unwrap_or_else(|| d.start.clone()),
    };
    let out = read(&state, &d, from, &request).await?;
    state.store.save_consumer_position(d.id, &consumer_id, &out.iterator, state.clock.now()).await?;
    Ok(Json(out))
}

/// Move a consumer to the first message created after a time.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/poller/{sink_id}/consumer/{consumer_id}/seek", tag = "Message Poller",
    request_body = PollingEndpointConsumerSeekIn,
    params(("app_id" = String, Path), ("sink_id" = String, Path), ("consumer_id" = String, Path)),
    responses((status = 200, body = PollingEndpointConsumerSeekOut)))]
async fn consumer_seek(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, sink_id, consumer_id)): Path<(String, String, String)>,
    JsonBody(input): JsonBody<PollingEndpointConsumerSeekIn>,
) -> ApiResult<Json<PollingEndpointConsumerSeekOut>> {
    check_consumer_id(&consumer_id)?;
    let d = load(&state, principal, &app_id, &sink_id).await?;
    let after = hookwire_core::time_fmt::parse(&input.after).map_err(|e| ApiError::invalid(&["body", "after"], e))?;
    let iterator = state.store.log_position_after(d.app_id, after).await?;
    state.store.save_consumer_position(d.id, &consumer_id, &iterator, state.clock.now()).await?;
    Ok(Json(PollingEndpointConsumerSeekOut { iterator }))
}

/// A FIFO destination of the application, or a 409 saying what it is instead.
async fn load_fifo(state: &AppState, principal: Principal, app_key: &str, key: &str) -> ApiResult<Destination> {
    let d = load(state, principal, app_key, key).await?;
    if d.kind != DestinationKind::FifoEndpoint {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_a_fifo_endpoint",
            format!("the destination is a {}: it has no position to move and nothing to retry", d.kind.as_str()),
        ));
    }
    Ok(d)
}

/// Saves progress set from the API; it wins over a batch in flight (whose sender stops at its
/// next save).
async fn set_progress(
    state: &AppState,
    d: &Destination,
    progress: &hookwire_core::destination::Progress,
) -> ApiResult<()> {
    if !state.store.set_progress(d.id, progress).await? {
        return Err(ApiError::not_found("destination"));
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationSkipIn {
    /// Continue after this iterator (a position this log made, e.g. a `currentIterator`); absent:
    /// after everything in the log now (the backlog is dropped).
    #[serde(default)]
    pub iterator: Option<String>,
}

/// Move a FIFO destination's position past an iterator: what comes before it is never sent.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/destination/{destination_id}/skip", tag = "Destination",
    request_body = DestinationSkipIn, params(("app_id" = String, Path), ("destination_id" = String, Path)),
    responses((status = 200, body = DestinationOut)))]
pub async fn skip(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
    input: super::extract::OptionalJsonBody<DestinationSkipIn>,
) -> ApiResult<Json<DestinationOut>> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    let position = match input.0.iterator {
        Some(iterator) => {
            // The iterator must be one this log made.
            state.store.read_log(d.app_id, &iterator, 1).await.map_err(|e| match e {
                StoreError::Invalid(why) => ApiError::invalid(&["body", "iterator"], why),
                other => other.into(),
            })?;
            iterator
        }
        None => state.store.log_end(d.app_id).await?,
    };
    let last_acked = d.progress.as_ref().and_then(|p| p.last_acked);
    let progress = hookwire_core::destination::Progress { position, last_acked, ..Default::default() };
    set_progress(&state, &d, &progress).await?;
    state.intake.announce_log();
    Ok(Json(destination_out(&state, Destination { progress: Some(progress), ..d }).await?))
}

/// Send a FIFO destination's failing batch again now, instead of at its next retry.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/destination/{destination_id}/force-retry", tag = "Destination",
    params(("app_id" = String, Path), ("destination_id" = String, Path)), responses((status = 200, body = DestinationOut)))]
pub async fn force_retry(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
) -> ApiResult<Json<DestinationOut>> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    // Only the retry's time changes: progress a sender saved since this read is kept.
    if !state.store.retry_now(d.id).await? {
        return Err(ApiError::not_found("destination"));
    }
    state.intake.announce_log();
    let d = load(&state, principal, &app_id, &destination_id).await?;
    Ok(Json(destination_out(&state, d).await?))
}

/// The oldest message a FIFO destination has not had acknowledged (the head of its next batch).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/destination/{destination_id}/next-event", tag = "Destination",
    params(("app_id" = String, Path), ("destination_id" = String, Path)), responses((status = 200, body = MessageOut)))]
async fn next_event(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
) -> ApiResult<Json<MessageOut>> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    let mut position = d.progress.clone().unwrap_or_default().position;
    let request = PollRequest { limit: 1, event_type: None, channel: None, wait: Duration::ZERO };
    let (found, _) = scan(&state, &d, &mut position, &request).await?;
    let message = found.into_iter().next().ok_or_else(|| ApiError::not_found("unacknowledged event"))?;
    Ok(Json(MessageOut::from_message(message, true)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DestinationSecretOut {
    /// The `whsec_…` key batches are signed with.
    pub key: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationSecretRotateIn {
    /// The new key; generated when absent.
    #[serde(default)]
    pub key: Option<String>,
}

/// Get the key a FIFO destination's batches are signed with.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/destination/{destination_id}/secret", tag = "Destination",
    params(("app_id" = String, Path), ("destination_id" = String, Path)), responses((status = 200, body = DestinationSecretOut)))]
async fn get_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
) -> ApiResult<Json<DestinationSecretOut>> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    Ok(Json(DestinationSecretOut { key: d.config.map(|c| c.secret).unwrap_or_default() }))
}

/// Replace the key a FIFO destination's batches are signed with (the next batch uses it).
#[utoipa::path(post, path = "/api/v1/app/{app_id}/destination/{destination_id}/secret/rotate", tag = "Destination",
    request_body = DestinationSecretRotateIn, params(("app_id" = String, Path), ("destination_id" = String, Path)),
    responses((status = 200, body = DestinationSecretOut)))]
async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
    input: super::extract::OptionalJsonBody<DestinationSecretRotateIn>,
) -> ApiResult<Json<DestinationSecretOut>> {
    let mut d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    let key = signing_key(input.0.key, &["body", "key"])?;
    if let Some(config) = &mut d.config {
        config.secret = key.clone();
    }
    d.touch(state.clock.now());
    state.store.update_destination(d).await?;
    Ok(Json(DestinationSecretOut { key }))
}

/// A destination's transformation (Svix's `DestinationTransformationOut`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationTransformationOut {
    pub code: Option<String>,
    pub enabled: bool,
    pub updated_at: Option<String>,
}

/// Svix's `DestinationTransformIn`, and `enabled`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationTransformIn {
    /// `function handler(input)`: `input` is `{url, variables, events: [{eventType, payload}]}`,
    /// and it returns the body to send; `null` removes it.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub code: Option<Option<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Get a FIFO destination's transformation.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/destination/{destination_id}/transformation", tag = "Destination",
    params(("app_id" = String, Path), ("destination_id" = String, Path)),
    responses((status = 200, body = DestinationTransformationOut)))]
async fn get_transformation(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
) -> ApiResult<Json<DestinationTransformationOut>> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    Ok(Json(match d.transformation {
        Some(t) => DestinationTransformationOut {
            code: Some(t.code),
            enabled: t.enabled,
            updated_at: Some(hookwire_core::time_fmt::format_millis(t.updated_at)),
        },
        None => DestinationTransformationOut { code: None, enabled: false, updated_at: None },
    }))
}

/// Set, enable, disable or remove a FIFO destination's transformation; code that does not
/// compile or has no `handler` is a 422 naming the line.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/destination/{destination_id}/transformation", tag = "Destination",
    request_body = DestinationTransformIn, params(("app_id" = String, Path), ("destination_id" = String, Path)),
    responses((status = 204)))]
pub async fn patch_transformation(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<DestinationTransformIn>,
) -> ApiResult<StatusCode> {
    let mut d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    let now = state.clock.now();
    let current = d.transformation.take();
    let code = match input.code {
        Some(Some(code)) => {
            super::endpoints::check_transformation_code(&state, &code).await?;
            Some(code)
        }
        Some(None) => None,
        None => current.as_ref().map(|t| t.code.clone()),
    };
    d.transformation = match code {
        Some(code) => Some(hookwire_core::model::Transformation {
            code,
            enabled: input.enabled.or(current.as_ref().map(|t| t.enabled)).unwrap_or(true),
            variables: current.as_ref().map(|t| t.variables.clone()).unwrap_or_default(),
            updated_at: restamp(current.as_ref().map(|t| t.updated_at), now),
            sensitive_variables: current.map(|t| t.sensitive_variables).unwrap_or_default(),
        }),
        None if input.enabled == Some(true) => {
            return Err(ApiError::invalid(&["body", "enabled"], "there is no code to enable: set code too"));
        }
        None => None,
    };
    d.touch(now);
    state.store.update_destination(d).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationTransformationEventIn {
    pub event_type: String,
    /// The event type's example when absent.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationTransformationSimulateIn {
    /// The code to run; the destination's own when absent.
    #[serde(default)]
    pub code: Option<String>,
    /// The batch to run it on; the destination's next batch (from its position) when absent.
    #[serde(default)]
    pub events: Option<Vec<DestinationTransformationEventIn>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationTransformationSimulateOut {
    /// The body the handler returned (parsed when it is JSON, else the text); null on error.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
    /// Events in the batch the code ran on.
    pub events: usize,
    pub error: Option<String>,
    pub console: Vec<String>,
}

/// Run code (the given code, or the destination's) on a batch, as a send would, and say what
/// body would go; nothing is sent or saved.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/destination/{destination_id}/transformation/simulate",
    tag = "Destination", request_body = DestinationTransformationSimulateIn,
    params(("app_id" = String, Path), ("destination_id" = String, Path)),
    responses((status = 200, body = DestinationTransformationSimulateOut)))]
async fn simulate_transformation(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
    input: super::extract::OptionalJsonBody<DestinationTransformationSimulateIn>,
) -> ApiResult<Json<DestinationTransformationSimulateOut>> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    Ok(Json(simulate_destination_transformation(&state, &d, input.0).await?))
}

/// Runs `input` against a FIFO destination's transformation as a send would, sending nothing
/// (the API and the dashboard's test pane).
pub async fn simulate_destination_transformation(
    state: &AppState,
    d: &Destination,
    input: DestinationTransformationSimulateIn,
) -> ApiResult<DestinationTransformationSimulateOut> {
    let saved = d.transformation.as_ref();
    let code = match (input.code, saved) {
        (Some(code), _) => code,
        (None, Some(t)) => t.code.clone(),
        (None, None) => {
            return Err(ApiError::invalid(&["body", "code"], "the destination has no transformation: give the code"));
        }
    };
    if code.len() > hookwire_transform::TRANSFORMATION_CODE_BYTES_MAX {
        return Err(ApiError::invalid(
            &["body", "code"],
            format!("at most {} bytes", hookwire_transform::TRANSFORMATION_CODE_BYTES_MAX),
        ));
    }
    let events: Vec<serde_json::Value> = match input.events {
        Some(events) => {
            if events.is_empty() || events.len() > POLL_LIMIT_MAX {
                return Err(ApiError::invalid(&["body", "events"], format!("between 1 and {POLL_LIMIT_MAX} events")));
            }
            let mut built = Vec::with_capacity(events.len());
            for (n, event) in events.into_iter().enumerate() {
                validate::event_type_name(&format!("events[{n}].eventType"), &event.event_type, false)?;
                let payload = match event.payload {
                    Some(payload) => payload,
                    None => super::endpoints::example_payload(state, &event.event_type, 0).await?,
                };
                built.push(serde_json::json!({"eventType": event.event_type, "payload": payload}));
            }
            built
        }
        None => {
            // The batch the sender would send next: a failing one up to its saved end.
            let found = crate::ops::fifo::pending_batch(state.store.as_ref(), d).await?;
            if found.is_empty() {
                return Err(ApiError::invalid(&["body", "events"], "nothing is waiting to be sent: give events"));
            }
            found
                .iter()
                .map(|m| serde_json::json!({"eventType": m.event_type, "payload": simulated_payload(m)}))
                .collect()
        }
    };
    let events_text = serde_json::to_string(&events).expect("values serialise");
    let empty = std::collections::BTreeMap::new();
    let url = d.config.as_ref().map_or("", |c| c.url.as_str());
    let batch = hookwire_transform::Batch {
        url,
        events: &events_text,
        variables: saved.map_or(&empty, |t| &t.variables),
        time_ms: state.clock.now(),
    };
    let simulation = state.sender.transforms().simulate_batch(&code, batch).await;
    let mut out = DestinationTransformationSimulateOut {
        payload: None,
        events: events.len(),
        error: None,
        console: simulation.console,
    };
    match simulation.outcome {
        Ok(hookwire_transform::Outcome::Send(shaped)) => {
            out.payload = Some(match shaped.text() {
                Some(text) => serde_json::Value::String(text),
                None => serde_json::from_str(&shaped.payload).unwrap_or(serde_json::Value::String(shaped.payload)),
            });
        }
        Ok(hookwire_transform::Outcome::Cancel) => out.error = Some("cancel: a batch cannot be cancelled".into()),
        Err(failure) => out.error = Some(failure.to_string()),
    }
    Ok(out)
}

/// A stored message's payload as a transformation sees it (a raw one as text).
fn simulated_payload(m: &Message) -> serde_json::Value {
    match (&m.content_type, &m.payload) {
        (None, Some(payload)) => serde_json::from_str(payload).unwrap_or(serde_json::Value::Null),
        (Some(_), Some(text)) => serde_json::Value::String(text.clone()),
        (_, None) => serde_json::json!({"expired": true}),
    }
}

/// The last message a FIFO destination's receiver acknowledged (the end of the last batch it
/// answered with a 2xx).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/destination/{destination_id}/last-acked-event", tag = "Destination",
    params(("app_id" = String, Path), ("destination_id" = String, Path)), responses((status = 200, body = MessageOut)))]
async fn last_acked_event(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
) -> ApiResult<Json<MessageOut>> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    let id = d.progress.and_then(|p| p.last_acked).ok_or_else(|| ApiError::not_found("acknowledged event"))?;
    let message =
        state.store.get_message(d.app_id, id).await?.ok_or_else(|| ApiError::not_found("acknowledged event"))?;
    Ok(Json(MessageOut::from_message(message, true)))
}

/// One try of a FIFO destination's batch.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationAttemptOut {
    pub id: String,
    /// The batch's `webhook-id` (the same on each try of the batch).
    pub batch_id: String,
    /// Events in the batch.
    pub messages: u32,
    /// `succeeded` or `failed`.
    pub status: &'static str,
    pub response_status_code: u16,
    pub response: String,
    /// Why it failed (`status`, `timeout`, `connection`, `transformation`, …); null on success.
    pub error_kind: Option<&'static str>,
    pub duration_ms: u64,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: Millis,
}

impl From<DestinationAttempt> for DestinationAttemptOut {
    fn from(a: DestinationAttempt) -> Self {
        Self {
            id: a.id.to_string(),
            batch_id: a.batch_id,
            messages: a.messages,
            status: if a.error.is_none() { "succeeded" } else { "failed" },
            response_status_code: a.status_code,
            response: a.response,
            error_kind: a.error.map(|e| e.as_str()),
            duration_ms: a.duration_ms,
            timestamp: a.created_at,
        }
    }
}

/// A FIFO destination's batch attempts, newest first (the newest 1,000 are kept).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/destination/{destination_id}/attempt", tag = "Destination",
    params(("app_id" = String, Path), ("destination_id" = String, Path), ("limit" = Option<usize>, Query),
        ("iterator" = Option<String>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<DestinationAttemptOut>)))]
async fn list_attempts(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<DestinationAttemptOut>>> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    let page = page_from(&query, true, id_iterator::<AttemptId>)?;
    let attempts = state.store.list_destination_attempts(d.id, &page).await?;
    Ok(Json(list_response(&page, attempts, |a| a.id.to_string(), DestinationAttemptOut::from)))
}

/// One batch attempt of a FIFO destination.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/destination/{destination_id}/attempt/{attempt_id}",
    tag = "Destination", params(("app_id" = String, Path), ("destination_id" = String, Path), ("attempt_id" = String, Path)),
    responses((status = 200, body = DestinationAttemptOut)))]
async fn get_attempt(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id, attempt_id)): Path<(String, String, String)>,
) -> ApiResult<Json<DestinationAttemptOut>> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    let id: AttemptId = attempt_id.parse().map_err(|_| ApiError::not_found("attempt"))?;
    let attempt = state.store.get_destination_attempt(d.id, id).await?.ok_or_else(|| ApiError::not_found("attempt"))?;
    Ok(Json(attempt.into()))
}

/// Get a FIFO destination's custom headers; sensitive values are not returned.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/destination/{destination_id}/headers", tag = "Destination",
    params(("app_id" = String, Path), ("destination_id" = String, Path)), responses((status = 200, body = EndpointHeadersOut)))]
async fn get_headers(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointHeadersOut>> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    let headers = d.config.map(|c| c.headers).unwrap_or_default();
    let sensitive = super::endpoints::sensitive_header_names(&headers);
    let (headers, sensitive) = super::endpoints::shown_headers(&headers, sensitive);
    Ok(Json(EndpointHeadersOut { headers, sensitive }))
}

/// Replace a FIFO destination's custom headers.
#[utoipa::path(put, path = "/api/v1/app/{app_id}/destination/{destination_id}/headers", tag = "Destination",
    request_body = EndpointHeadersIn, params(("app_id" = String, Path), ("destination_id" = String, Path)),
    responses((status = 204)))]
async fn update_headers(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<EndpointHeadersIn>,
) -> ApiResult<StatusCode> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    save_headers(&state, d, |_| input.headers).await
}

/// Add, change or delete some of a FIFO destination's custom headers.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/destination/{destination_id}/headers", tag = "Destination",
    request_body = EndpointHeadersPatchIn, params(("app_id" = String, Path), ("destination_id" = String, Path)),
    responses((status = 204)))]
async fn patch_headers(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, destination_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<EndpointHeadersPatchIn>,
) -> ApiResult<StatusCode> {
    let d = load_fifo(&state, principal, &app_id, &destination_id).await?;
    save_headers(&state, d, |mut headers| {
        for name in &input.delete_headers {
            headers.remove(name);
        }
        headers.extend(input.headers);
        headers
    })
    .await
}

async fn save_headers(
    state: &AppState,
    mut d: Destination,
    change: impl FnOnce(std::collections::BTreeMap<String, String>) -> std::collections::BTreeMap<String, String>,
) -> ApiResult<StatusCode> {
    let Some(config) = d.config.as_mut() else {
        return Err(ApiError::invalid(&["body", "headers"], "the destination has no receiver configured"));
    };
    let headers = change(std::mem::take(&mut config.headers));
    super::endpoints::check_headers(&headers)?;
    config.headers = headers;
    d.touch(state.clock.now());
    state.store.update_destination(d).await?;
    Ok(StatusCode::NO_CONTENT)
}
