//! Destinations and the message log on SQLite: a position is the application's `log_seq`,
//! assigned by the one writer in commit order.

use async_trait::async_trait;
use hookwire_core::destination::{ATTEMPTS_KEPT, Destination, DestinationAttempt, DestinationKind, Progress};
use hookwire_core::model::Message;
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, AttemptId, DestinationId, MessageId};
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use super::rows::{self, Conditions, MESSAGE_COLUMNS, conflict_as, from_json, to_json};
use crate::error::{StoreError, StoreResult};
use crate::query::WhereClause;
use crate::{DestinationStore, Page, ProgressSaved};

fn position(text: &str) -> StoreResult<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| StoreError::Invalid(format!("{text:?} is not a position in this log")))
}

/// The settings and the progress columns, in the order `destination` reads them.
const DESTINATION_COLUMNS: &str = "body, position, failures, failure_reason, next_retry_at, last_acked, batch_end";

fn destination(row: &Row<'_>) -> rusqlite::Result<Destination> {
    let mut destination: Destination = from_json(&row.get::<_, String>(0)?)?;
    if destination.kind == DestinationKind::FifoEndpoint {
        destination.progress = Some(Progress {
            position: row.get::<_, Option<String>>(1)?.unwrap_or_else(|| destination.start.clone()),
            failures: row.get(2)?,
            failure_reason: row.get(3)?,
            next_retry_at: row.get(4)?,
            last_acked: row.get::<_, Option<String>>(5)?.and_then(|id| id.parse().ok()),
            batch_end: row.get(6)?,
        });
    }
    Ok(destination)
}

#[async_trait]
impl DestinationStore for SqliteStore {
    async fn create_destination(&self, destination: Destination) -> StoreResult<()> {
        let body = self.seal_destination(&destination);
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO destinations (id, app_id, uid, body, driven, position) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                destination.id.to_string(),
                destination.app_id.to_string(),
                destination.uid,
                body,
                destination.driven(),
                destination.start
            ])
            .map_err(conflict_as("destination uid"))?;
            Ok(())
        })
        .await
    }

    async fn get_destination(&self, app: AppId, key: &str) -> StoreResult<Option<Destination>> {
        let key = key.to_owned();
        self.read(move |conn| {
            let column = if DestinationId::looks_like(&key) { "id" } else { "uid" };
            let sql = format!("SELECT {DESTINATION_COLUMNS} FROM destinations WHERE app_id = ?1 AND {column} = ?2");
            Ok(conn.prepare_cached(&sql)?.query_row(params![app.to_string(), key], destination).optional()?)
        })
        .await?
        .map(|d| self.open_destination(d))
        .transpose()
    }

    async fn list_destinations(&self, app: AppId, page: &Page) -> StoreResult<Vec<Destination>> {
        let page = page.clone();
        self.read(move |conn| {
            let mut conditions = Conditions::default();
            conditions.push("app_id = ?", app.to_string());
            let tail = conditions.page(&page, "id");
            let sql = format!("SELECT {DESTINATION_COLUMNS} FROM destinations WHERE {} {tail}", conditions.sql());
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(conditions.param_refs().as_slice(), destination)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?
        .into_iter()
        .map(|d| self.open_destination(d))
        .collect()
    }

    async fn all_destinations(&self, limit: usize) -> StoreResult<Vec<Destination>> {
        self.read(move |conn| {
            let sql = format!("SELECT {DESTINATION_COLUMNS} FROM destinations ORDER BY id LIMIT ?1");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([limit as i64], destination)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?
        .into_iter()
        .map(|d| self.open_destination(d))
        .collect()
    }

    async fn claim_driven(
        &self,
        now: Millis,
        owner: &str,
        lease_until: Millis,
        limit: usize,
        timed_only: bool,
    ) -> StoreResult<Vec<Destination>> {
        // A look that finds nothing (the common case while messages stream in and no FIFO is
        // free) is a read, not a write through the one writer.
        let claimable = self
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT 1 FROM destinations WHERE driven = 1 \
                         AND (next_retry_at IS NULL OR next_retry_at <= ?1 OR (?2 = 0 AND failures = 0)) \
                         AND (lease_until IS NULL OR lease_until < ?1) \
                         AND (?2 = 0 OR next_retry_at IS NOT NULL OR lease_until IS NOT NULL) LIMIT 1",
                    )?
                    .exists(params![now, timed_only])?)
            })
            .await?;
        if !claimable {
            return Ok(Vec::new());
        }
        let owner = owner.to_owned();
        self.write(move |conn| {
            let sql = format!(
                "UPDATE destinations SET lease_owner = ?2, lease_until = ?3 WHERE id IN (SELECT id FROM destinations \
                 WHERE driven = 1 AND (next_retry_at IS NULL OR next_retry_at <= ?1 OR (?5 = 0 AND failures = 0)) \
                 AND (lease_until IS NULL OR lease_until < ?1) \
                 AND (?5 = 0 OR next_retry_at IS NOT NULL OR lease_until IS NOT NULL) LIMIT ?4) \
                 RETURNING {DESTINATION_COLUMNS}"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![now, owner, lease_until, limit as i64, timed_only], destination)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?
        .into_iter()
        .map(|d| self.open_destination(d))
        .collect()
    }

    async fn save_progress(
        &self,
        id: DestinationId,
        owner: &str,
        progress: &Progress,
        attempt: Option<&DestinationAttempt>,
        keep_until: Option<Millis>,
        settings: Option<Millis>,
    ) -> StoreResult<ProgressSaved> {
        self::position(&progress.position)?;
        let (owner, progress, attempt) = (owner.to_owned(), progress.clone(), attempt.cloned());
        self.write(move |conn| {
            let saved =
                conn.prepare_cached(
                    "UPDATE destinations SET position = ?3, failures = ?4, failure_reason = ?5, next_retry_at = ?6, \
                     last_acked = ?7, batch_end = ?8, lease_owner = CASE WHEN ?9 IS NULL THEN NULL ELSE lease_owner END, \
                     lease_until = ?9 WHERE id = ?1 AND lease_owner = ?2 \
                     AND (?10 IS NULL OR json_extract(body, '$.updatedAt') = ?10)",
                )?
                .execute(params![
                    id.to_string(),
                    owner,
                    progress.position,
                    progress.failures,
                    progress.failure_reason,
                    progress.next_retry_at,
                    progress.last_acked.map(|m| m.to_string()),
                    progress.batch_end,
                    keep_until,
                    settings
                ])? > 0;
            if !saved {
                let held = conn
                    .prepare_cached("SELECT 1 FROM destinations WHERE id = ?1 AND lease_owner = ?2")?
                    .exists(params![id.to_string(), owner])?;
                return Ok(if held { ProgressSaved::SettingsChanged } else { ProgressSaved::LeaseLost });
            }
            if let Some(attempt) = attempt {
                let id = id.to_string();
                conn.prepare_cached("INSERT INTO destination_attempts (destination_id, id, body) VALUES (?1, ?2, ?3)")?
                    .execute(params![id, attempt.id.to_string(), to_json(&attempt)])?;
                // The log keeps the newest ATTEMPTS_KEPT: one probe of the primary key a send.
                conn.prepare_cached(
                    "DELETE FROM destination_attempts WHERE destination_id = ?1 AND id <= (SELECT id FROM \
                     destination_attempts WHERE destination_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                )?
                .execute(params![id, ATTEMPTS_KEPT as i64])?;
            }
            Ok(ProgressSaved::Saved)
        })
        .await
    }

    async fn list_destination_attempts(
        &self,
        destination: DestinationId,
        page: &Page,
    ) -> StoreResult<Vec<DestinationAttempt>> {
        let page = page.clone();
        self.read(move |conn| {
            let mut conditions = Conditions::default();
            conditions.push("destination_id = ?", destination.to_string());
            let tail = conditions.page(&page, "id");
            let sql = format!("SELECT body FROM destination_attempts WHERE {} {tail}", conditions.sql());
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows =
                stmt.query_map(conditions.param_refs().as_slice(), |row| from_json(&row.get::<_, String>(0)?))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn get_destination_attempt(
        &self,
        destination: DestinationId,
        id: AttemptId,
    ) -> StoreResult<Option<DestinationAttempt>> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT body FROM destination_attempts WHERE destination_id = ?1 AND id = ?2")?
                .query_row(params![destination.to_string(), id.to_string()], |row| from_json(&row.get::<_, String>(0)?))
                .optional()?)
        })
        .await
    }

    async fn log_behind(&self, app: AppId, position: &str, cap: u64) -> StoreResult<u64> {
        let after = self::position(position)?;
        self.read(move |conn| {
            let behind: i64 = conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE app_id = ?1 AND log_seq > ?2 LIMIT ?3)",
                )?
                .query_row(params![app.to_string(), after, cap as i64], |r| r.get(0))?;
            Ok(behind as u64)
        })
        .await
    }

    async fn slowest_consumer(&self, destination: DestinationId) -> StoreResult<Option<String>> {
        self.read(move |conn| {
            let slowest: Option<i64> = conn
                .prepare_cached(
                    "SELECT MIN(CAST(position AS INTEGER)) FROM destination_consumers WHERE destination_id = ?1",
                )?
                .query_row([destination.to_string()], |r| r.get(0))?;
            Ok(slowest.map(|p| p.to_string()))
        })
        .await
    }

    async fn set_progress(&self, id: DestinationId, progress: &Progress) -> StoreResult<bool> {
        self::position(&progress.position)?;
        let progress = progress.clone();
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "UPDATE destinations SET position = ?2, failures = ?3, failure_reason = ?4, next_retry_at = ?5, \
                     batch_end = ?6, lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                )?
                .execute(params![
                    id.to_string(),
                    progress.position,
                    progress.failures,
                    progress.failure_reason,
                    progress.next_retry_at,
                    progress.batch_end
                ])?
                > 0)
        })
        .await
    }

    async fn retry_now(&self, id: DestinationId) -> StoreResult<bool> {
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "UPDATE destinations SET next_retry_at = NULL, lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                )?
                .execute(params![id.to_string()])?
                > 0)
        })
        .await
    }

    async fn update_destination(&self, destination: Destination) -> StoreResult<()> {
        let body = self.seal_destination(&destination);
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE destinations SET uid = ?3, body = ?4, driven = ?5 WHERE id = ?1 AND app_id = ?2",
                )?
                .execute(params![
                    destination.id.to_string(),
                    destination.app_id.to_string(),
                    destination.uid,
                    body,
                    destination.driven()
                ])
                .map_err(conflict_as("destination uid"))?;
            if changed == 0 {
                return Err(StoreError::NotFound { what: "destination" });
            }
            Ok(())
        })
        .await
    }

    async fn delete_destination(&self, app: AppId, id: DestinationId) -> StoreResult<bool> {
        self.write(move |conn| {
            let id = id.to_string();
            conn.execute("DELETE FROM destination_consumers WHERE destination_id = ?1", [&id])?;
            conn.execute("DELETE FROM destination_attempts WHERE destination_id = ?1", [&id])?;
            Ok(conn.execute("DELETE FROM destinations WHERE id = ?1 AND app_id = ?2", params![id, app.to_string()])?
                > 0)
        })
        .await
    }

    async fn log_end(&self, app: AppId) -> StoreResult<String> {
        self.read(move |conn| {
            let end: i64 = conn
                .prepare_cached("SELECT COALESCE(MAX(log_seq), 0) FROM messages WHERE app_id = ?1")?
                .query_row([app.to_string()], |r| r.get(0))?;
            Ok(end.to_string())
        })
        .await
    }

    async fn log_position_after(&self, app: AppId, time: Millis) -> StoreResult<String> {
        let end = self.log_end(app).await?;
        let first = MessageId::first_at(time + 1).to_string();
        self.read(move |conn| {
            // The lowest position among messages created after `time`: a seek never skips one.
            let next: Option<i64> = conn
                .prepare_cached("SELECT MIN(log_seq) FROM messages WHERE app_id = ?1 AND id >= ?2")?
                .query_row(params![app.to_string(), first], |r| r.get(0))?;
            Ok(next.map_or(end, |seq| (seq - 1).to_string()))
        })
        .await
    }

    async fn read_log(&self, app: AppId, position: &str, limit: usize) -> StoreResult<Vec<(String, Message)>> {
        let after = self::position(position)?;
        self.read(move |conn| {
            let sql = format!(
                "SELECT log_seq, {MESSAGE_COLUMNS} FROM messages WHERE app_id = ?1 AND log_seq > ?2 ORDER BY log_seq LIMIT ?3"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![app.to_string(), after, limit as i64], |row| {
                let seq: i64 = row.get(0)?;
                Ok((seq, rows::message_at(row, 1)?))
            })?;
            let mut read = Vec::new();
            for row in rows {
                let (seq, message) = row?;
                read.push((seq.to_string(), message));
            }
            // Nothing after it: it may be past the end, a position this log never made, which a
            // reader would otherwise keep, skipping every message until the log reached it.
            if read.is_empty() {
                let end: i64 = conn
                    .prepare_cached("SELECT COALESCE(MAX(log_seq), 0) FROM messages WHERE app_id = ?1")?
                    .query_row([app.to_string()], |r| r.get(0))?;
                if after > end {
                    return Err(StoreError::Invalid(format!("{after} is past the end of this log ({end})")));
                }
            }
            Ok(read)
        })
        .await
    }

    async fn consumer_position(&self, destination: DestinationId, consumer: &str) -> StoreResult<Option<String>> {
        let consumer = consumer.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT position FROM destination_consumers WHERE destination_id = ?1 AND consumer_id = ?2",
                )?
                .query_row(params![destination.to_string(), consumer], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn save_consumer_position(
        &self,
        destination: DestinationId,
        consumer: &str,
        position: &str,
        now: Millis,
    ) -> StoreResult<()> {
        self::position(position)?;
        let (consumer, position) = (consumer.to_owned(), position.to_owned());
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO destination_consumers (destination_id, consumer_id, position, updated_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (destination_id, consumer_id) \
                 DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
            )?
            .execute(params![destination.to_string(), consumer, position, now])?;
            Ok(())
        })
        .await
    }
}
