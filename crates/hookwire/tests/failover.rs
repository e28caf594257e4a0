//! Failover without loss, as a promise: two real nodes on a primary with a synchronous standby
//! (clusters of the test's own, on ports of their own), a steady send load, the primary killed
//! with SIGKILL and the standby promoted. Every message that got a 2xx is delivered; creates
//! during the outage answer 503 `database_unavailable` (never 500); creates succeed again within
//! seconds of the promotion; both nodes' heartbeats follow the new primary.

#[path = "../../hookwire-store/tests/support/pg_cluster.rs"]
mod pg_cluster;
#[path = "../../hookwire-server/tests/support/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[allow(dead_code)]
mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use receiver::Receiver;
use serde_json::{Value, json};
use support::Serving;

const TOKEN: &str = "failover-test-token";
const SENDERS_PER_NODE: usize = 2;

/// What one create got: when, its status, its error code, the message id.
#[derive(Debug, Clone)]
struct Answer {
    at: Instant,
    status: u16,
    code: Option<String>,
    id: Option<String>,
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    match client.post(url).bearer_auth(TOKEN).json(&body).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        }
        Err(error) => (0, json!({"transport": error.to_string()})),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_and_a_standby_promoted_lose_nothing_acknowledged() {
    if !pg_cluster::available("a_primary_killed_and_a_standby_promoted_lose_nothing_acknowledged") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let primary = pg_cluster::Cluster::primary();
    let standby = pg_cluster::Cluster::standby_of(&primary);
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        primary.port, standby.port
    );
    let receiver = Receiver::start().await;
    let nodes: Vec<Serving> = (0..2)
        .map(|_| {
            Serving::start(&url, TOKEN, |command| {
                command.arg("--allow-private-networks");
            })
        })
        .collect();
    let client = reqwest::Client::new();
    let (status, app) = post(&client, &format!("{}/api/v1/app", nodes[0].url), json!({"name": "failover"})).await;
    assert_eq!(status, 201, "{app}");
    let app_id = app["id"].as_str().unwrap().to_owned();
    let endpoint = json!({"url": receiver.url, "retryPolicy": {"schedule": [0, 1, 1, 1, 2, 2, 5, 5]}});
    let (status, _) = post(&client, &format!("{}/api/v1/app/{app_id}/endpoint", nodes[1].url), endpoint).await;
    assert_eq!(status, 201);

    let answers = Arc::new(Mutex::new(Vec::<Answer>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for node in &nodes {
        for sender in 0..SENDERS_PER_NODE {
            let (client, answers, stop) = (client.clone(), answers.clone(), stop.clone());
            let url = format!("{}/api/v1/app/{app_id}/msg", node.url);
            senders.push(tokio::spawn(async move {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let body = json!({"eventType": "failover.test", "payload": {"sender": sender, "n": n}});
                    let (status, answer) = post(&client, &url, body).await;
                    answers.lock().unwrap().push(Answer {
                        at: Instant::now(),
                        status,
                        code: answer["code"].as_str().map(str::to_owned),
                        id: answer["id"].as_str().map(str::to_owned),
                    });
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed_at = Instant::now();
    primary.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    standby.promote();
    let promoted_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }

    let answers = answers.lock().unwrap().clone();
    let before: Vec<&Answer> = answers.iter().filter(|a| a.at < killed_at).collect();
    assert!(before.iter().filter(|a| a.status == 202).count() > 20, "a steady load before the kill");
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status != 202).collect();
    for answer in &refused {
        assert_eq!(
            (answer.status, answer.code.as_deref()),
            (503, Some("database_unavailable")),
            "every create refused during the outage says the database is unavailable: {answer:?}"
        );
    }
    assert!(!refused.is_empty(), "the outage was seen");
    let back = answers
        .iter()
        .filter(|a| a.at > promoted_at && a.status == 202)
        .map(|a| a.at - promoted_at)
        .min()
        .expect("creates succeed after the promotion");
    assert!(back < Duration::from_secs(8), "creates came back {back:?} after the promotion");
    let last_second = answers.iter().filter(|a| a.at > promoted_at + Duration::from_secs(9));
    assert!(last_second.clone().count() > 0 && last_second.clone().all(|a| a.status == 202), "steady again");

    let acknowledged: HashSet<String> =
        answers.iter().filter(|a| a.status == 202).filter_map(|a| a.id.clone()).collect();
    let delivered = receiver
        .wait_until_within(90_000, "every acknowledged message delivered", |received| {
            let seen: HashSet<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
            acknowledged.iter().all(|id| seen.contains(id.as_str()))
        })
        .await;
    let seen: HashSet<&str> = delivered.iter().map(|r| r.header("webhook-id")).collect();
    assert!(acknowledged.iter().all(|id| seen.contains(id.as_str())));

    // Both nodes heartbeat into the new primary.
    let alive = standby.sql(
        "SELECT count(*) FROM nodes WHERE heartbeat_at > (extract(epoch from clock_timestamp()) * 1000)::bigint - 5000",
    );
    assert_eq!(alive.trim(), "2", "both nodes heartbeat into the promoted standby");
    eprintln!(
        "failover: {} acknowledged, {} refused with 503, creates back {back:?} after the promotion",
        acknowledged.len(),
        refused.len()
    );
}
