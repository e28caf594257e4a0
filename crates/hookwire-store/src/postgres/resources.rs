//! Applications, endpoints, event types and settings on PostgreSQL. Read fresh on every call:
//! another node may have changed them.

use std::sync::Arc;

use async_trait::async_trait;
use hookwire_core::model::{Application, Endpoint, EventType};
use hookwire_core::{AppId, EndpointId};
use serde::de::DeserializeOwned;

use super::PgStore;
use super::rows::{Conditions, conflict_as, endpoint_row, endpoint_sql, from_json, to_json};
use crate::error::{StoreError, StoreResult};
use crate::query::PLAY_URLS;
use crate::query::WhereClause;
use crate::{AppFilter, Page, ResourceStore};

impl PgStore {
    /// `SELECT body FROM {table}` under `conditions`, one page ordered by `column`, decoded.
    pub(super) async fn list_bodies<T: DeserializeOwned>(
        &self,
        table: &str,
        mut conditions: Conditions,
        page: &Page,
        column: &str,
    ) -> StoreResult<Vec<T>> {
        let tail = conditions.page(page, column);
        let sql = format!("SELECT body FROM {table} WHERE {} {tail}", conditions.sql());
        let client = self.client().await?;
        let rows = client.query(&sql, &conditions.params()).await?;
        rows.iter().map(|row| from_json(row.get(0))).collect()
    }

    pub(super) async fn body<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<Option<T>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await?;
        let row = client.query_opt(&statement, params).await?;
        row.map(|row| from_json(row.get(0))).transpose()
    }
}

#[async_trait]
impl ResourceStore for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        self.client().await?.execute("SELECT 1", &[]).await.map(drop)
    }

    async fn create_app(&self, app: Application) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO applications (id, uid, body) VALUES ($1, $2, $3)",
                &[&app.id.to_string(), &app.uid, &to_json(&app)],
            )
            .await
            .map_err(conflict_as("application uid"))?;
        self.config_changed();
        Ok(())
    }

    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Option<Application>> {
        let cache = self.cache();
        if let Some(app) = cache.and_then(|c| c.app(id_or_uid)) {
            return Ok(Some(app));
        }
        let generation = cache.map(|c| c.generation());
        let column = if AppId::looks_like(id_or_uid) { "id" } else { "uid" };
        let app: Option<Application> =
            self.body(&format!("SELECT body FROM applications WHERE {column} = $1"), &[&id_or_uid]).await?;
        if let (Some(cache), Some(generation), Some(app)) = (cache, generation, &app) {
            cache.put_app(generation, app);
        }
        Ok(app)
    }

    async fn list_apps(&self, filter: &AppFilter) -> StoreResult<Vec<Application>> {
        let mut conditions = Conditions::default();
        let endpoints = "SELECT 1 FROM endpoints e WHERE e.app_id = applications.id";
        if filter.exclude_without_endpoints {
            conditions.push_sql(&format!("EXISTS ({endpoints})"));
        }
        if filter.exclude_with_disabled_endpoints {
            conditions.push_sql(&format!("NOT EXISTS ({endpoints} AND (e.body::jsonb ->> 'disabled') = 'true')"));
        }
        if filter.exclude_with_play_endpoints {
            conditions.push(&format!("NOT EXISTS ({endpoints} AND (e.body::jsonb ->> 'url') LIKE ?)"), PLAY_URLS);
        }
        self.list_bodies("applications", conditions, &filter.page, "id").await
    }

    async fn update_app(&self, app: Application) -> StoreResult<()> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE applications SET uid = $2, body = $3 WHERE id = $1",
                &[&app.id.to_string(), &app.uid, &to_json(&app)],
            )
            .await
            .map_err(conflict_as("application uid"))?;
        self.config_changed();
        if changed == 0 {
            return Err(StoreError::NotFound { what: "application" });
        }
        Ok(())
    }

    async fn delete_app(&self, id: AppId) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = id.to_string();
        // Fan-out in flight first (the order its move takes: it, then deliveries), then attempts
        // and deliveries through the application's messages (their `msg_id` indexes; nothing
        // indexes them by application alone).
        tx.execute("DELETE FROM deliveries_inflight WHERE app_id = $1", &[&id]).await?;
        for table in ["attempts", "deliveries"] {
            let sql = format!(
                "DELETE FROM {table} WHERE app_id = $1 AND msg_id IN (SELECT id FROM messages WHERE app_id = $1)"
            );
            tx.execute(&sql, &[&id]).await?;
        }
        tx.execute(
            "DELETE FROM destination_consumers WHERE destination_id IN (SELECT id FROM destinations WHERE app_id = $1)",
            &[&id],
        )
        .await?;
        tx.execute(
            "DELETE FROM destination_attempts WHERE destination_id IN (SELECT id FROM destinations WHERE app_id = $1)",
            &[&id],
        )
        .await?;
        for table in [
            "activity",
            "destinations",
            "idempotency_keys",
            "message_event_ids",
            "message_tags",
            "messages",
            "endpoints",
            "tokens",
            "tasks",
        ] {
            tx.execute(&format!("DELETE FROM {table} WHERE app_id = $1"), &[&id]).await?;
        }
        tx.execute("DELETE FROM applications WHERE id = $1", &[&id]).await?;
        tx.commit().await?;
        self.config_changed();
        Ok(())
    }

    async fn create_endpoint(&self, endpoint: Endpoint) -> StoreResult<()> {
        let endpoint = self.seal_endpoint(endpoint);
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO endpoints (id, app_id, uid, body) VALUES ($1, $2, $3, $4)",
                &[&endpoint.id.to_string(), &endpoint.app_id.to_string(), &endpoint.uid, &to_json(&endpoint)],
            )
            .await
            .map_err(conflict_as("endpoint uid"))?;
        self.config_changed();
        Ok(())
    }

    async fn get_endpoint(&self, app: AppId, id_or_uid: &str) -> StoreResult<Option<Endpoint>> {
        let sql = if EndpointId::looks_like(id_or_uid) {
            concat!(endpoint_sql!(), " WHERE e.app_id = $1 AND e.id = $2")
        } else {
            concat!(endpoint_sql!(), " WHERE e.app_id = $1 AND e.uid = $2")
        };
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await?;
        let row = client.query_opt(&statement, &[&app.to_string(), &id_or_uid]).await?;
        row.map(|row| self.open_endpoint(endpoint_row(&row)?)).transpose()
    }

    async fn list_endpoints(&self, app: AppId, page: &Page) -> StoreResult<Vec<Endpoint>> {
        let mut conditions = Conditions::default();
        conditions.push("app_id = ?", app.to_string());
        let stored: Vec<Endpoint> = self.list_bodies("endpoints", conditions, page, "id").await?;
        stored.into_iter().map(|e| self.open_endpoint(e)).collect()
    }

    async fn app_endpoints(&self, app: AppId) -> StoreResult<Vec<Arc<Endpoint>>> {
        let cache = self.cache();
        if let Some(endpoints) = cache.and_then(|c| c.endpoints(app)) {
            return Ok(endpoints);
        }
        let generation = cache.map(|c| c.generation());
        let client = self.client().await?;
        let statement = client.prepare_cached(concat!(endpoint_sql!(), " WHERE e.app_id = $1 ORDER BY e.id")).await?;
        let rows = client.query(&statement, &[&app.to_string()]).await?;
        let endpoints: Vec<Arc<Endpoint>> =
            rows.iter().map(|row| Ok(Arc::new(self.open_endpoint(endpoint_row(row)?)?))).collect::<StoreResult<_>>()?;
        if let (Some(cache), Some(generation)) = (cache, generation) {
            cache.put_endpoints(generation, app, &endpoints);
        }
        Ok(endpoints)
    }

    async fn update_endpoint(&self, endpoint: Endpoint) -> StoreResult<()> {
        let endpoint = self.seal_endpoint(endpoint);
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE endpoints SET uid = $3, body = $4 WHERE id = $1 AND app_id = $2",
                &[&endpoint.id.to_string(), &endpoint.app_id.to_string(), &endpoint.uid, &to_json(&endpoint)],
            )
            .await
            .map_err(conflict_as("endpoint uid"))?;
        self.config_changed();
        if changed == 0 {
            return Err(StoreError::NotFound { what: "endpoint" });
        }
        Ok(())
    }

    async fn delete_endpoint(&self, app: AppId, id: EndpointId) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let (app, id) = (app.to_string(), id.to_string());
        let changed = tx.execute("DELETE FROM endpoints WHERE app_id = $1 AND id = $2", &[&app, &id]).await?;
        if changed == 0 {
            return Err(StoreError::NotFound { what: "endpoint" });
        }
        // Attempts before deliveries, the order every writer of both takes (partitions.rs).
        for table in ["attempts", "deliveries"] {
            tx.execute(&format!("DELETE FROM {table} WHERE endpoint_id = $1"), &[&id]).await?;
        }
        for table in ["endpoint_counters", "endpoint_flow"] {
            tx.execute(&format!("DELETE FROM {table} WHERE endpoint_id = $1"), &[&id]).await?;
        }
        tx.commit().await?;
        self.config_changed();
        Ok(())
    }

    async fn create_event_type(&self, event_type: EventType) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO event_types (name, archived, body) VALUES ($1, $2, $3)",
                &[&event_type.name, &event_type.archived, &to_json(&event_type)],
            )
            .await
            .map_err(conflict_as("event type"))?;
        Ok(())
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<Option<EventType>> {
        self.body("SELECT body FROM event_types WHERE name = $1", &[&name]).await
    }

    async fn list_event_types(&self, page: &Page, include_archived: bool) -> StoreResult<Vec<EventType>> {
        let mut conditions = Conditions::default();
        if !include_archived {
            conditions.push("archived = ?", false);
        }
        self.list_bodies("event_types", conditions, page, "name").await
    }

    async fn update_event_type(&self, event_type: EventType) -> StoreResult<()> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE event_types SET archived = $2, body = $3 WHERE name = $1",
                &[&event_type.name, &event_type.archived, &to_json(&event_type)],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound { what: "event type" });
        }
        Ok(())
    }

    async fn delete_event_type(&self, name: &str) -> StoreResult<()> {
        let client = self.client().await?;
        if client.execute("DELETE FROM event_types WHERE name = $1", &[&name]).await? == 0 {
            return Err(StoreError::NotFound { what: "event type" });
        }
        Ok(())
    }

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        let client = self.client().await?;
        let statement = client.prepare_cached("SELECT value FROM settings WHERE key = $1").await?;
        Ok(client.query_opt(&statement, &[&key]).await?.map(|row| row.get(0)))
    }

    async fn put_setting_if_absent(&self, key: &str, value: &str) -> StoreResult<String> {
        let client = self.client().await?;
        // Insert-or-read in one statement: the CTE sees the row only if this statement inserted it.
        let row = client
            .query_opt(
                "WITH inserted AS (INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING \
                 RETURNING value) SELECT value FROM inserted UNION ALL \
                 SELECT value FROM settings WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM inserted)",
                &[&key, &value],
            )
            .await?;
        match row {
            Some(row) => Ok(row.get(0)),
            // Another node inserted it after this statement's snapshot: a new statement sees it.
            None => Ok(client.query_one("SELECT value FROM settings WHERE key = $1", &[&key]).await?.get(0)),
        }
    }
}
