//! Request extractors whose failures are `ApiError`s: JSON bodies, query strings, ids and the
//! caller's identity.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::auth::Principal;
use crate::state::AppState;

/// A JSON body; syntax errors are 400, shape errors 422 naming the field, too large 413.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// The body an operation without one may still be sent: `{}` (a field in it is refused by name,
/// not ignored; `params::refuse_unknown` reads it).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// Whether a request carries a body: a `Content-Length` other than 0, or a `Transfer-Encoding`.
pub fn has_body(headers: &axum::http::HeaderMap) -> bool {
    match headers.get(axum::http::header::CONTENT_LENGTH) {
        Some(length) => length.as_bytes() != b"0",
        None => headers.contains_key(axum::http::header::TRANSFER_ENCODING),
    }
}

/// A JSON body whose every field is optional: a request with no body at all (no
/// `Content-Length`, or 0, and no `Transfer-Encoding`) reads as `{}`, since Svix's SDKs send
/// none for such calls. A body that is present is read as `JsonBody` reads it.
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        if !has_body(request.headers()) {
            return Ok(Self(T::default()));
        }
        JsonBody::from_request(request, state).await.map(|JsonBody(value)| Self(value))
    }
}

pub(super) fn json_rejection(rejection: JsonRejection) -> ApiError {
    if crate::serve::body_timed_out(&rejection) {
        return ApiError::request_timeout();
    }
    let text = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => {
            // "Failed to deserialize the JSON body into the target type: url: missing field …";
            // a top-level field unknown or missing has no path, only its name in the message.
            let detail = text.split_once("target type: ").map_or(text.as_str(), |(_, rest)| rest);
            let named =
                |prefix: &str| detail.strip_prefix(prefix).and_then(|rest| rest.split_once('`')).map(|(n, _)| n);
            let top = named("unknown field `").or_else(|| named("missing field `"));
            let field = top.or_else(|| detail.split_once(": ").map(|(path, _)| path).filter(|p| !p.contains(' ')));
            let loc: Vec<&str> = std::iter::once("body").chain(field.into_iter().flat_map(|f| f.split('.'))).collect();
            ApiError::invalid(&loc, detail)
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request(format!("invalid JSON: {text}")),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected `Content-Type: application/json`",
        ),
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::request_too_large(),
        _ => ApiError::new(rejection.status(), "bad_request", text),
    }
}

/// Query string as ordered pairs: repeated keys and comma-separated lists both work.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(Self)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))
    }
}

impl QueryPairs {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (one of `params::LIST_PARAMETERS`), however spelled (`key`, `key[]`,
    /// `key[0]`), splitting comma-separated values.
    pub fn list(&self, key: &str) -> Vec<String> {
        debug_assert!(super::params::LIST_PARAMETERS.contains(&key), "{key} is not a list parameter");
        self.0
            .iter()
            .filter(|(k, _)| super::params::base_name(k) == key)
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key)
            .map(|v| match v {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(ApiError::invalid(&["query", key], format!("expected true or false, got {v:?}"))),
            })
            .transpose()
    }

    pub fn timestamp(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| hookwire_core::time_fmt::parse(v).map_err(|e| ApiError::invalid(&["query", key], e)))
            .transpose()
    }

    /// A delivery or attempt status filter: `status=0..=4`.
    pub fn status(&self) -> Result<Option<hookwire_core::model::Status>, ApiError> {
        self.number::<i64>("status")?
            .map(|code| {
                hookwire_core::model::Status::from_code(code)
                    .ok_or_else(|| ApiError::invalid(&["query", "status"], "must be 0..=4"))
            })
            .transpose()
    }

    pub fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        self.get(key)
            .map(|v| v.parse().map_err(|_| ApiError::invalid(&["query", key], format!("expected a number, got {v:?}"))))
            .transpose()
    }
}

/// The bearer token of a request, if it carries one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let header = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok())?;
    let token = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer "))?.trim();
    (!token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(*principal); // already authenticated by the scope check
        }
        let token = bearer(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        Ok(state.auth.authenticate(state.store.as_ref(), token).await?)
    }
}

/// The caller must hold the admin token; resolved before the body is read, so an application
/// token gets 403 whatever it sends.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Principal::from_request_parts(parts, state).await?.require_admin()?;
        Ok(Self)
    }
}

/// `event_types`, `channel` and `tag`: conditions on each item's message.
pub fn message_match(query: &QueryPairs) -> super::error::ApiResult<hookwire_store::MessageMatch> {
    let event_types = query.list("event_types");
    for name in &event_types {
        super::validate::event_type_name("event_types", name, false)
            .map_err(|_| ApiError::invalid(&["query", "event_types"], format!("{name:?} is not an event type name")))?;
    }
    let tag = query.get("tag").map(str::to_owned);
    if let Some(tag) = &tag {
        super::validate::tags("tag", std::slice::from_ref(tag))
            .map_err(|_| ApiError::invalid(&["query", "tag"], format!("{tag:?} is not a tag")))?;
    }
    Ok(hookwire_store::MessageMatch { event_types, channel: query.get("channel").map(str::to_owned), tag })
}
