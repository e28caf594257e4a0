//! The real binary as users run it: crash safety under load (kill -9) and graceful shutdown.

#[path = "../../hookwire-server/tests/support/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[allow(dead_code)]
mod support;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use receiver::Receiver;
use serde_json::{Value, json};
use support::Serving;

const TOKEN: &str = "process-test-token";

/// Starts `hookwire serve` over the SQLite database in `dir`.
fn start(dir: &Path) -> Serving {
    Serving::start(&support::sqlite_url(dir), TOKEN, |command| {
        command.arg("--allow-private-networks");
    })
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Result<(u16, Value), reqwest::Error> {
    let mut request = client.request(method, url).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn setup(client: &reqwest::Client, hookwire: &Serving, receiver: &Receiver) -> String {
    let (_, app) =
        call(client, reqwest::Method::POST, format!("{}/api/v1/app", hookwire.url), Some(json!({"name": "crash"})))
            .await
            .unwrap();
    let app_id = app["id"].as_str().unwrap().to_owned();
    let endpoint = json!({"url": receiver.url, "retryPolicy": {"schedule": [0, 1, 1, 1]}});
    let (status, _) =
        call(client, reqwest::Method::POST, format!("{}/api/v1/app/{app_id}/endpoint", hookwire.url), Some(endpoint))
            .await
            .unwrap();
    assert_eq!(status, 201);
    app_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_message() {
    const SENDERS: usize = 16;
    const KILL_AFTER_ACKS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    receiver.set_delay_ms(50); // keeps deliveries in flight when the kill lands
    let client = client();
    let mut hookwire = start(dir.path());
    let app_id = setup(&client, &hookwire, &receiver).await;

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut senders = Vec::new();
    for sender in 0..SENDERS {
        let (client, acked, url) = (client.clone(), acked.clone(), format!("{}/api/v1/app/{app_id}/msg", hookwire.url));
        senders.push(tokio::spawn(async move {
            for n in 0.. {
                let body = json!({"eventType": "load.test", "payload": {"sender": sender, "n": n}});
                match call(&client, reqwest::Method::POST, url.clone(), Some(body)).await {
                    Ok((202, message)) => acked.lock().unwrap().push(message["id"].as_str().unwrap().to_owned()),
                    Ok((status, body)) => panic!("unexpected answer {status}: {body}"),
                    Err(_) => return, // the server died; answers not received were never promised
                }
            }
        }));
    }
    receiver.wait_until("load to build up", |_| acked.lock().unwrap().len() >= KILL_AFTER_ACKS).await;
    hookwire.process.0.kill().unwrap(); // SIGKILL
    hookwire.process.0.wait().unwrap();
    for sender in senders {
        sender.await.unwrap();
    }
    let acked: HashSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let before_restart = receiver.received().len();

    let mut restarted = start(dir.path());
    let received = receiver
        .wait_until("every acknowledged message after restart", |received| {
            let ids: HashSet<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
            acked.iter().all(|id| ids.contains(id.as_str()))
        })
        .await;
    let distinct: HashSet<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
    println!(
        "acknowledged {}, delivered before kill {before_restart}, requests {}, distinct {}, duplicates {}",
        acked.len(),
        received.len(),
        distinct.len(),
        received.len() - distinct.len()
    );
    restarted.signal("TERM");
    assert!(restarted.process.0.wait().unwrap().success(), "SIGTERM exits 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_deliveries_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    receiver.set_delay_ms(1_500);
    let client = client();
    let mut hookwire = start(dir.path());
    let app_id = setup(&client, &hookwire, &receiver).await;
    let (status, message) = call(
        &client,
        reqwest::Method::POST,
        format!("{}/api/v1/app/{app_id}/msg", hookwire.url),
        Some(json!({"eventType": "a", "payload": {}})),
    )
    .await
    .unwrap();
    assert_eq!(status, 202);
    receiver.wait_for(1).await; // the attempt is now in flight, its answer 1.5 s away
    hookwire.signal("TERM");
    assert!(hookwire.process.0.wait().unwrap().success(), "SIGTERM exits 0");

    // The in-flight attempt finished and was recorded before exit: no second request is needed.
    receiver.set_delay_ms(0);
    let mut again = start(dir.path());
    let msg_id = message["id"].as_str().unwrap();
    let (_, destinations) =
        call(&client, reqwest::Method::GET, format!("{}/api/v1/app/{app_id}/msg/{msg_id}/endpoint", again.url), None)
            .await
            .unwrap();
    assert_eq!(destinations["data"][0]["statusText"], "success", "{destinations}");
    assert_eq!(destinations["data"][0]["attempts"], 1);
    assert_eq!(receiver.received().len(), 1);
    again.signal("INT");
    assert!(again.process.0.wait().unwrap().success(), "SIGINT exits 0");
}

#[test]
fn rotate_main_key_then_serve_only_with_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("hookwire.db").display());
    let run = |args: &[&str], main_key: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hookwire"));
        command
            .args(args)
            .arg("--database-url")
            .arg(&database)
            .env("HOOKWIRE_LOG", "error")
            .env_remove("HOOKWIRE_MAIN_KEY");
        if let Some(key) = main_key {
            command.env("HOOKWIRE_MAIN_KEY", key);
        }
        command.output().unwrap()
    };
    let rotated = run(&["rotate-main-key", "--generate"], None);
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let stdout = String::from_utf8_lossy(&rotated.stdout);
    let key = stdout
        .lines()
        .find_map(|l| l.split_once("to it): "))
        .map(|(_, k)| k.trim().to_owned())
        .expect("the new key is printed");
    let refused = run(&["serve", "--listen", "127.0.0.1:0"], None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("HOOKWIRE_MAIN_KEY"), "a clear reason");
    let wrong = run(&["serve", "--listen", "127.0.0.1:0"], Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    assert!(!wrong.status.success());
    let removed = run(&["rotate-main-key", "--remove"], Some(&key));
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
}

/// A `fifoEndpoint` whose sender is killed mid-batch resumes from its position after a restart:
/// the receiver gets every acknowledged message in order, the batch in flight at most twice
/// (with the same `webhook-id`), nothing skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_fifo_sender_resumes_in_order_without_a_gap() {
    const MESSAGES: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    receiver.set_delay_ms(100); // a batch is in flight when the kill lands
    let client = client();
    let mut hookwire = start(dir.path());
    let (_, app) =
        call(&client, reqwest::Method::POST, format!("{}/api/v1/app", hookwire.url), Some(json!({"name": "fifo"})))
            .await
            .unwrap();
    let app_id = app["id"].as_str().unwrap().to_owned();
    let fifo = json!({"type": "fifoEndpoint", "batchSize": 5, "config": {"url": receiver.url}});
    let url = format!("{}/api/v1/app/{app_id}/destination", hookwire.url);
    let (status, _) = call(&client, reqwest::Method::POST, url, Some(fifo)).await.unwrap();
    assert_eq!(status, 201);
    let mut acked = Vec::new();
    for n in 0..MESSAGES {
        let body = json!({"eventType": "ledger.entry", "payload": {"n": n}});
        let (status, message) =
            call(&client, reqwest::Method::POST, format!("{}/api/v1/app/{app_id}/msg", hookwire.url), Some(body))
                .await
                .unwrap();
        assert_eq!(status, 202);
        acked.push(message["id"].as_str().unwrap().to_owned());
    }
    receiver.wait_until("a few batches", |r| r.len() >= 3).await;
    hookwire.process.0.kill().unwrap(); // SIGKILL, a batch in flight
    hookwire.process.0.wait().unwrap();
    let _restarted = start(dir.path());
    // Batches in arrival order, each counted once (a repeat after the crash has the same id).
    let in_order = |received: &[receiver::Received]| -> Vec<String> {
        let mut seen = HashSet::new();
        let mut ids = Vec::new();
        for request in received {
            if seen.insert(request.header("webhook-id").to_owned()) {
                let batch: Vec<Value> = serde_json::from_slice(&request.body).unwrap();
                ids.extend(batch.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
            }
        }
        ids
    };
    let received = receiver.wait_until("every message after the restart", |r| in_order(r).len() >= MESSAGES).await;
    assert_eq!(in_order(&received), acked, "every acknowledged message once, in order");
    let repeats = received.len() - received.iter().map(|r| r.header("webhook-id")).collect::<HashSet<_>>().len();
    assert!(repeats <= 1, "only the batch in flight may repeat ({repeats})");
}
