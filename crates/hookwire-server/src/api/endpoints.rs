//! Endpoints: where an application's messages go, with their subscription, secret, headers and
//! delivery settings. Secret, headers, stats and recovery live in endpoint_ops.rs.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hookwire_core::EndpointId;
use hookwire_core::body::{Chunking, Envelope};
use hookwire_core::filter::Filter;
use hookwire_core::limits::{
    CHANNELS_PER_ENDPOINT_MAX, DELIVERY_TIMEOUT_MS_MAX, DELIVERY_TIMEOUT_MS_MIN, DESCRIPTION_LENGTH_MAX,
    EVENT_TYPES_PER_ENDPOINT_MAX, URL_LENGTH_MAX,
};
use hookwire_core::model::Verification;
use hookwire_core::model::{Application, Endpoint, Metadata};
use hookwire_core::retry::RetryPolicy;
use hookwire_core::schemes::{self, SignatureConfig};
use hookwire_core::time_fmt::Millis;
use hookwire_core::url_policy::parse_endpoint_url;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::apps::load_app;
use super::endpoint_ops::{self, check_header_name, check_headers, sensitive_header_names};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, QueryPairs};
use super::page::{ListResponse, id_iterator, list_response, page_from};
use super::validate;
use crate::auth::Principal;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, patch_endpoint, delete_endpoint))
        .merge(endpoint_ops::router())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointIn {
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
    /// Exact names, prefix wildcards (`reading.*`) or `*`; absent means every type.
    #[serde(default, alias = "filterTypes")]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    #[serde(default, alias = "rateLimit")]
    pub throttle_rate: Option<u32>,
    /// `whsec_`-prefixed (or bare) base64 of 24..=64 random bytes; generated when absent.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub version: Option<u32>,
    /// Hookwire: `{"schedule": [seconds…]}` or `{"maxRetries": n, "intervalMs": ms}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub retry_policy: Option<RetryPolicy>,
    /// Hookwire: per-request deadline, 1000..=30000 ms (default 15000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Hookwire: `{"scheme": "standard"|"ed25519"|"hmac"|"secret-header", "header", "algorithm",
    /// "encoding", "prefix", "content"}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub signature: Option<SignatureConfig>,
    /// Hookwire: CEL expression over `{type, data, channels}`.
    #[serde(default)]
    pub filter: Option<String>,
    /// Hookwire: `"challenge"` (or `{"challengeHeader", "verifyTokenHeader"}`): the endpoint
    /// stays `unverified`, receiving nothing, until it echoes a challenge.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub verification: Option<VerificationIn>,
    /// Hookwire: `"raw"` (default) or `"wrapped"` (`{"id", "type", "timestamp", "data"}`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub envelope: Option<Envelope>,
    /// Hookwire: `{"recordsField", "chunkSize"}`: deliver a records array in pages.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub chunking: Option<Chunking>,
    /// Hookwire: also send the delivery's idempotency key (its webhook-id) in this header.
    #[serde(default)]
    pub idempotency_header: Option<String>,
}

/// `"challenge"` with the default header names, or the names spelled out.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum VerificationIn {
    Kind(String),
    Headers {
        #[serde(rename = "challengeHeader")]
        challenge_header: String,
        #[serde(rename = "verifyTokenHeader")]
        verify_token_header: String,
    },
}

impl VerificationIn {
    fn into_model(self) -> ApiResult<Verification> {
        match self {
            Self::Kind(kind) if kind == "challenge" => Ok(Verification::default()),
            Self::Kind(other) => Err(ApiError::invalid(
                &["body", "verification"],
                format!("unknown verification {other:?}; use \"challenge\""),
            )),
            Self::Headers { challenge_header, verify_token_header } => {
                Ok(Verification { challenge_header, verify_token_header })
            }
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointPatch {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub uid: Option<Option<String>>,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default, alias = "filterTypes", deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub channels: Option<Option<Vec<String>>>,
    #[serde(default, alias = "rateLimit", deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<u32>)]
    pub throttle_rate: Option<Option<u32>>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<Object>)]
    pub retry_policy: Option<Option<RetryPolicy>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<u64>)]
    pub timeout_ms: Option<Option<u64>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<Object>)]
    pub signature: Option<Option<SignatureConfig>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub filter: Option<Option<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub envelope: Option<Envelope>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<Object>)]
    pub chunking: Option<Option<Chunking>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub idempotency_header: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOut {
    pub id: String,
    pub uid: Option<String>,
    pub url: String,
    pub description: String,
    pub disabled: bool,
    /// Hookwire: `active`, `unverified` or `disabled`.
    pub status: &'static str,
    pub event_types: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub throttle_rate: Option<u32>,
    pub metadata: Metadata,
    pub version: u32,
    #[schema(value_type = Option<Object>)]
    pub retry_policy: Option<RetryPolicy>,
    pub timeout_ms: Option<u64>,
    #[schema(value_type = Option<Object>)]
    pub signature: Option<SignatureConfig>,
    pub filter: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub verification: Option<Verification>,
    #[schema(value_type = String)]
    pub envelope: Envelope,
    #[schema(value_type = Option<Object>)]
    pub chunking: Option<Chunking>,
    pub idempotency_header: Option<String>,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Millis,
    #[serde(with = "hookwire_core::time_fmt::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Millis,
}

impl From<Endpoint> for EndpointOut {
    fn from(endpoint: Endpoint) -> Self {
        let status = endpoint.status().as_str();
        Self {
            id: endpoint.id.to_string(),
            uid: endpoint.uid,
            url: endpoint.url,
            description: endpoint.description,
            disabled: endpoint.disabled,
            status,
            event_types: endpoint.event_types,
            channels: endpoint.channels,
            throttle_rate: endpoint.throttle_rate,
            metadata: endpoint.metadata,
            version: 1,
            retry_policy: endpoint.retry_policy,
            timeout_ms: endpoint.timeout_ms,
            signature: endpoint.signature,
            filter: endpoint.filter,
            verification: endpoint.verification,
            envelope: endpoint.envelope,
            chunking: endpoint.chunking,
            idempotency_header: endpoint.idempotency_header,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// Checks every configurable field of an endpoint as it would be stored.
async fn check(state: &AppState, endpoint: &Endpoint) -> ApiResult<()> {
    check_url(state, &endpoint.url).await?;
    validate::length("description", &endpoint.description, 0, DESCRIPTION_LENGTH_MAX)?;
    if let Some(uid) = &endpoint.uid {
        validate::uid(uid, EndpointId::PREFIX)?;
    }
    if let Some(types) = &endpoint.event_types {
        if types.len() > EVENT_TYPES_PER_ENDPOINT_MAX {
            return Err(ApiError::invalid(
                &["body", "eventTypes"],
                format!("at most {EVENT_TYPES_PER_ENDPOINT_MAX} entries"),
            ));
        }
        for name in types {
            validate::event_type_name("eventTypes", name, true)?;
        }
    }
    if let Some(channels) = &endpoint.channels {
        validate::channels("channels", channels, CHANNELS_PER_ENDPOINT_MAX)?;
    }
    validate::metadata(&endpoint.metadata)?;
    check_headers(&endpoint.headers)?;
    if let Some(policy) = &endpoint.retry_policy {
        policy.validate().map_err(|e| ApiError::invalid(&["body", "retryPolicy"], e))?;
    }
    if let Some(timeout) = endpoint.timeout_ms
        && !(DELIVERY_TIMEOUT_MS_MIN..=DELIVERY_TIMEOUT_MS_MAX).contains(&timeout)
    {
        return Err(ApiError::invalid(
            &["body", "timeoutMs"],
            format!("must be between {DELIVERY_TIMEOUT_MS_MIN} and {DELIVERY_TIMEOUT_MS_MAX}"),
        ));
    }
    if endpoint.throttle_rate == Some(0) {
        return Err(ApiError::invalid(&["body", "throttleRate"], "must be at least 1 delivery per second"));
    }
    check_delivery_options(endpoint)
}

/// Checks the options that shape each request: signature, filter, chunking, extra headers.
fn check_delivery_options(endpoint: &Endpoint) -> ApiResult<()> {
    if let Some(signature) = &endpoint.signature {
        signature.validate().map_err(|e| ApiError::invalid(&["body", "signature"], e))?;
        if let Some(header) = &signature.header {
            check_header_name("signature", header)?;
        }
    }
    if let Some(filter) = &endpoint.filter {
        Filter::compile(filter)
            .map_err(|e| ApiError::invalid(&["body", "filter"], format!("filter does not compile: {e}")))?;
    }
    if let Some(chunking) = &endpoint.chunking {
        chunking.validate().map_err(|e| ApiError::invalid(&["body", "chunking"], e))?;
    }
    if let Some(header) = &endpoint.idempotency_header {
        check_header_name("idempotencyHeader", header)?;
    }
    if let Some(verification) = &endpoint.verification {
        // Sent only on the challenge GET, so Hookwire's own `webhook-` names are fine here.
        for name in [&verification.challenge_header, &verification.verify_token_header] {
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ApiError::invalid(
                    &["body", "verification"],
                    format!("{name:?} is not a valid header name"),
                ));
            }
        }
    }
    Ok(())
}

async fn check_url(state: &AppState, url: &str) -> ApiResult<()> {
    validate::length("url", url, 1, URL_LENGTH_MAX)?;
    let parsed = parse_endpoint_url(url).map_err(|e| ApiError::invalid(&["body", "url"], e))?;
    state.sender.check_destination(&parsed).await.map_err(|e| ApiError::invalid(&["body", "url"], e))
}

/// Builds a new endpoint of `app` from `input`, validated.
pub async fn endpoint_from(state: &AppState, app: &Application, input: EndpointIn) -> ApiResult<Endpoint> {
    let scheme = input.signature.as_ref().map(|s| s.scheme).unwrap_or_default();
    let secret = match &input.secret {
        Some(secret) => {
            schemes::normalize_secret(scheme, secret).map_err(|e| ApiError::invalid(&["body", "secret"], e))?
        }
        None => schemes::generate_secret(scheme),
    };
    let verification = input.verification.map(VerificationIn::into_model).transpose()?;
    let headers = input.headers.unwrap_or_default();
    let now = state.clock.now();
    let endpoint = Endpoint {
        id: EndpointId::generate(),
        app_id: app.id,
        uid: input.uid,
        url: input.url,
        description: input.description.unwrap_or_default(),
        disabled: input.disabled.unwrap_or(false),
        event_types: input.event_types,
        channels: input.channels,
        throttle_rate: input.throttle_rate,
        metadata: input.metadata.unwrap_or_default(),
        secret,
        previous_secrets: Vec::new(),
        sensitive_headers: sensitive_header_names(&headers),
        headers,
        retry_policy: input.retry_policy,
        timeout_ms: input.timeout_ms,
        signature: input.signature,
        filter: input.filter,
        unverified: verification.is_some(),
        verification,
        envelope: input.envelope.unwrap_or_default(),
        chunking: input.chunking,
        idempotency_header: input.idempotency_header,
        created_at: now,
        updated_at: now,
    };
    check(state, &endpoint).await?;
    check_event_types_known(state, &endpoint).await?;
    Ok(endpoint)
}

/// With `strict_event_types`, subscriptions may only name catalogued types (patterns pass).
async fn check_event_types_known(state: &AppState, endpoint: &Endpoint) -> ApiResult<()> {
    if !state.config.strict_event_types {
        return Ok(());
    }
    for name in endpoint.event_types.iter().flatten().filter(|n| !n.ends_with('*')) {
        if state.store.get_event_type(name).await?.is_none() {
            return Err(ApiError::invalid(
                &["body", "eventTypes"],
                format!("event type {name:?} is not in the catalog (strict_event_types is on)"),
            ));
        }
    }
    Ok(())
}

pub async fn load_endpoint(
    state: &AppState,
    principal: Principal,
    app_key: &str,
    key: &str,
) -> ApiResult<(Application, Endpoint)> {
    let app = load_app(state, principal, app_key).await?;
    let endpoint = state.store.get_endpoint(app.id, key).await?.ok_or_else(|| ApiError::not_found("endpoint"))?;
    Ok((app, endpoint))
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
    let page = page_from(&query, false, id_iterator::<EndpointId>)?;
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

/// Replace an endpoint's settings (its secret and headers are kept unless given).
#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint", request_body = EndpointIn,
    params(("app_id" = String, Path), ("endpoint_id" = String, Path)), responses((status = 200, body = EndpointOut)))]
async fn update_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<EndpointIn>,
) -> ApiResult<Json<EndpointOut>> {
    let (app, current) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
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
    state.store.update_endpoint(replacement.clone()).await?;
    Ok(Json(replacement.into()))
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
