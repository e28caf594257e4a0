//! The dashboard's overview: delivery activity across every application over the last hour,
//! day or week (attempts, success rate, latency p50/p99, queue depth), drawn from the counts
//! Hookwire keeps itself (`crate::activity`), and the endpoints that failed most in that time,
//! failing ones first. Also the activity charts of one application's or one endpoint's page.

use axum::extract::State;
use hookwire_core::activity::{Counts, Resolution};
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, EndpointId};
use hookwire_store::ActivityQuery;

use super::chart::{Chart, Layer, activity_charts};
use super::dashboard::table;
use super::html::{Section, UiResult, esc, page};
use super::session::Operator;
use crate::api::error::ApiError;
use crate::api::extract::QueryPairs;
use crate::state::AppState;

/// Endpoints listed under "Most failed".
const FAILING_SHOWN: usize = 20;

/// The periods the overview offers: query value, label, length, resolution.
const PERIODS: [(&str, &str, Millis, Resolution); 3] = [
    ("1h", "Last hour", 3_600_000, Resolution::Minute),
    ("1d", "Last day", 86_400_000, Resolution::Hour),
    ("7d", "Last week", 7 * 86_400_000, Resolution::Hour),
];

/// The `period` query parameter (default the last day) as its entry in `PERIODS`.
fn period(asked: Option<&str>) -> Result<(&'static str, &'static str, Millis, Resolution), ApiError> {
    let asked = asked.unwrap_or("1d");
    PERIODS
        .into_iter()
        .find(|p| p.0 == asked)
        .ok_or_else(|| ApiError::invalid(&["query", "period"], format!("{asked:?} is not a period: use 1h, 1d or 7d")))
}

fn period_links(base: &str, current: &str) -> String {
    let links: String = PERIODS
        .iter()
        .map(|(value, label, ..)| {
            let current = if *value == current { " aria-current=\"page\" class=\"current\"" } else { "" };
            format!("<a href=\"{base}period={value}\"{current}>{label}</a>")
        })
        .collect();
    format!("<nav class=\"periods\" aria-label=\"Period\">{links}</nav>")
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or("—".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

fn ms(value: Option<u64>) -> String {
    value.map_or("—".to_owned(), |v| format!("{v} ms"))
}

/// The headline figures of a period's totals.
fn tiles(total: &Counts, extra: &str) -> String {
    format!(
        "<div class=\"tiles\">\
         <div class=\"tile\"><span class=\"figure\">{attempts}</span><span class=\"label\">attempts</span></div>\
         <div class=\"tile\"><span class=\"figure\">{rate}</span><span class=\"label\">succeeded</span></div>\
         <div class=\"tile\"><span class=\"figure\">{p50} · {p99}</span><span class=\"label\">latency p50 · p99</span></div>\
         <div class=\"tile\"><span class=\"figure\">{exhausted}</span><span class=\"label\">failed for good</span></div>{extra}</div>",
        attempts = total.attempts(),
        rate = percent(total.success_rate()),
        p50 = ms(total.percentile_ms(0.5)),
        p99 = ms(total.percentile_ms(0.99)),
        exhausted = total.exhausted,
    )
}

pub async fn show(_: Operator, State(state): State<AppState>, query: QueryPairs) -> UiResult {
    let (value, label, length, resolution) = period(query.get("period"))?;
    let until = state.clock.now();
    let since = until - length;
    let scope = ActivityQuery { app: None, endpoint: None, resolution, since, until };
    let series = state.activity.series(scope).await?;
    let queue = state.activity.queue(resolution, since, until).await?;
    let now = state.store.queue_depth(until).await?;
    let queue_chart = Chart {
        title: "Queue depth",
        unit: "",
        resolution,
        starts: queue.iter().map(|(start, _)| *start).collect(),
        bars: vec![],
        lines: vec![
            Layer {
                class: "chart-line",
                label: "Due",
                values: queue.iter().map(|(_, s)| s.map(|s| s.due as f64)).collect(),
            },
            Layer {
                class: "chart-line-alt",
                label: "Scheduled",
                values: queue.iter().map(|(_, s)| s.map(|s| s.scheduled as f64)).collect(),
            },
        ],
        floor_max: 10.0,
    };
    let queue_tile = format!(
        "<div class=\"tile\"><span class=\"figure\">{} · {}</span><span class=\"label\">queue now: due · scheduled</span></div>",
        now.due, now.scheduled
    );
    let failing = failing_table(&state, scope).await?;
    let body = format!(
        "<h1>Overview</h1>{periods}<p class=\"muted\">{label}, every application, by the {unit} (UTC).</p>{tiles}\
         {charts}<h2>Most failed endpoints</h2>{failing}",
        periods = period_links("/ui/overview?", value),
        unit = resolution.name(),
        tiles = tiles(&series.total(), &queue_tile),
        charts = activity_charts(&series, &queue_chart.render()),
    );
    Ok(page(Section::Overview, "Overview", &body))
}

/// The endpoints in `scope` with the most failed attempts, then the most attempts.
async fn failing_table(state: &AppState, scope: ActivityQuery) -> UiResult<String> {
    let found = state.activity.by_endpoint(scope, FAILING_SHOWN).await?;
    let mut rows = String::new();
    for e in found {
        let app = state.store.get_app(&e.app_id.to_string()).await?;
        let endpoint = state.store.get_endpoint(e.app_id, &e.endpoint_id.to_string()).await?;
        let (Some(app), Some(endpoint)) = (app, endpoint) else { continue };
        let class = if e.counts.failed > 0 { " class=\"failing\"" } else { "" };
        rows.push_str(&format!(
            "<tr{class}><td><a href=\"/ui/apps/{app_id}/endpoints/{id}\">{url}</a></td>\
             <td><a href=\"/ui/apps/{app_id}\">{app_name}</a></td><td class=\"num\">{failed}</td>\
             <td class=\"num\">{succeeded}</td><td class=\"num\">{rate}</td><td class=\"num\">{p99}</td></tr>",
            app_id = app.id,
            id = endpoint.id,
            url = esc(&endpoint.url),
            app_name = esc(&app.name),
            failed = e.counts.failed,
            succeeded = e.counts.succeeded,
            rate = percent(e.counts.success_rate()),
            p99 = ms(e.counts.percentile_ms(0.99)),
        ));
    }
    Ok(table(
        &["Endpoint", "Application", "Failed", "Succeeded", "Success rate", "p99"],
        &rows,
        "No attempts in this period.",
    ))
}

/// An application's or an endpoint's activity over the last day (or the `period` asked), as
/// a section of its page: the figures and the charts.
pub async fn section(
    state: &AppState,
    asked: Option<&str>,
    base: &str,
    app: AppId,
    endpoint: Option<EndpointId>,
) -> UiResult<String> {
    let (value, label, length, resolution) = period(asked)?;
    let until = state.clock.now();
    let scope = ActivityQuery { app: Some(app), endpoint, resolution, since: until - length, until };
    let series = state.activity.series(scope).await?;
    Ok(format!(
        "<section class=\"activity\" aria-label=\"Activity\"><h2>Activity</h2>{periods}<p class=\"muted\">{label}, by the {unit} (UTC).</p>{tiles}{charts}</section>",
        periods = period_links(base, value),
        unit = resolution.name(),
        tiles = tiles(&series.total(), ""),
        charts = activity_charts(&series, ""),
    ))
}
