//! What the portal's endpoint settings rely on: `POST /api/v1/app/{app_id}/filter/test` (a CEL
//! filter tried on a message, as fan-out decides it: match, no match, an evaluation error as no
//! match with its reason, a compile error as a 422 naming `filter`; every field checked; only
//! tokens that may edit endpoints), and a refused `signature` or `retryPolicy` naming the
//! sub-field at fault, so a form can mark that field.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;

/// Tries `body` on the filter test as `token` (the admin's when `None`); the answer, or for a
/// 422 its status and the field it names.
async fn check(app: &TestApp, app_id: &str, token: Option<&str>, body: Value) -> Value {
    let path = format!("/api/v1/app/{app_id}/filter/test");
    let (status, answer) = match token {
        Some(token) => app.request_as(Some(token), Method::POST, &path, Some(body)).await,
        None => app.post(&path, body).await,
    };
    match status.as_u16() {
        200 => answer,
        422 => json!({"status": 422, "loc": answer["detail"][0]["loc"]}),
        other => json!({"status": other}),
    }
}

async fn portal_token(app: &TestApp, app_id: &str, body: Value) -> String {
    let access = app.post_ok(&format!("/api/v1/auth/app-portal-access/{app_id}"), body, 200).await;
    access["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_filter_is_tried_on_a_payload_or_the_event_types_example() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let schema = json!({"1": {"type": "object", "examples": [{"amount": 250, "currency": "EUR"}]}});
    app.request(Method::PUT, "/api/v1/event-type/invoice.paid", Some(json!({"description": "d", "schemas": schema})))
        .await;
    let cases = [
        (json!({"filter": "data.amount > 100", "eventType": "x", "payload": {"amount": 150}}), json!(true)),
        (json!({"filter": "data.amount > 100", "eventType": "x", "payload": {"amount": 50}}), json!(false)),
        // No payload: the event type's first schema example.
        (json!({"filter": "data.amount > 100 && data.currency == 'EUR'", "eventType": "invoice.paid"}), json!(true)),
        (json!({"filter": "data.amount > 1000", "eventType": "invoice.paid", "payload": null}), json!(false)),
        (json!({"filter": r#"type.startsWith("invoice.")"#, "eventType": "invoice.paid"}), json!(true)),
        (json!({"filter": r#""eu" in channels"#, "eventType": "x", "channels": ["eu", "us"]}), json!(true)),
        (json!({"filter": r#""eu" in channels"#, "eventType": "x"}), json!(false)),
    ];
    for (body, matches) in cases {
        assert_eq!(
            check(&app, &app_id, None, body.clone()).await,
            json!({"matches": matches, "error": null}),
            "{body}"
        );
    }
    // A filter that cannot be evaluated matches nothing, as in fan-out, and says why.
    for filter in ["data.missing.deeper == 1", "1 + 1"] {
        let answer = check(&app, &app_id, None, json!({"filter": filter, "eventType": "x", "payload": {}})).await;
        assert_eq!(answer["matches"], false, "{filter}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()), "{filter}: {answer}");
    }
    app.stop().await;
}

#[tokio::test]
async fn every_field_is_checked_and_a_bad_one_named() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let deep = (0..70).fold(json!(1), |inner, _| json!({"a": inner}));
    let refused = [
        (json!({"filter": "data.amount >", "eventType": "x"}), json!(["body", "filter"])),
        (json!({"filter": "", "eventType": "x"}), json!(["body", "filter"])),
        (json!({"filter": "a".repeat(5_000), "eventType": "x"}), json!(["body", "filter"])),
        (json!({"eventType": "x"}), json!(["body", "filter"])),
        (json!({"filter": "true"}), json!(["body", "eventType"])),
        (json!({"filter": "true", "eventType": "not a type"}), json!(["body", "eventType"])),
        (json!({"filter": "true", "eventType": "x", "channels": ["has space"]}), json!(["body", "channels"])),
        (json!({"filter": "true", "eventType": "x", "channels": vec!["c"; 11]}), json!(["body", "channels"])),
        (json!({"filter": "true", "eventType": "x", "payload": [1]}), json!(["body", "payload"])),
        (json!({"filter": "true", "eventType": "x", "payload": deep}), json!(["body", "payload"])),
        (json!({"filter": "true", "eventType": "x", "endpointId": "ep_1"}), json!(["body", "endpointId"])),
    ];
    for (body, loc) in refused {
        let answer = check(&app, &app_id, None, body.clone()).await;
        assert_eq!(
            answer,
            json!({"status": 422, "loc": loc}),
            "{}",
            &body.to_string()[..body.to_string().len().min(200)]
        );
    }
    // The served document lists it, so a query parameter it does not take is refused too.
    let (_, doc) = app.get("/api/v1/openapi.json").await;
    assert!(doc["paths"]["/api/v1/app/{app_id}/filter/test"]["post"]["requestBody"].is_object());
    let stray = format!("/api/v1/app/{app_id}/filter/test?dryRun=true");
    let (status, answer) = app.post(&stray, json!({"filter": "true", "eventType": "x"})).await;
    assert_eq!((status.as_u16(), &answer["detail"][0]["loc"]), (422, &json!(["query", "dryRun"])));
    // The compiler's own words, the way endpoint create reports a bad filter.
    let (_, answer) = app
        .post(&format!("/api/v1/app/{app_id}/filter/test"), json!({"filter": "data.amount >", "eventType": "x"}))
        .await;
    let msg = answer["detail"][0]["msg"].as_str().unwrap();
    assert!(msg.starts_with("filter does not compile: "), "{msg}");
    let (_, create) = app
        .post(
            &format!("/api/v1/app/{app_id}/endpoint"),
            json!({"url": "https://example.com", "filter": "data.amount >"}),
        )
        .await;
    assert_eq!(create["detail"][0]["msg"], answer["detail"][0]["msg"]);
    app.stop().await;
}

#[tokio::test]
async fn only_tokens_that_may_edit_endpoints_try_filters() {
    let app = TestApp::start().await;
    let own = app.create_app().await;
    let other = app.create_app().await;
    let body = json!({"filter": "data.n == 1", "eventType": "x", "payload": {"n": 1}});
    let read_only = portal_token(&app, &own, json!({"readOnly": true})).await;
    let attempts_only = portal_token(&app, &own, json!({"capabilities": ["ViewBase", "CreateAttempts"]})).await;
    let manager = portal_token(&app, &own, json!({"capabilities": ["ViewBase", "ManageEndpoint"]})).await;
    let matched = json!({"matches": true, "error": null});
    assert_eq!(check(&app, &own, Some(&read_only), body.clone()).await, json!({"status": 403}));
    assert_eq!(check(&app, &own, Some(&attempts_only), body.clone()).await, json!({"status": 403}));
    assert_eq!(check(&app, &own, Some(&manager), body.clone()).await, matched);
    assert_eq!(check(&app, &other, Some(&manager), body.clone()).await, json!({"status": 404}), "another application");
    let (status, _) = app.request_as(None, Method::POST, &format!("/api/v1/app/{own}/filter/test"), Some(body)).await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test]
async fn a_refused_signature_or_retry_policy_names_the_field_at_fault() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": "https://example.com/hook"})).await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{}", endpoint["id"].as_str().unwrap());
    let refused = [
        (json!({"signature": {"scheme": "hmac"}}), json!(["body", "signature", "header"])),
        (json!({"signature": {"scheme": "standard", "header": "X-Sig"}}), json!(["body", "signature", "header"])),
        (json!({"signature": {"scheme": "hmac", "header": "Not A Header"}}), json!(["body", "signature", "header"])),
        (
            json!({"signature": {"scheme": "secret-header", "header": "webhook-id"}}),
            json!(["body", "signature", "header"]),
        ),
        (json!({"signature": {"scheme": "ed25519", "encoding": "hex"}}), json!(["body", "signature", "encoding"])),
        (
            json!({"signature": {"scheme": "hmac", "header": "X-Sig", "prefix": "p".repeat(65)}}),
            json!(["body", "signature", "prefix"]),
        ),
        (json!({"retryPolicy": {"schedule": vec![1; 51]}}), json!(["body", "retryPolicy", "schedule"])),
        (json!({"retryPolicy": {"schedule": [8 * 24 * 3600]}}), json!(["body", "retryPolicy", "schedule"])),
        (json!({"retryPolicy": {"maxRetries": 51, "intervalMs": 1000}}), json!(["body", "retryPolicy", "maxRetries"])),
        (
            json!({"retryPolicy": {"maxRetries": 3, "intervalMs": 8 * 24 * 3_600_000u64}}),
            json!(["body", "retryPolicy", "intervalMs"]),
        ),
        // One form or the other: a key of the second was dropped (one retry where none was asked).
        (json!({"retryPolicy": {"schedule": [60], "maxRetries": 0}}), json!(["body", "retryPolicy"])),
        (
            json!({"retryPolicy": {"maxRetries": 1, "intervalMs": 10, "multiplier": 2}}),
            json!(["body", "retryPolicy", "multiplier"]),
        ),
    ];
    for (patch, loc) in refused {
        let (status, answer) = app.request(Method::PATCH, &path, Some(patch.clone())).await;
        assert_eq!((status.as_u16(), &answer["detail"][0]["loc"]), (422, &loc), "{patch}: {answer}");
    }
    let accepted = json!({
        "signature": {"scheme": "hmac", "header": "X-Sig", "algorithm": "sha512", "encoding": "base64", "prefix": "sha512=", "content": "standard"},
        "retryPolicy": {"schedule": [0, 60, 3600]},
        "timeoutMs": 5000,
    });
    let (status, saved) = app.request(Method::PATCH, &path, Some(accepted.clone())).await;
    assert_eq!(
        (status.as_u16(), &saved["signature"], &saved["retryPolicy"], &saved["timeoutMs"]),
        (200, &accepted["signature"], &accepted["retryPolicy"], &accepted["timeoutMs"])
    );
    app.stop().await;
}

/// What an endpoint's create, or an operation without a body, would otherwise drop is refused
/// by name.
#[tokio::test]
async fn fields_an_operation_would_drop_are_refused() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let path = format!("/api/v1/app/{app_id}/endpoint");
    let refused = [
        (json!({"url": "https://example.com/a", "version": 7}), json!(["body", "version"])),
        (
            json!({"url": "https://example.com/a", "verification": {"challengeHeader": "X-C", "verifyTokenHeader": "X-T", "token": "s"}}),
            json!(["body", "verification"]),
        ),
    ];
    for (body, loc) in refused {
        let (status, answer) = app.post(&path, body.clone()).await;
        assert_eq!((status.as_u16(), &answer["detail"][0]["loc"]), (422, &loc), "{body}: {answer}");
    }
    let created = app.post_ok(&path, json!({"url": "https://example.com/a", "version": 1}), 201).await;
    let endpoint = created["id"].as_str().unwrap();
    let sent = app.send(&app_id, "a.b", json!({})).await;
    let resend = format!("/api/v1/app/{app_id}/msg/{}/endpoint/{endpoint}/resend", sent["id"].as_str().unwrap());
    let (status, answer) = app.post(&resend, json!({"endpointId": "ep_other"})).await;
    assert_eq!((status.as_u16(), &answer["detail"][0]["loc"]), (422, &json!(["body", "endpointId"])), "{answer}");
    assert_eq!(app.post(&resend, json!({})).await.0, 202, "an empty object is no body");
    // Every operation whose served entry has no body is checked the same way (one route layer).
    let (status, answer) =
        app.request(Method::DELETE, &format!("/api/v1/app/{app_id}"), Some(json!({"force": true}))).await;
    assert_eq!((status.as_u16(), &answer["detail"][0]["loc"]), (422, &json!(["body", "force"])), "{answer}");
    assert_eq!(app.get(&format!("/api/v1/app/{app_id}")).await.0, 200, "and nothing was deleted");
    app.stop().await;
}

/// A filter changed twice within one millisecond (a clock that stands still) filters by the
/// second: compiled filters are kept by their source, not by the endpoint's `updatedAt`.
#[tokio::test]
async fn a_filter_changed_within_one_millisecond_filters_by_the_new_one() {
    use support::receiver::Receiver;
    let clock = hookwire_server::clock::ManualClock::new();
    let app = TestApp::start_with_clock(|_| {}, clock.clone()).await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": receiver.url, "filter": "data.n == 1"})).await;
    app.send(&app_id, "a.b", json!({"n": 1})).await;
    receiver.wait_for(1).await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{}", endpoint["id"].as_str().unwrap());
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"filter": "data.n == 2"}))).await;
    assert_eq!(status, 200);
    app.send(&app_id, "a.b", json!({"n": 1})).await;
    app.send(&app_id, "a.b", json!({"n": 2})).await;
    let sent = receiver.wait_for(2).await;
    let second: Value = serde_json::from_slice(&sent[1].body).unwrap();
    assert_eq!(second["n"], 2, "the message the old filter wanted went instead: {second}");
    app.stop().await;
}
