//! No query parameter or body is ignored: every operation takes exactly the query parameters its
//! entry in the served OpenAPI document names, and any other is a 422 naming it; an operation
//! whose entry has no request body takes none (`{}` at most), so a field sent to it is a 422
//! naming it, not dropped. The document is the one list (it is generated from the handlers' own
//! declarations), so a filter Hookwire does not act on can never return unfiltered data with a 200.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{FromRequest, MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::ParameterIn;

use super::error::ApiError;
use super::extract::{NoFields, has_body, json_rejection};

/// The inputs of every operation, by method and route template (looked up per request without
/// allocating: the hot path's message create passes through here).
#[derive(Debug, Default)]
pub struct QueryCatalog {
    operations: HashMap<Method, HashMap<String, Operation>>,
}

/// What one operation takes.
#[derive(Debug, Default)]
struct Operation {
    query: Vec<String>,
    body: bool,
}

impl QueryCatalog {
    pub fn from_document(document: &OpenApi) -> Self {
        let mut operations: HashMap<Method, HashMap<String, Operation>> = HashMap::new();
        for (path, item) in &document.paths.paths {
            let methods = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, operation) in methods {
                let Some(operation) = operation else { continue };
                let names = operation
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        utoipa::openapi::RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query) => {
                            Some(p.name.clone())
                        }
                        _ => None,
                    })
                    .collect();
                let body = operation.request_body.is_some();
                operations.entry(method).or_default().insert(path.clone(), Operation { query: names, body });
            }
        }
        Self { operations }
    }

    /// The document's entry for an operation (`None`: not documented, nothing is checked).
    fn operation(&self, method: &Method, route: &str) -> Option<&Operation> {
        let method = if method == Method::HEAD { &Method::GET } else { method };
        self.operations.get(method)?.get(route)
    }
}

impl Operation {
    /// The first query parameter of a request that this operation does not take, if any.
    fn unknown<'a>(&self, query: &'a [(String, String)]) -> Option<&'a str> {
        query.iter().map(|(name, _)| base_name(name)).find(|name| !self.query.iter().any(|k| k == name))
    }
}

/// The query parameters that take several values (repeated, comma-separated, or spelled
/// `name[]` / `name[0]`); `QueryPairs::list` reads these. Every other takes one value, given once
/// and by its plain name: a second value, or a list spelling, would be dropped, so it is refused.
pub const LIST_PARAMETERS: &[&str] = &["event_types"];

/// The first parameter of `query` that takes one value but was given more than once or spelled
/// as a list.
fn repeated_single(query: &[(String, String)]) -> Option<&str> {
    let mut seen = Vec::new();
    for (name, _) in query {
        let base = base_name(name);
        if LIST_PARAMETERS.contains(&base) {
            continue;
        }
        if base != name || seen.contains(&base) {
            return Some(base);
        }
        seen.push(base);
    }
    None
}

/// `event_types[]` and `event_types[0]` are how some clients spell a list parameter.
pub fn base_name(name: &str) -> &str {
    match name.find('[') {
        Some(at) if name.ends_with(']') => &name[..at],
        _ => name,
    }
}

/// Route layer: refuses a query parameter the operation does not take, and a body sent to an
/// operation that takes none.
pub async fn refuse_unknown(catalog: Arc<OnceLock<QueryCatalog>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>();
    let operation =
        catalog.get().zip(route).and_then(|(catalog, route)| catalog.operation(request.method(), route.as_str()));
    let Some(operation) = operation else { return next.run(request).await };
    let query = request.uri().query().unwrap_or("");
    if !query.is_empty() {
        let pairs: Vec<(String, String)> = match serde_urlencoded::from_str(query) {
            Ok(pairs) => pairs,
            Err(error) => return ApiError::bad_request(format!("invalid query string: {error}")).into_response(),
        };
        if let Some(name) = operation.unknown(&pairs) {
            let known = &operation.query;
            let takes = if known.is_empty() { "no query parameters".to_owned() } else { known.join(", ") };
            let message = format!("this operation does not take {name:?}; it takes {takes}");
            return ApiError::invalid(&["query", name], message).into_response();
        }
        if let Some(name) = repeated_single(&pairs) {
            let message = format!("{name:?} takes one value: give it once, as {name}=value");
            return ApiError::invalid(&["query", name], message).into_response();
        }
    }
    if !operation.body && has_body(request.headers()) {
        return match no_fields(request).await {
            Ok(request) => next.run(request).await,
            Err(error) => error.into_response(),
        };
    }
    next.run(request).await
}

/// The request of an operation that takes no body, if what it was sent is `{}` (read as a
/// `NoFields` body is, so a field is named as any unknown body field is).
async fn no_fields(request: Request) -> Result<Request, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, hookwire_core::limits::REQUEST_BODY_BYTES_MAX)
        .await
        .map_err(|e| ApiError::unreadable_body(&e))?;
    let mut probe = Request::new(Body::from(bytes.clone()));
    *probe.headers_mut() = parts.headers.clone();
    let axum::Json(NoFields {}) = axum::Json::from_request(probe, &()).await.map_err(json_rejection)?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_spellings_count_as_their_parameter() {
        let query = vec!["event_types".to_owned(), "limit".to_owned()];
        let by_route = HashMap::from([("/x".to_owned(), Operation { query, body: false })]);
        let catalog = QueryCatalog { operations: HashMap::from([(Method::GET, by_route)]) };
        let pairs = |names: &[&str]| names.iter().map(|n| (n.to_string(), "v".to_string())).collect::<Vec<_>>();
        let unknown = |method: &Method, route: &str, names: &[&str]| {
            catalog.operation(method, route).and_then(|op| op.unknown(&pairs(names)).map(str::to_owned))
        };
        assert!(unknown(&Method::GET, "/x", &["event_types[]", "event_types[0]", "limit"]).is_none());
        assert_eq!(unknown(&Method::GET, "/x", &["limit", "tag"]).as_deref(), Some("tag"));
        assert!(catalog.operation(&Method::HEAD, "/x").is_some(), "HEAD is its GET");
        assert!(unknown(&Method::HEAD, "/x", &["limit"]).is_none());
        assert!(catalog.operation(&Method::GET, "/not-documented").is_none(), "nothing checked");
    }

    #[test]
    fn a_single_value_parameter_given_twice_or_as_a_list_is_named() {
        let pairs = |names: &[&str]| names.iter().map(|n| (n.to_string(), "v".to_string())).collect::<Vec<_>>();
        assert_eq!(repeated_single(&pairs(&["event_types", "event_types[0]", "event_types[]", "limit"])), None);
        assert_eq!(repeated_single(&pairs(&["channel", "limit", "channel"])), Some("channel"));
        assert_eq!(repeated_single(&pairs(&["before[]"])), Some("before"));
        assert_eq!(repeated_single(&pairs(&["tag[0]"])), Some("tag"));
    }
}
