//! Conversions between PostgreSQL rows and the model, and the query-building helpers.

use hookwire_core::model::{Attempt, Delivery, Endpoint, ErrorKind, Message, Status, TriggerType};
use serde::de::DeserializeOwned;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::error::{StoreError, StoreResult};

pub(crate) use crate::json::{optional_json, to_json};

pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))
}

pub(crate) fn parse<T: std::str::FromStr>(text: &str) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| StoreError::Corrupt(format!("stored id {text:?}: {e}")))
}

fn status(code: i64) -> StoreResult<Status> {
    Status::from_code(code).ok_or_else(|| StoreError::Corrupt(format!("status {code}")))
}

pub(super) const MESSAGE_COLUMNS: &str = "id, app_id, event_type, event_id, channels, tags, payload, created_at, payload_expires_at, content_type, deliver_at";
pub(super) const MESSAGE_COLUMN_COUNT: usize = 11;

pub(super) fn message(row: &Row) -> StoreResult<Message> {
    Ok(Message {
        id: parse(row.get(0))?,
        app_id: parse(row.get(1))?,
        event_type: row.get(2),
        event_id: row.get(3),
        channels: row.get::<_, Option<&str>>(4).map(from_json).transpose()?,
        tags: row.get::<_, Option<&str>>(5).map(from_json).transpose()?,
        payload: row.get(6),
        created_at: row.get(7),
        payload_expires_at: row.get(8),
        content_type: row.get(9),
        deliver_at: row.get(10),
    })
}

/// `columns` (a comma-separated list) each prefixed with `table.`.
pub(super) fn qualified(columns: &str, table: &str) -> String {
    columns.split(", ").map(|c| format!("{table}.{c}")).collect::<Vec<_>>().join(", ")
}

pub(super) const DELIVERY_COLUMNS: &str =
    "id, app_id, msg_id, endpoint_id, status, attempts, next_attempt_at, trigger_type, created_at, updated_at, chunk";

pub(super) fn delivery(row: &Row) -> StoreResult<Delivery> {
    delivery_at(row, 0)
}

/// A delivery whose columns (`DELIVERY_COLUMNS`) start at `first`.
pub(super) fn delivery_at(row: &Row, first: usize) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: parse(row.get(first))?,
        app_id: parse(row.get(first + 1))?,
        msg_id: parse(row.get(first + 2))?,
        endpoint_id: parse(row.get(first + 3))?,
        status: status(row.get(first + 4))?,
        attempts: row.get::<_, i64>(first + 5) as u32,
        next_attempt_at: row.get(first + 6),
        trigger: TriggerType::from_code(row.get(first + 7)),
        created_at: row.get(first + 8),
        updated_at: row.get(first + 9),
        chunk: row.get::<_, Option<i64>>(first + 10).map(|c| c as u32),
    })
}

pub(super) const ATTEMPT_COLUMNS: &str = "id, app_id, msg_id, endpoint_id, delivery_id, url, status, \
    response_status_code, response, response_duration_ms, error_kind, trigger_type, created_at";

pub(super) fn attempt(row: &Row) -> StoreResult<Attempt> {
    Ok(Attempt {
        id: parse(row.get(0))?,
        app_id: parse(row.get(1))?,
        msg_id: parse(row.get(2))?,
        endpoint_id: parse(row.get(3))?,
        delivery_id: parse(row.get(4))?,
        url: row.get(5),
        status: status(row.get(6))?,
        response_status_code: row.get::<_, i64>(7) as u16,
        response: row.get(8),
        response_duration_ms: row.get::<_, i64>(9) as u64,
        error_kind: row.get::<_, Option<&str>>(10).and_then(ErrorKind::parse),
        trigger_type: TriggerType::from_code(row.get(11)),
        timestamp: row.get(12),
    })
}

/// Deliveries as parallel arrays, for one multi-row `INSERT … SELECT FROM unnest(…)`.
#[derive(Default)]
pub(super) struct DeliveryColumns {
    id: Vec<String>,
    app_id: Vec<String>,
    msg_id: Vec<String>,
    endpoint_id: Vec<String>,
    status: Vec<i64>,
    attempts: Vec<i64>,
    next_attempt_at: Vec<Option<i64>>,
    lease_until: Vec<Option<i64>>,
    trigger_type: Vec<i64>,
    created_at: Vec<i64>,
    updated_at: Vec<i64>,
    chunk: Vec<Option<i64>>,
}

impl DeliveryColumns {
    /// `lease_until` leases every delivery that has a due time (parked ones are never leased).
    pub fn new(deliveries: &[Delivery], lease_until: Option<i64>) -> Self {
        let mut c = Self::default();
        c.push(deliveries, lease_until);
        c
    }

    /// Appends `deliveries`, leased until `lease_until` when they have a due time.
    pub fn push<'a>(&mut self, deliveries: impl IntoIterator<Item = &'a Delivery>, lease_until: Option<i64>) {
        let c = self;
        for d in deliveries {
            c.id.push(d.id.to_string());
            c.app_id.push(d.app_id.to_string());
            c.msg_id.push(d.msg_id.to_string());
            c.endpoint_id.push(d.endpoint_id.to_string());
            c.status.push(d.status.code());
            c.attempts.push(d.attempts as i64);
            c.next_attempt_at.push(d.next_attempt_at);
            c.lease_until.push(d.next_attempt_at.and(lease_until));
            c.trigger_type.push(d.trigger.code());
            c.created_at.push(d.created_at);
            c.updated_at.push(d.updated_at);
            c.chunk.push(d.chunk.map(i64::from));
        }
    }

    /// Whether any of these is due without a lease: other nodes should hear of it.
    pub fn announces_due_work(&self) -> bool {
        self.next_attempt_at.iter().zip(&self.lease_until).any(|(due, lease)| due.is_some() && lease.is_none())
    }

    pub const INSERT: &'static str = "INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts, \
        next_attempt_at, lease_owner, lease_until, trigger_type, created_at, updated_at, chunk) \
        SELECT i, a, m, e, s, n, due, CASE WHEN lu IS NULL THEN NULL ELSE $13::text END, lu, t, c, u, ch \
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], \
        $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[]) \
        AS x(i, a, m, e, s, n, due, lu, t, c, u, ch)";

    /// The parameters of `INSERT`, with `owner` as the lease owner.
    pub fn params<'a>(&'a self, owner: &'a String) -> [&'a (dyn ToSql + Sync); 13] {
        [
            &self.id,
            &self.app_id,
            &self.msg_id,
            &self.endpoint_id,
            &self.status,
            &self.attempts,
            &self.next_attempt_at,
            &self.lease_until,
            &self.trigger_type,
            &self.created_at,
            &self.updated_at,
            &self.chunk,
            owner,
        ]
    }
}

/// Turns a unique-constraint violation into `Conflict { what }`.
pub(super) fn conflict_as(what: &'static str) -> impl FnOnce(StoreError) -> StoreError {
    move |error| match &error {
        StoreError::Postgres(cause) if cause.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            StoreError::Conflict { what }
        }
        _ => error,
    }
}

/// A WHERE clause under construction with its numbered parameters.
#[derive(Default)]
pub(super) struct Conditions {
    clauses: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Conditions {
    /// Adds `clause`, whose one `?` stands for `value`.
    /// Adds a clause without parameters.
    pub fn push_sql(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    pub fn push(&mut self, clause: &str, value: impl ToSql + Sync + Send + 'static) {
        self.params.push(Box::new(value));
        self.clauses.push(clause.replace('?', &format!("${}", self.params.len())));
    }

    pub fn sql(&self) -> String {
        if self.clauses.is_empty() { "TRUE".into() } else { self.clauses.join(" AND ") }
    }

    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

impl crate::query::WhereClause for Conditions {
    fn push_text(&mut self, clause: &str, value: String) {
        self.push(clause, value);
    }

    fn push_int(&mut self, clause: &str, value: i64) {
        self.push(clause, value);
    }

    fn push_one_of(&mut self, column: &str, values: Vec<String>) {
        self.push(&format!("{column} = ANY(?)"), values);
    }

    fn push_holds(&mut self, column: &str, value: String) {
        self.push(&format!("{column}::jsonb @> jsonb_build_array(?::text)"), value);
    }
}

/// An endpoint as loaded to be used (by id, for delivery, for a resend), not listed: its stored
/// body and its application's `throttleRate` (`Endpoint::app_throttle_rate`). A literal, to be
/// completed with a `WHERE` on `e.` by `concat!` (no query text is built per call).
macro_rules! endpoint_sql {
    () => {
        "SELECT e.body, (a.body::json ->> 'throttle_rate')::bigint \
         FROM endpoints e LEFT JOIN applications a ON a.id = e.app_id"
    };
}
pub(crate) use endpoint_sql;

/// Reads a row of `endpoint_sql!` (secrets still sealed).
pub(crate) fn endpoint_row(row: &Row) -> StoreResult<Endpoint> {
    let endpoint: Endpoint = from_json(row.get(0))?;
    let app_throttle_rate = row
        .get::<_, Option<i64>>(1)
        .map(|rate| u32::try_from(rate).map_err(|_| StoreError::Corrupt(format!("application throttle rate {rate}"))))
        .transpose()?;
    Ok(Endpoint { app_throttle_rate, ..endpoint })
}
