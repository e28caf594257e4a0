//! The dashboard's forms that change the catalog of applications and event types: create,
//! edit and delete an application; create, edit, archive and restore an event type. Each form
//! is read strictly (an unknown field is refused, naming it) and handed to the JSON API's own
//! handler as the admin, so the API's checks are the only checks; a 422 or 409 comes back as
//! the form again, with what was typed and the error naming the field.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hookwire_core::model::{Application, EventType, Metadata};
use serde::Deserialize;

use super::html::{Section, UiResult, esc, notice, page, time, url_part};
use super::session::{Operator, form, redirect};
use crate::api::apps::{ApplicationIn, ApplicationPatch, create_or_get, delete_app, load_app, patch_app};
use crate::api::error::{ApiError, Detail};
use crate::api::event_types::{EventTypeIn, EventTypePatch, create_event_type, patch_event_type};
use crate::api::extract::{Admin, JsonBody, QueryPairs};
use crate::auth::Principal;
use crate::state::AppState;

/// Characters of a schema version name the edit form takes (`"1"`, `"2"`…).
const SCHEMA_VERSION_CHARS_MAX: usize = 10;

/// How an API error's field (`loc`) or a form check's field is named on a form: the names an
/// error may use, the form field it marks, and the label it is shown with.
struct Field {
    names: &'static [&'static str],
    input: &'static str,
    label: &'static str,
}

const APP_FIELDS: [Field; 4] = [
    Field { names: &["name"], input: "name", label: "Name" },
    Field { names: &["uid"], input: "uid", label: "UID" },
    Field { names: &["throttleRate", "rateLimit", "rate_limit"], input: "rate_limit", label: "Rate limit" },
    Field { names: &["metadata"], input: "metadata", label: "Metadata" },
];

const EVENT_TYPE_FIELDS: [Field; 6] = [
    Field { names: &["name"], input: "name", label: "Name" },
    Field { names: &["description"], input: "description", label: "Description" },
    Field { names: &["featureFlags", "featureFlag", "feature_flags"], input: "feature_flags", label: "Feature flags" },
    Field { names: &["schemas", "schema"], input: "schema", label: "JSON Schema" },
    Field { names: &["schema_version"], input: "schema", label: "Schema version" },
    Field { names: &["deprecated"], input: "deprecated", label: "Deprecated" },
];

/// An error to show above a form: its text, and the input it marks (if it names one).
pub struct FormError {
    input: Option<&'static str>,
    text: String,
}

impl FormError {
    /// The error in words, naming the field by its label on this form. A 409 on these forms is
    /// always the unique key: `conflict_field`'s label.
    fn from_api(error: &ApiError, fields: &[Field], conflict_field: &str) -> Self {
        let field_of = |name: &str| fields.iter().find(|f| f.names.contains(&name));
        match &error.detail {
            Detail::Validation(items) => {
                let first = items.first();
                let field = first.and_then(|item| item.loc.iter().find_map(|part| field_of(part.as_str())));
                let msg = items.iter().map(|i| i.msg.clone()).collect::<Vec<_>>().join("; ");
                let label =
                    field.map_or_else(|| first.map(|i| i.loc.join(".")).unwrap_or_default(), |f| f.label.to_owned());
                Self { input: field.map(|f| f.input), text: format!("{label}: {msg}") }
            }
            Detail::Text(text) if error.status == StatusCode::CONFLICT => {
                let field = fields.iter().find(|f| f.input == conflict_field);
                Self { input: field.map(|f| f.input), text: format!("{}: {text}", field.map_or("", |f| f.label)) }
            }
            Detail::Text(text) => Self { input: None, text: text.clone() },
        }
    }

    fn html(error: Option<&Self>) -> String {
        error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(&e.text))).unwrap_or_default()
    }

    /// ` aria-invalid="true"` on the input this error names.
    fn mark(error: Option<&Self>, input: &str) -> &'static str {
        if error.is_some_and(|e| e.input == Some(input)) { " aria-invalid=\"true\"" } else { "" }
    }
}

/// Whether `error` goes back to the form (the input was wrong) rather than to an error page.
fn is_form_error(error: &ApiError) -> bool {
    matches!(error.status, StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT)
}

// ---- Applications ----

/// The new-application form, as typed.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AppFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    rate_limit: String,
    #[serde(default)]
    metadata: String,
}

/// The application form on /ui/apps (empty, or as typed with its error).
pub fn app_create_form(fields: &AppFields, error: Option<&FormError>) -> String {
    let mark = |input| FormError::mark(error, input);
    format!(
        "<h2 id=\"new-app\">Create an application</h2>{error}\
         <form method=\"post\" action=\"/ui/apps\" class=\"stack\">\
         <label>Name <input type=\"text\" name=\"name\" value=\"{name}\" required{name_mark}></label>\
         <label>UID <input type=\"text\" name=\"uid\" value=\"{uid}\" placeholder=\"optional: your own key, e.g. customer-42\"{uid_mark}></label>\
         <label>Rate limit <input type=\"text\" name=\"rate_limit\" value=\"{rate}\" inputmode=\"numeric\" placeholder=\"messages per second; empty for none\"{rate_mark}></label>\
         <label>Metadata <textarea name=\"metadata\" rows=\"3\" placeholder=\"key=value, one a line\"{metadata_mark}>{metadata}</textarea></label>\
         <button type=\"submit\">Create application</button></form>",
        error = FormError::html(error),
        name = esc(&fields.name),
        uid = esc(&fields.uid),
        rate = esc(&fields.rate_limit),
        metadata = esc(&fields.metadata),
        name_mark = mark("name"),
        uid_mark = mark("uid"),
        rate_mark = mark("rate_limit"),
        metadata_mark = mark("metadata"),
    )
}

pub async fn create_app(_: Operator, State(state): State<AppState>, body: Bytes) -> UiResult {
    let fields: AppFields = form(&body)?;
    let input = match app_input(&fields) {
        Ok(input) => input,
        Err(error) => return app_form_again(&fields, error),
    };
    match create_or_get(&state, input, false).await {
        Ok((_, app)) => Ok(redirect(&format!("/ui/apps/{}?notice=Application%20created", app.id))),
        Err(error) => app_form_again(&fields, error),
    }
}

fn app_form_again(fields: &AppFields, error: ApiError) -> UiResult {
    if !is_form_error(&error) {
        return Err(error.into());
    }
    let status = error.status;
    let error = FormError::from_api(&error, &APP_FIELDS, "uid");
    let body = format!(
        "<p class=\"crumbs\"><a href=\"/ui/apps\">Applications</a> /</p><h1>New application</h1>{}",
        app_create_form(fields, Some(&error))
    );
    Ok(with_status(status, page(Section::Apps, "New application", &body)))
}

fn app_input(fields: &AppFields) -> Result<ApplicationIn, ApiError> {
    let metadata = metadata(&fields.metadata)?;
    Ok(ApplicationIn {
        name: fields.name.trim().to_owned(),
        uid: optional(&fields.uid),
        throttle_rate: rate_limit(&fields.rate_limit)?,
        metadata: (!metadata.is_empty()).then_some(metadata),
    })
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim()).filter(|t| !t.is_empty()).map(str::to_owned)
}

fn rate_limit(text: &str) -> Result<Option<u32>, ApiError> {
    match text.trim() {
        "" => Ok(None),
        text => text.parse().map(Some).map_err(|_| {
            ApiError::invalid(&["form", "rate_limit"], format!("{text:?} is not a whole number of messages per second"))
        }),
    }
}

/// `key=value` lines (blank lines skipped) as metadata.
fn metadata(text: &str) -> Result<Metadata, ApiError> {
    let mut out = Metadata::new();
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let (key, value) = line.split_once('=').ok_or_else(|| {
            ApiError::invalid(&["form", "metadata"], format!("line {}: expected key=value", index + 1))
        })?;
        out.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(out)
}

/// The edit form, as typed: the fields `PATCH /api/v1/app/{id}` changes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppEdit {
    name: String,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    rate_limit: String,
}

/// The application page's edit and delete forms (as saved, or as typed with its error).
pub fn app_edit_section(app: &Application, typed: Option<(&str, &str, &str)>, error: Option<&FormError>) -> String {
    let rate = app.throttle_rate.map(|r| r.to_string()).unwrap_or_default();
    let (name, uid, rate) = typed.unwrap_or((&app.name, app.uid.as_deref().unwrap_or(""), &rate));
    let mark = |input| FormError::mark(error, input);
    let open = if error.is_some() { " open" } else { "" };
    format!(
        "<details class=\"edit\" id=\"edit\"{open}><summary>Edit or delete this application</summary>{error}\
         <form method=\"post\" action=\"/ui/apps/{id}/edit\" class=\"stack\">\
         <label>Name <input type=\"text\" name=\"name\" value=\"{name}\" required{name_mark}></label>\
         <label>UID <input type=\"text\" name=\"uid\" value=\"{uid}\" placeholder=\"empty for none\"{uid_mark}></label>\
         <label>Rate limit <input type=\"text\" name=\"rate_limit\" value=\"{rate}\" inputmode=\"numeric\" placeholder=\"messages per second; empty for none\"{rate_mark}></label>\
         <button type=\"submit\">Save application</button></form>\
         <form method=\"post\" action=\"/ui/apps/{id}/delete\" class=\"stack danger-zone\">\
         <p>Deleting removes the application with its endpoints, messages and attempts, for good.</p>\
         <label>Type the application's name to confirm <input type=\"text\" name=\"confirm\" autocomplete=\"off\" required{confirm_mark}></label>\
         <button type=\"submit\" class=\"danger\">Delete application</button></form></details>",
        error = FormError::html(error),
        id = app.id,
        name = esc(name),
        uid = esc(uid),
        rate = esc(rate),
        name_mark = mark("name"),
        uid_mark = mark("uid"),
        rate_mark = mark("rate_limit"),
        confirm_mark = mark("confirm"),
    )
}

pub async fn edit_app(
    _: Operator,
    State(state): State<AppState>,
    Path(app_key): Path<String>,
    body: Bytes,
) -> UiResult {
    let app = load_app(&state, Principal::Admin, &app_key).await?;
    let fields: AppEdit = form(&body)?;
    let patch = rate_limit(&fields.rate_limit).map(|rate| ApplicationPatch {
        name: Some(fields.name.trim().to_owned()),
        uid: Some(optional(&fields.uid)),
        throttle_rate: Some(rate),
        metadata: None,
    });
    let result = match patch {
        Ok(patch) => patch_app(State(state.clone()), Principal::Admin, Path(app.id.to_string()), JsonBody(patch))
            .await
            .map(|Json(_)| ()),
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => Ok(redirect(&format!("/ui/apps/{}?notice=Application%20saved", app.id))),
        Err(error) if is_form_error(&error) => {
            let status = error.status;
            let error = FormError::from_api(&error, &APP_FIELDS, "uid");
            let typed = (fields.name.as_str(), fields.uid.as_str(), fields.rate_limit.as_str());
            Ok(app_form_page(status, &app, app_edit_section(&app, Some(typed), Some(&error))))
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteApp {
    #[serde(default)]
    confirm: String,
}

/// Deletes the application once its name (or id) is typed to confirm.
pub async fn delete(_: Operator, State(state): State<AppState>, Path(app_key): Path<String>, body: Bytes) -> UiResult {
    let app = load_app(&state, Principal::Admin, &app_key).await?;
    let input: DeleteApp = form(&body)?;
    let typed = input.confirm.trim();
    if typed != app.name.trim() && typed != app.id.to_string() {
        let error = FormError {
            input: Some("confirm"),
            text: format!("Confirm: type the application's name ({}) to delete it", app.name),
        };
        let section = app_edit_section(&app, None, Some(&error));
        return Ok(app_form_page(StatusCode::UNPROCESSABLE_ENTITY, &app, section));
    }
    delete_app(State(state.clone()), Admin, Path(app.id.to_string())).await?;
    let text = url_part(&format!("Application {} deleted", app.name));
    Ok(redirect(&format!("/ui/apps?notice={text}")))
}

/// The edit section alone on a page, answered with `status` (what was typed was refused).
fn app_form_page(status: StatusCode, app: &Application, section: String) -> Response {
    let body = format!(
        "<p class=\"crumbs\"><a href=\"/ui/apps\">Applications</a> / <a href=\"/ui/apps/{id}\">{name}</a> /</p>\
         <h1>{name}</h1>{section}",
        id = app.id,
        name = esc(&app.name),
    );
    with_status(status, page(Section::Apps, &app.name, &body))
}

// ---- Event types ----

/// The new-event-type form, as typed.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EventTypeFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    feature_flags: String,
    #[serde(default)]
    schema: String,
}

/// The event-type form on /ui/event-types (empty, or as typed with its error).
pub fn event_type_create_form(fields: &EventTypeFields, error: Option<&FormError>) -> String {
    let mark = |input| FormError::mark(error, input);
    format!(
        "<h2 id=\"new-event-type\">Add an event type</h2>{error}\
         <form method=\"post\" action=\"/ui/event-types\" class=\"stack\">\
         <label>Name <input type=\"text\" name=\"name\" value=\"{name}\" required placeholder=\"invoice.paid\"{name_mark}></label>\
         <label>Description <input type=\"text\" name=\"description\" value=\"{description}\"{description_mark}></label>\
         <label>Feature flags <input type=\"text\" name=\"feature_flags\" value=\"{flags}\" placeholder=\"comma-separated; empty: every customer sees it\"{flags_mark}></label>\
         <label>JSON Schema (version 1) <textarea name=\"schema\" rows=\"6\" class=\"code\" spellcheck=\"false\" placeholder=\"{{&quot;type&quot;: &quot;object&quot;}} — empty for none\"{schema_mark}>{schema}</textarea></label>\
         <button type=\"submit\">Add event type</button></form>",
        error = FormError::html(error),
        name = esc(&fields.name),
        description = esc(&fields.description),
        flags = esc(&fields.feature_flags),
        schema = esc(&fields.schema),
        name_mark = mark("name"),
        description_mark = mark("description"),
        flags_mark = mark("feature_flags"),
        schema_mark = mark("schema"),
    )
}

pub async fn create_event_type_form(_: Operator, State(state): State<AppState>, body: Bytes) -> UiResult {
    let fields: EventTypeFields = form(&body)?;
    let input = schema(&fields.schema).map(|schema| EventTypeIn {
        name: Some(fields.name.trim().to_owned()),
        description: fields.description.trim().to_owned(),
        archived: None,
        deprecated: None,
        schemas: schema.map(|schema| serde_json::json!({ "1": schema })),
        group_name: None,
        feature_flags: flags(&fields.feature_flags),
        feature_flag: None,
    });
    let result = match input {
        Ok(input) => {
            create_event_type(State(state.clone()), Admin, JsonBody(input)).await.map(|(_, Json(out))| out.name)
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(name) => Ok(redirect(&format!("/ui/event-types/{}?notice=Event%20type%20added", url_part(&name)))),
        Err(error) if is_form_error(&error) => {
            let status = error.status;
            let error = FormError::from_api(&error, &EVENT_TYPE_FIELDS, "name");
            let body = format!(
                "<p class=\"crumbs\"><a href=\"/ui/event-types\">Event types</a> /</p><h1>New event type</h1>{}",
                event_type_create_form(&fields, Some(&error))
            );
            Ok(with_status(status, page(Section::EventTypes, "New event type", &body)))
        }
        Err(error) => Err(error.into()),
    }
}

/// A schema typed in a form: `None` when empty; text that is not JSON is a 422 naming it.
fn schema(text: &str) -> Result<Option<serde_json::Value>, ApiError> {
    match text.trim() {
        "" => Ok(None),
        text => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| ApiError::invalid(&["form", "schema"], format!("not JSON: {e}"))),
    }
}

fn flags(text: &str) -> Option<Vec<String>> {
    let flags: Vec<String> = text.split(',').map(str::trim).filter(|f| !f.is_empty()).map(str::to_owned).collect();
    (!flags.is_empty()).then_some(flags)
}

/// The version the edit form's schema box shows: the highest numbered one, or "1".
fn latest_version(event_type: &EventType) -> String {
    let versions = event_type.schemas.as_ref().and_then(|s| s.as_object());
    versions
        .and_then(|v| v.keys().max_by_key(|k| (k.parse::<u64>().unwrap_or(0), (*k).clone())).cloned())
        .unwrap_or_else(|| "1".to_owned())
}

/// One event type: its facts, the edit form, and archive or restore.
pub async fn event_type(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: QueryPairs,
) -> UiResult {
    let event_type = load_event_type(&state, &name).await?;
    Ok(event_type_page(&event_type, query.get("notice"), None, None))
}

async fn load_event_type(state: &AppState, name: &str) -> Result<EventType, ApiError> {
    state.store.get_event_type(name).await?.ok_or_else(|| ApiError::not_found("event type"))
}

/// The edit form, as typed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTypeEdit {
    #[serde(default)]
    description: String,
    #[serde(default)]
    feature_flags: String,
    #[serde(default)]
    deprecated: Option<String>,
    #[serde(default)]
    schema: String,
    schema_version: String,
}

fn event_type_page(
    event_type: &EventType,
    notice_text: Option<&str>,
    typed: Option<&EventTypeEdit>,
    error: Option<&FormError>,
) -> Response {
    let version = typed.map_or_else(|| latest_version(event_type), |t| t.schema_version.clone());
    let saved_schema = event_type
        .schemas
        .as_ref()
        .and_then(|s| s.get(&version))
        .map(|s| serde_json::to_string_pretty(s).unwrap_or_default())
        .unwrap_or_default();
    let saved_flags = event_type.feature_flags.as_deref().unwrap_or_default().join(", ");
    let (description, flags, deprecated, schema) = match typed {
        Some(t) => (t.description.as_str(), t.feature_flags.as_str(), t.deprecated.is_some(), t.schema.as_str()),
        None => (event_type.description.as_str(), saved_flags.as_str(), event_type.deprecated, saved_schema.as_str()),
    };
    let versions = event_type.schemas.as_ref().and_then(|s| s.as_object()).map_or(0, |s| s.len());
    let path = format!("/ui/event-types/{}", url_part(&event_type.name));
    let mark = |input| FormError::mark(error, input);
    let (archive_value, archive_label) = if event_type.archived { ("false", "Restore") } else { ("true", "Archive") };
    let body = format!(
        "{notice}<p class=\"crumbs\"><a href=\"/ui/event-types\">Event types</a> /</p>\
         <h1><code>{name}</code></h1>\
         <dl class=\"facts\"><dt>Status</dt><dd>{status}</dd><dt>Schemas</dt><dd>{versions}</dd>\
         <dt>Created</dt><dd>{created}</dd><dt>Updated</dt><dd>{updated}</dd></dl>\
         <div class=\"actions\"><form method=\"post\" action=\"{path}/archived\">\
         <input type=\"hidden\" name=\"archived\" value=\"{archive_value}\">\
         <button type=\"submit\" class=\"secondary\">{archive_label}</button></form></div>\
         <h2>Edit</h2>{error}<form method=\"post\" action=\"{path}\" class=\"stack\">\
         <label>Description <input type=\"text\" name=\"description\" value=\"{description}\"{description_mark}></label>\
         <label>Feature flags <input type=\"text\" name=\"feature_flags\" value=\"{flags}\" placeholder=\"comma-separated; empty: every customer sees it\"{flags_mark}></label>\
         <label class=\"check\"><input type=\"checkbox\" name=\"deprecated\" value=\"true\"{checked}> Deprecated</label>\
         <input type=\"hidden\" name=\"schema_version\" value=\"{version}\">\
         <label>JSON Schema (version {version}; empty removes it) <textarea name=\"schema\" rows=\"10\" class=\"code\" spellcheck=\"false\"{schema_mark}>{schema}</textarea></label>\
         <button type=\"submit\">Save event type</button></form>",
        notice = notice(notice_text),
        name = esc(&event_type.name),
        status = if event_type.archived {
            "<span class=\"badge muted\">archived</span>"
        } else if event_type.deprecated {
            "<span class=\"badge wait\">deprecated</span>"
        } else {
            "<span class=\"badge ok\">active</span>"
        },
        created = time(event_type.created_at),
        updated = time(event_type.updated_at),
        error = FormError::html(error),
        description = esc(description),
        flags = esc(flags),
        checked = if deprecated { " checked" } else { "" },
        version = esc(&version),
        schema = esc(schema),
        description_mark = mark("description"),
        flags_mark = mark("feature_flags"),
        schema_mark = mark("schema"),
    );
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    with_status(status, page(Section::EventTypes, &event_type.name, &body))
}

pub async fn edit_event_type(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> UiResult {
    let event_type = load_event_type(&state, &name).await?;
    let fields: EventTypeEdit = form(&body)?;
    let result = match edit_patch(&event_type, &fields) {
        Ok(patch) => patch_event_type(State(state.clone()), Admin, Path(event_type.name.clone()), JsonBody(patch))
            .await
            .map(|Json(_)| ()),
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => Ok(redirect(&format!("/ui/event-types/{}?notice=Event%20type%20saved", url_part(&event_type.name)))),
        Err(error) if is_form_error(&error) => {
            let error = FormError::from_api(&error, &EVENT_TYPE_FIELDS, "name");
            Ok(event_type_page(&event_type, None, Some(&fields), Some(&error)))
        }
        Err(error) => Err(error.into()),
    }
}

/// The patch the edit form asks for: the schema box replaces (or, empty, removes) its version
/// and keeps the others.
fn edit_patch(event_type: &EventType, fields: &EventTypeEdit) -> Result<EventTypePatch, ApiError> {
    let version = fields.schema_version.trim();
    if version.is_empty()
        || version.len() > SCHEMA_VERSION_CHARS_MAX
        || !version.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ApiError::invalid(&["form", "schema_version"], format!("{version:?} is not a schema version")));
    }
    // A ticked box sends `true`; an unticked one sends nothing.
    let deprecated = match fields.deprecated.as_deref() {
        None => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid(&["form", "deprecated"], format!("{other:?}: a ticked box sends true")));
        }
    };
    let mut schemas = event_type.schemas.as_ref().and_then(|s| s.as_object()).cloned().unwrap_or_default();
    match schema(&fields.schema)? {
        Some(schema) => schemas.insert(version.to_owned(), schema),
        None => schemas.remove(version),
    };
    Ok(EventTypePatch {
        description: Some(fields.description.trim().to_owned()),
        archived: None,
        deprecated: Some(deprecated),
        schemas: Some((!schemas.is_empty()).then_some(serde_json::Value::Object(schemas))),
        group_name: None,
        feature_flags: Some(flags(&fields.feature_flags)),
        feature_flag: None,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Archived {
    archived: bool,
}

/// Archives an event type (it stays readable and accepted) or brings it back.
pub async fn set_archived(
    _: Operator,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> UiResult {
    let event_type = load_event_type(&state, &name).await?;
    let input: Archived = form(&body)?;
    let patch = EventTypePatch {
        description: None,
        archived: Some(input.archived),
        deprecated: None,
        schemas: None,
        group_name: None,
        feature_flags: None,
        feature_flag: None,
    };
    let Json(_) = patch_event_type(State(state.clone()), Admin, Path(event_type.name.clone()), JsonBody(patch)).await?;
    let text = if input.archived { "Event%20type%20archived" } else { "Event%20type%20restored" };
    Ok(redirect(&format!("/ui/event-types/{}?notice={text}", url_part(&event_type.name))))
}

fn with_status(status: StatusCode, response: Response) -> Response {
    (status, response).into_response()
}
