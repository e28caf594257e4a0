//! A PostgreSQL that stops answering (its processes frozen with SIGSTOP, as a stalled disk or a
//! partition that drops packets looks) never hangs a request: creates answer 503
//! `database_unavailable` within the configured bounds, health says the database is
//! unreachable, and everything works again once it thaws. On a cluster of the test's own.

#[path = "../../hookwire-store/tests/support/pg_cluster.rs"]
mod pg_cluster;
mod support;

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use support::TestApp;
use support::receiver::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_gets_503s_within_the_bounds_and_health_says_so() {
    if !pg_cluster::available("a_frozen_database_gets_503s_within_the_bounds_and_health_says_so") {
        return;
    }
    let cluster = pg_cluster::Cluster::primary();
    let url = cluster.url();
    let receiver = Receiver::start().await;
    let app = TestApp::start_with(|config| {
        config.database_url = url.clone();
        config.database_query_timeout_ms = 1_000;
        config.database_pool_wait_ms = 1_000;
        config.database_connect_timeout_ms = 1_000;
    })
    .await;
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": receiver.url})).await;
    app.send(&app_id, "before", json!({})).await;
    receiver.wait_for(1).await;
    let health = || async { app.request_as(None, Method::GET, "/api/v1/health", None).await };
    assert_eq!(health().await.0, StatusCode::NO_CONTENT);

    cluster.freeze();
    let started = Instant::now();
    let (status, body) =
        app.post(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": "frozen", "payload": {}})).await;
    let waited = started.elapsed();
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("database_unavailable")),
        "{body}"
    );
    assert!(waited < Duration::from_secs(10), "answered after {waited:?}, not held for the whole freeze");
    let (status, body) = app.get(&format!("/api/v1/app/{app_id}/msg")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("database_unavailable")),
        "{body}"
    );
    support::eventually("health to report the database unreachable", || async {
        let (status, body) = health().await;
        (status == StatusCode::SERVICE_UNAVAILABLE && body["code"] == "database_unavailable").then_some(())
    })
    .await;

    cluster.thaw();
    support::eventually("creates to succeed after the thaw", || async {
        let (status, _) =
            app.post(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": "after", "payload": {}})).await;
        (status == StatusCode::ACCEPTED).then_some(())
    })
    .await;
    support::eventually("health to recover", || async { (health().await.0 == StatusCode::NO_CONTENT).then_some(()) })
        .await;
    receiver.wait_for(2).await;
    app.stop().await;
}
