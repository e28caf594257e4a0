//! The customer portal: one static page and its script. The page holds no data and needs no
//! sign-in; the script reads the application-scoped token from the URL fragment and calls the
//! JSON API with it, so the API's scope check is the only gatekeeper.

use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};

const PORTAL_HTML: &str = include_str!("assets/portal.html");
const PORTAL_JS: &str = include_str!("assets/portal.js");

pub async fn page() -> Html<&'static str> {
    Html(PORTAL_HTML)
}

pub async fn script() -> Response {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], PORTAL_JS).into_response()
}
