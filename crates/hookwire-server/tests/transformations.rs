//! Transformations end to end: the API (Svix's shape), deliveries reshaped, cancelled or failed
//! by JavaScript, and simulations that send nothing.

mod support;

use hookwire_core::signing;
use serde_json::{Value, json};
use support::TestApp;
use support::receiver::Receiver;

const SLACK: &str = r#"
function handler(webhook) {
  webhook.method = "PUT";
  webhook.url = webhook.url + "/" + webhook.variables.room;
  webhook.payload = { text: `${webhook.eventType}: ${webhook.payload.amount} (${webhook.variables.apiToken.length})` };
  webhook.cancel = webhook.payload.text.includes("skip");
  return webhook;
}"#;

async fn endpoint_with(app: &TestApp, app_id: &str, url: &str, code: &str) -> String {
    let endpoint = app.create_endpoint(app_id, json!({"url": url, "retryPolicy": {"schedule": []}})).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/app/{app_id}/endpoint/{id}/transformation");
    let body = json!({"code": code, "variables": {"room": "billing", "apiToken": "s3cret"}});
    let (status, answer) = app.request(http::Method::PATCH, &path, Some(body)).await;
    assert_eq!(status, 204, "{answer}");
    id
}

async fn attempts(app: &TestApp, app_id: &str, endpoint: &str, count: usize) -> Vec<Value> {
    let path = format!("/api/v1/app/{app_id}/attempt/endpoint/{endpoint}");
    let page = app.get_until(&path, |v| v["data"].as_array().is_some_and(|a| a.len() >= count)).await;
    page["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_api_reads_checks_and_changes_the_code() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": "https://example.com/hook"})).await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{}/transformation", endpoint["id"].as_str().unwrap());
    let (status, none) = app.get(&path).await;
    assert_eq!((status.as_u16(), &none["code"], &none["enabled"]), (200, &Value::Null, &json!(false)));

    let patch = |body: Value| app.request(http::Method::PATCH, &path, Some(body));
    let (status, error) = patch(json!({"code": "function handler(w) {\n  return w\n}\nlet = ;"})).await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["detail"][0]["loc"], json!(["body", "code"]));
    assert!(error["detail"][0]["msg"].as_str().unwrap().starts_with("line 4: SyntaxError"), "{error}");
    let (status, error) = patch(json!({"code": "function transform(w) { return w }"})).await;
    assert_eq!(status, 422);
    assert!(error["detail"][0]["msg"].as_str().unwrap().contains("no function handler(webhook)"));
    let (status, error) = patch(json!({"code": "while (true) {}"})).await;
    assert_eq!(status, 422);
    assert!(error["detail"][0]["msg"].as_str().unwrap().contains("CPU time limit"), "{error}");
    let (status, _) = patch(json!({"enabled": true})).await;
    assert_eq!(status, 422, "nothing to enable");
    let (status, error) = patch(json!({"code": SLACK, "variables": {"bad name": "x"}})).await;
    assert_eq!((status.as_u16(), &error["detail"][0]["loc"]), (422, &json!(["body", "variables", "bad name"])));
    let (status, error) = patch(json!({"code": SLACK, "script": "x"})).await;
    assert_eq!(status, 422, "unknown fields are refused: {error}");

    let (status, _) = patch(json!({"code": SLACK, "variables": {"room": "billing", "apiToken": "s3cret"}})).await;
    assert_eq!(status, 204);
    let (_, saved) = app.get(&path).await;
    assert_eq!(saved["code"], SLACK);
    assert_eq!(saved["enabled"], true, "setting code enables it");
    assert_eq!(saved["variables"], json!({"room": "billing"}), "a secret variable is write-only");
    assert_eq!(saved["sensitiveVariables"], json!(["apiToken"]));
    assert!(saved["updatedAt"].is_string());

    let endpoint_path = path.replace("/transformation", "");
    let chunked = json!({"chunking": {"recordsField": "records", "chunkSize": 10}});
    let (status, error) = app.request(http::Method::PATCH, &endpoint_path, Some(chunked.clone())).await;
    assert_eq!(status, 422, "enabled: no chunking ({error})");
    assert_eq!(error["detail"][0]["loc"], json!(["body", "chunking"]));
    let (status, _) = patch(json!({"enabled": false})).await;
    assert_eq!(status, 204);
    let (_, disabled) = app.get(&path).await;
    assert_eq!((&disabled["enabled"], &disabled["code"]), (&json!(false), &json!(SLACK)), "code and variables kept");
    assert_eq!(disabled["sensitiveVariables"], json!(["apiToken"]));

    let (status, error) = app.request(http::Method::PATCH, &endpoint_path, Some(chunked)).await;
    assert_eq!(status, 200, "disabled: chunking may be set ({error})");
    let (status, error) = patch(json!({"enabled": true})).await;
    assert_eq!(status, 422);
    assert!(error["detail"][0]["msg"].as_str().unwrap().contains("chunking"), "{error}");

    let replaced = json!({"url": "https://example.com/other"});
    let (status, _) = app.request(http::Method::PUT, &endpoint_path, Some(replaced)).await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&path).await.1["code"], SLACK, "replacing the endpoint keeps its transformation");
    let (status, _) = patch(json!({"code": null})).await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&path).await.1["code"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn deliveries_are_reshaped_signed_as_sent_or_cancelled() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint = endpoint_with(&app, &app_id, &receiver.url, SLACK).await;
    let secret = app.get(&format!("/api/v1/app/{app_id}/endpoint/{endpoint}/secret")).await.1["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = app.send(&app_id, "invoice.paid", json!({"amount": 42})).await;
    let msg_id = sent["id"].as_str().unwrap();
    let request = receiver.wait_for(1).await.remove(0);
    assert_eq!((request.method.as_str(), request.path.as_str()), ("PUT", "/billing"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body, json!({"text": "invoice.paid: 42 (6)"}));
    let timestamp: i64 = request.header("webhook-timestamp").parse().unwrap();
    assert!(
        signing::verify(&secret, msg_id, timestamp, &request.body, request.header("webhook-signature")),
        "the signature covers the transformed body"
    );

    let skipped = app.send(&app_id, "invoice.paid", json!({"amount": "skip"})).await;
    let skipped = skipped["id"].as_str().unwrap();
    let status = app
        .get_until(&format!("/api/v1/app/{app_id}/msg/{skipped}/endpoint?expanded_statuses=true"), |v| {
            v["data"][0]["statusText"] == "canceled"
        })
        .await;
    assert_eq!(status["data"][0]["attempts"], 0, "nothing was sent");
    app.send(&app_id, "invoice.paid", json!({"amount": 7})).await;
    let all = receiver.wait_for(2).await;
    assert_eq!(all.len(), 2, "the cancelled message never arrived");
    app.stop().await;
}

#[tokio::test]
async fn a_failing_handler_fails_its_attempt_and_nothing_else() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let code = "function handler(w) {\n  if (w.payload.loop) { for (;;) {} }\n  if (w.payload.bomb) { const a = []; for (;;) a.push('x'.repeat(1 << 20) + a.length); }\n  if (w.payload.bigint) { w.payload = 1n; return w; }\n  throw new TypeError('no ' + w.eventType);\n}";
    let failing = endpoint_with(&app, &app_id, &format!("{}/failing", receiver.url), code).await;
    let plain = app.create_endpoint(&app_id, json!({"url": format!("{}/plain", receiver.url)})).await;
    for payload in [json!({}), json!({"loop": true}), json!({"bomb": true}), json!({"bigint": true})] {
        app.send(&app_id, "invoice.paid", payload).await;
    }
    let attempts = attempts(&app, &app_id, &failing, 4).await;
    let mut reasons: Vec<&str> = attempts.iter().map(|a| a["response"].as_str().unwrap()).collect();
    reasons.sort();
    assert!(attempts.iter().all(|a| a["errorKind"] == "transformation" && a["status"] == 2), "{attempts:?}");
    assert_eq!(
        reasons,
        [
            "the handler ran past its CPU time limit of 100 ms",
            "the handler threw at line 5: TypeError: no invoice.paid",
            "the handler threw: TypeError: BigInt are forbidden in JSON.stringify",
            "the handler used more than its memory limit of 32 MiB",
        ]
    );
    // The other endpoint got every message, and none went to the failing one.
    let arrived = receiver.wait_for(4).await;
    assert!(arrived.iter().all(|r| r.path == "/plain"), "{:?}", arrived.iter().map(|r| &r.path).collect::<Vec<_>>());
    let metrics = app.scrape().await;
    assert!(metrics.contains("outcome=\"transformation\""), "failures are counted by kind");
    drop(plain);
    app.stop().await;
}

#[tokio::test]
async fn a_simulation_shows_what_would_be_sent_and_sends_nothing() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint = endpoint_with(&app, &app_id, &receiver.url, SLACK).await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{endpoint}/transformation/simulate");
    let out = app.post_ok(&path, json!({"eventType": "invoice.paid", "payload": {"amount": 9}}), 200).await;
    assert_eq!(out["method"], "PUT");
    assert_eq!(out["url"], format!("{}/billing", receiver.url));
    assert_eq!(out["payload"], json!({"text": "invoice.paid: 9 (6)"}));
    assert_eq!((&out["cancel"], &out["error"]), (&json!(false), &Value::Null));

    let code = "function handler(w) { console.log('got', w.payload); throw new Error('nope'); }";
    let out = app.post_ok(&path, json!({"eventType": "a.b", "payload": {"x": 1}, "code": code}), 200).await;
    assert_eq!(out["console"], json!(["got {\"x\":1}"]));
    assert_eq!(out["error"], "the handler threw at line 1: Error: nope");
    let out = app.post_ok(&path, json!({"eventType": "a.b", "payload": {"amount": "skip"}}), 200).await;
    assert_eq!(out["cancel"], true);
    let (status, _) = app.post(&path, json!({"eventType": "a.b", "payload": {}, "extra": 1})).await;
    assert_eq!(status, 422);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(receiver.received().is_empty(), "a simulation sends nothing");
    app.stop().await;
}

/// Two changes to the code within one millisecond (a clock that stands still) are two versions:
/// the second change's code runs, not the first's compiled program kept by its version.
#[tokio::test]
async fn code_changed_twice_in_one_millisecond_runs_the_new_code() {
    let clock = hookwire_server::clock::ManualClock::new();
    let app = TestApp::start_with_clock(|_| {}, clock.clone()).await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let first = "function handler(w) { w.payload = { version: 1 }; return w; }";
    let endpoint = endpoint_with(&app, &app_id, &receiver.url, first).await;
    app.send(&app_id, "a.b", json!({})).await;
    let sent = receiver.wait_for(1).await;
    assert_eq!(serde_json::from_slice::<Value>(&sent[0].body).unwrap(), json!({"version": 1}));
    let path = format!("/api/v1/app/{app_id}/endpoint/{endpoint}/transformation");
    let second = json!({"code": "function handler(w) { w.payload = { version: 2 }; return w; }"});
    let (status, _) = app.request(http::Method::PATCH, &path, Some(second)).await;
    assert_eq!(status, 204);
    app.send(&app_id, "a.b", json!({})).await;
    let sent = receiver.wait_for(2).await;
    assert_eq!(serde_json::from_slice::<Value>(&sent[1].body).unwrap(), json!({"version": 2}));
    app.stop().await;
}
