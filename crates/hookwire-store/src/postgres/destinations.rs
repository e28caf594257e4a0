//! Destinations and the message log on PostgreSQL. A position is `XID.MSG_ID`: the id of the
//! transaction that wrote the message and the message's id. The log is read only below
//! `pg_snapshot_xmin` (every transaction older than that has finished), so a message whose
//! transaction commits late is never behind a position already handed out: nothing is skipped,
//! whichever node accepted it. (The order is by transaction id, the same for every reader.)

use async_trait::async_trait;
use hookwire_core::destination::Destination;
use hookwire_core::model::Message;
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, DestinationId, MessageId};

use super::PgStore;
use super::rows::{self, Conditions, MESSAGE_COLUMNS, conflict_as, to_json};
use crate::error::{StoreError, StoreResult};
use crate::{DestinationStore, Page};

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
                "INSERT INTO destinations (id, app_id, uid, body) VALUES ($1, $2, $3, $4)",
                &[
                    &destination.id.to_string(),
                    &destination.app_id.to_string(),
                    &destination.uid,
                    &to_json(&destination),
                ],
            )
            .await
            .map_err(conflict_as("destination uid"))?;
        Ok(())
    }

    async fn get_destination(&self, app: AppId, key: &str) -> StoreResult<Option<Destination>> {
        let column = if DestinationId::looks_like(key) { "id" } else { "uid" };
        let sql = format!("SELECT body FROM destinations WHERE app_id = $1 AND {column} = $2");
        self.body(&sql, &[&app.to_string(), &key]).await
    }

    async fn list_destinations(&self, app: AppId, page: &Page) -> StoreResult<Vec<Destination>> {
        let mut conditions = Conditions::default();
        conditions.push("app_id = ?", app.to_string());
        self.list_bodies("destinations", conditions, page, "id").await
    }

    async fn update_destination(&self, destination: Destination) -> StoreResult<()> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE destinations SET uid = $3, body = $4 WHERE id = $1 AND app_id = $2",
                &[
                    &destination.id.to_string(),
                    &destination.app_id.to_string(),
                    &destination.uid,
                    &to_json(&destination),
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
