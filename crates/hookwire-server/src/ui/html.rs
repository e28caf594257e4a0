//! HTML for the dashboard: escaping, the page shell, and the small pieces every page uses
//! (status badges, times, errors). Every value that came from a user or the store passes through
//! `esc` before it is put into markup; nothing here reads the store.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use hookwire_core::model::Status;
use hookwire_core::time_fmt::{Millis, from_millis};

use crate::api::error::{ApiError, Detail};

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a value for a URL query or path segment (then `esc` it into an attribute).
pub fn url_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Which top-level section a page belongs to (highlighted in the navigation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Apps,
    EventTypes,
    None,
}

/// A whole dashboard page: navigation, the title, and `body` (already escaped markup).
pub fn page(section: Section, title: &str, body: &str) -> Response {
    let nav = |target: Section, href: &str, label: &str| {
        let class = if section == target { " class=\"current\"" } else { "" };
        format!("<a href=\"{href}\"{class}>{label}</a>")
    };
    let signed_in = section != Section::None;
    let links = if signed_in {
        format!(
            "<nav>{}{}{}</nav>{}<form method=\"post\" action=\"/ui/logout\" class=\"signout\">\
             <button type=\"submit\" class=\"link\">Sign out</button></form>",
            nav(Section::Overview, "/ui/overview", "Overview"),
            nav(Section::Apps, "/ui/apps", "Applications"),
            nav(Section::EventTypes, "/ui/event-types", "Event types"),
            super::search::FORM,
        )
    } else {
        String::new()
    };
    let document = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Hookwire</title><link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"/ui/assets/style.css\"></head>\
         <body class=\"dashboard\"><header class=\"top\"><a class=\"brand\" href=\"/ui/apps\">Hookwire</a>{links}</header>\
         <main>{body}</main></body></html>",
        title = esc(title),
    );
    Html(document).into_response()
}

/// A coloured label for a delivery or attempt status.
pub fn status_badge(status: Status) -> String {
    let class = match status {
        Status::Success => "ok",
        Status::Pending | Status::Sending => "wait",
        Status::Fail => "bad",
        Status::Canceled => "muted",
    };
    format!("<span class=\"badge {class}\">{}</span>", status.text())
}

/// A coloured label for an endpoint's state.
pub fn endpoint_badge(status: hookwire_core::model::EndpointStatus) -> String {
    use hookwire_core::model::EndpointStatus;
    let class = match status {
        EndpointStatus::Active => "ok",
        EndpointStatus::Unverified => "wait",
        EndpointStatus::Disabled => "muted",
    };
    format!("<span class=\"badge {class}\">{}</span>", status.as_str())
}

/// A coloured label for a destination's state as the API shows it: `retrying` (its current
/// batch failed and goes again; everything after it waits) apart from `enabled`.
pub fn destination_badge(status: &str) -> String {
    let class = match status {
        "enabled" => "ok",
        "retrying" => "wait",
        _ => "muted",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(status))
}

/// `2026-11-23 14:00:05 UTC`, readable at a glance; the exact RFC 3339 time is in the title.
pub fn time(millis: Millis) -> String {
    let at = from_millis(millis);
    let exact = hookwire_core::time_fmt::format_millis(millis);
    format!(
        "<time datetime=\"{exact}\" title=\"{exact}\">{:04}-{:02}-{:02} {:02}:{:02}:{:02}</time>",
        at.year(),
        at.month() as u8,
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Pretty-prints stored JSON for a `<pre>` block; text that is not JSON is shown as it is.
pub fn pretty_json(raw: &str) -> String {
    let pretty = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| raw.to_owned());
    esc(&pretty)
}

/// A short notice at the top of a page after a POST redirected back (`?notice=…`).
pub fn notice(text: Option<&str>) -> String {
    text.map(|t| format!("<p class=\"notice\">{}</p>", esc(t))).unwrap_or_default()
}

/// A failure inside the dashboard: an HTML page with the API error's status and text.
pub struct UiError(pub ApiError);

impl From<ApiError> for UiError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl From<hookwire_store::StoreError> for UiError {
    fn from(error: hookwire_store::StoreError) -> Self {
        Self(error.into())
    }
}

impl From<crate::auth::AuthError> for UiError {
    fn from(error: crate::auth::AuthError) -> Self {
        Self(error.into())
    }
}

impl From<crate::intake::IntakeError> for UiError {
    fn from(error: crate::intake::IntakeError) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let detail = match &self.0.detail {
            Detail::Text(text) => text.clone(),
            Detail::Validation(items) => {
                items.iter().map(|i| format!("{}: {}", i.loc.join("."), i.msg)).collect::<Vec<_>>().join("; ")
            }
        };
        let status = self.0.status;
        let body = format!(
            "<h1>{}</h1><p class=\"error\">{}</p><p><a href=\"/ui/apps\">Applications</a></p>",
            esc(status.canonical_reason().unwrap_or("Error")),
            esc(&detail)
        );
        (status, page(Section::Apps, "Error", &body)).into_response()
    }
}

pub type UiResult<T = Response> = Result<T, UiError>;

/// A plain refusal page (403 and friends) for requests that never reached a handler.
pub fn refusal(status: StatusCode, text: &str) -> Response {
    let body = format!("<h1>{}</h1><p class=\"error\">{}</p>", esc(status.canonical_reason().unwrap_or("")), esc(text));
    (status, page(Section::None, "Refused", &body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(url_part("a b/é?&"), "a%20b%2F%C3%A9%3F%26");
    }
}
