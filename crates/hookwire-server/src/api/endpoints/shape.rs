//! The endpoint resource's shapes and rules: what an endpoint is on the wire (`EndpointIn`,
//! `EndpointPatch`, `EndpointOut`), every check of its fields (URL and destination, headers,
//! signature, filter, retry policy…), building one from input, and loading one within an
//! application. The handlers (crud.rs, ops.rs, verify.rs, bulk.rs, log.rs) all build on this.

use std::collections::BTreeMap;

use axum::http::{HeaderName, HeaderValue};
use hookwire_core::EndpointId;
use hookwire_core::body::{Chunking, Envelope};
use hookwire_core::filter::Filter;
use hookwire_core::limits::{
    CHANNELS_PER_ENDPOINT_MAX, DELIVERY_TIMEOUT_MS_MAX, DELIVERY_TIMEOUT_MS_MIN, DESCRIPTION_LENGTH_MAX,
    EVENT_TYPES_PER_ENDPOINT_MAX, HEADER_VALUE_LENGTH_MAX, HEADERS_PER_ENDPOINT_MAX, URL_LENGTH_MAX,
};
use hookwire_core::model::Verification;
use hookwire_core::model::{Application, Endpoint, Metadata};
use hookwire_core::retry::RetryPolicy;
use hookwire_core::schemes::{self, SignatureConfig};
use hookwire_core::time_fmt::Millis;
use hookwire_core::url_policy::parse_endpoint_url;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::apps::load_app;
use crate::api::error::{ApiError, ApiResult};
use crate::api::validate;
use crate::auth::Principal;
use crate::state::AppState;

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

/// `"challenge"` with the default header names, or the names spelled out (and nothing else).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
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
pub(super) async fn check(state: &AppState, endpoint: &Endpoint) -> ApiResult<()> {
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
        policy.validate().map_err(|(field, why)| ApiError::invalid(&["body", "retryPolicy", field], why))?;
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
        signature.validate().map_err(|(field, why)| ApiError::invalid(&["body", "signature", field], why))?;
        if let Some(header) = &signature.header {
            check_header_name(&["body", "signature", "header"], header)?;
        }
    }
    if let Some(filter) = &endpoint.filter {
        compile_filter(filter)?;
    }
    if let Some(chunking) = &endpoint.chunking {
        chunking.validate().map_err(|e| ApiError::invalid(&["body", "chunking"], e))?;
        if endpoint.transformation.as_ref().is_some_and(|t| t.enabled) {
            return Err(ApiError::invalid(
                &["body", "chunking"],
                "the endpoint's transformation reshapes whole payloads: disable it before splitting them into pages",
            ));
        }
    }
    if let Some(header) = &endpoint.idempotency_header {
        check_header_name(&["body", "idempotencyHeader"], header)?;
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

/// Compiles an endpoint's CEL filter (`body.filter`), or says why it does not compile.
pub(super) fn compile_filter(source: &str) -> ApiResult<Filter> {
    Filter::compile(source).map_err(|e| ApiError::invalid(&["body", "filter"], format!("filter does not compile: {e}")))
}

pub async fn check_url(state: &AppState, url: &str) -> ApiResult<()> {
    validate::length("url", url, 1, URL_LENGTH_MAX)?;
    let parsed = parse_endpoint_url(url).map_err(|e| ApiError::invalid(&["body", "url"], e))?;
    state.sender.check_destination(&parsed).await.map_err(|e| ApiError::invalid(&["body", "url"], e))
}

/// Builds a new endpoint of `app` from `input`, validated.
pub async fn endpoint_from(state: &AppState, app: &Application, input: EndpointIn) -> ApiResult<Endpoint> {
    if let Some(version) = input.version.filter(|v| *v != 1) {
        // Svix's deprecated field: an endpoint has one version here, and it is 1.
        return Err(ApiError::invalid(&["body", "version"], format!("endpoints have version 1 only, not {version}")));
    }
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
        app_throttle_rate: app.throttle_rate,
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
        transformation: None,
        created_at: now,
        updated_at: now,
    };
    check(state, &endpoint).await?;
    check_event_types_known(state, &endpoint).await?;
    Ok(endpoint)
}

/// With `strict_event_types`, subscriptions may only name catalogued types (patterns pass).
pub(super) async fn check_event_types_known(state: &AppState, endpoint: &Endpoint) -> ApiResult<()> {
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

/// Headers Hookwire sets itself; an endpoint may not override them.
/// Hop-by-hop and framing headers are among them: a custom `Expect`, `TE` or `Upgrade` would
/// change how the request is sent, and `Proxy-Authorization` would leak a credential.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
    "expect",
    "te",
    "trailer",
    "upgrade",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
];
const RESERVED_HEADER_PREFIXES: &[&str] = &["webhook-", "svix-"];
/// Header names whose values are secrets: write-only, never returned.
const SENSITIVE_HEADER_MARKERS: &[&str] =
    &["authorization", "cookie", "auth", "token", "secret", "password", "key", "signature"];

/// Headers as shown: the non-sensitive ones with their values, and the names of the others
/// (`sensitive`, as stored with them).
pub fn shown_headers(
    headers: &BTreeMap<String, String>,
    sensitive: Vec<String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let shown = headers.iter().filter(|(name, _)| !sensitive.contains(name)).map(|(n, v)| (n.clone(), v.clone()));
    (shown.collect(), sensitive)
}

pub fn sensitive_header_names(headers: &BTreeMap<String, String>) -> Vec<String> {
    headers
        .keys()
        .filter(|name| {
            let lower = name.to_ascii_lowercase();
            SENSITIVE_HEADER_MARKERS.iter().any(|marker| lower.contains(marker))
        })
        .cloned()
        .collect()
}

/// A header name Hookwire may set for an endpoint: valid, and not one Hookwire owns; a refusal
/// names `loc`.
pub fn check_header_name(loc: &[&str], name: &str) -> ApiResult<()> {
    let lower = name.to_ascii_lowercase();
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(ApiError::invalid(loc, format!("{name:?} is not a valid header name")));
    }
    if RESERVED_HEADERS.contains(&lower.as_str()) || RESERVED_HEADER_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return Err(ApiError::invalid(loc, format!("{name:?} is set by Hookwire and cannot be used")));
    }
    Ok(())
}

pub fn check_headers(headers: &BTreeMap<String, String>) -> ApiResult<()> {
    if headers.len() > HEADERS_PER_ENDPOINT_MAX {
        return Err(ApiError::invalid(&["body", "headers"], format!("at most {HEADERS_PER_ENDPOINT_MAX} headers")));
    }
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(ApiError::invalid(&["body", "headers", name], "not a valid header name"));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) || RESERVED_HEADER_PREFIXES.iter().any(|p| lower.starts_with(p)) {
            return Err(ApiError::invalid(
                &["body", "headers", name],
                "this header is set by Hookwire and cannot be overridden",
            ));
        }
        if value.len() > HEADER_VALUE_LENGTH_MAX || HeaderValue::from_str(value).is_err() {
            return Err(ApiError::invalid(&["body", "headers", name], "not a valid header value"));
        }
        if value.starts_with(hookwire_core::crypto::SEALED_PREFIX) {
            // Values are sealed at rest with this prefix: one that carries it could not be told
            // from a sealed one.
            return Err(ApiError::invalid(
                &["body", "headers", name],
                format!("a value may not start with {:?}", hookwire_core::crypto::SEALED_PREFIX),
            ));
        }
    }
    Ok(())
}
