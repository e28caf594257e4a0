//! Delivery activity over time (`/activity`): counts of real attempts by minute and hour, per
//! application, per endpoint and (admin) everywhere with the queue; scoped like every read;
//! ranges and resolutions checked.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::TestApp;
use support::receiver::{Receiver, Reply};

fn totals(body: &Value) -> (u64, u64, u64) {
    let t = &body["total"];
    (t["succeeded"].as_u64().unwrap(), t["failed"].as_u64().unwrap(), t["exhausted"].as_u64().unwrap())
}

#[tokio::test]
async fn attempts_are_counted_per_endpoint_application_and_everywhere() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    // The first two requests fail; the rest succeed.
    receiver.script([Reply::status(500), Reply::status(503)]);
    let app_id = app.create_app().await;
    let ok = app
        .create_endpoint(
            &app_id,
            json!({"url": format!("{}/ok", receiver.url), "filterTypes": ["order.*"],
                   "retryPolicy": {"maxRetries": 3, "intervalMs": 100}}),
        )
        .await;
    let failing = app
        .create_endpoint(
            &app_id,
            json!({"url": format!("{}/never", receiver.url), "retryPolicy": {"maxRetries": 0, "intervalMs": 100},
                   "filterTypes": ["never.*"]}),
        )
        .await;
    let other_app = app.create_app().await;
    app.create_endpoint(&other_app, json!({"url": format!("{}/other", receiver.url)})).await;

    for n in 0..5 {
        app.send(&app_id, "order.created", json!({"n": n})).await;
    }
    // 5 messages to `ok` (2 fail first, then are retried: 7 attempts), then 1 to the other
    // application.
    let ok_id = ok["id"].as_str().unwrap();
    receiver.wait_for(7).await;
    app.send(&other_app, "order.created", json!({})).await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{ok_id}/activity?resolution=minute");
    let endpoint = app.get_until(&path, |v| v["total"]["succeeded"].as_u64() == Some(5)).await;
    assert_eq!(totals(&endpoint), (5, 2, 0));
    assert_eq!(endpoint["resolution"], "minute");
    let buckets = endpoint["data"].as_array().unwrap();
    assert_eq!(buckets.len(), 24 * 60 + 1, "a day of minutes from a minute's middle, empty ones included");
    let busy: Vec<&Value> = buckets.iter().filter(|b| b["succeeded"].as_u64().unwrap_or(0) > 0).collect();
    assert!(!busy.is_empty() && busy.len() <= 2, "the attempts fall in this minute (or the one before)");
    assert!(busy[0]["p50Ms"].as_u64().is_some() && busy[0]["p99Ms"].as_u64().is_some(), "{}", busy[0]);
    assert_eq!(buckets[0]["p50Ms"], Value::Null, "no attempt, no latency");
    let rate = endpoint["total"]["successRate"].as_f64().unwrap();
    assert!((rate - 5.0 / 7.0).abs() < 1e-9, "{rate}");

    let whole =
        app.get_until(&format!("/api/v1/app/{app_id}/activity"), |v| v["total"]["succeeded"].as_u64() == Some(5)).await;
    assert_eq!(totals(&whole), (5, 2, 0));
    assert_eq!(whole["resolution"], "hour", "a day is read by the hour unless asked");
    assert_eq!(whole["data"].as_array().unwrap().len(), 25, "a day from now spans 25 hour buckets");
    assert!(whole["data"][0].get("queue").is_none(), "the queue is the admin's");

    let everything = app.get_until("/api/v1/activity", |v| v["total"]["succeeded"].as_u64() == Some(6)).await;
    assert_eq!(totals(&everything), (6, 2, 0));
    assert!(everything["data"][0].get("queue").is_some(), "{}", everything["data"][0]);

    // A delivery whose retries run out is counted as exhausted.
    let failing_id = failing["id"].as_str().unwrap();
    receiver.script([Reply::status(500)]);
    app.send(&app_id, "never.again", json!({})).await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{failing_id}/activity?resolution=hour");
    let failed = app.get_until(&path, |v| v["total"]["exhausted"].as_u64() == Some(1)).await;
    assert_eq!(totals(&failed), (0, 1, 1));
    app.stop().await;
}

#[tokio::test]
async fn activity_is_scoped_and_its_inputs_are_checked() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let other = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": "https://example.com/hook"})).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();

    // A read-only portal token of the application reads its activity, not another's, and not
    // everyone's.
    let access = app.post_ok(&format!("/api/v1/auth/app-portal-access/{app_id}"), json!({"readOnly": true}), 200).await;
    let token = access["token"].as_str().unwrap();
    let read = |path: String| {
        let app = &app;
        async move { app.request_as(Some(token), Method::GET, &path, None).await }
    };
    assert_eq!(read(format!("/api/v1/app/{app_id}/activity")).await.0, StatusCode::OK);
    assert_eq!(read(format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/activity")).await.0, StatusCode::OK);
    assert_eq!(read(format!("/api/v1/app/{other}/activity")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(read("/api/v1/activity".into()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.request_as(None, Method::GET, "/api/v1/activity", None).await.0, StatusCode::UNAUTHORIZED);

    let refused = [
        ("resolution=day", "resolution"),
        ("since=yesterday", "since"),
        ("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "since"),
        ("since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z&resolution=minute", "since"),
        ("endpointId=ep_x", "endpointId"),
    ];
    for (query, field) in refused {
        let (status, body) = app.get(&format!("/api/v1/app/{app_id}/activity?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["detail"][0]["loc"][1], field, "{query}: {body}");
    }
    let (status, _) = app.get(&format!("/api/v1/app/{app_id}/endpoint/ep_nope/activity")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// Counts still in memory at shutdown are written before the server stops: a restarted server
/// (a new process's memory, the same database) reads them.
#[tokio::test]
async fn counts_are_written_at_shutdown_and_read_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = support::database_url(&dir).await;
    let receiver = Receiver::start().await;
    let url = database_url.clone();
    let app = TestApp::start_with(move |c| c.database_url = url).await;
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": receiver.url})).await;
    for n in 0..3 {
        app.send(&app_id, "order.created", json!({"n": n})).await;
    }
    receiver.wait_for(3).await;
    let path = format!("/api/v1/app/{app_id}/activity");
    app.get_until(&path, |v| v["total"]["succeeded"].as_u64() == Some(3)).await;
    app.stop().await; // well within the 10 s between periodic writes

    let app = TestApp::start_with(move |c| c.database_url = database_url).await;
    let (status, body) = app.get(&path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(totals(&body), (3, 0, 0), "written at shutdown: {body}");
    app.stop().await;
}
