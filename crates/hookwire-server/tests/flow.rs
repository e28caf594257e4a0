//! Per-endpoint flow control: isolation from a dead endpoint, throttling, Retry-After pauses and
//! the circuit breaker.

mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestApp;
use support::receiver::{Receiver, Reply};

/// How far after its creation a delivery is next due (0 when not scheduled).
fn due_in_ms(destination: &Value) -> i64 {
    let at = |field: &str| destination[field].as_str().and_then(|t| hookwire_core::time_fmt::parse(t).ok());
    match (at("nextAttempt"), at("createdAt")) {
        (Some(next), Some(created)) => next - created,
        _ => 0,
    }
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_with_a_backlog_does_not_hold_back_a_healthy_one() {
    const BACKLOG: usize = 1_000;
    // Short shutdown grace: the dead endpoint's requests are still hanging when the test ends.
    let app = TestApp::start_with(|config| config.shutdown_grace_ms = 100).await;
    let dead = Receiver::start().await;
    dead.set_delay_ms(60_000); // never answers within the 30 s deadline
    let healthy = Receiver::start().await;
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": dead.url, "eventTypes": ["to.dead"], "timeoutMs": 30000})).await;
    app.create_endpoint(&app_id, json!({"url": healthy.url, "eventTypes": ["to.healthy"]})).await;
    for n in 0..BACKLOG {
        app.post_ok(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": "to.dead", "payload": {"n": n}}), 202)
            .await;
    }
    dead.wait_for(32).await;
    let msg = app.send(&app_id, "to.healthy", json!({})).await;
    let arrived = healthy.wait_for(1).await;
    assert_eq!(arrived[0].header("webhook-id"), id(&msg));
    assert!(dead.received().len() <= 32, "at most 32 in flight to one endpoint, got {}", dead.received().len());
    app.stop().await;
}

#[tokio::test]
async fn throttle_rate_spaces_deliveries() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": receiver.url, "throttleRate": 5})).await;
    // Timed from before the first send: the throttle spaces the deliveries however long the
    // sends themselves take (on PostgreSQL, part of the spacing passes while sending).
    let started = std::time::Instant::now();
    for _ in 0..5 {
        app.send(&app_id, "a", json!({})).await;
    }
    receiver.wait_for(5).await;
    // A lower bound only: 5 deliveries at 5/s take at least 4 gaps of 200 ms.
    assert!(started.elapsed() >= Duration::from_millis(700), "5 deliveries at 5/s took {:?}", started.elapsed());
    app.stop().await;
}

/// Svix's rule: an application's rate applies to each of its endpoints that has none of its own,
/// including a change made after the endpoints were loaded and used.
#[tokio::test]
async fn an_application_throttle_rate_spaces_its_endpoints_deliveries() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": receiver.url})).await;
    app.send(&app_id, "a", json!({})).await; // the endpoint is loaded (and cached) unthrottled
    receiver.wait_for(1).await;
    let path = format!("/api/v1/app/{app_id}");
    let (status, refused) = app.request(Method::PATCH, &path, Some(json!({"throttleRate": 0}))).await;
    assert_eq!(
        (status, &refused["detail"][0]["loc"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!(["body", "throttleRate"]))
    );
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"throttleRate": 5}))).await;
    assert_eq!(status, StatusCode::OK);
    let started = std::time::Instant::now();
    for _ in 0..5 {
        app.send(&app_id, "a", json!({})).await;
    }
    receiver.wait_for(6).await;
    // A lower bound only: 5 deliveries at 5/s take at least 4 gaps of 200 ms.
    assert!(started.elapsed() >= Duration::from_millis(700), "5 deliveries at 5/s took {:?}", started.elapsed());
    app.stop().await;
}

#[tokio::test]
async fn retry_after_pauses_the_endpoint_not_the_worker() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply { status: 429, headers: vec![("retry-after", "60".into())], ..Reply::default() }]);
    let other = Receiver::start().await;
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": receiver.url, "eventTypes": ["busy"]})).await;
    app.create_endpoint(&app_id, json!({"url": other.url, "eventTypes": ["other"]})).await;
    app.send(&app_id, "busy", json!({"n": 1})).await;
    receiver.wait_for(1).await;
    // The 429 reaches Hookwire after the receiver has logged the request: a message sent in
    // between is rightly delivered, so wait until the endpoint is paused.
    app.scrape_until("hookwire_endpoints_paused", 1.0).await;
    let second = id(&app.send(&app_id, "busy", json!({"n": 2})).await);
    let paused = app
        .get_until(&format!("/api/v1/app/{app_id}/msg/{second}/endpoint"), |v| due_in_ms(&v["data"][0]) >= 55_000)
        .await;
    assert_eq!(paused["data"][0]["attempts"], 0, "a pause is not an attempt");
    app.send(&app_id, "other", json!({})).await;
    other.wait_for(1).await;
    assert_eq!(receiver.received().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn the_circuit_opens_after_consecutive_failures() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script((0..20).map(|_| Reply::status(500)));
    let app_id = app.create_app().await;
    let endpoint = app
        .create_endpoint(&app_id, json!({"url": receiver.url, "retryPolicy": {"maxRetries": 0, "intervalMs": 0}}))
        .await;
    for _ in 0..10 {
        app.send(&app_id, "a", json!({})).await;
    }
    let failed = format!("/api/v1/app/{app_id}/endpoint/{}/msg?status=2", id(&endpoint));
    app.get_until(&failed, |v| v["data"].as_array().is_some_and(|d| d.len() == 10)).await;
    // The tenth failure's bookkeeping can trail its record by a moment: one more may slip through.
    let mut held = false;
    for _ in 0..2 {
        let msg = id(&app.send(&app_id, "a", json!({})).await);
        let destination = app
            .get_until(&format!("/api/v1/app/{app_id}/msg/{msg}/endpoint"), |v| {
                v["data"][0]["attempts"] == 1 || due_in_ms(&v["data"][0]) >= 20_000
            })
            .await;
        if destination["data"][0]["attempts"] == 0 {
            held = true;
            break;
        }
    }
    assert!(held, "the open circuit holds deliveries");
    assert!(receiver.received().len() <= 11);
    app.stop().await;
}

#[tokio::test]
async fn exhausted_deliveries_and_auto_disable_are_announced_as_operational_events() {
    let clock = hookwire_server::clock::ManualClock::new();
    let settings = |config: &mut hookwire_server::Config| {
        config.auto_disable_after_ms = 0; // the first failure without a success disables
        config.operational_app = Some("ops".into());
        support::quick_retention(config);
    };
    let app = TestApp::start_with_clock(settings, clock.clone()).await;
    let operator = Receiver::start().await;
    let failing = Receiver::start().await;
    failing.script([Reply::status(500)]);
    app.post_ok("/api/v1/app", json!({"name": "Operations", "uid": "ops"}), 201).await;
    app.create_endpoint("ops", json!({"url": operator.url})).await;
    let customer = app.create_app().await;
    let endpoint = app
        .create_endpoint(&customer, json!({"url": failing.url, "retryPolicy": {"maxRetries": 0, "intervalMs": 0}}))
        .await;
    let msg = id(&app.send(&customer, "invoice.paid", json!({})).await);

    let events = operator.wait_for(2).await;
    let mut types: Vec<(String, Value)> = events
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            (body.get("msgId").map_or("endpoint.disabled", |_| "message.attempt.exhausted").to_owned(), body)
        })
        .collect();
    types.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(types[0].1["endpointId"], endpoint["id"]);
    assert_eq!(types[0].1["trigger"], "automatic");
    assert_eq!(
        (types[1].1["msgId"].as_str(), types[1].1["lastAttempt"]["responseStatusCode"].as_i64()),
        (Some(msg.as_str()), Some(500))
    );
    let disabled = app.get(&format!("/api/v1/app/{customer}/endpoint/{}", id(&endpoint))).await.1;
    assert_eq!((disabled["disabled"].as_bool(), disabled["status"].as_str()), (Some(true), Some("disabled")));
    let listed = app.get("/api/v1/app/ops/msg").await.1;
    let mut names: Vec<&str> =
        listed["data"].as_array().unwrap().iter().map(|m| m["eventType"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["endpoint.disabled", "message.attempt.exhausted"]);
    // Operational events are kept as long as the server's retention says, not a fixed 90 days.
    clock.advance(2 * 86_400_000);
    app.get_until("/api/v1/app/ops/msg", |list| {
        list["data"].as_array().unwrap().iter().all(|m| m["payload"] == json!({"expired": true}))
    })
    .await;
    app.stop().await;
}

/// Work can wait in this process's own queue far longer than its lease (32 in flight to a slow
/// endpoint, hundreds queued behind them). It is handed back to the store before half its lease
/// is gone and claimed again, so the poller never takes a delivery whose first copy is still
/// queued: every message arrives exactly once although the backlog outlasts the lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_queued_longer_than_its_lease_is_still_sent_once() {
    const MESSAGES: usize = 640;
    // 32 requests of 500 ms at a time: about 10 s for the backlog, against an 8 s lease.
    let app = TestApp::start_with(|config| config.delivery_lease_ms = 8_000).await;
    let slow = Receiver::start().await;
    slow.set_delay_ms(500);
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": slow.url, "timeoutMs": 1000})).await;
    for n in 0..MESSAGES {
        app.post_ok(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": "a", "payload": {"n": n}}), 202).await;
    }
    let arrived = slow
        .wait_until_within(60_000, "every message", |received| {
            let ids: std::collections::HashSet<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
            ids.len() == MESSAGES
        })
        .await;
    let mut ids: Vec<&str> = arrived.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort_unstable();
    let sent = ids.len();
    ids.dedup();
    assert_eq!(sent, ids.len(), "{} deliveries were sent twice", sent - ids.len());
    app.stop().await;
}

#[tokio::test]
async fn past_retention_sqlite_keeps_the_message_row_and_postgresql_drops_its_week() {
    let clock = hookwire_server::clock::ManualClock::new();
    let app = TestApp::start_with_clock(support::quick_retention, clock.clone()).await;
    let receiver = Receiver::start().await;
    let customer = app.create_app().await;
    app.create_endpoint(&customer, json!({"url": receiver.url})).await;
    let msg = app.send(&customer, "invoice.paid", json!({"n": 1})).await;
    receiver.wait_for(1).await;
    let path = format!("/api/v1/app/{customer}/msg/{}", msg["id"].as_str().unwrap());
    // Five weeks on: past the day's retention, and the week the message was sent in has ended.
    clock.advance(35 * 86_400_000);
    if std::env::var("HOOKWIRE_TEST_BACKEND").as_deref() == Ok("postgres") {
        // The sweep drops the whole week (message, delivery, attempts) once its payloads are gone.
        let gone = app.get_until(&path, |body| body["code"] == "not_found").await;
        assert_eq!(gone["code"], "not_found", "{gone}");
        let (_, attempts) =
            app.get(&format!("/api/v1/app/{customer}/attempt/msg/{}", msg["id"].as_str().unwrap())).await;
        assert_eq!(attempts["code"], "not_found", "its attempts went with it: {attempts}");
    } else {
        let expired = app.get_until(&path, |body| body["payload"] == json!({"expired": true})).await;
        assert_eq!(expired["id"], msg["id"], "SQLite keeps the row; only its content goes");
    }
    app.stop().await;
}
