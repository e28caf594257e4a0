//! The dashboard's search across applications: a message id (`msg_…`), an event id or a tag
//! finds the message in whichever application holds it. The store looks messages up within one
//! application, so the search asks each application in turn, the first `SEARCH_APPS_MAX` by id,
//! and says so when there are more. Reads only.

use axum::extract::State;
use hookwire_core::MessageId;
use hookwire_core::model::{Application, Message};
use hookwire_store::{AppFilter, MessageFilter, MessageMatch, Page};

use super::attempts::refuse_unknown;
use super::dashboard::table;
use super::html::{Section, UiResult, esc, page, time};
use super::session::Operator;
use crate::api::error::ApiError;
use crate::api::extract::QueryPairs;
use crate::state::AppState;

/// Applications one search asks (one or two queries each).
pub const SEARCH_APPS_MAX: usize = 200;
/// Messages carrying the tag listed per application, newest first.
const TAG_MATCHES_PER_APP: usize = 10;
/// Matches listed in all; the search stops there.
const MATCHES_SHOWN_MAX: usize = 50;
/// Characters a search may have (event ids and tags are shorter).
const QUERY_CHARS_MAX: usize = 256;

/// The search box in the dashboard's header.
pub const FORM: &str = "<form method=\"get\" action=\"/ui/search\" class=\"search\" role=\"search\">\
     <input type=\"search\" name=\"q\" aria-label=\"Find a message\" placeholder=\"msg_…, event id or tag\"></form>";

/// One message found, and how.
struct Found {
    app: Application,
    message: Message,
    by: &'static str,
}

pub async fn show(_: Operator, State(state): State<AppState>, query: QueryPairs) -> UiResult {
    refuse_unknown(&query, &["q"])?;
    let text = query.get("q").unwrap_or("").trim().to_owned();
    if text.chars().count() > QUERY_CHARS_MAX {
        return Err(ApiError::invalid(&["query", "q"], format!("at most {QUERY_CHARS_MAX} characters")).into());
    }
    let intro = "<p class=\"muted\">Type a message id (<code>msg_…</code>), an event id or a tag in the box above: \
                 the search finds the message in whichever application holds it.</p>";
    if text.is_empty() {
        return Ok(page(Section::Apps, "Search", &format!("<h1>Search</h1>{intro}")));
    }
    let request = Page { limit: SEARCH_APPS_MAX + 1, iterator: None, descending: false };
    let mut apps = state.store.list_apps(&AppFilter { page: request, ..Default::default() }).await?;
    let more_apps = apps.len() > SEARCH_APPS_MAX;
    apps.truncate(SEARCH_APPS_MAX);
    let found = search(&state, apps, &text).await?;
    let mut rows = String::new();
    for Found { app, message, by } in &found {
        rows.push_str(&format!(
            "<tr><td><a href=\"/ui/apps/{app_id}\">{app_name}</a></td>\
             <td class=\"id\"><a href=\"/ui/apps/{app_id}/messages/{id}\"><code>{id}</code></a></td>\
             <td><code>{event_type}</code></td><td>{event_id}</td><td>{created}</td><td>{by}</td></tr>",
            app_id = app.id,
            app_name = esc(&app.name),
            id = message.id,
            event_type = esc(&message.event_type),
            event_id = esc(message.event_id.as_deref().unwrap_or("—")),
            created = time(message.created_at),
        ));
    }
    let table = table(
        &["Application", "Message", "Event type", "Event ID", "Created (UTC)", "Found by"],
        &rows,
        "No message has this id, event id or tag.",
    );
    let mut notes = String::new();
    if more_apps {
        notes.push_str(&format!(
            "<p class=\"muted\">Only the first {SEARCH_APPS_MAX} applications were searched: \
             a message of a later one is found from its application's pages.</p>"
        ));
    }
    if found.len() >= MATCHES_SHOWN_MAX {
        notes.push_str(&format!("<p class=\"muted\">The first {MATCHES_SHOWN_MAX} matches are shown.</p>"));
    }
    let body = format!("<h1>Search: <code>{}</code></h1>{notes}{table}", esc(&text));
    Ok(page(Section::Apps, "Search", &body))
}

/// A message id is looked up in each application; anything else as an event id, and as a tag
/// when it can be one.
async fn search(state: &AppState, apps: Vec<Application>, text: &str) -> UiResult<Vec<Found>> {
    let message_id = text.parse::<MessageId>().ok();
    let tag = crate::api::validate::tags("q", &[text.to_owned()]).is_ok();
    let mut found = Vec::new();
    for app in apps {
        if found.len() >= MATCHES_SHOWN_MAX {
            break;
        }
        if let Some(id) = message_id {
            if let Some(message) = state.store.get_message(app.id, id).await? {
                found.push(Found { app, message, by: "message id" });
            }
            continue;
        }
        let mut here = Vec::new();
        if let Some(message) = state.store.get_message_by_event_id(app.id, text).await? {
            here.push((message, "event id"));
        }
        if tag {
            let filter = MessageFilter {
                page: Page { limit: TAG_MATCHES_PER_APP, iterator: None, descending: true },
                matching: MessageMatch { tag: Some(text.to_owned()), ..Default::default() },
                ..Default::default()
            };
            for message in state.store.list_messages(app.id, &filter).await? {
                if !here.iter().any(|(m, _): &(Message, _)| m.id == message.id) {
                    here.push((message, "tag"));
                }
            }
        }
        found.extend(here.into_iter().map(|(message, by)| Found { app: app.clone(), message, by }));
    }
    found.truncate(MATCHES_SHOWN_MAX);
    Ok(found)
}
