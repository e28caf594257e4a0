//! `idempotency-key` on every POST, as Svix's SDKs send it: a retry gets the first answer again
//! and does nothing twice; a key reused for another request is refused.

mod support;

use serde_json::{Value, json};
use support::TestApp;

/// A `method` request to `path` as the admin, with `key`.
fn keyed(app: &TestApp, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
    app.client.request(method, format!("{}{path}", app.url)).bearer_auth(&app.token).header("idempotency-key", key)
}

/// POSTs `body` to `path` with `key`: status, whether it was replayed, body.
async fn post_keyed(app: &TestApp, path: &str, key: &str, body: Value) -> (u16, bool, Value) {
    let response = keyed(app, reqwest::Method::POST, path, key).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    (status, replayed, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_retried_create_answers_the_first_result_and_creates_once() {
    let app = TestApp::start().await;
    let body = json!({"name": "Acme"});
    let (status, replayed, first) = post_keyed(&app, "/api/v1/app", "auto_1", body.clone()).await;
    assert_eq!((status, replayed), (201, false));
    let (status, replayed, second) = post_keyed(&app, "/api/v1/app", "auto_1", body).await;
    assert_eq!((status, replayed, &second), (201, true, &first));
    let listed = app.get("/api/v1/app").await.1;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");

    // An endpoint of it, the same way; and a key is the caller's, not the route's.
    let app_id = first["id"].as_str().unwrap();
    let path = format!("/api/v1/app/{app_id}/endpoint");
    let endpoint = json!({"url": "https://example.com/hook"});
    let (_, _, e1) = post_keyed(&app, &path, "auto_2", endpoint.clone()).await;
    let (status, replayed, e2) = post_keyed(&app, &path, "auto_2", endpoint).await;
    assert_eq!((status, replayed, &e2["id"]), (201, true, &e1["id"]));
    let listed = app.get(&path).await.1;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_refusal_is_answered_again_and_a_key_is_bound_to_its_request() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let path = format!("/api/v1/app/{app_id}/endpoint");
    // A 4xx is the answer too: the same request with the same key is refused the same way.
    let (status, replayed, first) = post_keyed(&app, &path, "k-bad", json!({"url": "ftp://example.com"})).await;
    assert_eq!((status, replayed), (422, false));
    let (status, replayed, again) = post_keyed(&app, &path, "k-bad", json!({"url": "ftp://example.com"})).await;
    assert_eq!((status, replayed, &again), (422, true, &first));
    // The same key with another body (or path) is a mistake, not a retry: refused, nothing made.
    let (status, _, refused) = post_keyed(&app, &path, "k-bad", json!({"url": "https://example.com"})).await;
    assert_eq!((status, &refused["detail"][0]["loc"]), (422, &json!(["header", "idempotency-key"])), "{refused}");
    let (status, _, _) = post_keyed(&app, "/api/v1/app", "k-bad", json!({"name": "Other"})).await;
    assert_eq!(status, 422);
    assert!(app.get(&path).await.1["data"].as_array().unwrap().is_empty());
    assert_eq!(app.get("/api/v1/app").await.1["data"].as_array().unwrap().len(), 1);
    // A key must be a key.
    let long = "k".repeat(257);
    let (status, _, _) = post_keyed(&app, "/api/v1/app", &long, json!({"name": "Long"})).await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn a_retried_bulk_replay_starts_one_task() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": "https://example.com/hook"})).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let path = format!("/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover");
    let since = json!({"since": "2026-01-01T00:00:00Z"});
    let (status, _, first) = post_keyed(&app, &path, "auto_r", since.clone()).await;
    assert_eq!(status, 202, "{first}");
    let (status, replayed, second) = post_keyed(&app, &path, "auto_r", since).await;
    assert_eq!((status, replayed, &second["id"]), (202, true, &first["id"]));
    app.stop().await;
}

#[tokio::test]
async fn a_replayed_message_create_is_marked_and_a_secret_is_never_kept() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let path = format!("/api/v1/app/{app_id}/msg");
    let message = json!({"eventType": "a", "payload": {}});
    let (_, replayed, first) = post_keyed(&app, &path, "auto_m", message.clone()).await;
    assert!(!replayed);
    let (status, replayed, second) = post_keyed(&app, &path, "auto_m", message).await;
    assert_eq!((status, replayed, &second["id"]), (202, true, &first["id"]));
    // A portal access token is an answer not written down: the key is honoured while the first
    // request runs, and a retry after it gets a token of its own.
    let access = format!("/api/v1/auth/app-portal-access/{app_id}");
    let (status, replayed, one) = post_keyed(&app, &access, "auto_p", json!({})).await;
    assert_eq!((status, replayed), (200, false), "{one}");
    let (status, replayed, two) = post_keyed(&app, &access, "auto_p", json!({})).await;
    assert_eq!((status, replayed), (200, false));
    assert_ne!(one["token"], two["token"]);
    app.stop().await;
}

#[tokio::test]
async fn a_retried_delete_answers_its_first_result_not_a_404() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": "https://example.com/hook"})).await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{}", endpoint["id"].as_str().unwrap());
    let delete = || keyed(&app, reqwest::Method::DELETE, &path, "auto_d").send();
    let first = delete().await.unwrap();
    assert_eq!(first.status().as_u16(), 204);
    let again = delete().await.unwrap();
    assert_eq!(again.status().as_u16(), 204, "the first answer, not the 404 a second delete would get");
    assert_eq!(again.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert!(again.headers().get("content-type").is_none(), "a 204 has no body type");
    assert_eq!(app.get(&path).await.0.as_u16(), 404);
    app.stop().await;
}

/// The SDK retries a request whose answer it did not wait for: the retry waits for the first
/// request's answer instead of running it again.
#[tokio::test]
async fn a_retry_of_a_request_still_running_waits_for_its_answer() {
    let app = TestApp::start().await;
    let receiver = support::receiver::Receiver::start().await;
    receiver.set_delay_ms(700);
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": receiver.url, "verification": "challenge"})).await;
    let verify = format!("/api/v1/app/{app_id}/endpoint/{}/verify", endpoint["id"].as_str().unwrap());
    let first = post_keyed(&app, &verify, "auto_v", json!({}));
    let retry = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        post_keyed(&app, &verify, "auto_v", json!({})).await
    };
    let ((status, replayed, answer), (retry_status, retry_replayed, retry_answer)) = tokio::join!(first, retry);
    assert_eq!((status, replayed), (400, false), "{answer}");
    assert_eq!((retry_status, retry_replayed, &retry_answer), (400, true, &answer));
    assert_eq!(receiver.received().len(), 1, "one challenge sent");
    app.stop().await;
}
