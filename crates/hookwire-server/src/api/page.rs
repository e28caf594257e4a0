//! List pagination: `limit`, `iterator`, and the `{data, iterator, prevIterator, done}` shape.

use hookwire_core::limits::{PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
use hookwire_store::Page;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::extract::QueryPairs;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T> {
    pub data: Vec<T>,
    pub iterator: Option<String>,
    pub prev_iterator: Option<String>,
    pub done: bool,
}

/// What a list's `iterator` is: the id (or name) of the last item of the previous page. One
/// that cannot be such a key is a 422, never silently read as "from the start".
pub type IteratorCheck = fn(&str) -> bool;

/// An iterator of a list keyed by ids of type `T` (`msg_…`, `ep_…`…).
pub fn id_iterator<T: std::str::FromStr>(text: &str) -> bool {
    text.parse::<T>().is_ok()
}

/// An iterator of a list keyed by event-type name.
pub fn name_iterator(text: &str) -> bool {
    super::validate::event_type_name("iterator", text, false).is_ok()
}

/// Reads `limit`, `iterator` and `order` into a store page that asks for one extra row, so
/// `done` is known without a count.
pub fn page_from(query: &QueryPairs, descending_by_default: bool, iterator_check: IteratorCheck) -> ApiResult<Page> {
    let limit: usize = query.number("limit")?.unwrap_or(PAGE_LIMIT_DEFAULT);
    if limit == 0 || limit > PAGE_LIMIT_MAX {
        return Err(ApiError::invalid(&["query", "limit"], format!("must be between 1 and {PAGE_LIMIT_MAX}")));
    }
    let descending = match query.get("order") {
        None => descending_by_default,
        Some("ascending") => false,
        Some("descending") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                &["query", "order"],
                format!("must be ascending or descending, got {other:?}"),
            ));
        }
    };
    let iterator = query.get("iterator").filter(|i| !i.is_empty());
    if let Some(text) = iterator
        && !iterator_check(text)
    {
        return Err(ApiError::invalid(&["query", "iterator"], format!("{text:?} is not an iterator of this list")));
    }
    Ok(Page { limit: limit + 1, iterator: iterator.map(str::to_owned), descending })
}

/// Turns the rows of `page` (one more than shown, if more exist) into a list response.
pub fn list_response<R, T>(
    page: &Page,
    mut rows: Vec<R>,
    key: impl Fn(&R) -> String,
    out: impl Fn(R) -> T,
) -> ListResponse<T> {
    let shown = page.limit - 1;
    let done = rows.len() <= shown;
    rows.truncate(shown);
    let iterator = rows.last().map(&key);
    ListResponse { data: rows.into_iter().map(out).collect(), iterator, prev_iterator: None, done }
}
