//! PostgreSQL's time partitions (postgres/partitions.rs): a week past retention is dropped whole
//! once no payload is left in it, never before; an unpartitioned database (schema 8) becomes
//! partitioned in place, its rows readable and its rules (eventId uniqueness) kept. Skipped
//! without `HOOKWIRE_TEST_POSTGRES_URL`.

use std::sync::Arc;

use hookwire_core::model::{Application, Attempt, Delivery, Endpoint, Message, Status, TriggerType};
use hookwire_core::{AppId, AttemptId, DeliveryId, MessageId};
use hookwire_store::postgres::PgStore;
use hookwire_store::prelude::*;
use hookwire_store::{Accept, AttemptFilter, AttemptScope, DeliveryUpdate, MessageMatch, Page, StoreError};

#[path = "support/pg_schema.rs"]
mod pg_schema;
use pg_schema::{application, delivery, fresh_schema, now, raw};

const DAY_MS: i64 = 86_400_000;

/// The partition a row is in.
async fn partition_of(client: &tokio_postgres::Client, table: &str, id: &str) -> Option<String> {
    let sql = format!("SELECT tableoid::regclass::text FROM {table} WHERE id = $1");
    client.query_opt(&sql, &[&id]).await.unwrap().map(|row| row.get(0))
}

/// A message with an eventId, a tag and its payload kept until `payload_expires_at`.
fn message(app: AppId, event_id: &str, payload_expires_at: i64) -> Message {
    Message {
        event_id: Some(event_id.into()),
        tags: Some(vec!["t1".into()]),
        payload_expires_at: Some(payload_expires_at),
        ..pg_schema::message(app)
    }
}

fn accept(message: Message, deliveries: Vec<Delivery>) -> Accept {
    Accept {
        message: Arc::new(message),
        deliveries,
        leased_until: None,
        idempotency_key: None,
        filter_errors: Vec::new(),
    }
}

fn attempts_of(message: MessageId) -> AttemptFilter {
    AttemptFilter {
        matching: MessageMatch::default(),
        scope: AttemptScope::Message(message),
        page: Page { limit: 10, iterator: None, descending: false },
        status: None,
        status_code_class: None,
        endpoint: None,
        before: None,
        after: None,
    }
}

/// An application and its endpoint, created through `store`.
async fn app_and_endpoint(store: &PgStore) -> (Application, Endpoint) {
    let app = application();
    store.create_app(app.clone()).await.unwrap();
    let endpoint =
        Endpoint::new(app.id, "https://example.com".into(), hookwire_core::signing::generate_secret(), now());
    store.create_endpoint(endpoint.clone()).await.unwrap();
    (app, endpoint)
}

/// A store on a fresh schema, a raw client on it, and an application with its endpoint; `None`
/// without a test database.
async fn opened() -> Option<(PgStore, tokio_postgres::Client, Application, Endpoint)> {
    let url = fresh_schema().await?;
    let store = PgStore::open(&url, None, &Default::default()).await.unwrap();
    let client = raw(&url).await;
    let (app, endpoint) = app_and_endpoint(&store).await;
    Some((store, client, app, endpoint))
}

/// Records an attempt of `d` that leaves it in `status` for good; returns the attempt's id.
async fn record(store: &PgStore, d: &Delivery, status: Status) -> AttemptId {
    let attempt = Attempt {
        id: AttemptId::generate(),
        app_id: d.app_id,
        msg_id: d.msg_id,
        endpoint_id: d.endpoint_id,
        delivery_id: d.id,
        url: "https://example.com".into(),
        status,
        response_status_code: if status == Status::Success { 200 } else { 500 },
        response: "answer".into(),
        response_duration_ms: 3,
        error_kind: None,
        trigger_type: TriggerType::Scheduled,
        timestamp: now(),
    };
    let update = DeliveryUpdate { status, attempts: 1, next_attempt_at: None, created_at: now() };
    let recorded = store.record_attempts(vec![(attempt.clone(), update)]).await;
    assert!(recorded.into_iter().all(|r| r.is_ok()), "recorded");
    attempt.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_week_past_retention_is_dropped_whole_once_no_payload_is_left() {
    let Some((store, client, app, endpoint)) = opened().await else { return };

    // Opening created this week and the next ones; the message and its rows are in this week's.
    let m = message(app.id, "order-1", now() + DAY_MS);
    let d = delivery(&m, endpoint.id);
    store.accept_message(accept(m.clone(), vec![d.clone()])).await.unwrap();
    // A second message whose delivery waits ten days (a retry far ahead, a deliverAt).
    let waiting = message(app.id, "order-2", now() + DAY_MS);
    let waiting_delivery = Delivery { next_attempt_at: Some(now() + 10 * DAY_MS), ..delivery(&waiting, endpoint.id) };
    store.accept_message(accept(waiting.clone(), vec![waiting_delivery.clone()])).await.unwrap();
    // And a resend of the first made two weeks later, due only after that one.
    let resent = Delivery {
        id: DeliveryId::first_at(now() + 14 * DAY_MS),
        next_attempt_at: Some(now() + 30 * 7 * DAY_MS + DAY_MS),
        ..delivery(&m, endpoint.id)
    };
    store.insert_deliveries(vec![resent.clone()], None).await.unwrap();
    let claimed = store.claim_due(now(), now() + 60_000, 10, &[]).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let attempt = record(&store, &d, Status::Success).await;
    let week = partition_of(&client, "messages", &m.id.to_string()).await.unwrap();
    assert!(week.starts_with("messages_2"), "a week's partition, not {week}");
    let suffix = week.trim_start_matches("messages_").to_owned();
    assert_eq!(partition_of(&client, "deliveries", &d.id.to_string()).await.unwrap(), format!("deliveries_{suffix}"));
    assert_eq!(partition_of(&client, "attempts", &attempt.to_string()).await.unwrap(), format!("attempts_{suffix}"));

    // Today, with 90 days' retention: nothing to create, nothing to drop.
    let today = store.maintain_partitions(now(), now() - 90 * DAY_MS).await.unwrap();
    assert_eq!(today, Default::default(), "{today:?}");

    // Thirty weeks on, with a week's retention: the weeks ahead of then are created, and this
    // week is past retention but kept, since its message still has its payload.
    let later = now() + 30 * 7 * DAY_MS;
    let first = store.maintain_partitions(later, later - 7 * DAY_MS).await.unwrap();
    assert!(first.created.len() >= 26, "{first:?}");
    assert!(first.kept.contains(&suffix), "{first:?}");
    assert!(first.dropped.contains(&"legacy".to_owned()), "empty weeks past retention go: {first:?}");
    assert!(!first.dropped.contains(&suffix), "{first:?}");
    assert!(store.get_message(app.id, m.id).await.unwrap().is_some());

    // Once the payloads have expired the week still stays while a delivery waits: it can still
    // be sent (with an empty body).
    assert!(store.purge_expired(later, later, 100).await.unwrap() >= 2);
    let waits = store.maintain_partitions(later, later - 7 * DAY_MS).await.unwrap();
    assert!(waits.kept.contains(&suffix), "{waits:?}");
    let claimed = store.claim_due(later, later + 60_000, 10, &[]).await.unwrap();
    assert_eq!(claimed.iter().map(|c| c.delivery.id).collect::<Vec<_>>(), vec![waiting_delivery.id]);
    record(&store, &waiting_delivery, Status::Fail).await;
    // Nothing waits in the week's own partition now, but the resend of its message still does.
    let resend_waits = store.maintain_partitions(later, later - 7 * DAY_MS).await.unwrap();
    assert!(resend_waits.kept.contains(&suffix), "{resend_waits:?}");
    let claimed = store.claim_due(later + 2 * DAY_MS, later + 3 * DAY_MS, 10, &[]).await.unwrap();
    assert_eq!(claimed.iter().map(|c| c.delivery.id).collect::<Vec<_>>(), vec![resent.id]);
    record(&store, &resent, Status::Fail).await;

    // Then the week goes: messages, tags, deliveries, attempts.
    let second = store.maintain_partitions(later, later - 7 * DAY_MS).await.unwrap();
    assert!(second.dropped.contains(&suffix), "{second:?}");
    assert!(second.kept.is_empty() && second.created.is_empty(), "{second:?}");
    assert!(store.get_message(app.id, m.id).await.unwrap().is_none());
    assert!(store.get_message_by_event_id(app.id, "order-1").await.unwrap().is_none());
    assert!(store.list_attempts(app.id, &attempts_of(m.id)).await.unwrap().is_empty());
    for table in ["messages", "message_tags", "deliveries", "attempts"] {
        let sql = "SELECT count(*) FROM pg_class WHERE relname = $1 AND relnamespace = current_schema()::regnamespace";
        let left: i64 = client.query_one(sql, &[&format!("{table}_{suffix}")]).await.unwrap().get(0);
        assert_eq!(left, 0, "{table}_{suffix} is dropped, not emptied");
    }
    // The side rows of its messages went with it: the eventId is free again.
    let again = message(app.id, "order-1", later + DAY_MS);
    store.accept_message(accept(again.clone(), vec![])).await.unwrap();
    assert_eq!(store.get_message_by_event_id(app.id, "order-1").await.unwrap().unwrap().id, again.id);
}

/// The schema as migrations 1–8 left it (what every database made before partitions has).
async fn schema_8(client: &tokio_postgres::Client) {
    for sql in [
        include_str!("../migrations/postgres/0001_init.sql"),
        include_str!("../migrations/postgres/0002_config_notify.sql"),
        include_str!("../migrations/postgres/0003_tokens.sql"),
        include_str!("../migrations/postgres/0004_svix_messages.sql"),
        include_str!("../migrations/postgres/0005_c_collation.sql"),
        include_str!("../migrations/postgres/0006_destinations.sql"),
        include_str!("../migrations/postgres/0007_destination_attempts.sql"),
        include_str!("../migrations/postgres/0008_activity.sql"),
    ] {
        client.batch_execute(sql).await.unwrap();
    }
    client
        .batch_execute("CREATE TABLE hookwire_schema (version BIGINT NOT NULL); INSERT INTO hookwire_schema VALUES (8)")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_unpartitioned_database_is_partitioned_in_place() {
    let Some(url) = fresh_schema().await else { return };
    let client = raw(&url).await;
    schema_8(&client).await;
    let app = application();
    let endpoint =
        Endpoint::new(app.id, "https://example.com".into(), hookwire_core::signing::generate_secret(), now());
    let old = message(app.id, "order-7", now() + DAY_MS);
    let (old_id, app_id, ep_id) = (old.id.to_string(), app.id.to_string(), endpoint.id.to_string());
    let (delivery_id, attempt_id) = (DeliveryId::generate().to_string(), AttemptId::generate().to_string());
    client
        .execute(
            "INSERT INTO messages (id, app_id, event_type, event_id, tags, payload, created_at, payload_expires_at) \
             VALUES ($1, $2, 'a.b', 'order-7', '[\"t1\"]', '{\"n\":7}', $3, $4)",
            &[&old_id, &app_id, &now(), &(now() + DAY_MS)],
        )
        .await
        .unwrap();
    client.execute("INSERT INTO message_tags VALUES ($1, 't1', $2)", &[&app_id, &old_id]).await.unwrap();
    client
        .execute(
            "INSERT INTO deliveries (id, app_id, msg_id, endpoint_id, status, attempts, next_attempt_at, trigger_type, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 1, 1, $5, 0, $5, $5)",
            &[&delivery_id, &app_id, &old_id, &ep_id, &now()],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO attempts VALUES ($1, $2, $3, $4, $5, 'https://example.com', 2, 500, 'no', 4, NULL, 0, $6)",
            &[&attempt_id, &app_id, &old_id, &ep_id, &delivery_id, &now()],
        )
        .await
        .unwrap();

    // Opening migrates: the old tables become the first partitions, nothing is copied.
    let store = PgStore::open(&url, None, &Default::default()).await.unwrap();
    store.create_app(app.clone()).await.unwrap();
    store.create_endpoint(endpoint.clone()).await.unwrap();
    assert_eq!(partition_of(&client, "messages", &old_id).await.unwrap(), "messages_legacy");
    assert_eq!(partition_of(&client, "deliveries", &delivery_id).await.unwrap(), "deliveries_legacy");
    assert_eq!(partition_of(&client, "attempts", &attempt_id).await.unwrap(), "attempts_legacy");
    let kind: String = client
        .query_one("SELECT relkind::text FROM pg_class WHERE oid = 'messages'::regclass", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(kind, "p", "messages is partitioned");

    // Everything old reads and works as before.
    let found = store.get_message(app.id, old.id).await.unwrap().unwrap();
    assert_eq!(found.payload.as_deref(), Some("{\"n\":7}"));
    assert_eq!(store.get_message_by_event_id(app.id, "order-7").await.unwrap().unwrap().id, old.id);
    assert_eq!(store.list_attempts(app.id, &attempts_of(old.id)).await.unwrap().len(), 1);
    let claimed = store.claim_due(now() + 1_000, now() + 60_000, 10, &[]).await.unwrap();
    assert_eq!(claimed.iter().map(|c| c.delivery.id.to_string()).collect::<Vec<_>>(), vec![delivery_id]);
    // eventIds stay unique across old and new partitions.
    let twin = message(app.id, "order-7", now() + DAY_MS);
    assert!(matches!(store.accept_message(accept(twin, vec![])).await, Err(StoreError::Conflict { .. })));

    // New rows land in this week's partition.
    let new = message(app.id, "order-8", now() + DAY_MS);
    store.accept_message(accept(new.clone(), vec![delivery(&new, endpoint.id)])).await.unwrap();
    let week = partition_of(&client, "messages", &new.id.to_string()).await.unwrap();
    assert!(week.starts_with("messages_2"), "{week}");
    let ahead: i64 = client
        .query_one("SELECT count(*) FROM pg_inherits WHERE inhparent = 'deliveries'::regclass", &[])
        .await
        .unwrap()
        .get(0);
    assert!(ahead >= 2 + 4, "legacy, default and the weeks ahead: {ahead}");
    // Each week of deliveries leaves room in its pages for a claim's HOT update; the others are full.
    let fillfactors: Vec<(String, Option<Vec<String>>)> = client
        .query(
            "SELECT c.relname::text, c.reloptions FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent IN ('deliveries'::regclass, 'attempts'::regclass) AND c.relname ~ '_2[0-9]+$'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(fillfactors.len() >= 2 * 4, "{fillfactors:?}");
    for (week, options) in &fillfactors {
        let expected = week.starts_with("deliveries_").then(|| vec!["fillfactor=70".to_owned()]);
        assert_eq!(options, &expected, "{week}");
    }

    // Migrating again is a no-op, and so is a second node opening.
    assert_eq!(
        PgStore::migrate_only(&url, &Default::default()).await.unwrap(),
        hookwire_store::postgres::SCHEMA_VERSION
    );
    PgStore::open(&url, None, &Default::default()).await.unwrap();
    assert_eq!(store.get_message(app.id, new.id).await.unwrap().unwrap().id, new.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_weeks_are_created_and_dropped_while_another_node_accepts() {
    let Some(url) = fresh_schema().await else { return };
    let (writer, keeper) = (
        PgStore::open(&url, None, &Default::default()).await.unwrap(),
        PgStore::open(&url, None, &Default::default()).await.unwrap(),
    );
    let (app, endpoint) = app_and_endpoint(&writer).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let accepting = {
        let (writer, stop) = (writer.clone(), stop.clone());
        tokio::spawn(async move {
            let mut accepted = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let m = message(app.id, &format!("e-{}", accepted.len()), now() + 365 * DAY_MS);
                let d = delivery(&m, endpoint.id);
                writer.accept_message(accept(m.clone(), vec![d])).await.expect("every accept succeeds meanwhile");
                accepted.push(m.id);
                // And records attempts, whose statement locks attempts and deliveries, as a drop does.
                for claimed in writer.claim_due(now(), now() + 60_000, 10, &[]).await.expect("claims succeed meanwhile")
                {
                    record(&writer, &claimed.delivery, Status::Success).await;
                }
            }
            accepted
        })
    };
    // Another node, its clock years ahead, creates dozens of weeks and drops every empty one
    // behind (this week stays: its messages keep their payloads).
    let mut dropped = 0;
    for step in 1..=5 {
        let later = now() + step * 20 * 7 * DAY_MS;
        let done = keeper.maintain_partitions(later, later - 7 * DAY_MS).await.unwrap();
        assert!(!done.created.is_empty(), "{done:?}");
        dropped += done.dropped.len();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let accepted = accepting.await.unwrap();
    assert!(dropped >= 80 && accepted.len() > 10, "{dropped} weeks dropped, {} accepted", accepted.len());
    for id in accepted {
        assert!(writer.get_message(app.id, id).await.unwrap().is_some(), "{id} kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_the_default_partition_took_move_into_their_week_when_it_is_made() {
    let Some((store, client, app, endpoint)) = opened().await else { return };
    // A node whose clock runs ten weeks ahead: past every week made yet.
    let ahead = now() + 70 * DAY_MS;
    let m = Message { id: MessageId::first_at(ahead), ..message(app.id, "far", ahead + DAY_MS) };
    let d = Delivery { id: DeliveryId::first_at(ahead), ..delivery(&m, endpoint.id) };
    store.accept_message(accept(m.clone(), vec![d.clone()])).await.unwrap();
    assert_eq!(partition_of(&client, "messages", &m.id.to_string()).await.unwrap(), "messages_default");
    assert_eq!(partition_of(&client, "deliveries", &d.id.to_string()).await.unwrap(), "deliveries_default");

    // When the weeks reach that far, its week is made with its rows in it.
    let done = store.maintain_partitions(now() + 56 * DAY_MS, now() - 90 * DAY_MS).await.unwrap();
    let week = partition_of(&client, "messages", &m.id.to_string()).await.unwrap();
    assert!(done.created.iter().any(|s| week == format!("messages_{s}")), "{week} {done:?}");
    let suffix = week.trim_start_matches("messages_");
    assert_eq!(partition_of(&client, "deliveries", &d.id.to_string()).await.unwrap(), format!("deliveries_{suffix}"));
    let tags: i64 = client
        .query_one(&format!("SELECT count(*) FROM message_tags_{suffix} WHERE msg_id = $1"), &[&m.id.to_string()])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tags, 1);
    let left: i64 = client.query_one("SELECT count(*) FROM messages_default", &[]).await.unwrap().get(0);
    assert_eq!(left, 0);
    assert_eq!(store.get_message_by_event_id(app.id, "far").await.unwrap().unwrap().id, m.id);
}
