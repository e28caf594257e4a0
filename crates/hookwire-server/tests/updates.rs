//! Update paths: PUT and PATCH of endpoints, headers, event types and applications, content
//! expunge, and attempts listed with their message.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;
use support::receiver::Receiver;

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn endpoint_put_and_patch() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let created = app
        .create_endpoint(
            &app_id,
            json!({"url": "https://example.com/a", "channels": ["eu"], "headers": {"X-Token": "t"}}),
        )
        .await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{}", id(&created));
    let secret = app.get(&format!("{path}/secret")).await.1["key"].clone();

    let (status, put) = app.request(Method::PUT, &path, Some(json!({"url": "https://example.com/b"}))).await;
    assert_eq!(
        (status.as_u16(), put["url"].as_str(), &put["channels"]),
        (200, Some("https://example.com/b"), &Value::Null)
    );
    assert_eq!(app.get(&format!("{path}/secret")).await.1["key"], secret, "PUT without a secret keeps it");
    assert_eq!(app.get(&format!("{path}/headers")).await.1["sensitive"], json!(["X-Token"]), "and the headers");

    let (status, patched) = app
        .request(Method::PATCH, &path, Some(json!({"description": "d", "channels": ["us"], "throttleRate": 7})))
        .await;
    assert_eq!((status.as_u16(), &patched["channels"], &patched["throttleRate"]), (200, &json!(["us"]), &json!(7)));
    let (_, cleared) = app.request(Method::PATCH, &path, Some(json!({"channels": null}))).await;
    assert_eq!(
        (&cleared["channels"], cleared["description"].as_str()),
        (&Value::Null, Some("d")),
        "null clears, absent keeps"
    );

    let (_, ed) = app.request(Method::PATCH, &path, Some(json!({"signature": {"scheme": "ed25519"}}))).await;
    assert_eq!(ed["signature"]["scheme"], "ed25519");
    let key = app.get(&format!("{path}/secret")).await.1["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("whpk_"), "a scheme change that needs another kind of secret gets one: {key}");
    let (status, _) = app.request(Method::PATCH, &path, Some(json!({"timeoutMs": 5}))).await;
    assert_eq!(status, 422);
    app.stop().await;
}

#[tokio::test]
async fn header_patch_adds_changes_and_deletes() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let endpoint =
        app.create_endpoint(&app_id, json!({"url": "https://example.com", "headers": {"X-A": "1", "X-B": "2"}})).await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{}/headers", id(&endpoint));
    let (status, _) = app
        .request(Method::PATCH, &path, Some(json!({"headers": {"X-A": "10", "X-C": "3"}, "deleteHeaders": ["X-B"]})))
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&path).await.1, json!({"headers": {"X-A": "10", "X-C": "3"}, "sensitive": []}));
    app.stop().await;
}

#[tokio::test]
async fn event_type_put_upserts_and_patch_edits() {
    let app = TestApp::start().await;
    let path = "/api/v1/event-type/order.paid";
    // The path names it (Svix's SDKs send no name); a different name in the body is refused.
    let (status, refused) =
        app.request(Method::PUT, path, Some(json!({"name": "other.name", "description": "v1"}))).await;
    assert_eq!((status.as_u16(), &refused["detail"][0]["loc"]), (422, &json!(["body", "name"])));
    let (status, created) = app.request(Method::PUT, path, Some(json!({"description": "v1"}))).await;
    assert_eq!((status.as_u16(), created["name"].as_str()), (201, Some("order.paid")), "the path names it");
    let (status, _) = app.request(Method::PUT, path, Some(json!({"name": "order.paid", "description": "v2"}))).await;
    assert_eq!(status, 200);
    let (_, patched) = app.request(Method::PATCH, path, Some(json!({"deprecated": true, "groupName": "orders"}))).await;
    assert_eq!(
        (patched["description"].as_str(), &patched["deprecated"], patched["groupName"].as_str()),
        (Some("v2"), &json!(true), Some("orders"))
    );
    let (status, _) = app.request(Method::PATCH, "/api/v1/event-type/missing", Some(json!({"deprecated": true}))).await;
    assert_eq!(status, 404);
    // The older single-flag form is read and written; expunge deletes instead of archiving.
    let (_, flagged) = app.request(Method::PATCH, path, Some(json!({"featureFlag": "beta"}))).await;
    assert_eq!((&flagged["featureFlags"], &flagged["featureFlag"]), (&json!(["beta"]), &json!("beta")));
    assert_eq!(app.request(Method::DELETE, path, None).await.0, 204);
    assert_eq!(app.get(path).await.1["archived"], json!(true), "archived, still readable");
    assert_eq!(app.request(Method::DELETE, &format!("{path}?expunge=true"), None).await.0, 204);
    assert_eq!(app.get(path).await.0, 404, "expunged");
    app.stop().await;
}

#[tokio::test]
async fn application_put_creates_by_uid_then_updates() {
    let app = TestApp::start().await;
    let (status, created) = app.request(Method::PUT, "/api/v1/app/customer-7", Some(json!({"name": "Seven"}))).await;
    assert_eq!((status.as_u16(), created["uid"].as_str()), (201, Some("customer-7")));
    let (status, updated) = app
        .request(
            Method::PUT,
            "/api/v1/app/customer-7",
            Some(json!({"name": "Seven", "uid": "customer-7", "throttleRate": 3})),
        )
        .await;
    assert_eq!((status.as_u16(), &updated["id"], &updated["throttleRate"]), (200, &created["id"], &json!(3)));
    assert_eq!(
        app.request(Method::PUT, "/api/v1/app/app_00000000000000000000000000", Some(json!({"name": "x"}))).await.0,
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn expunged_content_and_attempts_with_their_message() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": receiver.url})).await;
    let msg = id(&app.send(&app_id, "a", json!({"secret": "s"})).await);
    receiver.wait_for(1).await;
    let attempts = app
        .get_until(&format!("/api/v1/app/{app_id}/attempt/endpoint/{}?with_msg=true", id(&endpoint)), |v| {
            v["data"][0]["msg"]["payload"] == json!({"secret": "s"})
        })
        .await;
    assert_eq!(attempts["data"][0]["msg"]["id"], msg.as_str());
    let (status, _) = app.request(Method::DELETE, &format!("/api/v1/app/{app_id}/msg/{msg}/content"), None).await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&format!("/api/v1/app/{app_id}/msg/{msg}")).await.1["payload"], json!({"expired": true}));
    app.stop().await;
}
