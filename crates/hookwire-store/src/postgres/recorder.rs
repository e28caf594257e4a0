//! Group commit for attempt records on PostgreSQL: every attempt waiting to be recorded goes into
//! the next single statement (attempt rows, delivery updates, endpoint health), one commit for
//! all of them. While one batch commits the next gathers, so under load a commit (and its WAL
//! flush) serves hundreds of attempts; alone, an attempt is written at once.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use hookwire_core::EndpointId;
use hookwire_core::model::{Attempt, Status};
use hookwire_core::time_fmt::Millis;
use tokio::sync::{mpsc, oneshot};

use crate::DeliveryUpdate;
use crate::error::{StoreError, StoreResult};

/// Attempts recorded in one statement at most.
const BATCH_MAX: usize = 512;
/// Attempts waiting for the recorder before callers wait for room.
const WAITING_MAX: usize = 4_096;

type Reply = oneshot::Sender<StoreResult<Option<Millis>>>;

pub(super) struct Recorder {
    queue: mpsc::Sender<(Attempt, DeliveryUpdate, Reply)>,
}

impl Recorder {
    /// Starts the recorder task; it ends when the recorder is dropped.
    /// `node_id` is this node: an attempt moves its delivery on only while this node (or no
    /// node) holds it, so a node that was taken for dead cannot undo a peer's newer claim.
    pub fn start(pool: Pool, node_id: String) -> Self {
        let (queue, waiting) = mpsc::channel(WAITING_MAX);
        tokio::spawn(run(pool, node_id, waiting));
        Self { queue }
    }

    /// Records the attempts and moves their deliveries on in the next batches; every record is
    /// queued before any is waited for, so they share batches. Answers each in order.
    pub async fn record(&self, records: Vec<(Attempt, DeliveryUpdate)>) -> Vec<StoreResult<Option<Millis>>> {
        let mut answers = Vec::with_capacity(records.len());
        for (attempt, update) in records {
            let (reply, answer) = oneshot::channel();
            let queued = self.queue.send((attempt, update, reply)).await.map_err(|_| StoreError::Closed);
            answers.push(queued.map(|()| answer));
        }
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(match answer {
                Ok(answer) => answer.await.map_err(|_| StoreError::Closed).and_then(|result| result),
                Err(error) => Err(error),
            });
        }
        results
    }
}

async fn run(pool: Pool, node_id: String, mut waiting: mpsc::Receiver<(Attempt, DeliveryUpdate, Reply)>) {
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while waiting.recv_many(&mut batch, BATCH_MAX).await > 0 {
        let records: Vec<(&Attempt, &DeliveryUpdate)> = batch.iter().map(|(a, u, _)| (a, u)).collect();
        match write(&pool, &node_id, &records).await {
            Ok(failing_since) => {
                for (attempt, _, reply) in batch.drain(..) {
                    let _ = reply.send(Ok(failing_since.get(&attempt.endpoint_id).copied().flatten()));
                }
            }
            Err(error) => {
                let detail = error.to_string();
                for (_, _, reply) in batch.drain(..) {
                    let _ = reply.send(Err(StoreError::Batch(detail.clone())));
                }
            }
        }
    }
}

/// One statement: insert the attempts, move their deliveries on, and fold each endpoint's
/// outcomes into its health (failing since the first failure after its last success; a failure
/// stored by an earlier batch still counts when it came after this batch's last success).
const RECORD_SQL: &str = "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
    $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::bigint[], $11::text[], $12::bigint[], \
    $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bool[]) AS x(id, app_id, msg_id, endpoint_id, \
    delivery_id, url, status, code, response, duration, error_kind, trigger_type, created_at, new_status, attempts, \
    next_at, succeeded)), \
    inserted AS (INSERT INTO attempts (id, app_id, msg_id, endpoint_id, delivery_id, url, status, \
    response_status_code, response, response_duration_ms, error_kind, trigger_type, created_at) \
    SELECT id, app_id, msg_id, endpoint_id, delivery_id, url, status, code, response, duration, error_kind, \
    trigger_type, created_at FROM input), \
    moved AS (UPDATE deliveries d SET status = i.new_status, attempts = i.attempts, next_attempt_at = i.next_at, \
    lease_owner = NULL, lease_until = NULL, updated_at = i.created_at FROM input i WHERE d.id = i.delivery_id \
    AND (d.lease_owner IS NULL OR d.lease_owner = $18)), \
    last_success AS (SELECT endpoint_id, max(created_at) FILTER (WHERE succeeded) AS at FROM input \
    GROUP BY endpoint_id), \
    health AS (SELECT i.endpoint_id, s.at AS last_success, min(i.created_at) FILTER (WHERE NOT i.succeeded \
    AND (s.at IS NULL OR i.created_at >= s.at)) AS failing_since FROM input i JOIN last_success s USING (endpoint_id) \
    GROUP BY i.endpoint_id, s.at) \
    INSERT INTO endpoint_counters (endpoint_id, filter_errors, failing_since, last_success_at) \
    SELECT endpoint_id, 0, failing_since, last_success FROM health ON CONFLICT (endpoint_id) DO UPDATE SET \
    failing_since = CASE WHEN EXCLUDED.last_success_at IS NOT NULL THEN least(EXCLUDED.failing_since, \
    CASE WHEN endpoint_counters.failing_since >= EXCLUDED.last_success_at THEN endpoint_counters.failing_since END) \
    ELSE coalesce(endpoint_counters.failing_since, EXCLUDED.failing_since) END, \
    last_success_at = greatest(EXCLUDED.last_success_at, endpoint_counters.last_success_at) \
    RETURNING endpoint_id, failing_since";

async fn write(
    pool: &Pool,
    node_id: &String,
    records: &[(&Attempt, &DeliveryUpdate)],
) -> StoreResult<HashMap<EndpointId, Option<Millis>>> {
    let text = |f: &dyn Fn(&Attempt) -> String| records.iter().map(|(a, _)| f(a)).collect::<Vec<String>>();
    let int = |f: &dyn Fn(&Attempt, &DeliveryUpdate) -> i64| records.iter().map(|(a, u)| f(a, u)).collect::<Vec<i64>>();
    let ids = text(&|a| a.id.to_string());
    let apps = text(&|a| a.app_id.to_string());
    let msgs = text(&|a| a.msg_id.to_string());
    let endpoints = text(&|a| a.endpoint_id.to_string());
    let deliveries = text(&|a| a.delivery_id.to_string());
    let urls = text(&|a| a.url.clone());
    let statuses = int(&|a, _| a.status.code());
    let codes = int(&|a, _| i64::from(a.response_status_code));
    let responses = text(&|a| a.response.clone());
    let durations = int(&|a, _| a.response_duration_ms as i64);
    let error_kinds: Vec<Option<&str>> = records.iter().map(|(a, _)| a.error_kind.map(|k| k.as_str())).collect();
    let triggers = int(&|a, _| a.trigger_type.code());
    let created = int(&|a, _| a.timestamp);
    let new_statuses = int(&|_, u| u.status.code());
    let attempts = int(&|_, u| i64::from(u.attempts));
    let next_at: Vec<Option<i64>> = records.iter().map(|(_, u)| u.next_attempt_at).collect();
    let succeeded: Vec<bool> = records.iter().map(|(a, _)| a.status == Status::Success).collect();
    let client = pool.get().await.map_err(super::pool_error)?;
    let statement = client.prepare_cached(RECORD_SQL).await?;
    let rows = client
        .query(
            &statement,
            &[
                &ids,
                &apps,
                &msgs,
                &endpoints,
                &deliveries,
                &urls,
                &statuses,
                &codes,
                &responses,
                &durations,
                &error_kinds,
                &triggers,
                &created,
                &new_statuses,
                &attempts,
                &next_at,
                &succeeded,
                node_id,
            ],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let endpoint: &str = row.get(0);
            let endpoint =
                endpoint.parse().map_err(|e| StoreError::Corrupt(format!("endpoint id {endpoint:?}: {e}")))?;
            Ok((endpoint, row.get(1)))
        })
        .collect()
}
