//! Recording attempts on PostgreSQL: one statement for a whole batch (attempt rows, delivery
//! updates, endpoint health), one commit. The server's recorder already gathers every attempt
//! waiting into one call, so this writes what it is given, once.

use std::collections::HashMap;

use hookwire_core::EndpointId;
use hookwire_core::model::{Attempt, Status};
use hookwire_core::time_fmt::Millis;
use tokio_postgres::error::SqlState;

use crate::DeliveryUpdate;
use crate::error::{StoreError, StoreResult};

/// Records the attempts and moves their deliveries on; answers each in order with since when its
/// endpoint has failed without a success.
pub(super) async fn record(
    store: &super::PgStore,
    records: Vec<(Attempt, DeliveryUpdate)>,
) -> Vec<StoreResult<Option<Millis>>> {
    if records.is_empty() {
        return Vec::new();
    }
    let refs: Vec<(&Attempt, &DeliveryUpdate)> = records.iter().map(|(a, u)| (a, u)).collect();
    let mut written = write(store, &refs).await;
    for _ in 0..RECORD_RETRIES_MAX {
        match &written {
            Err(StoreError::Postgres(error)) if error.code().is_some_and(retried) => {
                written = write(store, &refs).await;
            }
            _ => break,
        }
    }
    match written {
        Ok(failing_since) => {
            records.iter().map(|(attempt, _)| Ok(failing_since.get(&attempt.endpoint_id).copied().flatten())).collect()
        }
        Err(error) => {
            let (detail, unavailable) = (error.to_string(), error.is_unavailable());
            let each = || {
                if unavailable { StoreError::Unavailable(detail.clone()) } else { StoreError::Batch(detail.clone()) }
            };
            records.iter().map(|_| Err(each())).collect()
        }
    }
}

/// How many times a batch whose statement PostgreSQL aborted to break a deadlock or a
/// serialization failure is written again before its records fail (and their jobs go back to be
/// sent again: duplicates at the receivers).
const RECORD_RETRIES_MAX: usize = 2;

/// Whether a statement that failed with `code` is worth running again as it was.
fn retried(code: &SqlState) -> bool {
    *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE
}

/// One statement: insert the attempts, move their deliveries on, and fold each endpoint's
/// outcomes into its health (failing since the first failure after its last success; a failure
/// stored by an earlier batch still counts when it came after this batch's last success).
/// Endpoints' health rows are written in id order: two nodes' recorders write the same
/// endpoints' rows, and in an order each made up they deadlocked, PostgreSQL aborting one
/// batch (measured: two nodes, five endpoints, 300-950 deliveries sent twice per run of 40,000
/// messages).
///
/// A delivery's first outcome is an insert that becomes the update on the row it meets (under
/// the same lease rule): a delivery of the fan-out in flight has no row yet (`inflight.rs`), so
/// its row is written once, in its state after the attempt; one stored at accept, claimed, or
/// moved out of `deliveries_inflight` meanwhile is updated as any later outcome is. No insert is
/// made for an endpoint deleted meanwhile (its deliveries went with it). Inserted in id order, as
/// every writer of new delivery rows inserts them (`inflight.rs`), so two of them inserting the
/// same ids wait for each other instead of deadlocking; the latest of two first outcomes of one
/// delivery in a batch (a lease that lapsed while its record waited, claimed again) is the one
/// written.
const RECORD_SQL: &str = "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
    $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::bigint[], $11::text[], $12::bigint[], \
    $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bool[], $19::bigint[]) AS x(id, app_id, msg_id, \
    endpoint_id, delivery_id, url, status, code, response, duration, error_kind, trigger_type, created_at, new_status, \
    attempts, next_at, succeeded, delivery_created_at)), \
    inserted AS (INSERT INTO attempts (id, app_id, msg_id, endpoint_id, delivery_id, url, status, \
    response_status_code, response, response_duration_ms, error_kind, trigger_type, created_at) \
    SELECT id, app_id, msg_id, endpoint_id, delivery_id, url, status, code, response, duration, error_kind, \
    trigger_type, created_at FROM input), \
    moved AS (UPDATE deliveries d SET status = i.new_status, attempts = i.attempts, next_attempt_at = i.next_at, \
    lease_owner = NULL, lease_until = NULL, updated_at = i.created_at FROM input i WHERE d.id = i.delivery_id \
    AND i.attempts > 1 AND (d.lease_owner IS NULL OR d.lease_owner = $18)), \
    first AS (INSERT INTO deliveries AS d (id, app_id, msg_id, endpoint_id, status, attempts, next_attempt_at, \
    lease_owner, lease_until, trigger_type, created_at, updated_at, chunk) \
    SELECT DISTINCT ON (i.delivery_id COLLATE \"C\") i.delivery_id, i.app_id, i.msg_id, i.endpoint_id, i.new_status, i.attempts, \
    i.next_at, NULL, NULL, i.trigger_type, i.delivery_created_at, i.created_at, NULL FROM input i \
    WHERE i.attempts = 1 AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = i.endpoint_id) \
    ORDER BY i.delivery_id COLLATE \"C\", i.created_at DESC ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, attempts = EXCLUDED.attempts, \
    next_attempt_at = EXCLUDED.next_attempt_at, lease_owner = NULL, lease_until = NULL, \
    updated_at = EXCLUDED.updated_at WHERE d.lease_owner IS NULL OR d.lease_owner = $18), \
    last_success AS (SELECT endpoint_id, max(created_at) FILTER (WHERE succeeded) AS at FROM input \
    GROUP BY endpoint_id), \
    health AS (SELECT i.endpoint_id, s.at AS last_success, min(i.created_at) FILTER (WHERE NOT i.succeeded \
    AND (s.at IS NULL OR i.created_at >= s.at)) AS failing_since FROM input i JOIN last_success s USING (endpoint_id) \
    GROUP BY i.endpoint_id, s.at) \
    INSERT INTO endpoint_counters (endpoint_id, filter_errors, failing_since, last_success_at) \
    SELECT endpoint_id, 0, failing_since, last_success FROM health ORDER BY endpoint_id COLLATE \"C\" \
    ON CONFLICT (endpoint_id) DO UPDATE SET \
    failing_since = CASE WHEN EXCLUDED.last_success_at IS NOT NULL THEN least(EXCLUDED.failing_since, \
    CASE WHEN endpoint_counters.failing_since >= EXCLUDED.last_success_at THEN endpoint_counters.failing_since END) \
    ELSE coalesce(endpoint_counters.failing_since, EXCLUDED.failing_since) END, \
    last_success_at = greatest(EXCLUDED.last_success_at, endpoint_counters.last_success_at) \
    RETURNING endpoint_id, failing_since";

async fn write(
    store: &super::PgStore,
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
    let delivery_created = int(&|_, u| u.created_at);
    let client = store.client().await?;
    let node_id = &store.inner.node_id;
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
                &delivery_created,
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
