//! Delivery activity over time (Hookwire): what the portal's and the dashboard's charts draw,
//! from the counts Hookwire keeps itself (`crate::activity`). One application's, one
//! endpoint's, or (admin) every application's with the queue's depth.

use axum::Json;
use axum::extract::{Path, State};
use hookwire_core::activity::{Bucket, Counts, Resolution};
use hookwire_core::time_fmt::{Millis, format_millis};
use hookwire_core::{AppId, EndpointId};
use hookwire_store::ActivityQuery;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::activity::{RangeError, Series, resolution_for};
use crate::api::apps::load_app;
use crate::api::endpoints::load_endpoint;
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{Admin, QueryPairs};
use crate::auth::Principal;
use crate::state::AppState;

/// A range read when none is given: the last day.
const DEFAULT_RANGE_MS: Millis = 86_400_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(app_activity)).routes(routes!(endpoint_activity)).routes(routes!(all_activity))
}

/// Counts over a range, or in one bucket.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityCountsOut {
    /// Attempts answered with a 2xx.
    pub succeeded: u64,
    /// Attempts that failed (a retry may follow).
    pub failed: u64,
    /// Deliveries whose retries ran out (also counted in `failed`).
    pub exhausted: u64,
    /// `succeeded / (succeeded + failed)`; null without attempts.
    pub success_rate: Option<f64>,
    /// Attempt durations' median and 99th percentile, in ms (from fixed buckets, interpolated).
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
}

impl From<&Counts> for ActivityCountsOut {
    fn from(c: &Counts) -> Self {
        Self {
            succeeded: c.succeeded,
            failed: c.failed,
            exhausted: c.exhausted,
            success_rate: c.success_rate(),
            p50_ms: c.percentile_ms(0.5),
            p99_ms: c.percentile_ms(0.99),
        }
    }
}

/// Pending deliveries sampled in a bucket (the largest sample).
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueOut {
    pub due: u64,
    pub scheduled: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityBucketOut {
    pub start: String,
    #[serde(flatten)]
    pub counts: ActivityCountsOut,
    /// Every-application reads only; null for a bucket nobody sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<Option<QueueOut>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityOut {
    /// `minute` or `hour`: the length of each bucket.
    pub resolution: String,
    pub since: String,
    pub until: String,
    /// Every bucket of the range, oldest first, empty ones included.
    pub data: Vec<ActivityBucketOut>,
    pub total: ActivityCountsOut,
}

/// The range and resolution a query asks for: `since` (default a day before `until`), `until`
/// (default now), `resolution` (`minute` or `hour`; by the minute for six hours or less).
fn range(state: &AppState, query: &QueryPairs) -> ApiResult<(Resolution, Millis, Millis)> {
    let now = state.clock.now();
    let until = query.timestamp("until")?.unwrap_or(now);
    let since = query.timestamp("since")?.unwrap_or(until - DEFAULT_RANGE_MS);
    let asked = query
        .get("resolution")
        .map(|name| {
            Resolution::parse(name)
                .ok_or_else(|| ApiError::invalid(&["query", "resolution"], "must be \"minute\" or \"hour\""))
        })
        .transpose()?;
    let resolution = resolution_for(asked, since, until, now).map_err(|error| match error {
        RangeError::Backwards => ApiError::invalid(&["query", "since"], error.to_string()),
        RangeError::TooLong(..) => ApiError::invalid(&["query", "since"], error.to_string()),
    })?;
    Ok((resolution, since, until))
}

async fn read(
    state: &AppState,
    query: &QueryPairs,
    app: Option<AppId>,
    endpoint: Option<EndpointId>,
) -> ApiResult<(Series, Millis, Millis)> {
    let (resolution, since, until) = range(state, query)?;
    let series = state.activity.series(ActivityQuery { app, endpoint, resolution, since, until }).await?;
    Ok((series, since, until))
}

fn render(series: &Series, since: Millis, until: Millis, queue: Option<Vec<Option<QueueOut>>>) -> ActivityOut {
    let mut queue = queue.map(Vec::into_iter);
    let data = series
        .buckets
        .iter()
        .map(|Bucket { start, counts }| ActivityBucketOut {
            start: format_millis(*start),
            counts: counts.into(),
            queue: queue.as_mut().map(|q| q.next().flatten()),
        })
        .collect();
    ActivityOut {
        resolution: series.resolution.name().to_owned(),
        since: format_millis(since),
        until: format_millis(until),
        data,
        total: (&series.total()).into(),
    }
}

/// Delivery activity of an application's endpoints over time (Hookwire).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/activity", tag = "Activity",
    params(("app_id" = String, Path), ("since" = Option<String>, Query), ("until" = Option<String>, Query),
        ("resolution" = Option<String>, Query)),
    responses((status = 200, body = ActivityOut)))]
async fn app_activity(
    State(state): State<AppState>,
    principal: Principal,
    Path(app_id): Path<String>,
    query: QueryPairs,
) -> ApiResult<Json<ActivityOut>> {
    let app = load_app(&state, principal, &app_id).await?;
    let (series, since, until) = read(&state, &query, Some(app.id), None).await?;
    Ok(Json(render(&series, since, until, None)))
}

/// Delivery activity of one endpoint over time (Hookwire).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/activity", tag = "Activity",
    params(("app_id" = String, Path), ("endpoint_id" = String, Path), ("since" = Option<String>, Query),
        ("until" = Option<String>, Query), ("resolution" = Option<String>, Query)),
    responses((status = 200, body = ActivityOut)))]
async fn endpoint_activity(
    State(state): State<AppState>,
    principal: Principal,
    Path((app_id, endpoint_id)): Path<(String, String)>,
    query: QueryPairs,
) -> ApiResult<Json<ActivityOut>> {
    let (app, endpoint) = load_endpoint(&state, principal, &app_id, &endpoint_id).await?;
    let (series, since, until) = read(&state, &query, Some(app.id), Some(endpoint.id)).await?;
    Ok(Json(render(&series, since, until, None)))
}

/// Delivery activity of every application, with the queue's depth (Hookwire; admin only).
#[utoipa::path(get, path = "/api/v1/activity", tag = "Activity",
    params(("since" = Option<String>, Query), ("until" = Option<String>, Query), ("resolution" = Option<String>, Query)),
    responses((status = 200, body = ActivityOut)))]
async fn all_activity(State(state): State<AppState>, _admin: Admin, query: QueryPairs) -> ApiResult<Json<ActivityOut>> {
    let (series, since, until) = read(&state, &query, None, None).await?;
    let queue = state.activity.queue(series.resolution, since, until).await?;
    let queue =
        queue.into_iter().map(|(_, sample)| sample.map(|s| QueueOut { due: s.due, scheduled: s.scheduled })).collect();
    Ok(Json(render(&series, since, until, Some(queue))))
}
