//! Deliveries and attempts on PostgreSQL: claiming due work across nodes with `SKIP LOCKED` and
//! node-owned leases, recording outcomes, history, and the flow state nodes share.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use hookwire_core::model::{Attempt, Delivery, Endpoint, Message};
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, AttemptId, EndpointId, MessageId};
use tokio::sync::Notify;

use super::PgStore;
use super::inflight;
use super::node::{self, DUE_CHANNEL, PAUSE_CHANNEL, lease_lapsed};
use super::rows::{
    self, ATTEMPT_COLUMNS, Conditions, DELIVERY_COLUMNS, DeliveryColumns, MESSAGE_COLUMN_COUNT, MESSAGE_COLUMNS,
    endpoint_row, endpoint_sql, from_json, to_json,
};
use crate::EndpointPause;
use crate::error::StoreResult;
use crate::query::WhereClause;
use crate::{
    AttemptFilter, ClaimedDelivery, DeliveryStore, DeliveryUpdate, EndpointMessageFilter, QueueDepth, Release,
    SharedFlow, StatusCounts,
};

/// SQL for "the endpoint of this row (alias `d`) is not paused by a `Retry-After` at `$1`".
const NOT_PAUSED: &str =
    "NOT EXISTS (SELECT 1 FROM endpoint_flow f WHERE f.endpoint_id = d.endpoint_id AND f.paused_until > $1)";

impl PgStore {
    /// Runs `sql` and, when it changed rows, tells every node that work is due.
    pub(super) async fn change_and_announce(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = tx.execute(sql, params).await?;
        if changed > 0 {
            tx.execute(&format!("NOTIFY {DUE_CHANNEL}"), &[]).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}

/// Moves released deliveries on, unleased, but only while the lease each was taken under is still
/// its lease: a stored one by its row's lease, one still in flight (`inflight.rs`) by its fan-out
/// row's, inserted in its new state. Returns the ids moved.
const RELEASE_SQL: &str = "WITH r AS (SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], \
    $6::bigint[], $8::text[]) AS r(id, status, attempts, next_at, leased_until, msg_id)), \
    updated AS (UPDATE deliveries d SET status = r.status, attempts = r.attempts, next_attempt_at = r.next_at, \
    lease_owner = NULL, lease_until = NULL, updated_at = $1 FROM r \
    WHERE d.id = r.id AND d.lease_owner = $7 AND d.lease_until = r.leased_until RETURNING d.id), \
    inserted AS (INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts, next_attempt_at, \
    lease_owner, lease_until, trigger_type, created_at, updated_at, chunk) \
    SELECT DISTINCT ON (r.id COLLATE \"C\") r.id, f.app_id, r.msg_id, u.endpoint_id, r.status, r.attempts, r.next_at, NULL, NULL, \
    0, f.created_at, $1, NULL FROM r JOIN deliveries_inflight f ON f.msg_id = r.msg_id AND f.lease_owner = $7 \
    AND f.lease_until = r.leased_until \
    CROSS JOIN LATERAL unnest(f.delivery_ids, f.endpoint_ids) AS u(id, endpoint_id) \
    WHERE u.id = r.id AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = r.id) \
    AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = u.endpoint_id) \
    ORDER BY r.id COLLATE \"C\" ON CONFLICT (id) DO NOTHING RETURNING id) \
    SELECT id FROM updated UNION ALL SELECT id FROM inserted";

async fn release(
    client: &super::conn::Conn,
    statement: &tokio_postgres::Statement,
    releases: &[Release],
    now: Millis,
    owner: &String,
) -> StoreResult<std::collections::HashSet<String>> {
    let ids: Vec<String> = releases.iter().map(|r| r.delivery.to_string()).collect();
    let statuses: Vec<i64> = releases.iter().map(|r| r.update.status.code()).collect();
    let attempts: Vec<i64> = releases.iter().map(|r| i64::from(r.update.attempts)).collect();
    let next_at: Vec<Option<i64>> = releases.iter().map(|r| r.update.next_attempt_at).collect();
    let leases: Vec<i64> = releases.iter().map(|r| r.leased_until).collect();
    let messages: Vec<String> = releases.iter().map(|r| r.msg.to_string()).collect();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] =
        [&now, &ids, &statuses, &attempts, &next_at, &leases, owner, &messages];
    Ok(client.query(statement, &params).await?.iter().map(|row| row.get::<_, String>(0)).collect())
}

#[async_trait]
impl DeliveryStore for PgStore {
    async fn claim_due(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: usize,
        skip: &[EndpointId],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let client = self.client().await?;
        // Fan-out still in flight whose lease lapsed by `now` (or whose node is gone) becomes
        // rows first, so it is claimed as any lapsed lease is (`inflight.rs`).
        let lapsed = client.prepare_cached(&inflight::lapsed_rows()).await?;
        client.execute(&lapsed, &[&now]).await?;
        let claim = client
            .prepare_cached(&format!(
                "WITH due AS (SELECT d.id FROM deliveries d WHERE d.status = 1 AND d.next_attempt_at <= $1 \
                 AND {} AND {NOT_PAUSED} AND NOT (d.endpoint_id = ANY($5)) ORDER BY d.next_attempt_at LIMIT $3 \
                 FOR UPDATE SKIP LOCKED) \
                 UPDATE deliveries SET lease_owner = $4, lease_until = $2 FROM due WHERE deliveries.id = due.id \
                 RETURNING {}",
                lease_lapsed("$1"),
                DELIVERY_COLUMNS.split(", ").map(|c| format!("deliveries.{c}")).collect::<Vec<_>>().join(", ")
            ))
            .await?;
        let skip: Vec<String> = skip.iter().map(ToString::to_string).collect();
        let rows = client.query(&claim, &[&now, &lease_until, &(limit as i64), &self.inner.node_id, &skip]).await?;
        let deliveries: Vec<Delivery> = rows.iter().map(rows::delivery).collect::<StoreResult<_>>()?;
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let msg_ids: Vec<String> = deliveries.iter().map(|d| d.msg_id.to_string()).collect();
        let messages: HashMap<MessageId, Arc<Message>> = client
            .query(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ANY($1)"), &[&msg_ids])
            .await?
            .iter()
            .map(|row| rows::message(row).map(|m| (m.id, Arc::new(m))))
            .collect::<StoreResult<_>>()?;
        let endpoint_ids: Vec<String> = deliveries.iter().map(|d| d.endpoint_id.to_string()).collect();
        let mut endpoints: HashMap<EndpointId, Arc<Endpoint>> = HashMap::new();
        let by_ids = client.prepare_cached(concat!(endpoint_sql!(), " WHERE e.id = ANY($1)")).await?;
        for row in client.query(&by_ids, &[&endpoint_ids]).await? {
            let endpoint = self.open_endpoint(endpoint_row(&row)?)?;
            endpoints.insert(endpoint.id, Arc::new(endpoint));
        }
        let mut claimed = Vec::with_capacity(deliveries.len());
        let mut orphans = Vec::new();
        for delivery in deliveries {
            // The message was deleted with its application, or the endpoint was deleted: nothing
            // left to send. A row written by a writer racing the deletion (an accept through the
            // endpoint cache, a first outcome or a move whose check saw the endpoint) goes here
            // rather than being claimed again every lease period.
            let (Some(message), Some(endpoint)) =
                (messages.get(&delivery.msg_id), endpoints.get(&delivery.endpoint_id))
            else {
                orphans.push(delivery.id.to_string());
                continue;
            };
            claimed.push(ClaimedDelivery { message: message.clone(), endpoint: endpoint.clone(), delivery });
        }
        if !orphans.is_empty() {
            client.execute("DELETE FROM deliveries WHERE id = ANY($1)", &[&orphans]).await?;
        }
        Ok(claimed)
    }

    async fn record_attempts(&self, records: Vec<(Attempt, DeliveryUpdate)>) -> Vec<StoreResult<Option<Millis>>> {
        super::attempts::record(self, records).await
    }

    async fn disable_endpoint(&self, endpoint: EndpointId, now: Millis) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = endpoint.to_string();
        let Some(row) = tx.query_opt("SELECT body FROM endpoints WHERE id = $1 FOR UPDATE", &[&id]).await? else {
            return Ok(false);
        };
        let mut stored: Endpoint = from_json(row.get(0))?;
        if stored.disabled {
            return Ok(false);
        }
        stored.disabled = true;
        stored.updated_at = now;
        tx.execute("UPDATE endpoints SET body = $2 WHERE id = $1", &[&id, &to_json(&stored)]).await?;
        tx.commit().await?;
        self.config_changed();
        Ok(true)
    }

    async fn insert_deliveries(&self, deliveries: Vec<Delivery>, leased_until: Option<Millis>) -> StoreResult<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let columns = DeliveryColumns::new(&deliveries, leased_until);
        let params = columns.params(&self.inner.node_id);
        if leased_until.is_some() {
            // Leased to this node and handed to its workers: nobody else needs to hear of them.
            self.client().await?.execute(DeliveryColumns::INSERT, &params).await?;
        } else {
            self.change_and_announce(DeliveryColumns::INSERT, &params).await?;
        }
        Ok(())
    }

    async fn release_leases(&self) -> StoreResult<u64> {
        let client = self.client().await?;
        // This node's fan-out still in flight becomes rows under its lease, given up below.
        client.execute(&inflight::own_rows(), &[&self.inner.node_id]).await?;
        let released = client
            .execute(
                "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
                &[&self.inner.node_id],
            )
            .await?;
        if released > 0 {
            client.execute(&format!("NOTIFY {DUE_CHANNEL}"), &[]).await?;
        }
        client
            .execute(
                "UPDATE tasks SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
                &[&self.inner.node_id],
            )
            .await?;
        node::leave(&self.inner).await?;
        Ok(released)
    }

    async fn next_due_at(&self, now: Millis, skip: &[EndpointId]) -> StoreResult<Option<Millis>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT d.next_attempt_at FROM deliveries d WHERE d.status = 1 AND d.next_attempt_at IS NOT NULL \
                 AND {} AND {NOT_PAUSED} AND NOT (d.endpoint_id = ANY($2)) ORDER BY d.next_attempt_at LIMIT 1",
                lease_lapsed("$1")
            ))
            .await?;
        let skip: Vec<String> = skip.iter().map(ToString::to_string).collect();
        let stored: Option<Millis> = client.query_opt(&statement, &[&now, &skip]).await?.map(|row| row.get(0));
        if stored.is_some_and(|due| due <= now) {
            return Ok(stored);
        }
        // Fan-out in flight whose lease lapsed (or whose node is gone) is due now: a claim moves it.
        let lapsed = client.prepare_cached(&inflight::any_lapsed_sql()).await?;
        let any: bool = client.query_one(&lapsed, &[&now]).await?.get(0);
        Ok(if any { Some(now) } else { stored })
    }

    async fn queue_depth(&self, now: Millis) -> StoreResult<QueueDepth> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COUNT(*) FILTER (WHERE next_attempt_at <= $1), COUNT(*) FILTER (WHERE next_attempt_at > $1), \
                 COUNT(*) FILTER (WHERE next_attempt_at IS NULL) FROM deliveries_all WHERE status = 1",
                &[&now],
            )
            .await?;
        Ok(QueueDepth {
            due: row.get::<_, i64>(0) as u64,
            scheduled: row.get::<_, i64>(1) as u64,
            parked: row.get::<_, i64>(2) as u64,
        })
    }

    async fn release_deliveries(&self, releases: Vec<Release>, now: Millis) -> StoreResult<u64> {
        if releases.is_empty() {
            return Ok(0);
        }
        let client = self.client().await?;
        let statement = client.prepare_cached(RELEASE_SQL).await?;
        let moved = release(&client, &statement, &releases, now, &self.inner.node_id).await?;
        if moved.len() == releases.len() {
            return Ok(moved.len() as u64);
        }
        // A delivery still in flight whose row was moved into `deliveries` while this statement
        // ran found neither (its insert met the moved row): once more, it is now a row.
        let missed: Vec<Release> = releases.into_iter().filter(|r| !moved.contains(&r.delivery.to_string())).collect();
        let again = release(&client, &statement, &missed, now, &self.inner.node_id).await?;
        Ok((moved.len() + again.len()) as u64)
    }

    async fn message_deliveries(&self, msg: MessageId) -> StoreResult<Vec<Delivery>> {
        let client = self.client().await?;
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries_all WHERE msg_id = $1 ORDER BY id");
        client.query(&sql, &[&msg.to_string()]).await?.iter().map(rows::delivery).collect()
    }

    async fn release_parked(&self, endpoint: EndpointId, now: Millis) -> StoreResult<u64> {
        self.change_and_announce(
            "UPDATE deliveries SET next_attempt_at = $2, lease_owner = NULL, lease_until = NULL, updated_at = $2 \
             WHERE endpoint_id = $1 AND status = 1 AND next_attempt_at IS NULL",
            &[&endpoint.to_string(), &now],
        )
        .await
    }

    async fn endpoint_messages(
        &self,
        app: AppId,
        endpoint: EndpointId,
        filter: &EndpointMessageFilter,
    ) -> StoreResult<Vec<(Message, Delivery)>> {
        let mut conditions = Conditions::default();
        conditions.extend(filter.clauses(app, endpoint));
        let tail = conditions.page(&filter.page, "d.id");
        let prefixed = |columns: &str, alias: &str| {
            columns.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
        };
        let sql = format!(
            "SELECT {}, {} FROM deliveries_all d JOIN messages m ON m.id = d.msg_id WHERE {} {tail}",
            prefixed(MESSAGE_COLUMNS, "m"),
            prefixed(DELIVERY_COLUMNS, "d"),
            conditions.sql()
        );
        let client = self.client().await?;
        client
            .query(&sql, &conditions.params())
            .await?
            .iter()
            .map(|row| Ok((rows::message(row)?, rows::delivery_at(row, MESSAGE_COLUMN_COUNT)?)))
            .collect()
    }

    async fn endpoint_stats(&self, endpoint: EndpointId, since: Millis, until: Millis) -> StoreResult<StatusCounts> {
        let client = self.client().await?;
        let id = endpoint.to_string();
        let mut counts = StatusCounts::default();
        for row in client
            .query(
                "SELECT status, count(*) FROM deliveries_all WHERE endpoint_id = $1 AND created_at >= $2 \
                 AND created_at < $3 GROUP BY status",
                &[&id, &since, &until],
            )
            .await?
        {
            counts.add(row.get(0), row.get::<_, i64>(1) as u64);
        }
        let errors = client
            .query_opt("SELECT filter_errors, last_filter_error FROM endpoint_counters WHERE endpoint_id = $1", &[&id])
            .await?;
        if let Some(row) = errors {
            counts.filter_errors = row.get::<_, i64>(0) as u64;
            counts.last_filter_error = row.get(1);
        }
        Ok(counts)
    }

    async fn expunge_attempt_content(&self, app: AppId, id: AttemptId) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE attempts SET response = '' WHERE app_id = $1 AND id = $2",
                &[&app.to_string(), &id.to_string()],
            )
            .await?;
        Ok(())
    }

    async fn list_attempts(&self, app: AppId, filter: &AttemptFilter) -> StoreResult<Vec<Attempt>> {
        let mut conditions = Conditions::default();
        conditions.extend(filter.clauses(app));
        let tail = conditions.page(&filter.page, "attempts.id");
        let columns = rows::qualified(ATTEMPT_COLUMNS, "attempts");
        let sql = format!("SELECT {columns} FROM {} WHERE {} {tail}", filter.tables_sql(), conditions.sql());
        let client = self.client().await?;
        client.query(&sql, &conditions.params()).await?.iter().map(rows::attempt).collect()
    }

    async fn get_attempt(&self, app: AppId, id: AttemptId) -> StoreResult<Option<Attempt>> {
        let client = self.client().await?;
        let sql = format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE id = $1 AND app_id = $2");
        client.query_opt(&sql, &[&id.to_string(), &app.to_string()]).await?.as_ref().map(rows::attempt).transpose()
    }

    fn due_signal(&self) -> Option<Arc<Notify>> {
        Some(self.inner.due.clone())
    }

    fn shared_flow(&self) -> Option<&dyn SharedFlow> {
        Some(self)
    }
}

#[async_trait]
impl SharedFlow for PgStore {
    async fn reserve_send_slot(
        &self,
        endpoint: EndpointId,
        interval_ms: Millis,
        now: Millis,
        hold_max_ms: Millis,
    ) -> StoreResult<Result<Millis, Millis>> {
        let client = self.client().await?;
        let id = endpoint.to_string();
        let reserve = client
            .prepare_cached(
                "INSERT INTO endpoint_flow (endpoint_id, next_slot_at) VALUES ($1, $2::bigint + $3::bigint) \
                 ON CONFLICT (endpoint_id) DO UPDATE SET next_slot_at = greatest(endpoint_flow.next_slot_at, $2::bigint) + $3::bigint \
                 WHERE endpoint_flow.next_slot_at <= $2::bigint + $4::bigint RETURNING next_slot_at - $3::bigint",
            )
            .await?;
        if let Some(row) = client.query_opt(&reserve, &[&id, &now, &interval_ms, &hold_max_ms]).await? {
            return Ok(Ok(row.get(0)));
        }
        let next: Millis =
            client.query_one("SELECT next_slot_at FROM endpoint_flow WHERE endpoint_id = $1", &[&id]).await?.get(0);
        Ok(Err(next))
    }

    async fn pause_endpoint(&self, endpoint: EndpointId, until: Millis) -> StoreResult<()> {
        let client = self.client().await?;
        // One statement: a data-modifying CTE always runs; NOTIFY is sent at commit.
        client
            .execute(
                &format!(
                    "WITH paused AS (INSERT INTO endpoint_flow (endpoint_id, paused_until) VALUES ($1, $2) \
                     ON CONFLICT (endpoint_id) DO UPDATE SET paused_until = greatest(endpoint_flow.paused_until, $2)) \
                     SELECT pg_notify('{PAUSE_CHANNEL}', $1 || ' ' || $2::text)"
                ),
                &[&endpoint.to_string(), &until],
            )
            .await?;
        Ok(())
    }

    fn pauses(&self) -> tokio::sync::broadcast::Receiver<EndpointPause> {
        self.inner.pauses.subscribe()
    }
}
