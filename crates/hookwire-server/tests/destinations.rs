//! Destinations: the API (Svix's shape, every field checked) and polling endpoints read in
//! order by iterator, by server-kept consumers, with a wait, under application tokens.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;

async fn poller(app: &TestApp, app_id: &str, body: Value) -> Value {
    app.post_ok(&format!("/api/v1/app/{app_id}/destination"), body, 201).await
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|m| m["payload"]["n"].to_string()).collect()
}

#[tokio::test]
async fn destinations_are_created_read_changed_and_refused_with_the_field_named() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let base = format!("/api/v1/app/{app_id}/destination");
    let created =
        poller(&app, &app_id, json!({"type": "pollingEndpoint", "uid": "feed", "eventTypes": ["invoice.*"]})).await;
    assert!(created["id"].as_str().unwrap().starts_with("dest_"));
    assert_eq!(
        (&created["type"], &created["status"], &created["batchSize"], &created["maxWaitSecs"]),
        (&json!("pollingEndpoint"), &json!("enabled"), &json!(100), &json!(0))
    );
    assert!(created["currentIterator"].is_string() && created["config"] == json!({}));

    for (body, loc) in [
        (json!({"type": "sqs", "config": {"queueDsn": "x"}}), json!(["body", "type"])),
        (json!({"type": "carrierPigeon"}), json!(["body", "type"])),
        (json!({"type": "pollingEndpoint", "batchSize": 0}), json!(["body", "batchSize"])),
        (json!({"type": "pollingEndpoint", "batchSize": 1001}), json!(["body", "batchSize"])),
        (json!({"type": "pollingEndpoint", "maxWaitSecs": 301}), json!(["body", "maxWaitSecs"])),
        (json!({"type": "pollingEndpoint", "config": {"url": "https://x"}}), json!(["body", "config", "url"])),
        (json!({"type": "pollingEndpoint", "status": "asleep"}), json!(["body", "status"])),
        (json!({"type": "pollingEndpoint", "eventTypes": ["bad type!"]}), json!(["body", "eventTypes"])),
    ] {
        let (status, error) = app.post(&base, body.clone()).await;
        assert_eq!(status, 422, "{body}: {error}");
        assert_eq!(error["detail"][0]["loc"], loc, "{body}: {error}");
    }
    let (status, error) = app.post(&base, json!({"type": "pollingEndpoint", "bogus": 1})).await;
    assert_eq!(status, 422, "unknown fields are refused: {error}");
    let (status, _) = app.post(&base, json!({"type": "pollingEndpoint", "uid": "feed"})).await;
    assert_eq!(status, 409);

    let (_, by_uid) = app.get(&format!("{base}/feed")).await;
    assert_eq!(by_uid["id"], created["id"]);
    let (status, patched) =
        app.request(Method::PATCH, &format!("{base}/feed"), Some(json!({"status": "paused", "batchSize": 5}))).await;
    assert_eq!((status.as_u16(), &patched["status"], &patched["batchSize"]), (200, &json!("paused"), &json!(5)));
    let (status, replaced) = app
        .request(Method::PUT, &format!("{base}/feed"), Some(json!({"type": "pollingEndpoint", "uid": "feed"})))
        .await;
    assert_eq!((status.as_u16(), &replaced["eventTypes"]), (200, &Value::Null));
    assert_eq!(replaced["currentIterator"], created["currentIterator"], "a replacement keeps the start");
    let (_, list) = app.get(&base).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (status, _) = app.request(Method::DELETE, &format!("{base}/feed"), None).await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&format!("{base}/feed")).await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_polling_endpoint_reads_its_stream_in_order_by_iterator_and_by_consumer() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    // Before the destination, so not in it, once it is in the log: on PostgreSQL a message that
    // is committed but not yet readable (an older transaction elsewhere still running) is after
    // a destination created meanwhile. A first reader sees it arrive.
    let watcher = poller(&app, &app_id, json!({"type": "pollingEndpoint"})).await;
    app.send(&app_id, "invoice.paid", json!({"n": -1})).await;
    let watch = format!("/api/v1/app/{app_id}/poller/{}", watcher["id"].as_str().unwrap());
    app.get_until(&watch, |page| ids(page) == ["-1"]).await;
    let d =
        poller(&app, &app_id, json!({"type": "pollingEndpoint", "eventTypes": ["invoice.*"], "batchSize": 3})).await;
    let id = d["id"].as_str().unwrap();
    for n in 0..10 {
        let event_type = if n % 2 == 0 { "invoice.paid" } else { "user.created" };
        let body =
            json!({"eventType": event_type, "payload": {"n": n}, "channels": [if n % 4 == 0 { "eu" } else { "us" }]});
        app.post_ok(&format!("/api/v1/app/{app_id}/msg"), body, 202).await;
    }
    let poll = format!("/api/v1/app/{app_id}/poller/{id}");
    // On PostgreSQL a message joins the log once every transaction older than it has ended, in
    // the whole cluster (other tests' too): wait until all five are readable, then read.
    app.get_until(&format!("{poll}?limit=10"), |page| ids(page).len() == 5).await;
    let (status, first) = app.get(&poll).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(ids(&first), ["0", "2", "4"], "its event types, in order, batchSize per page");
    assert_eq!(first["done"], false);
    let (_, second) = app.get(&format!("{poll}?iterator={}&limit=10", first["iterator"].as_str().unwrap())).await;
    assert_eq!(ids(&second), ["6", "8"]);
    assert_eq!(second["done"], true);
    let (_, empty) = app.get(&format!("{poll}?iterator={}", second["iterator"].as_str().unwrap())).await;
    assert_eq!((ids(&empty).len(), &empty["done"], &empty["iterator"]), (0, &json!(true), &second["iterator"]));
    let (_, eu) = app.get(&format!("{poll}?channel=eu&limit=10")).await;
    assert_eq!(ids(&eu), ["0", "4", "8"], "the channel filter applies on top");
    let (_, typed) = app.get(&format!("{poll}?event_type=user.created&limit=10")).await;
    assert_eq!(ids(&typed).len(), 0, "and the event-type filter, within the destination's own");
    let (status, error) = app.get(&format!("{poll}?iterator=not-a-position")).await;
    assert_eq!((status.as_u16(), &error["detail"][0]["loc"]), (422, &json!(["query", "iterator"])));
    // A position past the log's end is refused: a consumer keeping it would miss every message
    // until the log reached it.
    let future = past_end(second["iterator"].as_str().unwrap());
    let (status, error) = app.get(&format!("{poll}?iterator={future}")).await;
    assert_eq!((status.as_u16(), &error["detail"][0]["loc"]), (422, &json!(["query", "iterator"])), "{error}");
    let (status, _) = app.get(&format!("{poll}?limit=0")).await;
    assert_eq!(status, 422);
    let (status, _) = app.get(&format!("{poll}?cursor=1")).await;
    assert_eq!(status, 422, "an unknown parameter is refused");

    // A consumer's position is kept by the server.
    let consumer = format!("{poll}/consumer/worker-1");
    assert_eq!(ids(&app.get(&consumer).await.1), ["0", "2", "4"]);
    assert_eq!(ids(&app.get(&consumer).await.1), ["6", "8"]);
    assert_eq!(ids(&app.get(&consumer).await.1).len(), 0);
    let (_, other) = app.get(&format!("{poll}/consumer/worker-2")).await;
    assert_eq!(ids(&other), ["0", "2", "4"], "each consumer has its own position");
    let past = "2000-01-01T00:00:00Z";
    let (status, sought) = app.post(&format!("{consumer}/seek"), json!({"after": past})).await;
    assert_eq!(status, 200, "{sought}");
    assert_eq!(ids(&app.get(&consumer).await.1), ["-1", "0", "2"], "seek goes back by time, before the start too");
    let (status, _) = app.get(&format!("{poll}/consumer/bad%20id")).await;
    assert_eq!(status, 422);

    let (status, _) = app
        .request(Method::PATCH, &format!("/api/v1/app/{app_id}/destination/{id}"), Some(json!({"status": "paused"})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&poll).await.0, 409, "a paused destination says so");
    app.stop().await;
}

#[tokio::test]
async fn a_poll_may_wait_for_messages_and_application_tokens_read_only_their_own() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let d = poller(&app, &app_id, json!({"type": "pollingEndpoint", "maxWaitSecs": 10})).await;
    let poll = format!("/api/v1/app/{app_id}/poller/{}", d["id"].as_str().unwrap());
    let started = Instant::now();
    let sender = {
        let (url, token, app_id) = (app.url.clone(), app.token.clone(), app_id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            reqwest::Client::new()
                .post(format!("{url}/api/v1/app/{app_id}/msg"))
                .bearer_auth(token)
                .json(&json!({"eventType": "a.b", "payload": {"n": 1}}))
                .send()
                .await
                .unwrap();
        })
    };
    let (_, page) = app.get(&poll).await;
    sender.await.unwrap();
    assert_eq!(ids(&page), ["1"], "the waiting poll got the message");
    assert!(started.elapsed() < Duration::from_secs(5), "it answered when the message came, not at the wait's end");
    let started = Instant::now();
    let (_, empty) = app.get(&format!("{poll}?iterator={}&wait_secs=0", page["iterator"].as_str().unwrap())).await;
    assert!(ids(&empty).is_empty() && started.elapsed() < Duration::from_secs(2), "wait_secs=0 answers at once");

    let access = app.post_ok(&format!("/api/v1/auth/app-portal-access/{app_id}"), json!({"readOnly": true}), 200).await;
    let token = access["token"].as_str().unwrap();
    let (status, _) = app.request_as(Some(token), Method::GET, &format!("{poll}?wait_secs=0"), None).await;
    assert_eq!(status, 200, "a read-only token reads its application's poller");
    let other = app.create_app().await;
    let elsewhere = poller(&app, &other, json!({"type": "pollingEndpoint"})).await;
    let foreign = format!("/api/v1/app/{other}/poller/{}", elsewhere["id"].as_str().unwrap());
    let (status, _) = app.request_as(Some(token), Method::GET, &foreign, None).await;
    assert_eq!(status, 404, "another application's poller does not exist for it");
    let create = format!("/api/v1/app/{app_id}/destination");
    let (status, _) =
        app.request_as(Some(token), Method::POST, &create, Some(json!({"type": "pollingEndpoint"}))).await;
    assert_eq!(status, 403, "a read-only token creates nothing");
    app.stop().await;
}

#[tokio::test]
async fn a_fifo_endpoint_gets_every_message_in_order_in_signed_batches_retried_whole() {
    use support::receiver::{Receiver, Reply};
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    // Some batches fail (a 503, a 500, a slow answer counts as taken): each goes again whole.
    receiver.script([
        Reply::status(200),
        Reply::status(503),
        Reply::status(200),
        Reply::status(500),
        Reply::status(200),
    ]);
    let app_id = app.create_app().await;
    let base = format!("/api/v1/app/{app_id}/destination");
    let (status, error) = app.post(&base, json!({"type": "fifoEndpoint", "config": {}})).await;
    assert_eq!((status.as_u16(), &error["detail"][0]["loc"]), (422, &json!(["body", "config", "url"])));
    let (status, error) = app.post(&base, json!({"type": "fifoEndpoint", "config": {"url": "ftp://x"}})).await;
    assert_eq!((status.as_u16(), &error["detail"][0]["loc"]), (422, &json!(["body", "config", "url"])));
    let fifo = poller(
        &app,
        &app_id,
        json!({"type": "fifoEndpoint", "uid": "ledger", "batchSize": 4, "eventTypes": ["order.*"],
               "config": {"url": format!("{}/fifo", receiver.url), "headers": {"X-Ledger": "main"}, "key": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}),
    )
    .await;
    assert_eq!(fifo["config"], json!({"url": format!("{}/fifo", receiver.url), "headers": {"X-Ledger": "main"}}));
    let mut sent = Vec::new();
    for n in 0..18 {
        let event_type = if n % 3 == 2 { "user.created" } else { "order.created" };
        let message = app.send(&app_id, event_type, json!({"n": n})).await;
        if event_type == "order.created" {
            sent.push(message["id"].as_str().unwrap().to_owned());
        }
    }
    // Taken batches (2xx), in the order they were taken, must be the sent orders, whole.
    let taken = |received: &[support::receiver::Received]| -> Vec<String> {
        let mut ids = Vec::new();
        let mut seen_batches = std::collections::HashSet::new();
        for (n, request) in received.iter().enumerate() {
            let failed = matches!(n, 1 | 3);
            if failed || !seen_batches.insert(request.header("webhook-id").to_owned()) {
                continue;
            }
            let batch: Vec<Value> = serde_json::from_slice(&request.body).unwrap();
            ids.extend(batch.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        }
        ids
    };
    let received = receiver.wait_until("every order taken", |r| taken(r).len() >= sent.len()).await;
    assert_eq!(taken(&received), sent, "every message once, in order, nothing skipped");
    // A failed batch went again with the same webhook-id and the same messages.
    assert_eq!(received[1].header("webhook-id"), received[2].header("webhook-id"));
    assert_eq!(received[1].body, received[2].body);
    for request in &received {
        let batch: Vec<Value> = serde_json::from_slice(&request.body).unwrap();
        assert!(batch.len() <= 4 && batch.iter().all(|m| m["eventType"] == "order.created"));
        assert_eq!(request.header("x-ledger"), "main");
        let timestamp: i64 = request.header("webhook-timestamp").parse().unwrap();
        assert!(hookwire_core::signing::verify(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            request.header("webhook-id"),
            timestamp,
            &request.body,
            request.header("webhook-signature")
        ));
    }
    // The last batch's answer is saved just after the receiver saw it.
    let state = app.get_until(&format!("{base}/ledger"), |d| d["status"] == "enabled").await;
    assert_eq!(state["failureReason"], Value::Null);
    assert_eq!(app.get(&format!("/api/v1/app/{app_id}/poller/ledger")).await.0, 409, "a FIFO is not polled");
    app.stop().await;
}

#[tokio::test]
async fn a_failing_fifo_endpoint_says_so_and_a_paused_one_keeps_its_place() {
    use support::receiver::{Receiver, Reply};
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script(std::iter::repeat_n(Reply { status: 503, body: "maintenance".into(), ..Reply::default() }, 3));
    let app_id = app.create_app().await;
    let fifo =
        poller(&app, &app_id, json!({"type": "fifoEndpoint", "uid": "sync", "config": {"url": receiver.url}})).await;
    assert!(fifo["id"].is_string());
    let path = format!("/api/v1/app/{app_id}/destination/sync");
    app.send(&app_id, "a.b", json!({"n": 1})).await;
    let retrying = app.get_until(&path, |d| d["status"] == "retrying").await;
    assert!(retrying["failureReason"].as_str().unwrap().contains("HTTP 503: maintenance"), "{retrying}");
    assert!(retrying["nextRetryAt"].is_string());
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"status": "paused"}))).await;
    assert_eq!(status, 200);
    let paused_at = receiver.received().len();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(receiver.received().len(), paused_at, "a paused FIFO sends nothing");
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"status": "enabled"}))).await;
    assert_eq!(status, 200);
    let done = app.get_until(&path, |d| d["status"] == "enabled" && d["failureReason"].is_null()).await;
    assert!(done["currentIterator"].is_string());
    let taken = receiver.wait_until("the batch taken", |r| r.len() >= 4).await;
    assert_eq!(taken[3].header("webhook-id"), taken[0].header("webhook-id"), "the same batch, from where it was");
    app.stop().await;
}

#[tokio::test]
async fn a_fifo_endpoint_is_steered_by_skip_force_retry_next_event_and_its_secret() {
    use support::receiver::{Receiver, Reply};
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script(std::iter::repeat_n(Reply::status(503), 3));
    let app_id = app.create_app().await;
    poller(&app, &app_id, json!({"type": "fifoEndpoint", "uid": "sync", "config": {"url": receiver.url}})).await;
    let path = format!("/api/v1/app/{app_id}/destination/sync");
    let first = app.send(&app_id, "a.b", json!({"n": 1})).await;
    app.get_until(&path, |d| d["status"] == "retrying").await;
    let (status, next) = app.get(&format!("{path}/next-event")).await;
    assert_eq!((status.as_u16(), &next["id"]), (200, &first["id"]), "the head of the failing batch");

    // Settings from outside win over a batch in flight: they answer at once, never a 409.
    let (status, skipped) = app.post(&format!("{path}/skip"), json!({})).await;
    assert_eq!(status, 200, "{skipped}");
    assert_eq!(
        (&skipped["status"], &skipped["failureReason"]),
        (&json!("enabled"), &Value::Null),
        "the backlog is dropped"
    );
    assert_eq!(app.get(&format!("{path}/next-event")).await.0, 404, "nothing left unacknowledged");
    let (status, _) = app.post(&format!("{path}/force-retry"), json!({})).await;
    assert_eq!(status, 200);
    let (status, error) = app.post(&format!("{path}/skip"), json!({"iterator": "not-a-position"})).await;
    assert_eq!((status.as_u16(), &error["detail"][0]["loc"]), (422, &json!(["body", "iterator"])));
    // A position past the log's end is refused too (the sender would skip every message until
    // the log reached it); one the log made is taken.
    let reader = poller(&app, &app_id, json!({"type": "pollingEndpoint"})).await;
    let read = app.get(&format!("/api/v1/app/{app_id}/poller/{}", reader["id"].as_str().unwrap())).await.1;
    let end = read["iterator"].as_str().unwrap().to_owned();
    assert_eq!(app.post(&format!("{path}/skip"), json!({"iterator": end})).await.0, 200);
    let (status, error) = app.post(&format!("{path}/skip"), json!({"iterator": past_end(&end)})).await;
    assert_eq!(
        (status.as_u16(), &error["detail"][0]["loc"]),
        (422, &json!(["body", "iterator"])),
        "skipping past the end: {error}"
    );

    let key = app.get(&format!("{path}/secret")).await.1["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("whsec_"));
    let rotated = app.post_ok(&format!("{path}/secret/rotate"), json!({}), 200).await;
    assert_ne!(rotated["key"].as_str().unwrap(), key);
    assert_eq!(app.get(&format!("{path}/secret")).await.1["key"], rotated["key"]);
    let second = app.send(&app_id, "a.b", json!({"n": 2})).await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let arrived = receiver
        .wait_until("the next message, signed with the new key", |r| {
            r.last().is_some_and(|last| String::from_utf8_lossy(&last.body).contains(&second_id))
        })
        .await;
    let last = arrived.last().unwrap();
    let timestamp: i64 = last.header("webhook-timestamp").parse().unwrap();
    assert!(hookwire_core::signing::verify(
        rotated["key"].as_str().unwrap(),
        last.header("webhook-id"),
        timestamp,
        &last.body,
        last.header("webhook-signature")
    ));
    assert!(
        !String::from_utf8_lossy(&last.body).contains(first["id"].as_str().unwrap()),
        "the skipped message is never sent"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_fifo_transformation_turns_each_batch_into_the_body_sent() {
    use support::receiver::Receiver;
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    poller(
        &app,
        &app_id,
        json!({"type": "fifoEndpoint", "uid": "bulk", "batchSize": 10, "maxWaitSecs": 1,
        "config": {"url": receiver.url, "key": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}),
    )
    .await;
    let path = format!("/api/v1/app/{app_id}/destination/bulk/transformation");
    let (status, none) = app.get(&path).await;
    assert_eq!((status.as_u16(), &none["code"], &none["enabled"]), (200, &Value::Null, &json!(false)));
    let (status, error) = app.request(Method::PATCH, &path, Some(json!({"code": "function handler( {"}))).await;
    assert_eq!((status.as_u16(), &error["detail"][0]["loc"]), (422, &json!(["body", "code"])));
    let code = "function handler(input) { return { rows: input.events.map(e => [e.eventType, e.payload.n]) }; }";
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"code": code}))).await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&path).await.1["enabled"], true);
    for n in 0..3 {
        app.send(&app_id, "row.added", json!({"n": n})).await;
    }
    let received = receiver.wait_for(1).await;
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body, json!({"rows": [["row.added", 0], ["row.added", 1], ["row.added", 2]]}));
    let timestamp: i64 = received[0].header("webhook-timestamp").parse().unwrap();
    assert!(
        hookwire_core::signing::verify(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            received[0].header("webhook-id"),
            timestamp,
            &received[0].body,
            received[0].header("webhook-signature")
        ),
        "signed over the transformed body"
    );
    let polled = format!("/api/v1/app/{app_id}/destination/bulk");
    let (status, _) = app
        .request(
            Method::PUT,
            &polled,
            Some(json!({"type": "fifoEndpoint", "uid": "bulk", "config": {"url": receiver.url}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&path).await.1["code"], code, "a replacement keeps the transformation");
    // A handler that throws fails the batch, which says why and goes again; nothing is sent.
    let throwing = "function handler(input) {\n  throw new Error('no ' + input.events[0].eventType);\n}";
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"code": throwing}))).await;
    assert_eq!(status, 204);
    app.send(&app_id, "row.added", json!({"n": 9})).await;
    let failing = app.get_until(&polled, |d| d["status"] == "retrying").await;
    assert_eq!(failing["failureReason"], "transformation: the handler threw at line 2: Error: no row.added");
    assert_eq!(receiver.received().len(), 1, "a failed transformation sends nothing");
    app.stop().await;
}

#[tokio::test]
async fn a_fifo_endpoint_shows_its_attempts_last_acked_event_lag_and_headers() {
    use support::receiver::{Receiver, Reply};
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply { status: 503, body: "not yet".into(), ..Reply::default() }]);
    let app_id = app.create_app().await;
    let fifo = poller(
        &app,
        &app_id,
        json!({"type": "fifoEndpoint", "uid": "ledger", "batchSize": 2, "status": "paused",
               "config": {"url": receiver.url, "headers": {"X-Ledger": "main", "Authorization": "Bearer s3cret"}}}),
    )
    .await;
    let fifo_id = fifo["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/app/{app_id}/destination/ledger");
    assert_eq!(fifo["config"]["headers"], json!({"X-Ledger": "main"}), "sensitive values are write-only");
    assert_eq!(fifo["lag"], 0);
    let (status, headers) = app.get(&format!("{path}/headers")).await;
    assert_eq!(
        (status.as_u16(), headers),
        (200, json!({"headers": {"X-Ledger": "main"}, "sensitive": ["Authorization"]}))
    );
    assert_eq!(app.get(&format!("{path}/last-acked-event")).await.0, 404, "nothing acknowledged yet");

    // Paused, it falls behind by what is accepted; the metric says the same.
    let mut sent = Vec::new();
    for n in 0..3 {
        sent.push(app.send(&app_id, "a.b", json!({"n": n})).await["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(app.get(&path).await.1["lag"], 3);
    let listed = app.get(&format!("/api/v1/app/{app_id}/destination")).await.1;
    assert_eq!(listed["data"][0]["lag"], 3);
    let series = format!(
        "hookwire_destination_lag_messages{{app=\"{app_id}\",destination=\"{fifo_id}\",type=\"fifoEndpoint\"}}"
    );
    assert_eq!(support::sample(&app.scrape().await, &series), Some(3.0));

    // A PUT without headers keeps them (their sensitive values could not be read back).
    let (status, replaced) = app
        .request(
            Method::PUT,
            &path,
            Some(json!({"type": "fifoEndpoint", "uid": "ledger", "batchSize": 2, "config": {"url": receiver.url}})),
        )
        .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(app.get(&format!("{path}/headers")).await.1["sensitive"], json!(["Authorization"]));

    // Enabled (by the PUT): a failed try, then both batches taken; each try is in the attempt log.
    let received = receiver.wait_until("both batches taken", |r| r.len() >= 3).await;
    assert_eq!(received[0].header("authorization"), "Bearer s3cret");
    assert_eq!(received[0].header("x-ledger"), "main");
    let done = app.get_until(&path, |d| d["lag"] == 0 && d["status"] == "enabled").await;
    assert_eq!(done["failureReason"], Value::Null);
    let attempts = app.get_until(&format!("{path}/attempt"), |a| a["data"].as_array().unwrap().len() == 3).await;
    let summary: Vec<(Value, Value, Value)> = attempts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["status"].clone(), a["messages"].clone(), a["responseStatusCode"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!("succeeded"), json!(1), json!(200)),
            (json!("succeeded"), json!(2), json!(200)),
            (json!("failed"), json!(2), json!(503)),
        ],
        "newest first"
    );
    let failed = &attempts["data"][2];
    assert_eq!((&failed["response"], &failed["errorKind"]), (&json!("not yet"), &json!("status")));
    assert_eq!(failed["batchId"], attempts["data"][1]["batchId"], "the retry is the same batch");
    assert_eq!(failed["batchId"], format!("batch_{}_{}", sent[0], sent[1]), "named by its first and last message");
    let one = app.get(&format!("{path}/attempt/{}", failed["id"].as_str().unwrap())).await;
    assert_eq!((one.0.as_u16(), &one.1), (200, failed));
    let older =
        app.get(&format!("{path}/attempt?limit=1&iterator={}", attempts["data"][0]["id"].as_str().unwrap())).await;
    assert_eq!(older.1["data"][0]["id"], attempts["data"][1]["id"], "paged by iterator");
    assert_eq!(app.get(&format!("{path}/attempt/atmpt_00000000000000000000000000")).await.0, 404);
    let (status, acked) = app.get(&format!("{path}/last-acked-event")).await;
    assert_eq!((status.as_u16(), acked["id"].as_str().unwrap()), (200, sent[2].as_str()));
    assert_eq!(support::sample(&app.scrape().await, &series), Some(0.0));

    // Headers changed on their own route reach the next batch.
    let (status, _) = app
        .request(
            Method::PATCH,
            &format!("{path}/headers"),
            Some(json!({"headers": {"X-New": "1"}, "deleteHeaders": ["X-Ledger"]})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, error) =
        app.request(Method::PUT, &format!("{path}/headers"), Some(json!({"headers": {"Host": "evil"}}))).await;
    assert_eq!(status, 422, "{error}");
    app.send(&app_id, "a.b", json!({"n": 3})).await;
    let received = receiver.wait_until("the next batch", |r| r.len() >= 4).await;
    assert_eq!((received[3].header("x-new"), received[3].header("x-ledger")), ("1", ""));
    assert_eq!(received[3].header("authorization"), "Bearer s3cret");
    app.stop().await;
}

#[tokio::test]
async fn a_fifo_transformation_is_simulated_on_given_events_or_the_next_batch() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    poller(
        &app,
        &app_id,
        json!({"type": "fifoEndpoint", "uid": "sink", "status": "paused", "config": {"url": "https://example.com/in"}}),
    )
    .await;
    let path = format!("/api/v1/app/{app_id}/destination/sink/transformation");
    let code = "function handler(input) { console.log(input.events.length); \
                return {count: input.events.length, url: input.url, types: input.events.map(e => e.eventType)}; }";
    let (status, error) =
        app.post(&format!("{path}/simulate"), json!({"events": [{"eventType": "a.b", "payload": {}}]})).await;
    assert_eq!(
        (status.as_u16(), &error["detail"][0]["loc"]),
        (422, &json!(["body", "code"])),
        "no code saved or given"
    );
    let given = app
        .post_ok(
            &format!("{path}/simulate"),
            json!({"code": code, "events": [{"eventType": "a.b", "payload": {"n": 1}}, {"eventType": "c.d", "payload": {}}]}),
            200,
        )
        .await;
    assert_eq!(
        given,
        json!({"payload": {"count": 2, "url": "https://example.com/in", "types": ["a.b", "c.d"]},
               "events": 2, "error": null, "console": ["2"]})
    );
    let (status, error) = app.post(&format!("{path}/simulate"), json!({"code": code})).await;
    assert_eq!((status.as_u16(), &error["detail"][0]["loc"]), (422, &json!(["body", "events"])), "nothing pending");
    // Saved code, on the destination's next batch (what it has not sent).
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"code": code}))).await;
    assert_eq!(status, 204);
    app.send(&app_id, "x.y", json!({"n": 1})).await;
    let pending = app.post_until(&format!("{path}/simulate"), json!({}), |status, _| status == 200).await;
    assert_eq!(pending["payload"]["types"], json!(["x.y"]));
    let thrown = app
        .post_ok(&format!("{path}/simulate"), json!({"code": "function handler(i) { throw new Error('no'); }"}), 200)
        .await;
    assert!(thrown["error"].as_str().unwrap().contains("no"), "{thrown}");
    let (status, error) = app.post(&format!("{path}/simulate"), json!({"events": [], "code": code})).await;
    assert_eq!((status.as_u16(), &error["detail"][0]["loc"]), (422, &json!(["body", "events"])));
    let (status, _) = app.post(&format!("{path}/simulate"), json!({"bogus": 1})).await;
    assert_eq!(status, 422, "unknown fields are refused");
    app.stop().await;
}

#[tokio::test]
async fn a_fifo_that_fell_behind_its_messages_retention_is_told_so() {
    use support::receiver::Receiver;
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    poller(
        &app,
        &app_id,
        json!({"type": "fifoEndpoint", "uid": "late", "status": "paused", "config": {"url": receiver.url}}),
    )
    .await;
    let path = format!("/api/v1/app/{app_id}/destination/late");
    let kept = app.send(&app_id, "a.b", json!({"n": 1})).await;
    let purged = app.send(&app_id, "a.b", json!({"n": 2})).await;
    let purged_id = purged["id"].as_str().unwrap();
    let (status, _) = app.request(Method::DELETE, &format!("/api/v1/app/{app_id}/msg/{purged_id}/content"), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"status": "enabled"}))).await;
    assert_eq!(status, 200);
    let received = receiver.wait_for(1).await;
    let batch: Vec<Value> = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(batch[0]["id"], kept["id"]);
    assert_eq!(batch[1]["payload"], json!({"expired": true}));
    let told = app.get_until(&path, |d| d["lag"] == 0).await;
    assert_eq!(told["status"], "enabled", "the batch was taken");
    let reason = told["failureReason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("fell behind retention: 1 of the 2 events"), "{told}");
    // The next whole batch clears it.
    app.send(&app_id, "a.b", json!({"n": 3})).await;
    receiver.wait_for(2).await;
    app.get_until(&path, |d| d["failureReason"].is_null() && d["lag"] == 0).await;
    app.stop().await;
}

#[tokio::test]
async fn a_failing_batch_whose_messages_no_longer_match_is_over_and_sealed_looking_headers_are_refused() {
    use support::receiver::{Receiver, Reply};
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script(std::iter::repeat_n(Reply::status(503), 50));
    let app_id = app.create_app().await;
    let base = format!("/api/v1/app/{app_id}/destination");
    let (status, error) = app
        .post(
            &base,
            json!({"type": "fifoEndpoint", "config": {"url": receiver.url, "headers": {"X-Token": "enc:v1:abc"}}}),
        )
        .await;
    assert_eq!((status.as_u16(), &error["detail"][0]["loc"]), (422, &json!(["body", "headers", "X-Token"])));
    poller(
        &app,
        &app_id,
        json!({"type": "fifoEndpoint", "uid": "sync", "eventTypes": ["a.*"], "config": {"url": receiver.url}}),
    )
    .await;
    let path = format!("{base}/sync");
    let (status, _) =
        app.request(Method::PATCH, &format!("{path}/headers"), Some(json!({"headers": {"X-Token": "enc:v1:x"}}))).await;
    assert_eq!(status, 422, "a value that looks sealed could not be told from a sealed one");
    app.send(&app_id, "a.b", json!({"n": 1})).await;
    app.get_until(&path, |d| d["status"] == "retrying").await;
    // Its filter changes so the failing batch's message no longer matches: nothing is left to
    // retry, and the destination says so instead of staying "retrying".
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"eventTypes": ["z.*"]}))).await;
    assert_eq!(status, 200);
    assert_eq!(app.post(&format!("{path}/force-retry"), json!({})).await.0, 200);
    let over = app.get_until(&path, |d| d["status"] == "enabled").await;
    assert_eq!(over["failureReason"], Value::Null, "{over}");
    app.stop().await;
}

/// A position of the same form as `position`, far past the log's end (SQLite: a sequence number;
/// PostgreSQL: a transaction id and a message id).
fn past_end(position: &str) -> String {
    match position.split_once('.') {
        Some((xid, rest)) => format!("{}.{rest}", xid.parse::<i64>().unwrap() + 1_000_000),
        None => (position.parse::<i64>().unwrap() + 1_000_000).to_string(),
    }
}

/// A failing batch is simulated as it will go again (up to its saved end), not with messages
/// that arrived after it was cut.
#[tokio::test]
async fn a_failing_batch_is_simulated_as_it_will_be_retried() {
    use support::receiver::{Receiver, Reply};
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply { status: 503, headers: vec![("retry-after", "3600".into())], ..Reply::default() }]);
    let app_id = app.create_app().await;
    let sink = json!({"type": "fifoEndpoint", "uid": "sink", "batchSize": 10, "config": {"url": receiver.url}});
    poller(&app, &app_id, sink).await;
    let path = format!("/api/v1/app/{app_id}/destination/sink");
    let code = "function handler(input) { return input.events.map(e => e.eventType); }";
    let (status, _) = app.request(Method::PATCH, &format!("{path}/transformation"), Some(json!({"code": code}))).await;
    assert_eq!(status, 204);
    app.send(&app_id, "first.one", json!({})).await;
    app.get_until(&path, |d| d["status"] == "retrying").await;
    app.send(&app_id, "second.one", json!({})).await;
    let pending = app.post_ok(&format!("{path}/transformation/simulate"), json!({}), 200).await;
    assert_eq!(pending["payload"], json!(["first.one"]), "the batch as it will be retried: {pending}");
    app.stop().await;
}

/// Messages sent one after another mid-turn.
const MESSAGES: usize = 10;

/// A FIFO destination `bulk` in the middle of one turn: ten messages as ten batches of one, the
/// receiver taking 100 ms each (a second, one turn), two of them received. The server's clock
/// stands still, so a change is made in the same millisecond as the destination's last write:
/// the turn must see it all the same.
async fn mid_turn() -> (TestApp, support::receiver::Receiver, String) {
    let app = TestApp::start_with_clock(|_| {}, hookwire_server::clock::ManualClock::new()).await;
    let receiver = support::receiver::Receiver::start().await;
    receiver.set_delay_ms(100);
    let app_id = app.create_app().await;
    poller(
        &app,
        &app_id,
        json!({"type": "fifoEndpoint", "uid": "bulk", "batchSize": 1, "config": {"url": receiver.url}}),
    )
    .await;
    for n in 0..MESSAGES {
        app.send(&app_id, "row.added", json!({"n": n})).await;
    }
    receiver.wait_for(2).await;
    (app, receiver, app_id)
}

/// A change to a destination holds from the next batch read after it, not from the next turn
/// (a turn sends up to 50 batches in a second from one read of the destination).
#[tokio::test]
async fn a_transformation_changed_mid_turn_shapes_the_next_batch() {
    let (app, receiver, app_id) = mid_turn().await;
    let path = format!("/api/v1/app/{app_id}/destination/bulk/transformation");
    let code = "function handler(input) { return { changed: input.events.length }; }";
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"code": code}))).await;
    assert_eq!(status, 204);
    let before = receiver.received().len();
    let all = receiver.wait_for(MESSAGES).await;
    let changed: Vec<bool> = all[before..]
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap().get("changed").is_some())
        .collect();
    // The batch in flight when the change was made may go as it was; every one after it is new.
    assert!(changed.iter().skip(1).all(|c| *c), "batches after the change: {changed:?}");
    app.stop().await;
}

/// A pause made mid-turn holds from the next batch read after it: the batch in flight may go,
/// none after it; enabled again, the rest go in order from where it stopped.
#[tokio::test]
async fn a_fifo_paused_mid_turn_stops_after_the_batch_in_flight() {
    let (app, receiver, app_id) = mid_turn().await;
    let path = format!("/api/v1/app/{app_id}/destination/bulk");
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"status": "paused"}))).await;
    assert_eq!(status, 200);
    let paused_at = receiver.received().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = receiver.received().len();
    assert!(after <= paused_at + 1, "only the batch in flight went after the pause: {paused_at} then {after}");
    assert!(after < MESSAGES, "the turn went on");
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"status": "enabled"}))).await;
    assert_eq!(status, 200);
    let all = receiver.wait_for(MESSAGES).await;
    let sent: Vec<u64> = all
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()[0]["payload"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(sent, (0..MESSAGES as u64).collect::<Vec<_>>(), "every message once, in order");
    app.stop().await;
}
