//! The dashboard's attempt log across an application: every endpoint's attempts, newest first,
//! filtered by status, answer class, endpoint, event type, tag, channel and time, paged by
//! iterator; a failed attempt whose delivery goes again says when. The store lists attempts per
//! endpoint or per message, so the page asks each endpoint (at most `ENDPOINTS_SEARCHED_MAX`)
//! for one page and merges them by id (ids are time-ordered). Reads only.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use axum::extract::{Path, State};
use hookwire_core::model::{Application, Attempt, Delivery, Endpoint, Status};
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AttemptId, EndpointId, MessageId};
use hookwire_store::{AttemptFilter, AttemptScope};

use super::dashboard::{attempt_filter, code, next_page_link, reason, table};
use super::html::{Section, UiResult, esc, page, status_badge, time, url_part};
use super::messages::{form_time, status_param};
use super::session::Operator;
use crate::api::apps::load_app;
use crate::api::error::ApiError;
use crate::api::extract::{QueryPairs, message_match};
use crate::api::page::{id_iterator, list_response, page_from};
use crate::auth::Principal;
use crate::state::AppState;

/// Endpoints one page of the attempt log asks, when no endpoint is chosen; each is one query.
pub const ENDPOINTS_SEARCHED_MAX: usize = 100;
/// Attempts of one message read to tell whether a failed attempt is its delivery's latest.
const MESSAGE_ATTEMPTS_READ_MAX: usize = 100;
/// An attempt is sent or failed: the other statuses belong to deliveries.
const ATTEMPT_STATUSES: [Status; 2] = [Status::Success, Status::Fail];
/// The answer classes the form offers: its value, the store's class (0: no answer), the label.
const CODE_CLASSES: [(&str, u16, &str); 6] = [
    ("2xx", 200, "2xx"),
    ("3xx", 300, "3xx"),
    ("4xx", 400, "4xx"),
    ("5xx", 500, "5xx"),
    ("1xx", 100, "1xx"),
    ("none", 0, "no answer"),
];
/// The query parameters this page reads; any other is refused, naming it.
const QUERY_KEYS: [&str; 11] = [
    "status",
    "code_class",
    "endpoint",
    "event_types",
    "tag",
    "channel",
    "since",
    "until",
    "iterator",
    "limit",
    "order",
];

pub async fn list(
    _: Operator,
    State(state): State<AppState>,
    Path(app_key): Path<String>,
    query: QueryPairs,
) -> UiResult {
    let app = load_app(&state, Principal::Admin, &app_key).await?;
    refuse_unknown(&query, &QUERY_KEYS)?;
    let query = trimmed(&query);
    let endpoints = state.store.app_endpoints(app.id).await?;
    let filter = read_filter(&query, &endpoints, state.clock.now())?;
    let (attempts, capped) = merged_page(&state, &app, &endpoints, &filter).await?;
    let list = list_response(&filter.page, attempts, |a| a.id.to_string(), |a| a);
    let mut retries = RetryLookup::default();
    let mut rows = String::new();
    for attempt in &list.data {
        let note = retries.note(&state, &app, attempt).await?;
        rows.push_str(&attempt_row(&app, &endpoints, attempt, &note));
    }
    let table = table(
        &["Time (UTC)", "Endpoint", "Message", "Status", "HTTP status", "Failure reason"],
        &rows,
        "No attempts match.",
    );
    let base = format!("/ui/apps/{}/attempts?{}", app.id, carried(&query));
    let more = next_page_link(&base, list.iterator.as_deref().filter(|_| !list.done));
    let capped = if capped {
        format!(
            "<p class=\"muted\">This application has {} endpoints: the first {ENDPOINTS_SEARCHED_MAX} are searched. \
             Choose an endpoint to see another's attempts.</p>",
            endpoints.len()
        )
    } else {
        String::new()
    };
    let body = format!(
        "<p class=\"crumbs\"><a href=\"/ui/apps\">Applications</a> / <a href=\"/ui/apps/{app_id}\">{app_name}</a> /</p>\
         <h1>Attempts</h1>{form}{capped}{table}{more}",
        app_id = app.id,
        app_name = esc(&app.name),
        form = filter_form(&query, &endpoints),
    );
    Ok(page(Section::Apps, "Attempts", &body))
}

/// A 422 naming the first query parameter this page does not read.
pub fn refuse_unknown(query: &QueryPairs, known: &[&str]) -> Result<(), ApiError> {
    match query.0.iter().find(|(key, _)| !known.contains(&key.as_str())) {
        Some((key, _)) => Err(ApiError::invalid(&["query", key], "not a parameter of this page")),
        None => Ok(()),
    }
}

/// The query with every value trimmed, empty fields (a form's blank inputs) left out, and the
/// event-type list's names trimmed.
fn trimmed(query: &QueryPairs) -> QueryPairs {
    let pairs = query
        .0
        .iter()
        .map(|(key, value)| {
            let value = if key == "event_types" {
                value.split(',').map(str::trim).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(",")
            } else {
                value.trim().to_owned()
            };
            (key.clone(), value)
        })
        .filter(|(_, value)| !value.is_empty())
        .collect();
    QueryPairs(pairs)
}

fn read_filter(query: &QueryPairs, endpoints: &[Arc<Endpoint>], now: Millis) -> Result<AttemptFilter, ApiError> {
    let status_code_class = match query.get("code_class") {
        None => None,
        Some(text) => {
            Some(CODE_CLASSES.iter().find(|(value, _, _)| *value == text).map(|c| c.1).ok_or_else(|| {
                ApiError::invalid(&["query", "code_class"], "must be 2xx, 3xx, 4xx, 5xx, 1xx or none")
            })?)
        }
    };
    let endpoint = match query.get("endpoint") {
        None => None,
        Some(key) => Some(
            endpoints
                .iter()
                .find(|e| e.id.to_string() == key || e.uid.as_deref() == Some(key))
                .map(|e| e.id)
                .ok_or_else(|| {
                    ApiError::invalid(&["query", "endpoint"], format!("no endpoint {key:?} in this application"))
                })?,
        ),
    };
    Ok(AttemptFilter {
        // Each endpoint's query sets its own scope (`merged_page`).
        scope: AttemptScope::Endpoint(endpoint.unwrap_or_else(|| EndpointId::first_at(0))),
        page: page_from(query, true, id_iterator::<AttemptId>)?,
        matching: message_match(query)?,
        status: status_param(query, &ATTEMPT_STATUSES)?,
        status_code_class,
        endpoint,
        after: form_time("since", query.get("since"), now)?.map(|at| at - 1),
        before: form_time("until", query.get("until"), now)?,
    })
}

/// One page of the application's attempts under `filter`: each endpoint's page (the chosen one,
/// or the first `ENDPOINTS_SEARCHED_MAX`) merged by id. Each endpoint's page holds every one of
/// its attempts that can be on the merged page, so the merge is exact. True when endpoints were
/// left out.
async fn merged_page(
    state: &AppState,
    app: &Application,
    endpoints: &[Arc<Endpoint>],
    filter: &AttemptFilter,
) -> UiResult<(Vec<Attempt>, bool)> {
    let scopes: Vec<EndpointId> = match filter.endpoint {
        Some(id) => vec![id],
        None => endpoints.iter().take(ENDPOINTS_SEARCHED_MAX).map(|e| e.id).collect(),
    };
    let capped = filter.endpoint.is_none() && endpoints.len() > ENDPOINTS_SEARCHED_MAX;
    let mut attempts = Vec::new();
    for id in scopes {
        let one = AttemptFilter { scope: AttemptScope::Endpoint(id), ..filter.clone() };
        attempts.extend(state.store.list_attempts(app.id, &one).await?);
    }
    attempts.sort_by_key(|a| a.id);
    if filter.page.descending {
        attempts.reverse();
    }
    attempts.truncate(filter.page.limit);
    Ok((attempts, capped))
}

fn attempt_row(app: &Application, endpoints: &[Arc<Endpoint>], attempt: &Attempt, retry: &str) -> String {
    let endpoint = match endpoints.iter().find(|e| e.id == attempt.endpoint_id) {
        Some(e) => format!("<a href=\"/ui/apps/{}/endpoints/{}\">{}</a>", app.id, e.id, esc(&e.url)),
        None => format!("{} <span class=\"muted\">(deleted endpoint)</span>", esc(&attempt.url)),
    };
    let failure = if attempt.status == Status::Fail {
        format!("<span class=\"error-text\">{}</span>", reason(attempt))
    } else {
        "<span class=\"muted\">—</span>".to_owned()
    };
    format!(
        "<tr data-attempt=\"{id}\"><td>{when}</td><td>{endpoint}</td>\
         <td class=\"id\"><a href=\"/ui/apps/{app_id}/messages/{msg}\"><code>{msg}</code></a></td>\
         <td>{status}{retry}</td><td>{code}</td><td>{failure}</td></tr>",
        id = attempt.id,
        when = time(attempt.timestamp),
        app_id = app.id,
        msg = attempt.msg_id,
        status = status_badge(attempt.status),
        code = code(attempt.response_status_code),
    )
}

/// Whether a failed attempt's delivery goes again, read once per message: its deliveries, and
/// (for a failure whose delivery is pending) its attempts, to tell the delivery's latest one.
#[derive(Default)]
pub struct RetryLookup {
    deliveries: HashMap<MessageId, Vec<Delivery>>,
    attempts: HashMap<MessageId, Vec<Attempt>>,
}

impl RetryLookup {
    /// " retrying — next at …" (markup) when `attempt` is its delivery's latest, failed, and the
    /// delivery is due again; empty otherwise.
    pub async fn note(&mut self, state: &AppState, app: &Application, attempt: &Attempt) -> UiResult<String> {
        if attempt.status != Status::Fail {
            return Ok(String::new());
        }
        let deliveries = match self.deliveries.entry(attempt.msg_id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => slot.insert(state.store.message_deliveries(attempt.msg_id).await?),
        };
        let next = deliveries
            .iter()
            .find(|d| d.id == attempt.delivery_id && d.status == Status::Pending)
            .and_then(|d| d.next_attempt_at);
        let Some(next) = next else {
            return Ok(String::new());
        };
        let attempts = match self.attempts.entry(attempt.msg_id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => {
                let filter = attempt_filter(AttemptScope::Message(attempt.msg_id), MESSAGE_ATTEMPTS_READ_MAX, None);
                slot.insert(state.store.list_attempts(app.id, &filter).await?)
            }
        };
        let latest = attempts.iter().filter(|a| a.delivery_id == attempt.delivery_id).map(|a| a.id).max();
        if latest.is_some_and(|id| id != attempt.id) {
            return Ok(String::new());
        }
        Ok(format!(
            " <span class=\"retrying\"><span class=\"badge wait\">retrying</span> next at {}</span>",
            time(next)
        ))
    }
}

/// The filters of `query` (not the iterator) as `key=value&…`, for the next page's link.
fn carried(query: &QueryPairs) -> String {
    query
        .0
        .iter()
        .filter(|(key, _)| key != "iterator")
        .map(|(key, value)| format!("{}={}&", url_part(key), url_part(value)))
        .collect()
}

fn filter_form(query: &QueryPairs, endpoints: &[Arc<Endpoint>]) -> String {
    let value = |key: &str| esc(query.get(key).unwrap_or(""));
    let options = |choices: Vec<(String, String)>, current: &str| -> String {
        choices
            .into_iter()
            .map(|(value, label)| {
                let selected = if value == current { " selected" } else { "" };
                format!("<option value=\"{}\"{selected}>{}</option>", esc(&value), esc(&label))
            })
            .collect()
    };
    let any = |label: &str| (String::new(), label.to_owned());
    let statuses: Vec<_> = std::iter::once(any("any status"))
        .chain(ATTEMPT_STATUSES.iter().map(|s| (s.text().to_owned(), s.text().to_owned())))
        .collect();
    let classes: Vec<_> = std::iter::once(any("any answer"))
        .chain(CODE_CLASSES.iter().map(|(value, _, label)| ((*value).to_owned(), (*label).to_owned())))
        .collect();
    let chosen = query.get("endpoint").unwrap_or("");
    let chosen_id = endpoints
        .iter()
        .find(|e| e.id.to_string() == chosen || e.uid.as_deref() == Some(chosen))
        .map(|e| e.id.to_string())
        .unwrap_or_default();
    let endpoint_options: Vec<_> = std::iter::once(any("every endpoint"))
        .chain(endpoints.iter().map(|e| (e.id.to_string(), e.url.clone())))
        .collect();
    format!(
        "<form method=\"get\" class=\"filters\">\
         <label>Status <select name=\"status\">{statuses}</select></label>\
         <label>Answer <select name=\"code_class\">{classes}</select></label>\
         <label>Endpoint <select name=\"endpoint\">{endpoints}</select></label>\
         <label>Event types <input type=\"text\" name=\"event_types\" value=\"{event_types}\" placeholder=\"order.paid, user.created\"></label>\
         <label>Tag <input type=\"text\" name=\"tag\" value=\"{tag}\"></label>\
         <label>Channel <input type=\"text\" name=\"channel\" value=\"{channel}\"></label>\
         <label>Since <input type=\"text\" name=\"since\" value=\"{since}\" placeholder=\"12h, yesterday, 2026-01-31T00:00:00Z\"></label>\
         <label>Until <input type=\"text\" name=\"until\" value=\"{until}\" placeholder=\"now, today, RFC 3339\"></label>\
         <button type=\"submit\">Filter</button></form>",
        statuses = options(statuses, query.get("status").unwrap_or("")),
        classes = options(classes, query.get("code_class").unwrap_or("")),
        endpoints = options(endpoint_options, &chosen_id),
        event_types = value("event_types"),
        tag = value("tag"),
        channel = value("channel"),
        since = value("since"),
        until = value("until"),
    )
}
