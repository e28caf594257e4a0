//! The transformation editor the endpoint and FIFO destination pages share: the code, the box
//! that runs it, the test inputs and the test's result panel, and the form they post. The
//! dashboard runs no script, so "Test without saving" is a form POST answered with the page
//! again, the draft still in the editor. Nothing here saves or runs code.

use hookwire_core::model::Transformation;
use serde::Deserialize;

use super::html::{esc, time};
use crate::api::error::ApiError;

/// What the editor says about one kind of transformation: what the code gets and returns
/// (markup), and what an empty test payload means.
pub struct Wording {
    pub about: &'static str,
    pub payload_label: &'static str,
}

/// The pane: the code in the editor (saved, or the draft just tested), the test's inputs, and
/// its result.
pub struct TransformPane {
    pub code: String,
    pub event_type: String,
    pub payload: String,
    pub result: Option<String>,
}

impl TransformPane {
    /// The saved code (`template` when there is none) and empty test inputs but `event_type`.
    pub fn saved(saved: Option<&Transformation>, template: &str, event_type: String) -> Self {
        Self {
            code: saved.map_or(template.to_owned(), |t| t.code.clone()),
            event_type,
            payload: String::new(),
            result: None,
        }
    }

    /// The draft that was just tested, with the test's result panel (see [`result_panel`]).
    pub fn tested(input: TransformationForm, result: String) -> Self {
        Self { code: input.code(), event_type: input.event_type, payload: input.payload, result: Some(result) }
    }

    /// The editor's form; it posts to `{base}/transformation` (save) and
    /// `{base}/transformation/test`.
    pub fn html(&self, base: &str, saved: Option<&Transformation>, wording: &Wording) -> String {
        let state = match saved {
            None => "none".to_owned(),
            Some(t) if t.enabled => format!("enabled, saved {}", time(t.updated_at)),
            Some(t) => format!("disabled (kept), saved {}", time(t.updated_at)),
        };
        let checked = if saved.is_none_or(|t| t.enabled) { " checked" } else { "" };
        format!(
            "<h2 id=\"transformation\">Transformation</h2>\
             <p class=\"muted\">{about} Currently: {state}.</p>\
             <form method=\"post\" action=\"{base}/transformation\" class=\"stack\">\
             <label for=\"transformation-code\">Code</label>\
             <textarea id=\"transformation-code\" name=\"code\" rows=\"12\" spellcheck=\"false\" class=\"code\">{code}</textarea>\
             <label class=\"check\"><input type=\"checkbox\" name=\"enabled\" value=\"true\"{checked}> Run it on deliveries</label>\
             <div class=\"actions\"><button type=\"submit\">Save transformation</button>\
             <button type=\"submit\" class=\"secondary\" formaction=\"{base}/transformation/test\">Test without saving</button>\
             <label>Event type <input type=\"text\" name=\"event_type\" value=\"{event_type}\"></label></div>\
             <label for=\"transformation-payload\">{payload_label}</label>\
             <textarea id=\"transformation-payload\" name=\"payload\" rows=\"4\" spellcheck=\"false\" class=\"code\">{payload}</textarea>\
             </form>{result}",
            about = wording.about,
            base = esc(base),
            code = esc(&self.code),
            event_type = esc(&self.event_type),
            payload_label = esc(wording.payload_label),
            payload = esc(&self.payload),
            result = self.result.as_deref().unwrap_or_default(),
        )
    }
}

/// The test's result: `verdict` (markup) and what the code logged.
pub fn result_panel(verdict: &str, console: &[String]) -> String {
    let console = if console.is_empty() {
        String::new()
    } else {
        format!("<p class=\"muted\">Console</p><pre>{}</pre>", esc(&console.join("\n")))
    };
    format!("<section class=\"panel\" id=\"transformation-result\"><h3>Test result</h3>{verdict}{console}</section>")
}

/// The verdict of a run that failed: nothing would be sent.
pub fn failed(error: &str) -> String {
    format!("<p class=\"badge bad\">failed</p><pre>{}</pre>", esc(error))
}

/// What the editor posts, to save or to test.
#[derive(Deserialize)]
pub struct TransformationForm {
    code: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    payload: String,
}

impl TransformationForm {
    /// The code with the browser's line ends made `\n`.
    pub fn code(&self) -> String {
        self.code.replace("\r\n", "\n")
    }

    /// Whether the code is empty (saving it removes the transformation).
    pub fn removes(&self) -> bool {
        self.code.trim().is_empty()
    }

    /// Whether "Run it on deliveries" was ticked.
    pub fn enabled(&self) -> bool {
        self.enabled.is_some()
    }

    pub fn event_type(&self) -> &str {
        self.event_type.trim()
    }

    /// The test payload, `None` when the box is empty; text that is not JSON is a 422.
    pub fn payload(&self) -> Result<Option<serde_json::Value>, ApiError> {
        match self.payload.trim() {
            "" => Ok(None),
            text => serde_json::from_str(text)
                .map(Some)
                .map_err(|e| ApiError::invalid(&["form", "payload"], format!("not JSON: {e}"))),
        }
    }
}
