//! The endpoints table of an application's page as a health summary: each endpoint's success
//! rate and latency over its latest attempts, its deliveries still failing or waiting (the
//! store's endpoint stats), and its last attempt, failing endpoints first. Reads only.

use hookwire_core::model::{Application, Attempt, Endpoint, Status};
use hookwire_core::time_fmt::Millis;
use hookwire_store::AttemptScope;

use super::dashboard::{attempt_filter, event_types_text, reason};
use super::html::{UiResult, endpoint_badge, esc, status_badge, time};
use crate::state::AppState;

/// Attempts an endpoint's success rate and latency are counted over.
pub const RATE_ATTEMPTS: usize = 100;

/// The table's headings, in the order `rows` writes its cells.
pub const HEADINGS: [&str; 7] =
    ["URL", "Status", "Event types", "Success rate", "Latency p50 / p95", "Deliveries", "Last attempt"];

/// One endpoint's row and what orders it.
struct Summary {
    /// Its latest attempt failed.
    failing: bool,
    /// Successes per attempt, over its latest attempts (none yet: `None`).
    rate: Option<f64>,
    row: String,
}

/// The rows of `endpoints`, failing ones first, then by success rate (lowest first); endpoints
/// without attempts last, in their listed order.
pub async fn rows(state: &AppState, app: &Application, endpoints: &[Endpoint]) -> UiResult<String> {
    let mut summaries = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        summaries.push(summary(state, app, endpoint).await?);
    }
    summaries.sort_by(|a, b| {
        let rate = |s: &Summary| s.rate.unwrap_or(f64::INFINITY);
        b.failing.cmp(&a.failing).then(rate(a).total_cmp(&rate(b)))
    });
    Ok(summaries.into_iter().map(|s| s.row).collect())
}

async fn summary(state: &AppState, app: &Application, endpoint: &Endpoint) -> UiResult<Summary> {
    // The rate counts attempts, failing ones included: deliveries still retrying count too.
    let filter = attempt_filter(AttemptScope::Endpoint(endpoint.id), RATE_ATTEMPTS, None);
    let attempts = state.store.list_attempts(app.id, &filter).await?;
    let stats = state.store.endpoint_stats(endpoint.id, Millis::MIN, Millis::MAX).await?;
    let succeeded = attempts.iter().filter(|a| a.status == Status::Success).count();
    let rate = (!attempts.is_empty()).then(|| succeeded as f64 / attempts.len() as f64);
    let rate_text = match rate {
        None => "<span class=\"muted\">no attempts yet</span>".to_owned(),
        Some(rate) => format!(
            "{:.0}% <span class=\"muted\">({succeeded} of the last {} attempts)</span>",
            rate * 100.0,
            attempts.len()
        ),
    };
    let last = match attempts.first() {
        Some(a) => {
            format!("{} {} <span class=\"muted\">{}</span>", status_badge(a.status), time(a.timestamp), reason(a))
        }
        None => "<span class=\"muted\">never</span>".to_owned(),
    };
    let mut deliveries = Vec::new();
    if stats.fail > 0 {
        deliveries.push(format!("<span class=\"badge bad\">{} failed</span>", stats.fail));
    }
    if stats.pending + stats.sending > 0 {
        deliveries.push(format!("<span class=\"badge wait\">{} pending</span>", stats.pending + stats.sending));
    }
    let failing = attempts.first().is_some_and(|a| a.status == Status::Fail);
    let row = format!(
        "<tr data-endpoint=\"{id}\"{class}><td><a href=\"/ui/apps/{app_id}/endpoints/{id}\">{url}</a>{description}</td>\
         <td>{status}</td><td>{types}</td><td class=\"num\">{rate_text}</td><td class=\"num\">{latency}</td>\
         <td>{deliveries}</td><td>{last}</td></tr>",
        class = if failing { " class=\"failing\"" } else { "" },
        app_id = app.id,
        id = endpoint.id,
        url = esc(&endpoint.url),
        description = if endpoint.description.is_empty() {
            String::new()
        } else {
            format!("<div class=\"muted\">{}</div>", esc(&endpoint.description))
        },
        status = endpoint_badge(endpoint.status()),
        types = event_types_text(endpoint.event_types.as_deref()),
        latency = latency(&attempts),
        deliveries =
            if deliveries.is_empty() { "<span class=\"muted\">—</span>".to_owned() } else { deliveries.join(" ") },
    );
    Ok(Summary { failing, rate, row })
}

/// The median and 95th percentile of the attempts' durations (nearest rank), or "—".
fn latency(attempts: &[Attempt]) -> String {
    let mut durations: Vec<u64> = attempts.iter().map(|a| a.response_duration_ms).collect();
    if durations.is_empty() {
        return "<span class=\"muted\">—</span>".to_owned();
    }
    durations.sort_unstable();
    let rank = |percent: usize| durations[(durations.len() * percent).div_ceil(100).max(1) - 1];
    format!("{} ms / {} ms", rank(50), rank(95))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_nearest_rank() {
        let attempt = |ms| Attempt {
            id: hookwire_core::AttemptId::generate(),
            app_id: hookwire_core::AppId::generate(),
            msg_id: hookwire_core::MessageId::generate(),
            endpoint_id: hookwire_core::EndpointId::generate(),
            delivery_id: hookwire_core::DeliveryId::generate(),
            url: String::new(),
            status: Status::Success,
            response_status_code: 200,
            response: String::new(),
            response_duration_ms: ms,
            error_kind: None,
            trigger_type: hookwire_core::model::TriggerType::Scheduled,
            timestamp: 0,
        };
        let cases: [(&[u64], &str); 3] = [
            (&[], "<span class=\"muted\">—</span>"),
            (&[7], "7 ms / 7 ms"),
            (&[40, 10, 30, 20, 1000], "30 ms / 1000 ms"),
        ];
        for (durations, expected) in cases {
            let attempts: Vec<Attempt> = durations.iter().map(|ms| attempt(*ms)).collect();
            assert_eq!(latency(&attempts), expected, "{durations:?}");
        }
    }
}
