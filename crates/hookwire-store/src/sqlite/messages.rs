//! Accepting and reading messages on SQLite.

use async_trait::async_trait;
use hookwire_core::limits::IDEMPOTENCY_WINDOW_SECONDS;
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, MessageId};
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::rows::{self, Conditions, MESSAGE_COLUMNS, conflict_as, insert_delivery, optional_json};
use crate::error::{StoreError, StoreResult};
use crate::query::WhereClause;
use crate::{Accept, Accepted, MessageFilter, MessageStore};

#[async_trait]
impl MessageStore for SqliteStore {
    async fn accept_message(&self, accept: Accept) -> StoreResult<Accepted> {
        // Its first write is the message, whose eventId conflict is the one expected failure.
        self.write_direct(move |conn| accept_in(conn, accept)).await
    }

    async fn get_message(&self, app: AppId, id: MessageId) -> StoreResult<Option<Message>> {
        self.read(move |conn| message_by_id(conn, app, id)).await
    }

    async fn get_message_by_event_id(&self, app: AppId, event_id: &str) -> StoreResult<Option<Message>> {
        let event_id = event_id.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE app_id = ?1 AND event_id = ?2");
            Ok(conn.prepare_cached(&sql)?.query_row([app.to_string(), event_id], rows::message).optional()?)
        })
        .await
    }

    async fn list_messages(&self, app: AppId, filter: &MessageFilter) -> StoreResult<Vec<Message>> {
        let filter = filter.clone();
        self.read(move |conn| {
            let mut conditions = Conditions::default();
            conditions.extend(filter.clauses(app, "deliveries"));
            let tail = conditions.page(&filter.page, "messages.id");
            let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE {} {tail}", conditions.sql());
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(conditions.param_refs().as_slice(), rows::message)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn purge_expired(&self, now: Millis, responses_before: Millis, batch: usize) -> StoreResult<u64> {
        self.write(move |conn| {
            let payloads = conn
                .prepare_cached(
                    "UPDATE messages SET payload = NULL WHERE id IN (SELECT id FROM messages \
                 WHERE payload IS NOT NULL AND payload_expires_at <= ?1 LIMIT ?2)",
                )?
                .execute(params![now, batch as i64])?;
            let responses = conn
                .prepare_cached(
                    "UPDATE attempts SET response = '' WHERE id IN (SELECT id FROM attempts \
                 WHERE response != '' AND created_at < ?1 LIMIT ?2)",
                )?
                .execute(params![responses_before, batch as i64])?;
            Ok((payloads + responses) as u64)
        })
        .await
    }

    async fn expunge_message_content(&self, app: AppId, id: MessageId) -> StoreResult<()> {
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE messages SET payload = NULL WHERE app_id = ?1 AND id = ?2",
                [app.to_string(), id.to_string()],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound { what: "message" });
            }
            Ok(())
        })
        .await
    }
}

use hookwire_core::model::Message;

fn message_by_id(conn: &Connection, app: AppId, id: MessageId) -> StoreResult<Option<Message>> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1 AND app_id = ?2");
    Ok(conn.prepare_cached(&sql)?.query_row([id.to_string(), app.to_string()], rows::message).optional()?)
}

fn accept_in(conn: &Connection, accept: Accept) -> StoreResult<Accepted> {
    let Accept { message, deliveries, leased_until, idempotency_key, filter_errors } = accept;
    let app = message.app_id.to_string();
    if let Some(key) = &idempotency_key {
        let window_start = message.created_at - IDEMPOTENCY_WINDOW_SECONDS * 1_000;
        let seen: Option<String> = conn
            .prepare_cached("SELECT msg_id FROM idempotency_keys WHERE app_id = ?1 AND key = ?2 AND created_at > ?3")?
            .query_row(params![app, key, window_start], |r| r.get(0))
            .optional()?;
        if let Some(seen) = seen {
            let id = seen.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?;
            if let Some(existing) = message_by_id(conn, message.app_id, id)? {
                return Ok(Accepted::Existing(Box::new(existing)));
            }
        }
    }
    conn.prepare_cached(
        "INSERT INTO messages (id, app_id, event_type, event_id, channels, tags, payload, created_at, \
         payload_expires_at, content_type, deliver_at, log_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
         (SELECT COALESCE(MAX(log_seq), 0) + 1 FROM messages WHERE app_id = ?2))",
    )?
    .execute(params![
        message.id.to_string(),
        app,
        message.event_type,
        message.event_id,
        optional_json(&message.channels),
        optional_json(&message.tags),
        message.payload,
        message.created_at,
        message.payload_expires_at,
        message.content_type,
        message.deliver_at
    ])
    .map_err(conflict_as("message with this eventId"))?;
    for tag in message.tags.iter().flatten() {
        conn.prepare_cached("INSERT OR IGNORE INTO message_tags (app_id, tag, msg_id) VALUES (?1, ?2, ?3)")?
            .execute(params![app, tag, message.id.to_string()])?;
    }
    for delivery in &deliveries {
        insert_delivery(conn, delivery, leased_until)?;
    }
    if let Some(key) = idempotency_key {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO idempotency_keys (app_id, key, msg_id, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![app, key, message.id.to_string(), message.created_at])?;
    }
    for (endpoint, error) in filter_errors {
        conn.prepare_cached(
            "INSERT INTO endpoint_counters (endpoint_id, filter_errors, last_filter_error, last_filter_error_at) \
             VALUES (?1, 1, ?2, ?3) ON CONFLICT (endpoint_id) DO UPDATE SET \
             filter_errors = filter_errors + 1, last_filter_error = ?2, last_filter_error_at = ?3",
        )?
        .execute(params![endpoint.to_string(), error, message.created_at])?;
    }
    Ok(Accepted::Created)
}
