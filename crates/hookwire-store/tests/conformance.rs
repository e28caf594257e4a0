//! The store conformance suite: every check runs on SQLite, and on PostgreSQL when
//! `HOOKWIRE_TEST_POSTGRES_URL` is set (each test in a fresh schema). Atomic accept, idempotency,
//! leases, attempts, concurrency, retention, configuration reads after writes; then what only
//! a shared database has: several nodes claiming, a dead node's leases, shared flow state.

use std::collections::BTreeMap;
use std::sync::Arc;

use hookwire_core::destination::{
    ATTEMPTS_KEPT, Destination, DestinationAttempt, DestinationKind, DestinationStatus, FifoConfig, Progress,
};
use hookwire_core::model::{Application, Attempt, Delivery, Endpoint, ErrorKind, Message, Status, TriggerType};
use hookwire_core::task::{Task, TaskKind, TaskParams, TaskProgress, TaskStatus};
use hookwire_core::{AppId, AttemptId, DeliveryId, DestinationId, EndpointId, MessageId, TaskId};
use hookwire_store::postgres::PgStore;
use hookwire_store::prelude::*;
use hookwire_store::sqlite::{Durability, SqliteStore};
use hookwire_store::{
    Accept, Accepted, AppFilter, AttemptFilter, AttemptScope, DeliveryUpdate, MessageMatch, Page, ProgressSaved,
    RequestBegun, RequestKey, StoreError, StoredAnswer, TaskFilter, Window,
};

const NOW: i64 = 1_700_000_000_000;

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named check as `<name>::sqlite` and `<name>::postgres`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if super::postgres_url().is_some() {
                    super::$name(super::Backend::Postgres).await;
                } else {
                    eprintln!("skipped: set HOOKWIRE_TEST_POSTGRES_URL to run on PostgreSQL");
                }
            }
        }
    )*};
}

conformance!(
    uniqueness_rules_are_conflicts,
    idempotency_key_returns_the_first_message_and_adds_no_deliveries,
    leased_deliveries_are_not_claimed_until_the_lease_lapses_or_is_released,
    claims_skip_the_endpoints_they_are_told_to,
    parked_deliveries_wait_for_release_and_are_never_leased,
    recording_an_attempt_moves_the_delivery_on,
    concurrent_writers_are_all_committed,
    a_duplicate_event_id_among_concurrent_accepts_fails_only_itself,
    retention_purges_expired_payloads_and_old_responses_in_batches,
    configuration_reads_follow_every_write,
    lists_filter_and_page,
    queue_depth_counts_pending_deliveries_by_when_they_can_go,
    messages_filter_by_the_status_of_any_delivery,
    endpoint_health_is_failing_since_the_first_failure_after_the_last_success,
    a_claim_reads_each_message_once_for_all_its_deliveries,
    a_batch_of_attempts_folds_health_by_time_not_by_arrival,
    a_release_moves_a_delivery_only_under_the_lease_it_was_taken_with,
    a_message_is_found_by_its_event_id,
    tokens_are_kept_by_hash_expired_by_application_and_purged,
    a_task_is_leased_to_one_runner_and_released_by_its_last_save,
    a_task_window_is_read_in_batches_with_each_messages_deliveries,
    applications_are_listed_without_those_excluded_by_their_endpoints,
    destinations_are_kept_and_their_consumers_positions_with_them,
    the_message_log_is_read_in_order_without_gaps_under_concurrent_writers,
    activity_adds_up_by_minute_and_hour_per_scope_and_is_purged_by_age,
    endpoints_loaded_for_use_carry_their_applications_rate,
    a_request_key_gives_its_first_answer_again_and_holds_against_other_requests,
);

fn postgres_url() -> Option<String> {
    std::env::var("HOOKWIRE_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())
}

/// A URL of a fresh, empty PostgreSQL schema.
async fn fresh_postgres() -> String {
    let base = postgres_url().expect("HOOKWIRE_TEST_POSTGRES_URL");
    let schema = format!("hw_test_{}", uuid_like());
    hookwire_store::postgres::url_with_fresh_schema(&base, &schema).await.unwrap()
}

fn uuid_like() -> String {
    MessageId::generate().to_string().trim_start_matches("msg_").to_lowercase()
}

struct Fixture {
    store: Arc<dyn Store>,
    app: Application,
    endpoint: Endpoint,
    _dir: Option<tempfile::TempDir>,
}

async fn open(backend: Backend) -> (Arc<dyn Store>, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(&dir.path().join("db").join("hookwire.db"), Durability::Disk).unwrap();
            (Arc::new(store), Some(dir))
        }
        Backend::Postgres => {
            (Arc::new(PgStore::open(&fresh_postgres().await, None, &Default::default()).await.unwrap()), None)
        }
    }
}

async fn fixture(backend: Backend) -> Fixture {
    let (store, dir) = open(backend).await;
    let app = application();
    store.create_app(app.clone()).await.unwrap();
    let endpoint = endpoint(app.id);
    store.create_endpoint(endpoint.clone()).await.unwrap();
    Fixture { store, app, endpoint, _dir: dir }
}

fn application() -> Application {
    Application {
        id: AppId::generate(),
        uid: Some("acme".into()),
        name: "Acme".into(),
        throttle_rate: None,
        metadata: BTreeMap::new(),
        created_at: NOW,
        updated_at: NOW,
    }
}

fn endpoint(app: AppId) -> Endpoint {
    Endpoint::new(app, "https://example.com".into(), hookwire_core::signing::generate_secret(), NOW)
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
        content_type: None,
        deliver_at: None,
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
    Accept {
        message: Arc::new(message),
        deliveries,
        leased_until: None,
        idempotency_key: key.map(Into::into),
        filter_errors: Vec::new(),
    }
}

async fn uniqueness_rules_are_conflicts(backend: Backend) {
    let f = fixture(backend).await;
    let mut twin = f.app.clone();
    twin.id = AppId::generate();
    assert!(matches!(f.store.create_app(twin).await, Err(StoreError::Conflict { what: "application uid" })));
    assert_eq!(f.store.get_app("acme").await.unwrap().unwrap().id, f.app.id);
    assert_eq!(f.store.get_app(&f.app.id.to_string()).await.unwrap().unwrap().uid.as_deref(), Some("acme"));
    f.store.accept_message(accept(message(f.app.id, Some("e1")), vec![], None)).await.unwrap();
    let again = f.store.accept_message(accept(message(f.app.id, Some("e1")), vec![], None)).await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })));
}

async fn idempotency_key_returns_the_first_message_and_adds_no_deliveries(backend: Backend) {
    let f = fixture(backend).await;
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
    assert_eq!(f.store.endpoint_stats(f.endpoint.id, i64::MIN, i64::MAX).await.unwrap().pending, 1);
}

async fn leased_deliveries_are_not_claimed_until_the_lease_lapses_or_is_released(backend: Backend) {
    let f = fixture(backend).await;
    let m = message(f.app.id, None);
    let leased =
        Accept { leased_until: Some(NOW + 60_000), ..accept(m.clone(), vec![delivery(&m, f.endpoint.id)], None) };
    f.store.accept_message(leased).await.unwrap();
    assert!(f.store.claim_due(NOW, NOW + 60_000, 10, &[]).await.unwrap().is_empty());
    assert_eq!(f.store.next_due_at(NOW, &[]).await.unwrap(), None);
    let claimed = f.store.claim_due(NOW + 60_000, NOW + 120_000, 10, &[]).await.unwrap();
    assert_eq!(claimed.len(), 1, "a lapsed lease is claimable");
    assert_eq!(claimed[0].endpoint.id, f.endpoint.id);
    assert!(f.store.claim_due(NOW + 60_000, NOW + 120_000, 10, &[]).await.unwrap().is_empty(), "claimed once");
    assert_eq!(f.store.release_leases().await.unwrap(), 1);
    assert_eq!(f.store.claim_due(NOW, NOW + 1, 10, &[]).await.unwrap().len(), 1);
}

/// The poller skips endpoints whose queue in memory is full: their due work stays in the store,
/// unclaimed, and is not reported as due.
async fn claims_skip_the_endpoints_they_are_told_to(backend: Backend) {
    let f = fixture(backend).await;
    let other = endpoint(f.app.id);
    f.store.create_endpoint(other.clone()).await.unwrap();
    for (endpoint, due) in [(f.endpoint.id, NOW), (other.id, NOW + 1_000)] {
        let m = message(f.app.id, None);
        let mut d = delivery(&m, endpoint);
        d.next_attempt_at = Some(due);
        f.store.accept_message(accept(m.clone(), vec![d], None)).await.unwrap();
    }
    let later = NOW + 2_000;
    assert_eq!(f.store.next_due_at(later, &[f.endpoint.id]).await.unwrap(), Some(NOW + 1_000));
    assert_eq!(f.store.next_due_at(later, &[f.endpoint.id, other.id]).await.unwrap(), None);
    assert!(f.store.claim_due(later, later + 60_000, 10, &[f.endpoint.id, other.id]).await.unwrap().is_empty());
    let claimed = f.store.claim_due(later, later + 60_000, 10, &[f.endpoint.id]).await.unwrap();
    assert_eq!(claimed.iter().map(|c| c.delivery.endpoint_id).collect::<Vec<_>>(), [other.id]);
    assert_eq!(f.store.next_due_at(later, &[]).await.unwrap(), Some(NOW), "the skipped one is still due");
    let claimed = f.store.claim_due(later, later + 60_000, 10, &[]).await.unwrap();
    assert_eq!(claimed.iter().map(|c| c.delivery.endpoint_id).collect::<Vec<_>>(), [f.endpoint.id]);
}

fn task(app: AppId, endpoint: EndpointId, kind: TaskKind) -> Task {
    Task {
        id: TaskId::generate(),
        app_id: app,
        kind,
        status: TaskStatus::Running,
        params: TaskParams {
            endpoint_id: endpoint,
            since: NOW - 1,
            until: NOW + 1,
            event_types: Vec::new(),
            channel: None,
            tag: None,
            status: None,
            status_code_class: None,
            dry_run: false,
        },
        progress: TaskProgress::default(),
        position: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

async fn a_task_is_leased_to_one_runner_and_released_by_its_last_save(backend: Backend) {
    let f = fixture(backend).await;
    let mut first = task(f.app.id, f.endpoint.id, TaskKind::EndpointReplay);
    let second = task(f.app.id, f.endpoint.id, TaskKind::EndpointRecover);
    f.store.insert_task(first.clone()).await.unwrap();
    f.store.insert_task(second.clone()).await.unwrap();
    let claimed = f.store.claim_task(NOW, NOW + 60_000).await.unwrap().unwrap();
    assert_eq!(claimed, first, "oldest first, as stored");
    assert_eq!(f.store.claim_task(NOW, NOW + 60_000).await.unwrap().unwrap().id, second.id);
    assert!(f.store.claim_task(NOW, NOW + 60_000).await.unwrap().is_none(), "both leased");
    first.progress.messages_sent = 7;
    first.position = Some(MessageId::generate());
    first.updated_at = NOW + 5;
    assert!(f.store.save_task(&first, None).await.unwrap());
    let resumed = f.store.claim_task(NOW, NOW + 60_000).await.unwrap().unwrap();
    assert_eq!(resumed, first, "released with its progress and position");
    first.status = TaskStatus::Finished;
    assert!(f.store.save_task(&first, None).await.unwrap());
    assert!(
        f.store.claim_task(NOW + 120_000, NOW + 180_000).await.unwrap().map(|t| t.id) == Some(second.id),
        "a lapsed lease is claimable; a finished task is not"
    );
    let listed = |filter: TaskFilter| {
        let store = f.store.clone();
        async move { store.list_tasks(&filter).await.unwrap().into_iter().map(|t| t.id).collect::<Vec<_>>() }
    };
    let page = Page { limit: 10, iterator: None, descending: true };
    assert_eq!(listed(TaskFilter { page: page.clone(), ..Default::default() }).await, vec![second.id, first.id]);
    let finished = TaskFilter { page: page.clone(), status: Some(TaskStatus::Finished), ..Default::default() };
    assert_eq!(listed(finished).await, vec![first.id]);
    let recover = TaskFilter { page: page.clone(), kind: Some(TaskKind::EndpointRecover), ..Default::default() };
    assert_eq!(listed(recover).await, vec![second.id]);
    let elsewhere = TaskFilter { page: page.clone(), app: Some(AppId::generate()), ..Default::default() };
    assert!(listed(elsewhere).await.is_empty());
    // Retention: a task that ended before the cut goes; a running one stays however old.
    assert_eq!(f.store.purge_tasks(NOW + 5).await.unwrap(), 0, "ended at the cut, not before");
    assert_eq!(f.store.purge_tasks(NOW + 6).await.unwrap(), 1);
    assert_eq!(listed(TaskFilter { page, ..Default::default() }).await, vec![second.id], "the running one stays");
    assert!(f.store.get_task(first.id).await.unwrap().is_none());
}

async fn a_task_window_is_read_in_batches_with_each_messages_deliveries(backend: Backend) {
    let f = fixture(backend).await;
    let other = endpoint(f.app.id);
    f.store.create_endpoint(other.clone()).await.unwrap();
    let mut ids = Vec::new();
    let mut failed = Vec::new();
    for n in 0..5 {
        let mut m = message(f.app.id, None);
        m.tags = (n % 2 == 0).then(|| vec!["even".to_owned()]);
        let mut mine = delivery(&m, f.endpoint.id);
        if n == 1 {
            mine.status = Status::Fail;
            failed.push(mine.id);
        }
        let deliveries = if n == 4 { vec![delivery(&m, other.id)] } else { vec![mine, delivery(&m, other.id)] };
        ids.push(m.id);
        f.store.accept_message(accept(m, deliveries, None)).await.unwrap();
    }
    let mut window = Window {
        app: f.app.id,
        endpoint: f.endpoint.id,
        since: NOW,
        until: NOW + 1,
        after: None,
        matching: MessageMatch::default(),
    };
    let first = f.store.window_batch(&window, 3).await.unwrap();
    assert_eq!(first.iter().map(|(m, _)| m.id).collect::<Vec<_>>(), ids[..3]);
    assert!(first.iter().all(|(_, d)| d.len() == 1 && d[0].endpoint_id == f.endpoint.id), "only this endpoint's");
    window.after = Some(ids[2]);
    let rest = f.store.window_batch(&window, 3).await.unwrap();
    assert_eq!(rest.iter().map(|(m, _)| m.id).collect::<Vec<_>>(), ids[3..]);
    assert!(rest[1].1.is_empty(), "message 4 never went to this endpoint");
    window.after = None;
    window.matching.tag = Some("even".into());
    let even = f.store.window_batch(&window, 10).await.unwrap();
    assert_eq!(even.iter().map(|(m, _)| m.id).collect::<Vec<_>>(), vec![ids[0], ids[2], ids[4]]);
    window.until = NOW;
    assert!(f.store.window_batch(&window, 10).await.unwrap().is_empty(), "until is exclusive");

    assert_eq!(f.store.count_pending(f.endpoint.id, 100).await.unwrap(), 3);
    assert_eq!(f.store.count_pending(f.endpoint.id, 2).await.unwrap(), 2, "counted no further than the cap");
    assert_eq!(f.store.rearm_failed(failed.clone(), NOW + 10).await.unwrap(), 1);
    assert_eq!(f.store.rearm_failed(failed, NOW + 10).await.unwrap(), 0, "no longer failed");
    assert_eq!(f.store.count_pending(f.endpoint.id, 100).await.unwrap(), 4);
}

async fn applications_are_listed_without_those_excluded_by_their_endpoints(backend: Backend) {
    let f = fixture(backend).await; // "acme", with one enabled endpoint
    let named = |uid: &str| Application { id: AppId::generate(), uid: Some(uid.into()), ..application() };
    let (empty, disabled, play) = (named("empty"), named("disabled"), named("play"));
    for app in [&empty, &disabled, &play] {
        f.store.create_app(app.clone()).await.unwrap();
    }
    f.store.create_endpoint(Endpoint { disabled: true, ..endpoint(disabled.id) }).await.unwrap();
    f.store
        .create_endpoint(Endpoint { url: "https://play.svix.com/in/e_1/".into(), ..endpoint(play.id) })
        .await
        .unwrap();
    let uids = |filter: AppFilter| {
        let store = f.store.clone();
        async move {
            let mut uids: Vec<String> =
                store.list_apps(&filter).await.unwrap().into_iter().filter_map(|a| a.uid).collect();
            uids.sort();
            uids
        }
    };
    let page = Page { limit: 10, iterator: None, descending: false };
    let all = AppFilter { page, ..Default::default() };
    assert_eq!(uids(all.clone()).await, ["acme", "disabled", "empty", "play"]);
    let with_endpoints = AppFilter { exclude_without_endpoints: true, ..all.clone() };
    assert_eq!(uids(with_endpoints).await, ["acme", "disabled", "play"]);
    let none_disabled = AppFilter { exclude_with_disabled_endpoints: true, ..all.clone() };
    assert_eq!(uids(none_disabled).await, ["acme", "empty", "play"]);
    let no_play = AppFilter { exclude_with_play_endpoints: true, ..all };
    assert_eq!(uids(no_play).await, ["acme", "disabled", "empty"]);
}

async fn a_release_moves_a_delivery_only_under_the_lease_it_was_taken_with(backend: Backend) {
    let f = fixture(backend).await;
    let m = message(f.app.id, None);
    let d = delivery(&m, f.endpoint.id);
    let first_lease = NOW + 60_000;
    f.store
        .accept_message(Accept { leased_until: Some(first_lease), ..accept(m.clone(), vec![d.clone()], None) })
        .await
        .unwrap();
    // The lease lapses and the delivery is claimed again, under a newer lease.
    let claimed = f.store.claim_due(first_lease, first_lease + 60_000, 10, &[]).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let defer = |leased_until| hookwire_store::Release {
        delivery: d.id,
        msg: m.id,
        leased_until,
        update: DeliveryUpdate {
            status: Status::Pending,
            attempts: 0,
            next_attempt_at: Some(NOW + 999_000),
            created_at: NOW,
        },
    };
    // The copy taken under the first lease cannot move it: the newer claim holds.
    assert_eq!(f.store.release_deliveries(vec![defer(first_lease)], first_lease).await.unwrap(), 0);
    assert_eq!(f.store.next_due_at(first_lease + 1, &[]).await.unwrap(), None, "still leased to the newer claim");
    // The holder of the newer lease can.
    assert_eq!(f.store.release_deliveries(vec![defer(first_lease + 60_000)], first_lease).await.unwrap(), 1);
    assert_eq!(f.store.next_due_at(first_lease + 1, &[]).await.unwrap(), Some(NOW + 999_000), "unleased, due later");
}

async fn tokens_are_kept_by_hash_expired_by_application_and_purged(backend: Backend) {
    use hookwire_core::access::{Capabilities, IssuedToken, TokenKind};
    let f = fixture(backend).await;
    let token = |hash: &str, session: Option<&str>| IssuedToken {
        hash: hash.into(),
        kind: TokenKind::App,
        app_id: Some(f.app.id),
        capabilities: Capabilities::READ_ONLY,
        session_id: session.map(Into::into),
        feature_flags: vec!["beta".into()],
        admin_hash: None,
        created_at: NOW,
        expires_at: NOW + 1_000_000,
    };
    for (hash, session) in [("h1", Some("s1")), ("h2", Some("s2")), ("h3", None)] {
        f.store.insert_token(token(hash, session)).await.unwrap();
    }
    assert_eq!(f.store.get_token("h1").await.unwrap(), Some(token("h1", Some("s1"))));
    assert_eq!(f.store.expire_app_tokens(f.app.id, Some(vec!["s1".into()]), NOW + 10).await.unwrap(), 1);
    assert_eq!(f.store.get_token("h1").await.unwrap().unwrap().expires_at, NOW + 10);
    assert_eq!(f.store.get_token("h2").await.unwrap().unwrap().expires_at, NOW + 1_000_000, "another session");
    assert_eq!(f.store.expire_app_tokens(f.app.id, None, NOW + 20).await.unwrap(), 2, "never lengthened");
    assert!(f.store.delete_token("h3").await.unwrap());
    assert!(!f.store.delete_token("h3").await.unwrap());
    assert_eq!(f.store.purge_expired_tokens(NOW + 15).await.unwrap(), 1);
    assert!(f.store.get_token("h1").await.unwrap().is_none());
    assert!(f.store.get_token("h2").await.unwrap().is_some());
}

async fn a_message_is_found_by_its_event_id(backend: Backend) {
    let f = fixture(backend).await;
    let m = message(f.app.id, Some("order-42"));
    f.store.accept_message(accept(m.clone(), vec![], None)).await.unwrap();
    let found = f.store.get_message_by_event_id(f.app.id, "order-42").await.unwrap();
    assert_eq!(found.map(|found| found.id), Some(m.id));
    assert!(f.store.get_message_by_event_id(f.app.id, "order-43").await.unwrap().is_none());
    assert!(f.store.get_message_by_event_id(AppId::generate(), "order-42").await.unwrap().is_none(), "per application");
}

async fn parked_deliveries_wait_for_release_and_are_never_leased(backend: Backend) {
    let f = fixture(backend).await;
    let m = message(f.app.id, None);
    let parked = Delivery { next_attempt_at: None, ..delivery(&m, f.endpoint.id) };
    let leased = Accept { leased_until: Some(NOW + 60_000), ..accept(m.clone(), vec![parked], None) };
    f.store.accept_message(leased).await.unwrap();
    assert_eq!(f.store.next_due_at(NOW, &[]).await.unwrap(), None, "parked work is not due");
    assert!(f.store.claim_due(NOW + 120_000, NOW + 180_000, 10, &[]).await.unwrap().is_empty());
    assert_eq!(f.store.release_parked(f.endpoint.id, NOW).await.unwrap(), 1);
    let claimed = f.store.claim_due(NOW, NOW + 1_000, 10, &[]).await.unwrap();
    assert_eq!(claimed.len(), 1, "released deliveries are due at once, not behind a stale lease");
}

async fn recording_an_attempt_moves_the_delivery_on(backend: Backend) {
    let f = fixture(backend).await;
    let m = message(f.app.id, None);
    let d = delivery(&m, f.endpoint.id);
    f.store.accept_message(accept(m.clone(), vec![d.clone()], None)).await.unwrap();
    let claimed = f.store.claim_due(NOW, NOW + 1_000, 10, &[]).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let attempt = Attempt {
        error_kind: Some(hookwire_core::model::ErrorKind::Status),
        timestamp: NOW + 10,
        ..attempt(&f, &d, Status::Fail, 500, "no")
    };
    let update =
        DeliveryUpdate { status: Status::Pending, attempts: 1, next_attempt_at: Some(NOW + 5_000), created_at: NOW };
    f.store.record_attempt(attempt.clone(), update).await.unwrap();
    assert_eq!(f.store.next_due_at(NOW, &[]).await.unwrap(), Some(NOW + 5_000));
    assert!(f.store.claim_due(NOW + 4_999, NOW + 9_999, 10, &[]).await.unwrap().is_empty());
    assert_eq!(f.store.claim_due(NOW + 5_000, NOW + 9_999, 10, &[]).await.unwrap()[0].delivery.attempts, 1);
    let page = Page { limit: 10, iterator: None, descending: true };
    let filter = AttemptFilter {
        matching: MessageMatch::default(),
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

/// Accepts written together (PostgreSQL's writer puts concurrent accepts in one statement): the
/// ones repeating an eventId already taken fail alone, with a conflict, and every other one is
/// committed.
async fn a_duplicate_event_id_among_concurrent_accepts_fails_only_itself(backend: Backend) {
    const ACCEPTS: usize = 96;
    const SAME_EVENT: usize = 6;
    let f = Arc::new(fixture(backend).await);
    let first = message(f.app.id, Some("order-7"));
    f.store.accept_message(accept(first.clone(), vec![delivery(&first, f.endpoint.id)], None)).await.unwrap();
    let tasks: Vec<_> = (0..ACCEPTS)
        .map(|n| {
            let f = f.clone();
            let event_id = if n % (ACCEPTS / SAME_EVENT) == 0 { "order-7".to_owned() } else { format!("order-n{n}") };
            tokio::spawn(async move {
                let m = message(f.app.id, Some(&event_id));
                f.store.accept_message(accept(m.clone(), vec![delivery(&m, f.endpoint.id)], None)).await
            })
        })
        .collect();
    let (mut accepted, mut conflicts) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(StoreError::Conflict { .. }) => conflicts += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((accepted, conflicts), (ACCEPTS - SAME_EVENT, SAME_EVENT));
    let pending = f.store.endpoint_stats(f.endpoint.id, i64::MIN, i64::MAX).await.unwrap().pending;
    assert_eq!(pending, (ACCEPTS - SAME_EVENT + 1) as u64, "every accept that was answered Ok is stored");
    let found = f.store.get_message_by_event_id(f.app.id, "order-7").await.unwrap().unwrap();
    assert_eq!(found.id, first.id, "the first one keeps its eventId");
}

async fn concurrent_writers_are_all_committed(backend: Backend) {
    const WRITERS: usize = 64;
    const EACH: usize = 20;
    let f = Arc::new(fixture(backend).await);
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
    assert_eq!(
        f.store.endpoint_stats(f.endpoint.id, i64::MIN, i64::MAX).await.unwrap().pending,
        (WRITERS * EACH) as u64
    );
}

async fn retention_purges_expired_payloads_and_old_responses_in_batches(backend: Backend) {
    let f = fixture(backend).await;
    for _ in 0..3 {
        let m = message(f.app.id, None);
        let d = delivery(&m, f.endpoint.id);
        f.store.accept_message(accept(m.clone(), vec![d.clone()], None)).await.unwrap();
        let attempt = attempt(&f, &d, Status::Success, 200, "a large receipt");
        f.store
            .record_attempt(
                attempt,
                DeliveryUpdate { status: Status::Success, attempts: 1, next_attempt_at: None, created_at: NOW },
            )
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
        matching: MessageMatch::default(),
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
async fn sqlite_secrets_are_sealed_at_rest_and_the_key_is_checked_and_rotated() {
    use hookwire_core::crypto::{MainKey, generate_main_key};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookwire.db");
    let (first, second) = (generate_main_key(), generate_main_key());
    let store = SqliteStore::open_with_key(&path, Durability::Disk, Some(MainKey::parse(&first).unwrap())).unwrap();
    let f = fixture(Backend::Sqlite).await;
    let app = f.app.clone();
    store.create_app(app.clone()).await.unwrap();
    let mut endpoint = Endpoint { app_id: app.id, ..f.endpoint.clone() };
    endpoint.headers.insert("Authorization".into(), "Bearer hunter2".into());
    endpoint.sensitive_headers = vec!["Authorization".into()];
    store.create_endpoint(endpoint.clone()).await.unwrap();
    assert_eq!(store.get_endpoint(app.id, &endpoint.id.to_string()).await.unwrap().unwrap(), endpoint);
    // A FIFO destination's key and header values are sealed the same way.
    let mut fifo = destination(app.id, Some("ledger"), "0".into());
    fifo.kind = DestinationKind::FifoEndpoint;
    let headers = BTreeMap::from([("X-Api-Key".to_owned(), "swordfish".to_owned())]);
    fifo.config = Some(FifoConfig {
        url: "https://x.example".into(),
        headers,
        secret: "whsec_c2VjcmV0LWtleS1vZi10aGUtZmlmbw==".into(),
    });
    store.create_destination(fifo.clone()).await.unwrap();
    let read = store.get_destination(app.id, "ledger").await.unwrap().unwrap();
    assert_eq!(read.config, fifo.config);
    drop(store);

    let mut raw = std::fs::read(&path).unwrap();
    raw.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
    let raw = String::from_utf8_lossy(&raw);
    assert!(!raw.contains(&endpoint.secret) && !raw.contains("hunter2"), "no secret in plaintext on disk");
    assert!(!raw.contains("c2VjcmV0LWtleS1vZi10aGUtZmlmbw") && !raw.contains("swordfish"), "nor a destination's");
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
    assert_eq!(store.get_destination(app.id, "ledger").await.unwrap().unwrap().config, fifo.config, "resealed too");
}

async fn configuration_reads_follow_every_write(backend: Backend) {
    let f = fixture(backend).await;
    assert_eq!(f.store.app_endpoints(f.app.id).await.unwrap(), vec![Arc::new(f.endpoint.clone())]);
    assert_eq!(f.store.get_app("acme").await.unwrap().unwrap().name, "Acme");
    let changed = Endpoint { url: "https://example.org/new".into(), ..f.endpoint.clone() };
    f.store.update_endpoint(changed.clone()).await.unwrap();
    assert_eq!(f.store.app_endpoints(f.app.id).await.unwrap(), vec![Arc::new(changed)]);
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

/// Svix: an application's rate applies to each endpoint without its own. Every load that feeds
/// delivery (an application's endpoints, a claim, one endpoint for a resend) carries it, and
/// follows a change to the application.
async fn endpoints_loaded_for_use_carry_their_applications_rate(backend: Backend) {
    let f = fixture(backend).await;
    assert_eq!(f.store.app_endpoints(f.app.id).await.unwrap()[0].app_throttle_rate, None);
    f.store.update_app(Application { throttle_rate: Some(7), ..f.app.clone() }).await.unwrap();
    assert_eq!(f.store.app_endpoints(f.app.id).await.unwrap()[0].app_throttle_rate, Some(7), "cached copy dropped");
    let one = f.store.get_endpoint(f.app.id, &f.endpoint.id.to_string()).await.unwrap().unwrap();
    assert_eq!((one.app_throttle_rate, one.send_rate()), (Some(7), Some(7)));
    let m = message(f.app.id, None);
    f.store.accept_message(accept(m.clone(), vec![delivery(&m, f.endpoint.id)], None)).await.unwrap();
    let claimed = f.store.claim_due(NOW, NOW + 1_000, 10, &[]).await.unwrap();
    assert_eq!(claimed[0].endpoint.app_throttle_rate, Some(7));
    f.store.update_endpoint(Endpoint { throttle_rate: Some(2), ..one }).await.unwrap();
    let stored = f.store.app_endpoints(f.app.id).await.unwrap();
    assert_eq!(stored[0].send_rate(), Some(2), "the endpoint's own rate overrides");
    let listed = f.store.list_endpoints(f.app.id, &Page { limit: 10, ..Page::default() }).await.unwrap();
    assert_eq!(listed[0].throttle_rate, Some(2), "the application's rate is never stored as the endpoint's");
}

async fn a_request_key_gives_its_first_answer_again_and_holds_against_other_requests(backend: Backend) {
    let f = fixture(backend).await;
    let key =
        |fingerprint: &str| RequestKey { scope: "admin".into(), key: "k1".into(), fingerprint: fingerprint.into() };
    let begin = |key: RequestKey, now: i64| {
        let store = f.store.clone();
        async move { store.begin_request(&key, now, now - 120_000, now - 86_400_000).await.unwrap() }
    };
    assert_eq!(begin(key("a"), NOW).await, RequestBegun::Run);
    assert_eq!(begin(key("a"), NOW + 1).await, RequestBegun::InProgress);
    assert_eq!(begin(key("b"), NOW + 1).await, RequestBegun::Mismatch);
    let other_scope = RequestKey { scope: f.app.id.to_string(), ..key("b") };
    assert_eq!(begin(other_scope, NOW + 1).await, RequestBegun::Run, "keys are per caller");
    let answer = StoredAnswer { status: 201, body: r#"{"id":"app_1"}"#.into() };
    f.store.finish_request(&key("a"), NOW, Some(answer.clone())).await.unwrap();
    assert_eq!(begin(key("a"), NOW + 2).await, RequestBegun::Replay(answer.clone()));
    assert_eq!(begin(key("b"), NOW + 2).await, RequestBegun::Mismatch, "a finished key still refuses another request");
    // A first request that failed lets its key go: the retry runs.
    let k2 = RequestKey { key: "k2".into(), ..key("a") };
    assert_eq!(begin(k2.clone(), NOW).await, RequestBegun::Run);
    f.store.finish_request(&k2, NOW, None).await.unwrap();
    assert_eq!(begin(k2.clone(), NOW + 1).await, RequestBegun::Run);
    // Its node stopped: held past the bound, the key is taken over (by the same request only),
    // and the first holder can no longer finish it.
    assert_eq!(
        begin(RequestKey { fingerprint: "x".into(), ..k2.clone() }, NOW + 200_000).await,
        RequestBegun::Mismatch
    );
    assert_eq!(begin(k2.clone(), NOW + 200_000).await, RequestBegun::Run);
    f.store.finish_request(&k2, NOW + 1, Some(answer.clone())).await.unwrap();
    assert_eq!(
        begin(k2.clone(), NOW + 200_001).await,
        RequestBegun::InProgress,
        "the stale holder's answer is not kept"
    );
    // After the window the key is new, whatever it came with.
    assert_eq!(begin(key("b"), NOW + 86_400_001).await, RequestBegun::Run);
    assert_eq!(f.store.purge_request_keys(NOW + 1).await.unwrap(), 0, "every key was claimed or re-claimed since");
    assert_eq!(f.store.purge_request_keys(NOW + 86_400_002).await.unwrap(), 3);
}

async fn lists_filter_and_page(backend: Backend) {
    use hookwire_core::model::EventType;
    use hookwire_store::{EndpointMessageFilter, MessageFilter};
    let f = fixture(backend).await;
    let mut ids = Vec::new();
    for (index, (event_type, channel)) in [("a.b", "red"), ("c.d", "blue"), ("a.b", "blue")].into_iter().enumerate() {
        let m = Message {
            event_type: event_type.into(),
            channels: Some(vec![channel.into()]),
            tags: (index == 1).then(|| vec!["vip".into(), "eu".into()]),
            created_at: NOW + index as i64,
            ..message(f.app.id, None)
        };
        let d = delivery(&m, f.endpoint.id);
        f.store.accept_message(accept(m.clone(), vec![d.clone()], None)).await.unwrap();
        let sent = Attempt { timestamp: NOW + index as i64, ..attempt(&f, &d, Status::Fail, 500, "no") };
        let update = DeliveryUpdate {
            status: Status::Pending,
            attempts: 1,
            next_attempt_at: Some(NOW + 60_000),
            created_at: NOW,
        };
        f.store.record_attempt(sent, update).await.unwrap();
        ids.push(m.id);
    }
    let page = |limit, iterator: Option<String>| Page { limit, iterator, descending: false };
    let list = |filter: MessageFilter| {
        let store = f.store.clone();
        async move { store.list_messages(f.app.id, &filter).await.unwrap().iter().map(|m| m.id).collect::<Vec<_>>() }
    };
    assert_eq!(list(MessageFilter { page: page(10, None), ..Default::default() }).await, ids);
    let matching = MessageMatch { event_types: vec!["a.b".into()], ..Default::default() };
    let by_type = MessageFilter { page: page(10, None), matching, ..Default::default() };
    assert_eq!(list(by_type).await, vec![ids[0], ids[2]]);
    let matching = MessageMatch { channel: Some("blue".into()), ..Default::default() };
    let by_channel = MessageFilter { page: page(10, None), matching, ..Default::default() };
    assert_eq!(list(by_channel).await, vec![ids[1], ids[2]]);
    let matching = MessageMatch { tag: Some("vip".into()), ..Default::default() };
    let by_tag = MessageFilter { page: page(10, None), matching, ..Default::default() };
    assert_eq!(list(by_tag).await, vec![ids[1]]);
    // Attempt lists filter on their messages' fields too.
    let attempts = |matching: MessageMatch| {
        let store = f.store.clone();
        let filter = AttemptFilter {
            scope: AttemptScope::Endpoint(f.endpoint.id),
            page: page(10, None),
            matching,
            status: None,
            status_code_class: None,
            endpoint: None,
            before: None,
            after: None,
        };
        async move { store.list_attempts(f.app.id, &filter).await.unwrap().iter().map(|a| a.msg_id).collect::<Vec<_>>() }
    };
    assert_eq!(attempts(MessageMatch::default()).await, ids);
    let blue_a = MessageMatch { event_types: vec!["a.b".into()], channel: Some("blue".into()), tag: None };
    assert_eq!(attempts(blue_a).await, vec![ids[2]]);
    assert_eq!(attempts(MessageMatch { tag: Some("eu".into()), ..Default::default() }).await, vec![ids[1]]);
    let log = |matching: MessageMatch| {
        let store = f.store.clone();
        let filter = EndpointMessageFilter { page: page(10, None), matching, ..Default::default() };
        async move {
            store
                .endpoint_messages(f.app.id, f.endpoint.id, &filter)
                .await
                .unwrap()
                .iter()
                .map(|(m, _)| m.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(log(MessageMatch { tag: Some("vip".into()), ..Default::default() }).await, vec![ids[1]]);
    let after = MessageFilter { page: page(10, None), after: Some(NOW), before: Some(NOW + 2), ..Default::default() };
    assert_eq!(list(after).await, vec![ids[1]]);
    let second_page = MessageFilter { page: page(1, Some(ids[0].to_string())), ..Default::default() };
    assert_eq!(list(second_page).await, vec![ids[1]]);

    let filter = EndpointMessageFilter { page: page(10, None), status: Some(Status::Pending), ..Default::default() };
    let log = f.store.endpoint_messages(f.app.id, f.endpoint.id, &filter).await.unwrap();
    assert_eq!(
        log.iter().map(|(m, d)| (m.id, d.endpoint_id)).collect::<Vec<_>>(),
        ids.iter().map(|id| (*id, f.endpoint.id)).collect::<Vec<_>>()
    );
    let filter = EndpointMessageFilter { page: page(10, None), status: Some(Status::Success), ..Default::default() };
    assert!(f.store.endpoint_messages(f.app.id, f.endpoint.id, &filter).await.unwrap().is_empty());

    let event_type = |name: &str, archived| EventType {
        name: name.into(),
        description: String::new(),
        archived,
        deprecated: false,
        schemas: None,
        group_name: None,
        feature_flags: None,
        created_at: NOW,
        updated_at: NOW,
    };
    f.store.create_event_type(event_type("a.b", false)).await.unwrap();
    f.store.create_event_type(event_type("old.one", true)).await.unwrap();
    assert!(matches!(f.store.create_event_type(event_type("a.b", false)).await, Err(StoreError::Conflict { .. })));
    assert_eq!(f.store.list_event_types(&page(10, None), false).await.unwrap().len(), 1);
    assert_eq!(f.store.list_event_types(&page(10, None), true).await.unwrap().len(), 2);

    assert_eq!(f.store.put_setting_if_absent("k", "first").await.unwrap(), "first");
    assert_eq!(f.store.put_setting_if_absent("k", "second").await.unwrap(), "first");
    assert_eq!(f.store.get_setting("k").await.unwrap().as_deref(), Some("first"));
    // A filter that could not be evaluated is counted in the accept's own transaction.
    let unmatched = message(f.app.id, None);
    let counted =
        Accept { filter_errors: vec![(f.endpoint.id, "bad filter".into())], ..accept(unmatched, vec![], None) };
    f.store.accept_message(counted).await.unwrap();
    let stats = f.store.endpoint_stats(f.endpoint.id, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!((stats.pending, stats.filter_errors, stats.last_filter_error.as_deref()), (3, 1, Some("bad filter")));
}

async fn queue_depth_counts_pending_deliveries_by_when_they_can_go(backend: Backend) {
    let f = fixture(backend).await;
    let m = message(f.app.id, None);
    let later = Delivery { next_attempt_at: Some(NOW + 5_000), ..delivery(&m, f.endpoint.id) };
    let parked = Delivery { next_attempt_at: None, ..delivery(&m, f.endpoint.id) };
    let done = delivery(&m, f.endpoint.id);
    let deliveries = vec![delivery(&m, f.endpoint.id), later, parked, done.clone()];
    f.store.accept_message(accept(m, deliveries, None)).await.unwrap();
    let update = DeliveryUpdate { status: Status::Success, attempts: 1, next_attempt_at: None, created_at: NOW };
    f.store.record_attempt(attempt(&f, &done, Status::Success, 200, "ok"), update).await.unwrap();
    let depth = f.store.queue_depth(NOW).await.unwrap();
    assert_eq!((depth.due, depth.scheduled, depth.parked), (1, 1, 1), "a finished delivery is not queued");
    let depth = f.store.queue_depth(NOW + 5_000).await.unwrap();
    assert_eq!((depth.due, depth.scheduled, depth.parked), (2, 0, 1));
}

async fn messages_filter_by_the_status_of_any_delivery(backend: Backend) {
    let f = fixture(backend).await;
    let delivered = message(f.app.id, None);
    let waiting = message(f.app.id, None);
    let delivery_done = delivery(&delivered, f.endpoint.id);
    f.store.accept_message(accept(delivered.clone(), vec![delivery_done.clone()], None)).await.unwrap();
    f.store.accept_message(accept(waiting.clone(), vec![delivery(&waiting, f.endpoint.id)], None)).await.unwrap();
    let attempt = attempt(&f, &delivery_done, Status::Success, 200, "ok");
    f.store
        .record_attempt(
            attempt,
            DeliveryUpdate { status: Status::Success, attempts: 1, next_attempt_at: None, created_at: NOW },
        )
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

async fn endpoint_health_is_failing_since_the_first_failure_after_the_last_success(backend: Backend) {
    let f = fixture(backend).await;
    let m = message(f.app.id, None);
    let deliveries: Vec<Delivery> = (0..4).map(|_| delivery(&m, f.endpoint.id)).collect();
    f.store.accept_message(accept(m, deliveries.clone(), None)).await.unwrap();
    let outcomes = [
        (Status::Fail, 1, Some(NOW + 1)),
        (Status::Fail, 2, Some(NOW + 1)),
        (Status::Success, 3, None),
        (Status::Fail, 4, Some(NOW + 4)),
    ];
    for ((status, at, expected), d) in outcomes.into_iter().zip(&deliveries) {
        let attempt = Attempt {
            timestamp: NOW + at,
            ..attempt(&f, d, status, if status == Status::Success { 200 } else { 500 }, "")
        };
        let update = DeliveryUpdate { status, attempts: 1, next_attempt_at: None, created_at: NOW };
        assert_eq!(f.store.record_attempt(attempt, update).await.unwrap(), expected, "after the attempt at +{at}");
    }
    let stats = f.store.endpoint_stats(f.endpoint.id, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!((stats.success, stats.fail), (1, 3));
}

async fn a_batch_of_attempts_folds_health_by_time_not_by_arrival(backend: Backend) {
    let f = fixture(backend).await;
    let m = message(f.app.id, None);
    let deliveries: Vec<Delivery> = (0..5).map(|_| delivery(&m, f.endpoint.id)).collect();
    f.store.accept_message(accept(m, deliveries.clone(), None)).await.unwrap();
    let record = |d: &Delivery, status: Status, at: i64| {
        let code = if status == Status::Success { 200 } else { 500 };
        let attempt = Attempt { timestamp: NOW + at, ..attempt(&f, d, status, code, "") };
        (attempt, DeliveryUpdate { status, attempts: 1, next_attempt_at: None, created_at: NOW })
    };
    // Arrival order is not time order: the failure at +20 is the first after the success at +15,
    // though the ones at +12 and +10 arrive after it.
    let batch = vec![
        record(&deliveries[0], Status::Fail, 20),
        record(&deliveries[1], Status::Success, 15),
        record(&deliveries[2], Status::Fail, 12),
        record(&deliveries[3], Status::Fail, 10),
    ];
    let answers: Vec<_> = f.store.record_attempts(batch).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(answers, vec![Some(NOW + 20); 4]);
    let later = f.store.record_attempts(vec![record(&deliveries[4], Status::Fail, 30)]).await;
    assert_eq!(
        later.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        vec![Some(NOW + 20)],
        "still failing since +20"
    );
    let stats = f.store.endpoint_stats(f.endpoint.id, i64::MIN, i64::MAX).await.unwrap();
    assert_eq!((stats.success, stats.fail), (1, 4), "every delivery moved on");
}

async fn a_claim_reads_each_message_once_for_all_its_deliveries(backend: Backend) {
    let f = fixture(backend).await;
    let m = message(f.app.id, None);
    let deliveries = vec![delivery(&m, f.endpoint.id), delivery(&m, f.endpoint.id), delivery(&m, f.endpoint.id)];
    f.store.accept_message(accept(m.clone(), deliveries, None)).await.unwrap();
    let claimed = f.store.claim_due(NOW, NOW + 1_000, 10, &[]).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert_eq!(claimed[0].message.id, m.id);
    assert!(claimed.iter().all(|c| Arc::ptr_eq(&c.message, &claimed[0].message)), "one copy of the payload");
}

// ---- PostgreSQL only: what several nodes sharing one database need. ----

/// Two nodes (stores) on one fresh schema, with an application and endpoint; `None` without
/// `HOOKWIRE_TEST_POSTGRES_URL`.
async fn two_nodes() -> Option<(PgStore, PgStore, Application, Endpoint)> {
    postgres_url()?;
    let url = fresh_postgres().await;
    let (a, b) = (
        PgStore::open(&url, None, &Default::default()).await.unwrap(),
        PgStore::open(&url, None, &Default::default()).await.unwrap(),
    );
    let app = application();
    a.create_app(app.clone()).await.unwrap();
    let endpoint = endpoint(app.id);
    a.create_endpoint(endpoint.clone()).await.unwrap();
    Some((a, b, app, endpoint))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_never_claim_the_same_delivery() {
    let Some((a, b, app, endpoint)) = two_nodes().await else { return };
    const MESSAGES: usize = 300;
    for _ in 0..MESSAGES {
        let m = message(app.id, None);
        a.accept_message(accept(m.clone(), vec![delivery(&m, endpoint.id)], None)).await.unwrap();
    }
    let claim_all = |store: PgStore| async move {
        let mut ids = Vec::new();
        loop {
            let batch = store.claim_due(NOW, NOW + 60_000, 7, &[]).await.unwrap();
            if batch.is_empty() {
                return ids;
            }
            ids.extend(batch.into_iter().map(|c| c.delivery.id));
        }
    };
    let (from_a, from_b) = tokio::join!(tokio::spawn(claim_all(a.clone())), tokio::spawn(claim_all(b.clone())));
    let (from_a, from_b) = (from_a.unwrap(), from_b.unwrap());
    let mut all: Vec<_> = from_a.iter().chain(&from_b).copied().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), from_a.len() + from_b.len(), "no delivery claimed twice");
    assert_eq!(all.len(), MESSAGES, "every delivery claimed");
    assert!(!from_a.is_empty() && !from_b.is_empty(), "both nodes took a share: {} / {}", from_a.len(), from_b.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_dead_nodes_leases_are_taken_over_and_a_live_nodes_are_not() {
    let Some((a, b, app, endpoint)) = two_nodes().await else { return };
    let m = message(app.id, None);
    let leased =
        Accept { leased_until: Some(NOW + 600_000), ..accept(m.clone(), vec![delivery(&m, endpoint.id)], None) };
    a.accept_message(leased).await.unwrap();
    assert!(b.claim_due(NOW, NOW + 60_000, 10, &[]).await.unwrap().is_empty(), "node a is alive: its lease holds");
    assert_eq!(b.next_due_at(NOW, &[]).await.unwrap(), None);
    // Node a dies without a word: its heartbeat stops and ages past the TTL.
    let a_id = a.node_id().to_owned();
    drop(a);
    age_heartbeat(&b, &a_id).await;
    assert_eq!(b.next_due_at(NOW, &[]).await.unwrap(), Some(NOW));
    let claimed = b.claim_due(NOW, NOW + 60_000, 10, &[]).await.unwrap();
    assert_eq!(claimed.len(), 1, "a dead node's lease lapses");
    assert_eq!(claimed[0].delivery.msg_id, m.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_task_runs_on_one_node_and_a_dead_nodes_task_is_taken_over() {
    let Some((a, b, app, endpoint)) = two_nodes().await else { return };
    let mut running = task(app.id, endpoint.id, TaskKind::EndpointBulkReplay);
    a.insert_task(running.clone()).await.unwrap();
    assert!(a.claim_task(NOW, NOW + 600_000).await.unwrap().is_some());
    assert!(b.claim_task(NOW, NOW + 600_000).await.unwrap().is_none(), "node a is alive: its lease holds");
    running.progress.messages_sent = 3;
    assert!(!b.save_task(&running, Some(NOW + 600_000)).await.unwrap(), "b cannot save a's task");
    assert!(a.save_task(&running, Some(NOW + 600_000)).await.unwrap());
    let a_id = a.node_id().to_owned();
    let a_again = a.clone();
    drop(a);
    age_heartbeat(&b, &a_id).await;
    let taken = b.claim_task(NOW, NOW + 600_000).await.unwrap().expect("a dead node's task is taken over");
    assert_eq!(taken.progress.messages_sent, 3, "with its saved progress");
    assert!(!a_again.save_task(&running, None).await.unwrap(), "the node taken for dead cannot overwrite it");
}

/// Makes node `id` look dead to its peers, as if its last heartbeat were long ago.
async fn age_heartbeat(via: &PgStore, id: &str) {
    let url = via_url(via);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.execute("UPDATE nodes SET heartbeat_at = 0 WHERE id = $1", &[&id]).await.unwrap();
}

fn via_url(store: &PgStore) -> String {
    store.url().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_release_hands_work_to_peers_and_announces_it() {
    let Some((a, b, app, endpoint)) = two_nodes().await else { return };
    let announced = b.due_signal().expect("a shared store announces due work");
    let m = message(app.id, None);
    let leased =
        Accept { leased_until: Some(NOW + 600_000), ..accept(m.clone(), vec![delivery(&m, endpoint.id)], None) };
    a.accept_message(leased).await.unwrap();
    assert_eq!(a.release_leases().await.unwrap(), 1);
    tokio::time::timeout(std::time::Duration::from_secs(5), announced.notified()).await.expect("peer was told");
    assert_eq!(b.claim_due(NOW, NOW + 60_000, 10, &[]).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_idempotency_keys_hold_across_nodes_under_a_race() {
    let Some((a, b, app, endpoint)) = two_nodes().await else { return };
    for round in 0..20 {
        let key = format!("key-{round}");
        let (m1, m2) = (message(app.id, None), message(app.id, None));
        let (r1, r2) = tokio::join!(
            a.accept_message(accept(m1.clone(), vec![delivery(&m1, endpoint.id)], Some(&key))),
            b.accept_message(accept(m2.clone(), vec![delivery(&m2, endpoint.id)], Some(&key))),
        );
        let created = [r1.unwrap(), r2.unwrap()].iter().filter(|r| matches!(r, Accepted::Created)).count();
        assert_eq!(created, 1, "round {round}: exactly one accept creates the message");
    }
    assert_eq!(a.endpoint_stats(endpoint.id, i64::MIN, i64::MAX).await.unwrap().pending, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_throttle_slots_and_pauses_are_shared_by_every_node() {
    let Some((a, b, app, endpoint)) = two_nodes().await else { return };
    let mut slots = Vec::new();
    for i in 0..10 {
        let node = if i % 2 == 0 { &a } else { &b };
        let flow = node.shared_flow().unwrap();
        slots.push(flow.reserve_send_slot(endpoint.id, 100, NOW, 1_000).await.unwrap().expect("within the hold"));
    }
    assert_eq!(slots, (0..10).map(|i| NOW + i * 100).collect::<Vec<_>>(), "one slot per 100 ms across nodes");
    let later = a.shared_flow().unwrap().reserve_send_slot(endpoint.id, 100, NOW, 500).await.unwrap();
    assert_eq!(later, Err(NOW + 1_000), "too far off: nothing reserved, told when");

    let m = message(app.id, None);
    a.accept_message(accept(m.clone(), vec![delivery(&m, endpoint.id)], None)).await.unwrap();
    b.shared_flow().unwrap().pause_endpoint(endpoint.id, NOW + 30_000).await.unwrap();
    assert!(a.claim_due(NOW, NOW + 60_000, 10, &[]).await.unwrap().is_empty(), "paused by the other node");
    assert_eq!(a.next_due_at(NOW, &[]).await.unwrap(), None, "a paused endpoint's work is not due");
    assert_eq!(a.claim_due(NOW + 30_000, NOW + 90_000, 10, &[]).await.unwrap().len(), 1, "due again after the pause");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_secrets_are_sealed_at_rest_and_the_key_is_checked_and_rotated() {
    use hookwire_core::crypto::{MainKey, generate_main_key};
    if postgres_url().is_none() {
        return;
    }
    let url = fresh_postgres().await;
    let (first, second) = (generate_main_key(), generate_main_key());
    let key = |k: &str| Some(MainKey::parse(k).unwrap());
    let store = PgStore::open(&url, key(&first), &Default::default()).await.unwrap();
    let app = application();
    store.create_app(app.clone()).await.unwrap();
    let endpoint = endpoint(app.id);
    store.create_endpoint(endpoint.clone()).await.unwrap();
    assert_eq!(store.get_endpoint(app.id, &endpoint.id.to_string()).await.unwrap().unwrap(), endpoint);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let body: String = client.query_one("SELECT body FROM endpoints", &[]).await.unwrap().get(0);
    assert!(!body.contains(&endpoint.secret), "no secret in plaintext in the database");
    for wrong in [None, key(&second)] {
        let refused = PgStore::open(&url, wrong, &Default::default()).await;
        assert!(matches!(refused, Err(StoreError::Corrupt(ref m)) if m.contains("HOOKWIRE_MAIN_KEY")));
    }
    assert_eq!(store.reseal_secrets(key(&second)).await.unwrap(), 1);
    assert!(PgStore::open(&url, key(&first), &Default::default()).await.is_err());
    let reopened = PgStore::open(&url, key(&second), &Default::default()).await.unwrap();
    assert_eq!(reopened.get_endpoint(app.id, &endpoint.id.to_string()).await.unwrap().unwrap(), endpoint);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_peers_configuration_change_reaches_every_nodes_cache() {
    let Some((a, b, app, endpoint)) = two_nodes().await else { return };
    // Node b caches the endpoint list (once its LISTEN connection is up), then a changes it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    assert_eq!(b.app_endpoints(app.id).await.unwrap(), vec![Arc::new(endpoint.clone())]);
    let changed = Endpoint { url: "https://example.org/moved".into(), ..endpoint.clone() };
    a.update_endpoint(changed.clone()).await.unwrap();
    loop {
        if b.app_endpoints(app.id).await.unwrap() == vec![Arc::new(changed.clone())] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "node b kept a stale endpoint list");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let renamed = Application { name: "Renamed".into(), ..app.clone() };
    b.get_app("acme").await.unwrap();
    a.update_app(renamed).await.unwrap();
    loop {
        if b.get_app("acme").await.unwrap().unwrap().name == "Renamed" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "node b kept a stale application");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sslmode_require_encrypts_every_connection() {
    if postgres_url().is_none() {
        return;
    }
    let name = format!("hw_tls_{}", uuid_like());
    let url = format!("{}&sslmode=require&application_name={name}", fresh_postgres().await);
    let store = PgStore::open(&url, None, &Default::default()).await.expect("the local server offers TLS");
    let app = application();
    store.create_app(app.clone()).await.unwrap();
    assert_eq!(store.get_app("acme").await.unwrap().unwrap().id, app.id);
    let plain = postgres_url().unwrap();
    let (client, connection) = tokio_postgres::connect(&plain, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    // The pool's connection and the LISTEN connection, both encrypted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a \
                 JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = $1",
                &[&name],
            )
            .await
            .unwrap();
        let (encrypted, all): (i64, i64) = (row.get(0), row.get(1));
        if all >= 2 {
            assert_eq!(encrypted, all, "every connection of the store is encrypted");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the store's connections did not show up: {all}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_node_taken_for_dead_cannot_undo_a_peers_claim() {
    let Some((a, b, app, endpoint)) = two_nodes().await else { return };
    let m = message(app.id, None);
    let d = delivery(&m, endpoint.id);
    a.accept_message(accept(m.clone(), vec![d.clone()], None)).await.unwrap();
    assert_eq!(a.claim_due(NOW, NOW + 600_000, 10, &[]).await.unwrap().len(), 1);
    // Node a stalls past the TTL; b takes the delivery over.
    age_heartbeat(&b, a.node_id()).await;
    assert_eq!(b.claim_due(NOW, NOW + 600_000, 10, &[]).await.unwrap().len(), 1);
    // Then a wakes and records its attempt: the attempt is logged, b's claim stands.
    let failed = Attempt {
        app_id: app.id,
        endpoint_id: endpoint.id,
        url: endpoint.url.clone(),
        ..attempt_for(&d, Status::Fail)
    };
    let update = DeliveryUpdate { status: Status::Pending, attempts: 1, next_attempt_at: Some(NOW), created_at: NOW };
    a.record_attempt(failed, update).await.unwrap();
    assert!(b.claim_due(NOW, NOW + 600_000, 10, &[]).await.unwrap().is_empty(), "b still holds it");
    let filter = AttemptFilter {
        matching: MessageMatch::default(),
        scope: AttemptScope::Message(m.id),
        page: Page { limit: 10, iterator: None, descending: true },
        status: None,
        status_code_class: None,
        endpoint: None,
        before: None,
        after: None,
    };
    assert_eq!(b.list_attempts(app.id, &filter).await.unwrap().len(), 1, "the attempt itself is recorded");
}

/// Two nodes' recorders write the same endpoints' health rows at once, in batches of many sizes
/// (which PostgreSQL aggregates in different orders): every batch is written. Before, two such
/// statements locked those rows in orders of their own and PostgreSQL aborted one to break the
/// deadlock, failing every record in it (measured with two nodes and five endpoints: hundreds of
/// deliveries sent twice per run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_record_attempts_to_the_same_endpoints_at_once() {
    let Some((a, b, app, first)) = two_nodes().await else { return };
    let mut endpoints = vec![first];
    for _ in 0..7 {
        let e = endpoint(app.id);
        a.create_endpoint(e.clone()).await.unwrap();
        endpoints.push(e);
    }
    let endpoints = Arc::new(endpoints);
    let record_many = |store: PgStore, seed: usize| {
        let endpoints = endpoints.clone();
        async move {
            let mut written = 0;
            for round in 0..100 {
                let size = 1 + (round * 37 + seed * 11) % 200;
                let m = message(app.id, None);
                let batch: Vec<(Attempt, DeliveryUpdate)> = (0..size)
                    .map(|n| {
                        let e = &endpoints[(n * 3 + round + seed) % endpoints.len()];
                        let d = delivery(&m, e.id);
                        let status = if (n + round) % 3 == 0 { Status::Fail } else { Status::Success };
                        let update = DeliveryUpdate { status, attempts: 1, next_attempt_at: None, created_at: NOW };
                        let at = NOW + (seed * 1_000_000 + round * 1_000 + n) as i64;
                        let attempt =
                            Attempt { endpoint_id: e.id, url: e.url.clone(), timestamp: at, ..attempt_for(&d, status) };
                        (attempt, update)
                    })
                    .collect();
                for result in store.record_attempts(batch).await {
                    result.expect("every batch is written");
                    written += 1;
                }
            }
            written
        }
    };
    let (from_a, from_b) = tokio::join!(tokio::spawn(record_many(a.clone(), 1)), tokio::spawn(record_many(b, 2)));
    let written = from_a.unwrap() + from_b.unwrap();
    let url = via_url(&a);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let stored: i64 = client.query_one("SELECT count(*) FROM attempts", &[]).await.unwrap().get(0);
    assert_eq!(stored as usize, written);
}

fn attempt_for(d: &Delivery, status: Status) -> Attempt {
    Attempt {
        id: AttemptId::generate(),
        app_id: d.app_id,
        msg_id: d.msg_id,
        endpoint_id: d.endpoint_id,
        delivery_id: d.id,
        url: String::new(),
        status,
        response_status_code: 500,
        response: String::new(),
        response_duration_ms: 1,
        error_kind: None,
        trigger_type: TriggerType::Scheduled,
        timestamp: NOW,
    }
}

/// The node's background tasks (heartbeat, LISTEN connection) run on the tracker they are given
/// and stop when its token fires, so a server's shutdown joins them: afterwards the node's
/// heartbeat no longer moves, though the store itself is still open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_background_tasks_run_on_the_given_tracker_and_stop_with_it() {
    let Some(_) = postgres_url() else { return };
    let url = fresh_postgres().await;
    let background = hookwire_store::postgres::Background::default();
    let store = PgStore::open(&url, None, &background).await.unwrap();
    assert!(background.tracker.len() >= 2, "heartbeat and listener are tracked ({})", background.tracker.len());
    background.stop.cancel();
    background.tracker.close();
    tokio::time::timeout(std::time::Duration::from_secs(10), background.tracker.wait()).await.expect("they stop");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let beat = || async {
        let row = client.query_one("SELECT heartbeat_at FROM nodes WHERE id = $1", &[&store.node_id()]).await.unwrap();
        row.get::<_, i64>(0)
    };
    let before = beat().await;
    // Longer than a heartbeat interval (2 s): a running heartbeat would have moved it.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(beat().await, before, "no heartbeat after the tracker stopped");
}

fn destination(app: AppId, uid: Option<&str>, start: String) -> Destination {
    Destination {
        id: DestinationId::generate(),
        app_id: app,
        uid: uid.map(Into::into),
        kind: DestinationKind::PollingEndpoint,
        status: DestinationStatus::Enabled,
        batch_size: 100,
        max_wait_secs: 0,
        event_types: Some(vec!["a.*".into()]),
        channels: None,
        metadata: BTreeMap::new(),
        start,
        config: None,
        transformation: None,
        progress: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

async fn destinations_are_kept_and_their_consumers_positions_with_them(backend: Backend) {
    let f = fixture(backend).await;
    let start = f.store.log_end(f.app.id).await.unwrap();
    let d = destination(f.app.id, Some("poller"), start.clone());
    f.store.create_destination(d.clone()).await.unwrap();
    let twin = destination(f.app.id, Some("poller"), start.clone());
    assert!(matches!(f.store.create_destination(twin).await, Err(StoreError::Conflict { .. })));
    assert_eq!(f.store.get_destination(f.app.id, "poller").await.unwrap(), Some(d.clone()));
    assert_eq!(f.store.get_destination(f.app.id, &d.id.to_string()).await.unwrap(), Some(d.clone()));
    assert_eq!(f.store.get_destination(AppId::generate(), "poller").await.unwrap(), None, "another app's");
    let mut paused = d.clone();
    paused.status = DestinationStatus::Paused;
    f.store.update_destination(paused.clone()).await.unwrap();
    let page = Page { limit: 10, iterator: None, descending: false };
    assert_eq!(f.store.list_destinations(f.app.id, &page).await.unwrap(), vec![paused]);

    assert_eq!(f.store.consumer_position(d.id, "worker-1").await.unwrap(), None);
    f.store.save_consumer_position(d.id, "worker-1", &start, NOW).await.unwrap();
    assert_eq!(f.store.consumer_position(d.id, "worker-1").await.unwrap(), Some(start.clone()));
    // Lag: what the log holds after a position, counted up to a cap; the slowest consumer's.
    for _ in 0..3 {
        f.store.accept_message(accept(message(f.app.id, None), vec![], None)).await.unwrap();
    }
    let end = read_all(f.store.as_ref(), f.app.id, &start, 10, 3).await.last().unwrap().0.clone();
    assert_eq!(f.store.log_behind(f.app.id, &start, 100).await.unwrap(), 3);
    assert_eq!(f.store.log_behind(f.app.id, &start, 2).await.unwrap(), 2, "capped");
    assert_eq!(f.store.log_behind(f.app.id, &end, 100).await.unwrap(), 0);
    f.store.save_consumer_position(d.id, "worker-2", &end, NOW).await.unwrap();
    assert_eq!(f.store.slowest_consumer(d.id).await.unwrap(), Some(start.clone()));
    f.store.save_consumer_position(d.id, "worker-1", &end, NOW).await.unwrap();
    assert_eq!(f.store.slowest_consumer(d.id).await.unwrap(), Some(end.clone()));
    f.store.save_consumer_position(d.id, "worker-1", &start, NOW).await.unwrap();
    let refused = f.store.save_consumer_position(d.id, "worker-1", "nonsense", NOW).await;
    assert!(matches!(refused, Err(StoreError::Invalid(_))), "{refused:?}");
    // A position past the end of the log was never made by it: a reader keeping one would skip
    // every message until the log reached it. The end itself and every position read are fine.
    let now_end = f.store.log_end(f.app.id).await.unwrap();
    assert!(f.store.read_log(f.app.id, &now_end, 10).await.unwrap().is_empty());
    assert!(f.store.read_log(f.app.id, &end, 10).await.unwrap().is_empty(), "the last message read");
    let future = match now_end.split_once('.') {
        Some((xid, rest)) => format!("{}.{rest}", xid.parse::<i64>().unwrap() + 1_000),
        None => (now_end.parse::<i64>().unwrap() + 1_000).to_string(),
    };
    let past_end = f.store.read_log(f.app.id, &future, 10).await;
    assert!(matches!(&past_end, Err(StoreError::Invalid(why)) if why.contains("past the end")), "{past_end:?}");
    assert!(matches!(f.store.read_log(f.app.id, "1.2.3", 10).await, Err(StoreError::Invalid(_))));

    // A FIFO destination is leased to one sender at a time; its progress is saved under the lease.
    let mut fifo = destination(f.app.id, Some("ledger"), start.clone());
    fifo.kind = DestinationKind::FifoEndpoint;
    fifo.config =
        Some(FifoConfig { url: "https://x.example".into(), headers: BTreeMap::new(), secret: "whsec_x".into() });
    f.store.create_destination(fifo.clone()).await.unwrap();
    // On PostgreSQL a lease is held by a live node (its heartbeat keeps it); on SQLite by name.
    let a = f.store.sender_owner().unwrap_or_else(|| "a".into());
    let claimed = f.store.claim_driven(NOW, &a, NOW + 1_000, 10, false).await.unwrap();
    assert_eq!(claimed.iter().map(|d| d.id).collect::<Vec<_>>(), [fifo.id], "only an enabled FIFO is driven");
    assert_eq!(claimed[0].progress.as_ref().unwrap().position, start);
    assert!(f.store.claim_driven(NOW + 10, "b", NOW + 2_000, 10, false).await.unwrap().is_empty(), "leased to a");
    let failed = Progress {
        position: start.clone(),
        failures: 1,
        failure_reason: Some("HTTP 500".into()),
        next_retry_at: Some(NOW + 5_000),
        last_acked: Some(MessageId::generate()),
        batch_end: Some(start.clone()),
    };
    let attempt = |n: u64| DestinationAttempt {
        id: AttemptId::generate(),
        destination_id: fifo.id,
        batch_id: "batch_x".into(),
        messages: 3,
        status_code: 500,
        response: format!("try {n}"),
        error: Some(ErrorKind::Status),
        duration_ms: n,
        created_at: NOW,
    };
    let first = attempt(0);
    let saved = f.store.save_progress(fifo.id, "b", &failed, Some(&first), None, None).await.unwrap();
    assert_eq!(saved, ProgressSaved::LeaseLost, "b holds no lease");
    assert_eq!(f.store.get_destination_attempt(fifo.id, first.id).await.unwrap(), None, "nor its attempt");
    // Progress worked out with settings the API has since replaced is not saved, nor its attempt.
    let stale = Some(fifo.updated_at - 1);
    let saved = f.store.save_progress(fifo.id, &a, &failed, Some(&first), Some(NOW + 1_500), stale).await.unwrap();
    assert_eq!(saved, ProgressSaved::SettingsChanged);
    assert_eq!(f.store.get_destination_attempt(fifo.id, first.id).await.unwrap(), None);
    let stored = f.store.get_destination(f.app.id, "ledger").await.unwrap().unwrap().progress.unwrap();
    assert_eq!(stored.failures, 0, "nothing saved");
    let current = Some(fifo.updated_at);
    let saved = f.store.save_progress(fifo.id, &a, &failed, Some(&first), Some(NOW + 1_500), current).await.unwrap();
    assert_eq!(saved, ProgressSaved::Saved, "kept");
    assert!(f.store.claim_driven(NOW + 1_200, "b", NOW + 2_000, 10, false).await.unwrap().is_empty(), "still a's");
    assert_eq!(f.store.get_destination_attempt(fifo.id, first.id).await.unwrap(), Some(first.clone()));
    // The attempt log keeps the newest ATTEMPTS_KEPT.
    for n in 1..=ATTEMPTS_KEPT as u64 {
        f.store.save_progress(fifo.id, &a, &failed, Some(&attempt(n)), Some(NOW + 1_500), None).await.unwrap();
    }
    // The API's changes take the lease away: the sender's next save is refused and it stops.
    let skipped = Progress { position: start.clone(), ..Progress::default() };
    assert!(f.store.set_progress(fifo.id, &skipped).await.unwrap());
    let saved = f.store.save_progress(fifo.id, &a, &failed, None, Some(NOW + 1_500), None).await.unwrap();
    assert_eq!(saved, ProgressSaved::LeaseLost, "preempted");
    let kept = Progress { last_acked: failed.last_acked, ..skipped.clone() };
    assert_eq!(
        f.store.get_destination(f.app.id, "ledger").await.unwrap().unwrap().progress.unwrap(),
        kept,
        "last_acked is the sender's"
    );
    assert_eq!(f.store.claim_driven(NOW + 1_200, &a, NOW + 1_500, 10, false).await.unwrap().len(), 1);
    assert!(f.store.retry_now(fifo.id).await.unwrap(), "force-retry, too, takes it away");
    let saved = f.store.save_progress(fifo.id, &a, &failed, None, Some(NOW + 1_500), None).await.unwrap();
    assert_eq!(saved, ProgressSaved::LeaseLost);
    assert!(!f.store.retry_now(DestinationId::generate()).await.unwrap(), "no such destination");
    assert_eq!(f.store.claim_driven(NOW + 1_200, &a, NOW + 1_500, 10, false).await.unwrap().len(), 1);
    let saved = f.store.save_progress(fifo.id, &a, &failed, None, None, None).await.unwrap();
    assert_eq!(saved, ProgressSaved::Saved, "and freed");
    let newest = Page { limit: 2, iterator: None, descending: true };
    let page = f.store.list_destination_attempts(fifo.id, &newest).await.unwrap();
    assert_eq!(
        page.iter().map(|a| a.duration_ms).collect::<Vec<_>>(),
        [ATTEMPTS_KEPT as u64, ATTEMPTS_KEPT as u64 - 1]
    );
    let all = Page { limit: 5_000, iterator: None, descending: false };
    let kept = f.store.list_destination_attempts(fifo.id, &all).await.unwrap();
    assert_eq!(kept.len(), ATTEMPTS_KEPT);
    assert_eq!(kept[0].duration_ms, 1, "the oldest went");
    assert_eq!(f.store.get_destination_attempt(fifo.id, first.id).await.unwrap(), None);
    let saved = f.store.get_destination(f.app.id, &fifo.id.to_string()).await.unwrap().unwrap();
    assert_eq!(saved.progress.unwrap(), failed);
    assert!(
        f.store.claim_driven(NOW + 10, "b", NOW + 2_000, 10, false).await.unwrap().is_empty(),
        "its retry is not due"
    );
    let again = f.store.claim_driven(NOW + 5_000, "b", NOW + 6_000, 10, true).await.unwrap();
    assert_eq!(again.len(), 1, "a retry that came due is taken by a sender told of nothing new");
    let early = f.store.claim_driven(NOW + 5_001, "c", NOW + 8_000, 10, true).await.unwrap();
    let shared = f.store.sender_owner().is_some();
    assert_eq!(early.len(), usize::from(shared), "PostgreSQL: a lease of no live node lapses before it expires");
    assert_eq!(again[0].progress.as_ref().unwrap().failure_reason.as_deref(), Some("HTTP 500"));
    assert!(
        f.store.claim_driven(NOW + 7_000, "c", NOW + 8_000, 10, true).await.unwrap().len() == 1,
        "a lapsed lease is taken"
    );
    let mut paused = again[0].clone();
    paused.status = DestinationStatus::Paused;
    f.store.update_destination(paused).await.unwrap();
    assert!(
        f.store.claim_driven(NOW + 9_000, "d", NOW + 10_000, 10, false).await.unwrap().is_empty(),
        "paused is not driven"
    );
    assert_eq!(f.store.all_destinations(10).await.unwrap().len(), 2);

    assert!(f.store.delete_destination(f.app.id, d.id).await.unwrap());
    assert!(!f.store.delete_destination(f.app.id, d.id).await.unwrap());
    assert_eq!(f.store.consumer_position(d.id, "worker-1").await.unwrap(), None, "consumers go with it");
}

/// Reads everything after `from`, a page of `limit` at a time, until `expected` messages came.
async fn read_all(store: &dyn Store, app: AppId, from: &str, limit: usize, expected: usize) -> Vec<(String, Message)> {
    let mut position = from.to_owned();
    let mut read = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while read.len() < expected {
        assert!(std::time::Instant::now() < deadline, "read {} of {expected}", read.len());
        let page = store.read_log(app, &position, limit).await.unwrap();
        if page.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            continue;
        }
        position = page.last().unwrap().0.clone();
        read.extend(page);
    }
    read
}

async fn the_message_log_is_read_in_order_without_gaps_under_concurrent_writers(backend: Backend) {
    const WRITERS: usize = 16;
    const EACH: usize = 40;
    let f = Arc::new(fixture(backend).await);
    let start = f.store.log_end(f.app.id).await.unwrap();
    let other = application();
    let other = Application { uid: Some("other".into()), ..other };
    f.store.create_app(other.clone()).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let f = f.clone();
        let other = other.id;
        tasks.push(tokio::spawn(async move {
            for n in 0..EACH {
                let m = message(f.app.id, None);
                // Some with an idempotency key: they commit on their own, beside the batches.
                let key = (n % 5 == 0).then(|| format!("k{w}-{n}"));
                f.store.accept_message(accept(m, vec![], key.as_deref())).await.unwrap();
                f.store.accept_message(accept(message(other, None), vec![], None)).await.unwrap();
            }
        }));
    }
    // A reader follows the log while it is written: it must end with every message once.
    let read = read_all(f.store.as_ref(), f.app.id, &start, 37, WRITERS * EACH).await;
    for task in tasks {
        task.await.unwrap();
    }
    let mut ids: Vec<MessageId> = read.iter().map(|(_, m)| m.id).collect();
    assert!(read.iter().all(|(_, m)| m.app_id == f.app.id), "only this application's messages");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), WRITERS * EACH, "every message once");
    assert!(f.store.read_log(f.app.id, &read.last().unwrap().0, 10).await.unwrap().is_empty());
    // The same log read again from the start, in other page sizes, is the same sequence.
    let again = read_all(f.store.as_ref(), f.app.id, &start, 500, WRITERS * EACH).await;
    assert_eq!(again.iter().map(|(p, _)| p).collect::<Vec<_>>(), read.iter().map(|(p, _)| p).collect::<Vec<_>>());
    // A seek by time never skips a message created after it.
    let sought = f.store.log_position_after(f.app.id, NOW - 1).await.unwrap();
    assert_eq!(read_all(f.store.as_ref(), f.app.id, &sought, 1_000, WRITERS * EACH).await.len(), WRITERS * EACH);
    let end = f.store.log_end(f.app.id).await.unwrap();
    assert!(f.store.read_log(f.app.id, &end, 10).await.unwrap().is_empty(), "the end is after everything");
}

/// The case a cursor by id gets wrong: a message whose transaction commits after a later one's.
/// It is not readable past, so when it commits it is still ahead of the reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_log_waits_for_a_transaction_that_commits_late() {
    if postgres_url().is_none() {
        eprintln!("skipped: set HOOKWIRE_TEST_POSTGRES_URL to run on PostgreSQL");
        return;
    }
    let url = fresh_postgres().await;
    let store = PgStore::open(&url, None, &Default::default()).await.unwrap();
    let app = application();
    store.create_app(app.clone()).await.unwrap();
    let start = store.log_end(app.id).await.unwrap();
    let (mut raw, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let slow = raw.transaction().await.unwrap();
    let late = message(app.id, None);
    slow.execute(
        "INSERT INTO messages (id, app_id, event_type, payload, created_at) VALUES ($1, $2, 'a.b', '{}', $3)",
        &[&late.id.to_string(), &app.id.to_string(), &NOW],
    )
    .await
    .unwrap();
    let early = message(app.id, None);
    store.accept_message(accept(early.clone(), vec![], None)).await.unwrap();
    assert!(
        store.read_log(app.id, &start, 10).await.unwrap().is_empty(),
        "nothing is readable past a transaction still running"
    );
    slow.commit().await.unwrap();
    let read = read_all(&store, app.id, &start, 10, 2).await;
    let ids: Vec<MessageId> = read.iter().map(|(_, m)| m.id).collect();
    assert_eq!(ids, [late.id, early.id], "in transaction order, the late commit first");
}

/// Activity rows are added to (two writes to one minute sum), read by the minute or the hour
/// per endpoint, application or everything, deleted with their application and purged by age.
async fn activity_adds_up_by_minute_and_hour_per_scope_and_is_purged_by_age(backend: Backend) {
    use hookwire_core::activity::{Counts, QueueSample, Resolution};
    use hookwire_store::{ActivityQuery, ActivityRow};
    let f = fixture(backend).await;
    let other = endpoint(f.app.id);
    let other_app = application();
    let counts = |ok: u64, failed: u64, ms: u64| {
        let mut c = Counts::default();
        for _ in 0..ok {
            c.record(true, false, ms);
        }
        for _ in 0..failed {
            c.record(false, true, ms);
        }
        c
    };
    let hour = Resolution::Hour.floor(NOW);
    let row = |app, endpoint, at, c| ActivityRow { app_id: app, endpoint_id: endpoint, at, counts: c };
    f.store.add_activity(vec![row(f.app.id, f.endpoint.id, hour + 1_000, counts(2, 1, 40))]).await.unwrap();
    f.store
        .add_activity(vec![
            row(f.app.id, f.endpoint.id, hour + 30_000, counts(1, 0, 40)),
            row(f.app.id, other.id, hour + 61_000, counts(0, 1, 700)),
            row(other_app.id, EndpointId::generate(), hour + 61_000, counts(5, 0, 3)),
        ])
        .await
        .unwrap();
    let query =
        |app, endpoint, resolution| ActivityQuery { app, endpoint, resolution, since: hour, until: hour + 3_600_000 };
    let minutes = f.store.activity(&query(Some(f.app.id), Some(f.endpoint.id), Resolution::Minute)).await.unwrap();
    assert_eq!(minutes.len(), 1);
    assert_eq!((minutes[0].start, minutes[0].counts), (hour, counts(3, 1, 40)));
    let minutes = f.store.activity(&query(Some(f.app.id), None, Resolution::Minute)).await.unwrap();
    assert_eq!(minutes.iter().map(|b| b.start).collect::<Vec<_>>(), vec![hour, hour + 60_000]);
    let hours = f.store.activity(&query(Some(f.app.id), None, Resolution::Hour)).await.unwrap();
    let mut app_total = counts(3, 1, 40);
    app_total.merge(&counts(0, 1, 700));
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].counts, app_total);
    let everything = f.store.activity(&query(None, None, Resolution::Hour)).await.unwrap();
    assert_eq!(everything[0].counts.attempts(), 10);

    // A range ending before a bucket leaves it out.
    let early = ActivityQuery { until: hour + 60_000, ..query(Some(f.app.id), None, Resolution::Minute) };
    assert_eq!(f.store.activity(&early).await.unwrap().len(), 1);

    // Writers adding to the same minutes and hour at once (on PostgreSQL, concurrent
    // transactions) all count, and none deadlocks.
    let concurrent = (0..8).map(|n| {
        let store = f.store.clone();
        let rows: Vec<ActivityRow> =
            (0..3).map(|m| row(f.app.id, other.id, hour + 600_000 + ((m + n) % 3) * 60_000, counts(1, 0, 5))).collect();
        tokio::spawn(async move { store.add_activity(rows).await })
    });
    for writer in concurrent.collect::<Vec<_>>() {
        writer.await.unwrap().unwrap();
    }
    let later = ActivityQuery {
        since: hour + 600_000,
        until: hour + 780_000,
        ..query(Some(f.app.id), Some(other.id), Resolution::Minute)
    };
    let added = f.store.activity(&later).await.unwrap();
    assert_eq!(added.iter().map(|b| b.counts.succeeded).collect::<Vec<_>>(), vec![8, 8, 8]);
    let later_hours = ActivityQuery { resolution: Resolution::Hour, ..later };
    assert_eq!(
        f.store.activity(&later_hours).await.unwrap()[0].counts.succeeded,
        24,
        "the hour row counts every minute's"
    );

    // Per endpoint: most failed first, then most attempts.
    let by = f.store.activity_by_endpoint(&query(None, None, Resolution::Hour), 10).await.unwrap();
    let order: Vec<_> = by.iter().map(|e| (e.endpoint_id, e.counts.failed, e.counts.attempts())).collect();
    assert_eq!(order[..2], [(other.id, 1, 25), (f.endpoint.id, 1, 4)]);
    assert_eq!((by.len(), by[2].app_id, by[2].counts.succeeded), (3, other_app.id, 5));
    assert_eq!(by[1].app_id, f.app.id);
    let first = f.store.activity_by_endpoint(&query(Some(f.app.id), None, Resolution::Minute), 1).await.unwrap();
    assert_eq!((first.len(), first[0].endpoint_id, first[0].counts.attempts()), (1, other.id, 25));

    f.store.sample_queue(QueueSample { start: hour + 5, due: 4, scheduled: 9 }).await.unwrap();
    f.store.sample_queue(QueueSample { start: hour + 6, due: 7, scheduled: 1 }).await.unwrap();
    let queue = f.store.queue_history(Resolution::Hour, hour, hour + 3_600_000).await.unwrap();
    assert_eq!(queue, vec![QueueSample { start: hour, due: 7, scheduled: 9 }]);

    // Minutes go after two days, hours after ninety.
    let purged = f.store.purge_activity(hour + 3 * 86_400_000).await.unwrap();
    assert_eq!(purged, 3 + 3 + 1, "six minute rows and the queue sample");
    assert!(f.store.activity(&query(None, None, Resolution::Minute)).await.unwrap().is_empty());
    assert_eq!(f.store.activity(&query(None, None, Resolution::Hour)).await.unwrap().len(), 1);
    f.store.delete_app(f.app.id).await.unwrap();
    let left = f.store.activity(&query(None, None, Resolution::Hour)).await.unwrap();
    assert_eq!(left[0].counts.attempts(), 5, "only the other application's");
}
