//! Query shapes shared by every backend: pages and list filters.

use hookwire_core::model::Status;
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, EndpointId, MessageId};

/// A page request: `iterator` is the last id (or name) of the previous page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub limit: usize,
    pub iterator: Option<String>,
    pub descending: bool,
}

#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub page: Page,
    pub event_types: Vec<String>,
    pub channel: Option<String>,
    pub before: Option<Millis>,
    pub after: Option<Millis>,
    /// Only messages with at least one delivery in this status (the dashboard's status search).
    pub status: Option<Status>,
}

/// Filters of an endpoint's message log (its deliveries).
#[derive(Debug, Clone, Default)]
pub struct EndpointMessageFilter {
    pub page: Page,
    pub status: Option<Status>,
    pub before: Option<Millis>,
    pub after: Option<Millis>,
}

#[derive(Debug, Clone, Copy)]
pub enum AttemptScope {
    Endpoint(EndpointId),
    Message(MessageId),
}

#[derive(Debug, Clone)]
pub struct AttemptFilter {
    pub scope: AttemptScope,
    pub page: Page,
    pub status: Option<Status>,
    /// 100, 200, 300, 400, 500, or 0 for "no answer".
    pub status_code_class: Option<u16>,
    pub endpoint: Option<EndpointId>,
    pub before: Option<Millis>,
    pub after: Option<Millis>,
}

/// Deliveries of an endpoint by status, and its filter failures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub success: u64,
    pub pending: u64,
    pub sending: u64,
    pub fail: u64,
    pub canceled: u64,
    /// Messages the endpoint's filter could not evaluate (counted as no match).
    pub filter_errors: u64,
    pub last_filter_error: Option<String>,
}

/// A parameter of a WHERE clause both dialects share, bound by each backend its own way.
#[derive(Debug, Clone)]
pub(crate) enum SqlValue {
    Text(String),
    Int(i64),
}

/// WHERE clauses both dialects share, each with one `?` for its parameter.
pub(crate) type Clauses = Vec<(&'static str, SqlValue)>;

/// A WHERE clause under construction, in either dialect: each backend binds text and integers
/// its own way and numbers the placeholders; the shared clauses and paging are written once.
pub(crate) trait WhereClause {
    /// Adds `clause`, whose one `?` stands for `value`.
    fn push_text(&mut self, clause: &str, value: String);
    /// Adds `clause`, whose one `?` stands for `value`.
    fn push_int(&mut self, clause: &str, value: i64);

    /// Adds clauses both dialects share.
    fn extend(&mut self, clauses: Clauses) {
        for (clause, value) in clauses {
            match value {
                SqlValue::Text(text) => self.push_text(clause, text),
                SqlValue::Int(int) => self.push_int(clause, int),
            }
        }
    }

    /// Adds the iterator condition and returns `ORDER BY … LIMIT …` for a page over `column`.
    fn page(&mut self, page: &Page, column: &str) -> String {
        if let Some(iterator) = &page.iterator {
            let op = if page.descending { "<" } else { ">" };
            self.push_text(&format!("{column} {op} ?"), iterator.clone());
        }
        let order = if page.descending { "DESC" } else { "ASC" };
        format!("ORDER BY {column} {order} LIMIT {}", page.limit)
    }
}

impl EndpointMessageFilter {
    /// The conditions on `deliveries d` of one endpoint's message log.
    pub(crate) fn clauses(&self, app: AppId, endpoint: EndpointId) -> Clauses {
        let mut clauses = vec![
            ("d.app_id = ?", SqlValue::Text(app.to_string())),
            ("d.endpoint_id = ?", SqlValue::Text(endpoint.to_string())),
        ];
        if let Some(status) = self.status {
            clauses.push(("d.status = ?", SqlValue::Int(status.code())));
        }
        if let Some(before) = self.before {
            clauses.push(("d.created_at < ?", SqlValue::Int(before)));
        }
        if let Some(after) = self.after {
            clauses.push(("d.created_at > ?", SqlValue::Int(after)));
        }
        clauses
    }
}

impl AttemptFilter {
    /// The conditions on `attempts` of this filter.
    pub(crate) fn clauses(&self, app: AppId) -> Clauses {
        let mut clauses = vec![("app_id = ?", SqlValue::Text(app.to_string()))];
        clauses.push(match self.scope {
            AttemptScope::Endpoint(endpoint) => ("endpoint_id = ?", SqlValue::Text(endpoint.to_string())),
            AttemptScope::Message(msg) => ("msg_id = ?", SqlValue::Text(msg.to_string())),
        });
        if let Some(endpoint) = self.endpoint {
            clauses.push(("endpoint_id = ?", SqlValue::Text(endpoint.to_string())));
        }
        if let Some(status) = self.status {
            clauses.push(("status = ?", SqlValue::Int(status.code())));
        }
        if let Some(class) = self.status_code_class {
            clauses.push(("response_status_code / 100 = CAST(? AS BIGINT) / 100", SqlValue::Int(i64::from(class))));
        }
        if let Some(before) = self.before {
            clauses.push(("created_at < ?", SqlValue::Int(before)));
        }
        if let Some(after) = self.after {
            clauses.push(("created_at > ?", SqlValue::Int(after)));
        }
        clauses
    }
}

impl StatusCounts {
    /// Counts `count` deliveries in the status with this code.
    pub(crate) fn add(&mut self, status_code: i64, count: u64) {
        match Status::from_code(status_code) {
            Some(Status::Success) => self.success = count,
            Some(Status::Pending) => self.pending = count,
            Some(Status::Sending) => self.sending = count,
            Some(Status::Fail) => self.fail = count,
            Some(Status::Canceled) => self.canceled = count,
            None => {}
        }
    }
}
