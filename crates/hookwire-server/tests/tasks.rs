//! Background tasks end to end: replay-missing, bulk-replay and recover through Svix's routes,
//! dry runs, the task list, pacing by the endpoint's backlog, and resuming after a restart.

mod support;

use std::sync::Arc;

use hookwire_core::task::{Task, TaskKind, TaskParams, TaskProgress, TaskStatus};
use hookwire_core::{AppId, EndpointId, MessageId, TaskId};
use hookwire_store::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::receiver::{Receiver, Reply};
use support::{TestApp, eventually};

const SINCE: &str = "2020-01-01T00:00:00Z";

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// Starts a task with `body` at `path` and waits for it to end.
async fn run_task(app: &TestApp, path: &str, body: Value) -> Value {
    let started = app.post_ok(path, body, 202).await;
    assert!(started["id"].as_str().unwrap().starts_with("qtask_"), "{started}");
    assert_eq!(started["status"], "running");
    app.task_done(&id(&started)).await
}

fn sent_numbers(receiver: &Receiver) -> Vec<i64> {
    let mut numbers: Vec<i64> = receiver
        .received()
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["n"].as_i64().unwrap())
        .collect();
    numbers.sort_unstable();
    numbers
}

#[tokio::test]
async fn replay_missing_sends_what_the_endpoint_subscribes_to_now_and_never_received() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    for n in 0..3 {
        app.send(&app_id, "a.x", json!({"n": n})).await;
    }
    for n in 10..12 {
        app.send(&app_id, "b.y", json!({"n": n})).await;
    }
    let endpoint = app.create_endpoint(&app_id, json!({"url": receiver.url, "eventTypes": ["a.x"]})).await;
    let endpoint_id = id(&endpoint);
    app.send(&app_id, "a.x", json!({"n": 3})).await;
    receiver.wait_for(1).await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing");

    let dry = run_task(&app, &format!("{path}?dryRun=true"), json!({"since": SINCE})).await;
    assert_eq!(dry["task"], "endpoint.replay");
    assert_eq!(dry["status"], "finished", "{dry}");
    let data = &dry["data"];
    assert_eq!(
        (&data["messagesMatched"], &data["messagesSent"], &data["messagesScanned"], &data["dryRun"]),
        (&json!(3), &json!(0), &json!(6), &json!(true)),
        "{dry}"
    );
    let stats = app.get(&format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats")).await.1;
    assert_eq!((stats["pending"].as_u64(), stats["success"].as_u64()), (Some(0), Some(1)), "a dry run sends nothing");

    let done = run_task(&app, &path, json!({"since": SINCE})).await;
    assert_eq!((&done["status"], &done["data"]["messagesSent"]), (&json!("finished"), &json!(3)), "{done}");
    receiver.wait_for(4).await;
    assert_eq!(sent_numbers(&receiver), vec![0, 1, 2, 3]);
    assert!(receiver.received().iter().all(|r| r.header("webhook-signature").starts_with("v1,")));

    let again = run_task(&app, &path, json!({"since": SINCE})).await;
    assert_eq!(again["data"]["messagesSent"], 0, "nothing is missing any more: {again}");

    let (status, list) = app.get("/api/v1/background-task?task=endpoint.replay&status=finished").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "{list}");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let (_, first) = app.get("/api/v1/background-task?limit=1&order=ascending").await;
    assert_eq!(
        (first["data"][0]["id"].as_str(), first["done"].as_bool()),
        (Some(dry["id"].as_str().unwrap()), Some(false))
    );
    for bad in ["status=done", "task=endpoint.teleport", "iterator=msg_1", "color=red"] {
        let (status, body) = app.get(&format!("/api/v1/background-task?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let (status, _) = app.get("/api/v1/background-task/qtask_2ZzZzZzZzZzZzZzZzZzZzZzZzZz").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn bulk_replay_resends_what_was_sent_narrowed_by_every_filter() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(200), Reply::status(500), Reply::status(200)]);
    let app_id = app.create_app().await;
    let endpoint = app
        .create_endpoint(&app_id, json!({"url": receiver.url, "retryPolicy": {"maxRetries": 0, "intervalMs": 0}}))
        .await;
    let endpoint_id = id(&endpoint);
    let messages = [
        json!({"eventType": "a", "payload": {"n": 1}, "tags": ["t1"]}),
        json!({"eventType": "a", "payload": {"n": 2}, "channels": ["c1"]}),
        json!({"eventType": "b", "payload": {"n": 3}, "tags": ["t1"]}),
    ];
    for (sent, message) in messages.into_iter().enumerate() {
        app.post_ok(&format!("/api/v1/app/{app_id}/msg"), message, 202).await;
        receiver.wait_for(sent + 1).await;
    }
    let stats_path = format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats");
    app.get_until(&stats_path, |s| s["fail"] == 1 && s["success"] == 2).await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay");
    let mut expected = vec![1, 2, 3];
    for (filter, numbers) in [
        (json!({"statusCodeClass": 500}), vec![2]),
        (json!({"tag": "t1"}), vec![1, 3]),
        (json!({"eventTypes": ["b"]}), vec![3]),
        (json!({"status": 2}), vec![2]),
        (json!({"channel": "c1"}), vec![2]),
        (json!({"statusCodeClass": 400}), vec![]),
        (json!({}), vec![1, 2, 3]),
    ] {
        let mut body = filter.clone();
        body["since"] = json!(SINCE);
        let done = run_task(&app, &path, body).await;
        assert_eq!(done["task"], "endpoint.bulk-replay");
        assert_eq!(done["data"]["messagesSent"], numbers.len(), "{filter}: {done}");
        expected.extend(numbers);
        receiver.wait_for(expected.len()).await;
    }
    expected.sort_unstable();
    assert_eq!(sent_numbers(&receiver), expected);
    // Attempts are recorded just after the receiver answers: wait until every one is listed.
    let attempts_path = format!("/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}?limit=250");
    let manual = app.get_until(&attempts_path, |list| list["data"].as_array().unwrap().len() == expected.len()).await;
    let triggers: Vec<i64> =
        manual["data"].as_array().unwrap().iter().map(|a| a["triggerType"].as_i64().unwrap()).collect();
    assert_eq!(triggers.iter().filter(|t| **t == 1).count(), expected.len() - 3, "replays are manual: {triggers:?}");

    for (body, field) in [
        (json!({"since": SINCE, "status": 9}), "status"),
        (json!({"since": SINCE, "statusCodeClass": 250}), "statusCodeClass"),
        (json!({"since": SINCE, "tag": "no spaces"}), "tag"),
        (json!({"since": SINCE, "eventTypes": ["a b"]}), "eventTypes"),
        (json!({"since": SINCE, "colour": "red"}), "colour"),
        (json!({"since": "2030-01-01T00:00:00Z", "until": SINCE}), "since"),
    ] {
        let (status, error) = app.post(&path, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert!(error.to_string().contains(field), "{body}: {error}");
    }
    app.request(
        Method::PATCH,
        &format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}"),
        Some(json!({"disabled": true})),
    )
    .await;
    let (status, error) = app.post(&path, json!({"since": SINCE})).await;
    assert_eq!(status, StatusCode::CONFLICT, "a disabled endpoint's deliveries would be canceled: {error}");
    app.stop().await;
}

#[tokio::test]
async fn a_replay_waits_for_its_endpoint_backlog_and_fails_when_the_endpoint_is_deleted() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let total: u64 = 1_300;
    let mut senders = tokio::task::JoinSet::new();
    for first in 0..8 {
        let (client, url, token) =
            (app.client.clone(), format!("{}/api/v1/app/{app_id}/msg", app.url), app.token.clone());
        senders.spawn(async move {
            for n in (first..total).step_by(8) {
                let body = json!({"eventType": "a", "payload": {"n": n}});
                let response = client.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::ACCEPTED);
            }
        });
    }
    while let Some(sent) = senders.join_next().await {
        sent.unwrap();
    }
    let endpoint = app.create_endpoint(&app_id, json!({"url": receiver.url, "rateLimit": 1})).await;
    let endpoint_id = id(&endpoint);
    let started = app
        .post_ok(&format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing"), json!({"since": SINCE}), 202)
        .await;
    let task_path = format!("/api/v1/background-task/{}", id(&started));
    app.get_until(&task_path, |t| t["data"]["messagesSent"].as_u64() >= Some(1_000)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let (_, task) = app.get(&task_path).await;
    assert_eq!(task["status"], "running", "{task}");
    let sent = task["data"]["messagesSent"].as_u64().unwrap();
    assert!(sent < total, "the replay waits while 1,000 deliveries wait at a 1/s endpoint: {task}");

    let deleted = app.request(Method::DELETE, &format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}"), None).await;
    assert_eq!(deleted.0, StatusCode::NO_CONTENT);
    let failed = app.task_done(&id(&started)).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(failed["data"]["error"].as_str().unwrap().contains("deleted"), "{failed}");
    app.stop().await;
}

#[tokio::test]
async fn recover_is_a_task_an_application_token_follows_for_its_own_application_only() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500)]);
    let app_id = app.create_app().await;
    let other_app = app.create_app().await;
    let once = json!({"maxRetries": 0, "intervalMs": 0});
    let endpoint = app.create_endpoint(&app_id, json!({"url": receiver.url, "retryPolicy": once})).await;
    let endpoint_id = id(&endpoint);
    app.send(&app_id, "a", json!({"n": 1})).await;
    let stats_path = format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats");
    app.get_until(&stats_path, |s| s["fail"] == 1).await;
    let token = app.post_ok(&format!("/api/v1/auth/app-portal-access/{app_id}"), json!({}), 200).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_token =
        app.post_ok(&format!("/api/v1/auth/app-portal-access/{other_app}"), json!({}), 200).await["token"]
            .as_str()
            .unwrap()
            .to_owned();
    let recover = format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover");
    let (status, dry) = app
        .request_as(Some(&token), Method::POST, &format!("{recover}?dryRun=true"), Some(json!({"since": SINCE})))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{dry}");
    let dry = app.task_done(&id(&dry)).await;
    assert_eq!((&dry["data"]["messagesMatched"], &dry["data"]["messagesSent"]), (&json!(1), &json!(0)), "{dry}");
    let (status, started) = app.request_as(Some(&token), Method::POST, &recover, Some(json!({"since": SINCE}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["task"], "endpoint.recover");
    let task_path = format!("/api/v1/background-task/{}", id(&started));
    let (status, mine) = app.request_as(Some(&token), Method::GET, &task_path, None).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let (status, _) = app.request_as(Some(&other_token), Method::GET, &task_path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another application's task is not there");
    let (_, listed) = app.request_as(Some(&other_token), Method::GET, "/api/v1/background-task", None).await;
    assert_eq!(listed["data"], json!([]), "{listed}");
    let done = app.task_done(&id(&started)).await;
    assert_eq!(done["data"]["messagesSent"], 1, "{done}");
    app.get_until(&stats_path, |s| s["success"] == 1 && s["fail"] == 0).await;
    let again = run_task(&app, &recover, json!({"since": SINCE})).await;
    assert_eq!(again["data"]["messagesMatched"], 0, "a delivery that succeeded is not recovered: {again}");
    app.stop().await;
}

/// Opens the test server's database directly, as another process would.
async fn open_store(url: &str) -> (Arc<dyn Store>, tokio_util::sync::CancellationToken) {
    let stop = tokio_util::sync::CancellationToken::new();
    let store: Arc<dyn Store> = match url.strip_prefix("sqlite://") {
        Some(path) => {
            Arc::new(hookwire_store::sqlite::SqliteStore::open(std::path::Path::new(path), Default::default()).unwrap())
        }
        None => {
            let background = hookwire_store::postgres::Background {
                tracker: tokio_util::task::TaskTracker::new(),
                stop: stop.clone(),
            };
            Arc::new(hookwire_store::postgres::PgStore::open(url, None, &background).await.unwrap())
        }
    };
    (store, stop)
}

#[tokio::test]
async fn a_task_resumes_from_its_saved_position_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::database_url(&dir).await;
    let receiver = Receiver::start().await;
    let app = TestApp::start_with(|c| c.database_url = url.clone()).await;
    let app_id = app.create_app().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(id(&app.send(&app_id, "a", json!({"n": n})).await));
    }
    let endpoint_id = id(&app.create_endpoint(&app_id, json!({"url": receiver.url})).await);
    app.stop().await;

    // A replay that a previous process had taken up to the third message when it died.
    let (store, stop) = open_store(&url).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let task = Task {
        id: TaskId::generate(),
        app_id: app_id.parse::<AppId>().unwrap(),
        kind: TaskKind::EndpointReplay,
        status: TaskStatus::Running,
        params: TaskParams {
            endpoint_id: endpoint_id.parse::<EndpointId>().unwrap(),
            since: 0,
            until: now + 1,
            event_types: Vec::new(),
            channel: None,
            tag: None,
            status: None,
            status_code_class: None,
            dry_run: false,
        },
        progress: TaskProgress { messages_scanned: 3, ..TaskProgress::default() },
        position: Some(ids[2].parse::<MessageId>().unwrap()),
        created_at: now,
        updated_at: now,
    };
    store.insert_task(task.clone()).await.unwrap();
    if url.starts_with("sqlite://") {
        // On SQLite a lease left by a dead process is released at start (on PostgreSQL it lapses
        // with the node's heartbeat: the deliveries' failover tests cover that).
        assert!(store.claim_task(now, now + 600_000).await.unwrap().is_some(), "the dead process's lease");
    }
    stop.cancel();
    drop(store);

    let app = TestApp::start_with(|c| c.database_url = url.clone()).await;
    let done = app.task_done(&task.id.to_string()).await;
    assert_eq!((&done["status"], &done["data"]["messagesSent"]), (&json!("finished"), &json!(2)), "{done}");
    assert_eq!(done["data"]["messagesScanned"], 5);
    receiver.wait_for(2).await;
    eventually("no more than the two after the position", || async {
        (sent_numbers(&receiver) == vec![3, 4]).then_some(())
    })
    .await;
    app.stop().await;
}

/// Retention deletes a task that ended before it (the list stays bounded by time, as the log does).
#[tokio::test]
async fn a_task_that_ended_before_retention_is_deleted_by_the_sweep() {
    let clock = hookwire_server::clock::ManualClock::new();
    let app = TestApp::start_with_clock(support::quick_retention, clock.clone()).await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint_id = id(&app.create_endpoint(&app_id, json!({"url": receiver.url})).await);
    let path = format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing?dryRun=true");
    let old = id(&run_task(&app, &path, json!({"since": SINCE})).await);
    clock.advance(86_400_000 * 3 / 4);
    let recent = id(&run_task(&app, &path, json!({"since": SINCE})).await);
    clock.advance(86_400_000 / 2);
    // Past the cut for the first (1.25 days), within it for the second (0.5): the sweep that
    // deletes one keeps the other.
    let left =
        app.get_until("/api/v1/background-task", |list| list["data"].as_array().is_some_and(|d| d.len() == 1)).await;
    assert_eq!(left["data"][0]["id"].as_str(), Some(recent.as_str()));
    assert_eq!(app.get(&format!("/api/v1/background-task/{old}")).await.0, StatusCode::NOT_FOUND);
    app.stop().await;
}
