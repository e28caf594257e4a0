//! Query shapes shared by every backend: pages and list filters.

use hookwire_core::model::Status;
use hookwire_core::time_fmt::Millis;
use hookwire_core::{EndpointId, MessageId};

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
