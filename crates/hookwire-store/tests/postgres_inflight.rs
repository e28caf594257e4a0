//! PostgreSQL's fan-out in flight (postgres/inflight.rs): a leased accept stores one
//! `deliveries_inflight` row per message instead of a row per delivery; every reader sees those
//! deliveries as pending under their lease, the first outcome writes each delivery's row once,
//! and leases keep their meaning (moved after a few seconds, taken over from a dead node, given
//! up at shutdown). Skipped without `HOOKWIRE_TEST_POSTGRES_URL`.

use std::sync::Arc;

use hookwire_core::model::{Application, Attempt, Delivery, Endpoint, Status, TriggerType};
use hookwire_core::{AppId, AttemptId, DeliveryId};
use hookwire_store::postgres::PgStore;
use hookwire_store::prelude::*;
use hookwire_store::{
    Accept, DeliveryUpdate, EndpointMessageFilter, MessageFilter, MessageMatch, Page, Release, Window,
};

#[path = "support/pg_schema.rs"]
mod pg_schema;
use pg_schema::{application, delivery, fresh_schema, message, now, raw};

/// A message to both endpoints, accepted leased to `store` until `lease_until` (as the intake
/// accepts what it hands straight to its workers).
async fn accept_leased(store: &PgStore, app: AppId, endpoints: [&Endpoint; 2], lease_until: i64) -> Vec<Delivery> {
    let m = message(app);
    let deliveries: Vec<Delivery> = endpoints.iter().map(|e| delivery(&m, e.id)).collect();
    let accept = Accept {
        message: Arc::new(m),
        deliveries: deliveries.clone(),
        leased_until: Some(lease_until),
        idempotency_key: None,
        filter_errors: Vec::new(),
    };
    store.accept_message(accept).await.unwrap();
    deliveries
}

fn attempt(d: &Delivery, status: Status) -> Attempt {
    Attempt {
        id: AttemptId::generate(),
        app_id: d.app_id,
        msg_id: d.msg_id,
        endpoint_id: d.endpoint_id,
        delivery_id: d.id,
        url: "https://example.com".into(),
        status,
        response_status_code: if status == Status::Success { 200 } else { 500 },
        response: String::new(),
        response_duration_ms: 3,
        error_kind: None,
        trigger_type: TriggerType::Scheduled,
        timestamp: now(),
    }
}

fn first_outcome(d: &Delivery, status: Status) -> DeliveryUpdate {
    DeliveryUpdate { status, attempts: 1, next_attempt_at: None, created_at: d.created_at }
}

struct Opened {
    url: String,
    store: PgStore,
    client: tokio_postgres::Client,
    app: Application,
    endpoints: [Endpoint; 2],
}

async fn opened() -> Option<Opened> {
    let url = fresh_schema().await?;
    let store = PgStore::open(&url, None, &Default::default()).await.unwrap();
    let client = raw(&url).await;
    let app = application();
    store.create_app(app.clone()).await.unwrap();
    let endpoint =
        || Endpoint::new(app.id, "https://example.com".into(), hookwire_core::signing::generate_secret(), now());
    let endpoints = [endpoint(), endpoint()];
    for e in &endpoints {
        store.create_endpoint(e.clone()).await.unwrap();
    }
    Some(Opened { url, store, client, app, endpoints })
}

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// The delivery's stored row: (status, attempts, lease owner, lease until), if it has one.
async fn row(client: &tokio_postgres::Client, d: &Delivery) -> Option<(i64, i64, Option<String>, Option<i64>)> {
    client
        .query_opt(
            "SELECT status, attempts, lease_owner, lease_until FROM deliveries WHERE id = $1",
            &[&d.id.to_string()],
        )
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
}

fn page() -> Page {
    Page { limit: 10, iterator: None, descending: true }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fanout_in_flight_reads_as_pending_and_each_row_is_written_once() {
    let Some(o) = opened().await else { return };
    let [e1, e2] = &o.endpoints;
    let lease_until = now() + 600_000;
    let deliveries = accept_leased(&o.store, o.app.id, [e1, e2], lease_until).await;
    let (d1, d2) = (&deliveries[0], &deliveries[1]);

    // Stored as one fan-out row, no delivery rows.
    assert_eq!(count(&o.client, "SELECT count(*) FROM deliveries_inflight").await, 1);
    assert_eq!(count(&o.client, "SELECT count(*) FROM deliveries").await, 0);

    // Every reader sees two pending deliveries under the lease.
    let listed = o.store.message_deliveries(d1.msg_id).await.unwrap();
    assert_eq!(listed.len(), 2);
    for (read, made) in listed.iter().zip({
        let mut made = deliveries.clone();
        made.sort_by_key(|d| d.id.to_string());
        made
    }) {
        assert_eq!(read, &made, "read back as made");
    }
    let depth = o.store.queue_depth(now() + 1).await.unwrap();
    assert_eq!((depth.due, depth.scheduled, depth.parked), (2, 0, 0));
    assert_eq!(o.store.count_pending(e1.id, 10).await.unwrap(), 1);
    let log = EndpointMessageFilter {
        matching: MessageMatch::default(),
        page: page(),
        status: Some(Status::Pending),
        before: None,
        after: None,
    };
    let listed = o.store.endpoint_messages(o.app.id, e1.id, &log).await.unwrap();
    assert_eq!(listed.iter().map(|(m, d)| (m.id, d.id)).collect::<Vec<_>>(), vec![(d1.msg_id, d1.id)]);
    let stats = o.store.endpoint_stats(e2.id, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!((stats.pending, stats.success), (1, 0));
    let pending = MessageFilter { status: Some(Status::Pending), page: page(), ..Default::default() };
    assert_eq!(o.store.list_messages(o.app.id, &pending).await.unwrap().len(), 1);
    let window = Window {
        app: o.app.id,
        endpoint: e2.id,
        since: i64::MIN,
        until: i64::MAX,
        after: None,
        matching: MessageMatch::default(),
    };
    let batch = o.store.window_batch(&window, 10).await.unwrap();
    assert_eq!(batch[0].1.iter().map(|d| d.id).collect::<Vec<_>>(), vec![d2.id]);
    // Leased: no claim takes them, and nothing is due for the poller.
    assert!(o.store.claim_due(now(), now() + 60_000, 10, &[]).await.unwrap().is_empty());
    assert_eq!(o.store.next_due_at(now(), &[]).await.unwrap(), None);

    // The first outcome inserts the row in its state after the attempt: one version, never updated.
    o.store.record_attempt(attempt(d1, Status::Success), first_outcome(d1, Status::Success)).await.unwrap();
    assert_eq!(row(&o.client, d1).await, Some((Status::Success.code(), 1, None, None)));
    assert_eq!(row(&o.client, d2).await, None, "the other is still in flight");
    let listed = o.store.message_deliveries(d1.msg_id).await.unwrap();
    let states: Vec<(DeliveryId, Status)> = listed.iter().map(|d| (d.id, d.status)).collect();
    assert!(states.contains(&(d1.id, Status::Success)) && states.contains(&(d2.id, Status::Pending)), "{states:?}");
    assert_eq!(listed.len(), 2, "no delivery read twice");
    assert_eq!(o.store.endpoint_stats(e1.id, i64::MIN, i64::MAX).await.unwrap().success, 1);

    // A later outcome updates the row it finds.
    let retried = DeliveryUpdate { status: Status::Pending, attempts: 2, next_attempt_at: Some(now()), created_at: 0 };
    o.store.record_attempt(attempt(d1, Status::Fail), retried).await.unwrap();
    assert_eq!(row(&o.client, d1).await.map(|r| (r.0, r.1)), Some((Status::Pending.code(), 2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fanout_in_flight_is_moved_under_its_lease_after_a_few_seconds() {
    let Some(o) = opened().await else { return };
    let [e1, e2] = &o.endpoints;
    let lease_until = now() + 600_000;
    let deliveries = accept_leased(&o.store, o.app.id, [e1, e2], lease_until).await;
    // One outcome comes first; the other delivery is still queued when the move runs.
    let d1 = &deliveries[0];
    o.store.record_attempt(attempt(d1, Status::Success), first_outcome(d1, Status::Success)).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while count(&o.client, "SELECT count(*) FROM deliveries_inflight").await > 0 {
        assert!(std::time::Instant::now() < deadline, "the fan-out row was never moved");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(row(&o.client, d1).await, Some((Status::Success.code(), 1, None, None)), "the outcome stands");
    let d2 = &deliveries[1];
    let owner = Some(o.store.node_id().to_owned());
    assert_eq!(row(&o.client, d2).await, Some((Status::Pending.code(), 0, owner, Some(lease_until))), "still leased");
    assert!(o.store.claim_due(now(), now() + 60_000, 10, &[]).await.unwrap().is_empty(), "the lease holds");
    // Its outcome, coming after the move, updates the moved row.
    o.store.record_attempt(attempt(d2, Status::Fail), first_outcome(d2, Status::Fail)).await.unwrap();
    assert_eq!(row(&o.client, d2).await, Some((Status::Fail.code(), 1, None, None)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_dead_nodes_fanout_in_flight_is_taken_over_at_once_and_a_lapsed_lease_by_the_claims_clock() {
    let Some(o) = opened().await else { return };
    let other = PgStore::open(&o.url, None, &Default::default()).await.unwrap();
    let [e1, e2] = &o.endpoints;
    let lease_until = now() + 600_000;
    let deliveries = accept_leased(&o.store, o.app.id, [e1, e2], lease_until).await;
    // A claim at the lease's end takes them (the claim's own clock, not the database's).
    let later = other.claim_due(lease_until, lease_until + 60_000, 10, &[]).await.unwrap();
    assert_eq!(later.len(), 2, "lapsed by the claim's clock");
    assert!(later.iter().all(|c| c.endpoint.id == c.delivery.endpoint_id), "each with its endpoint");

    // Another message; then its node dies without a word (its heartbeat stops and ages past the TTL).
    let deliveries_2 = accept_leased(&o.store, o.app.id, [e1, e2], lease_until).await;
    assert!(other.claim_due(now(), now() + 60_000, 10, &[]).await.unwrap().is_empty(), "its node is alive");
    let dead = o.store.node_id().to_owned();
    drop(o.store);
    o.client.execute("UPDATE nodes SET heartbeat_at = 0 WHERE id = $1", &[&dead]).await.unwrap();
    let due = other.next_due_at(now(), &[]).await.unwrap();
    assert!(due.is_some_and(|at| at <= now()), "due now: {due:?}");
    let claimed = other.claim_due(now(), now() + 60_000, 10, &[]).await.unwrap();
    let mut ids: Vec<DeliveryId> = claimed.iter().map(|c| c.delivery.id).collect();
    ids.sort();
    let mut expected: Vec<DeliveryId> = deliveries_2.iter().map(|d| d.id).collect();
    expected.sort();
    assert_eq!(ids, expected, "the dead node's deliveries, each once");
    assert!(deliveries.iter().all(|d| !ids.contains(&d.id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_release_writes_an_in_flight_delivery_only_under_its_lease() {
    let Some(o) = opened().await else { return };
    let [e1, e2] = &o.endpoints;
    let lease_until = now() + 600_000;
    let deliveries = accept_leased(&o.store, o.app.id, [e1, e2], lease_until).await;
    let d = &deliveries[0];
    let later = now() + 30_000;
    let release = |leased_until| Release {
        delivery: d.id,
        msg: d.msg_id,
        leased_until,
        update: DeliveryUpdate { status: Status::Pending, attempts: 0, next_attempt_at: Some(later), created_at: 0 },
    };
    assert_eq!(o.store.release_deliveries(vec![release(lease_until - 1)], now()).await.unwrap(), 0, "not its lease");
    assert_eq!(row(&o.client, d).await, None);
    assert_eq!(o.store.release_deliveries(vec![release(lease_until)], now()).await.unwrap(), 1);
    assert_eq!(row(&o.client, d).await, Some((Status::Pending.code(), 0, None, None)));
    assert_eq!(o.store.next_due_at(now(), &[]).await.unwrap(), Some(later), "unleased, due later");
    assert_eq!(o.store.claim_due(later, later + 60_000, 10, &[]).await.unwrap().len(), 1);
    assert_eq!(o.store.message_deliveries(d.msg_id).await.unwrap().len(), 2, "each delivery read once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_no_delivery_row_is_written_for_an_endpoint_deleted_meanwhile() {
    let Some(o) = opened().await else { return };
    let [e1, e2] = &o.endpoints;
    let deliveries = accept_leased(&o.store, o.app.id, [e1, e2], now() + 600_000).await;
    o.store.delete_endpoint(o.app.id, e2.id).await.unwrap();
    let gone = &deliveries[1];
    o.store.record_attempt(attempt(gone, Status::Success), first_outcome(gone, Status::Success)).await.unwrap();
    assert_eq!(row(&o.client, gone).await, None);
    let listed = o.store.message_deliveries(gone.msg_id).await.unwrap();
    assert_eq!(listed.iter().map(|d| d.id).collect::<Vec<_>>(), vec![deliveries[0].id], "read without it");
    // And the move drops it too.
    o.store.release_leases().await.unwrap();
    assert_eq!(count(&o.client, "SELECT count(*) FROM deliveries").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_node_shutting_down_hands_its_fanout_in_flight_to_its_peers() {
    let Some(o) = opened().await else { return };
    let other = PgStore::open(&o.url, None, &Default::default()).await.unwrap();
    let [e1, e2] = &o.endpoints;
    accept_leased(&o.store, o.app.id, [e1, e2], now() + 600_000).await;
    assert!(other.claim_due(now(), now() + 60_000, 10, &[]).await.unwrap().is_empty());
    o.store.release_leases().await.unwrap();
    assert_eq!(count(&o.client, "SELECT count(*) FROM deliveries_inflight").await, 0);
    assert_eq!(other.claim_due(now(), now() + 60_000, 10, &[]).await.unwrap().len(), 2, "unleased, due now");
}

/// Two first outcomes of one delivery in one batch (its lease lapsed while the first waited to
/// be recorded, and it was claimed and sent again): the batch is written, the later one stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_first_outcomes_of_one_delivery_in_a_batch_keep_the_later() {
    let Some(o) = opened().await else { return };
    let [e1, e2] = &o.endpoints;
    let deliveries = accept_leased(&o.store, o.app.id, [e1, e2], now() + 600_000).await;
    let d = &deliveries[0];
    let earlier = Attempt { timestamp: now() - 1_000, ..attempt(d, Status::Fail) };
    let retry = DeliveryUpdate { next_attempt_at: Some(now() + 60_000), ..first_outcome(d, Status::Pending) };
    let later = attempt(d, Status::Success);
    let recorded = o.store.record_attempts(vec![(earlier, retry), (later, first_outcome(d, Status::Success))]).await;
    assert!(recorded.iter().all(Result::is_ok), "{recorded:?}");
    assert_eq!(row(&o.client, d).await, Some((Status::Success.code(), 1, None, None)));
}

/// A delivery row left behind by a writer that raced its endpoint's deletion is deleted by the
/// claim that finds it, not claimed again every lease period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_claim_deletes_deliveries_whose_endpoint_is_gone() {
    let Some(o) = opened().await else { return };
    let [e1, e2] = &o.endpoints;
    let m = message(o.app.id);
    let deliveries = vec![delivery(&m, e1.id), delivery(&m, e2.id)];
    let accept = Accept {
        message: Arc::new(m),
        deliveries: deliveries.clone(),
        leased_until: None,
        idempotency_key: None,
        filter_errors: Vec::new(),
    };
    o.store.accept_message(accept).await.unwrap();
    // The endpoint goes, its delivery row stays (as a racing insert would leave it).
    o.client.execute("DELETE FROM endpoints WHERE id = $1", &[&e2.id.to_string()]).await.unwrap();
    let claimed = o.store.claim_due(now(), now() + 60_000, 10, &[]).await.unwrap();
    assert_eq!(claimed.iter().map(|c| c.delivery.id).collect::<Vec<_>>(), vec![deliveries[0].id]);
    assert_eq!(row(&o.client, &deliveries[1]).await, None, "deleted");
}

/// Deleting an application takes its fan-out in flight with it at once: nothing of it is read,
/// moved or claimed afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_deleting_an_application_takes_its_fanout_in_flight() {
    let Some(o) = opened().await else { return };
    let [e1, e2] = &o.endpoints;
    let deliveries = accept_leased(&o.store, o.app.id, [e1, e2], now() + 600_000).await;
    o.store.delete_app(o.app.id).await.unwrap();
    assert_eq!(count(&o.client, "SELECT count(*) FROM deliveries_inflight").await, 0);
    assert!(o.store.message_deliveries(deliveries[0].msg_id).await.unwrap().is_empty());
    assert_eq!(o.store.queue_depth(now() + 1).await.unwrap().due, 0);
}
