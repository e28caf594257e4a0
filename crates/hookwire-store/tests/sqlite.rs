//! Store checks on SQLite: atomic accept, idempotency, leases, attempts, group commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use hookwire_core::model::{Application, Attempt, Delivery, Endpoint, Message, Status, TriggerType};
use hookwire_core::{AppId, AttemptId, DeliveryId, EndpointId, MessageId};
use hookwire_store::prelude::*;
use hookwire_store::sqlite::{Durability, SqliteStore};
use hookwire_store::{Accept, Accepted, AttemptFilter, AttemptScope, DeliveryUpdate, Page, StoreError};

const NOW: i64 = 1_700_000_000_000;

struct Fixture {
    store: SqliteStore,
    app: Application,
    endpoint: Endpoint,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db").join("hookwire.db"), Durability::Disk).unwrap();
    let app = Application {
        id: AppId::generate(),
        uid: Some("acme".into()),
        name: "Acme".into(),
        throttle_rate: None,
        metadata: BTreeMap::new(),
        created_at: NOW,
        updated_at: NOW,
    };
    store.create_app(app.clone()).await.unwrap();
    let endpoint = Endpoint {
        id: EndpointId::generate(),
        app_id: app.id,
        uid: None,
        url: "https://example.com".into(),
        description: String::new(),
        disabled: false,
        event_types: None,
        channels: None,
        throttle_rate: None,
        metadata: BTreeMap::new(),
        secret: hookwire_core::signing::generate_secret(),
        previous_secrets: vec![],
        headers: BTreeMap::new(),
        sensitive_headers: vec![],
        retry_policy: None,
        timeout_ms: None,
        signature: None,
        filter: None,
        verification: None,
        unverified: false,
        envelope: Default::default(),
        chunking: None,
        idempotency_header: None,
        created_at: NOW,
        updated_at: NOW,
    };
    store.create_endpoint(endpoint.clone()).await.unwrap();
    Fixture { store, app, endpoint, _dir: dir }
}

fn message(app: AppId, event_id: Option<&str>) -> Message {
    Message {
        id: MessageId::generate(),
        app_id: app,
        event_type: "a.b".into(),
        event_id: event_id.map(Into::into),
        channels: None,
        tags: None,
        payload: Some("{}".into()),
        payload_expires_at: Some(NOW + 1_000),
        created_at: NOW,
    }
}

fn delivery(message: &Message, endpoint: EndpointId) -> Delivery {
    Delivery {
        id: DeliveryId::generate(),
        app_id: message.app_id,
        msg_id: message.id,
        endpoint_id: endpoint,
        status: Status::Pending,
        attempts: 0,
        next_attempt_at: Some(NOW),
        trigger: TriggerType::Scheduled,
        chunk: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

/// An attempt of delivery `d` answered with `code` and `response`, at `NOW`.
fn attempt(f: &Fixture, d: &Delivery, status: Status, code: u16, response: &str) -> Attempt {
    Attempt {
        id: AttemptId::generate(),
        app_id: f.app.id,
        msg_id: d.msg_id,
        endpoint_id: f.endpoint.id,
        delivery_id: d.id,
        url: f.endpoint.url.clone(),
        status,
        response_status_code: code,
        response: response.into(),
        response_duration_ms: 1,
        error_kind: None,
        trigger_type: TriggerType::Scheduled,
        timestamp: NOW,
    }
}

fn accept(message: Message, deliveries: Vec<Delivery>, key: Option<&str>) -> Accept {
    Accept { message, deliveries, leased_until: None, idempotency_key: key.map(Into::into) }
}

#[tokio::test]
async fn uniqueness_rules_are_conflicts() {
    let f = fixture().await;
    let mut twin = f.app.clone();
    twin.id = AppId::generate();
    assert!(matches!(f.store.create_app(twin).await, Err(StoreError::Conflict { what: "application uid" })));
    assert_eq!(f.store.get_app("acme").await.unwrap().unwrap().id, f.app.id);
    assert_eq!(f.store.get_app(&f.app.id.to_string()).await.unwrap().unwrap().uid.as_deref(), Some("acme"));
    f.store.accept_message(accept(message(f.app.id, Some("e1")), vec![], None)).await.unwrap();
    let again = f.store.accept_message(accept(message(f.app.id, Some("e1")), vec![], None)).await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })));
}

#[tokio::test]
async fn idempotency_key_returns_the_first_message_and_adds_no_deliveries() {
    let f = fixture().await;
    let first = message(f.app.id, None);
    let outcome =
        f.store.accept_message(accept(first.clone(), vec![delivery(&first, f.endpoint.id)], Some("k"))).await.unwrap();
    assert!(matches!(outcome, Accepted::Created));
    let second = message(f.app.id, None);
    match f
        .store
        .accept_message(accept(second.clone(), vec![delivery(&second, f.endpoint.id)], Some("k")))
        .await
        .unwrap()
    {
        Accepted::Existing(existing) => assert_eq!(existing.id, first.id),
        Accepted::Created => panic!("the key was seen before"),
    }
    assert!(f.store.get_message(f.app.id, second.id).await.unwrap().is_none());
    assert_eq!(f.store.endpoint_stats(f.endpoint.id).await.unwrap().pending, 1);
}

#[tokio::test]
async fn leased_deliveries_are_not_claimed_until_the_lease_lapses_or_is_released() {
    let f = fixture().await;
    let m = message(f.app.id, None);
    let leased =
        Accept { leased_until: Some(NOW + 60_000), ..accept(m.clone(), vec![delivery(&m, f.endpoint.id)], None) };
    f.store.accept_message(leased).await.unwrap();
    assert!(f.store.claim_due(NOW, NOW + 60_000, 10).await.unwrap().is_empty());
    assert_eq!(f.store.next_due_at(NOW).await.unwrap(), None);
    let claimed = f.store.claim_due(NOW + 60_000, NOW + 120_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "a lapsed lease is claimable");
    assert_eq!(claimed[0].endpoint.as_ref().unwrap().id, f.endpoint.id);
    assert!(f.store.claim_due(NOW + 60_000, NOW + 120_000, 10).await.unwrap().is_empty(), "claimed once");
    assert_eq!(f.store.release_all_leases().await.unwrap(), 1);
    assert_eq!(f.store.claim_due(NOW, NOW + 1, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn parked_deliveries_wait_for_release_and_are_never_leased() {
    let f = fixture().await;
    let m = message(f.app.id, None);
    let parked = Delivery { next_attempt_at: None, ..delivery(&m, f.endpoint.id) };
    let leased = Accept { leased_until: Some(NOW + 60_000), ..accept(m.clone(), vec![parked], None) };
    f.store.accept_message(leased).await.unwrap();
    assert!(f.store.claim_due(NOW + 120_000, NOW + 180_000, 10).await.unwrap().is_empty());
    assert_eq!(f.store.release_parked(f.endpoint.id, NOW).await.unwrap(), 1);
    let claimed = f.store.claim_due(NOW, NOW + 1_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "released deliveries are due at once, not behind a stale lease");
}

#[tokio::test]
async fn recording_an_attempt_moves_the_delivery_on() {
    let f = fixture().await;
    let m = message(f.app.id, None);
    let d = delivery(&m, f.endpoint.id);
    f.store.accept_message(accept(m.clone(), vec![d.clone()], None)).await.unwrap();
    let claimed = f.store.claim_due(NOW, NOW + 1_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let attempt = Attempt {
        error_kind: Some(hookwire_core::model::ErrorKind::Status),
        timestamp: NOW + 10,
        ..attempt(&f, &d, Status::Fail, 500, "no")
    };
    let update = DeliveryUpdate { status: Status::Pending, attempts: 1, next_attempt_at: Some(NOW + 5_000) };
    f.store.record_attempt(attempt.clone(), update).await.unwrap();
    assert_eq!(f.store.next_due_at(NOW).await.unwrap(), Some(NOW + 5_000));
    assert!(f.store.claim_due(NOW + 4_999, NOW + 9_999, 10).await.unwrap().is_empty());
    assert_eq!(f.store.claim_due(NOW + 5_000, NOW + 9_999, 10).await.unwrap()[0].delivery.attempts, 1);
    let page = Page { limit: 10, iterator: None, descending: true };
    let filter = AttemptFilter {
        scope: AttemptScope::Message(m.id),
        page,
        status: None,
        status_code_class: Some(500),
        endpoint: None,
        before: None,
        after: None,
    };
    assert_eq!(f.store.list_attempts(f.app.id, &filter).await.unwrap(), vec![attempt]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_all_committed() {
    const WRITERS: usize = 64;
    const EACH: usize = 20;
    let f = Arc::new(fixture().await);
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..EACH {
                let m = message(f.app.id, None);
                f.store.accept_message(accept(m.clone(), vec![delivery(&m, f.endpoint.id)], None)).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(f.store.endpoint_stats(f.endpoint.id).await.unwrap().pending, (WRITERS * EACH) as u64);
}

#[tokio::test]
async fn retention_purges_expired_payloads_and_old_responses_in_batches() {
    let f = fixture().await;
    for _ in 0..3 {
        let m = message(f.app.id, None);
        let d = delivery(&m, f.endpoint.id);
        f.store.accept_message(accept(m.clone(), vec![d.clone()], None)).await.unwrap();
        let attempt = attempt(&f, &d, Status::Success, 200, "a large receipt");
        f.store
            .record_attempt(attempt, DeliveryUpdate { status: Status::Success, attempts: 1, next_attempt_at: None })
            .await
            .unwrap();
    }
    assert_eq!(f.store.purge_expired(NOW + 999, NOW, 10).await.unwrap(), 0, "nothing is due yet");
    // Payloads expire at NOW + 1000; responses older than NOW + 1 go too. Batches of 2.
    assert_eq!(f.store.purge_expired(NOW + 1_000, NOW + 1, 2).await.unwrap(), 4);
    assert_eq!(f.store.purge_expired(NOW + 1_000, NOW + 1, 2).await.unwrap(), 2);
    assert_eq!(f.store.purge_expired(NOW + 1_000, NOW + 1, 2).await.unwrap(), 0);
    let page = Page { limit: 10, iterator: None, descending: true };
    let messages = f
        .store
        .list_messages(f.app.id, &hookwire_store::MessageFilter { page: page.clone(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(messages.len(), 3, "rows stay, only their content goes");
    assert!(messages.iter().all(|m| m.payload.is_none()));
    let filter = AttemptFilter {
        scope: AttemptScope::Endpoint(f.endpoint.id),
        page,
        status: None,
        status_code_class: None,
        endpoint: None,
        before: None,
        after: None,
    };
    assert!(f.store.list_attempts(f.app.id, &filter).await.unwrap().iter().all(|a| a.response.is_empty()));
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_the_key_is_checked_and_rotated() {
    use hookwire_core::crypto::{MainKey, generate_main_key};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookwire.db");
    let (first, second) = (generate_main_key(), generate_main_key());
    let store = SqliteStore::open_with_key(&path, Durability::Disk, Some(MainKey::parse(&first).unwrap())).unwrap();
    let f = fixture().await;
    let app = f.app.clone();
    store.create_app(app.clone()).await.unwrap();
    let mut endpoint = Endpoint { app_id: app.id, ..f.endpoint.clone() };
    endpoint.headers.insert("Authorization".into(), "Bearer hunter2".into());
    endpoint.sensitive_headers = vec!["Authorization".into()];
    store.create_endpoint(endpoint.clone()).await.unwrap();
    assert_eq!(store.get_endpoint(app.id, &endpoint.id.to_string()).await.unwrap().unwrap(), endpoint);
    drop(store);

    let mut raw = std::fs::read(&path).unwrap();
    raw.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
    let raw = String::from_utf8_lossy(&raw);
    assert!(!raw.contains(&endpoint.secret) && !raw.contains("hunter2"), "no secret in plaintext on disk");
    for key in [None, Some(second.as_str())] {
        let refused = SqliteStore::open_with_key(&path, Durability::Disk, key.map(|k| MainKey::parse(k).unwrap()));
        assert!(matches!(refused, Err(StoreError::Corrupt(ref m)) if m.contains("HOOKWIRE_MAIN_KEY")), "{key:?}");
    }

    let store = SqliteStore::open_with_key(&path, Durability::Disk, Some(MainKey::parse(&first).unwrap())).unwrap();
    assert_eq!(store.reseal_secrets(Some(MainKey::parse(&second).unwrap())).await.unwrap(), 1);
    drop(store);
    assert!(SqliteStore::open_with_key(&path, Durability::Disk, Some(MainKey::parse(&first).unwrap())).is_err());
    let store = SqliteStore::open_with_key(&path, Durability::Disk, Some(MainKey::parse(&second).unwrap())).unwrap();
    assert_eq!(store.get_endpoint(app.id, &endpoint.id.to_string()).await.unwrap().unwrap(), endpoint);
}

#[tokio::test]
async fn cached_configuration_follows_every_write() {
    let f = fixture().await;
    assert_eq!(f.store.app_endpoints(f.app.id).await.unwrap(), vec![f.endpoint.clone()]);
    assert_eq!(f.store.get_app("acme").await.unwrap().unwrap().name, "Acme");
    let changed = Endpoint { url: "https://example.org/new".into(), ..f.endpoint.clone() };
    f.store.update_endpoint(changed.clone()).await.unwrap();
    assert_eq!(f.store.app_endpoints(f.app.id).await.unwrap(), vec![changed]);
    assert!(f.store.disable_endpoint(f.endpoint.id, NOW).await.unwrap());
    assert!(f.store.app_endpoints(f.app.id).await.unwrap()[0].disabled);
    let renamed = Application { name: "Acme 2".into(), ..f.app.clone() };
    f.store.update_app(renamed).await.unwrap();
    assert_eq!(f.store.get_app("acme").await.unwrap().unwrap().name, "Acme 2");
    f.store.delete_endpoint(f.app.id, f.endpoint.id).await.unwrap();
    assert!(f.store.app_endpoints(f.app.id).await.unwrap().is_empty());
    f.store.delete_app(f.app.id).await.unwrap();
    assert!(f.store.get_app("acme").await.unwrap().is_none());
}

#[tokio::test]
async fn queue_depth_counts_pending_deliveries_by_when_they_can_go() {
    let f = fixture().await;
    let m = message(f.app.id, None);
    let later = Delivery { next_attempt_at: Some(NOW + 5_000), ..delivery(&m, f.endpoint.id) };
    let parked = Delivery { next_attempt_at: None, ..delivery(&m, f.endpoint.id) };
    let done = delivery(&m, f.endpoint.id);
    let deliveries = vec![delivery(&m, f.endpoint.id), later, parked, done.clone()];
    f.store.accept_message(accept(m, deliveries, None)).await.unwrap();
    let update = DeliveryUpdate { status: Status::Success, attempts: 1, next_attempt_at: None };
    f.store.record_attempt(attempt(&f, &done, Status::Success, 200, "ok"), update).await.unwrap();
    let depth = f.store.queue_depth(NOW).await.unwrap();
    assert_eq!((depth.due, depth.scheduled, depth.parked), (1, 1, 1), "a finished delivery is not queued");
    let depth = f.store.queue_depth(NOW + 5_000).await.unwrap();
    assert_eq!((depth.due, depth.scheduled, depth.parked), (2, 0, 1));
}

#[tokio::test]
async fn messages_filter_by_the_status_of_any_delivery() {
    let f = fixture().await;
    let delivered = message(f.app.id, None);
    let waiting = message(f.app.id, None);
    let delivery_done = delivery(&delivered, f.endpoint.id);
    f.store.accept_message(accept(delivered.clone(), vec![delivery_done.clone()], None)).await.unwrap();
    f.store.accept_message(accept(waiting.clone(), vec![delivery(&waiting, f.endpoint.id)], None)).await.unwrap();
    let attempt = attempt(&f, &delivery_done, Status::Success, 200, "ok");
    f.store
        .record_attempt(attempt, DeliveryUpdate { status: Status::Success, attempts: 1, next_attempt_at: None })
        .await
        .unwrap();
    let page = Page { limit: 10, iterator: None, descending: true };
    for (status, expected) in
        [(Status::Success, vec![delivered.id]), (Status::Pending, vec![waiting.id]), (Status::Fail, vec![])]
    {
        let filter = hookwire_store::MessageFilter { page: page.clone(), status: Some(status), ..Default::default() };
        let ids: Vec<_> = f.store.list_messages(f.app.id, &filter).await.unwrap().iter().map(|m| m.id).collect();
        assert_eq!(ids, expected, "{status:?}");
    }
}
