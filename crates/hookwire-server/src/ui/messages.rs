//! Dashboard pages for an application's messages: the searchable list (event type, time,
//! delivery status), one message with its payload, deliveries and attempts, and resend.

use axum::extract::{Path, State};
use hookwire_core::model::{Attempt, Delivery, Status};
use hookwire_core::time_fmt::Millis;
use hookwire_store::{AttemptScope, MessageFilter};

use super::dashboard::{attempt_filter, code, next_page_link, table};
use super::html::{Section, UiResult, esc, notice, page, pretty_json, status_badge, time, url_part};
use super::session::{Operator, redirect};
use crate::api::apps::load_app;
use crate::api::attempts::resend_message;
use crate::api::endpoints::load_endpoint;
use crate::api::error::ApiError;
use crate::api::extract::QueryPairs;
use crate::api::messages::load_message;
use crate::api::page::{id_iterator, list_response, page_from};
use crate::auth::Principal;
use crate::state::AppState;

/// Attempts shown on a message's page (a message rarely has more).
const MESSAGE_ATTEMPTS_SHOWN: usize = 100;
const STATUSES: [Status; 5] = [Status::Success, Status::Pending, Status::Sending, Status::Fail, Status::Canceled];

/// A time typed in the search form: RFC 3339, a browser's `datetime-local` (taken as UTC),
/// `today`, `yesterday`, or a duration ago (`12h`).
pub(super) fn form_time(field: &str, text: Option<&str>, now: Millis) -> Result<Option<Millis>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    hookwire_core::time_fmt::parse_human(text, now).map(Some).map_err(|e| ApiError::invalid(&["query", field], e))
}

/// The `status` search field: one of `allowed` by name, or none when empty.
pub(super) fn status_param(query: &QueryPairs, allowed: &[Status]) -> Result<Option<Status>, ApiError> {
    match query.get("status").unwrap_or("") {
        "" => Ok(None),
        text => allowed.iter().copied().find(|s| s.text() == text).map(Some).ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|s| s.text()).collect();
            ApiError::invalid(&["query", "status"], format!("must be one of {}", names.join(", ")))
        }),
    }
}

pub async fn list(
    _: Operator,
    State(state): State<AppState>,
    Path(app_key): Path<String>,
    query: QueryPairs,
) -> UiResult {
    let app = load_app(&state, Principal::Admin, &app_key).await?;
    let status_text = query.get("status").unwrap_or("");
    let status = status_param(&query, &STATUSES)?;
    let event_type = query.get("event_type").unwrap_or("").trim().to_owned();
    let filter = MessageFilter {
        page: page_from(&query, true, id_iterator::<hookwire_core::MessageId>)?,
        matching: hookwire_store::MessageMatch {
            event_types: event_type.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect(),
            ..Default::default()
        },
        after: form_time("since", query.get("since"), state.clock.now())?.map(|at| at - 1),
        before: form_time("until", query.get("until"), state.clock.now())?,
        status,
    };
    let messages = state.store.list_messages(app.id, &filter).await?;
    let list = list_response(&filter.page, messages, |m| m.id.to_string(), |m| m);
    let mut rows = String::new();
    for message in &list.data {
        let deliveries = state.store.message_deliveries(message.id).await?;
        rows.push_str(&format!(
            "<tr><td>{when}</td><td><code>{event_type}</code></td>\
             <td><a href=\"/ui/apps/{app_id}/messages/{id}\"><code>{id}</code></a></td><td>{event_id}</td><td>{summary}</td></tr>",
            when = time(message.created_at),
            event_type = esc(&message.event_type),
            app_id = app.id,
            id = message.id,
            event_id = esc(message.event_id.as_deref().unwrap_or("—")),
            summary = delivery_summary(&deliveries),
        ));
    }
    let table = table(&["Time", "Event type", "Message", "Event ID", "Deliveries"], &rows, "No messages match.");
    let options: String = std::iter::once(("", "any status"))
        .chain(STATUSES.iter().map(|s| (s.text(), s.text())))
        .map(|(value, label)| {
            let selected = if value == status_text { " selected" } else { "" };
            format!("<option value=\"{value}\"{selected}>{label}</option>")
        })
        .collect();
    let (since, until) = (query.get("since").unwrap_or(""), query.get("until").unwrap_or(""));
    let base = format!(
        "/ui/apps/{}/messages?event_type={}&since={}&until={}&status={}&",
        app.id,
        url_part(&event_type),
        url_part(since),
        url_part(until),
        url_part(status_text)
    );
    let more = next_page_link(&base, list.iterator.as_deref().filter(|_| !list.done));
    let body = format!(
        "<p class=\"crumbs\"><a href=\"/ui/apps\">Applications</a> / <a href=\"/ui/apps/{app_id}\">{app_name}</a> /</p>\
         <h1>Messages</h1>\
         <form method=\"get\" class=\"filters\">\
         <label>Event type <input type=\"text\" name=\"event_type\" value=\"{event_type}\" placeholder=\"user.created\"></label>\
         <label>Since <input type=\"text\" name=\"since\" value=\"{since}\" placeholder=\"12h, yesterday, 2026-01-31T00:00:00Z\"></label>\
         <label>Until <input type=\"text\" name=\"until\" value=\"{until}\" placeholder=\"now, today, RFC 3339\"></label>\
         <label>Status <select name=\"status\">{options}</select></label>\
         <button type=\"submit\">Search</button></form>{table}{more}",
        app_id = app.id,
        app_name = esc(&app.name),
        event_type = esc(&event_type),
        since = esc(since),
        until = esc(until),
    );
    Ok(page(Section::Apps, "Messages", &body))
}

/// "2 success · 1 fail" as badges, or a note when the message matched no endpoint.
fn delivery_summary(deliveries: &[Delivery]) -> String {
    if deliveries.is_empty() {
        return "<span class=\"muted\">no endpoint</span>".to_owned();
    }
    STATUSES
        .iter()
        .filter_map(|status| {
            let count = deliveries.iter().filter(|d| d.status == *status).count();
            (count > 0).then(|| {
                let badge = status_badge(*status);
                if count == 1 { badge } else { format!("{badge}<span class=\"muted\">×{count}</span>") }
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn show(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, msg_key)): Path<(String, String)>,
    query: QueryPairs,
) -> UiResult {
    let app = load_app(&state, Principal::Admin, &app_key).await?;
    let message = load_message(&state, &app, &msg_key).await?;
    let endpoints = state.store.app_endpoints(app.id).await?;
    let url_of = |id| endpoints.iter().find(|e| e.id == id).map_or("(deleted endpoint)", |e| e.url.as_str());
    let deliveries = state.store.message_deliveries(message.id).await?;
    let mut delivery_rows = String::new();
    for d in &deliveries {
        let exists = endpoints.iter().any(|e| e.id == d.endpoint_id);
        let resend = if exists {
            format!(
                "<form method=\"post\" action=\"/ui/apps/{}/messages/{}/resend/{}\"><button type=\"submit\" class=\"small\">Resend</button></form>",
                app.id, message.id, d.endpoint_id
            )
        } else {
            String::new()
        };
        delivery_rows.push_str(&format!(
            "<tr><td><a href=\"/ui/apps/{app_id}/endpoints/{ep}\">{url}</a>{chunk}</td><td>{status}</td><td class=\"num\">{attempts}</td>\
             <td>{next}</td><td>{resend}</td></tr>",
            app_id = app.id,
            ep = d.endpoint_id,
            url = esc(url_of(d.endpoint_id)),
            chunk = d.chunk.map(|c| format!(" <span class=\"muted\">page {c}</span>")).unwrap_or_default(),
            status = status_badge(d.status),
            attempts = d.attempts,
            next = d.next_attempt_at.filter(|_| d.status == Status::Pending).map(time).unwrap_or_else(|| "—".into()),
        ));
    }
    let deliveries_table = table(
        &["Endpoint", "Status", "Attempts", "Next attempt", ""],
        &delivery_rows,
        "This message matched no endpoint.",
    );
    let filter = attempt_filter(AttemptScope::Message(message.id), MESSAGE_ATTEMPTS_SHOWN, None);
    let attempts = state.store.list_attempts(app.id, &filter).await?;
    let attempts_html: String = attempts.iter().map(attempt_block).collect();
    let payload = match &message.payload {
        Some(payload) => format!("<pre class=\"json\">{}</pre>", pretty_json(payload)),
        None => "<p class=\"muted\">The payload has been purged (retention) or expunged.</p>".to_owned(),
    };
    let body = format!(
        "{notice}<p class=\"crumbs\"><a href=\"/ui/apps\">Applications</a> / <a href=\"/ui/apps/{app_id}\">{app_name}</a> / \
         <a href=\"/ui/apps/{app_id}/messages\">Messages</a> /</p>\
         <h1><code>{event_type}</code></h1>\
         <dl class=\"facts\"><dt>Message</dt><dd><code>{id}</code> <span class=\"muted\">(the <code>webhook-id</code> header)</span></dd>\
         <dt>Event ID</dt><dd>{event_id}</dd><dt>Channels</dt><dd>{channels}</dd><dt>Created</dt><dd>{created}</dd></dl>\
         <h2>Payload</h2>{payload}<h2>Deliveries</h2>{deliveries_table}\
         <h2>Attempts</h2>{attempts}",
        notice = notice(query.get("notice")),
        app_id = app.id,
        app_name = esc(&app.name),
        event_type = esc(&message.event_type),
        id = message.id,
        event_id = esc(message.event_id.as_deref().unwrap_or("—")),
        channels = esc(&message.channels.as_ref().map(|c| c.join(", ")).unwrap_or_else(|| "—".into())),
        created = time(message.created_at),
        attempts = if attempts_html.is_empty() {
            "<p class=\"empty\">No attempts yet.</p>".to_owned()
        } else {
            format!("<div class=\"attempts\">{attempts_html}</div>")
        },
    );
    Ok(page(Section::Apps, &message.event_type, &body))
}

/// One attempt: a summary line that opens to the request line and the response.
fn attempt_block(attempt: &Attempt) -> String {
    let response = if attempt.response.is_empty() {
        "<p class=\"muted\">(empty body)</p>".to_owned()
    } else {
        format!("<pre>{}</pre>", pretty_json(&attempt.response))
    };
    format!(
        "<details class=\"attempt\"><summary>{status} {when} <span class=\"muted\">{code} · {ms} ms · {trigger}{error}</span> \
         <span class=\"url\">{url}</span></summary>\
         <div class=\"exchange\"><h3>Request</h3><pre>POST {url}\nwebhook-id: {msg}</pre>\
         <p class=\"muted\">The body is the message payload above (as the endpoint's envelope shapes it).</p>\
         <h3>Response</h3><p>{code}</p>{response}<p class=\"muted\"><code>{id}</code></p></div></details>",
        status = status_badge(attempt.status),
        when = time(attempt.timestamp),
        code = code(attempt.response_status_code),
        ms = attempt.response_duration_ms,
        trigger = if attempt.trigger_type.code() == 1 { "manual" } else { "scheduled" },
        error = attempt.error_kind.map(|k| format!(" · {}", k.as_str())).unwrap_or_default(),
        url = esc(&attempt.url),
        msg = attempt.msg_id,
        id = attempt.id,
    )
}

pub async fn resend(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, msg_key, endpoint_key)): Path<(String, String, String)>,
) -> UiResult {
    let (app, endpoint) = load_endpoint(&state, Principal::Admin, &app_key, &endpoint_key).await?;
    let message = load_message(&state, &app, &msg_key).await?;
    let message_id = message.id;
    resend_message(&state, message, endpoint).await?;
    Ok(redirect(&format!("/ui/apps/{}/messages/{}?notice=Resend%20queued", app.id, message_id)))
}
