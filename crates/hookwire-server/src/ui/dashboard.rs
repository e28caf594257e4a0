//! Dashboard pages for applications, endpoints and the event-type catalog, and the endpoint
//! actions (create, enable/disable, recover, send a test event). Reads go to the store; changes
//! go through the same operations the JSON API uses.

use axum::body::Bytes;
use axum::extract::{Path, State};
use hookwire_core::model::{Application, Endpoint, ErrorKind};
use hookwire_core::time_fmt::Millis;
use hookwire_store::{AttemptFilter, AttemptScope, Page};
use serde::Deserialize;

use super::html::{Section, UiResult, endpoint_badge, esc, notice, page, status_badge, time, url_part};
use super::session::{Operator, form, redirect};
use super::transformation::{TransformPane, TransformationForm, Wording, failed, result_panel};
use crate::api::apps::load_app;
use crate::api::endpoints::{EndpointIn, endpoint_from, load_endpoint};
use crate::api::endpoints::{
    EndpointTransformationPatch, EndpointTransformationSimulateIn, apply_transformation_patch, simulate_transformation,
};
use crate::api::endpoints::{EventExampleIn, send_example_to};
use crate::api::error::ApiError;
use crate::api::extract::QueryPairs;
use crate::api::page::{id_iterator, list_response, name_iterator, page_from};
use crate::auth::{APP_TOKEN_TTL_SECONDS_DEFAULT, AppTokenRequest, Principal};
use crate::state::AppState;
use hookwire_core::access::Capabilities;

/// Attempts shown on an endpoint's page.
const ENDPOINT_ATTEMPTS_SHOWN: usize = 25;
/// The recover form's default window: failures of the last day.
const RECOVER_DEFAULT_WINDOW_MS: Millis = 24 * 3_600_000;

pub async fn apps(_: Operator, State(state): State<AppState>, query: QueryPairs) -> UiResult {
    let page_request = page_from(&query, false, id_iterator::<hookwire_core::AppId>)?;
    let filter = hookwire_store::AppFilter { page: page_request.clone(), ..Default::default() };
    let apps = state.store.list_apps(&filter).await?;
    let list = list_response(&page_request, apps, |a| a.id.to_string(), |a| a);
    let mut rows = String::new();
    for app in &list.data {
        let endpoints = state.store.app_endpoints(app.id).await?.len();
        rows.push_str(&format!(
            "<tr><td><a href=\"/ui/apps/{id}\">{name}</a></td><td>{uid}</td><td><code>{id}</code></td>\
             <td class=\"num\">{endpoints}</td><td>{created}</td></tr>",
            id = app.id,
            name = esc(&app.name),
            uid = esc(app.uid.as_deref().unwrap_or("—")),
            created = time(app.created_at),
        ));
    }
    let table = table(&["Name", "UID", "ID", "Endpoints", "Created"], &rows, "No applications yet: create one below.");
    let more = next_page_link("/ui/apps?", list.iterator.as_deref().filter(|_| !list.done));
    let body = format!(
        "{notice}<h1>Applications</h1>{table}{more}{create}",
        notice = notice(query.get("notice")),
        create = super::admin::app_create_form(&super::admin::AppFields::default(), None),
    );
    Ok(page(Section::Apps, "Applications", &body))
}

pub async fn app(
    _: Operator,
    State(state): State<AppState>,
    Path(app_key): Path<String>,
    query: QueryPairs,
) -> UiResult {
    let app = load_app(&state, Principal::Admin, &app_key).await?;
    let page_request = page_from(&query, false, id_iterator::<hookwire_core::EndpointId>)?;
    let endpoints = state.store.list_endpoints(app.id, &page_request).await?;
    let list = list_response(&page_request, endpoints, |e| e.id.to_string(), |e| e);
    // Failing endpoints first, within this page of the list.
    let rows = super::health::rows(&state, &app, &list.data).await?;
    let table = table(&super::health::HEADINGS, &rows, "No endpoints yet: add one below.");
    let more = next_page_link(&format!("/ui/apps/{}?", app.id), list.iterator.as_deref().filter(|_| !list.done));
    let destinations = super::destinations::section(&state, &app).await?;
    let activity =
        super::overview::section(&state, query.get("period"), &format!("/ui/apps/{}?", app.id), app.id, None).await?;
    let body = format!(
        "{notice}<p class=\"crumbs\"><a href=\"/ui/apps\">Applications</a> /</p>\
         <h1>{name}</h1><p class=\"muted\"><code>{id}</code>{uid}</p>\
         <div class=\"actions\"><a class=\"button\" href=\"/ui/apps/{id}/messages\">Messages</a>\
         <a class=\"button\" href=\"/ui/apps/{id}/attempts\">Attempts</a>\
         <form method=\"post\" action=\"/ui/apps/{id}/portal\"><button type=\"submit\" class=\"secondary\">Open customer portal</button></form></div>\
         {activity}<h2>Endpoints</h2>{table}{more}\
         <h2>Add an endpoint</h2>\
         <form method=\"post\" action=\"/ui/apps/{id}/endpoints\" class=\"stack\">\
         <label>URL <input type=\"url\" name=\"url\" required placeholder=\"https://example.com/webhooks\"></label>\
         <label>Event types <input type=\"text\" name=\"event_types\" placeholder=\"comma-separated; empty for all\"></label>\
         <label>Description <input type=\"text\" name=\"description\"></label>\
         <button type=\"submit\">Add endpoint</button></form>{destinations}{edit}",
        notice = notice(query.get("notice")),
        name = esc(&app.name),
        id = app.id,
        uid = app.uid.as_deref().map(|u| format!(" · uid <code>{}</code>", esc(u))).unwrap_or_default(),
        edit = super::admin::app_edit_section(&app, None, None),
    );
    Ok(page(Section::Apps, &app.name, &body))
}

/// Characters of an attempt's answer (or error) shown in a table cell.
pub const REASON_CHARS: usize = 120;

/// What an attempt's outcome was, in words: the status code, or why there was no answer (the
/// error kind and the error's text: a DNS failure names the host), escaped.
pub fn reason(attempt: &hookwire_core::model::Attempt) -> String {
    outcome_text(attempt.response_status_code, attempt.error_kind, &attempt.response)
}

/// An outcome in words, from its status code (0: no answer), error kind and answer, escaped.
pub fn outcome_text(status_code: u16, error_kind: Option<ErrorKind>, response: &str) -> String {
    let answer: String = response.chars().take(REASON_CHARS).collect();
    match (status_code, error_kind) {
        (0, Some(kind)) => format!("{}: {}", kind.as_str(), esc(&answer)),
        (0, None) => "no answer".to_owned(),
        (status, None) => format!("HTTP {status}"),
        (status, Some(_)) if answer.is_empty() => format!("HTTP {status}"),
        (status, Some(_)) => format!("HTTP {status}: {}", esc(&answer)),
    }
}

pub fn attempt_filter(scope: AttemptScope, limit: usize, iterator: Option<String>) -> AttemptFilter {
    AttemptFilter {
        matching: hookwire_store::MessageMatch::default(),
        scope,
        page: Page { limit, iterator, descending: true },
        status: None,
        status_code_class: None,
        endpoint: None,
        before: None,
        after: None,
    }
}

/// An HTTP status code, or "no answer" when none came back.
pub fn code(status: u16) -> String {
    if status == 0 { "no answer".to_owned() } else { format!("HTTP {status}") }
}

/// An event-type filter: the names, or "all" when there is none.
pub fn event_types_text(types: Option<&[String]>) -> String {
    match types {
        Some(types) if !types.is_empty() => {
            types.iter().map(|t| format!("<code>{}</code>", esc(t))).collect::<Vec<_>>().join(" ")
        }
        _ => "<span class=\"muted\">all</span>".to_owned(),
    }
}

/// A table with a header row, or `empty` when there are no rows.
pub fn table(headings: &[&str], rows: &str, empty: &str) -> String {
    if rows.is_empty() {
        return format!("<p class=\"empty\">{}</p>", esc(empty));
    }
    let head: String = headings.iter().map(|h| format!("<th>{}</th>", esc(h))).collect();
    format!("<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
}

/// "Next page" after `base` (which ends in `?` or `&`), when there is one.
pub fn next_page_link(base: &str, iterator: Option<&str>) -> String {
    iterator
        .map(|it| format!("<p class=\"pager\"><a href=\"{}iterator={}\">Next page →</a></p>", esc(base), url_part(it)))
        .unwrap_or_default()
}

pub async fn endpoint(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, endpoint_key)): Path<(String, String)>,
    query: QueryPairs,
) -> UiResult {
    let (app, endpoint) = load_endpoint(&state, Principal::Admin, &app_key, &endpoint_key).await?;
    let pane =
        TransformPane::saved(endpoint.transformation.as_ref(), TRANSFORMATION_TEMPLATE, first_event_type(&endpoint));
    let activity = super::overview::section(
        &state,
        query.get("period"),
        &format!("/ui/apps/{}/endpoints/{}?", app.id, endpoint.id),
        app.id,
        Some(endpoint.id),
    )
    .await?;
    let iterator = query.get("iterator").map(str::to_owned);
    endpoint_view(&state, app, endpoint, query.get("notice"), iterator, pane, &activity).await
}

/// What the endpoint editor shows for an endpoint without a transformation.
const TRANSFORMATION_TEMPLATE: &str = "function handler(webhook) {\n  // webhook: {method, url, eventType, payload, variables, cancel}\n  return webhook;\n}\n";

const ENDPOINT_WORDING: Wording = Wording {
    about: "JavaScript run on each request before it is signed: <code>handler(webhook)</code> may change \
            <code>method</code>, <code>url</code> and <code>payload</code>, or set <code>cancel</code>.",
    payload_label: "Test payload (JSON; empty for the event type's example)",
};

fn first_event_type(endpoint: &Endpoint) -> String {
    endpoint
        .event_types
        .iter()
        .flatten()
        .find(|t| !t.contains('*'))
        .cloned()
        .unwrap_or_else(|| "hookwire.test".to_owned())
}

async fn endpoint_view(
    state: &AppState,
    app: Application,
    endpoint: Endpoint,
    notice_text: Option<&str>,
    iterator: Option<String>,
    pane: TransformPane,
    activity: &str,
) -> UiResult {
    let stats = state.store.endpoint_stats(endpoint.id, Millis::MIN, Millis::MAX).await?;
    let filter = attempt_filter(AttemptScope::Endpoint(endpoint.id), ENDPOINT_ATTEMPTS_SHOWN + 1, iterator);
    let attempts = state.store.list_attempts(app.id, &filter).await?;
    let list = list_response(&filter.page, attempts, |a| a.id.to_string(), |a| a);
    let mut retries = super::attempts::RetryLookup::default();
    let mut rows = String::new();
    for a in &list.data {
        let retry = retries.note(state, &app, a).await?;
        rows.push_str(&format!(
            "<tr><td>{when}</td><td>{status}{retry}</td><td>{code}</td><td class=\"num\">{ms} ms</td>\
             <td><a href=\"/ui/apps/{app_id}/messages/{msg}\"><code>{msg}</code></a></td><td>{trigger}</td></tr>",
            when = time(a.timestamp),
            status = status_badge(a.status),
            code = reason(a),
            ms = a.response_duration_ms,
            app_id = app.id,
            msg = a.msg_id,
            trigger = if a.trigger_type.code() == 1 { "manual" } else { "scheduled" },
        ));
    }
    let attempts_table =
        table(&["Time", "Status", "Response or reason", "Duration", "Message", "Trigger"], &rows, "No attempts yet.");
    let more = next_page_link(
        &format!("/ui/apps/{}/endpoints/{}?", app.id, endpoint.id),
        list.iterator.as_deref().filter(|_| !list.done),
    );
    let since = hookwire_core::time_fmt::format_millis(state.clock.now() - RECOVER_DEFAULT_WINDOW_MS);
    let base = format!("/ui/apps/{}/endpoints/{}", app.id, endpoint.id);
    let (toggle_value, toggle_label) = if endpoint.disabled { ("true", "Enable") } else { ("false", "Disable") };
    let test_type = first_event_type(&endpoint);
    let transformation = pane.html(&base, endpoint.transformation.as_ref(), &ENDPOINT_WORDING);
    let body = format!(
        "{notice}<p class=\"crumbs\"><a href=\"/ui/apps\">Applications</a> / <a href=\"/ui/apps/{app_id}\">{app_name}</a> /</p>\
         <h1 class=\"url\">{url}</h1>\
         <dl class=\"facts\"><dt>Status</dt><dd>{status}</dd><dt>ID</dt><dd><code>{id}</code></dd>\
         <dt>Event types</dt><dd>{types}</dd><dt>Description</dt><dd>{description}</dd>\
         <dt>Created</dt><dd>{created}</dd><dt>Deliveries</dt><dd>\
         <span class=\"badge ok\">{success} success</span> <span class=\"badge wait\">{pending} pending</span> \
         <span class=\"badge bad\">{fail} failed</span> <span class=\"badge muted\">{canceled} canceled</span>{filter_errors}</dd></dl>\
         <div class=\"actions\">\
         <form method=\"post\" action=\"{base}/enabled\"><input type=\"hidden\" name=\"enabled\" value=\"{toggle_value}\">\
         <button type=\"submit\" class=\"secondary\">{toggle_label}</button></form>\
         <form method=\"post\" action=\"{base}/test\" class=\"inline\"><input type=\"text\" name=\"event_type\" value=\"{test_type}\" aria-label=\"Event type\">\
         <button type=\"submit\">Send test event</button></form>\
         <form method=\"post\" action=\"{base}/recover\" class=\"inline\"><label>Failed since \
         <input type=\"text\" name=\"since\" value=\"{since}\" aria-label=\"Since (RFC 3339)\"></label>\
         <button type=\"submit\" class=\"secondary\">Recover</button></form></div>\
         {activity}<h2>Recent attempts</h2>{attempts_table}{more}{transformation}",
        notice = notice(notice_text),
        app_id = app.id,
        app_name = esc(&app.name),
        url = esc(&endpoint.url),
        status = endpoint_badge(endpoint.status()),
        id = endpoint.id,
        types = event_types_text(endpoint.event_types.as_deref()),
        description = esc(if endpoint.description.is_empty() { "—" } else { &endpoint.description }),
        created = time(endpoint.created_at),
        success = stats.success,
        pending = stats.pending + stats.sending,
        fail = stats.fail,
        canceled = stats.canceled,
        filter_errors = if stats.filter_errors > 0 {
            format!(" <span class=\"badge bad\">{} filter errors</span>", stats.filter_errors)
        } else {
            String::new()
        },
        test_type = esc(&test_type),
    );
    Ok(page(Section::Apps, &endpoint.url, &body))
}

/// Saves the editor's code (empty removes the transformation) through the API's own checks.
pub async fn save_transformation(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, endpoint_key)): Path<(String, String)>,
    body: Bytes,
) -> UiResult {
    let (app, mut endpoint) = load_endpoint(&state, Principal::Admin, &app_key, &endpoint_key).await?;
    let input: TransformationForm = form(&body)?;
    let removing = input.removes();
    let patch = EndpointTransformationPatch {
        code: Some((!removing).then(|| input.code())),
        enabled: (!removing).then(|| input.enabled()),
        variables: None,
    };
    apply_transformation_patch(&state, &mut endpoint, patch).await?;
    let id = endpoint.id;
    state.store.update_endpoint(endpoint).await?;
    let notice = if removing { "Transformation%20removed" } else { "Transformation%20saved" };
    Ok(redirect(&format!("/ui/apps/{}/endpoints/{id}?notice={notice}#transformation", app.id)))
}

/// Runs the editor's code on a payload and shows what would be sent; nothing is saved or sent.
pub async fn test_transformation(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, endpoint_key)): Path<(String, String)>,
    body: Bytes,
) -> UiResult {
    let (app, endpoint) = load_endpoint(&state, Principal::Admin, &app_key, &endpoint_key).await?;
    let input: TransformationForm = form(&body)?;
    let simulation = EndpointTransformationSimulateIn {
        code: Some(input.code()),
        event_type: input.event_type().to_owned(),
        payload: input.payload()?,
    };
    let out = simulate_transformation(&state, &endpoint, simulation).await?;
    let verdict = match (&out.error, out.cancel) {
        (Some(error), _) => failed(error),
        (None, true) => "<p class=\"badge muted\">cancelled: nothing would be sent</p>".to_owned(),
        (None, false) => format!(
            "<p><span class=\"badge ok\">would send</span> <code>{} {}</code></p><pre>{}</pre>",
            esc(out.method.as_deref().unwrap_or_default()),
            esc(out.url.as_deref().unwrap_or_default()),
            esc(&out.payload.as_ref().map(|p| serde_json::to_string_pretty(p).unwrap_or_default()).unwrap_or_default()),
        ),
    };
    let pane = TransformPane::tested(input, result_panel(&verdict, &out.console));
    let base = format!("/ui/apps/{}/endpoints/{}?", app.id, endpoint.id);
    let activity = super::overview::section(&state, None, &base, app.id, Some(endpoint.id)).await?;
    endpoint_view(&state, app, endpoint, None, None, pane, &activity).await
}

#[derive(Deserialize)]
struct NewEndpoint {
    url: String,
    #[serde(default)]
    event_types: String,
    #[serde(default)]
    description: String,
}

pub async fn create_endpoint(
    _: Operator,
    State(state): State<AppState>,
    Path(app_key): Path<String>,
    body: Bytes,
) -> UiResult {
    let app = load_app(&state, Principal::Admin, &app_key).await?;
    let input: NewEndpoint = form(&body)?;
    let event_types: Vec<String> =
        input.event_types.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    // The same input the API takes, so the same defaults and checks apply.
    let mut json = serde_json::json!({"url": input.url.trim()});
    if !event_types.is_empty() {
        json["eventTypes"] = event_types.into();
    }
    if !input.description.trim().is_empty() {
        json["description"] = input.description.trim().into();
    }
    let input: EndpointIn = serde_json::from_value(json).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let endpoint = endpoint_from(&state, &app, input).await?;
    state.store.create_endpoint(endpoint.clone()).await?;
    Ok(redirect(&format!("/ui/apps/{}/endpoints/{}?notice=Endpoint%20created", app.id, endpoint.id)))
}

#[derive(Deserialize)]
struct Enabled {
    enabled: bool,
}

pub async fn set_enabled(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, endpoint_key)): Path<(String, String)>,
    body: Bytes,
) -> UiResult {
    let (app, mut endpoint) = load_endpoint(&state, Principal::Admin, &app_key, &endpoint_key).await?;
    let input: Enabled = form(&body)?;
    endpoint.disabled = !input.enabled;
    endpoint.updated_at = state.clock.now();
    let id = endpoint.id;
    state.store.update_endpoint(endpoint).await?;
    let notice = if input.enabled { "Endpoint%20enabled" } else { "Endpoint%20disabled" };
    Ok(redirect(&format!("/ui/apps/{}/endpoints/{id}?notice={notice}", app.id)))
}

#[derive(Deserialize)]
struct Recover {
    since: String,
}

pub async fn recover(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, endpoint_key)): Path<(String, String)>,
    body: Bytes,
) -> UiResult {
    let (app, endpoint) = load_endpoint(&state, Principal::Admin, &app_key, &endpoint_key).await?;
    let input: Recover = form(&body)?;
    let since = hookwire_core::time_fmt::parse_human(&input.since, state.clock.now())
        .map_err(|e| ApiError::invalid(&["form", "since"], e))?;
    let params = crate::api::tasks::task_params(&state, &endpoint, since, None, false)?;
    let task = state.tasks.start(app.id, hookwire_core::task::TaskKind::EndpointRecover, params).await?;
    let notice = url_part(&format!("Recovery started as background task {}", task.id));
    Ok(redirect(&format!("/ui/apps/{}/endpoints/{}?notice={notice}", app.id, endpoint.id)))
}

#[derive(Deserialize)]
struct TestEvent {
    event_type: String,
}

pub async fn send_test(
    _: Operator,
    State(state): State<AppState>,
    Path((app_key, endpoint_key)): Path<(String, String)>,
    body: Bytes,
) -> UiResult {
    let (app, endpoint) = load_endpoint(&state, Principal::Admin, &app_key, &endpoint_key).await?;
    let input: TestEvent = form(&body)?;
    let example = EventExampleIn { event_type: input.event_type.trim().to_owned(), example_index: None, payload: None };
    let message = send_example_to(&state, &app, &endpoint, example).await?;
    Ok(redirect(&format!("/ui/apps/{}/messages/{}?notice=Test%20event%20sent", app.id, message.id)))
}

/// Issues a portal token for the application and opens the portal with it.
pub async fn open_portal(_: Operator, State(state): State<AppState>, Path(app_key): Path<String>) -> UiResult {
    let app = load_app(&state, Principal::Admin, &app_key).await?;
    let request = AppTokenRequest {
        app: app.id,
        capabilities: Capabilities::ALL,
        session_id: None,
        feature_flags: Vec::new(),
        ttl_seconds: APP_TOKEN_TTL_SECONDS_DEFAULT,
    };
    let (token, _) = state.auth.issue_app_token(state.store.as_ref(), request).await?;
    Ok(redirect(&crate::api::portal::portal_path(app.id, &token)))
}

pub async fn event_types(_: Operator, State(state): State<AppState>, query: QueryPairs) -> UiResult {
    let page_request = page_from(&query, false, name_iterator)?;
    let types = state.store.list_event_types(&page_request, true).await?;
    let list = list_response(&page_request, types, |t| t.name.clone(), |t| t);
    let mut rows = String::new();
    for t in &list.data {
        let versions = t.schemas.as_ref().and_then(|s| s.as_object()).map_or(0, |s| s.len());
        let flags = [(t.archived, "archived"), (t.deprecated, "deprecated")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| format!("<span class=\"badge muted\">{name}</span>"))
            .collect::<Vec<_>>()
            .join(" ");
        rows.push_str(&format!(
            "<tr><td><a href=\"/ui/event-types/{path}\"><code>{name}</code></a></td><td>{description}</td><td>{group}</td>\
             <td class=\"num\">{versions}</td><td>{flags}</td><td>{updated}</td></tr>",
            path = url_part(&t.name),
            name = esc(&t.name),
            description = esc(&t.description),
            group = esc(t.group_name.as_deref().unwrap_or("—")),
            updated = time(t.updated_at),
        ));
    }
    let table = table(
        &["Name", "Description", "Group", "Schemas", "Flags", "Updated"],
        &rows,
        "The catalog is empty: add an event type below.",
    );
    let more = next_page_link("/ui/event-types?", list.iterator.as_deref().filter(|_| !list.done));
    let body = format!(
        "{notice}<h1>Event types</h1>{table}{more}{create}",
        notice = notice(query.get("notice")),
        create = super::admin::event_type_create_form(&super::admin::EventTypeFields::default(), None),
    );
    Ok(page(Section::EventTypes, "Event types", &body))
}
