//! The HTTP API: Svix v1 paths and JSON shapes, Hookwire's additions as extra fields and routes.
//! Each resource module owns its router; handlers are thin (extract, one operation, map result).

pub mod activity;
pub mod apps;
pub mod attempts;
pub mod destinations;
pub mod endpoints;
pub mod error;
pub mod event_types;
pub mod extract;
pub mod idempotency;
pub mod messages;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod params;
pub mod portal;
pub mod scope;
pub mod tasks;
pub mod validate;

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;
use error::ApiError;

/// All API routes and the OpenAPI document generated from the same registrations.
pub fn router(state: &AppState) -> (Router<AppState>, OpenApi) {
    // Filled from the finished document below; checked after the token (the scope layer is outer),
    // before a POST's idempotency key (the innermost layer: a refused request keeps no answer).
    let catalog: Arc<OnceLock<params::QueryCatalog>> = Arc::default();
    let checked = catalog.clone();
    let (router, mut openapi) = OpenApiRouter::new()
        .merge(apps::router())
        .merge(activity::router())
        .merge(endpoints::router())
        .merge(event_types::router())
        .merge(messages::router())
        .merge(attempts::router())
        .merge(tasks::router())
        .merge(destinations::router())
        .merge(portal::router())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::replay_or_run))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            params::refuse_unknown(checked.clone(), request, next)
        }))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), scope::require_scope))
        .routes(routes!(health))
        .routes(routes!(health_ping))
        .split_for_parts();
    openapi.info.title = "Hookwire".into();
    openapi.info.version = env!("CARGO_PKG_VERSION").into();
    openapi.info.description = Some("Webhook delivery service; Svix API v1 compatible.".into());
    openapi.info.contact = None;
    openapi.info.license = Some(utoipa::openapi::License::new("Apache-2.0"));
    let openapi = openapi::finish(openapi);
    let _ = catalog.set(params::QueryCatalog::from_document(&openapi));
    let document = Json(openapi.clone());
    let router = router
        .route("/api/v1/openapi.json", get(move || async move { document.clone() }))
        .fallback(|| async { ApiError::not_found("route") })
        // JSON like every other error (an empty 405 breaks SDKs that parse every error body).
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
        });
    (router, openapi)
}

/// Health check; needs no token: 204 when the database answers, 503 `database_unavailable`
/// when it does not (so a load balancer stops sending traffic here).
#[utoipa::path(get, path = "/api/v1/health", tag = "Health", responses((status = 204), (status = 503)))]
async fn health(State(state): State<AppState>) -> Result<StatusCode, ApiError> {
    state.health.check(state.store.as_ref()).await
}

/// Health check (Svix's `ping` path): the process answers; the database is not asked.
#[utoipa::path(get, path = "/api/v1/health/ping", tag = "Health", responses((status = 204)))]
async fn health_ping() -> StatusCode {
    StatusCode::NO_CONTENT
}
