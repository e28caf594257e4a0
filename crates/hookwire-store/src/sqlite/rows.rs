//! Conversions between rows and the model, and the small SQL helpers every query file uses.

use hookwire_core::model::{Attempt, Delivery, Endpoint, ErrorKind, Message, Status, TriggerType};
use rusqlite::{Row, ToSql};
use serde::de::DeserializeOwned;

use crate::error::{StoreError, StoreResult};
pub(crate) use crate::json::{optional_json, to_json};
use crate::query::WhereClause;

pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub(crate) fn parse<T: std::str::FromStr>(text: String) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    text.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn status(code: i64) -> rusqlite::Result<Status> {
    Status::from_code(code).ok_or(rusqlite::Error::IntegralValueOutOfRange(0, code))
}

pub(super) const MESSAGE_COLUMNS: &str = "id, app_id, event_type, event_id, channels, tags, payload, created_at, payload_expires_at, content_type, deliver_at";
/// How many columns `MESSAGE_COLUMNS` names (rows that join more start after them).
pub(super) const MESSAGE_COLUMN_COUNT: usize = 11;

pub(super) fn message(row: &Row<'_>) -> rusqlite::Result<Message> {
    message_at(row, 0)
}

/// A message whose columns (`MESSAGE_COLUMNS`) start at `first`.
pub(super) fn message_at(row: &Row<'_>, first: usize) -> rusqlite::Result<Message> {
    Ok(Message {
        id: parse(row.get(first)?)?,
        app_id: parse(row.get(first + 1)?)?,
        event_type: row.get(first + 2)?,
        event_id: row.get(first + 3)?,
        channels: row.get::<_, Option<String>>(first + 4)?.map(|t| from_json(&t)).transpose()?,
        tags: row.get::<_, Option<String>>(first + 5)?.map(|t| from_json(&t)).transpose()?,
        payload: row.get(first + 6)?,
        created_at: row.get(first + 7)?,
        payload_expires_at: row.get(first + 8)?,
        content_type: row.get(first + 9)?,
        deliver_at: row.get(first + 10)?,
    })
}

/// `columns` (a comma-separated list) each prefixed with `table.`.
pub(super) fn qualified(columns: &str, table: &str) -> String {
    columns.split(", ").map(|c| format!("{table}.{c}")).collect::<Vec<_>>().join(", ")
}

pub(super) const DELIVERY_COLUMNS: &str =
    "id, app_id, msg_id, endpoint_id, status, attempts, next_attempt_at, trigger_type, created_at, updated_at, chunk";

pub(super) fn delivery(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    delivery_at(row, 0)
}

/// A delivery whose columns (`DELIVERY_COLUMNS`) start at `first`.
pub(super) fn delivery_at(row: &Row<'_>, first: usize) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: parse(row.get(first)?)?,
        app_id: parse(row.get(first + 1)?)?,
        msg_id: parse(row.get(first + 2)?)?,
        endpoint_id: parse(row.get(first + 3)?)?,
        status: status(row.get(first + 4)?)?,
        attempts: row.get(first + 5)?,
        next_attempt_at: row.get(first + 6)?,
        trigger: TriggerType::from_code(row.get(first + 7)?),
        created_at: row.get(first + 8)?,
        updated_at: row.get(first + 9)?,
        chunk: row.get(first + 10)?,
    })
}

pub(super) const ATTEMPT_COLUMNS: &str = "id, app_id, msg_id, endpoint_id, delivery_id, url, status, \
    response_status_code, response, response_duration_ms, error_kind, trigger_type, created_at";

pub(super) fn attempt(row: &Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: parse(row.get(0)?)?,
        app_id: parse(row.get(1)?)?,
        msg_id: parse(row.get(2)?)?,
        endpoint_id: parse(row.get(3)?)?,
        delivery_id: parse(row.get(4)?)?,
        url: row.get(5)?,
        status: status(row.get(6)?)?,
        response_status_code: row.get(7)?,
        response: row.get(8)?,
        response_duration_ms: row.get::<_, i64>(9)? as u64,
        error_kind: row.get::<_, Option<String>>(10)?.as_deref().and_then(ErrorKind::parse),
        trigger_type: TriggerType::from_code(row.get(11)?),
        timestamp: row.get(12)?,
    })
}

pub(super) fn insert_delivery(conn: &rusqlite::Connection, d: &Delivery, lease_until: Option<i64>) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts, next_attempt_at, \
         lease_until, trigger_type, created_at, updated_at, chunk) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    stmt.execute(rusqlite::params![
        d.id.to_string(),
        d.app_id.to_string(),
        d.msg_id.to_string(),
        d.endpoint_id.to_string(),
        d.status.code(),
        d.attempts,
        d.next_attempt_at,
        // Parked deliveries (no due time) are never leased: they wait for their endpoint.
        d.next_attempt_at.and(lease_until),
        d.trigger.code(),
        d.created_at,
        d.updated_at,
        d.chunk
    ])?;
    Ok(())
}

/// Turns a unique-constraint violation into `Conflict { what }`.
pub(super) fn conflict_as(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |error| match error {
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict { what }
        }
        other => other.into(),
    }
}

/// A WHERE clause under construction with its positional parameters.
#[derive(Default)]
pub(super) struct Conditions {
    pub clauses: Vec<String>,
    pub params: Vec<Box<dyn ToSql + Send>>,
}

impl Conditions {
    pub fn push(&mut self, clause: &str, value: impl ToSql + Send + 'static) {
        self.params.push(Box::new(value));
        self.clauses.push(clause.replace('?', &format!("?{}", self.params.len())));
    }

    /// Adds a clause without parameters.
    pub fn push_sql(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    pub fn sql(&self) -> String {
        if self.clauses.is_empty() { "1 = 1".into() } else { self.clauses.join(" AND ") }
    }

    pub fn param_refs(&self) -> Vec<&dyn ToSql> {
        self.params.iter().map(|p| p.as_ref() as &dyn ToSql).collect()
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
        let list = serde_json::to_string(&values).expect("strings serialize");
        self.push(&format!("{column} IN (SELECT value FROM json_each(?))"), list);
    }

    fn push_holds(&mut self, column: &str, value: String) {
        self.push(&format!("EXISTS (SELECT 1 FROM json_each({column}) WHERE value = ?)"), value);
    }
}

/// `SELECT body FROM {table}` under `conditions`, one page ordered by `column`, decoded.
pub(super) fn list_bodies<T: DeserializeOwned>(
    conn: &rusqlite::Connection,
    table: &str,
    mut conditions: Conditions,
    page: &crate::Page,
    column: &str,
) -> StoreResult<Vec<T>> {
    let tail = conditions.page(page, column);
    let sql = format!("SELECT body FROM {table} WHERE {} {tail}", conditions.sql());
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(conditions.param_refs().as_slice(), |r| from_json(&r.get::<_, String>(0)?))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An endpoint as loaded to be used (by id, for delivery, for a resend), not listed: its stored
/// body and its application's `throttleRate` (`Endpoint::app_throttle_rate`). A literal, to be
/// completed with a `WHERE` on `e.` by `concat!` (no query text is built per call).
macro_rules! endpoint_sql {
    () => {
        "SELECT e.body, json_extract(a.body, '$.throttle_rate') FROM endpoints e \
         LEFT JOIN applications a ON a.id = e.app_id"
    };
}
pub(crate) use endpoint_sql;

/// Reads a row of `endpoint_sql!`.
pub(crate) fn endpoint_row(row: &Row<'_>) -> rusqlite::Result<Endpoint> {
    let endpoint: Endpoint = from_json(&row.get::<_, String>(0)?)?;
    Ok(Endpoint { app_throttle_rate: row.get(1)?, ..endpoint })
}
