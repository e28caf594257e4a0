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

/// Conditions on a message's own fields, shared by every list that can filter by them (messages,
/// attempts, an endpoint's message log): its event type, a channel it carries, a tag.
#[derive(Debug, Clone, Default)]
pub struct MessageMatch {
    /// Any of these event types (empty: any).
    pub event_types: Vec<String>,
    pub channel: Option<String>,
    pub tag: Option<String>,
}

impl MessageMatch {
    pub fn is_empty(&self) -> bool {
        self.event_types.is_empty() && self.channel.is_none() && self.tag.is_none()
    }

    /// The conditions on the messages table named `table` (or aliased so).
    pub(crate) fn clauses(&self, table: &str) -> Clauses {
        let mut clauses = Vec::new();
        if !self.event_types.is_empty() {
            clauses.push((format!("{table}.event_type"), SqlValue::OneOf(self.event_types.clone())));
        }
        if let Some(channel) = &self.channel {
            clauses.push((format!("{table}.channels"), SqlValue::Holds(channel.clone())));
        }
        if let Some(tag) = &self.tag {
            let exists = format!(
                "EXISTS (SELECT 1 FROM message_tags t WHERE t.app_id = {table}.app_id AND t.tag = ? AND t.msg_id = {table}.id)"
            );
            clauses.push((exists, SqlValue::Text(tag.clone())));
        }
        clauses
    }
}

#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub page: Page,
    pub matching: MessageMatch,
    pub before: Option<Millis>,
    pub after: Option<Millis>,
    /// Only messages with at least one delivery in this status (the dashboard's status search).
    pub status: Option<Status>,
}

impl MessageFilter {
    /// The conditions on `messages` of this filter, the deliveries read from `deliveries` (a
    /// table or view with the `deliveries` columns).
    pub(crate) fn clauses(&self, app: AppId, deliveries: &str) -> Clauses {
        let mut clauses = vec![("messages.app_id = ?".to_owned(), SqlValue::Text(app.to_string()))];
        clauses.extend(self.matching.clauses("messages"));
        if let Some(before) = self.before {
            clauses.push(("messages.created_at < ?".into(), SqlValue::Int(before)));
        }
        if let Some(after) = self.after {
            clauses.push(("messages.created_at > ?".into(), SqlValue::Int(after)));
        }
        if let Some(status) = self.status {
            clauses.push((
                format!("EXISTS (SELECT 1 FROM {deliveries} dd WHERE dd.msg_id = messages.id AND dd.status = ?)"),
                SqlValue::Int(status.code()),
            ));
        }
        clauses
    }
}

/// Filters of an endpoint's message log (its deliveries).
#[derive(Debug, Clone, Default)]
pub struct EndpointMessageFilter {
    pub page: Page,
    pub matching: MessageMatch,
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
    /// Conditions on each attempt's message.
    pub matching: MessageMatch,
    pub status: Option<Status>,
    /// 100, 200, 300, 400, 500, or 0 for "no answer".
    pub status_code_class: Option<u16>,
    pub endpoint: Option<EndpointId>,
    pub before: Option<Millis>,
    pub after: Option<Millis>,
}

/// The `LIKE` pattern of a Svix Play endpoint URL.
pub(crate) const PLAY_URLS: &str = "%://play.svix.com/%";

/// Which applications to list (Svix Cloud's `exclude_apps_with_*` options).
#[derive(Debug, Clone, Default)]
pub struct AppFilter {
    pub page: Page,
    /// Leave out applications with no endpoint.
    pub exclude_without_endpoints: bool,
    /// Leave out applications with a disabled endpoint.
    pub exclude_with_disabled_endpoints: bool,
    /// Leave out applications with an endpoint on Svix Play (`play.svix.com`).
    pub exclude_with_play_endpoints: bool,
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
    /// The clause has one `?` for this text.
    Text(String),
    /// The clause has one `?` for this integer.
    Int(i64),
    /// The clause is a column, which must be one of these (each dialect writes a list its way).
    OneOf(Vec<String>),
    /// The clause is a column holding a JSON array, which must hold this text.
    Holds(String),
}

/// WHERE clauses both dialects share (see `SqlValue` for how each is written).
pub(crate) type Clauses = Vec<(String, SqlValue)>;

/// A WHERE clause under construction, in either dialect: each backend binds text and integers
/// its own way and numbers the placeholders; the shared clauses and paging are written once.
pub(crate) trait WhereClause {
    /// Adds `clause`, whose one `?` stands for `value`.
    fn push_text(&mut self, clause: &str, value: String);
    /// Adds `clause`, whose one `?` stands for `value`.
    fn push_int(&mut self, clause: &str, value: i64);
    /// Adds "`column` is one of `values`".
    fn push_one_of(&mut self, column: &str, values: Vec<String>);
    /// Adds "the JSON array in `column` holds `value`".
    fn push_holds(&mut self, column: &str, value: String);

    /// Adds clauses both dialects share.
    fn extend(&mut self, clauses: Clauses) {
        for (clause, value) in clauses {
            match value {
                SqlValue::Text(text) => self.push_text(&clause, text),
                SqlValue::Int(int) => self.push_int(&clause, int),
                SqlValue::OneOf(values) => self.push_one_of(&clause, values),
                SqlValue::Holds(value) => self.push_holds(&clause, value),
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
    /// The conditions on `deliveries d` (joined with `messages m`) of one endpoint's message log.
    pub(crate) fn clauses(&self, app: AppId, endpoint: EndpointId) -> Clauses {
        let mut clauses = vec![
            ("d.app_id = ?".to_owned(), SqlValue::Text(app.to_string())),
            ("d.endpoint_id = ?".to_owned(), SqlValue::Text(endpoint.to_string())),
        ];
        clauses.extend(self.matching.clauses("m"));
        if let Some(status) = self.status {
            clauses.push(("d.status = ?".into(), SqlValue::Int(status.code())));
        }
        if let Some(before) = self.before {
            clauses.push(("d.created_at < ?".into(), SqlValue::Int(before)));
        }
        if let Some(after) = self.after {
            clauses.push(("d.created_at > ?".into(), SqlValue::Int(after)));
        }
        clauses
    }
}

impl AttemptFilter {
    /// The SQL that lists attempts under this filter: from `attempts`, joined with the messages
    /// only when a condition on them asks for it.
    pub(crate) fn tables_sql(&self) -> &'static str {
        if self.matching.is_empty() { "attempts" } else { "attempts JOIN messages m ON m.id = attempts.msg_id" }
    }

    /// The conditions on `attempts` (and `messages m`, see `from_sql`) of this filter.
    pub(crate) fn clauses(&self, app: AppId) -> Clauses {
        let mut clauses = vec![("attempts.app_id = ?".to_owned(), SqlValue::Text(app.to_string()))];
        clauses.push(match self.scope {
            AttemptScope::Endpoint(endpoint) => {
                ("attempts.endpoint_id = ?".into(), SqlValue::Text(endpoint.to_string()))
            }
            AttemptScope::Message(msg) => ("attempts.msg_id = ?".into(), SqlValue::Text(msg.to_string())),
        });
        clauses.extend(self.matching.clauses("m"));
        if let Some(endpoint) = self.endpoint {
            clauses.push(("attempts.endpoint_id = ?".into(), SqlValue::Text(endpoint.to_string())));
        }
        if let Some(status) = self.status {
            clauses.push(("attempts.status = ?".into(), SqlValue::Int(status.code())));
        }
        if let Some(class) = self.status_code_class {
            clauses.push((
                "attempts.response_status_code / 100 = CAST(? AS BIGINT) / 100".into(),
                SqlValue::Int(i64::from(class)),
            ));
        }
        if let Some(before) = self.before {
            clauses.push(("attempts.created_at < ?".into(), SqlValue::Int(before)));
        }
        if let Some(after) = self.after {
            clauses.push(("attempts.created_at > ?".into(), SqlValue::Int(after)));
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
