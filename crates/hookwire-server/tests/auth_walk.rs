//! Every route in the served OpenAPI document, walked as an outsider (without a token, and with
//! a token scoped to another application) and with narrowed tokens of the application itself: a
//! read-only token changes nothing, and each capability opens only what Svix says it does.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;

/// Routes that need no token.
const PUBLIC: &[&str] = &["/api/v1/health", "/api/v1/health/ping"];
/// Logging out ends the calling token itself: walked last, on its own.
const LOGOUT: &str = "/api/v1/auth/logout";

fn operations(doc: &Value) -> Vec<(Method, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if path != LOGOUT {
                out.push((method.to_uppercase().parse().unwrap(), path.clone()));
            }
        }
    }
    out
}

fn fill(path: &str, app_id: &str, ids: &Value) -> String {
    path.replace("{app_id}", app_id)
        .replace("{endpoint_id}", ids["endpoint"].as_str().unwrap())
        .replace("{msg_id}", ids["msg"].as_str().unwrap())
        .replace("{attempt_id}", ids["attempt"].as_str().unwrap())
        .replace("{event_type_name}", "some.type")
}

#[tokio::test]
async fn no_route_answers_without_a_token_and_app_tokens_stay_in_their_application() {
    let app = TestApp::start().await;
    let receiver = support::receiver::Receiver::start().await;
    let doc = app.request_as(None, Method::GET, "/api/v1/openapi.json", None).await.1;
    let operations = operations(&doc);
    assert!(operations.len() > 40, "the document lists every route ({})", operations.len());

    // A victim application with an endpoint, a message and an attempt; a token for another one.
    let victim = app.create_app().await;
    let endpoint = app.create_endpoint(&victim, json!({"url": receiver.url})).await;
    let msg = app.send(&victim, "a", json!({})).await;
    receiver.wait_for(1).await;
    let attempts = app
        .get_until(&format!("/api/v1/app/{victim}/attempt/msg/{}", msg["id"].as_str().unwrap()), |v| {
            v["data"][0]["id"].is_string()
        })
        .await;
    let ids = json!({"endpoint": endpoint["id"], "msg": msg["id"], "attempt": attempts["data"][0]["id"]});
    let outsider = app.create_app().await;
    let token = app.post_ok(&format!("/api/v1/auth/app-portal-access/{outsider}"), json!({}), 200).await["token"]
        .as_str()
        .unwrap()
        .to_owned();

    for (method, template) in &operations {
        let path = fill(template, &victim, &ids);
        let body = matches!(*method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
        let (status, answer) = app.request_as(None, method.clone(), &path, body.clone()).await;
        if PUBLIC.contains(&template.as_str()) {
            assert!(status.is_success(), "{method} {template} is public: {status}");
        } else {
            assert_eq!(status, 401, "{method} {template} without a token: {answer}");
        }
        let (status, answer) = app.request_as(Some(&token), method.clone(), &path, body).await;
        if !PUBLIC.contains(&template.as_str()) && template.contains("{app_id}") {
            assert!(
                matches!(status.as_u16(), 403 | 404),
                "{method} {template} with a foreign app token: {status} {answer}"
            );
        }
        if !template.contains("{app_id}") && *method != Method::GET && !PUBLIC.contains(&template.as_str()) {
            assert_eq!(status, 403, "{method} {template} is for admins: {answer}");
        }
    }
    // Nothing of the victim's changed.
    let (status, still) =
        app.get(&format!("/api/v1/app/{victim}/endpoint/{}", ids["endpoint"].as_str().unwrap())).await;
    assert_eq!((status.as_u16(), &still["url"]), (200, &endpoint["url"]));
    app.stop().await;
}

async fn portal_token(app: &TestApp, app_id: &str, body: Value) -> String {
    let access = app.post_ok(&format!("/api/v1/auth/app-portal-access/{app_id}"), body, 200).await;
    access["token"].as_str().unwrap().to_owned()
}

/// A read-only portal token reads everything of its application and changes nothing: every write
/// route of the served document answers 403 and nothing changed; reads still answer.
#[tokio::test]
async fn a_read_only_token_reads_and_every_write_route_refuses_it() {
    let app = TestApp::start().await;
    let receiver = support::receiver::Receiver::start().await;
    let doc = app.request_as(None, Method::GET, "/api/v1/openapi.json", None).await.1;
    let own = app.create_app().await;
    let endpoint = app.create_endpoint(&own, json!({"url": receiver.url})).await;
    let msg = app.send(&own, "a", json!({})).await;
    receiver.wait_for(1).await;
    let attempts = app
        .get_until(&format!("/api/v1/app/{own}/attempt/msg/{}", msg["id"].as_str().unwrap()), |v| {
            v["data"][0]["id"].is_string()
        })
        .await;
    let ids = json!({"endpoint": endpoint["id"], "msg": msg["id"], "attempt": attempts["data"][0]["id"]});
    let read_only = portal_token(&app, &own, json!({"readOnly": true})).await;
    let mut writes = 0;
    for (method, template) in &operations(&doc) {
        if PUBLIC.contains(&template.as_str()) {
            continue;
        }
        let path = fill(template, &own, &ids);
        let body = matches!(*method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
        let (status, answer) = app.request_as(Some(&read_only), method.clone(), &path, body).await;
        if *method == Method::GET {
            // Svix's read-only is `ViewBase`: everything of the application but endpoint secrets.
            if template.ends_with("/secret") {
                assert_eq!(status, 403, "GET {template} needs a secret capability: {answer}");
            } else if template.contains("{app_id}") {
                assert_ne!(status, 403, "GET {template} is a read of its application: {answer}");
            }
        } else {
            writes += 1;
            assert_eq!(status, 403, "{method} {template} with a read-only token: {answer}");
        }
    }
    assert!(writes >= 25, "the document lists the write routes ({writes})");
    let (status, still) = app.get(&format!("/api/v1/app/{own}/endpoint/{}", ids["endpoint"].as_str().unwrap())).await;
    assert_eq!((status.as_u16(), &still["url"], &still["disabled"]), (200, &endpoint["url"], &endpoint["disabled"]));
    let (_, messages) = app.get(&format!("/api/v1/app/{own}/msg")).await;
    assert_eq!(messages["data"].as_array().unwrap().len(), 1, "no message was sent");
    // The portal learns what its token may do.
    let (_, info) = app.request_as(Some(&read_only), Method::GET, "/api/v1/auth/token", None).await;
    assert_eq!((info["kind"].as_str(), &info["capabilities"]), (Some("application"), &json!(["ViewBase"])));
    app.stop().await;
}

/// Svix's capabilities each open what they name and nothing more; unknown names and
/// contradictions are refused; logout and expire-all end tokens.
#[tokio::test]
async fn capabilities_open_what_they_name_and_tokens_can_be_ended() {
    let app = TestApp::start().await;
    let receiver = support::receiver::Receiver::start().await;
    let own = app.create_app().await;
    let endpoint = app.create_endpoint(&own, json!({"url": receiver.url})).await;
    let endpoint_path = format!("/api/v1/app/{own}/endpoint/{}", endpoint["id"].as_str().unwrap());
    let call = |token: String, method: Method, path: String, body: Option<Value>| {
        let app = &app;
        async move { app.request_as(Some(&token), method, &path, body).await.0.as_u16() }
    };

    let attempts_only = portal_token(&app, &own, json!({"capabilities": ["ViewBase", "CreateAttempts"]})).await;
    let example = json!({"eventType": "a.b"});
    assert_eq!(
        call(attempts_only.clone(), Method::POST, format!("{endpoint_path}/send-example"), Some(example)).await,
        202
    );
    assert_eq!(
        call(attempts_only.clone(), Method::PATCH, endpoint_path.clone(), Some(json!({"description": "x"}))).await,
        403
    );
    assert_eq!(call(attempts_only.clone(), Method::GET, format!("{endpoint_path}/secret"), None).await, 403);

    let secrets = portal_token(&app, &own, json!({"capabilities": ["ViewBase", "ViewEndpointSecret"]})).await;
    assert_eq!(call(secrets.clone(), Method::GET, format!("{endpoint_path}/secret"), None).await, 200);
    assert_eq!(
        call(secrets.clone(), Method::POST, format!("{endpoint_path}/secret/rotate"), Some(json!({}))).await,
        403
    );

    let manager = portal_token(&app, &own, json!({"capabilities": ["ViewBase", "ManageEndpoint"]})).await;
    assert_eq!(
        call(manager.clone(), Method::PATCH, endpoint_path.clone(), Some(json!({"description": "x"}))).await,
        200
    );
    let send = json!({"eventType": "a", "payload": {}});
    assert_eq!(call(manager.clone(), Method::POST, format!("/api/v1/app/{own}/msg"), Some(send.clone())).await, 403);
    let full = portal_token(&app, &own, json!({})).await;
    assert_eq!(call(full.clone(), Method::POST, format!("/api/v1/app/{own}/msg"), Some(send)).await, 202);

    for (body, loc) in [
        (json!({"capabilities": ["ViewBase", "Superpowers"]}), "capabilities"),
        (json!({"capabilities": ["ManageEndpoint"]}), "capabilities"),
        (json!({"readOnly": true, "capabilities": ["ViewBase"]}), "readOnly"),
        (json!({"sessionId": "has space"}), "sessionId"),
    ] {
        let (status, answer) = app.post(&format!("/api/v1/auth/app-portal-access/{own}"), body.clone()).await;
        assert_eq!((status.as_u16(), &answer["detail"][0]["loc"]), (422, &json!(["body", loc])), "{body}: {answer}");
    }

    // Logout ends the calling token only; expire-all ends an application's tokens (by session).
    assert_eq!(call(manager.clone(), Method::POST, LOGOUT.into(), None).await, 204);
    assert_eq!(call(manager, Method::GET, endpoint_path.clone(), None).await, 401);
    assert_eq!(call(full.clone(), Method::GET, endpoint_path.clone(), None).await, 200);
    assert_eq!(
        app.request(Method::POST, LOGOUT, None).await.0,
        403,
        "the admin token is not issued, so not logged out"
    );
    let session_a = portal_token(&app, &own, json!({"sessionId": "user_a"})).await;
    let session_b = portal_token(&app, &own, json!({"sessionId": "user_b"})).await;
    let expire = format!("/api/v1/auth/app/{own}/expire-all");
    app.post_ok(&expire, json!({"sessionIds": ["user_a"]}), 204).await;
    assert_eq!(call(session_a, Method::GET, endpoint_path.clone(), None).await, 401);
    assert_eq!(call(session_b.clone(), Method::GET, endpoint_path.clone(), None).await, 200);
    app.post_ok(&expire, json!({}), 204).await;
    for token in [session_b, full, attempts_only, secrets] {
        assert_eq!(call(token, Method::GET, endpoint_path.clone(), None).await, 401);
    }
    app.stop().await;
}

/// An empty body (Svix's SDKs send none) is `{}`; a feature-flagged event type is visible only
/// to tokens carrying its flag.
#[tokio::test]
async fn portal_access_takes_no_body_and_feature_flags_reveal_event_types() {
    let app = TestApp::start().await;
    let own = app.create_app().await;
    let response = app
        .client
        .post(format!("{}/api/v1/auth/app-portal-access/{own}", app.url))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "no body at all");
    app.post_ok("/api/v1/event-type", json!({"name": "beta.thing", "description": "", "featureFlags": ["beta"]}), 201)
        .await;
    app.post_ok("/api/v1/event-type", json!({"name": "plain.thing", "description": ""}), 201).await;
    let plain = portal_token(&app, &own, json!({})).await;
    let beta = portal_token(&app, &own, json!({"featureFlags": ["beta"]})).await;
    let names = |list: &Value| {
        list["data"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let (_, seen) = app.request_as(Some(&plain), Method::GET, "/api/v1/event-type", None).await;
    assert_eq!(names(&seen), ["plain.thing"]);
    let (_, seen) = app.request_as(Some(&beta), Method::GET, "/api/v1/event-type", None).await;
    assert_eq!(names(&seen), ["beta.thing", "plain.thing"]);
    assert_eq!(app.request_as(Some(&plain), Method::GET, "/api/v1/event-type/beta.thing", None).await.0, 404);
    // The application named in the body is created when missing, with the path as its uid.
    let created =
        app.post_ok("/api/v1/auth/app-portal-access/new-customer", json!({"application": {"name": "New"}}), 200).await;
    assert!(created["token"].is_string());
    assert_eq!(app.get("/api/v1/app/new-customer").await.1["name"], "New");
    app.stop().await;
}
