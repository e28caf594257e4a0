//! Delivery end to end: HTTP API in, a real receiver out.

mod support;

use hookwire_core::signing;
use serde_json::{Value, json};
use support::TestApp;
use support::receiver::{Receiver, Reply};

async fn attempts_of(app: &TestApp, app_id: &str, msg_id: &str, count: usize) -> Vec<Value> {
    let body = app
        .get_until(&format!("/api/v1/app/{app_id}/attempt/msg/{msg_id}"), |v| {
            v["data"].as_array().is_some_and(|a| a.len() >= count)
        })
        .await;
    let mut attempts = body["data"].as_array().unwrap().clone();
    attempts.reverse(); // oldest first
    attempts
}

async fn destination(app: &TestApp, app_id: &str, msg_id: &str, final_status: &str) -> Value {
    let body = app
        .get_until(&format!("/api/v1/app/{app_id}/msg/{msg_id}/endpoint"), |v| {
            v["data"][0]["statusText"] == final_status
        })
        .await;
    body["data"][0].clone()
}

#[tokio::test]
async fn delivers_signed_payload_with_standard_and_svix_headers() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint = app
        .create_endpoint(&app_id, json!({"url": format!("{}/hook", receiver.url), "headers": {"X-Tenant": "acme"}}))
        .await;
    let secret = app.get(&format!("/api/v1/app/{app_id}/endpoint/{}/secret", endpoint["id"].as_str().unwrap())).await.1
        ["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw = r#"{"b": 1,   "a": [true, null]}"#;
    let (status, message) = app
        .post(
            &format!("/api/v1/app/{app_id}/msg"),
            serde_json::from_str(&format!(r#"{{"eventType":"user.created","payload":{raw}}}"#)).unwrap(),
        )
        .await;
    assert_eq!(status, 202);
    let msg_id = message["id"].as_str().unwrap();

    let request = receiver.wait_for(1).await.remove(0);
    assert_eq!(request.path, "/hook");
    assert_eq!(request.header("webhook-id"), msg_id);
    assert_eq!(request.header("svix-id"), msg_id);
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("x-tenant"), "acme");
    assert!(request.header("user-agent").starts_with("Hookwire/"));
    let timestamp: i64 = request.header("webhook-timestamp").parse().unwrap();
    assert_eq!(request.header("svix-signature"), request.header("webhook-signature"));
    assert!(signing::verify(&secret, msg_id, timestamp, &request.body, request.header("webhook-signature")));
    // serde_json re-serializes the payload compactly; the signature covers exactly what was sent.
    let sent: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(sent, json!({"b": 1, "a": [true, null]}));

    let attempt = attempts_of(&app, &app_id, msg_id, 1).await.remove(0);
    assert_eq!((attempt["status"].as_i64(), attempt["responseStatusCode"].as_i64()), (Some(0), Some(200)));
    assert_eq!(attempt["response"], "ok");
    assert_eq!(destination(&app, &app_id, msg_id, "success").await["attempts"], 1);
    app.stop().await;
}

#[tokio::test]
async fn retries_failures_on_the_schedule_then_succeeds() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500), Reply { status: 503, body: "busy".into(), ..Reply::default() }]);
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": receiver.url, "retryPolicy": {"schedule": [0, 0]}})).await;
    let msg_id = app.send(&app_id, "order.paid", json!({"n": 1})).await["id"].as_str().unwrap().to_owned();

    let requests = receiver.wait_for(3).await;
    assert!(requests.iter().all(|r| r.header("webhook-id") == msg_id), "retries keep the webhook-id");
    let attempts = attempts_of(&app, &app_id, &msg_id, 3).await;
    let summary: Vec<_> = attempts
        .iter()
        .map(|a| (a["responseStatusCode"].as_i64().unwrap(), a["statusText"].as_str().unwrap()))
        .collect();
    assert_eq!(summary, [(500, "fail"), (503, "fail"), (200, "success")]);
    assert_eq!(attempts[1]["response"], "busy");
    assert_eq!(attempts[1]["errorKind"], "status");
    assert_eq!(destination(&app, &app_id, &msg_id, "success").await["attempts"], 3);
    app.stop().await;
}

#[tokio::test]
async fn exhausted_retries_mark_the_delivery_failed() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500), Reply::status(502)]);
    let app_id = app.create_app().await;
    let endpoint = app
        .create_endpoint(&app_id, json!({"url": receiver.url, "retryPolicy": {"maxRetries": 1, "intervalMs": 10}}))
        .await;
    let msg_id = app.send(&app_id, "a.b", json!({})).await["id"].as_str().unwrap().to_owned();

    let failed = destination(&app, &app_id, &msg_id, "fail").await;
    assert_eq!(
        (failed["status"].as_i64(), failed["attempts"].as_i64(), failed["nextAttempt"].clone()),
        (Some(2), Some(2), Value::Null)
    );
    assert_eq!(receiver.received().len(), 2);
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let stats = app.get(&format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats")).await.1;
    assert_eq!(
        stats,
        json!({"success": 0, "pending": 0, "sending": 0, "fail": 1, "canceled": 0, "filterErrors": 0, "lastFilterError": null})
    );
    let failures = app.get(&format!("/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}?status=2")).await.1;
    assert_eq!(failures["data"].as_array().unwrap().len(), 2);

    // Recover sends every failed delivery again; this time the receiver answers 200.
    let recovered = app
        .post_ok(
            &format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover"),
            json!({"since": "2020-01-01T00:00:00Z"}),
            202,
        )
        .await;
    assert_eq!((recovered["task"].as_str(), recovered["status"].as_str()), (Some("endpoint.recover"), Some("running")));
    let task = app.task_done(recovered["id"].as_str().unwrap()).await;
    assert_eq!((task["status"].as_str(), task["data"]["messagesSent"].as_u64()), (Some("finished"), Some(1)));
    destination(&app, &app_id, &msg_id, "success").await;
    assert_eq!(receiver.received().len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn timeouts_redirects_and_refusals_are_recorded_as_such() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script([
        Reply { status: 200, delay_ms: 2_500, ..Reply::default() },
        Reply { status: 302, headers: vec![("location", "/elsewhere".into())], ..Reply::default() },
    ]);
    let app_id = app.create_app().await;
    let once = json!({"maxRetries": 0, "intervalMs": 0});
    app.create_endpoint(
        &app_id,
        json!({"url": receiver.url, "timeoutMs": 1000, "retryPolicy": once, "eventTypes": ["slow"]}),
    )
    .await;
    app.create_endpoint(&app_id, json!({"url": receiver.url, "retryPolicy": once, "eventTypes": ["moved"]})).await;

    let slow = app.send(&app_id, "slow", json!({})).await["id"].as_str().unwrap().to_owned();
    let attempt = attempts_of(&app, &app_id, &slow, 1).await.remove(0);
    assert_eq!((attempt["errorKind"].as_str(), attempt["responseStatusCode"].as_i64()), (Some("timeout"), Some(0)));

    let moved = app.send(&app_id, "moved", json!({})).await["id"].as_str().unwrap().to_owned();
    let attempt = attempts_of(&app, &app_id, &moved, 1).await.remove(0);
    assert_eq!((attempt["statusText"].as_str(), attempt["responseStatusCode"].as_i64()), (Some("fail"), Some(302)));
    receiver.wait_for(2).await;
    assert!(receiver.received().iter().all(|r| r.path != "/elsewhere"), "redirects are not followed");
    app.stop().await;
}

#[tokio::test]
async fn retry_after_delays_the_next_attempt() {
    let clock = hookwire_server::clock::ManualClock::new();
    let app = TestApp::start_with_clock(|_| {}, clock.clone()).await;
    let receiver = Receiver::start().await;
    receiver.script([Reply { status: 429, headers: vec![("retry-after", "120".into())], ..Reply::default() }]);
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": receiver.url, "retryPolicy": {"schedule": [1]}})).await;
    let msg_id = app.send(&app_id, "a", json!({})).await["id"].as_str().unwrap().to_owned();
    let attempt = attempts_of(&app, &app_id, &msg_id, 1).await.remove(0);
    let pending = destination(&app, &app_id, &msg_id, "pending").await;
    let attempted = hookwire_core::time_fmt::parse(attempt["timestamp"].as_str().unwrap()).unwrap();
    let next = hookwire_core::time_fmt::parse(pending["nextAttempt"].as_str().unwrap()).unwrap();
    assert!(
        next - attempted >= 120_000,
        "Retry-After: 120 must push the retry out by 120 s, got {} ms",
        next - attempted
    );
    // Time held still, nothing more goes out; moved past the pause, the retry does.
    assert_eq!(receiver.received().len(), 1);
    clock.advance(next - attempted + 1);
    receiver.wait_for(2).await;
    app.stop().await;
}

#[tokio::test]
async fn private_destinations_are_refused_unless_allowed() {
    let app = TestApp::start_with(|config| config.allow_private_networks = false).await;
    let app_id = app.create_app().await;
    // Literal addresses, and names whose every address is refused, are refused at creation
    // with the switch that allows them named.
    let refused = [
        "http://127.0.0.1:9/",
        "http://[::1]/",
        "http://169.254.169.254/latest",
        "http://[::ffff:10.0.0.1]/",
        "http://localhost:9/",
    ];
    for url in refused {
        let (status, body) = app.post(&format!("/api/v1/app/{app_id}/endpoint"), json!({"url": url})).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "url"]));
        let message = body["detail"][0]["msg"].as_str().unwrap();
        assert!(message.contains("--allow-private-networks"), "{url}: {message}");
    }
    let (status, body) =
        app.post(&format!("/api/v1/app/{app_id}/endpoint"), json!({"url": "http://localhost:9/"})).await;
    assert!(
        status == 422 && body["detail"][0]["msg"].as_str().unwrap().contains("localhost resolves to a loopback"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn matching_by_event_type_channel_and_disabled() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let hook = |path: &str| format!("{}/{path}", receiver.url);
    app.create_endpoint(&app_id, json!({"url": hook("all")})).await;
    app.create_endpoint(&app_id, json!({"url": hook("readings"), "eventTypes": ["reading.*"]})).await;
    app.create_endpoint(&app_id, json!({"url": hook("star"), "filterTypes": ["*"], "channels": ["eu"]})).await;
    app.create_endpoint(&app_id, json!({"url": hook("off"), "disabled": true})).await;

    app.send(&app_id, "reading.weight", json!({})).await;
    app.post_ok(
        &format!("/api/v1/app/{app_id}/msg"),
        json!({"eventType": "order.status", "payload": {}, "channels": ["eu"]}),
        202,
    )
    .await;
    let received = receiver.wait_for(4).await;
    let mut paths: Vec<_> = received.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["/all", "/all", "/readings", "/star"]);
    app.stop().await;
}

#[tokio::test]
async fn resend_and_secret_rotation() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": receiver.url})).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let secret_path = format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret");
    let old = app.get(&secret_path).await.1["key"].as_str().unwrap().to_owned();
    let msg_id = app.send(&app_id, "a", json!({"x": 1})).await["id"].as_str().unwrap().to_owned();
    receiver.wait_for(1).await;

    let rotated = app.post_ok(&format!("{secret_path}/rotate"), json!({}), 200).await;
    let new = app.get(&secret_path).await.1["key"].as_str().unwrap().to_owned();
    assert_eq!(rotated["key"], new);
    assert_ne!(old, new);
    let (status, _) =
        app.post(&format!("/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend"), json!({})).await;
    assert_eq!(status, 202);
    let resent = receiver.wait_for(2).await.remove(1);
    assert_eq!(resent.header("webhook-id"), msg_id);
    let timestamp: i64 = resent.header("webhook-timestamp").parse().unwrap();
    let signatures = resent.header("webhook-signature");
    assert_eq!(signatures.split(' ').count(), 2, "both secrets sign during the grace period");
    for secret in [&old, &new] {
        assert!(signing::verify(secret, &msg_id, timestamp, &resent.body, signatures));
    }
    let attempts = attempts_of(&app, &app_id, &msg_id, 2).await;
    assert_eq!(attempts[1]["triggerType"], 1, "a resend is a manual attempt");
    app.stop().await;
}

#[tokio::test]
async fn allowlisted_networks_receive_while_other_private_ranges_stay_refused() {
    let app = TestApp::start_with(|config| {
        config.allow_private_networks = false;
        config.allowed_networks = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let (status, _) = app.post(&format!("/api/v1/app/{app_id}/endpoint"), json!({"url": "http://10.0.0.1/"})).await;
    assert_eq!(status, 422, "10/8 is not on the allowlist");
    app.create_endpoint(&app_id, json!({"url": receiver.url})).await;
    app.send(&app_id, "a", json!({})).await;
    receiver.wait_for(1).await;
    app.stop().await;
}
