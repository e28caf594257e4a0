//! Authentication, application scope and capabilities, checked before a handler reads anything
//! else: a request without a valid token is 401, an application token aimed at another
//! application's routes is 404, and one whose capabilities do not cover the route (a read-only
//! portal token writing, say) is 403, whatever its body. Handlers still check (defence in depth).

use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hookwire_core::AppId;
use hookwire_core::access::Capability::{
    CreateAttempts, ManageEndpoint, ManageEndpointSecret, ManageTransformations, ViewBase, ViewEndpointSecret,
};

use super::error::ApiError;
use crate::auth::{Principal, Requirement};
use crate::state::AppState;

/// Route layer for every authenticated route.
pub async fn require_scope(
    State(state): State<AppState>,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = super::extract::bearer(request.headers()) else {
        return ApiError::unauthorized().into_response();
    };
    let (principal, flags) = match state.auth.authenticate_with_flags(state.store.as_ref(), token).await {
        Ok(found) => found,
        Err(error) => return ApiError::from(error).into_response(),
    };
    if let Principal::App(access) = principal {
        if let Some((_, key)) = params.iter().find(|(name, _)| *name == "app_id")
            && !is_own(&state, access.app, key).await
        {
            return ApiError::not_found("application").into_response();
        }
        let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or_default();
        let required = requirement(request.method(), route);
        if !principal.allows(required) {
            return ApiError::forbidden(refusal(required)).into_response();
        }
    }
    // Handlers' `Principal` extractor reuses this instead of authenticating again.
    request.extensions_mut().insert(principal);
    if let Some(flags) = flags {
        request.extensions_mut().insert(flags);
    }
    next.run(request).await
}

/// What an application token needs for `method` on `route` (a route template), after Svix's
/// App Portal capabilities: reading needs `ViewBase` (endpoint secrets need a secret
/// capability); test events, resends, recovery and replays need `CreateAttempts`; secret
/// rotation a secret capability; transformations `ManageTransformations`; any other change to
/// endpoints, destinations and polling consumers' positions, and trying a filter, `ManageEndpoint`; and writes no capability covers (sending messages, expunging)
/// every capability.
pub fn requirement(method: &Method, route: &str) -> Requirement {
    const SECRET_READERS: &[hookwire_core::access::Capability] =
        &[ViewEndpointSecret, ManageEndpointSecret, ManageEndpoint];
    let reading = matches!(*method, Method::GET | Method::HEAD);
    if reading && route.ends_with("/secret") {
        return Requirement::AnyOf(SECRET_READERS);
    }
    if reading || route == "/api/v1/auth/logout" {
        return Requirement::AnyOf(&[ViewBase]);
    }
    if route.ends_with("/secret/rotate") {
        return Requirement::AnyOf(&[ManageEndpointSecret, ManageEndpoint]);
    }
    if route.contains("/transformation") {
        return Requirement::AnyOf(&[ManageTransformations]);
    }
    // Destinations, and moving a polling endpoint's consumer (a read-only token reads only).
    if route.starts_with("/api/v1/app/{app_id}/destination") || route.starts_with("/api/v1/app/{app_id}/poller/") {
        return Requirement::AnyOf(&[ManageEndpoint]);
    }
    let attempts = ["/send-example", "/recover", "/replay-missing", "/bulk-replay", "/resend"];
    if attempts.iter().any(|suffix| route.ends_with(suffix)) {
        return Requirement::AnyOf(&[CreateAttempts]);
    }
    // Trying a filter on an example belongs to editing an endpoint (nothing is sent or saved).
    if route.starts_with("/api/v1/app/{app_id}/endpoint") || route == "/api/v1/app/{app_id}/filter/test" {
        return Requirement::AnyOf(&[ManageEndpoint]);
    }
    Requirement::Everything
}

fn refusal(required: Requirement) -> String {
    match required {
        Requirement::AnyOf(any) => {
            let names: Vec<&str> = any.iter().map(|c| c.name()).collect();
            format!("this token lacks the capability this needs ({})", names.join(" or "))
        }
        Requirement::Everything => "this needs a token with every capability (not read-only)".into(),
    }
}

async fn is_own(state: &AppState, own: AppId, key: &str) -> bool {
    if key == own.to_string() {
        return true;
    }
    matches!(state.store.get_app(key).await, Ok(Some(app)) if app.id == own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_svix_capabilities() {
        let needs = |method: Method, route: &str| requirement(&method, route);
        let endpoint = "/api/v1/app/{app_id}/endpoint/{endpoint_id}";
        assert_eq!(needs(Method::GET, endpoint), Requirement::AnyOf(&[ViewBase]));
        assert_eq!(
            needs(Method::GET, &format!("{endpoint}/secret")),
            Requirement::AnyOf(&[ViewEndpointSecret, ManageEndpointSecret, ManageEndpoint])
        );
        assert_eq!(
            needs(Method::POST, &format!("{endpoint}/secret/rotate")),
            Requirement::AnyOf(&[ManageEndpointSecret, ManageEndpoint])
        );
        assert_eq!(needs(Method::POST, &format!("{endpoint}/send-example")), Requirement::AnyOf(&[CreateAttempts]));
        assert_eq!(needs(Method::PATCH, endpoint), Requirement::AnyOf(&[ManageEndpoint]));
        assert_eq!(needs(Method::DELETE, endpoint), Requirement::AnyOf(&[ManageEndpoint]));
        assert_eq!(needs(Method::POST, "/api/v1/app/{app_id}/filter/test"), Requirement::AnyOf(&[ManageEndpoint]));
        assert_eq!(needs(Method::POST, "/api/v1/app/{app_id}/msg"), Requirement::Everything);
    }
}
