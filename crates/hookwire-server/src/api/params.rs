//! No query parameter is ignored: every operation takes exactly the query parameters its entry in
//! the served OpenAPI document names, and any other is a 422 naming it. The document is the one
//! list (it is generated from the handlers' own declarations), so a filter Hookwire does not act
//! on can never return unfiltered data with a 200.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::ParameterIn;

use super::error::ApiError;

/// The query parameters of every operation, by method and route template.
#[derive(Debug, Default)]
pub struct QueryCatalog {
    operations: HashMap<(Method, String), Vec<String>>,
}

impl QueryCatalog {
    pub fn from_document(document: &OpenApi) -> Self {
        let mut operations = HashMap::new();
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
                operations.insert((method, path.clone()), names);
            }
        }
        Self { operations }
    }

    /// Whether the operation is in the document (its query parameters are known).
    fn documents(&self, method: &Method, route: &str) -> bool {
        let method = if method == Method::HEAD { Method::GET } else { method.clone() };
        self.operations.contains_key(&(method, route.to_owned()))
    }

    /// The first query parameter of a request that its operation does not take, if any.
    fn unknown<'a>(&self, method: &Method, route: &str, query: &'a [(String, String)]) -> Option<(&'a str, &[String])> {
        let method = if method == Method::HEAD { Method::GET } else { method.clone() };
        let known = self.operations.get(&(method, route.to_owned()))?;
        query
            .iter()
            .map(|(name, _)| base_name(name))
            .find(|name| !known.iter().any(|k| k == name))
            .map(|name| (name, known.as_slice()))
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

/// Route layer: refuses a query parameter the operation does not take.
pub async fn refuse_unknown(catalog: Arc<OnceLock<QueryCatalog>>, request: Request, next: Next) -> Response {
    let query = request.uri().query().unwrap_or("");
    if let Some(catalog) = catalog.get()
        && !query.is_empty()
    {
        let pairs: Vec<(String, String)> = match serde_urlencoded::from_str(query) {
            Ok(pairs) => pairs,
            Err(error) => return ApiError::bad_request(format!("invalid query string: {error}")).into_response(),
        };
        let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or_default();
        if let Some((name, known)) = catalog.unknown(request.method(), route, &pairs) {
            let takes = if known.is_empty() { "no query parameters".to_owned() } else { known.join(", ") };
            let message = format!("this operation does not take {name:?}; it takes {takes}");
            return ApiError::invalid(&["query", name], message).into_response();
        }
        if catalog.documents(request.method(), route)
            && let Some(name) = repeated_single(&pairs)
        {
            let message = format!("{name:?} takes one value: give it once, as {name}=value");
            return ApiError::invalid(&["query", name], message).into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_spellings_count_as_their_parameter() {
        let mut operations = HashMap::new();
        operations.insert((Method::GET, "/x".to_owned()), vec!["event_types".to_owned(), "limit".to_owned()]);
        let catalog = QueryCatalog { operations };
        let pairs = |names: &[&str]| names.iter().map(|n| (n.to_string(), "v".to_string())).collect::<Vec<_>>();
        assert!(catalog.unknown(&Method::GET, "/x", &pairs(&["event_types[]", "event_types[0]", "limit"])).is_none());
        assert_eq!(catalog.unknown(&Method::GET, "/x", &pairs(&["limit", "tag"])).map(|(n, _)| n), Some("tag"));
        assert!(catalog.unknown(&Method::HEAD, "/x", &pairs(&["limit"])).is_none());
        assert!(catalog.unknown(&Method::GET, "/not-documented", &pairs(&["anything"])).is_none());
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
