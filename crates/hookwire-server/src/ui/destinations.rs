//! Dashboard pages for an application's destinations (`fifoEndpoint`, `pollingEndpoint`): the
//! section on the application page, a destination's page (its state as the API shows it, a
//! FIFO's recent batch attempts and its transformation editor), and its actions (pause or
//! enable, skip the backlog, force a retry, delete, save or test the transformation). Reads go
//! to the store; every action runs the JSON API's own handler as the operator, so its rules (the
//! status values it accepts, the code check) are the API's.

use axum::body::Bytes;
use axum::extract::{Path, State};
use hookwire_core::destination::{Destination, DestinationAttempt, DestinationKind};
use hookwire_core::model::{Application, Status};
use hookwire_core::time_fmt;
use hookwire_store::Page;
use serde::Deserialize;

use super::dashboard::{REASON_CHARS, event_types_text, next_page_link, outcome_text, table};
use super::html::{Section, UiResult, destination_badge, esc, notice, page, status_badge, time, url_part};
use super::session::{Operator, form, redirect};
use super::transformation::{TransformPane, TransformationForm, Wording, failed, result_panel};
use crate::api::apps::load_app;
use crate::api::destinations::{
    DestinationOut, DestinationPatch, DestinationSkipIn, DestinationTransformIn, DestinationTransformationEventIn,
    DestinationTransformationSimulateIn, LAG_COUNT_MAX, delete_destination, destination_out, force_retry, load,
    patch_destination, patch_transformation, simulate_destination_transformation, skip,
};
use crate::api::error::ApiError;
use crate::api::extract::{JsonBody, OptionalJsonBody, QueryPairs};
use crate::api::page::list_response;
use crate::auth::Principal;
use crate::state::AppState;

/// Destinations listed on the application page (an application rarely has more).
const DESTINATIONS_SHOWN: usize = 100;
/// Batch attempts shown on a FIFO destination's page.
const DESTINATION_ATTEMPTS_SHOWN: usize = 25;

/// What the editor shows for a FIFO destination without a transformation.
const TRANSFORMATION_TEMPLATE: &str = "function handler(input) {\n  // input: {url, variables, events: [{eventType, payload}]}\n  return input.events;\n}\n";

const FIFO_WORDING: Wording = Wording {
    about: "JavaScript run on each batch before it is signed: <code>handler(input)</code> gets \
            <code>{url, variables, events: [{eventType, payload}]}</code> and returns the body to send.",
    payload_label: "Test payload (JSON, one event of the type above; empty for its example; both empty to run \
                    it on the next pending batch)",
};

/// The "Destinations" section of the application page.
pub async fn section(state: &AppState, app: &Application) -> UiResult<String> {
    let request = Page { limit: DESTINATIONS_SHOWN + 1, iterator: None, descending: false };
    let destinations = state.store.list_destinations(app.id, &request).await?;
    let list = list_response(&request, destinations, |d| d.id.to_string(), |d| d);
    let mut rows = String::new();
    for destination in list.data {
        let out = destination_out(state, destination).await?;
        rows.push_str(&format!(
            "<tr data-destination=\"{id}\"><td class=\"name\"><a href=\"/ui/apps/{app_id}/destinations/{id}\">{name}</a></td>\
             <td><code>{kind}</code></td><td>{url}</td><td>{status}</td><td class=\"num\">{lag}</td>\
             <td>{retry}</td><td>{reason}</td><td>{types}</td><td class=\"num\">{batch}</td></tr>",
            id = esc(&out.id),
            app_id = app.id,
            name = esc(out.uid.as_deref().unwrap_or(&out.id)),
            kind = out.kind,
            url = receiver_text(&out),
            status = destination_badge(out.status),
            lag = lag_text(&out),
            retry = next_retry_text(&out),
            reason = failure_text(&out, Some(REASON_CHARS)),
            types = event_types_text(out.event_types.as_deref()),
            batch = out.batch_size,
        ));
    }
    let table = table(
        &["Name", "Type", "URL", "Status", "Lag", "Next retry", "Failure reason", "Event types", "Batch size"],
        &rows,
        &format!("No destinations: they are created with POST /api/v1/app/{}/destination.", app.id),
    );
    let more = if list.done {
        String::new()
    } else {
        format!("<p class=\"muted\">The first {DESTINATIONS_SHOWN} are shown; the API lists them all.</p>")
    };
    Ok(format!("<h2 id=\"destinations\">Destinations</h2>{table}{more}"))
}

/// An empty cell or fact.
const NOTHING: &str = "<span class=\"muted\">—</span>";

/// Where a destination's messages go: a FIFO's receiver URL; a polling endpoint is read.
fn receiver_text(out: &DestinationOut) -> String {
    match out.config.get("url").and_then(|url| url.as_str()) {
        Some(url) => esc(url),
        None => "<span class=\"muted\">polled by its consumers</span>".to_owned(),
    }
}

/// Messages of the log after its position (counted up to `LAG_COUNT_MAX`); "—" for a polling
/// endpoint without consumers.
fn lag_text(out: &DestinationOut) -> String {
    match out.lag {
        Some(lag) if lag >= LAG_COUNT_MAX => format!("{LAG_COUNT_MAX}+"),
        Some(lag) => lag.to_string(),
        None => NOTHING.to_owned(),
    }
}

fn next_retry_text(out: &DestinationOut) -> String {
    match out.next_retry_at.as_deref().map(time_fmt::parse) {
        Some(Ok(at)) => time(at),
        Some(Err(_)) => esc(out.next_retry_at.as_deref().unwrap_or_default()),
        None => NOTHING.to_owned(),
    }
}

/// Why the current batch failed, cut to `chars` in a table.
fn failure_text(out: &DestinationOut, chars: Option<usize>) -> String {
    match out.failure_reason.as_deref() {
        Some(reason) => {
            let cut: String = reason.chars().take(chars.unwrap_or(usize::MAX)).collect();
            format!("<span class=\"error-text\">{}</span>", esc(&cut))
        }
        None => NOTHING.to_owned(),
    }
}

/// The application (for the page's crumbs) and its destination `key` (an id or uid).
async fn load_pair(state: &AppState, app_key: &str, key: &str) -> UiResult<(Application, Destination)> {
    let app = load_app(state, Principal::Admin, app_key).await?;
    let destination = load(state, Principal::Admin, &app.id.to_string(), key).await?;
    Ok((app, destination))
}

pub async fn show(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, key)): Path<(String, String)>,
    query: QueryPairs,
) -> UiResult {
    let (app, destination) = load_pair(&state, &app_key, &key).await?;
    let iterator = query.get("iterator").map(str::to_owned);
    let pane = TransformPane::saved(destination.transformation.as_ref(), TRANSFORMATION_TEMPLATE, String::new());
    view(&state, app, destination, query.get("notice"), iterator, pane).await
}

async fn view(
    state: &AppState,
    app: Application,
    destination: Destination,
    notice_text: Option<&str>,
    iterator: Option<String>,
    pane: TransformPane,
) -> UiResult {
    let base = format!("/ui/apps/{}/destinations/{}", app.id, destination.id);
    let fifo = destination.kind == DestinationKind::FifoEndpoint;
    let (attempts, transformation) = if fifo {
        let attempts = attempts_html(state, &destination, &base, iterator).await?;
        (attempts, pane.html(&base, destination.transformation.as_ref(), &FIFO_WORDING))
    } else {
        let reading = format!(
            "<h2>Reading it</h2><p class=\"muted\">Consumers read it in order with \
             <code>GET /api/v1/app/{}/poller/{}/consumer/{{consumer_id}}</code>.</p>",
            app.id, destination.id
        );
        (reading, String::new())
    };
    let out = destination_out(state, destination).await?;
    let paused = matches!(out.status, "paused" | "disabled");
    let (status_value, status_label) = if paused { ("enabled", "Enable") } else { ("paused", "Pause") };
    let steering = if fifo {
        format!(
            "<form method=\"post\" action=\"{base}/skip\"><button type=\"submit\" class=\"secondary\">Skip backlog</button></form>\
             <form method=\"post\" action=\"{base}/force-retry\"><button type=\"submit\" class=\"secondary\">Force retry</button></form>"
        )
    } else {
        String::new()
    };
    let name = out.uid.clone().unwrap_or_else(|| out.id.clone());
    let body = format!(
        "{notice}<p class=\"crumbs\"><a href=\"/ui/apps\">Applications</a> / <a href=\"/ui/apps/{app_id}\">{app_name}</a> / \
         <a href=\"/ui/apps/{app_id}#destinations\">Destinations</a> /</p>\
         <h1>{title}</h1>\
         <dl class=\"facts\"><dt>Status</dt><dd>{status}</dd><dt>Type</dt><dd><code>{kind}</code></dd>\
         <dt>ID</dt><dd><code>{id}</code></dd><dt>URL</dt><dd>{url}</dd><dt>Lag</dt><dd>{lag}</dd>\
         <dt>Next retry</dt><dd>{retry}</dd><dt>Failure reason</dt><dd>{reason}</dd>\
         <dt>Event types</dt><dd>{types}</dd><dt>Channels</dt><dd>{channels}</dd>\
         <dt>Batch size</dt><dd>{batch}</dd><dt>Max wait</dt><dd>{wait} s</dd>\
         <dt>Position</dt><dd><code>{position}</code></dd><dt>Created</dt><dd>{created}</dd><dt>Updated</dt><dd>{updated}</dd></dl>\
         <div class=\"actions\">\
         <form method=\"post\" action=\"{base}/status\"><input type=\"hidden\" name=\"status\" value=\"{status_value}\">\
         <button type=\"submit\" class=\"secondary\">{status_label}</button></form>{steering}\
         <form method=\"post\" action=\"{base}/delete\"><button type=\"submit\" class=\"danger\">Delete destination</button></form>\
         </div>{attempts}{transformation}",
        notice = notice(notice_text),
        app_id = app.id,
        app_name = esc(&app.name),
        title = esc(&name),
        status = destination_badge(out.status),
        kind = out.kind,
        id = esc(&out.id),
        url = receiver_text(&out),
        lag = lag_text(&out),
        retry = next_retry_text(&out),
        reason = failure_text(&out, None),
        types = event_types_text(out.event_types.as_deref()),
        channels = out.channels.as_deref().map_or("<span class=\"muted\">all</span>".to_owned(), |channels| {
            channels.iter().map(|c| format!("<code>{}</code>", esc(c))).collect::<Vec<_>>().join(" ")
        }),
        batch = out.batch_size,
        wait = out.max_wait_secs,
        position = esc(&out.current_iterator),
        created = time(out.created_at),
        updated = time(out.updated_at),
    );
    Ok(page(Section::Apps, &name, &body))
}

/// A FIFO's recent batch attempts, newest first, with a link to older ones.
async fn attempts_html(
    state: &AppState,
    destination: &Destination,
    base: &str,
    iterator: Option<String>,
) -> UiResult<String> {
    let request = Page { limit: DESTINATION_ATTEMPTS_SHOWN + 1, iterator, descending: true };
    let attempts = state.store.list_destination_attempts(destination.id, &request).await?;
    let list = list_response(&request, attempts, |a| a.id.to_string(), |a| a);
    let rows: String = list.data.iter().map(attempt_row).collect();
    let table = table(
        &["Time", "Status", "Response or reason", "Batch", "Messages", "Duration"],
        &rows,
        "No batches sent yet.",
    );
    let more = next_page_link(&format!("{base}?"), list.iterator.as_deref().filter(|_| !list.done));
    Ok(format!("<h2>Recent attempts</h2>{table}{more}"))
}

fn attempt_row(attempt: &DestinationAttempt) -> String {
    let status = if attempt.error.is_none() { Status::Success } else { Status::Fail };
    format!(
        "<tr><td>{when}</td><td>{status}</td><td>{reason}</td><td class=\"id\"><code>{batch}</code></td>\
         <td class=\"num\">{messages}</td><td class=\"num\">{ms} ms</td></tr>",
        when = time(attempt.created_at),
        status = status_badge(status),
        reason = outcome_text(attempt.status_code, attempt.error, &attempt.response),
        batch = esc(&attempt.batch_id),
        messages = attempt.messages,
        ms = attempt.duration_ms,
    )
}

/// Back to the destination's page (at `anchor`, or its top when empty) with a notice.
fn back(destination: &Destination, text: &str, anchor: &str) -> axum::response::Response {
    let (app_id, id, text) = (destination.app_id, destination.id, url_part(text));
    redirect(&format!("/ui/apps/{app_id}/destinations/{id}?notice={text}{anchor}"))
}

/// The API handler's arguments for `destination`, as the operator.
fn as_operator(state: &AppState, destination: &Destination) -> (State<AppState>, Principal, Path<(String, String)>) {
    (State(state.clone()), Principal::Admin, Path((destination.app_id.to_string(), destination.id.to_string())))
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
}

/// Pauses or enables a destination (the API's PATCH of `status`).
pub async fn set_status(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, key)): Path<(String, String)>,
    body: Bytes,
) -> UiResult {
    let (_, destination) = load_pair(&state, &app_key, &key).await?;
    let input: StatusForm = form(&body)?;
    let patch = DestinationPatch { status: Some(input.status.clone()), ..DestinationPatch::default() };
    let (state_arg, principal, path) = as_operator(&state, &destination);
    let _ = patch_destination(state_arg, principal, path, JsonBody(patch)).await?;
    Ok(back(&destination, &format!("Destination {}", input.status), ""))
}

/// Drops a FIFO's backlog: it continues after everything in the log now.
pub async fn skip_backlog(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, key)): Path<(String, String)>,
) -> UiResult {
    let (_, destination) = load_pair(&state, &app_key, &key).await?;
    let (state_arg, principal, path) = as_operator(&state, &destination);
    let _ = skip(state_arg, principal, path, OptionalJsonBody(DestinationSkipIn::default())).await?;
    Ok(back(&destination, "Backlog skipped: sending continues from the end of the log", ""))
}

/// Sends a FIFO's failing batch again now instead of at its next retry.
pub async fn retry_now(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, key)): Path<(String, String)>,
) -> UiResult {
    let (_, destination) = load_pair(&state, &app_key, &key).await?;
    let (state_arg, principal, path) = as_operator(&state, &destination);
    let _ = force_retry(state_arg, principal, path).await?;
    Ok(back(&destination, "Retry forced: the current batch goes again now", ""))
}

pub async fn delete(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, key)): Path<(String, String)>,
) -> UiResult {
    let (app, destination) = load_pair(&state, &app_key, &key).await?;
    let (state_arg, principal, path) = as_operator(&state, &destination);
    delete_destination(state_arg, principal, path).await?;
    Ok(redirect(&format!("/ui/apps/{}?notice=Destination%20deleted#destinations", app.id)))
}

/// Saves the editor's code (empty removes the transformation) through the API's own checks.
pub async fn save_transformation(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, key)): Path<(String, String)>,
    body: Bytes,
) -> UiResult {
    let (_, destination) = load_pair(&state, &app_key, &key).await?;
    let input: TransformationForm = form(&body)?;
    let removing = input.removes();
    let patch = DestinationTransformIn {
        code: Some((!removing).then(|| input.code())),
        enabled: (!removing).then(|| input.enabled()),
    };
    let (state_arg, principal, path) = as_operator(&state, &destination);
    patch_transformation(state_arg, principal, path, JsonBody(patch)).await?;
    let text = if removing { "Transformation removed" } else { "Transformation saved" };
    Ok(back(&destination, text, "#transformation"))
}

/// Runs the editor's code on one test event, or on the next pending batch, and shows the body
/// it would send; nothing is saved or sent.
pub async fn test_transformation(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, key)): Path<(String, String)>,
    body: Bytes,
) -> UiResult {
    let (app, destination) = load_pair(&state, &app_key, &key).await?;
    let input: TransformationForm = form(&body)?;
    let events = match (input.event_type(), input.payload()?) {
        ("", None) => None,
        ("", Some(_)) => {
            return Err(ApiError::invalid(&["form", "event_type"], "name the test payload's event type").into());
        }
        (event_type, payload) => {
            Some(vec![DestinationTransformationEventIn { event_type: event_type.to_owned(), payload }])
        }
    };
    let simulation = DestinationTransformationSimulateIn { code: Some(input.code()), events };
    let out = simulate_destination_transformation(&state, &destination, simulation).await?;
    let verdict = match (&out.error, &out.payload) {
        (Some(error), _) => failed(error),
        (None, payload) => {
            let shown = match payload {
                Some(serde_json::Value::String(text)) => text.clone(),
                Some(value) => serde_json::to_string_pretty(value).unwrap_or_default(),
                None => "null".to_owned(),
            };
            let url = destination.config.as_ref().map(|c| c.url.as_str()).unwrap_or_default();
            format!(
                "<p><span class=\"badge ok\">would send</span> <code>POST {}</code></p><pre>{}</pre>",
                esc(url),
                esc(&shown)
            )
        }
    };
    let pane = TransformPane::tested(input, result_panel(&verdict, &out.console));
    view(&state, app, destination, None, None, pane).await
}
