//! Trying an endpoint's CEL filter before saving it (a Hookwire extension): does it match a
//! message of this event type, with this payload (the event type's schema example when none is
//! given) and these channels? Decided as fan-out decides it: a filter that cannot be evaluated
//! matches nothing, and says why. Nothing is sent or saved.

use axum::Json;
use axum::extract::{Path, State};
use hookwire_core::limits::CHANNELS_PER_MESSAGE_MAX;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ops::example_payload;
use super::shape::compile_filter;
use crate::api::apps::load_app;
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::JsonBody;
use crate::api::validate;
use crate::auth::Principal;
use crate::intake::IntakeError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(test_filter))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterTestIn {
    /// The CEL expression, over `{type, data, channels}` as an endpoint's `filter`.
    pub filter: String,
    /// The message's event type (`type`).
    pub event_type: String,
    /// The message's payload (`data`), a JSON object checked as a message's is; the event
    /// type's first schema example when absent (`{}` when it has none).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Box<RawValue>>,
    /// The message's channels (`channels`); none when absent.
    #[serde(default)]
    pub channels: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FilterTestOut {
    /// Whether an endpoint with this filter would receive the message.
    pub matches: bool,
    /// Why the filter could not be evaluated on it (a missing field, a type mismatch, a result
    /// that is not true or false): it then matches nothing, as in fan-out.
    pub error: Option<String>,
}

/// Say whether a CEL filter matches a message of an event type, with a payload (the event
/// type's example when absent) and channels, as fan-out would decide it; nothing is sent or
/// saved. A filter that does not compile is a 422 naming `filter`.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/filter/test", tag = "Endpoint", request_body = FilterTestIn,
    params(("app_id" = String, Path)), responses((status = 200, body = FilterTestOut)))]
async fn test_filter(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
    JsonBody(input): JsonBody<FilterTestIn>,
) -> ApiResult<Json<FilterTestOut>> {
    load_app(&state, principal, &app_id).await?;
    Ok(Json(run(&state, input).await?))
}

/// Checks `input` as a message's fields are checked, then runs its filter on it.
async fn run(state: &AppState, input: FilterTestIn) -> ApiResult<FilterTestOut> {
    let filter = compile_filter(&input.filter)?;
    validate::event_type_name("eventType", &input.event_type, false)?;
    let channels = input.channels.unwrap_or_default();
    validate::channels("channels", &channels, CHANNELS_PER_MESSAGE_MAX)?;
    let payload = match input.payload {
        Some(raw) => {
            // The message rules and their answers (413 for a payload too large, else a 422).
            hookwire_core::payload::check(raw.get()).map_err(|e| ApiError::from(IntakeError::Payload(e)))?;
            serde_json::from_str(raw.get()).map_err(|e| ApiError::invalid(&["body", "payload"], e.to_string()))?
        }
        None => example_payload(state, &input.event_type, 0).await?,
    };
    Ok(match filter.matches(&input.event_type, &payload, &channels) {
        Ok(matches) => FilterTestOut { matches, error: None },
        Err(why) => FilterTestOut { matches: false, error: Some(why) },
    })
}
