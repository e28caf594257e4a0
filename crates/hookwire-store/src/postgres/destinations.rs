//! Destinations and the message log on PostgreSQL. A position is `XID.MSG_ID`: the id of the
//! transaction that wrote the message and the message's id. The log is read only below
//! `pg_snapshot_xmin` (every transaction older than that has finished), so a message whose
//! transaction commits late is never behind a position already handed out: nothing is skipped,
//! whichever node accepted it. (The order is by transaction id, the same for every reader.)

use async_trait::async_trait;
use hookwire_core::destination::{ATTEMPTS_KEPT, Destination, DestinationAttempt, DestinationKind, Progress};
use hookwire_core::model::Message;
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, AttemptId, DestinationId, MessageId};

use super::PgStore;
use super::node::lease_lapsed;
use super::rows::{self, Conditions, MESSAGE_COLUMNS, conflict_as, to_json};
use crate::error::{StoreError, StoreResult};
use crate::query::WhereClause;
use crate::{DestinationStore, Page, ProgressSaved};

/// The settings and the progress columns, in the order `destination` reads them.
const DESTINATION_COLUMNS: &str = "body, position, failures, failure_reason, next_retry_at, last_acked, batch_end";

fn destination(row: &tokio_postgres::Row) -> StoreResult<Destination> {
    let mut destination: Destination = rows::from_json(row.get(0))?;
    if destination.kind == DestinationKind::FifoEndpoint {
        destination.progress = Some(Progress {
            position: row.get::<_, Option<String>>(1).unwrap_or_else(|| destination.start.clone()),
            failures: row.get::<_, i32>(2) as u32,
            failure_reason: row.get(3),
            next_retry_at: row.get(4),
            last_acked: row.get::<_, Option<String>>(5).and_then(|id| id.parse().ok()),
            batch_end: row.get(6),
        });
    }
    Ok(destination)
}

/// The part of a position after every message id (`~` sorts after them byte by byte).
const AFTER_EVERY_ID: &str = "~";

/// `(xid, message id or ~)` from a position this store made.
fn position(text: &str) -> StoreResult<(i64, String)> {
    let invalid = || StoreError::Invalid(format!("{text:?} is not a position in this log"));
    let (xid, id) = text.split_once('.').ok_or_else(invalid)?;
    let xid: i64 = xid.parse().ok().filter(|x| *x >= 0).ok_or_else(invalid)?;
    if id != AFTER_EVERY_ID && id.parse::<MessageId>().is_err() {
        return Err(invalid());
    }
    Ok((xid, id.to_owned()))
}

/// The position after every message of transactions older than `xid`.
fn before_transaction(xid: i64) -> String {
    format!("{}.{AFTER_EVERY_ID}", xid - 1)
}

#[async_trait]
impl DestinationStore for PgStore {
    async fn create_destination(&self, destination: Destination) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO destinations (id, app_id, uid, body, driven, position) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &destination.id.to_string(),
                    &destination.app_id.to_string(),
                    &destination.uid,
                    &self.seal_destination(&destination),
                    &destination.driven(),
                    &destination.start,
                ],
            )
            .await
            .map_err(conflict_as("destination uid"))?;
        Ok(())
    }

    async fn get_destination(&self, app: AppId, key: &str) -> StoreResult<Option<Destination>> {
        let column = if DestinationId::looks_like(key) { "id" } else { "uid" };
        let sql = format!("SELECT {DESTINATION_COLUMNS} FROM destinations WHERE app_id = $1 AND {column} = $2");
        let client = self.client().await?;
        let row = client.query_opt(&sql, &[&app.to_string(), &key]).await?;
        row.as_ref().map(destination).transpose()?.map(|d| self.open_destination(d)).transpose()
    }

    async fn list_destinations(&self, app: AppId, page: &Page) -> StoreResult<Vec<Destination>> {
        let mut conditions = Conditions::default();
        conditions.push("app_id = ?", app.to_string());
        let tail = conditions.page(page, "id");
        let sql = format!("SELECT {DESTINATION_COLUMNS} FROM destinations WHERE {} {tail}", conditions.sql());
        let client = self.client().await?;
        let rows = client.query(&sql, &conditions.params()).await?;
        rows.iter().map(|row| self.open_destination(destination(row)?)).collect()
    }

    fn sender_owner(&self) -> Option<String> {
        Some(self.node_id().to_owned())
    }

    async fn all_destinations(&self, limit: usize) -> StoreResult<Vec<Destination>> {
        let sql = format!("SELECT {DESTINATION_COLUMNS} FROM destinations ORDER BY id LIMIT $1");
        let client = self.client().await?;
        let rows = client.query(&sql, &[&(limit as i64)]).await?;
        rows.iter().map(|row| self.open_destination(destination(row)?)).collect()
    }

    async fn claim_driven(
        &self,
        now: Millis,
        owner: &str,
        lease_until: Millis,
        limit: usize,
        timed_only: bool,
    ) -> StoreResult<Vec<Destination>> {
        let sql = format!(
            "UPDATE destinations SET lease_owner = $2, lease_until = $3 WHERE id IN (SELECT d.id FROM destinations d \
             WHERE d.driven AND (d.next_retry_at IS NULL OR d.next_retry_at <= $1 OR (NOT $5 AND d.failures = 0)) \
             AND {} AND (NOT $5 OR d.next_retry_at IS NOT NULL OR d.lease_until IS NOT NULL) \
             LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING {DESTINATION_COLUMNS}",
            lease_lapsed("$1")
        );
        let client = self.client().await?;
        let rows = client.query(&sql, &[&now, &owner, &lease_until, &(limit as i64), &timed_only]).await?;
        rows.iter().map(|row| self.open_destination(destination(row)?)).collect()
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
        let client = self.client().await?;
        let (attempt_id, attempt_body) = match attempt {
            Some(attempt) => (Some(attempt.id.to_string()), Some(to_json(attempt))),
            None => (None, None),
        };
        // One round trip: the progress, the attempt, and the log trimmed to the newest
        // ATTEMPTS_KEPT (the insert is not visible to the trim in the same statement: keep one less);
        // and when nothing was saved, whether the lease was still held (the statement's snapshot
        // sees the row as it was before the update).
        let sql = format!(
            "WITH saved AS (UPDATE destinations SET position = $3, failures = $4, failure_reason = $5, \
             next_retry_at = $6, last_acked = $7, batch_end = $10, \
             lease_owner = CASE WHEN $11::bigint IS NULL THEN NULL ELSE lease_owner END, lease_until = $11 \
             WHERE id = $1 AND lease_owner = $2 \
             AND ($12::bigint IS NULL OR (body::json ->> 'updatedAt')::bigint = $12) RETURNING 1), \
             recorded AS (INSERT INTO destination_attempts (destination_id, id, body) \
             SELECT $1, $8, $9 WHERE $8::text IS NOT NULL AND EXISTS (SELECT 1 FROM saved)), \
             trimmed AS (DELETE FROM destination_attempts WHERE $8::text IS NOT NULL AND EXISTS (SELECT 1 FROM saved) \
             AND destination_id = $1 \
             AND id <= (SELECT id FROM destination_attempts WHERE destination_id = $1 ORDER BY id DESC \
             LIMIT 1 OFFSET {})) \
             SELECT EXISTS (SELECT 1 FROM saved), \
             EXISTS (SELECT 1 FROM destinations WHERE id = $1 AND lease_owner = $2)",
            ATTEMPTS_KEPT - 1
        );
        let row = client
            .query_one(
                &sql,
                &[
                    &id.to_string(),
                    &owner,
                    &progress.position,
                    &(progress.failures as i32),
                    &progress.failure_reason,
                    &progress.next_retry_at,
                    &progress.last_acked.map(|m| m.to_string()),
                    &attempt_id,
                    &attempt_body,
                    &progress.batch_end,
                    &keep_until,
                    &settings,
                ],
            )
            .await?;
        Ok(match (row.get(0), row.get(1)) {
            (true, _) => ProgressSaved::Saved,
            (false, true) => ProgressSaved::SettingsChanged,
            (false, false) => ProgressSaved::LeaseLost,
        })
    }

    async fn list_destination_attempts(
        &self,
        destination: DestinationId,
        page: &Page,
    ) -> StoreResult<Vec<DestinationAttempt>> {
        let mut conditions = Conditions::default();
        conditions.push("destination_id = ?", destination.to_string());
        let tail = conditions.page(page, "id");
        let sql = format!("SELECT body FROM destination_attempts WHERE {} {tail}", conditions.sql());
        let client = self.client().await?;
        let rows = client.query(&sql, &conditions.params()).await?;
        rows.iter().map(|row| rows::from_json(row.get(0))).collect()
    }

    async fn get_destination_attempt(
        &self,
        destination: DestinationId,
        id: AttemptId,
    ) -> StoreResult<Option<DestinationAttempt>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT body FROM destination_attempts WHERE destination_id = $1 AND id = $2",
                &[&destination.to_string(), &id.to_string()],
            )
            .await?;
        row.map(|row| rows::from_json(row.get(0))).transpose()
    }

    async fn log_behind(&self, app: AppId, position: &str, cap: u64) -> StoreResult<u64> {
        let (xid, id) = self::position(position)?;
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE app_id = $1 AND log_xid IS NOT NULL \
                 AND (log_xid, id) > ($2::text::xid8, $3) AND log_xid < pg_snapshot_xmin(pg_current_snapshot()) \
                 LIMIT $4) behind",
            )
            .await?;
        let row = client.query_one(&statement, &[&app.to_string(), &xid.to_string(), &id, &(cap as i64)]).await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn slowest_consumer(&self, destination: DestinationId) -> StoreResult<Option<String>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT position FROM destination_consumers WHERE destination_id = $1 \
                 ORDER BY split_part(position, '.', 1)::bigint, split_part(position, '.', 2) COLLATE \"C\" LIMIT 1",
                &[&destination.to_string()],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn set_progress(&self, id: DestinationId, progress: &Progress) -> StoreResult<bool> {
        self::position(&progress.position)?;
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE destinations SET position = $2, failures = $3, failure_reason = $4, next_retry_at = $5, \
                 batch_end = $6, lease_owner = NULL, lease_until = NULL WHERE id = $1",
                &[
                    &id.to_string(),
                    &progress.position,
                    &(progress.failures as i32),
                    &progress.failure_reason,
                    &progress.next_retry_at,
                    &progress.batch_end,
                ],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn retry_now(&self, id: DestinationId) -> StoreResult<bool> {
        let client = self.client().await?;
        let sql = "UPDATE destinations SET next_retry_at = NULL, lease_owner = NULL, lease_until = NULL WHERE id = $1";
        Ok(client.execute(sql, &[&id.to_string()]).await? > 0)
    }

    async fn update_destination(&self, destination: Destination) -> StoreResult<()> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE destinations SET uid = $3, body = $4, driven = $5 WHERE id = $1 AND app_id = $2",
                &[
                    &destination.id.to_string(),
                    &destination.app_id.to_string(),
                    &destination.uid,
                    &self.seal_destination(&destination),
                    &destination.driven(),
                ],
            )
            .await
            .map_err(conflict_as("destination uid"))?;
        if changed == 0 {
            return Err(StoreError::NotFound { what: "destination" });
        }
        Ok(())
    }

    async fn delete_destination(&self, app: AppId, id: DestinationId) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = id.to_string();
        tx.execute("DELETE FROM destination_consumers WHERE destination_id = $1", &[&id]).await?;
        tx.execute("DELETE FROM destination_attempts WHERE destination_id = $1", &[&id]).await?;
        let deleted =
            tx.execute("DELETE FROM destinations WHERE id = $1 AND app_id = $2", &[&id, &app.to_string()]).await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    async fn log_end(&self, _app: AppId) -> StoreResult<String> {
        let client = self.client().await?;
        let row = client.query_one("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint", &[]).await?;
        Ok(before_transaction(row.get(0)))
    }

    async fn log_position_after(&self, app: AppId, time: Millis) -> StoreResult<String> {
        let first = MessageId::first_at(time + 1).to_string();
        let client = self.client().await?;
        // The lowest transaction among messages created after `time`: a seek never skips one.
        let row = client
            .query_one(
                "SELECT MIN(log_xid)::text::bigint FROM messages WHERE app_id = $1 AND id >= $2 AND log_xid IS NOT NULL",
                &[&app.to_string(), &first],
            )
            .await?;
        match row.get::<_, Option<i64>>(0) {
            Some(xid) => Ok(before_transaction(xid)),
            None => self.log_end(app).await,
        }
    }

    async fn read_log(&self, app: AppId, position: &str, limit: usize) -> StoreResult<Vec<(String, Message)>> {
        let (xid, id) = self::position(position)?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS}, log_xid::text AS log_position FROM messages \
             WHERE app_id = $1 AND log_xid IS NOT NULL AND (log_xid, id) > ($2::text::xid8, $3) \
             AND log_xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY messages.log_xid, messages.id LIMIT $4"
        );
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await?;
        let rows = client.query(&statement, &[&app.to_string(), &xid.to_string(), &id, &(limit as i64)]).await?;
        // Nothing after it: it may be past the end, a position this log never made (every one
        // it makes is before the oldest running transaction), which a reader would otherwise
        // keep, skipping every message until the log reached it.
        if rows.is_empty() {
            let xmin: i64 =
                client.query_one("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint", &[]).await?.get(0);
            if xid >= xmin {
                return Err(StoreError::Invalid(format!("{position:?} is past the end of this log")));
            }
        }
        rows.iter()
            .map(|row| {
                let message = rows::message(row)?;
                let xid: &str = row.get(rows::MESSAGE_COLUMN_COUNT);
                Ok((format!("{xid}.{}", message.id), message))
            })
            .collect()
    }

    async fn consumer_position(&self, destination: DestinationId, consumer: &str) -> StoreResult<Option<String>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT position FROM destination_consumers WHERE destination_id = $1 AND consumer_id = $2",
                &[&destination.to_string(), &consumer],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn save_consumer_position(
        &self,
        destination: DestinationId,
        consumer: &str,
        position: &str,
        now: Millis,
    ) -> StoreResult<()> {
        self::position(position)?;
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO destination_consumers (destination_id, consumer_id, position, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (destination_id, consumer_id) \
                 DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
                &[&destination.to_string(), &consumer, &position, &now],
            )
            .await?;
        Ok(())
    }
}
