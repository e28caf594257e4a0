//! Application-scoped access: tokens that see one application, narrowed by Svix's capabilities
//! (`readOnly`, `capabilities`) and feature flags; logging a token out; expiring all of an
//! application's tokens; what the calling token may do (for the portal); and the portal link's
//! theme, checked here and carried in the link's fragment (never stored).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hookwire_core::AppId;
use hookwire_core::access::Capabilities;
use hookwire_core::limits::URL_LENGTH_MAX;
use hookwire_core::time_fmt::Millis;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::apps::{ApplicationIn, create_or_get, load_app};
use super::error::{ApiError, ApiResult};
use super::extract::{Admin, OptionalJsonBody};
use crate::auth::{APP_TOKEN_TTL_SECONDS_DEFAULT, APP_TOKEN_TTL_SECONDS_MAX, AppTokenRequest, Principal};
use crate::state::AppState;

/// Feature flags one token may carry.
const FEATURE_FLAGS_PER_TOKEN_MAX: usize = 25;
const SESSION_ID_LENGTH_MAX: usize = 64;
/// The longest `theme.fontFamily`.
pub const THEME_FONT_FAMILY_LENGTH_MAX: usize = 100;
/// Sessions one expire-all may name.
const SESSION_IDS_PER_EXPIRY_MAX: usize = 1_000;
/// The longest delay before expire-all takes effect (Svix's bound).
pub const EXPIRE_ALL_DELAY_SECONDS_MAX: u64 = 259_200;

// Svix's deprecated paths are served (older SDKs call them) and marked deprecated in the document.
#[allow(deprecated)]
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(app_portal_access))
        .routes(routes!(dashboard_access))
        .routes(routes!(logout))
        .routes(routes!(expire_all))
        .routes(routes!(token_info))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppPortalAccessIn {
    /// Token lifetime in seconds (default and maximum 7 days).
    #[serde(default)]
    pub expiry: Option<u64>,
    /// Creates the application (its uid taken from the path) when it does not exist yet.
    #[serde(default)]
    pub application: Option<ApplicationIn>,
    /// Deprecated by Svix in favour of `capabilities`: `true` is `["ViewBase"]`, a token that reads
    /// everything of its application and changes nothing.
    #[serde(default)]
    pub read_only: Option<bool>,
    /// Svix's App Portal capabilities (`ViewBase` required); default: all of them.
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    /// Event types with any of these feature flags become visible to the token.
    #[serde(default)]
    pub feature_flags: Option<Vec<String>>,
    /// Groups tokens for `expire-all` with `sessionIds`.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Hookwire: how the portal looks. Carried in the returned URL's fragment, never stored.
    #[serde(default)]
    pub theme: Option<PortalTheme>,
}

/// The portal's look, applied by its script through CSS custom properties and classes.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortalTheme {
    /// A CSS hex colour (`#rgb`, `#rgba`, `#rrggbb` or `#rrggbbaa`) for links and buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// An `https:` URL of an image shown in the header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// A CSS font family list: letters, digits, spaces, commas, hyphens and quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font_family: Option<String>,
    /// Light text on a dark background.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dark_mode: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppPortalAccessOut {
    pub token: String,
    pub url: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationTokenExpireIn {
    /// Seconds until the tokens stop working (default 0: at once; at most 3 days).
    #[serde(default)]
    pub expiry: Option<u64>,
    /// Only tokens issued with one of these `sessionId`s.
    #[serde(default)]
    pub session_ids: Option<Vec<String>>,
}

/// What the calling token is and may do (Hookwire: the portal hides what it cannot do).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfoOut {
    /// `admin` or `application`.
    pub kind: &'static str,
    pub app_id: Option<String>,
    /// Svix capability names; every one for the admin token.
    pub capabilities: Vec<&'static str>,
    pub feature_flags: Vec<String>,
    #[serde(with = "hookwire_core::time_fmt::rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Millis>,
}

fn check_session_id(loc: &[&str], id: &str) -> ApiResult<()> {
    let valid = !id.is_empty()
        && id.len() <= SESSION_ID_LENGTH_MAX
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '_' | '-'));
    if !valid {
        return Err(ApiError::invalid(
            loc,
            format!("{id:?}: 1..={SESSION_ID_LENGTH_MAX} of letters, digits, @, _ and -"),
        ));
    }
    Ok(())
}

/// A theme the portal can apply as given: each value checked, so the fragment carries nothing
/// a stylesheet or an image tag could misread.
fn check_theme(theme: &PortalTheme) -> ApiResult<()> {
    if let Some(color) = &theme.primary_color {
        let digits = color.strip_prefix('#').unwrap_or("");
        let valid = color.starts_with('#')
            && [3, 4, 6, 8].contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_hexdigit());
        if !valid {
            return Err(ApiError::invalid(
                &["body", "theme", "primaryColor"],
                format!("{color:?} is not a CSS hex colour (#rgb, #rgba, #rrggbb or #rrggbbaa)"),
            ));
        }
    }
    if let Some(logo) = &theme.logo_url {
        let valid = logo.len() <= URL_LENGTH_MAX
            && url::Url::parse(logo).is_ok_and(|url| url.scheme() == "https" && url.host().is_some());
        if !valid {
            return Err(ApiError::invalid(
                &["body", "theme", "logoUrl"],
                format!("must be an https URL of at most {URL_LENGTH_MAX} characters"),
            ));
        }
    }
    if let Some(font) = &theme.font_family {
        let valid = !font.trim().is_empty()
            && font.len() <= THEME_FONT_FAMILY_LENGTH_MAX
            && font.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | ',' | '-' | '"' | '\''));
        if !valid {
            return Err(ApiError::invalid(
                &["body", "theme", "fontFamily"],
                format!("1..={THEME_FONT_FAMILY_LENGTH_MAX} of letters, digits, spaces, commas, hyphens and quotes"),
            ));
        }
    }
    Ok(())
}

/// The capabilities `input` asks for.
fn capabilities_of(input: &AppPortalAccessIn) -> ApiResult<Capabilities> {
    match (input.read_only, &input.capabilities) {
        (Some(true), Some(_)) => Err(ApiError::invalid(
            &["body", "readOnly"],
            "readOnly and capabilities exclude each other; readOnly: true is capabilities [\"ViewBase\"]",
        )),
        (_, Some(names)) => Capabilities::from_names(names.iter().map(String::as_str))
            .map_err(|e| ApiError::invalid(&["body", "capabilities"], e)),
        (Some(true), None) => Ok(Capabilities::READ_ONLY),
        (_, None) => Ok(Capabilities::ALL),
    }
}

/// Issue a token scoped to one application, and the portal URL that uses it.
#[utoipa::path(post, path = "/api/v1/auth/app-portal-access/{app_id}", tag = "Authentication",
    request_body = AppPortalAccessIn, params(("app_id" = String, Path)), responses((status = 200, body = AppPortalAccessOut)))]
async fn app_portal_access(
    State(state): State<AppState>,
    _admin: Admin,
    Path(app_id): Path<String>,
    OptionalJsonBody(input): OptionalJsonBody<AppPortalAccessIn>,
) -> ApiResult<Json<AppPortalAccessOut>> {
    let ttl = input.expiry.unwrap_or(APP_TOKEN_TTL_SECONDS_DEFAULT);
    if ttl == 0 || ttl > APP_TOKEN_TTL_SECONDS_MAX {
        return Err(ApiError::invalid(
            &["body", "expiry"],
            format!("must be between 1 and {APP_TOKEN_TTL_SECONDS_MAX} seconds"),
        ));
    }
    let capabilities = capabilities_of(&input)?;
    if let Some(session) = &input.session_id {
        check_session_id(&["body", "sessionId"], session)?;
    }
    if let Some(theme) = &input.theme {
        check_theme(theme)?;
    }
    let feature_flags = input.feature_flags.unwrap_or_default();
    if feature_flags.len() > FEATURE_FLAGS_PER_TOKEN_MAX {
        return Err(ApiError::invalid(&["body", "featureFlags"], format!("at most {FEATURE_FLAGS_PER_TOKEN_MAX}")));
    }
    for flag in &feature_flags {
        super::validate::event_type_name("featureFlags", flag, false)?;
    }
    let app = match (state.store.get_app(&app_id).await?, input.application) {
        (Some(app), _) => app,
        (None, Some(application)) => {
            create_or_get(&state, ApplicationIn { uid: Some(app_id.clone()), ..application }, true).await?.1
        }
        (None, None) => return Err(ApiError::not_found("application")),
    };
    let request =
        AppTokenRequest { app: app.id, capabilities, session_id: input.session_id, feature_flags, ttl_seconds: ttl };
    let (token, _) = state.auth.issue_app_token(state.store.as_ref(), request).await?;
    let url = portal_url(&state, app.id, &token, input.theme.as_ref());
    Ok(Json(AppPortalAccessOut { token, url }))
}

/// A portal link (Svix's deprecated dashboard-access, which takes no body: every capability);
/// a body is read as app-portal-access reads it.
#[utoipa::path(post, path = "/api/v1/auth/dashboard-access/{app_id}", tag = "Authentication",
    request_body = Option<AppPortalAccessIn>,
    params(("app_id" = String, Path)), responses((status = 200, body = AppPortalAccessOut)))]
#[deprecated(note = "Svix's older name for app-portal-access")]
async fn dashboard_access(
    state: State<AppState>,
    admin: Admin,
    path: Path<String>,
    body: OptionalJsonBody<AppPortalAccessIn>,
) -> ApiResult<Json<AppPortalAccessOut>> {
    app_portal_access(state, admin, path, body).await
}

/// Log out: the calling application token stops working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "Authentication", responses((status = 204)))]
async fn logout(
    State(state): State<AppState>,
    principal: Principal,
    headers: axum::http::HeaderMap,
) -> ApiResult<StatusCode> {
    let Principal::App(_) = principal else {
        return Err(ApiError::forbidden("only application tokens log out; the admin token is configured, not issued"));
    };
    let token = crate::api::extract::bearer(&headers).ok_or_else(ApiError::unauthorized)?;
    state.store.delete_token(&crate::auth::hash(token)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Expire every token of an application (only those of `sessionIds`, when given), now or after
/// `expiry` seconds.
#[utoipa::path(post, path = "/api/v1/auth/app/{app_id}/expire-all", tag = "Authentication",
    request_body = ApplicationTokenExpireIn, params(("app_id" = String, Path)), responses((status = 204)))]
async fn expire_all(
    State(state): State<AppState>,
    _admin: Admin,
    Path(app_id): Path<String>,
    OptionalJsonBody(input): OptionalJsonBody<ApplicationTokenExpireIn>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, Principal::Admin, &app_id).await?;
    let delay = input.expiry.unwrap_or(0);
    if delay > EXPIRE_ALL_DELAY_SECONDS_MAX {
        return Err(ApiError::invalid(
            &["body", "expiry"],
            format!("must be 0..={EXPIRE_ALL_DELAY_SECONDS_MAX} seconds"),
        ));
    }
    if let Some(sessions) = &input.session_ids {
        if sessions.len() > SESSION_IDS_PER_EXPIRY_MAX {
            return Err(ApiError::invalid(&["body", "sessionIds"], format!("at most {SESSION_IDS_PER_EXPIRY_MAX}")));
        }
        for session in sessions {
            check_session_id(&["body", "sessionIds"], session)?;
        }
    }
    let at = state.clock.now() + delay as Millis * 1_000;
    let expired = state.store.expire_app_tokens(app.id, input.session_ids, at).await?;
    tracing::info!(app_id = %app.id, expired, delay_seconds = delay, "application tokens expired");
    Ok(StatusCode::NO_CONTENT)
}

/// What the calling token is and may do.
#[utoipa::path(get, path = "/api/v1/auth/token", tag = "Authentication", responses((status = 200, body = TokenInfoOut)))]
async fn token_info(
    State(state): State<AppState>,
    principal: Principal,
    headers: axum::http::HeaderMap,
) -> ApiResult<Json<TokenInfoOut>> {
    let Principal::App(access) = principal else {
        return Ok(Json(TokenInfoOut {
            kind: "admin",
            app_id: None,
            capabilities: Capabilities::ALL.names(),
            feature_flags: Vec::new(),
            expires_at: None,
        }));
    };
    let token = crate::api::extract::bearer(&headers).ok_or_else(ApiError::unauthorized)?;
    let issued = state.store.get_token(&crate::auth::hash(token)).await?.ok_or_else(ApiError::unauthorized)?;
    Ok(Json(TokenInfoOut {
        kind: "application",
        app_id: Some(access.app.to_string()),
        capabilities: access.capabilities.names(),
        feature_flags: issued.feature_flags,
        expires_at: Some(issued.expires_at),
    }))
}

/// The portal page on this server for one application. The token and application id ride in
/// the fragment, which browsers never send to a server or in a `Referer`; so does the theme
/// (`&theme=` and its JSON, percent-encoded), which is why it is not stored.
pub(crate) fn portal_url(state: &AppState, app: AppId, token: &str, theme: Option<&PortalTheme>) -> String {
    let base = state.config.public_url.clone().unwrap_or_else(|| format!("http://{}", state.config.listen));
    let mut url = format!("{}{}", base.trim_end_matches('/'), portal_path(app, token));
    if let Some(theme) = theme {
        let json = serde_json::to_string(theme).expect("a theme serialises");
        url.push_str("&theme=");
        url.extend(percent_encoding::utf8_percent_encode(&json, percent_encoding::NON_ALPHANUMERIC));
    }
    url
}

/// The portal's path on this server, carrying the token and the application in the fragment
/// (never sent to a server, never in a log).
pub(crate) fn portal_path(app: AppId, token: &str) -> String {
    format!("/portal/#token={token}&app={app}")
}
