//! Challenge-response endpoint verification (Improvado's flow): an endpoint created with
//! `verification` stays `unverified`, receiving nothing, until it echoes a challenge; what
//! arrived meanwhile is then delivered.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shape::{EndpointOut, load_endpoint};
use crate::api::error::{ApiError, ApiResult};
use crate::auth::Principal;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify_endpoint))
}

/// Send the verification challenge (`GET url` with the challenge and verify-token headers); a
/// 200 echoing the challenge makes the endpoint active and releases the deliveries it missed.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/verify", tag = "Endpoint",
    params(("app_id" = String, Path), ("endpoint_id" = String, Path)),
    responses((status = 200, body = EndpointOut), (status = 400, description = "the challenge failed; `detail` says why")))]
async fn verify_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointOut>> {
    let (_, mut endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    let Some(verification) = endpoint.verification.clone() else {
        return Err(ApiError::bad_request("this endpoint was not created with `verification`"));
    };
    state
        .sender
        .verify(&endpoint, &verification)
        .await
        .map_err(|reason| ApiError::new(StatusCode::BAD_REQUEST, "verification_failed", reason))?;
    if endpoint.unverified {
        let now = state.clock.now();
        endpoint.unverified = false;
        endpoint.updated_at = now;
        state.store.update_endpoint(endpoint.clone()).await?;
        let released = state.intake.release_parked(&endpoint).await?;
        tracing::info!(endpoint_id = %endpoint.id, released, "endpoint verified");
    }
    Ok(Json(endpoint.into()))
}
