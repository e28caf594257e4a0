//! Background tasks on PostgreSQL, and the batched reads and writes they run on. A task is
//! leased to one node at a time, like a delivery: by `lease_owner`, while the owner heartbeats
//! and the lease has not expired, so a dead node's task is resumed by another from its position.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use hookwire_core::model::{Delivery, Message, Status};
use hookwire_core::task::{Task, TaskKind, TaskStatus};
use hookwire_core::time_fmt::Millis;
use hookwire_core::{DeliveryId, EndpointId, MessageId, TaskId};
use tokio_postgres::Row;

use super::PgStore;
use super::node::lease_lapsed;
use super::rows::{self, Conditions, DELIVERY_COLUMNS, MESSAGE_COLUMNS, from_json, to_json};
use crate::error::{StoreError, StoreResult};
use crate::query::WhereClause;
use crate::{TaskFilter, TaskStore, Window};

const TASK_COLUMNS: &str = "id, app_id, kind, status, params, data, position, created_at, updated_at";

#[async_trait]
impl TaskStore for PgStore {
    async fn insert_task(&self, task: Task) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                &format!("INSERT INTO tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
                &[
                    &task.id.to_string(),
                    &task.app_id.to_string(),
                    &task.kind.name(),
                    &task.status.code(),
                    &to_json(&task.params),
                    &to_json(&task.progress),
                    &task.position.map(|p| p.to_string()),
                    &task.created_at,
                    &task.updated_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn get_task(&self, id: TaskId) -> StoreResult<Option<Task>> {
        let client = self.client().await?;
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1");
        client.query_opt(&sql, &[&id.to_string()]).await?.as_ref().map(task).transpose()
    }

    async fn list_tasks(&self, filter: &TaskFilter) -> StoreResult<Vec<Task>> {
        let mut conditions = Conditions::default();
        if let Some(app) = filter.app {
            conditions.push("app_id = ?", app.to_string());
        }
        if let Some(status) = filter.status {
            conditions.push("status = ?", status.code());
        }
        if let Some(kind) = filter.kind {
            conditions.push("kind = ?", kind.name().to_owned());
        }
        let tail = conditions.page(&filter.page, "id");
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE {} {tail}", conditions.sql());
        let client = self.client().await?;
        client.query(&sql, &conditions.params()).await?.iter().map(task).collect()
    }

    async fn claim_task(&self, now: Millis, lease_until: Millis) -> StoreResult<Option<Task>> {
        let client = self.client().await?;
        let sql = format!(
            "WITH free AS (SELECT d.id FROM tasks d WHERE d.status = $3 AND {} ORDER BY d.id LIMIT 1 \
             FOR UPDATE SKIP LOCKED) \
             UPDATE tasks SET lease_owner = $4, lease_until = $2 FROM free WHERE tasks.id = free.id RETURNING {}",
            lease_lapsed("$1"),
            rows::qualified(TASK_COLUMNS, "tasks")
        );
        let claimed =
            client.query_opt(&sql, &[&now, &lease_until, &TaskStatus::Running.code(), &self.inner.node_id]).await?;
        claimed.as_ref().map(task).transpose()
    }

    async fn purge_tasks(&self, before: Millis) -> StoreResult<u64> {
        let client = self.client().await?;
        let sql = "DELETE FROM tasks WHERE status IN ($1, $2) AND updated_at < $3";
        Ok(client.execute(sql, &[&TaskStatus::Finished.code(), &TaskStatus::Failed.code(), &before]).await?)
    }

    async fn save_task(&self, task: &Task, lease_until: Option<Millis>) -> StoreResult<bool> {
        let client = self.client().await?;
        let owner = lease_until.map(|_| self.inner.node_id.clone());
        let saved = client
            .execute(
                "UPDATE tasks SET status = $2, data = $3, position = $4, updated_at = $5, lease_until = $6, \
                 lease_owner = $7 WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $8)",
                &[
                    &task.id.to_string(),
                    &task.status.code(),
                    &to_json(&task.progress),
                    &task.position.map(|p| p.to_string()),
                    &task.updated_at,
                    &lease_until,
                    &owner,
                    &self.inner.node_id,
                ],
            )
            .await?;
        Ok(saved == 1)
    }

    async fn count_pending(&self, endpoint: EndpointId, cap: u64) -> StoreResult<u64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM (SELECT 1 FROM deliveries_all WHERE endpoint_id = $1 AND status = $2 LIMIT $3) AS pending",
                &[&endpoint.to_string(), &Status::Pending.code(), &(cap as i64)],
            )
            .await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn window_batch(&self, window: &Window, limit: usize) -> StoreResult<Vec<(Message, Vec<Delivery>)>> {
        let mut conditions = Conditions::default();
        conditions.push("messages.app_id = ?", window.app.to_string());
        conditions.push("messages.created_at >= ?", window.since);
        conditions.push("messages.created_at < ?", window.until);
        if let Some(after) = window.after {
            conditions.push("messages.id > ?", after.to_string());
        }
        conditions.extend(window.matching.clauses("messages"));
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE {} ORDER BY messages.id LIMIT {limit}",
            conditions.sql()
        );
        let client = self.client().await?;
        let messages: Vec<Message> =
            client.query(&sql, &conditions.params()).await?.iter().map(rows::message).collect::<StoreResult<_>>()?;
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries_all WHERE endpoint_id = $1 AND msg_id = ANY($2)");
        let mut by_message: HashMap<MessageId, Vec<Delivery>> = HashMap::new();
        for row in client.query(&sql, &[&window.endpoint.to_string(), &ids]).await? {
            let delivery = rows::delivery(&row)?;
            by_message.entry(delivery.msg_id).or_default().push(delivery);
        }
        Ok(messages
            .into_iter()
            .map(|m| {
                let deliveries = by_message.remove(&m.id).unwrap_or_default();
                (m, deliveries)
            })
            .collect())
    }

    async fn answered_in_class(
        &self,
        endpoint: EndpointId,
        messages: Vec<MessageId>,
        class: u16,
    ) -> StoreResult<HashSet<MessageId>> {
        let ids: Vec<String> = messages.iter().map(ToString::to_string).collect();
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT DISTINCT msg_id FROM attempts WHERE endpoint_id = $1 AND msg_id = ANY($2) \
                 AND response_status_code / 100 = $3::bigint / 100",
                &[&endpoint.to_string(), &ids, &i64::from(class)],
            )
            .await?;
        rows.iter().map(|row| row.get::<_, &str>(0).parse().map_err(|e| StoreError::Corrupt(format!("{e}")))).collect()
    }

    async fn rearm_failed(&self, deliveries: Vec<DeliveryId>, now: Millis) -> StoreResult<u64> {
        let ids: Vec<String> = deliveries.iter().map(ToString::to_string).collect();
        self.change_and_announce(
            "UPDATE deliveries SET status = $3, attempts = 0, next_attempt_at = $2, lease_owner = NULL, \
             lease_until = NULL, updated_at = $2 WHERE id = ANY($1) AND status = $4",
            &[&ids, &now, &Status::Pending.code(), &Status::Fail.code()],
        )
        .await
    }
}

fn task(row: &Row) -> StoreResult<Task> {
    let id: String = row.get(0);
    let corrupt = |what: &str| StoreError::Corrupt(format!("task {id}: {what}"));
    let position: Option<String> = row.get(6);
    Ok(Task {
        id: id.parse().map_err(|_| corrupt("id"))?,
        app_id: row.get::<_, &str>(1).parse().map_err(|_| corrupt("application"))?,
        kind: TaskKind::parse(row.get(2)).ok_or_else(|| corrupt("kind"))?,
        status: TaskStatus::from_code(row.get(3)).ok_or_else(|| corrupt("status"))?,
        params: from_json(row.get(4))?,
        progress: from_json(row.get(5))?,
        position: position.map(|p| p.parse()).transpose().map_err(|_| corrupt("position"))?,
        created_at: row.get(7),
        updated_at: row.get(8),
    })
}
