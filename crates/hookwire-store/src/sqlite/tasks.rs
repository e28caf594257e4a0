//! Background tasks on SQLite, and the batched reads and writes they run on. One process owns
//! the database, so a task's lease only says "being run now"; every lease is released at start.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use hookwire_core::model::{Delivery, Message, Status};
use hookwire_core::task::{Task, TaskKind, TaskStatus};
use hookwire_core::time_fmt::Millis;
use hookwire_core::{DeliveryId, EndpointId, MessageId, TaskId};
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use super::rows::{self, Conditions, DELIVERY_COLUMNS, MESSAGE_COLUMNS, from_json};
use crate::error::{StoreError, StoreResult};
use crate::query::WhereClause;
use crate::{TaskFilter, TaskStore, Window};

const TASK_COLUMNS: &str = "id, app_id, kind, status, params, data, position, created_at, updated_at";

#[async_trait]
impl TaskStore for SqliteStore {
    async fn insert_task(&self, task: Task) -> StoreResult<()> {
        self.write(move |conn| {
            conn.prepare_cached(&format!(
                "INSERT INTO tasks ({TASK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?
            .execute(params![
                task.id.to_string(),
                task.app_id.to_string(),
                task.kind.name(),
                task.status.code(),
                rows::to_json(&task.params),
                rows::to_json(&task.progress),
                task.position.map(|p| p.to_string()),
                task.created_at,
                task.updated_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn get_task(&self, id: TaskId) -> StoreResult<Option<Task>> {
        self.read(move |conn| {
            let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1");
            conn.prepare_cached(&sql)?.query_row([id.to_string()], raw_task).optional()?.map(task).transpose()
        })
        .await
    }

    async fn list_tasks(&self, filter: &TaskFilter) -> StoreResult<Vec<Task>> {
        let filter = filter.clone();
        self.read(move |conn| {
            let mut conditions = Conditions::default();
            if let Some(app) = filter.app {
                conditions.push("app_id = ?", app.to_string());
            }
            if let Some(status) = filter.status {
                conditions.push("status = ?", status.code());
            }
            if let Some(kind) = filter.kind {
                conditions.push("kind = ?", kind.name());
            }
            let tail = conditions.page(&filter.page, "id");
            let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE {} {tail}", conditions.sql());
            let mut stmt = conn.prepare_cached(&sql)?;
            let raw: Vec<RawTask> =
                stmt.query_map(conditions.param_refs().as_slice(), raw_task)?.collect::<Result<_, _>>()?;
            raw.into_iter().map(task).collect()
        })
        .await
    }

    async fn claim_task(&self, now: Millis, lease_until: Millis) -> StoreResult<Option<Task>> {
        self.write(move |conn| {
            let sql = format!(
                "UPDATE tasks SET lease_until = ?2 WHERE id = (SELECT id FROM tasks WHERE status = ?3 \
                 AND (lease_until IS NULL OR lease_until <= ?1) ORDER BY id LIMIT 1) RETURNING {TASK_COLUMNS}"
            );
            conn.prepare_cached(&sql)?
                .query_row(params![now, lease_until, TaskStatus::Running.code()], raw_task)
                .optional()?
                .map(task)
                .transpose()
        })
        .await
    }

    async fn save_task(&self, task: &Task, lease_until: Option<Millis>) -> StoreResult<bool> {
        let (id, status, data, position, updated_at) = (
            task.id.to_string(),
            task.status.code(),
            rows::to_json(&task.progress),
            task.position.map(|p| p.to_string()),
            task.updated_at,
        );
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE tasks SET status = ?2, data = ?3, position = ?4, updated_at = ?5, lease_until = ?6 WHERE id = ?1",
            )?
            .execute(params![id, status, data, position, updated_at, lease_until])?;
            Ok(true)
        })
        .await
    }

    async fn purge_tasks(&self, before: Millis) -> StoreResult<u64> {
        let ended = (TaskStatus::Finished.code(), TaskStatus::Failed.code());
        self.write(move |conn| {
            let sql = "DELETE FROM tasks WHERE status IN (?1, ?2) AND updated_at < ?3";
            Ok(conn.execute(sql, params![ended.0, ended.1, before])? as u64)
        })
        .await
    }

    async fn count_pending(&self, endpoint: EndpointId, cap: u64) -> StoreResult<u64> {
        self.read(move |conn| {
            let count: i64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE endpoint_id = ?1 AND status = ?2 LIMIT ?3)",
                )?
                .query_row(params![endpoint.to_string(), Status::Pending.code(), cap as i64], |row| row.get(0))?;
            Ok(count as u64)
        })
        .await
    }

    async fn window_batch(&self, window: &Window, limit: usize) -> StoreResult<Vec<(Message, Vec<Delivery>)>> {
        let window = window.clone();
        self.read(move |conn| {
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
            let messages: Vec<Message> = conn
                .prepare_cached(&sql)?
                .query_map(conditions.param_refs().as_slice(), rows::message)?
                .collect::<Result<_, _>>()?;
            if messages.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
            let sql = format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE endpoint_id = ?1 \
                 AND msg_id IN (SELECT value FROM json_each(?2))"
            );
            let mut by_message: HashMap<MessageId, Vec<Delivery>> = HashMap::new();
            let list = serde_json::to_string(&ids).expect("strings serialize");
            for delivery in
                conn.prepare_cached(&sql)?.query_map(params![window.endpoint.to_string(), list], rows::delivery)?
            {
                let delivery = delivery?;
                by_message.entry(delivery.msg_id).or_default().push(delivery);
            }
            Ok(messages
                .into_iter()
                .map(|m| {
                    let d = by_message.remove(&m.id).unwrap_or_default();
                    (m, d)
                })
                .collect())
        })
        .await
    }

    async fn answered_in_class(
        &self,
        endpoint: EndpointId,
        messages: Vec<MessageId>,
        class: u16,
    ) -> StoreResult<HashSet<MessageId>> {
        self.read(move |conn| {
            let ids: Vec<String> = messages.iter().map(ToString::to_string).collect();
            let list = serde_json::to_string(&ids).expect("strings serialize");
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT msg_id FROM attempts WHERE endpoint_id = ?1 AND msg_id IN (SELECT value FROM json_each(?2)) \
                 AND response_status_code / 100 = ?3 / 100",
            )?;
            let found = stmt.query_map(params![endpoint.to_string(), list, i64::from(class)], |r| r.get::<_, String>(0))?;
            found.map(|id| id?.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))).collect()
        })
        .await
    }

    async fn rearm_failed(&self, deliveries: Vec<DeliveryId>, now: Millis) -> StoreResult<u64> {
        self.write(move |conn| {
            let ids: Vec<String> = deliveries.iter().map(ToString::to_string).collect();
            let list = serde_json::to_string(&ids).expect("strings serialize");
            let changed = conn.execute(
                "UPDATE deliveries SET status = ?3, attempts = 0, next_attempt_at = ?2, lease_until = NULL, updated_at = ?2 \
                 WHERE id IN (SELECT value FROM json_each(?1)) AND status = ?4",
                params![list, now, Status::Pending.code(), Status::Fail.code()],
            )?;
            Ok(changed as u64)
        })
        .await
    }
}

type RawTask = (String, String, String, i64, String, String, Option<String>, i64, i64);

fn raw_task(row: &Row) -> rusqlite::Result<RawTask> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn task(raw: RawTask) -> StoreResult<Task> {
    let (id, app, kind, status, params, data, position, created_at, updated_at) = raw;
    let corrupt = |what: &str| StoreError::Corrupt(format!("task {id}: {what}"));
    Ok(Task {
        id: id.parse().map_err(|_| corrupt("id"))?,
        app_id: app.parse().map_err(|_| corrupt("application"))?,
        kind: TaskKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
        status: TaskStatus::from_code(status).ok_or_else(|| corrupt("status"))?,
        params: from_json(&params).map_err(|_| corrupt("params"))?,
        progress: from_json(&data).map_err(|_| corrupt("data"))?,
        position: position.map(|p| p.parse()).transpose().map_err(|_| corrupt("position"))?,
        created_at,
        updated_at,
    })
}
