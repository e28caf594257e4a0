//! Who may use the dashboard, and from where: sign-in with the admin token opens a server-side
//! session (`Auth::open_dashboard_session`: a random id stored only as its hash, expiring, ended
//! by sign-out or by a change of admin token) whose id rides in an HttpOnly, SameSite=Strict
//! cookie scoped to /ui; the `Operator` extractor every page takes checks it; and every
//! state-changing request must come from this origin (CSRF). The admin token itself never sits
//! in the browser.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::html::{Section, UiError, esc, page, refusal};
use crate::api::error::ApiError;
use crate::auth::Principal;
use crate::state::AppState;

pub const COOKIE_NAME: &str = "hookwire_ui";
/// How long a dashboard sign-in lasts before the operator must enter the token again.
pub const SESSION_MAX_AGE_SECONDS: u64 = 12 * 3_600;
/// A form body larger than this is refused (the largest form is a test payload).
pub const FORM_BYTES_MAX: usize = 256 * 1024;

/// A signed-in operator (the cookie holds a live session id). Pages that take it redirect to the
/// sign-in form otherwise.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = session_cookie(&parts.headers).ok_or_else(to_sign_in)?;
        match state.auth.dashboard_session(state.store.as_ref(), &session).await {
            Ok(true) => Ok(Self),
            Ok(false) => Err(to_sign_in()),
            Err(error) => Err(UiError::from(error).into_response()),
        }
    }
}

fn to_sign_in() -> Response {
    redirect("/ui/login")
}

/// A 303 to `location` (after a POST, the browser follows with a GET).
pub fn redirect(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_owned())]).into_response()
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    let prefix = format!("{COOKIE_NAME}=");
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(&prefix).map(str::to_owned))
        .filter(|session| !session.is_empty())
}

/// Route layer for /ui and /portal: any request that may change state must come from a page of
/// this origin. Browsers send `Sec-Fetch-Site` (or at least `Origin`) on every POST; together
/// with the SameSite=Strict cookie this is the CSRF defence.
pub async fn require_same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    if !is_same_origin(request.headers(), state.config.public_url.as_deref()) {
        tracing::info!(path = %request.uri().path(), "refused a cross-origin dashboard request");
        return refusal(StatusCode::FORBIDDEN, "This request did not come from a Hookwire page.");
    }
    next.run(request).await
}

pub fn is_same_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let text = |name| headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return site == "same-origin";
    }
    let Some(origin) = text(ORIGIN.as_str()) else {
        return false;
    };
    let origin_host = origin.split_once("://").map(|(_, host)| host);
    let matches_host = origin_host.is_some() && origin_host == text(HOST.as_str());
    let matches_public = public_url.is_some_and(|url| url.trim_end_matches('/') == origin);
    matches_host || matches_public
}

/// Parses an `application/x-www-form-urlencoded` body: a field the form does not have, or one
/// it needs and lacks, is a 422 naming it (as the API answers a JSON body); a body that is not a
/// form at all is a 400 page.
pub fn form<T: DeserializeOwned>(body: &Bytes) -> Result<T, UiError> {
    if body.len() > FORM_BYTES_MAX {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "form too large").into());
    }
    serde_urlencoded::from_bytes(body).map_err(|e| {
        let text = e.to_string();
        // serde's wording: "unknown field `colour`, expected …" / "missing field `name`".
        let named = ["unknown field `", "missing field `"]
            .iter()
            .find_map(|prefix| text.strip_prefix(prefix)?.split('`').next().map(str::to_owned));
        match named {
            Some(field) => ApiError::invalid(&["body", &field], text).into(),
            None => ApiError::bad_request(format!("invalid form: {text}")).into(),
        }
    })
}

pub async fn sign_in_page(headers: HeaderMap, State(state): State<AppState>) -> Response {
    if let Some(session) = session_cookie(&headers)
        && matches!(state.auth.dashboard_session(state.store.as_ref(), &session).await, Ok(true))
    {
        return redirect("/ui/overview");
    }
    sign_in_form(None)
}

fn sign_in_form(error: Option<&str>) -> Response {
    let error = error.map(|e| format!("<p class=\"error\">{}</p>", esc(e))).unwrap_or_default();
    let body = format!(
        "<section class=\"signin\"><h1>Sign in</h1>\
         <p class=\"muted\">Enter the admin token Hookwire printed on its first start \
         (or <code>HOOKWIRE_ADMIN_TOKEN</code>).</p>{error}\
         <form method=\"post\" action=\"/ui/login\">\
         <label>Admin token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required autofocus></label>\
         <button type=\"submit\">Sign in</button></form></section>"
    );
    page(Section::None, "Sign in", &body)
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

pub async fn sign_in(State(state): State<AppState>, body: Bytes) -> Response {
    let token = match form::<SignIn>(&body) {
        Ok(input) => input.token.trim().to_owned(),
        Err(error) => return error.into_response(),
    };
    match state.auth.authenticate(state.store.as_ref(), &token).await {
        Ok(Principal::Admin) => {
            let session = match state.auth.open_dashboard_session(state.store.as_ref(), SESSION_MAX_AGE_SECONDS).await {
                Ok(session) => session,
                Err(error) => return UiError::from(error).into_response(),
            };
            let secure = state.config.public_url.as_deref().is_some_and(|url| url.starts_with("https://"));
            let cookie = format!(
                "{COOKIE_NAME}={session}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={SESSION_MAX_AGE_SECONDS}{}",
                if secure { "; Secure" } else { "" }
            );
            ([(SET_COOKIE, cookie)], redirect("/ui/overview")).into_response()
        }
        Ok(Principal::App(_)) => (
            StatusCode::UNAUTHORIZED,
            sign_in_form(Some("That is an application token; the dashboard needs the admin token.")),
        )
            .into_response(),
        Err(_) => (StatusCode::UNAUTHORIZED, sign_in_form(Some("That token is not valid."))).into_response(),
    }
}

/// Ends the session on the server (an old copy of the cookie no longer works) and clears it.
pub async fn sign_out(headers: HeaderMap, State(state): State<AppState>) -> Response {
    if let Some(session) = session_cookie(&headers)
        && let Err(error) = state.auth.close_dashboard_session(state.store.as_ref(), &session).await
    {
        return UiError::from(error).into_response();
    }
    let cookie = format!("{COOKIE_NAME}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(SET_COOKIE, cookie)], redirect("/ui/login")).into_response()
}
