//! Applications, endpoints, event types and settings on SQLite.

use std::sync::Arc;

use async_trait::async_trait;
use hookwire_core::model::{Application, Endpoint, EventType};
use hookwire_core::{AppId, EndpointId};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::rows::{Conditions, conflict_as, endpoint_row, endpoint_sql, from_json, list_bodies, to_json};
use crate::error::{StoreError, StoreResult};
use crate::query::PLAY_URLS;
use crate::{AppFilter, Page, ResourceStore};

#[async_trait]
impl ResourceStore for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }

    async fn create_app(&self, app: Application) -> StoreResult<()> {
        self.write_config(move |conn| {
            conn.prepare_cached("INSERT INTO applications (id, uid, body) VALUES (?1, ?2, ?3)")?
                .execute(params![app.id.to_string(), app.uid, to_json(&app)])
                .map_err(conflict_as("application uid"))?;
            Ok(())
        })
        .await
    }

    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Option<Application>> {
        if let Some(app) = self.inner.cache.app(id_or_uid) {
            return Ok(Some(app));
        }
        let generation = self.inner.cache.generation();
        let key = id_or_uid.to_owned();
        let app: Option<Application> = self
            .read(move |conn| {
                let column = if AppId::looks_like(&key) { "id" } else { "uid" };
                let sql = format!("SELECT body FROM applications WHERE {column} = ?1");
                let body: Option<String> = conn.prepare_cached(&sql)?.query_row([&key], |r| r.get(0)).optional()?;
                Ok(body.map(|b| from_json(&b)).transpose()?)
            })
            .await?;
        if let Some(app) = &app {
            self.inner.cache.put_app(generation, app);
        }
        Ok(app)
    }

    async fn list_apps(&self, filter: &AppFilter) -> StoreResult<Vec<Application>> {
        let filter = filter.clone();
        self.read(move |conn| {
            let mut conditions = Conditions::default();
            let endpoints = "SELECT 1 FROM endpoints e WHERE e.app_id = applications.id";
            if filter.exclude_without_endpoints {
                conditions.push_sql(&format!("EXISTS ({endpoints})"));
            }
            if filter.exclude_with_disabled_endpoints {
                conditions.push_sql(&format!("NOT EXISTS ({endpoints} AND json_extract(e.body, '$.disabled') = 1)"));
            }
            if filter.exclude_with_play_endpoints {
                conditions
                    .push(&format!("NOT EXISTS ({endpoints} AND json_extract(e.body, '$.url') LIKE ?)"), PLAY_URLS);
            }
            list_bodies(conn, "applications", conditions, &filter.page, "id")
        })
        .await
    }

    async fn update_app(&self, app: Application) -> StoreResult<()> {
        self.write_config(move |conn| {
            let changed = conn
                .prepare_cached("UPDATE applications SET uid = ?2, body = ?3 WHERE id = ?1")?
                .execute(params![app.id.to_string(), app.uid, to_json(&app)])
                .map_err(conflict_as("application uid"))?;
            if changed == 0 {
                return Err(StoreError::NotFound { what: "application" });
            }
            Ok(())
        })
        .await
    }

    async fn delete_app(&self, id: AppId) -> StoreResult<()> {
        self.write_config(move |conn| {
            let id = id.to_string();
            conn.execute(
                "DELETE FROM destination_consumers WHERE destination_id IN (SELECT id FROM destinations WHERE app_id = ?1)",
                [&id],
            )?;
            conn.execute(
                "DELETE FROM destination_attempts WHERE destination_id IN (SELECT id FROM destinations WHERE app_id = ?1)",
                [&id],
            )?;
            for table in [
                "activity",
                "destinations",
                "attempts",
                "deliveries",
                "idempotency_keys",
                "message_tags",
                "messages",
                "endpoints",
                "tokens",
                "tasks",
            ] {
                conn.execute(&format!("DELETE FROM {table} WHERE app_id = ?1"), [&id])?;
            }
            conn.execute("DELETE FROM applications WHERE id = ?1", [&id])?;
            Ok(())
        })
        .await
    }

    async fn create_endpoint(&self, endpoint: Endpoint) -> StoreResult<()> {
        let endpoint = self.seal_endpoint(endpoint);
        self.write_config(move |conn| {
            conn.prepare_cached("INSERT INTO endpoints (id, app_id, uid, body) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![
                    endpoint.id.to_string(),
                    endpoint.app_id.to_string(),
                    endpoint.uid,
                    to_json(&endpoint)
                ])
                .map_err(conflict_as("endpoint uid"))?;
            Ok(())
        })
        .await
    }

    async fn get_endpoint(&self, app: AppId, id_or_uid: &str) -> StoreResult<Option<Endpoint>> {
        let key = id_or_uid.to_owned();
        self.read(move |conn| {
            let sql = if EndpointId::looks_like(&key) {
                concat!(endpoint_sql!(), " WHERE e.app_id = ?1 AND e.id = ?2")
            } else {
                concat!(endpoint_sql!(), " WHERE e.app_id = ?1 AND e.uid = ?2")
            };
            Ok(conn.prepare_cached(sql)?.query_row(params![app.to_string(), key], endpoint_row).optional()?)
        })
        .await?
        .map(|e| self.open_endpoint(e))
        .transpose()
    }

    async fn list_endpoints(&self, app: AppId, page: &Page) -> StoreResult<Vec<Endpoint>> {
        let page = page.clone();
        self.read(move |conn| {
            let mut conditions = Conditions::default();
            conditions.push("app_id = ?", app.to_string());
            list_bodies(conn, "endpoints", conditions, &page, "id")
        })
        .await?
        .into_iter()
        .map(|e| self.open_endpoint(e))
        .collect()
    }

    async fn app_endpoints(&self, app: AppId) -> StoreResult<Vec<Arc<Endpoint>>> {
        if let Some(endpoints) = self.inner.cache.endpoints(app) {
            return Ok(endpoints);
        }
        let generation = self.inner.cache.generation();
        let stored: Vec<Endpoint> = self
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(concat!(endpoint_sql!(), " WHERE e.app_id = ?1 ORDER BY e.id"))?;
                let rows = stmt.query_map([app.to_string()], endpoint_row)?;
                Ok(rows.collect::<Result<Vec<Endpoint>, _>>()?)
            })
            .await?;
        let endpoints: Vec<Arc<Endpoint>> =
            stored.into_iter().map(|e| Ok(Arc::new(self.open_endpoint(e)?))).collect::<StoreResult<_>>()?;
        self.inner.cache.put_endpoints(generation, app, &endpoints);
        Ok(endpoints)
    }

    async fn update_endpoint(&self, endpoint: Endpoint) -> StoreResult<()> {
        let endpoint = self.seal_endpoint(endpoint);
        self.write_config(move |conn| {
            let changed = conn
                .prepare_cached("UPDATE endpoints SET uid = ?3, body = ?4 WHERE id = ?1 AND app_id = ?2")?
                .execute(params![
                    endpoint.id.to_string(),
                    endpoint.app_id.to_string(),
                    endpoint.uid,
                    to_json(&endpoint)
                ])
                .map_err(conflict_as("endpoint uid"))?;
            if changed == 0 {
                return Err(StoreError::NotFound { what: "endpoint" });
            }
            Ok(())
        })
        .await
    }

    async fn delete_endpoint(&self, app: AppId, id: EndpointId) -> StoreResult<()> {
        self.write_config(move |conn| {
            let (app, id) = (app.to_string(), id.to_string());
            let changed = conn.execute("DELETE FROM endpoints WHERE app_id = ?1 AND id = ?2", [&app, &id])?;
            if changed == 0 {
                return Err(StoreError::NotFound { what: "endpoint" });
            }
            conn.execute("DELETE FROM deliveries WHERE endpoint_id = ?1", [&id])?;
            conn.execute("DELETE FROM attempts WHERE endpoint_id = ?1", [&id])?;
            Ok(())
        })
        .await
    }

    async fn create_event_type(&self, event_type: EventType) -> StoreResult<()> {
        self.write(move |conn| {
            conn.prepare_cached("INSERT INTO event_types (name, archived, body) VALUES (?1, ?2, ?3)")?
                .execute(params![event_type.name, event_type.archived, to_json(&event_type)])
                .map_err(conflict_as("event type"))?;
            Ok(())
        })
        .await
    }

    async fn get_event_type(&self, name: &str) -> StoreResult<Option<EventType>> {
        let name = name.to_owned();
        self.read(move |conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM event_types WHERE name = ?1")?
                .query_row([&name], |r| r.get(0))
                .optional()?;
            Ok(body.map(|b| from_json(&b)).transpose()?)
        })
        .await
    }

    async fn list_event_types(&self, page: &Page, include_archived: bool) -> StoreResult<Vec<EventType>> {
        let page = page.clone();
        self.read(move |conn| {
            let mut conditions = Conditions::default();
            if !include_archived {
                conditions.push("archived = ?", false);
            }
            list_bodies(conn, "event_types", conditions, &page, "name")
        })
        .await
    }

    async fn update_event_type(&self, event_type: EventType) -> StoreResult<()> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached("UPDATE event_types SET archived = ?2, body = ?3 WHERE name = ?1")?
                .execute(params![event_type.name, event_type.archived, to_json(&event_type)])?;
            if changed == 0 {
                return Err(StoreError::NotFound { what: "event type" });
            }
            Ok(())
        })
        .await
    }

    async fn delete_event_type(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.write(move |conn| {
            if conn.execute("DELETE FROM event_types WHERE name = ?1", [&name])? == 0 {
                return Err(StoreError::NotFound { what: "event type" });
            }
            Ok(())
        })
        .await
    }

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
                .query_row([&key], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn put_setting_if_absent(&self, key: &str, value: &str) -> StoreResult<String> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |conn| {
            conn.execute("INSERT OR IGNORE INTO settings (key, value) VALUES (?1, ?2)", [&key, &value])?;
            Ok(conn.query_row("SELECT value FROM settings WHERE key = ?1", [&key], |r| r.get(0))?)
        })
        .await
    }
}
