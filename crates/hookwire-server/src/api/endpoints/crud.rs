//! Endpoints: create, list, get, replace, patch and delete, each checked by shape.rs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hookwire_core::EndpointId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shape::{
    EndpointIn, EndpointOut, EndpointPatch, check, check_event_types_known, endpoint_from, load_endpoint,
};
use crate::api::apps::load_app;
use crate::api::error::ApiResult;
use crate::api::extract::{JsonBody, QueryPairs};
use crate::api::page::{ListResponse, id_iterator, list_response, page_from};
use crate::auth::Principal;
use crate::state::AppState;
use hookwire_core::schemes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_endpoints, create_endpoint)).routes(routes!(
        get_endpoint,
        update_endpoint,
        patch_endpoint,
        delete_endpoint
    ))
}

/// List an application's endpoints.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint", tag = "Endpoint",
    params(("app_id" = String, Path), ("limit" = Option<usize>, Query), ("iterator" = Option<String>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListResponse<EndpointOut>)))]
async fn list_endpoints(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
    query: QueryPairs,
) -> ApiResult<Json<ListResponse<EndpointOut>>> {
    let app = load_app(&state, principal, &app_id).await?;
    let page = page_from(&query, true, id_iterator::<EndpointId>)?;
    let endpoints = state.store.list_endpoints(app.id, &page).await?;
    Ok(Json(list_response(&page, endpoints, |e| e.id.to_string(), EndpointOut::from)))
}

/// Create an endpoint.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint", tag = "Endpoint", request_body = EndpointIn,
    params(("app_id" = String, Path)), responses((status = 201, body = EndpointOut)))]
async fn create_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
    JsonBody(input): JsonBody<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let app = load_app(&state, principal, &app_id).await?;
    let endpoint = endpoint_from(&state, &app, input).await?;
    state.store.create_endpoint(endpoint.clone()).await?;
    Ok((StatusCode::CREATED, Json(endpoint.into())))
}

/// Get an endpoint by id or uid.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint",
    params(("app_id" = String, Path), ("endpoint_id" = String, Path)), responses((status = 200, body = EndpointOut)))]
async fn get_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointOut>> {
    let (_, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    Ok(Json(endpoint.into()))
}

/// Replace an endpoint's settings (its secret and headers are kept unless given); an endpoint
/// that does not exist is created from the body (201), as Svix's upsert does.
#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint", request_body = EndpointIn,
    params(("app_id" = String, Path), ("endpoint_id" = String, Path)),
    responses((status = 200, body = EndpointOut), (status = 201, body = EndpointOut)))]
async fn update_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let app = load_app(&state, principal, &app_id).await?;
    let Some(current) = state.store.get_endpoint(app.id, &endpoint_id).await? else {
        let endpoint = endpoint_from(&state, &app, input).await?;
        state.store.create_endpoint(endpoint.clone()).await?;
        return Ok((StatusCode::CREATED, Json(endpoint.into())));
    };
    let mut replacement = endpoint_from(&state, &app, input.clone()).await?;
    replacement.id = current.id;
    replacement.created_at = current.created_at;
    if input.secret.is_none() && schemes::secret_fits(replacement.scheme(), &current.secret) {
        replacement.secret = current.secret;
        replacement.previous_secrets = current.previous_secrets;
    }
    // Verification, once passed, holds while the URL stays the same.
    replacement.unverified =
        replacement.verification.is_some() && (current.unverified || replacement.url != current.url);
    if input.headers.is_none() {
        replacement.headers = current.headers;
        replacement.sensitive_headers = current.sensitive_headers;
    }
    // The transformation is its own resource (…/transformation): a replacement keeps it.
    if current.transformation.is_some() {
        replacement.transformation = current.transformation;
        check(&state, &replacement).await?;
    }
    state.store.update_endpoint(replacement.clone()).await?;
    Ok((StatusCode::OK, Json(replacement.into())))
}

/// Change some fields of an endpoint; `null` clears a field.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint", request_body = EndpointPatch,
    params(("app_id" = String, Path), ("endpoint_id" = String, Path)), responses((status = 200, body = EndpointOut)))]
async fn patch_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(patch): JsonBody<EndpointPatch>,
) -> ApiResult<Json<EndpointOut>> {
    let (_, mut endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    let EndpointPatch {
        url,
        description,
        uid,
        disabled,
        event_types,
        channels,
        throttle_rate,
        metadata,
        retry_policy,
        timeout_ms,
        signature,
        filter,
        envelope,
        chunking,
        idempotency_header,
    } = patch;
    if let Some(v) = signature {
        endpoint.signature = v;
        if !schemes::secret_fits(endpoint.scheme(), &endpoint.secret) {
            endpoint.secret = schemes::generate_secret(endpoint.scheme());
            endpoint.previous_secrets.clear();
        }
    }
    if let Some(v) = filter {
        endpoint.filter = v;
    }
    if let Some(v) = envelope {
        endpoint.envelope = v;
    }
    if let Some(v) = chunking {
        endpoint.chunking = v;
    }
    if let Some(v) = idempotency_header {
        endpoint.idempotency_header = v;
    }
    if url.as_ref().is_some_and(|u| *u != endpoint.url) && endpoint.verification.is_some() {
        endpoint.unverified = true;
    }
    if let Some(v) = url {
        endpoint.url = v;
    }
    if let Some(v) = description {
        endpoint.description = v;
    }
    if let Some(v) = uid {
        endpoint.uid = v;
    }
    if let Some(v) = disabled {
        endpoint.disabled = v;
    }
    if let Some(v) = event_types {
        endpoint.event_types = v;
    }
    if let Some(v) = channels {
        endpoint.channels = v;
    }
    if let Some(v) = throttle_rate {
        endpoint.throttle_rate = v;
    }
    if let Some(v) = metadata {
        endpoint.metadata = v;
    }
    if let Some(v) = retry_policy {
        endpoint.retry_policy = v;
    }
    if let Some(v) = timeout_ms {
        endpoint.timeout_ms = v;
    }
    endpoint.updated_at = state.clock.now();
    check(&state, &endpoint).await?;
    check_event_types_known(&state, &endpoint).await?;
    state.store.update_endpoint(endpoint.clone()).await?;
    Ok(Json(endpoint.into()))
}

/// Delete an endpoint; its pending deliveries are dropped.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint",
    params(("app_id" = String, Path), ("endpoint_id" = String, Path)), responses((status = 204)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (app, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    state.store.delete_endpoint(app.id, endpoint.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
