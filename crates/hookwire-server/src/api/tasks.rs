//! Background tasks, by Svix's routes: an endpoint's `recover`, `replay-missing` and
//! `bulk-replay` start one (202, `qtask_…`), `GET /api/v1/background-task[/{id}]` follow it. Each
//! takes `?dryRun=true` (Hookwire): the task counts what it would send and sends nothing. The
//! work itself is `ops/tasks.rs`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hookwire_core::TaskId;
use hookwire_core::limits::CHANNELS_PER_MESSAGE_MAX;
use hookwire_core::model::{Endpoint, Status};
use hookwire_core::task::{Task, TaskKind, TaskParams, TaskStatus};
use hookwire_core::time_fmt::Millis;
use hookwire_store::TaskFilter;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::endpoints::load_endpoint;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryPairs};
use super::page::{ListResponse, id_iterator, list_response, page_from};
use crate::auth::Principal;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(recover))
        .routes(routes!(replay_missing))
        .routes(routes!(bulk_replay))
        .routes(routes!(list_tasks))
        .routes(routes!(get_task))
}

/// `recover` and `replay-missing`: a window of message creation times.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverIn {
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub since: Millis,
    /// Exclusive; default: when the task starts (later messages are live traffic anyway).
    #[serde(default, with = "hookwire_core::time_fmt::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Millis>,
}

/// `bulk-replay`: a window, and which of the messages sent to the endpoint to send again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkReplayIn {
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub since: Millis,
    #[serde(default, with = "hookwire_core::time_fmt::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Millis>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    /// Only messages whose delivery to the endpoint is in this status (0 success, 1 pending,
    /// 2 fail, 3 sending).
    #[serde(default)]
    pub status: Option<i64>,
    /// Only messages with an attempt to the endpoint answered in this class (0: no answer,
    /// 100, 200, 300, 400, 500).
    #[serde(default)]
    pub status_code_class: Option<u16>,
}

/// A started task (Svix's `RecoverOut`, `ReplayOut`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskStartedOut {
    pub id: String,
    pub status: &'static str,
    pub task: &'static str,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Millis,
}

impl From<&Task> for TaskStartedOut {
    fn from(task: &Task) -> Self {
        Self {
            id: task.id.to_string(),
            status: task.status.name(),
            task: task.kind.name(),
            updated_at: task.updated_at,
        }
    }
}

/// A task and how far it has come (Svix's `BackgroundTaskOut`). `data` holds `messagesSent`
/// (Svix), and, from Hookwire, `messagesMatched` (what a dry run would send), `messagesScanned`,
/// `messagesExpired` (matched, but retention had purged the payload), `error` (why it
/// failed), `appId`, `endpointId` and `dryRun`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackgroundTaskOut {
    pub id: String,
    pub status: &'static str,
    pub task: &'static str,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Millis,
}

impl From<Task> for BackgroundTaskOut {
    fn from(task: Task) -> Self {
        let mut data = serde_json::to_value(&task.progress).expect("progress serializes");
        if let Some(data) = data.as_object_mut() {
            data.insert("appId".into(), task.app_id.to_string().into());
            data.insert("endpointId".into(), task.params.endpoint_id.to_string().into());
            data.insert("dryRun".into(), task.params.dry_run.into());
        }
        Self {
            id: task.id.to_string(),
            status: task.status.name(),
            task: task.kind.name(),
            data,
            updated_at: task.updated_at,
        }
    }
}

/// What every task over `endpoint`'s window starts from, checked: a window that ends after it
/// starts (`until` defaults to now), and an enabled endpoint (a disabled one's deliveries are
/// canceled).
pub fn task_params(
    state: &AppState,
    endpoint: &Endpoint,
    since: Millis,
    until: Option<Millis>,
    dry_run: bool,
) -> ApiResult<TaskParams> {
    let until = until.unwrap_or_else(|| state.clock.now());
    if since >= until {
        return Err(ApiError::invalid(&["body", "since"], "must be before until"));
    }
    if endpoint.disabled {
        return Err(ApiError::conflict(format!(
            "endpoint {} is disabled: enable it first (its deliveries would be canceled)",
            endpoint.id
        )));
    }
    Ok(TaskParams {
        endpoint_id: endpoint.id,
        since,
        until,
        event_types: Vec::new(),
        channel: None,
        tag: None,
        status: None,
        status_code_class: None,
        dry_run,
    })
}

/// Starts `kind` for an endpoint over the body's window, `?dryRun` read from `query`.
async fn start(
    state: &AppState,
    principal: Principal,
    (app_key, endpoint_key): (&str, &str),
    kind: TaskKind,
    query: &QueryPairs,
    (since, until): (Millis, Option<Millis>),
    fill: impl FnOnce(&mut TaskParams),
) -> ApiResult<(StatusCode, Json<TaskStartedOut>)> {
    let (app, endpoint) = load_endpoint(state, principal, app_key, endpoint_key).await?;
    let mut params = task_params(state, &endpoint, since, until, query.bool("dryRun")?.unwrap_or(false))?;
    fill(&mut params);
    let task = state.tasks.start(app.id, kind, params).await?;
    Ok((StatusCode::ACCEPTED, Json(TaskStartedOut::from(&task))))
}

/// Send again every message whose delivery to this endpoint failed, created since `since` (and
/// before `until`): a background task. Deliveries that later succeeded are not sent again.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover", tag = "Endpoint",
    request_body = RecoverIn,
    params(("app_id" = String, Path), ("endpoint_id" = String, Path), ("dryRun" = Option<bool>, Query)),
    responses((status = 202, body = TaskStartedOut)))]
async fn recover(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    query: QueryPairs,
    JsonBody(input): JsonBody<RecoverIn>,
) -> ApiResult<(StatusCode, Json<TaskStartedOut>)> {
    let keys = (app_id.as_str(), endpoint_id.as_str());
    start(&state, principal, keys, TaskKind::EndpointRecover, &query, (input.since, input.until), |_| {}).await
}

/// Send this endpoint every message of the window it subscribes to now (event types, channels,
/// filter) and never received: those sent while it was disabled, before it existed, or before
/// it subscribed. A background task.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing", tag = "Endpoint",
    request_body = RecoverIn,
    params(("app_id" = String, Path), ("endpoint_id" = String, Path), ("dryRun" = Option<bool>, Query)),
    responses((status = 202, body = TaskStartedOut)))]
async fn replay_missing(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    query: QueryPairs,
    JsonBody(input): JsonBody<RecoverIn>,
) -> ApiResult<(StatusCode, Json<TaskStartedOut>)> {
    let keys = (app_id.as_str(), endpoint_id.as_str());
    start(&state, principal, keys, TaskKind::EndpointReplay, &query, (input.since, input.until), |_| {}).await
}

/// Send again the messages of the window that were sent to this endpoint, delivered or not,
/// narrowed by event types, channel, tag, delivery status and the class of the endpoint's
/// answers. A background task.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay", tag = "Endpoint",
    request_body = BulkReplayIn,
    params(("app_id" = String, Path), ("endpoint_id" = String, Path), ("dryRun" = Option<bool>, Query)),
    responses((status = 202, body = TaskStartedOut)))]
async fn bulk_replay(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    query: QueryPairs,
    JsonBody(input): JsonBody<BulkReplayIn>,
) -> ApiResult<(StatusCode, Json<TaskStartedOut>)> {
    let event_types = input.event_types.unwrap_or_default();
    for name in &event_types {
        super::validate::event_type_name("eventTypes", name, false)?;
    }
    if let Some(channel) = &input.channel {
        super::validate::channels("channel", std::slice::from_ref(channel), CHANNELS_PER_MESSAGE_MAX)?;
    }
    if let Some(tag) = &input.tag {
        super::validate::tags("tag", std::slice::from_ref(tag))?;
    }
    if let Some(status) = input.status
        && !matches!(
            Status::from_code(status),
            Some(Status::Success | Status::Pending | Status::Fail | Status::Sending)
        )
    {
        return Err(ApiError::invalid(
            &["body", "status"],
            "must be 0 (success), 1 (pending), 2 (fail) or 3 (sending)",
        ));
    }
    if let Some(class) = input.status_code_class
        && !matches!(class, 0 | 100 | 200 | 300 | 400 | 500)
    {
        return Err(ApiError::invalid(&["body", "statusCodeClass"], "must be 0, 100, 200, 300, 400 or 500"));
    }
    let fill = |params: &mut TaskParams| {
        params.event_types = event_types;
        params.channel = input.channel;
        params.tag = input.tag;
        params.status = input.status;
        params.status_code_class = input.status_code_class;
    };
    let keys = (app_id.as_str(), endpoint_id.as_str());
    start(&state, principal, keys, TaskKind::EndpointBulkReplay, &query, (input.since, input.until), fill).await
}

/// List background tasks, newest first (an application token sees its application's only).
#[utoipa::path(get, path = "/api/v1/background-task", tag = "Background Tasks",
    params(("status" = Option<String>, Query), ("task" = Option<String>, Query), ("limit" = Option<usize>, Query),
        ("iterator" = Option<String>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<BackgroundTaskOut>)))]
async fn list_tasks(
    State(state): State<AppState>,
    principal: Principal,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<BackgroundTaskOut>>> {
    let page = page_from(&query, true, id_iterator::<TaskId>)?;
    let status = match query.get("status") {
        None => None,
        Some(name) => Some(TaskStatus::parse(name).ok_or_else(|| {
            ApiError::invalid(&["query", "status"], format!("{name:?} is not running, finished or failed"))
        })?),
    };
    let kind = match query.get("task") {
        None => None,
        Some(name) => Some(TaskKind::parse(name).ok_or_else(|| {
            let known: Vec<&str> = TaskKind::ALL.iter().map(|k| k.name()).collect();
            ApiError::invalid(&["query", "task"], format!("{name:?} is not one of {}", known.join(", ")))
        })?),
    };
    let app = match &principal {
        Principal::Admin => None,
        Principal::App(access) => Some(access.app),
    };
    let filter = TaskFilter { page: page.clone(), app, status, kind };
    let tasks = state.store.list_tasks(&filter).await?;
    Ok(Json(list_response(&page, tasks, |t| t.id.to_string(), BackgroundTaskOut::from)))
}

/// Get a background task.
#[utoipa::path(get, path = "/api/v1/background-task/{task_id}", tag = "Background Tasks",
    params(("task_id" = String, Path)), responses((status = 200, body = BackgroundTaskOut)))]
async fn get_task(
    State(state): State<AppState>,
    principal: Principal,
    Path(task_id): Path<String>,
) -> ApiResult<Json<BackgroundTaskOut>> {
    let id: TaskId = task_id.parse().map_err(|_| ApiError::not_found("background task"))?;
    let task = state.store.get_task(id).await?.ok_or_else(|| ApiError::not_found("background task"))?;
    if let Principal::App(access) = &principal
        && access.app != task.app_id
    {
        return Err(ApiError::not_found("background task"));
    }
    Ok(Json(task.into()))
}
