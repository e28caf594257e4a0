//! Several real `hookwire serve` processes sharing one PostgreSQL database: a node killed with
//! SIGKILL mid-load loses nothing, and only its in-flight attempts are sent twice. Runs when
//! `HOOKWIRE_TEST_POSTGRES_URL` is set (`.ci/run` sets it).

#[path = "../../hookwire-server/tests/support/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[allow(dead_code)]
mod support;

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use receiver::Receiver;
use serde_json::{Value, json};
use support::Serving;

const TOKEN: &str = "multinode-test-token";
const NODES: usize = 3;
/// Deliveries to one endpoint one node has in flight at most (flow.rs `ENDPOINT_IN_FLIGHT_MAX`).
const IN_FLIGHT_PER_NODE_MAX: usize = 32;
/// Outcomes one write of the recorder holds (delivery/recorder.rs `BATCH_MAX`): an attempt sent
/// is recorded off its slot, so a node killed mid-commit also loses the batch being written (at
/// this test's rate the queue behind it stays far below another batch).
const RECORD_BATCH_MAX: usize = 512;

async fn post(client: &reqwest::Client, url: String, body: Value) -> Result<(u16, Value), reqwest::Error> {
    let response = client.post(url).bearer_auth(TOKEN).json(&body).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_one_killed_midway_deliver_every_accepted_message() {
    const SENDERS_PER_NODE: usize = 4;
    const KILL_AFTER_ACKS: usize = 200;
    const MORE_AFTER_KILL: usize = 100;
    let Some(base) = std::env::var("HOOKWIRE_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: set HOOKWIRE_TEST_POSTGRES_URL to run the multi-node test");
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let schema = format!("hw_multinode_{}", std::process::id());
    let database_url = hookwire_store::postgres::url_with_fresh_schema(&base, &schema).await.unwrap();
    let receiver = Receiver::start().await;
    // Slow answers: every node has a backlog leased to it, and attempts in flight, at the kill.
    receiver.set_delay_ms(500);
    let client = reqwest::Client::new();
    let mut nodes: Vec<Serving> = (0..NODES)
        .map(|_| {
            Serving::start(&database_url, TOKEN, |command| {
                command.arg("--allow-private-networks");
            })
        })
        .collect();
    let (status, app) = post(&client, format!("{}/api/v1/app", nodes[0].url), json!({"name": "multi"})).await.unwrap();
    assert_eq!(status, 201, "{app}");
    let app_id = app["id"].as_str().unwrap().to_owned();
    let endpoint = json!({"url": receiver.url, "retryPolicy": {"schedule": [0, 1, 1, 1]}});
    let (status, endpoint) =
        post(&client, format!("{}/api/v1/app/{app_id}/endpoint", nodes[1].url), endpoint).await.unwrap();
    assert_eq!(status, 201);
    let stats_url = format!("{}/api/v1/app/{app_id}/endpoint/{}/stats", nodes[0].url, endpoint["id"].as_str().unwrap());

    // Senders through every node; each accepted id is recorded with the node that accepted it.
    let acked = Arc::new(Mutex::new(Vec::<(usize, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        for sender in 0..SENDERS_PER_NODE {
            let (client, acked, stop) = (client.clone(), acked.clone(), stop.clone());
            let url = format!("{}/api/v1/app/{app_id}/msg", node.url);
            senders.push(tokio::spawn(async move {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let body = json!({"eventType": "load.test", "payload": {"node": index, "sender": sender, "n": n}});
                    match post(&client, url.clone(), body).await {
                        Ok((202, message)) => {
                            acked.lock().unwrap().push((index, message["id"].as_str().unwrap().to_owned()))
                        }
                        Ok((status, body)) => panic!("node {index} answered {status}: {body}"),
                        Err(_) => return, // the node died; answers not received were never promised
                    }
                }
            }));
        }
    }
    receiver.wait_until("load to build up", |_| acked.lock().unwrap().len() >= KILL_AFTER_ACKS).await;
    let victim = NODES - 1;
    nodes[victim].process.0.kill().unwrap(); // SIGKILL: no shutdown, no lease release
    nodes[victim].process.0.wait().unwrap();
    let received_before_kill = receiver.received().len();
    let acked_at_kill = acked.lock().unwrap().len();
    receiver
        .wait_until("the survivors to keep accepting", |_| {
            acked.lock().unwrap().len() >= acked_at_kill + MORE_AFTER_KILL
        })
        .await;
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }

    let acked: Vec<(usize, String)> = acked.lock().unwrap().clone();
    let ids: HashSet<&str> = acked.iter().map(|(_, id)| id.as_str()).collect();
    // The victim's leases lapse when its heartbeat goes stale (10 s); the survivors take over.
    receiver
        .wait_until_within(60_000, "every accepted message", |received| {
            let arrived: HashSet<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
            ids.iter().all(|id| arrived.contains(id))
        })
        .await;

    // Delivered means recorded: wait until no delivery is left pending (the killed node's
    // in-flight attempts are sent again once their leases lapse).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let stats: Value = client.get(&stats_url).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
        // At least: the killed node may have committed messages whose 202 never reached the sender.
        if stats["success"].as_u64() >= Some(acked.len() as u64) && stats["pending"] == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "deliveries left unfinished: {stats}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let received = receiver.received();
    let mut copies: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, request) in received.iter().enumerate() {
        copies.entry(request.header("webhook-id")).or_default().push(index);
    }
    let duplicated: Vec<(&str, &Vec<usize>)> =
        copies.iter().filter(|(_, at)| at.len() > 1).map(|(id, at)| (*id, at)).collect();
    let by_victim = acked.iter().filter(|(node, _)| *node == victim).count();
    println!(
        "accepted {} ({} by the killed node), requests {}, distinct {}, duplicated {}",
        acked.len(),
        by_victim,
        received.len(),
        copies.len(),
        duplicated.len()
    );
    assert!(by_victim > 0, "the killed node had accepted messages");
    let before_kill: HashSet<&str> = received[..received_before_kill].iter().map(|r| r.header("webhook-id")).collect();
    let taken_over = acked.iter().filter(|(node, id)| *node == victim && !before_kill.contains(id.as_str())).count();
    println!("messages the killed node accepted and a survivor delivered: {taken_over}");
    assert!(taken_over > 0, "the kill left work behind for the survivors to take over");
    for (id, at) in &duplicated {
        // A duplicate is an attempt the killed node sent but never recorded: its first copy
        // arrived before the kill, and a survivor sent it again after taking the lease over.
        assert!(at[0] < received_before_kill, "{id} was sent twice, but not because of the kill: copies at {at:?}");
        assert_eq!(at.len(), 2, "{id}: at most one extra copy");
    }
    assert!(
        duplicated.len() <= IN_FLIGHT_PER_NODE_MAX + RECORD_BATCH_MAX,
        "{} duplicates, more than the killed node could have had in flight or waiting to be recorded",
        duplicated.len()
    );
}

/// Three nodes accept concurrently while a FIFO receiver fails 30 % of its batches and the node
/// sending to it is killed mid-batch; the FIFO receiver and a polling consumer each see every
/// matching message exactly in the log's commit order (a failed or interrupted batch repeats
/// whole under its id; nothing is missing, reordered or cut), and a survivor takes the
/// destination over once the dead node's heartbeat goes stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_and_a_poller_see_commit_order_across_nodes_through_failures_and_a_kill() {
    const SENDERS_PER_NODE: usize = 3;
    const MESSAGES_PER_SENDER: usize = 30;
    let Some(base) = std::env::var("HOOKWIRE_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: set HOOKWIRE_TEST_POSTGRES_URL to run the multi-node test");
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let schema = format!("hw_fifo_nodes_{}", std::process::id());
    let database_url = hookwire_store::postgres::url_with_fresh_schema(&base, &schema).await.unwrap();
    let (db, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let receiver = Receiver::start().await;
    // 30 % of answers are 503s (a fixed pseudo-random pattern); each takes 40 ms, so a batch
    // is in flight most of the time.
    let mut seed: u32 = 7;
    let answers: Vec<u16> = (0..5_000)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            if (seed >> 16) % 10 < 3 { 503 } else { 200 }
        })
        .collect();
    // One answer comes only after the send's deadline (15 s): that try fails as a timeout and
    // the same batch goes again (the receiver did take the first copy: it counts once by id).
    const HANGS_AT: usize = 5;
    receiver.script(answers.iter().enumerate().map(|(n, &status)| {
        let delay_ms = if n == HANGS_AT { 16_000 } else { 40 };
        receiver::Reply { status, delay_ms, ..Default::default() }
    }));
    let client = reqwest::Client::new();
    let mut nodes: Vec<Serving> = (0..NODES)
        .map(|_| {
            Serving::start(&database_url, TOKEN, |command| {
                command.arg("--allow-private-networks");
            })
        })
        .collect();
    let (status, app) =
        post(&client, format!("{}/api/v1/app", nodes[0].url), json!({"name": "ordered"})).await.unwrap();
    assert_eq!(status, 201, "{app}");
    let app_id = app["id"].as_str().unwrap().to_owned();
    let destinations = format!("{}/api/v1/app/{app_id}/destination", nodes[0].url);
    let fifo = json!({"type": "fifoEndpoint", "uid": "ledger", "batchSize": 10, "eventTypes": ["ledger.*"],
                      "config": {"url": receiver.url}});
    assert_eq!(post(&client, destinations.clone(), fifo).await.unwrap().0, 201);
    let feed = json!({"type": "pollingEndpoint", "uid": "feed", "eventTypes": ["ledger.*"]});
    assert_eq!(post(&client, destinations, feed).await.unwrap().0, 201);

    let mut senders = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        for sender in 0..SENDERS_PER_NODE {
            let client = client.clone();
            let url = format!("{}/api/v1/app/{app_id}/msg", node.url);
            senders.push(tokio::spawn(async move {
                for n in 0..MESSAGES_PER_SENDER {
                    let event_type = if n % 2 == 0 { "ledger.entry" } else { "noise.event" };
                    let body = json!({"eventType": event_type, "payload": {"node": index, "sender": sender, "n": n}});
                    if post(&client, url.clone(), body).await.is_err() {
                        return; // the node died
                    }
                }
            }));
        }
    }
    // Kill the node holding the FIFO's lease (a batch in flight) once a few batches went.
    receiver.wait_until("a few batches", |r| r.len() >= 4).await;
    let order: Vec<String> =
        db.query("SELECT id FROM nodes ORDER BY started_at", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    let victim = loop {
        let row = db.query_one("SELECT lease_owner FROM destinations WHERE uid = 'ledger'", &[]).await.unwrap();
        if let Some(owner) = row.get::<_, Option<String>>(0) {
            break order.iter().position(|id| *id == owner).expect("the owner is one of the nodes");
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    nodes[victim].process.0.kill().unwrap(); // SIGKILL, mid-batch
    nodes[victim].process.0.wait().unwrap();
    let killed_at = receiver.received().len();
    for sender in senders {
        sender.await.unwrap();
    }

    // The log's order: by committing transaction, as every reader sees it.
    let log: Vec<String> = db
        .query(
            "SELECT id FROM messages WHERE app_id = $1 AND event_type = 'ledger.entry' ORDER BY log_xid, id",
            &[&app_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(log.len() > 40, "{} matching messages", log.len());
    // Taken batches (answered 200), each counted once by its id, in the order they arrived.
    let taken = |received: &[receiver::Received]| -> Vec<String> {
        let mut seen = HashSet::new();
        let mut ids = Vec::new();
        for (n, request) in received.iter().enumerate() {
            if answers[n] != 200 || !seen.insert(request.header("webhook-id").to_owned()) {
                continue;
            }
            let batch: Vec<Value> = serde_json::from_slice(&request.body).unwrap();
            ids.extend(batch.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        }
        ids
    };
    let received =
        receiver.wait_until_within(90_000, "every matching message taken", |r| taken(r).len() >= log.len()).await;
    assert_eq!(taken(&received), log, "the FIFO receiver saw the log, in order, each message once");
    assert!(received.len() > killed_at, "a survivor took the destination over");
    let hung = received[HANGS_AT].header("webhook-id");
    assert!(
        received[HANGS_AT + 1..].iter().any(|r| r.header("webhook-id") == hung),
        "the batch whose answer came after the deadline went again"
    );
    // Every try of a batch carried the same messages under the same id.
    let mut bodies: HashMap<&str, &[u8]> = HashMap::new();
    for request in &received {
        let body = bodies.entry(request.header("webhook-id")).or_insert(&request.body);
        assert_eq!(*body, &request.body[..], "batch {} changed between tries", request.header("webhook-id"));
    }

    // A consumer of the polling endpoint, through a survivor, reads the same order.
    let survivor = &nodes[(victim + 1) % NODES];
    let mut polled = Vec::new();
    while polled.len() < log.len() {
        let page: Value = client
            .get(format!("{}/api/v1/app/{app_id}/poller/feed/consumer/reader?limit=25", survivor.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = page["data"].as_array().unwrap_or_else(|| panic!("{page}"));
        polled.extend(data.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        if page["done"] == true && data.is_empty() {
            break;
        }
    }
    assert_eq!(polled, log, "the polling consumer read the log, in order");
}

#[tokio::test]
async fn migrate_applies_the_postgresql_schema_once_and_reports_its_version() {
    let Some(base) = std::env::var("HOOKWIRE_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: set HOOKWIRE_TEST_POSTGRES_URL");
        return;
    };
    let schema = format!("hw_migrate_{}", std::process::id());
    let database_url = hookwire_store::postgres::url_with_fresh_schema(&base, &schema).await.unwrap();
    for run in 0..2 {
        let output = Command::new(env!("CARGO_BIN_EXE_hookwire"))
            .args(["migrate", "--database-url", &database_url])
            .env("HOOKWIRE_LOG", "error")
            .output()
            .unwrap();
        assert!(output.status.success(), "run {run}: {}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let version = format!("is at schema version {}", hookwire_store::postgres::SCHEMA_VERSION);
        assert!(stdout.contains(&version), "run {run}: {stdout}");
    }
    let refused = Command::new(env!("CARGO_BIN_EXE_hookwire"))
        .args(["migrate", "--database-url", "mysql://nope"])
        .env("HOOKWIRE_LOG", "error")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("postgres://"), "the error names what is accepted");
}
