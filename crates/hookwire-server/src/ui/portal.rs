//! The customer portal: one static page and its script, ES modules served as they are written
//! (there is no frontend build; `assets/portal/main.js` is the entry). The page holds no data
//! and needs no sign-in; the script reads the application-scoped token from the URL fragment
//! and calls the JSON API with it, so the API's scope check is the only gatekeeper.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};

const PORTAL_HTML: &str = include_str!("assets/portal.html");

/// Every module of the portal's script, by the name it is served under
/// (`/portal/assets/{name}`, which is also what the modules import: `./dom.js`).
const PORTAL_MODULES: &[(&str, &str)] = &[
    ("main.js", include_str!("assets/portal/main.js")),
    ("state.js", include_str!("assets/portal/state.js")),
    ("dom.js", include_str!("assets/portal/dom.js")),
    ("api.js", include_str!("assets/portal/api.js")),
    ("format.js", include_str!("assets/portal/format.js")),
    ("router.js", include_str!("assets/portal/router.js")),
    ("theme.js", include_str!("assets/portal/theme.js")),
    ("endpoints.js", include_str!("assets/portal/endpoints.js")),
    ("settings.js", include_str!("assets/portal/settings.js")),
    ("signature.js", include_str!("assets/portal/signature.js")),
    ("retries.js", include_str!("assets/portal/retries.js")),
    ("headers.js", include_str!("assets/portal/headers.js")),
    ("deliveries.js", include_str!("assets/portal/deliveries.js")),
    ("transformation.js", include_str!("assets/portal/transformation.js")),
    ("logs.js", include_str!("assets/portal/logs.js")),
    ("activity.js", include_str!("assets/portal/activity.js")),
    ("catalog.js", include_str!("assets/portal/catalog.js")),
    ("destinations.js", include_str!("assets/portal/destinations.js")),
];

pub async fn page() -> Html<&'static str> {
    Html(PORTAL_HTML)
}

/// One module of the script, with a JavaScript type (browsers refuse a module script
/// without one); any other name is a 404.
pub async fn module(Path(name): Path<String>) -> Response {
    match PORTAL_MODULES.iter().find(|(known, _)| *known == name) {
        Some((_, source)) => ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], *source).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
