//! Applications: one per end customer. `uid` works wherever an id does.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hookwire_core::AppId;
use hookwire_core::model::{Application, Metadata};
use hookwire_core::time_fmt::Millis;
use hookwire_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult};
use super::extract::{Admin, JsonBody, QueryPairs};
use super::page::{ListResponse, id_iterator, list_response, page_from};
use super::validate;
use crate::auth::Principal;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_apps, create_app))
        .routes(routes!(get_app, update_app, patch_app, delete_app))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationIn {
    pub name: String,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default, alias = "rateLimit")]
    pub throttle_rate: Option<u32>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub uid: Option<Option<String>>,
    #[serde(default, alias = "rateLimit", deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<u32>)]
    pub throttle_rate: Option<Option<u32>>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationOut {
    pub id: String,
    pub uid: Option<String>,
    pub name: String,
    pub throttle_rate: Option<u32>,
    pub metadata: Metadata,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Millis,
}

impl From<Application> for ApplicationOut {
    fn from(app: Application) -> Self {
        Self {
            id: app.id.to_string(),
            uid: app.uid,
            name: app.name,
            throttle_rate: app.throttle_rate,
            metadata: app.metadata,
            created_at: app.created_at,
            updated_at: app.updated_at,
        }
    }
}

fn check(input: &ApplicationIn) -> ApiResult<()> {
    validate::name("name", &input.name)?;
    if let Some(uid) = &input.uid {
        validate::uid(uid, AppId::PREFIX)?;
    }
    if let Some(metadata) = &input.metadata {
        validate::metadata(metadata)?;
    }
    check_rate(input.throttle_rate)
}

/// As for an endpoint: 0 would read as "no limit" where the caller wrote a limit. (Checked on
/// what a request writes: an application stored with 0 before this check still reads as none.)
fn check_rate(rate: Option<u32>) -> ApiResult<()> {
    if rate == Some(0) {
        return Err(ApiError::invalid(&["body", "throttleRate"], "must be at least 1 delivery per second"));
    }
    Ok(())
}

/// Loads an application by id or uid, as the caller is allowed to see it.
pub async fn load_app(state: &AppState, principal: Principal, key: &str) -> ApiResult<Application> {
    let app = state.store.get_app(key).await?.ok_or_else(|| ApiError::not_found("application"))?;
    principal.require_app(app.id)?;
    Ok(app)
}

/// Creates an application, or returns the one with the same uid when `get_if_exists`.
pub async fn create_or_get(
    state: &AppState,
    input: ApplicationIn,
    get_if_exists: bool,
) -> ApiResult<(StatusCode, Application)> {
    check(&input)?;
    if get_if_exists
        && let Some(uid) = &input.uid
        && let Some(existing) = state.store.get_app(uid).await?
    {
        return Ok((StatusCode::OK, existing));
    }
    let now = state.clock.now();
    let app = Application {
        id: AppId::generate(),
        uid: input.uid,
        name: input.name,
        throttle_rate: input.throttle_rate,
        metadata: input.metadata.unwrap_or_default(),
        created_at: now,
        updated_at: now,
    };
    match state.store.create_app(app.clone()).await {
        Err(StoreError::Conflict { .. }) if get_if_exists => {
            let uid = app.uid.as_deref().unwrap_or_default();
            let existing =
                state.store.get_app(uid).await?.ok_or_else(|| ApiError::conflict("application uid already exists"))?;
            Ok((StatusCode::OK, existing))
        }
        Err(StoreError::Conflict { .. }) => Err(ApiError::conflict("an application with this uid already exists")),
        Err(other) => Err(other.into()),
        Ok(()) => Ok((StatusCode::CREATED, app)),
    }
}

/// List applications (admin only).
#[utoipa::path(get, path = "/api/v1/app", tag = "Application",
    params(("limit" = Option<usize>, Query), ("iterator" = Option<String>, Query), ("order" = Option<String>, Query),
        ("exclude_apps_with_no_endpoints" = Option<bool>, Query), ("exclude_apps_with_disabled_endpoints" = Option<bool>, Query),
        ("exclude_apps_with_svix_play_endpoints" = Option<bool>, Query)),
    responses((status = 200, body = ListResponse<ApplicationOut>)))]
async fn list_apps(
    State(state): State<AppState>,
    _admin: Admin,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<ApplicationOut>>> {
    let page = page_from(&query, false, id_iterator::<AppId>)?;
    let filter = hookwire_store::AppFilter {
        page: page.clone(),
        exclude_without_endpoints: query.bool("exclude_apps_with_no_endpoints")?.unwrap_or(false),
        exclude_with_disabled_endpoints: query.bool("exclude_apps_with_disabled_endpoints")?.unwrap_or(false),
        exclude_with_play_endpoints: query.bool("exclude_apps_with_svix_play_endpoints")?.unwrap_or(false),
    };
    let apps = state.store.list_apps(&filter).await?;
    Ok(Json(list_response(&page, apps, |a| a.id.to_string(), ApplicationOut::from)))
}

/// Create an application; with `get_if_exists=true`, return the existing one with the same uid.
#[utoipa::path(post, path = "/api/v1/app", tag = "Application", request_body = ApplicationIn,
    params(("get_if_exists" = Option<bool>, Query)),
    responses((status = 201, body = ApplicationOut), (status = 200, body = ApplicationOut)))]
async fn create_app(
    State(state): State<AppState>,
    _admin: Admin,
    query: QueryPairs,
    JsonBody(input): JsonBody<ApplicationIn>,
) -> ApiResult<(StatusCode, Json<ApplicationOut>)> {
    let get_if_exists = query.bool("get_if_exists")?.unwrap_or(false);
    let (status, app) = create_or_get(&state, input, get_if_exists).await?;
    Ok((status, Json(app.into())))
}

/// Get an application by id or uid.
#[utoipa::path(get, path = "/api/v1/app/{app_id}", tag = "Application",
    params(("app_id" = String, Path)), responses((status = 200, body = ApplicationOut)))]
async fn get_app(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
) -> ApiResult<Json<ApplicationOut>> {
    Ok(Json(load_app(&state, principal, &app_id).await?.into()))
}

/// Update an application; a uid that does not exist yet creates it.
#[utoipa::path(put, path = "/api/v1/app/{app_id}", tag = "Application", request_body = ApplicationIn,
    params(("app_id" = String, Path)), responses((status = 200, body = ApplicationOut), (status = 201, body = ApplicationOut)))]
async fn update_app(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
    JsonBody(input): JsonBody<ApplicationIn>,
) -> ApiResult<(StatusCode, Json<ApplicationOut>)> {
    check(&input)?;
    let Some(mut app) = state.store.get_app(&app_id).await? else {
        principal.require_admin()?;
        if AppId::looks_like(&app_id) {
            return Err(ApiError::not_found("application"));
        }
        let input = ApplicationIn { uid: Some(app_id), ..input };
        let (status, app) = create_or_get(&state, input, false).await?;
        return Ok((status, Json(app.into())));
    };
    principal.require_app(app.id)?;
    app.name = input.name;
    app.uid = input.uid;
    app.throttle_rate = input.throttle_rate;
    app.metadata = input.metadata.unwrap_or_default();
    app.updated_at = state.clock.now();
    state.store.update_app(app.clone()).await?;
    Ok((StatusCode::OK, Json(app.into())))
}

/// Change some fields of an application.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}", tag = "Application", request_body = ApplicationPatch,
    params(("app_id" = String, Path)), responses((status = 200, body = ApplicationOut)))]
pub async fn patch_app(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
    JsonBody(patch): JsonBody<ApplicationPatch>,
) -> ApiResult<Json<ApplicationOut>> {
    let mut app = load_app(&state, principal, &app_id).await?;
    if let Some(name) = patch.name {
        app.name = name;
    }
    if let Some(uid) = patch.uid {
        app.uid = uid;
    }
    if let Some(rate) = patch.throttle_rate {
        check_rate(rate)?;
        app.throttle_rate = rate;
    }
    if let Some(metadata) = patch.metadata {
        app.metadata = metadata;
    }
    check(&ApplicationIn {
        name: app.name.clone(),
        uid: app.uid.clone(),
        throttle_rate: None, // checked above when the patch sets it
        metadata: Some(app.metadata.clone()),
    })?;
    app.updated_at = state.clock.now();
    state.store.update_app(app.clone()).await?;
    Ok(Json(app.into()))
}

/// Delete an application with its endpoints, messages and attempts.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}", tag = "Application",
    params(("app_id" = String, Path)), responses((status = 204)))]
pub async fn delete_app(
    State(state): State<AppState>,
    _admin: Admin,
    Path(app_id): Path<String>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, Principal::Admin, &app_id).await?;
    state.store.delete_app(app.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
