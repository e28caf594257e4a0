//! `GET /metrics`: the server's metrics in the Prometheus text format. Protected by the admin
//! token unless `metrics_public` is set: the per-endpoint series name endpoint ids.

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::error::ApiResult;
use super::extract::Admin;
use crate::metrics::exposition::{DestinationLag, render};
use crate::state::AppState;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `/metrics` route (outside the OpenAPI document: it is not part of the Svix API).
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>, request: Request) -> ApiResult<impl IntoResponse> {
    if !state.config.metrics_public {
        let (mut parts, _) = request.into_parts();
        Admin::from_request_parts(&mut parts, &state).await?;
    }
    let now = state.clock.now();
    let queue = state.store.queue_depth(now).await?;
    let flow = state.dispatcher.flow_summary(now);
    let mut lags = Vec::new();
    for d in state.store.all_destinations(state.config.metrics_endpoint_labels_max).await? {
        if let Some(lag) = super::destinations::lag(&state, &d).await? {
            let (app, destination, kind) = (d.app_id.to_string(), d.id.to_string(), d.kind.as_str());
            lags.push(DestinationLag { app, destination, kind, lag });
        }
    }
    let out = render(&state.metrics, &queue, &flow, &lags);
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], out))
}
