//! Delivery activity on PostgreSQL (the SQL is shared: `crate::activity`).

use async_trait::async_trait;
use hookwire_core::activity::{Bucket, QueueSample, Resolution};
use hookwire_core::time_fmt::Millis;
use tokio_postgres::types::ToSql;

use super::PgStore;
use super::rows::parse;
use crate::activity::{self, POSTGRES};
use crate::error::StoreResult;
use crate::{ActivityQuery, ActivityRow, ActivityStore, EndpointActivity};

/// The parameters of `activity::read_sql` for a query (resolution, since, until, then the
/// application and the endpoint when asked for), owned so they can be lent.
struct Scope {
    resolution: i32,
    since: Millis,
    until: Millis,
    app: Option<String>,
    endpoint: Option<String>,
}

impl Scope {
    fn of(query: &ActivityQuery) -> Self {
        Self {
            resolution: query.resolution.ms() as i32,
            since: query.resolution.floor(query.since),
            until: query.until,
            app: query.app.map(|a| a.to_string()),
            endpoint: query.endpoint.map(|e| e.to_string()),
        }
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&self.resolution, &self.since, &self.until];
        params.extend(self.app.as_ref().map(|a| a as &(dyn ToSql + Sync)));
        params.extend(self.endpoint.as_ref().map(|e| e as &(dyn ToSql + Sync)));
        params
    }
}

#[async_trait]
impl ActivityStore for PgStore {
    async fn add_activity(&self, rows: Vec<ActivityRow>) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // In key order: two nodes adding to the same rows take their locks in the same order.
        let keyed = activity::keyed(&rows);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let add = tx.prepare_cached(&activity::add_sql(POSTGRES)).await?;
        for ((endpoint, resolution, start), (app, counts)) in &keyed {
            let (endpoint, app, resolution) = (endpoint.to_string(), app.to_string(), *resolution as i32);
            let counts = activity::count_values(counts);
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&endpoint, &resolution, start, &app];
            params.extend(counts.iter().map(|n| n as &(dyn ToSql + Sync)));
            tx.execute(&add, &params).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn sample_queue(&self, sample: QueueSample) -> StoreResult<()> {
        let client = self.client().await?;
        let start = Resolution::Minute.floor(sample.start);
        client
            .execute(&activity::sample_sql(POSTGRES), &[&start, &(sample.due as i64), &(sample.scheduled as i64)])
            .await?;
        Ok(())
    }

    async fn activity(&self, query: &ActivityQuery) -> StoreResult<Vec<Bucket>> {
        let client = self.client().await?;
        let sql = activity::read_sql(POSTGRES, query.app.is_some(), query.endpoint.is_some());
        let scope = Scope::of(query);
        let rows = client.query(&sql, &scope.params()).await?;
        Ok(rows.iter().map(|r| activity::bucket(r.get(0), |i| r.get::<_, i64>(i))).collect())
    }

    async fn activity_by_endpoint(&self, query: &ActivityQuery, limit: usize) -> StoreResult<Vec<EndpointActivity>> {
        let client = self.client().await?;
        let sql = activity::by_endpoint_sql(POSTGRES, query.app.is_some(), query.endpoint.is_some());
        let (scope, limit) = (Scope::of(query), limit as i64);
        let mut params = scope.params();
        params.push(&limit);
        let mut out = Vec::new();
        for r in client.query(&sql, &params).await? {
            out.push(EndpointActivity {
                app_id: parse(r.get(0))?,
                endpoint_id: parse(r.get(1))?,
                counts: activity::bucket(0, |i| r.get::<_, i64>(i + 1)).counts,
            });
        }
        Ok(out)
    }

    async fn queue_history(
        &self,
        resolution: Resolution,
        since: Millis,
        until: Millis,
    ) -> StoreResult<Vec<QueueSample>> {
        let client = self.client().await?;
        let rows =
            client.query(&activity::queue_sql(POSTGRES), &[&resolution.ms(), &resolution.floor(since), &until]).await?;
        Ok(rows
            .iter()
            .map(|r| QueueSample {
                start: r.get(0),
                due: r.get::<_, i64>(1) as u64,
                scheduled: r.get::<_, i64>(2) as u64,
            })
            .collect())
    }

    async fn purge_activity(&self, now: Millis) -> StoreResult<u64> {
        let client = self.client().await?;
        let mut purged = 0;
        for resolution in Resolution::ALL {
            purged += client
                .execute(
                    "DELETE FROM activity WHERE resolution = $1 AND start < $2",
                    &[&(resolution.ms() as i32), &(now - resolution.kept_ms())],
                )
                .await?;
        }
        purged += client
            .execute("DELETE FROM activity_queue WHERE start < $1", &[&(now - Resolution::Minute.kept_ms())])
            .await?;
        Ok(purged)
    }
}
