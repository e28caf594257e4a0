//! Delivery activity on SQLite (the SQL is shared: `crate::activity`).

use async_trait::async_trait;
use hookwire_core::activity::{Bucket, QueueSample, Resolution};
use hookwire_core::time_fmt::Millis;
use rusqlite::params_from_iter;
use rusqlite::types::Value;

use super::SqliteStore;
use super::rows::parse;
use crate::activity::{self, SQLITE};
use crate::error::StoreResult;
use crate::{ActivityQuery, ActivityRow, ActivityStore, EndpointActivity};

/// The parameters of `activity::read_sql` for `query`: resolution, since, until, then the
/// application and the endpoint when asked for.
fn scope_values(query: &ActivityQuery) -> Vec<Value> {
    let mut values = vec![
        Value::Integer(query.resolution.ms()),
        Value::Integer(query.resolution.floor(query.since)),
        Value::Integer(query.until),
    ];
    values.extend(query.app.map(|a| Value::Text(a.to_string())));
    values.extend(query.endpoint.map(|e| Value::Text(e.to_string())));
    values
}

#[async_trait]
impl ActivityStore for SqliteStore {
    async fn add_activity(&self, rows: Vec<ActivityRow>) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let keyed = activity::keyed(&rows);
        self.write(move |conn| {
            let mut add = conn.prepare_cached(&activity::add_sql(SQLITE))?;
            for ((endpoint, resolution, start), (app, counts)) in &keyed {
                let mut values = vec![
                    Value::Text(endpoint.to_string()),
                    Value::Integer(*resolution),
                    Value::Integer(*start),
                    Value::Text(app.to_string()),
                ];
                values.extend(activity::count_values(counts).into_iter().map(Value::Integer));
                add.execute(params_from_iter(values))?;
            }
            Ok(())
        })
        .await
    }

    async fn sample_queue(&self, sample: QueueSample) -> StoreResult<()> {
        self.write(move |conn| {
            conn.prepare_cached(&activity::sample_sql(SQLITE))?.execute([
                Resolution::Minute.floor(sample.start),
                sample.due as i64,
                sample.scheduled as i64,
            ])?;
            Ok(())
        })
        .await
    }

    async fn activity(&self, query: &ActivityQuery) -> StoreResult<Vec<Bucket>> {
        let query = *query;
        self.read(move |conn| {
            let sql = activity::read_sql(SQLITE, query.app.is_some(), query.endpoint.is_some());
            let values = scope_values(&query);
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(values), |r| {
                let start: i64 = r.get(0)?;
                let mut columns = Vec::with_capacity(18);
                for i in 1..18 {
                    columns.push(r.get::<_, i64>(i)?);
                }
                Ok(activity::bucket(start, |i| columns[i - 1]))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn activity_by_endpoint(&self, query: &ActivityQuery, limit: usize) -> StoreResult<Vec<EndpointActivity>> {
        let query = *query;
        self.read(move |conn| {
            let sql = activity::by_endpoint_sql(SQLITE, query.app.is_some(), query.endpoint.is_some());
            let mut values = scope_values(&query);
            values.push(Value::Integer(limit as i64));
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(values))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let (app, endpoint): (String, String) = (r.get(0)?, r.get(1)?);
                let mut columns = Vec::with_capacity(17);
                for i in 2..19 {
                    columns.push(r.get::<_, i64>(i)?);
                }
                out.push(EndpointActivity {
                    app_id: parse(app)?,
                    endpoint_id: parse(endpoint)?,
                    counts: activity::bucket(0, |i| columns[i - 1]).counts,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn queue_history(
        &self,
        resolution: Resolution,
        since: Millis,
        until: Millis,
    ) -> StoreResult<Vec<QueueSample>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&activity::queue_sql(SQLITE))?;
            let rows = stmt.query_map([resolution.ms(), resolution.floor(since), until], |r| {
                Ok(QueueSample {
                    start: r.get(0)?,
                    due: r.get::<_, i64>(1)? as u64,
                    scheduled: r.get::<_, i64>(2)? as u64,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn purge_activity(&self, now: Millis) -> StoreResult<u64> {
        self.write(move |conn| {
            let mut purged = 0;
            for resolution in Resolution::ALL {
                purged += conn
                    .prepare_cached("DELETE FROM activity WHERE resolution = ?1 AND start < ?2")?
                    .execute([resolution.ms(), now - resolution.kept_ms()])?;
            }
            purged += conn
                .prepare_cached("DELETE FROM activity_queue WHERE start < ?1")?
                .execute([now - Resolution::Minute.kept_ms()])?;
            Ok(purged as u64)
        })
        .await
    }
}
