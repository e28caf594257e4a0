//! The browser side: the operator dashboard at `/ui` (server-rendered HTML, admin token in an
//! HttpOnly cookie) and the customer portal at `/portal` (one static page whose script calls
//! the JSON API with an application-scoped token). Assets are embedded; there is no frontend
//! build. Pages call the store and the API modules' operations directly, never HTTP to
//! themselves. Every response carries a strict Content-Security-Policy; the dashboard may not
//! be framed, the portal may (it is meant to be embedded in an iframe).

mod admin;
mod attempts;
mod chart;
mod dashboard;
mod destinations;
mod health;
pub mod html;
mod messages;
mod overview;
mod portal;
mod search;
pub mod session;
mod transformation;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::state::AppState;

/// Styles shared by the dashboard and the portal.
const STYLE_CSS: &str = include_str!("assets/style.css");

/// No scripts at all on the dashboard, and it may not be framed (clickjacking).
pub const DASHBOARD_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";
/// The portal runs its own script only and talks only to this origin; any page may frame it.
/// Images may come from any https origin: a link's theme may name the operator's logo there.
pub const PORTAL_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data: https:; form-action 'none'; base-uri 'none'";

/// The dashboard and portal routes, with their headers and same-origin check.
pub fn router(state: &AppState) -> Router<AppState> {
    let dashboard = Router::new()
        .route("/ui", get(|| async { session::redirect("/ui/overview") }))
        .route("/ui/overview", get(overview::show))
        .route("/ui/login", get(session::sign_in_page).post(session::sign_in))
        .route("/ui/logout", post(session::sign_out))
        .route("/ui/assets/style.css", get(style))
        .route("/ui/apps", get(dashboard::apps).post(admin::create_app))
        .route("/ui/search", get(search::show))
        .route("/ui/apps/{app}", get(dashboard::app))
        .route("/ui/apps/{app}/edit", post(admin::edit_app))
        .route("/ui/apps/{app}/delete", post(admin::delete))
        .route("/ui/apps/{app}/portal", post(dashboard::open_portal))
        .route("/ui/apps/{app}/endpoints", post(dashboard::create_endpoint))
        .route("/ui/apps/{app}/endpoints/{endpoint}", get(dashboard::endpoint))
        .route("/ui/apps/{app}/endpoints/{endpoint}/enabled", post(dashboard::set_enabled))
        .route("/ui/apps/{app}/endpoints/{endpoint}/recover", post(dashboard::recover))
        .route("/ui/apps/{app}/endpoints/{endpoint}/test", post(dashboard::send_test))
        .route("/ui/apps/{app}/endpoints/{endpoint}/transformation", post(dashboard::save_transformation))
        .route("/ui/apps/{app}/endpoints/{endpoint}/transformation/test", post(dashboard::test_transformation))
        .route("/ui/apps/{app}/destinations/{destination}", get(destinations::show))
        .route("/ui/apps/{app}/destinations/{destination}/status", post(destinations::set_status))
        .route("/ui/apps/{app}/destinations/{destination}/skip", post(destinations::skip_backlog))
        .route("/ui/apps/{app}/destinations/{destination}/force-retry", post(destinations::retry_now))
        .route("/ui/apps/{app}/destinations/{destination}/delete", post(destinations::delete))
        .route("/ui/apps/{app}/destinations/{destination}/transformation", post(destinations::save_transformation))
        .route("/ui/apps/{app}/destinations/{destination}/transformation/test", post(destinations::test_transformation))
        .route("/ui/apps/{app}/attempts", get(attempts::list))
        .route("/ui/apps/{app}/messages", get(messages::list))
        .route("/ui/apps/{app}/messages/{msg}", get(messages::show))
        .route("/ui/apps/{app}/messages/{msg}/resend/{endpoint}", post(messages::resend))
        .route("/ui/event-types", get(dashboard::event_types).post(admin::create_event_type_form))
        .route("/ui/event-types/{name}", get(admin::event_type).post(admin::edit_event_type))
        .route("/ui/event-types/{name}/archived", post(admin::set_archived));
    let portal = Router::new()
        .route("/portal", get(portal::page))
        .route("/portal/assets/style.css", get(style))
        .route("/portal/assets/{name}", get(portal::module));
    dashboard
        .merge(portal)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), session::require_same_origin))
        .route_layer(axum::middleware::from_fn(security_headers))
}

async fn style() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8")], STYLE_CSS).into_response()
}

async fn security_headers(request: Request, next: Next) -> Response {
    let is_portal = request.uri().path().starts_with("/portal");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if is_portal {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PORTAL_CSP));
    } else {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DASHBOARD_CSP));
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}
