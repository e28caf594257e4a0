//! Each source document's webhooks, reproduced by endpoint settings and checked with the source's
//! own receiver recipe (independent HMAC / ed25519 code, not Hookwire's).

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;
use support::receiver::{Receiver, Reply};

fn hex_hmac<M: Mac + KeyInit>(key: &str, body: &[u8]) -> String {
    let mut mac = <M as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn impira_signature_and_the_three_triggers() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let signed = json!({"scheme": "hmac", "header": "impira-signature", "algorithm": "sha256", "encoding": "hex", "content": "body"});
    let triggers = [
        ("all", None),
        ("confident", Some("data.fields.all(f, data.fields[f].confidence >= 0.8)")),
        ("review", Some("data.fields.exists(f, data.fields[f].confidence < 0.8)")),
        ("recent", Some(r#"data.invoice_date > "2020-01-01""#)),
        ("broken", Some("data.missing.deeper == 1")),
    ];
    let mut broken = String::new();
    for (path, filter) in triggers {
        let endpoint = app
            .create_endpoint(&app_id, json!({"url": format!("{}/{path}", receiver.url), "secret": "my impira token", "signature": signed, "filter": filter}))
            .await;
        broken = id(&endpoint);
    }
    let (status, body) =
        app.post(&format!("/api/v1/app/{app_id}/endpoint"), json!({"url": receiver.url, "filter": "data.x =="})).await;
    assert_eq!((status.as_u16(), &body["detail"][0]["loc"]), (422, &json!(["body", "filter"])), "{body}");

    let confident = json!({"fields": {"total": {"confidence": 0.97}, "vendor": {"confidence": 0.91}}, "invoice_date": "2021-03-01"});
    let unsure = json!({"fields": {"total": {"confidence": 0.97}, "vendor": {"confidence": 0.42}}, "invoice_date": "2019-12-31"});
    app.send(&app_id, "record.processed", confident).await;
    app.send(&app_id, "record.processed", unsure).await;
    let received = receiver.wait_for(5).await;
    let mut paths: Vec<_> = received.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["/all", "/all", "/confident", "/recent", "/review"]);
    for request in &received {
        // Impira's recipe: hmac.new(token, body, sha256).hexdigest() == impira-signature
        assert_eq!(
            request.header("impira-signature"),
            hex_hmac::<Hmac<sha2::Sha256>>("my impira token", &request.body)
        );
        assert_eq!(request.header("webhook-signature"), "", "only the configured scheme signs");
    }
    let stats = app.get(&format!("/api/v1/app/{app_id}/endpoint/{broken}/stats")).await.1;
    assert_eq!(stats["filterErrors"], 2, "{stats}");
    assert!(stats["lastFilterError"].as_str().unwrap().contains("missing"), "{stats}");
    app.stop().await;
}

#[tokio::test]
async fn impler_auth_header_chunks_and_retry_per_chunk() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(200), Reply::status(429)]); // the second chunk fails once
    let app_id = app.create_app().await;
    let endpoint = app
        .create_endpoint(
            &app_id,
            json!({
                "url": receiver.url,
                "headers": {"x-impler-auth": "s3cret"},
                "chunking": {"recordsField": "records", "chunkSize": 2},
                "retryPolicy": {"maxRetries": 1, "intervalMs": 10},
            }),
        )
        .await;
    let headers = app.get(&format!("/api/v1/app/{app_id}/endpoint/{}/headers", id(&endpoint))).await.1;
    assert_eq!(headers, json!({"headers": {}, "sensitive": ["x-impler-auth"]}));
    let payload = json!({"uploadId": "u-1", "template": "contacts", "extra": "{\"k\":1}", "records": [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": 5}]});
    let msg_id = id(&app.send(&app_id, "import.completed", payload).await);

    let received = receiver.wait_for(4).await;
    let mut pages: Vec<(String, Value)> = received
        .iter()
        .map(|r| (r.header("webhook-id").to_owned(), serde_json::from_slice(&r.body).unwrap()))
        .collect();
    pages.sort_by_key(|(webhook_id, _)| webhook_id.clone());
    pages.dedup_by_key(|(webhook_id, _)| webhook_id.clone());
    assert_eq!(pages.len(), 3);
    for (index, (webhook_id, body)) in pages.iter().enumerate() {
        let page = index + 1;
        assert_eq!(webhook_id, &format!("{msg_id}_{page}"));
        assert_eq!(body["page"], page);
        assert_eq!((body["totalPages"].as_u64(), body["totalRecords"].as_u64()), (Some(3), Some(5)));
        assert_eq!((body["uploadId"].as_str(), body["template"].as_str()), (Some("u-1"), Some("contacts")));
        assert!(body.get("records").is_none());
    }
    assert_eq!(pages[2].1["data"], json!([{"n": 5}]));
    assert_eq!(pages[2].1["pageSize"], 1);
    assert!(received.iter().all(|r| r.header("x-impler-auth") == "s3cret"));
    let destinations = app
        .get_until(&format!("/api/v1/app/{app_id}/endpoint/{}/msg", id(&endpoint)), |v| {
            v["data"].as_array().is_some_and(|d| d.len() == 3 && d.iter().all(|m| m["statusText"] == "success"))
        })
        .await;
    let attempts: Vec<u64> =
        destinations["data"].as_array().unwrap().iter().map(|m| m["attempts"].as_u64().unwrap()).collect();
    assert_eq!(attempts.iter().sum::<u64>(), 4, "one chunk was retried on its own: {attempts:?}");
    app.stop().await;
}

#[tokio::test]
async fn immuta_bulk_create_wildcard_sha1_and_history_retry() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500)]);
    let app_id = app.create_app().await;
    let signed = json!({"scheme": "hmac", "header": "x-immuta-webhook-signature", "algorithm": "sha1"});
    let bulk = app
        .post_ok(
            &format!("/api/v1/app/{app_id}/endpoint/bulk"),
            json!({"endpoints": [
                {"url": receiver.url, "eventTypes": ["*"], "secret": "shared", "signature": signed, "timeoutMs": 10000, "retryPolicy": {"maxRetries": 0, "intervalMs": 0}},
                {"url": "ftp://nope"},
                {"url": format!("{}/projects", receiver.url), "eventTypes": ["projectUpdated"]},
            ]}),
            200,
        )
        .await;
    assert_eq!(bulk["created"].as_array().unwrap().len(), 2);
    assert_eq!(
        bulk["errors"],
        json!([{"index": 1, "code": "validation_error", "detail": [{"loc": ["body", "url"], "msg": "must start with http:// or https://", "type": "value_error"}]}])
    );
    let everything = id(&bulk["created"][0]);
    let msg_id = id(&app.send(&app_id, "modelCreated", json!({"text": "Katie has created the Public project."})).await);
    let request = receiver.wait_for(1).await.remove(0);
    // Immuta's recipe: createHmac('sha1', secret).update(body).digest('hex')
    assert_eq!(request.header("x-immuta-webhook-signature"), hex_hmac::<Hmac<sha1::Sha1>>("shared", &request.body));

    let history = app
        .get_until(&format!("/api/v1/app/{app_id}/attempt/endpoint/{everything}?status=2"), |v| {
            v["data"].as_array().is_some_and(|d| d.len() == 1)
        })
        .await;
    let attempt = &history["data"][0];
    assert_eq!(attempt["responseStatusCode"], 500);
    let retry = format!("/api/v1/app/{app_id}/msg/{msg_id}/attempt/{}/resend", id(attempt));
    app.post_ok(&retry, json!({}), 202).await;
    let again = receiver.wait_for(2).await.remove(1);
    assert_eq!(again.header("webhook-id"), msg_id);
    app.stop().await;
}

#[tokio::test]
async fn improvado_verification_envelope_signature_and_idempotency_key() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint = app
        .create_endpoint(&app_id, json!({
            "url": receiver.url,
            "eventTypes": ["extraction_paused"],
            "verification": {"challengeHeader": "X-Improvado-Challenge", "verifyTokenHeader": "X-Improvado-Verify-Token"},
            "signature": {"scheme": "hmac", "header": "X-Improvado-Signature", "algorithm": "sha256", "encoding": "hex"},
            "envelope": "wrapped",
            "idempotencyHeader": "X-Improvado-Idempotency-Key",
        }))
        .await;
    assert_eq!(endpoint["status"], "unverified");
    let endpoint_id = id(&endpoint);
    let secret = app.get(&format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret")).await.1["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let msg = app.send(&app_id, "extraction_paused", json!({"order_id": "654321"})).await;
    let verify = format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/verify");

    receiver.script([Reply { status: 200, body: "wrong".into(), ..Reply::default() }]);
    let (status, failed) = app.post(&verify, json!({})).await;
    assert_eq!((status.as_u16(), failed["code"].as_str()), (400, Some("verification_failed")));
    assert!(failed["detail"].as_str().unwrap().contains("did not match"), "{failed}");
    let challenge = receiver.wait_for(1).await.remove(0);
    assert_eq!((challenge.method.as_str(), challenge.header("x-improvado-verify-token")), ("GET", secret.as_str()));
    assert_eq!(
        app.get(&format!("/api/v1/app/{app_id}/msg/{}/endpoint", id(&msg))).await.1["data"][0]["statusText"],
        "pending"
    );
    assert_eq!(receiver.received().len(), 1, "nothing is delivered while unverified");

    receiver.script([Reply { status: 200, echo_header: Some("x-improvado-challenge"), ..Reply::default() }]);
    let verified = app.post_ok(&verify, json!({}), 200).await;
    assert_eq!(verified["status"], "active");
    let delivered = receiver.wait_for(3).await.remove(2);
    assert_eq!(delivered.method, "POST");
    let body: Value = serde_json::from_slice(&delivered.body).unwrap();
    assert_eq!(
        (body["id"].as_str(), body["type"].as_str(), &body["data"]),
        (Some(id(&msg).as_str()), Some("extraction_paused"), &json!({"order_id": "654321"}))
    );
    assert!(body["timestamp"].is_string());
    assert_eq!(delivered.header("x-improvado-signature"), hex_hmac::<Hmac<sha2::Sha256>>(&secret, &delivered.body));
    assert_eq!(delivered.header("x-improvado-idempotency-key"), id(&msg));
    app.stop().await;
}

#[tokio::test]
async fn impilo_secret_header_schedule_examples_and_logs() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(503)]);
    let app_id = app.create_app().await;
    let schema =
        json!({"1": {"type": "object", "examples": [{"id": 1, "systolic": 120, "diastolic": 80, "heartRate": 100}]}});
    app.post_ok("/api/v1/event-type", json!({"name": "reading.bloodPressure", "description": "A reading of blood pressure was taken.", "schemas": schema}), 201).await;
    let endpoint = app
        .create_endpoint(
            &app_id,
            json!({
                "url": receiver.url,
                "eventTypes": ["reading.*"],
                "secret": "impilo-secret",
                "signature": {"scheme": "secret-header", "header": "Impilo-Webhook-Secret"},
                "retryPolicy": {"schedule": [900, 1800, 3600]},
            }),
        )
        .await;
    let endpoint_id = id(&endpoint);
    let failing = id(&app
        .send(&app_id, "reading.weight", json!({"id": 57638473, "type": "reading.weight", "payload": {"weight": 1.1}}))
        .await);
    let pending =
        app.get_until(&format!("/api/v1/app/{app_id}/msg/{failing}/endpoint"), |v| v["data"][0]["attempts"] == 1).await;
    let attempted = hookwire_core::time_fmt::parse(pending["data"][0]["updatedAt"].as_str().unwrap()).unwrap();
    let next = hookwire_core::time_fmt::parse(pending["data"][0]["nextAttempt"].as_str().unwrap()).unwrap();
    assert_eq!(next - attempted, 900_000, "Impilo's first retry is 15 minutes later");

    let example = app
        .post_ok(
            &format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example"),
            json!({"eventType": "reading.bloodPressure"}),
            202,
        )
        .await;
    let received = receiver.wait_for(2).await;
    assert!(received.iter().all(|r| r.header("impilo-webhook-secret") == "impilo-secret"));
    let sample = received.iter().find(|r| r.header("webhook-id") == id(&example)).unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&sample.body).unwrap()["systolic"], 120);

    let log = format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg");
    let succeeded =
        app.get_until(&format!("{log}?status=0"), |v| v["data"].as_array().is_some_and(|d| d.len() == 1)).await;
    assert_eq!(succeeded["data"][0]["eventType"], "reading.bloodPressure");
    let retrying = app.get(&format!("{log}?status=1")).await.1;
    assert_eq!(retrying["data"][0]["id"], failing.as_str());
    let after_now = app.get(&format!("{log}?after=2999-01-01T00:00:00Z")).await.1;
    assert_eq!(after_now["data"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn ed25519_signatures_verify_with_the_published_key() {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": receiver.url, "signature": {"scheme": "ed25519"}})).await;
    let key = app.get(&format!("/api/v1/app/{app_id}/endpoint/{}/secret", id(&endpoint))).await.1["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(key.starts_with("whpk_"), "the API shows the public key, never the private one: {key}");
    let msg_id = id(&app.send(&app_id, "a", json!({"x": 1})).await);
    let request = receiver.wait_for(1).await.remove(0);
    let signed = format!("{msg_id}.{}.{}", request.header("webhook-timestamp"), String::from_utf8_lossy(&request.body));
    let signature: [u8; 64] =
        BASE64.decode(request.header("webhook-signature").strip_prefix("v1a,").unwrap()).unwrap().try_into().unwrap();
    let public: [u8; 32] = BASE64.decode(key.strip_prefix("whpk_").unwrap()).unwrap().try_into().unwrap();
    VerifyingKey::from_bytes(&public)
        .unwrap()
        .verify(signed.as_bytes(), &Signature::from_bytes(&signature))
        .expect("v1a signature verifies");
    app.stop().await;
}

#[tokio::test]
async fn payloads_are_checked_against_the_event_type_schema_when_enabled() {
    let app = TestApp::start_with(|config| config.validate_payloads = true).await;
    let schema = json!({"1": {"type": "object", "required": ["patient"], "properties": {"patient": {"type": "object", "properties": {"weight": {"type": "number"}}}}}});
    app.post_ok("/api/v1/event-type", json!({"name": "reading.weight", "description": "", "schemas": schema}), 201)
        .await;
    let (status, _) = app
        .post("/api/v1/event-type", json!({"name": "bad.schema", "description": "", "schemas": {"1": {"type": 7}}}))
        .await;
    assert_eq!(status, 422);
    let app_id = app.create_app().await;
    let path = format!("/api/v1/app/{app_id}/msg");
    app.post_ok(&path, json!({"eventType": "reading.weight", "payload": {"patient": {"weight": 80.5}}}), 202).await;
    let (status, body) =
        app.post(&path, json!({"eventType": "reading.weight", "payload": {"patient": {"weight": "heavy"}}})).await;
    assert_eq!(
        (status.as_u16(), &body["detail"][0]["loc"]),
        (422, &json!(["body", "payload", "patient", "weight"])),
        "{body}"
    );
    app.post_ok(&path, json!({"eventType": "uncatalogued", "payload": {}}), 202).await;
    let (status, _) = app.request(Method::GET, &format!("{path}?limit=1"), None).await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn challenge_shorthand_uses_webhook_headers_and_never_sends_a_private_key() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint = app
        .create_endpoint(
            &app_id,
            json!({"url": receiver.url, "verification": "challenge", "signature": {"scheme": "ed25519"}}),
        )
        .await;
    assert_eq!(endpoint["status"], "unverified");
    receiver.script([Reply { status: 200, echo_header: Some("webhook-challenge"), ..Reply::default() }]);
    let verify = format!("/api/v1/app/{app_id}/endpoint/{}/verify", id(&endpoint));
    assert_eq!(app.post_ok(&verify, json!({}), 200).await["status"], "active");
    let challenge = receiver.wait_for(1).await.remove(0);
    let token = challenge.header("webhook-verify-token");
    assert!(token.starts_with("whpk_"), "an ed25519 endpoint's verify token is its public key: {token}");
    assert!(!challenge.headers.iter().any(|(_, v)| v.to_str().unwrap_or("").contains("whsk_")));
    app.stop().await;
}
