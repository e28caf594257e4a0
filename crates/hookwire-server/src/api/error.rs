//! API errors, translated once: every failure becomes `{code, detail}` with the right status.
//! Validation failures (422) carry a list in `detail` (`[{loc, msg, type}]`), the shape Svix's
//! SDKs parse; every other error carries a sentence.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hookwire_store::StoreError;
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: Detail,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Detail {
    Text(String),
    Validation(Vec<ValidationItem>),
}

#[derive(Debug, Serialize)]
pub struct ValidationItem {
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: Detail::Text(detail.into()) }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_failed", "a valid bearer token is required")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// A 422 naming the field (`loc`, e.g. `["body", "url"]`) and what is wrong with it.
    pub fn invalid(loc: &[&str], msg: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_error",
            detail: Detail::Validation(vec![ValidationItem {
                loc: loc.iter().map(|s| s.to_string()).collect(),
                msg: msg.into(),
                kind: "value_error",
            }]),
        }
    }

    /// A request body that did not arrive within the server's body deadline.
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time; send it at once",
        )
    }

    /// A request body that could not be read whole: too slow (408), too large (413), or cut off.
    pub fn unreadable_body(error: &axum::Error) -> Self {
        if crate::serve::body_timed_out(error) {
            return Self::request_timeout();
        }
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(current) = cause {
            if current.is::<http_body_util::LengthLimitError>() {
                return Self::request_too_large();
            }
            cause = current.source();
        }
        Self::bad_request(format!("cannot read the request body: {error}"))
    }

    /// A request body over `REQUEST_BODY_BYTES_MAX`.
    pub fn request_too_large() -> Self {
        let detail = format!("request body exceeds {} bytes", hookwire_core::limits::REQUEST_BODY_BYTES_MAX);
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", detail)
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error; see the server log")
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { what } => Self::conflict(format!("{what} already exists")),
            StoreError::NotFound { what } => Self::not_found(what),
            StoreError::Invalid(why) => Self::invalid(&["query", "iterator"], why),
            StoreError::Closed => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "the server is shutting down")
            }
            unavailable if unavailable.is_unavailable() => {
                log_unavailable(&unavailable);
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database is unavailable (failing over, or not answering); retry shortly (an idempotency key makes a retried create safe)",
                )
            }
            // Logged once per episode by the store, not once per request.
            full if full.is_storage_full() => Self::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                "the server's storage is full, so nothing was written; retry once the operator has freed space",
            ),
            other => {
                let chain = error_chain(&other);
                tracing::error!(error = %chain, "storage failure");
                Self::internal()
            }
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(error: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError;
        match error {
            AuthError::Unauthenticated => Self::unauthorized(),
            AuthError::Forbidden(detail) => Self::forbidden(detail),
            AuthError::OtherApplication => Self::not_found("application"),
            AuthError::Store(error) => error.into(),
        }
    }
}

impl From<crate::intake::IntakeError> for ApiError {
    fn from(error: crate::intake::IntakeError) -> Self {
        use crate::intake::IntakeError;
        use hookwire_core::payload::PayloadError;
        match error {
            IntakeError::Store(error) => error.into(),
            IntakeError::Payload(PayloadError::TooLarge) => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", PayloadError::TooLarge.to_string())
            }
            IntakeError::Payload(other) => Self::invalid(&["body", "payload"], other.to_string()),
            IntakeError::UnknownEventType(_) => Self::invalid(&["body", "eventType"], error.to_string()),
            IntakeError::PayloadGone(_) => Self::new(StatusCode::BAD_REQUEST, "missing_payload", error.to_string()),
            IntakeError::Schema { ref path, .. } => {
                let mut loc = vec!["body", "payload"];
                loc.extend(path.split('/').filter(|s| !s.is_empty()));
                Self::invalid(&loc, error.to_string())
            }
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    detail: &'a Detail,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { code: self.code, detail: &self.detail };
        (self.status, axum::Json(body)).into_response()
    }
}

/// Logs a database outage at most once per `UNAVAILABLE_LOG_INTERVAL_MS`, with how many
/// requests it refused meanwhile: an outage under load must not become a log flood.
fn log_unavailable(error: &StoreError) {
    use std::sync::atomic::{AtomicU64, Ordering};
    const UNAVAILABLE_LOG_INTERVAL_MS: u64 = 5_000;
    static LAST_LOGGED_MS: AtomicU64 = AtomicU64::new(0);
    static REFUSED: AtomicU64 = AtomicU64::new(0);
    let refused = REFUSED.fetch_add(1, Ordering::Relaxed) + 1;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let last = LAST_LOGGED_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= UNAVAILABLE_LOG_INTERVAL_MS
        && LAST_LOGGED_MS.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    {
        REFUSED.store(0, Ordering::Relaxed);
        tracing::warn!(error = %error_chain(error), refused, "database unavailable: requests answered 503");
    }
}
