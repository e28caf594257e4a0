//! Two in-process nodes on one PostgreSQL schema obey one endpoint's `throttleRate` and one
//! `Retry-After` pause between them. Runs when `HOOKWIRE_TEST_POSTGRES_URL` is set.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::TestApp;
use support::receiver::{Receiver, Reply};

/// Two servers sharing a fresh schema, or `None` without PostgreSQL.
async fn two_nodes() -> Option<(TestApp, TestApp)> {
    std::env::var("HOOKWIRE_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())?;
    let base = std::env::var("HOOKWIRE_TEST_POSTGRES_URL").unwrap();
    let schema = format!("hw_shared_{}", hookwire_core::MessageId::generate().to_string().to_lowercase().split_off(4));
    let url = hookwire_store::postgres::url_with_fresh_schema(&base, &schema).await.unwrap();
    let first = TestApp::start_with(|config| config.database_url = url.clone()).await;
    let second = TestApp::start_with(|config| config.database_url = url.clone()).await;
    Some((first, second))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_rate_holds_across_nodes() {
    let Some((a, b)) = two_nodes().await else { return };
    let receiver = Receiver::start().await;
    let app_id = a.create_app().await;
    a.create_endpoint(&app_id, json!({"url": receiver.url, "throttleRate": 5})).await;
    let started = Instant::now();
    for _ in 0..5 {
        a.send(&app_id, "a", json!({})).await;
        b.send(&app_id, "a", json!({})).await;
    }
    receiver.wait_for(10).await;
    // A lower bound only: 10 deliveries at 5/s take at least 9 gaps of 200 ms between them, were
    // each node to throttle alone, they would take 4 gaps.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1_700), "10 deliveries at 5/s over two nodes took {elapsed:?}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_heard_by_one_node_pauses_the_endpoint_on_every_node() {
    let Some((a, b)) = two_nodes().await else { return };
    let receiver = Receiver::start().await;
    receiver.script([Reply { status: 429, headers: vec![("retry-after", "60".into())], ..Reply::default() }]);
    let other = Receiver::start().await;
    let app_id = a.create_app().await;
    a.create_endpoint(&app_id, json!({"url": receiver.url, "eventTypes": ["busy"]})).await;
    a.create_endpoint(&app_id, json!({"url": other.url, "eventTypes": ["other"]})).await;
    a.send(&app_id, "busy", json!({"n": 1})).await;
    receiver.wait_for(1).await;
    // The receiver has answered; node a stores the pause and announces it, node b hears it.
    // (Sent before b has heard, the next message would rightly go out.)
    support::eventually("node b to hear the pause", || async {
        let response = b.client.get(format!("{}/metrics", b.url)).bearer_auth(&b.token).send().await.unwrap();
        let text = response.text().await.unwrap();
        text.lines().any(|line| line == "hookwire_endpoints_paused 1").then_some(())
    })
    .await;
    // Node b accepts the next one itself and would hand it straight to its own workers.
    let second = b.send(&app_id, "busy", json!({"n": 2})).await;
    let second = second["id"].as_str().unwrap();
    let paused = b
        .get_until(&format!("/api/v1/app/{app_id}/msg/{second}/endpoint"), |v| {
            v["data"][0]["nextAttempt"].as_str().is_some_and(|next| {
                let created = v["data"][0]["createdAt"].as_str().unwrap();
                hookwire_core::time_fmt::parse(next).unwrap() - hookwire_core::time_fmt::parse(created).unwrap()
                    >= 50_000
            })
        })
        .await;
    assert_eq!(paused["data"][0]["attempts"], 0, "deferred by the pause, not attempted");
    b.send(&app_id, "other", json!({})).await;
    other.wait_for(1).await;
    assert_eq!(receiver.received().len(), 1, "no node sent to the paused endpoint");
    a.stop().await;
    b.stop().await;
}
