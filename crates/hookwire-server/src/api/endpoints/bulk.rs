//! Creating many endpoints in one request (Immuta's bulk create): each item succeeds or fails on
//! its own, and failures name their index.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shape::{EndpointIn, EndpointOut, endpoint_from};
use crate::api::apps::load_app;
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::JsonBody;
use crate::auth::Principal;
use crate::state::AppState;

/// Most endpoints created by one bulk request.
pub const BULK_ENDPOINTS_MAX: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(bulk_create))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointBulkIn {
    pub endpoints: Vec<EndpointIn>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkError {
    pub index: usize,
    pub code: &'static str,
    /// As in `ErrorBody`: a sentence, or a list of `{loc, msg, type}`.
    pub detail: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointBulkOut {
    pub created: Vec<EndpointOut>,
    pub errors: Vec<BulkError>,
}

/// Create several endpoints; each is validated and stored on its own.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/bulk", tag = "Endpoint", request_body = EndpointBulkIn,
    params(("app_id" = String, Path)), responses((status = 200, body = EndpointBulkOut)))]
async fn bulk_create(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
    JsonBody(input): JsonBody<EndpointBulkIn>,
) -> ApiResult<(StatusCode, Json<EndpointBulkOut>)> {
    let app = load_app(&state, principal, &app_id).await?;
    if input.endpoints.is_empty() || input.endpoints.len() > BULK_ENDPOINTS_MAX {
        return Err(ApiError::invalid(&["body", "endpoints"], format!("give 1..={BULK_ENDPOINTS_MAX} endpoints")));
    }
    let mut out = EndpointBulkOut { created: Vec::new(), errors: Vec::new() };
    for (index, item) in input.endpoints.into_iter().enumerate() {
        let result = match endpoint_from(&state, &app, item).await {
            Ok(endpoint) => {
                state.store.create_endpoint(endpoint.clone()).await.map(|()| endpoint).map_err(ApiError::from)
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(endpoint) => out.created.push(endpoint.into()),
            Err(error) => {
                let detail = serde_json::to_value(&error.detail).unwrap_or_default();
                out.errors.push(BulkError { index, code: error.code, detail })
            }
        }
    }
    Ok((StatusCode::OK, Json(out)))
}
