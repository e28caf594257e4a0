//! Request ids and the request span. Every request gets an `x-request-id` — the caller's, when
//! it is short and plain, otherwise a new UUIDv7 — echoed on the response; every log line
//! written while handling the request carries it through the `request` span, with the method
//! and the matched route (a template, so ids in paths stay out of the logs); one `request
//! finished` line per request adds status and latency.
//! Must not: log bodies, headers or tokens.

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::response::Response;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// The longest caller-chosen request id kept; longer ones are replaced.
pub const REQUEST_ID_LEN_MAX: usize = 128;
const REQUEST_ID_HEADER: &str = "x-request-id";

/// Wraps `router` (every route and the fallback) in the request-id and tracing layers.
pub fn layer<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    let trace = TraceLayer::new_for_http()
        .make_span_with(request_span)
        .on_request(())
        .on_response(|response: &Response, latency: Duration, _: &Span| {
            let latency_ms = latency.as_millis() as u64;
            tracing::info!(status = response.status().as_u16(), latency_ms, "request finished");
        })
        .on_failure(());
    // The last layer added runs first: sanitize, then set the id, then echo it, then trace.
    router
        .layer(trace)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuidV7))
        .layer(axum::middleware::map_request(drop_unusable_request_id))
}

/// New request ids: UUIDv7, so they sort by time like Hookwire's own ids.
#[derive(Clone, Copy)]
struct MakeRequestUuidV7;

impl MakeRequestId for MakeRequestUuidV7 {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Whether a caller's request id may be kept: short, and only characters safe in any log format.
pub fn is_usable_request_id(value: &[u8]) -> bool {
    (1..=REQUEST_ID_LEN_MAX).contains(&value.len())
        && value.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

async fn drop_unusable_request_id(mut request: Request) -> Request {
    let headers = request.headers_mut();
    let mut values = headers.get_all(REQUEST_ID_HEADER).iter();
    let usable = match (values.next(), values.next()) {
        (None, _) => true,
        (Some(one), None) => is_usable_request_id(one.as_bytes()),
        _ => false, // several: none is more trustworthy than the others
    };
    if !usable {
        headers.remove(REQUEST_ID_HEADER);
    }
    request
}

fn request_span(request: &Request) -> Span {
    let request_id = request.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok());
    // Unmatched requests (404s) log their raw path: there is no template to log instead.
    let path = request.extensions().get::<MatchedPath>().map_or(request.uri().path(), MatchedPath::as_str);
    tracing::info_span!(
        "request",
        method = %request.method(),
        path,
        request_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_request_ids_are_kept_only_when_short_and_plain() {
        let kept: Vec<bool> =
            ["abc-123", "0190f1e2-7c3a-7d4e-8f00-1a2b3c4d5e6f", "trace:1.2_3", "", "a b", "x\"y", "é"]
                .iter()
                .map(|v| is_usable_request_id(v.as_bytes()))
                .collect();
        assert_eq!(kept, [true, true, true, false, false, false, false]);
        assert!(!is_usable_request_id(&[b'a'; REQUEST_ID_LEN_MAX + 1]));
    }
}
