//! Every route in the served OpenAPI document, walked as an outsider: without a token, and with
//! a token scoped to another application.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;

/// Routes that need no token.
const PUBLIC: &[&str] = &["/api/v1/health"];

fn operations(doc: &Value) -> Vec<(Method, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.push((method.to_uppercase().parse().unwrap(), path.clone()));
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
