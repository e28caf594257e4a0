//! The event-type catalog. It documents what an application may receive; it does not gate
//! messages unless `strict_event_types` is set. Deleting archives.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use hookwire_core::model::EventType;
use hookwire_core::time_fmt::Millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Admin, JsonBody, QueryPairs};
use super::page::{ListResponse, list_response, name_iterator, page_from};
use super::validate;
use crate::auth::{FeatureFlags, Principal};
use crate::state::AppState;
use hookwire_core::limits::DESCRIPTION_LENGTH_MAX;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_event_types, create_event_type)).routes(routes!(
        get_event_type,
        update_event_type,
        patch_event_type,
        delete_event_type
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventTypeIn {
    /// Required to create; on `PUT` the path names the event type (a different name here is a 422).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub deprecated: Option<bool>,
    /// JSON Schemas by version (`{"1": {...}}`); `examples` in a schema feed send-example.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub schemas: Option<serde_json::Value>,
    #[serde(default)]
    pub group_name: Option<String>,
    #[serde(default)]
    pub feature_flags: Option<Vec<String>>,
    /// The older, single-flag form of `featureFlags`.
    #[serde(default)]
    pub feature_flag: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventTypePatch {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub deprecated: Option<bool>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<Object>)]
    pub schemas: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub group_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub feature_flags: Option<Option<Vec<String>>>,
    /// The older, single-flag form of `featureFlags`.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub feature_flag: Option<Option<String>>,
}

/// `featureFlags`, or the older `featureFlag` (one flag); both at once is a 422.
fn flags_of(flags: Option<Vec<String>>, flag: Option<String>) -> ApiResult<Option<Vec<String>>> {
    match (flags, flag) {
        (Some(_), Some(_)) => {
            Err(ApiError::invalid(&["body", "featureFlag"], "give featureFlags or featureFlag, not both"))
        }
        (flags, None) => Ok(flags),
        (None, Some(flag)) => Ok(Some(vec![flag])),
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeOut {
    pub name: String,
    pub description: String,
    pub archived: bool,
    pub deprecated: bool,
    #[schema(value_type = Option<Object>)]
    pub schemas: Option<serde_json::Value>,
    pub group_name: Option<String>,
    pub feature_flags: Option<Vec<String>>,
    /// The older, single-flag form: the first of `featureFlags`.
    pub feature_flag: Option<String>,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Millis,
}

impl EventTypeOut {
    fn from_model(event_type: EventType, with_content: bool) -> Self {
        Self {
            name: event_type.name,
            description: event_type.description,
            archived: event_type.archived,
            deprecated: event_type.deprecated,
            schemas: event_type.schemas.filter(|_| with_content),
            group_name: event_type.group_name,
            feature_flag: event_type.feature_flags.as_ref().and_then(|f| f.first().cloned()),
            feature_flags: event_type.feature_flags,
            created_at: event_type.created_at,
            updated_at: event_type.updated_at,
        }
    }
}

fn check(event_type: &EventType) -> ApiResult<()> {
    validate::event_type_name("name", &event_type.name, false)?;
    for flag in event_type.feature_flags.iter().flatten() {
        validate::event_type_name("featureFlags", flag, false)?;
    }
    validate::length("description", &event_type.description, 0, DESCRIPTION_LENGTH_MAX)?;
    if let Some(schemas) = &event_type.schemas
        && !schemas.is_object()
    {
        return Err(ApiError::invalid(&["body", "schemas"], "must be an object of JSON Schemas by version"));
    }
    if let Some(schemas) = &event_type.schemas {
        for (version, schema) in schemas.as_object().into_iter().flatten() {
            hookwire_core::schema::PayloadSchema::compile(schema).map_err(|e| {
                ApiError::invalid(&["body", "schemas", version], format!("not a valid JSON Schema: {e}"))
            })?;
        }
    }
    Ok(())
}

fn from_input(name: String, input: EventTypeIn, created_at: Millis, now: Millis) -> ApiResult<EventType> {
    Ok(EventType {
        name,
        description: input.description,
        archived: input.archived.unwrap_or(false),
        deprecated: input.deprecated.unwrap_or(false),
        schemas: input.schemas,
        group_name: input.group_name,
        feature_flags: flags_of(input.feature_flags, input.feature_flag)?,
        created_at,
        updated_at: now,
    })
}

async fn load(state: &AppState, name: &str) -> ApiResult<EventType> {
    state.store.get_event_type(name).await?.ok_or_else(|| ApiError::not_found("event type"))
}

/// List the event-type catalog.
#[utoipa::path(get, path = "/api/v1/event-type", tag = "Event Type",
    params(("limit" = Option<usize>, Query), ("iterator" = Option<String>, Query), ("order" = Option<String>, Query),
        ("include_archived" = Option<bool>, Query), ("with_content" = Option<bool>, Query)),
    responses((status = 200, body = ListResponse<EventTypeOut>)))]
async fn list_event_types(
    State(state): State<AppState>,
    _principal: Principal,
    flags: Option<Extension<FeatureFlags>>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<EventTypeOut>>> {
    let page = page_from(&query, false, name_iterator)?;
    let include_archived = query.bool("include_archived")?.unwrap_or(false);
    let with_content = query.bool("with_content")?.unwrap_or(true);
    let rows = state.store.list_event_types(&page, include_archived).await?;
    let mut list = list_response(&page, rows, |e| e.name.clone(), |e| e);
    // An application token sees only unflagged types and those flagged with its feature flags;
    // the page keeps its iterator, so paging goes on past what it hides.
    if let Some(Extension(flags)) = flags {
        list.data.retain(|e| flags.reveal(e.feature_flags.as_deref()));
    }
    Ok(Json(ListResponse {
        data: list.data.into_iter().map(|e| EventTypeOut::from_model(e, with_content)).collect(),
        iterator: list.iterator,
        prev_iterator: list.prev_iterator,
        done: list.done,
    }))
}

/// Add an event type to the catalog.
#[utoipa::path(post, path = "/api/v1/event-type", tag = "Event Type", request_body = EventTypeIn,
    responses((status = 201, body = EventTypeOut), (status = 409)))]
pub async fn create_event_type(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(input): JsonBody<EventTypeIn>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    let name = input.name.clone().ok_or_else(|| ApiError::invalid(&["body", "name"], "missing field `name`"))?;
    // Creating an archived event type brings it back with the new fields, as Svix does.
    let archived = state.store.get_event_type(&name).await?.filter(|current| current.archived);
    let created_at = archived.as_ref().map_or(state.clock.now(), |current| current.created_at);
    let event_type = from_input(name, input, created_at, state.clock.now())?;
    check(&event_type)?;
    match archived {
        Some(_) => state.store.update_event_type(event_type.clone()).await?,
        None => state.store.create_event_type(event_type.clone()).await?,
    }
    Ok((StatusCode::CREATED, Json(EventTypeOut::from_model(event_type, true))))
}

/// Get an event type.
#[utoipa::path(get, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type",
    params(("event_type_name" = String, Path)), responses((status = 200, body = EventTypeOut)))]
async fn get_event_type(
    State(state): State<AppState>,
    _principal: Principal,
    flags: Option<Extension<FeatureFlags>>,
    Path(name): Path<String>,
) -> ApiResult<Json<EventTypeOut>> {
    let event_type = load(&state, &name).await?;
    if flags.is_some_and(|Extension(flags)| !flags.reveal(event_type.feature_flags.as_deref())) {
        return Err(ApiError::not_found("event type"));
    }
    Ok(Json(EventTypeOut::from_model(event_type, true)))
}

/// Replace an event type (creating it if missing).
#[utoipa::path(put, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type", request_body = EventTypeIn,
    params(("event_type_name" = String, Path)), responses((status = 200, body = EventTypeOut), (status = 201, body = EventTypeOut)))]
async fn update_event_type(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
    JsonBody(input): JsonBody<EventTypeIn>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    if input.name.as_ref().is_some_and(|given| *given != name) {
        return Err(ApiError::invalid(&["body", "name"], "the path names the event type; leave name out or repeat it"));
    }
    let (status, event_type) = match state.store.get_event_type(&name).await? {
        Some(current) => {
            let event_type = from_input(name, input, current.created_at, state.clock.now())?;
            check(&event_type)?;
            state.store.update_event_type(event_type.clone()).await?;
            (StatusCode::OK, event_type)
        }
        None => {
            let event_type = from_input(name, input, state.clock.now(), state.clock.now())?;
            check(&event_type)?;
            state.store.create_event_type(event_type.clone()).await?;
            (StatusCode::CREATED, event_type)
        }
    };
    Ok((status, Json(EventTypeOut::from_model(event_type, true))))
}

/// Change some fields of an event type.
#[utoipa::path(patch, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type", request_body = EventTypePatch,
    params(("event_type_name" = String, Path)), responses((status = 200, body = EventTypeOut)))]
pub async fn patch_event_type(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
    JsonBody(patch): JsonBody<EventTypePatch>,
) -> ApiResult<Json<EventTypeOut>> {
    let mut event_type = load(&state, &name).await?;
    if let Some(v) = patch.description {
        event_type.description = v;
    }
    if let Some(v) = patch.archived {
        event_type.archived = v;
    }
    if let Some(v) = patch.deprecated {
        event_type.deprecated = v;
    }
    if let Some(v) = patch.schemas {
        event_type.schemas = v;
    }
    if let Some(v) = patch.group_name {
        event_type.group_name = v;
    }
    match (patch.feature_flags, patch.feature_flag) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(&["body", "featureFlag"], "give featureFlags or featureFlag, not both"));
        }
        (Some(v), None) => event_type.feature_flags = v,
        (None, Some(v)) => event_type.feature_flags = v.map(|flag| vec![flag]),
        (None, None) => {}
    }
    event_type.updated_at = state.clock.now();
    check(&event_type)?;
    state.store.update_event_type(event_type.clone()).await?;
    Ok(Json(EventTypeOut::from_model(event_type, true)))
}

/// Archive an event type: it stays readable, leaves the default listing, and messages of its
/// type are still accepted. With `expunge=true` it is deleted for good instead.
#[utoipa::path(delete, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type",
    params(("event_type_name" = String, Path), ("expunge" = Option<bool>, Query)), responses((status = 204)))]
async fn delete_event_type(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
    query: QueryPairs,
) -> ApiResult<StatusCode> {
    let mut event_type = load(&state, &name).await?;
    if query.bool("expunge")?.unwrap_or(false) {
        state.store.delete_event_type(&event_type.name).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    event_type.archived = true;
    event_type.updated_at = state.clock.now();
    state.store.update_event_type(event_type).await?;
    Ok(StatusCode::NO_CONTENT)
}
