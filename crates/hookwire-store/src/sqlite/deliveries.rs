//! Deliveries and attempts on SQLite: claiming due work with leases, recording outcomes, history.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use hookwire_core::model::{Attempt, Delivery, Endpoint, Message, Status};
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, AttemptId, EndpointId, MessageId};
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::rows::{
    self, ATTEMPT_COLUMNS, Conditions, DELIVERY_COLUMNS, MESSAGE_COLUMN_COUNT, MESSAGE_COLUMNS, endpoint_row,
    endpoint_sql, from_json, insert_delivery,
};
use crate::error::StoreResult;
use crate::query::WhereClause;
use crate::{
    AttemptFilter, ClaimedDelivery, DeliveryStore, DeliveryUpdate, EndpointMessageFilter, QueueDepth, Release,
    StatusCounts,
};

/// Moves a delivery on (status, attempts, next due time) and releases its lease.
const MOVE_DELIVERY_SQL: &str = "UPDATE deliveries SET status = ?2, attempts = ?3, next_attempt_at = ?4, \
    lease_until = NULL, updated_at = ?5 WHERE id = ?1";
/// The same, only while the delivery is still under the lease it was released from.
const RELEASE_DELIVERY_SQL: &str = "UPDATE deliveries SET status = ?2, attempts = ?3, next_attempt_at = ?4, \
    lease_until = NULL, updated_at = ?5 WHERE id = ?1 AND lease_until = ?6";

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn claim_due(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: usize,
        skip: &[EndpointId],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let skip = json_ids(skip);
        // The walk to the oldest due work is read on a reader, not in the one writer that every
        // accept waits for: it reads past the whole due backlog of a skipped endpoint (19 ms per
        // 100,000 rows, docs/BENCHMARKS.md). The writer leases what was found, each only if it
        // is still due and free.
        let found = self.read(move |conn| due_ids(conn, now, limit, &skip)).await?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let found = json_ids(&found);
        let (claimed, stored) = self.write_direct(move |conn| claim_in(conn, now, lease_until, &found)).await?;
        // Secrets are opened off the writer thread, once per endpoint of the batch.
        let mut opened: HashMap<EndpointId, Arc<Endpoint>> = HashMap::with_capacity(stored.len());
        for (id, endpoint) in stored {
            opened.insert(id, Arc::new(self.open_endpoint(endpoint)?));
        }
        // `claim_in` kept only deliveries whose endpoint it returned.
        Ok(claimed
            .into_iter()
            .map(|(delivery, message)| {
                let endpoint = opened[&delivery.endpoint_id].clone();
                ClaimedDelivery { delivery, message, endpoint }
            })
            .collect())
    }

    async fn record_attempts(&self, records: Vec<(Attempt, DeliveryUpdate)>) -> Vec<StoreResult<Option<Millis>>> {
        let count = records.len();
        let endpoints: Vec<EndpointId> = records.iter().map(|(attempt, _)| attempt.endpoint_id).collect();
        match self.write_direct(move |conn| record_in(conn, &records)).await {
            Ok(health) => endpoints.iter().map(|endpoint| Ok(health.get(endpoint).copied().flatten())).collect(),
            Err(error) => {
                let detail = error.to_string();
                (0..count).map(|_| Err(crate::error::StoreError::Batch(detail.clone()))).collect()
            }
        }
    }

    async fn disable_endpoint(&self, endpoint: EndpointId, now: Millis) -> StoreResult<bool> {
        self.write_config(move |conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM endpoints WHERE id = ?1")?
                .query_row([endpoint.to_string()], |r| r.get(0))
                .optional()?;
            let Some(body) = body else { return Ok(false) };
            let mut stored: Endpoint = from_json(&body)?;
            if stored.disabled {
                return Ok(false);
            }
            stored.disabled = true;
            stored.updated_at = now;
            conn.execute(
                "UPDATE endpoints SET body = ?2 WHERE id = ?1",
                [endpoint.to_string(), rows::to_json(&stored)],
            )?;
            Ok(true)
        })
        .await
    }

    async fn insert_deliveries(&self, deliveries: Vec<Delivery>, leased_until: Option<Millis>) -> StoreResult<()> {
        self.write(move |conn| {
            for delivery in &deliveries {
                insert_delivery(conn, delivery, leased_until)?;
            }
            Ok(())
        })
        .await
    }

    async fn release_leases(&self) -> StoreResult<u64> {
        self.write(|conn| {
            // Background tasks too: whatever ran them is gone.
            conn.execute("UPDATE tasks SET lease_until = NULL WHERE lease_until IS NOT NULL", [])?;
            conn.execute(
                "UPDATE destinations SET lease_owner = NULL, lease_until = NULL WHERE lease_until IS NOT NULL",
                [],
            )?;
            Ok(conn.execute("UPDATE deliveries SET lease_until = NULL WHERE lease_until IS NOT NULL", [])? as u64)
        })
        .await
    }

    async fn next_due_at(&self, now: Millis, skip: &[EndpointId]) -> StoreResult<Option<Millis>> {
        let skip = json_ids(skip);
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT next_attempt_at FROM deliveries WHERE status = 1 AND next_attempt_at IS NOT NULL \
                     AND (lease_until IS NULL OR lease_until <= ?1) \
                     AND endpoint_id NOT IN (SELECT value FROM json_each(?2)) ORDER BY next_attempt_at LIMIT 1",
                )?
                .query_row(params![now, skip], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn queue_depth(&self, now: Millis) -> StoreResult<QueueDepth> {
        // One pass over the partial index of pending deliveries (`deliveries_due`).
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT COUNT(*) FILTER (WHERE next_attempt_at <= ?1), \
                     COUNT(*) FILTER (WHERE next_attempt_at > ?1), \
                     COUNT(*) FILTER (WHERE next_attempt_at IS NULL) \
                     FROM deliveries WHERE status = 1",
                )?
                .query_row([now], |r| {
                    Ok(QueueDepth {
                        due: r.get::<_, i64>(0)? as u64,
                        scheduled: r.get::<_, i64>(1)? as u64,
                        parked: r.get::<_, i64>(2)? as u64,
                    })
                })?)
        })
        .await
    }

    async fn release_deliveries(&self, releases: Vec<Release>, now: Millis) -> StoreResult<u64> {
        if releases.is_empty() {
            return Ok(0);
        }
        self.write_direct(move |conn| {
            let mut release = conn.prepare_cached(RELEASE_DELIVERY_SQL)?;
            let mut moved = 0;
            for r in &releases {
                moved += release.execute(params![
                    r.delivery.to_string(),
                    r.update.status.code(),
                    r.update.attempts,
                    r.update.next_attempt_at,
                    now,
                    r.leased_until
                ])? as u64;
            }
            Ok(moved)
        })
        .await
    }

    async fn message_deliveries(&self, msg: MessageId) -> StoreResult<Vec<Delivery>> {
        self.read(move |conn| {
            let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE msg_id = ?1 ORDER BY id");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([msg.to_string()], rows::delivery)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn release_parked(&self, endpoint: EndpointId, now: Millis) -> StoreResult<u64> {
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE deliveries SET next_attempt_at = ?2, lease_until = NULL, updated_at = ?2 \
                 WHERE endpoint_id = ?1 AND status = 1 AND next_attempt_at IS NULL",
                params![endpoint.to_string(), now],
            )? as u64)
        })
        .await
    }

    async fn endpoint_messages(
        &self,
        app: AppId,
        endpoint: EndpointId,
        filter: &EndpointMessageFilter,
    ) -> StoreResult<Vec<(Message, Delivery)>> {
        let filter = filter.clone();
        self.read(move |conn| {
            let mut conditions = Conditions::default();
            conditions.extend(filter.clauses(app, endpoint));
            let tail = conditions.page(&filter.page, "d.id");
            let message_columns = MESSAGE_COLUMNS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ");
            let delivery_columns =
                DELIVERY_COLUMNS.split(", ").map(|c| format!("d.{c}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT {message_columns}, {delivery_columns} FROM deliveries d JOIN messages m ON m.id = d.msg_id \
                 WHERE {} {tail}",
                conditions.sql()
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(conditions.param_refs().as_slice(), |row| {
                let message = rows::message(row)?;
                let delivery = rows::delivery_at(row, MESSAGE_COLUMN_COUNT)?;
                Ok((message, delivery))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn endpoint_stats(&self, endpoint: EndpointId, since: Millis, until: Millis) -> StoreResult<StatusCounts> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT status, count(*) FROM deliveries WHERE endpoint_id = ?1 AND created_at >= ?2 \
                 AND created_at < ?3 GROUP BY status",
            )?;
            let mut counts = StatusCounts::default();
            let rows = stmt.query_map(params![endpoint.to_string(), since, until], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            for row in rows {
                let (status, count) = row?;
                counts.add(status, count);
            }
            let errors: Option<(i64, Option<String>)> = conn
                .prepare_cached(
                    "SELECT filter_errors, last_filter_error FROM endpoint_counters WHERE endpoint_id = ?1",
                )?
                .query_row([endpoint.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((count, last)) = errors {
                counts.filter_errors = count as u64;
                counts.last_filter_error = last;
            }
            Ok(counts)
        })
        .await
    }

    async fn expunge_attempt_content(&self, app: AppId, id: AttemptId) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE attempts SET response = '' WHERE app_id = ?1 AND id = ?2",
                [app.to_string(), id.to_string()],
            )?;
            Ok(())
        })
        .await
    }

    async fn list_attempts(&self, app: AppId, filter: &AttemptFilter) -> StoreResult<Vec<Attempt>> {
        let filter = filter.clone();
        self.read(move |conn| {
            let mut conditions = Conditions::default();
            conditions.extend(filter.clauses(app));
            let tail = conditions.page(&filter.page, "attempts.id");
            let columns = rows::qualified(ATTEMPT_COLUMNS, "attempts");
            let sql = format!("SELECT {columns} FROM {} WHERE {} {tail}", filter.tables_sql(), conditions.sql());
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(conditions.param_refs().as_slice(), rows::attempt)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn get_attempt(&self, app: AppId, id: AttemptId) -> StoreResult<Option<Attempt>> {
        self.read(move |conn| {
            let sql = format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE id = ?1 AND app_id = ?2");
            Ok(conn.prepare_cached(&sql)?.query_row([id.to_string(), app.to_string()], rows::attempt).optional()?)
        })
        .await
    }
}

/// Inserts the attempts, moves their deliveries on, and folds each endpoint's outcomes into its
/// health (failing since the first failure after its last success); returns each endpoint's
/// `failing_since` after the batch.
fn record_in(
    conn: &Connection,
    records: &[(Attempt, DeliveryUpdate)],
) -> StoreResult<HashMap<EndpointId, Option<Millis>>> {
    let mut insert = conn.prepare_cached(&format!(
        "INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    ))?;
    let mut update = conn.prepare_cached(MOVE_DELIVERY_SQL)?;
    // Per endpoint: its last success, then its first failure after that success, counting what
    // was stored before this batch (attempts finish out of order by a few milliseconds).
    let mut health: HashMap<EndpointId, (Option<Millis>, Option<Millis>)> = HashMap::new();
    for (attempt, next) in records {
        insert.execute(params![
            attempt.id.to_string(),
            attempt.app_id.to_string(),
            attempt.msg_id.to_string(),
            attempt.endpoint_id.to_string(),
            attempt.delivery_id.to_string(),
            attempt.url,
            attempt.status.code(),
            attempt.response_status_code,
            attempt.response,
            attempt.response_duration_ms as i64,
            attempt.error_kind.map(|k| k.as_str()),
            attempt.trigger_type.code(),
            attempt.timestamp
        ])?;
        update.execute(params![
            attempt.delivery_id.to_string(),
            next.status.code(),
            next.attempts,
            next.next_attempt_at,
            attempt.timestamp
        ])?;
        let (last_success, _) = health.entry(attempt.endpoint_id).or_default();
        if attempt.status == Status::Success {
            *last_success = Some(last_success.map_or(attempt.timestamp, |at| at.max(attempt.timestamp)));
        }
    }
    let mut stored =
        conn.prepare_cached("SELECT last_success_at, failing_since FROM endpoint_counters WHERE endpoint_id = ?1")?;
    for (endpoint, (last_success, failing_since)) in health.iter_mut() {
        let before: Option<(Option<Millis>, Option<Millis>)> =
            stored.query_row([endpoint.to_string()], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        let (stored_success, stored_failing) = before.unwrap_or_default();
        *last_success = (*last_success).max(stored_success);
        *failing_since = stored_failing.filter(|since| last_success.is_none_or(|at| *since >= at));
    }
    for (attempt, _) in records.iter().filter(|(attempt, _)| attempt.status != Status::Success) {
        let (last_success, failing_since) = health.get_mut(&attempt.endpoint_id).expect("every endpoint is folded");
        if last_success.is_none_or(|at| attempt.timestamp >= at) {
            *failing_since = Some(failing_since.map_or(attempt.timestamp, |since| since.min(attempt.timestamp)));
        }
    }
    let mut save = conn.prepare_cached(
        "INSERT INTO endpoint_counters (endpoint_id, filter_errors, failing_since, last_success_at) \
         VALUES (?1, 0, ?2, ?3) ON CONFLICT (endpoint_id) DO UPDATE SET \
         failing_since = excluded.failing_since, last_success_at = excluded.last_success_at",
    )?;
    for (endpoint, (last_success, failing_since)) in &health {
        save.execute(params![endpoint.to_string(), failing_since, last_success])?;
    }
    Ok(health.into_iter().map(|(endpoint, (_, failing_since))| (endpoint, failing_since)).collect())
}

/// Ids as the JSON array the statements read with `json_each`: the endpoints a claim skips
/// (empty, it is read once per statement and the plan is the same: `deliveries_due`), the
/// deliveries it found.
fn json_ids<T: ToString>(ids: &[T]) -> String {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    serde_json::to_string(&ids).expect("strings serialise")
}

/// The ids of up to `limit` deliveries due at `now` and not leased, oldest due first, none to
/// the endpoints in `skip`.
fn due_ids(conn: &Connection, now: Millis, limit: usize, skip: &str) -> StoreResult<Vec<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM deliveries WHERE status = 1 AND next_attempt_at <= ?1 \
             AND (lease_until IS NULL OR lease_until <= ?1) \
             AND endpoint_id NOT IN (SELECT value FROM json_each(?3)) ORDER BY next_attempt_at LIMIT ?2",
        )?
        .query_map(params![now, limit as i64, skip], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// What the writer's part of a claim leased: each delivery with its message, and the endpoints
/// they go to as stored (secrets still sealed), each read once.
type Leased = (Vec<(Delivery, Arc<Message>)>, HashMap<EndpointId, Endpoint>);

/// Leases those of the deliveries `found` (a JSON array of ids) that are still due and not
/// leased; returns them with their messages, oldest due first, and the stored endpoints they go
/// to, each read once. One whose message or endpoint is gone is deleted, not returned.
fn claim_in(conn: &Connection, now: Millis, lease_until: Millis, found: &str) -> StoreResult<Leased> {
    let sql = format!(
        "UPDATE deliveries SET lease_until = ?2 WHERE id IN (SELECT value FROM json_each(?3)) \
         AND status = 1 AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1) \
         RETURNING {DELIVERY_COLUMNS}"
    );
    let mut deliveries: Vec<Delivery> = conn
        .prepare_cached(&sql)?
        .query_map(params![now, lease_until, found], rows::delivery)?
        .collect::<Result<_, _>>()?;
    deliveries.sort_by_key(|d| d.next_attempt_at);
    let mut endpoints: HashMap<EndpointId, Endpoint> = HashMap::new();
    let mut missing_endpoints: HashSet<EndpointId> = HashSet::new();
    let mut messages: HashMap<MessageId, Option<Arc<Message>>> = HashMap::new();
    let mut claimed = Vec::with_capacity(deliveries.len());
    let message_sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1");
    for delivery in deliveries {
        let message = match messages.get(&delivery.msg_id) {
            Some(message) => message.clone(),
            None => {
                let message = conn
                    .prepare_cached(&message_sql)?
                    .query_row([delivery.msg_id.to_string()], rows::message)
                    .optional()?
                    .map(Arc::new);
                messages.insert(delivery.msg_id, message.clone());
                message
            }
        };
        let Some(message) = message else {
            // The message was deleted with its application; nothing left to send.
            conn.execute("DELETE FROM deliveries WHERE id = ?1", [delivery.id.to_string()])?;
            continue;
        };
        let known = endpoints.contains_key(&delivery.endpoint_id) || missing_endpoints.contains(&delivery.endpoint_id);
        if !known {
            let endpoint: Option<Endpoint> = conn
                .prepare_cached(concat!(endpoint_sql!(), " WHERE e.id = ?1"))?
                .query_row([delivery.endpoint_id.to_string()], endpoint_row)
                .optional()?;
            match endpoint {
                Some(endpoint) => {
                    endpoints.insert(delivery.endpoint_id, endpoint);
                }
                None => {
                    missing_endpoints.insert(delivery.endpoint_id);
                }
            }
        }
        if missing_endpoints.contains(&delivery.endpoint_id) {
            // The endpoint was deleted (its deliveries with it; this one was written by an accept
            // that raced the deletion through the endpoint cache): nothing left to send.
            conn.execute("DELETE FROM deliveries WHERE id = ?1", [delivery.id.to_string()])?;
            continue;
        }
        claimed.push((delivery, message));
    }
    Ok((claimed, endpoints))
}

#[cfg(test)]
mod tests {
    use hookwire_core::model::{Application, TriggerType};
    use hookwire_core::{AppId, DeliveryId};

    use super::*;
    use crate::prelude::*;
    use crate::{Accept, sqlite::Durability};

    const NOW: Millis = 1_000_000;

    /// A fresh store with one application, one endpoint and one message (not yet stored), and a
    /// maker of new deliveries of that message to that endpoint, due at `NOW`.
    async fn fixture(dir: &tempfile::TempDir) -> (SqliteStore, Message, impl Fn() -> Delivery) {
        let store = SqliteStore::open(&dir.path().join("hookwire.db"), Durability::Process).unwrap();
        let app = AppId::generate();
        let application = Application {
            id: app,
            uid: None,
            name: "Acme".into(),
            throttle_rate: None,
            metadata: Default::default(),
            created_at: NOW,
            updated_at: NOW,
        };
        store.create_app(application).await.unwrap();
        let endpoint = Endpoint::new(app, "https://example.com".into(), hookwire_core::signing::generate_secret(), NOW);
        store.create_endpoint(endpoint.clone()).await.unwrap();
        let message = Message {
            id: MessageId::generate(),
            app_id: app,
            event_type: "a.b".into(),
            event_id: None,
            channels: None,
            tags: None,
            payload: Some("{}".into()),
            content_type: None,
            deliver_at: None,
            payload_expires_at: None,
            created_at: NOW,
        };
        let msg_id = message.id;
        let delivery = move || Delivery {
            id: DeliveryId::generate(),
            app_id: app,
            msg_id,
            endpoint_id: endpoint.id,
            status: Status::Pending,
            attempts: 0,
            next_attempt_at: Some(NOW),
            trigger: TriggerType::Scheduled,
            chunk: None,
            created_at: NOW,
            updated_at: NOW,
        };
        (store, message, delivery)
    }

    fn accept(message: &Message, deliveries: Vec<Delivery>) -> Accept {
        Accept {
            message: Arc::new(message.clone()),
            deliveries,
            leased_until: None,
            idempotency_key: None,
            filter_errors: Vec::new(),
        }
    }

    /// What the reader found can be stale by the time the writer leases it: the writer leases
    /// only those still due and free, never one leased, finished or moved later in between
    /// (each of the three checks on its own fails this test when removed).
    #[tokio::test]
    async fn a_claim_leases_only_what_is_still_due_and_free_of_what_was_found() {
        let dir = tempfile::tempdir().unwrap();
        let (store, message, delivery) = fixture(&dir).await;
        let (free, leased, finished, later) = (delivery(), delivery(), delivery(), delivery());
        let found = json_ids(&[free.id, leased.id, finished.id, later.id]);
        let deliveries = vec![free.clone(), leased.clone(), finished.clone(), later.clone()];
        store.accept_message(accept(&message, deliveries)).await.unwrap();
        // Found as due and free; then, before the writer's turn, one is leased, one succeeds (its
        // due time left as it was, so only its status tells) and one is released to a later time.
        let ids = [leased.id, finished.id, later.id].map(|id| id.to_string());
        store
            .write_direct(move |conn| {
                let [leased, finished, later] = &ids;
                conn.execute("UPDATE deliveries SET lease_until = ?2 WHERE id = ?1", params![leased, NOW + 60_000])?;
                conn.execute(
                    "UPDATE deliveries SET status = ?2 WHERE id = ?1",
                    params![finished, Status::Success.code()],
                )?;
                conn.execute("UPDATE deliveries SET next_attempt_at = ?2 WHERE id = ?1", params![later, NOW + 60_000])?;
                Ok(())
            })
            .await
            .unwrap();

        let (claimed, _) = store.write_direct(move |conn| claim_in(conn, NOW, NOW + 1_000, &found)).await.unwrap();
        let claimed: Vec<DeliveryId> = claimed.iter().map(|(delivery, _)| delivery.id).collect();
        assert_eq!(claimed, vec![free.id]);
    }

    /// A delivery whose endpoint is gone (written by an accept that raced the endpoint's deletion
    /// through the endpoint cache) is deleted by the claim that finds it, not returned.
    #[tokio::test]
    async fn a_claim_deletes_deliveries_whose_endpoint_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let (store, message, delivery) = fixture(&dir).await;
        let orphan = delivery();
        store.accept_message(accept(&message, vec![orphan.clone()])).await.unwrap();
        let endpoint = orphan.endpoint_id.to_string();
        store
            .write_direct(move |conn| Ok(conn.execute("DELETE FROM endpoints WHERE id = ?1", [endpoint])?))
            .await
            .unwrap();
        assert!(store.claim_due(NOW, NOW + 1_000, 10, &[]).await.unwrap().is_empty());
        let id = orphan.id.to_string();
        let left: i64 = store
            .write_direct(move |conn| {
                Ok(conn.query_row("SELECT count(*) FROM deliveries WHERE id = ?1", [id], |r| r.get(0))?)
            })
            .await
            .unwrap();
        assert_eq!(left, 0, "deleted");
    }
}
