//! An endpoint's transformation (Svix's shape): read it, change it (code checked by compiling it:
//! a 422 names the line), and simulate it on a payload without sending anything.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hookwire_core::model::{Endpoint, Transformation};
use hookwire_core::time_fmt::{format_millis, restamp};
use hookwire_transform::{Failure, Outcome, Payload, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ops::example_payload;
use super::shape::{load_endpoint, sensitive_header_names};
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::JsonBody;
use crate::api::validate;
use crate::auth::Principal;
use crate::state::AppState;

/// Variables one transformation may have, and the longest value.
const VARIABLES_MAX: usize = 64;
const VARIABLE_VALUE_BYTES_MAX: usize = 4_096;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_transformation, patch_transformation)).routes(routes!(simulate))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointTransformationOut {
    pub code: Option<String>,
    pub enabled: bool,
    /// Variables the code reads as `webhook.variables`; secret ones (named like a credential)
    /// are write-only and listed in `sensitiveVariables` instead.
    pub variables: BTreeMap<String, String>,
    pub sensitive_variables: Vec<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointTransformationPatch {
    /// The code, declaring `function handler(webhook)`; `null` removes it.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub code: Option<Option<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Replaces every variable; `null` removes them.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub variables: Option<Option<BTreeMap<String, String>>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointTransformationSimulateIn {
    /// The code to run; the endpoint's saved code when absent.
    #[serde(default)]
    pub code: Option<String>,
    pub event_type: String,
    /// The payload; the event type's schema example when absent.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointTransformationSimulateOut {
    /// What would be sent (absent when cancelled or failed).
    pub method: Option<String>,
    pub url: Option<String>,
    pub payload: Option<serde_json::Value>,
    /// The handler set `cancel`: nothing would be sent.
    pub cancel: bool,
    /// Why nothing would be sent, as an attempt would record it.
    pub error: Option<String>,
    /// What the code wrote with `console.log` and friends.
    pub console: Vec<String>,
}

impl EndpointTransformationOut {
    fn of(endpoint: &Endpoint) -> Self {
        match &endpoint.transformation {
            None => Self {
                code: None,
                enabled: false,
                variables: BTreeMap::new(),
                sensitive_variables: Vec::new(),
                updated_at: None,
            },
            Some(t) => Self {
                code: Some(t.code.clone()),
                enabled: t.enabled,
                variables: t
                    .variables
                    .iter()
                    .filter(|(name, _)| !t.sensitive_variables.contains(name))
                    .map(|(n, v)| (n.clone(), v.clone()))
                    .collect(),
                sensitive_variables: t.sensitive_variables.clone(),
                updated_at: Some(format_millis(t.updated_at)),
            },
        }
    }
}

/// Get the endpoint's transformation.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/transformation", tag = "Endpoint",
    params(("app_id" = String, Path), ("endpoint_id" = String, Path)),
    responses((status = 200, body = EndpointTransformationOut)))]
async fn get_transformation(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointTransformationOut>> {
    let (_, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    Ok(Json(EndpointTransformationOut::of(&endpoint)))
}

/// Set, change, enable, disable or remove the endpoint's transformation. Code that does not
/// compile, runs past its limits at its top level, or declares no `handler` is a 422 naming the
/// line.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/transformation", tag = "Endpoint",
    request_body = EndpointTransformationPatch, params(("app_id" = String, Path), ("endpoint_id" = String, Path)),
    responses((status = 204)))]
async fn patch_transformation(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<EndpointTransformationPatch>,
) -> ApiResult<StatusCode> {
    let (_, mut endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    apply_patch(&state, &mut endpoint, input).await?;
    state.store.update_endpoint(endpoint).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Applies `input` to `endpoint` (not saved), every check made: the API's PATCH and the
/// dashboard's form.
pub async fn apply_patch(
    state: &AppState,
    endpoint: &mut Endpoint,
    input: EndpointTransformationPatch,
) -> ApiResult<()> {
    let now = state.clock.now();
    let current = endpoint.transformation.take();
    let code = match input.code {
        Some(Some(code)) => {
            check_code(state, &code).await?;
            Some(code)
        }
        Some(None) => None,
        None => current.as_ref().map(|t| t.code.clone()),
    };
    let (mut variables, mut sensitive) = match (&input.variables, &current) {
        (Some(_), _) | (None, None) => (BTreeMap::new(), Vec::new()),
        (None, Some(t)) => (t.variables.clone(), t.sensitive_variables.clone()),
    };
    if let Some(Some(given)) = input.variables {
        check_variables(&given)?;
        sensitive = sensitive_header_names(&given);
        variables = given;
    }
    let enabled = input.enabled.or(current.as_ref().map(|t| t.enabled)).unwrap_or(code.is_some());
    let updated_at = restamp(current.as_ref().map(|t| t.updated_at), now);
    endpoint.transformation = match code {
        Some(code) => Some(Transformation { code, enabled, variables, sensitive_variables: sensitive, updated_at }),
        None if enabled && input.enabled == Some(true) => {
            return Err(ApiError::invalid(&["body", "enabled"], "there is no code to enable: set code too"));
        }
        None => None,
    };
    if endpoint.transformation.as_ref().is_some_and(|t| t.enabled) && endpoint.chunking.is_some() {
        return Err(ApiError::invalid(
            &["body", "enabled"],
            "this endpoint splits payloads into pages (chunking): a transformation cannot reshape them; remove chunking first",
        ));
    }
    endpoint.updated_at = now;
    Ok(())
}

/// Run code (the given code, or the endpoint's) on a payload of an event type, as a delivery
/// would, and say what would be sent; nothing is sent or saved.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/transformation/simulate", tag = "Endpoint",
    request_body = EndpointTransformationSimulateIn, params(("app_id" = String, Path), ("endpoint_id" = String, Path)),
    responses((status = 200, body = EndpointTransformationSimulateOut)))]
async fn simulate(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<EndpointTransformationSimulateIn>,
) -> ApiResult<Json<EndpointTransformationSimulateOut>> {
    let (_, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    Ok(Json(simulate_on(&state, &endpoint, input).await?))
}

/// Runs `input` against `endpoint` as a delivery would, sending nothing (the API and the
/// dashboard's test pane).
pub async fn simulate_on(
    state: &AppState,
    endpoint: &Endpoint,
    input: EndpointTransformationSimulateIn,
) -> ApiResult<EndpointTransformationSimulateOut> {
    validate::event_type_name("eventType", &input.event_type, false)?;
    let saved = endpoint.transformation.as_ref();
    let code = match (input.code, saved) {
        (Some(code), _) => code,
        (None, Some(t)) => t.code.clone(),
        (None, None) => {
            return Err(ApiError::invalid(&["body", "code"], "the endpoint has no transformation: give the code"));
        }
    };
    if code.len() > hookwire_transform::TRANSFORMATION_CODE_BYTES_MAX {
        return Err(ApiError::invalid(
            &["body", "code"],
            format!("at most {} bytes", hookwire_transform::TRANSFORMATION_CODE_BYTES_MAX),
        ));
    }
    let payload = match input.payload {
        Some(payload) => payload,
        None => example_payload(state, &input.event_type, 0).await?,
    };
    let payload = payload.to_string();
    let empty = BTreeMap::new();
    let webhook = Webhook {
        method: "POST",
        url: &endpoint.url,
        event_type: &input.event_type,
        payload: Payload::Json(&payload),
        variables: saved.map_or(&empty, |t| &t.variables),
        time_ms: state.clock.now(),
    };
    let simulation = state.sender.transforms().simulate(&code, webhook).await;
    let mut out = EndpointTransformationSimulateOut {
        method: None,
        url: None,
        payload: None,
        cancel: false,
        error: None,
        console: simulation.console,
    };
    match simulation.outcome {
        Ok(Outcome::Send(shaped)) => {
            out.method = Some(shaped.method.as_str().to_owned());
            out.url = Some(shaped.url);
            out.payload = serde_json::from_str(&shaped.payload).ok();
        }
        Ok(Outcome::Cancel) => out.cancel = true,
        Err(failure) => out.error = Some(failure.to_string()),
    }
    Ok(out)
}

/// 422 naming the line when `code` cannot run; 503 when the transformation threads are gone.
pub async fn check_code(state: &AppState, code: &str) -> ApiResult<()> {
    match state.sender.transforms().check(code).await {
        Ok(()) => Ok(()),
        Err(Failure::Unavailable(why)) => {
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "transformations_unavailable", why))
        }
        Err(failure) => Err(ApiError::invalid(&["body", "code"], failure.to_string())),
    }
}

fn check_variables(variables: &BTreeMap<String, String>) -> ApiResult<()> {
    if variables.len() > VARIABLES_MAX {
        return Err(ApiError::invalid(&["body", "variables"], format!("at most {VARIABLES_MAX} variables")));
    }
    for (name, value) in variables {
        let identifier = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && name.len() <= 64;
        if !identifier {
            return Err(ApiError::invalid(
                &["body", "variables", name],
                "a variable name is letters, digits and _ (not first), at most 64",
            ));
        }
        if value.len() > VARIABLE_VALUE_BYTES_MAX {
            return Err(ApiError::invalid(
                &["body", "variables", name],
                format!("at most {VARIABLE_VALUE_BYTES_MAX} bytes"),
            ));
        }
    }
    Ok(())
}
