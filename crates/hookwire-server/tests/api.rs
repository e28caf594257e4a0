//! The API contract: errors, auth scopes, pagination, idempotency, filters, OpenAPI.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;

#[tokio::test]
async fn errors_are_code_and_detail_with_the_right_status() {
    let app = TestApp::start().await;
    let (status, body) = app.request_as(None, Method::GET, "/api/v1/app", None).await;
    assert_eq!((status.as_u16(), body["code"].as_str()), (401, Some("authentication_failed")));
    let (status, _) = app.request_as(Some("wrong"), Method::GET, "/api/v1/app", None).await;
    assert_eq!(status, 401);
    let (status, body) = app.get("/api/v1/app/app_00000000000000000000000000").await;
    assert_eq!((status.as_u16(), body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = app.post("/api/v1/app", json!({"name": 5})).await;
    assert_eq!((status.as_u16(), body["code"].as_str()), (422, Some("validation_error")));
    assert!(body["detail"][0]["msg"].as_str().unwrap().contains("name"), "{body}");
    let (status, body) = app.post("/api/v1/app", json!({"name": "x", "uid": "bad uid!"})).await;
    assert_eq!((status.as_u16(), &body["detail"][0]["loc"]), (422, &json!(["body", "uid"])));
    let raw = app
        .client
        .post(format!("{}/api/v1/app", app.url))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let big = "x".repeat(2 * 1024 * 1024);
    let app_id = app.create_app().await;
    let (status, body) =
        app.post(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": "a", "payload": {"big": big}})).await;
    assert_eq!((status.as_u16(), body["code"].as_str()), (413, Some("payload_too_large")));
    let (status, body) = app.get("/api/v1/no-such-route").await;
    assert_eq!((status.as_u16(), body["code"].as_str()), (404, Some("not_found")));
    app.stop().await;
}

#[tokio::test]
async fn applications_by_uid_get_if_exists_and_trailing_slashes() {
    let app = TestApp::start().await;
    let created = app.post_ok("/api/v1/app/", json!({"name": "Acme", "uid": "acme"}), 201).await;
    let again = app.post_ok("/api/v1/app?get_if_exists=true", json!({"name": "Acme", "uid": "acme"}), 200).await;
    assert_eq!(created["id"], again["id"]);
    let (status, _) = app.post("/api/v1/app", json!({"name": "Acme", "uid": "acme"})).await;
    assert_eq!(status, 409);
    let by_uid = app.get("/api/v1/app/acme/").await.1;
    assert_eq!(by_uid["id"], created["id"]);
    let (status, patched) = app
        .request(Method::PATCH, "/api/v1/app/acme", Some(json!({"name": "Acme 2", "metadata": {"tier": "gold"}})))
        .await;
    assert_eq!(
        (status.as_u16(), patched["name"].as_str(), patched["uid"].as_str()),
        (200, Some("Acme 2"), Some("acme"))
    );
    let (status, _) = app.request(Method::DELETE, "/api/v1/app/acme", None).await;
    assert_eq!(status, 204);
    assert_eq!(app.get("/api/v1/app/acme").await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn lists_page_with_limit_iterator_and_done() {
    let app = TestApp::start().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.create_app().await);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/app?limit=2".to_owned();
    loop {
        let page = app.get(&path).await.1;
        seen.extend(page["data"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        if page["done"].as_bool().unwrap() {
            break;
        }
        path = format!("/api/v1/app?limit=2&iterator={}", page["iterator"].as_str().unwrap());
    }
    assert_eq!(seen, ids);
    assert_eq!(app.get("/api/v1/app?limit=0").await.0, 422);
    assert_eq!(app.get("/api/v1/app?limit=251").await.0, 422);
    // An iterator that cannot be one is refused, not read as "from the start".
    let first = &ids[0];
    for path in [
        "/api/v1/app?iterator=%00%ff".to_owned(),
        format!("/api/v1/app/{first}/msg?iterator=ep_01m8x3b89wevjt6x7x481bnnws"),
        format!("/api/v1/app/{first}/endpoint?iterator=garbage"),
        "/api/v1/event-type?iterator=a%20b".to_owned(),
    ] {
        let (status, body) = app.get(&path).await;
        assert_eq!(
            (status.as_u16(), &body["detail"][0]["loc"]),
            (422, &json!(["query", "iterator"])),
            "{path}: {body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn idempotency_key_and_event_id_deduplicate_messages() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let send = |key: &'static str, body: serde_json::Value| {
        let request = app
            .client
            .post(format!("{}/api/v1/app/{app_id}/msg", app.url))
            .bearer_auth(&app.token)
            .header("idempotency-key", key)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (first_status, first) = send("k1", json!({"eventType": "a", "payload": {"n": 1}})).await;
    let (second_status, second) = send("k1", json!({"eventType": "a", "payload": {"n": 2}})).await;
    assert_eq!((first_status, second_status), (202, 202));
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["payload"], json!({"n": 1}));
    let listed = app.get(&format!("/api/v1/app/{app_id}/msg")).await.1;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    app.post_ok(
        &format!("/api/v1/app/{app_id}/msg"),
        json!({"eventType": "a", "eventId": "evt-1", "payload": {}}),
        202,
    )
    .await;
    let (status, body) = app
        .post(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": "a", "eventId": "evt-1", "payload": {}}))
        .await;
    assert_eq!((status.as_u16(), body["code"].as_str()), (409, Some("conflict")));
    // Svix finds a message by its id or its eventId, and its attempts too.
    let by_event = app.get(&format!("/api/v1/app/{app_id}/msg/evt-1")).await.1;
    assert_eq!(by_event["eventId"], "evt-1");
    assert_eq!(app.get(&format!("/api/v1/app/{app_id}/attempt/msg/evt-1")).await.0, 200);
    assert_eq!(app.get(&format!("/api/v1/app/{app_id}/msg/evt-2")).await.0, 404);
    app.stop().await;
}

#[tokio::test]
async fn message_list_filters_by_type_channel_and_time() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let path = format!("/api/v1/app/{app_id}/msg");
    // Times are milliseconds: a pause between sends keeps them apart for the before/after checks.
    let tick = || tokio::time::sleep(std::time::Duration::from_millis(3));
    app.post_ok(&path, json!({"eventType": "user.created", "payload": {}, "channels": ["eu"]}), 202).await;
    tick().await;
    let middle = app.post_ok(&path, json!({"eventType": "invoice.paid", "payload": {}}), 202).await;
    tick().await;
    app.post_ok(&path, json!({"eventType": "user.deleted", "payload": {}, "channels": ["us"]}), 202).await;
    let types = |body: serde_json::Value| {
        body["data"].as_array().unwrap().iter().map(|m| m["eventType"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(types(app.get(&path).await.1), ["user.deleted", "invoice.paid", "user.created"]);
    assert_eq!(
        types(app.get(&format!("{path}?event_types=user.created,user.deleted")).await.1),
        ["user.deleted", "user.created"]
    );
    assert_eq!(
        types(app.get(&format!("{path}?event_types=user.created&event_types=invoice.paid")).await.1),
        ["invoice.paid", "user.created"]
    );
    // Every list spelling filters (`[0]` was let through and then dropped: a 200 with every type).
    assert_eq!(
        types(app.get(&format!("{path}?event_types%5B0%5D=user.created&event_types%5B1%5D=invoice.paid")).await.1),
        ["invoice.paid", "user.created"]
    );
    assert_eq!(types(app.get(&format!("{path}?event_types%5B%5D=user.deleted")).await.1), ["user.deleted"]);
    assert_eq!(types(app.get(&format!("{path}?channel=eu")).await.1), ["user.created"]);
    // A one-value filter given twice, or as a list, is refused by name (only one would act).
    for query in ["channel=eu&channel=us", "channel%5B%5D=eu", "channel%5B0%5D=eu"] {
        let (status, error) = app.get(&format!("{path}?{query}")).await;
        assert_eq!((status.as_u16(), &error["detail"][0]["loc"]), (422, &json!(["query", "channel"])), "{query}");
    }
    let at = middle["timestamp"].as_str().unwrap().replace('+', "%2B");
    let before = types(app.get(&format!("{path}?before={at}")).await.1);
    let after = types(app.get(&format!("{path}?after={at}")).await.1);
    assert!(before.iter().chain(&after).all(|t| t != "invoice.paid"), "{before:?} {after:?}");
    assert_eq!(before.len() + after.len(), 2);
    assert_eq!(app.get(&format!("{path}?before=yesterday")).await.0, 422);
    let without = app.get(&format!("{path}?with_content=false")).await.1;
    assert_eq!(without["data"][0]["payload"], json!({}));
    app.stop().await;
}

#[tokio::test]
async fn application_tokens_see_only_their_application() {
    let app = TestApp::start().await;
    let own = app.create_app().await;
    let other = app.create_app().await;
    let access = app.post_ok(&format!("/api/v1/auth/app-portal-access/{own}"), json!({}), 200).await;
    let token = access["token"].as_str().unwrap();
    assert!(access["url"].as_str().unwrap().contains(token));
    let as_app = |method: Method, path: String, body: Option<serde_json::Value>| {
        let app = &app;
        async move { app.request_as(Some(token), method, &path, body).await }
    };
    assert_eq!(as_app(Method::GET, format!("/api/v1/app/{own}"), None).await.0, 200);
    assert_eq!(
        as_app(Method::POST, format!("/api/v1/app/{own}/endpoint"), Some(json!({"url": "https://example.com/hook"})))
            .await
            .0,
        201
    );
    assert_eq!(
        as_app(Method::POST, format!("/api/v1/app/{own}/msg"), Some(json!({"eventType": "a", "payload": {}}))).await.0,
        202
    );
    for (method, path) in [
        (Method::GET, format!("/api/v1/app/{other}")),
        (Method::GET, format!("/api/v1/app/{other}/endpoint")),
        (Method::GET, format!("/api/v1/app/{other}/msg")),
        (Method::POST, format!("/api/v1/app/{other}/msg")),
    ] {
        let body = (method == Method::POST).then(|| json!({"eventType": "a", "payload": {}}));
        assert_eq!(as_app(method, path.clone(), body).await.0, 404, "{path}");
    }
    assert_eq!(as_app(Method::GET, "/api/v1/app".into(), None).await.0, 403);
    assert_eq!(
        as_app(Method::POST, "/api/v1/event-type".into(), Some(json!({"name": "x", "description": ""}))).await.0,
        403
    );
    assert_eq!(as_app(Method::POST, format!("/api/v1/auth/app-portal-access/{own}"), Some(json!({}))).await.0, 403);
    app.stop().await;
}

#[tokio::test]
async fn event_type_catalog_and_strict_mode() {
    let app = TestApp::start_with(|config| config.strict_event_types = true).await;
    let schema = json!({"1": {"type": "object", "examples": [{"weight": 80.5}]}});
    app.post_ok(
        "/api/v1/event-type",
        json!({"name": "reading.weight", "description": "A weight reading", "schemas": schema}),
        201,
    )
    .await;
    let listed = app.get("/api/v1/event-type").await.1;
    assert_eq!(listed["data"][0]["description"], "A weight reading");
    let app_id = app.create_app().await;
    let (status, body) =
        app.post(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": "unknown.type", "payload": {}})).await;
    assert_eq!((status.as_u16(), &body["detail"][0]["loc"]), (422, &json!(["body", "eventType"])));
    let (status, _) = app
        .post(&format!("/api/v1/app/{app_id}/endpoint"), json!({"url": "https://example.com", "eventTypes": ["nope"]}))
        .await;
    assert_eq!(status, 422);
    app.create_endpoint(&app_id, json!({"url": "https://example.com", "eventTypes": ["reading.*"]})).await;
    let (status, _) = app.request(Method::DELETE, "/api/v1/event-type/reading.weight", None).await;
    assert_eq!(status, 204);
    assert_eq!(app.get("/api/v1/event-type").await.1["data"], json!([]));
    assert_eq!(app.get("/api/v1/event-type?include_archived=true").await.1["data"][0]["archived"], true);
    app.stop().await;
}

#[tokio::test]
async fn endpoint_headers_are_write_only_when_sensitive() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let endpoint = app
        .create_endpoint(
            &app_id,
            json!({"url": "https://example.com", "headers": {"X-Impler-Auth": "s3cret", "X-Plain": "v"}}),
        )
        .await;
    let path = format!("/api/v1/app/{app_id}/endpoint/{}/headers", endpoint["id"].as_str().unwrap());
    let headers = app.get(&path).await.1;
    assert_eq!(headers, json!({"headers": {"X-Plain": "v"}, "sensitive": ["X-Impler-Auth"]}));
    let (status, body) = app.request(Method::PUT, &path, Some(json!({"headers": {"webhook-id": "x"}}))).await;
    assert_eq!(status, 422, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_covers_every_route_without_a_token() {
    let app = TestApp::start().await;
    let (status, doc) = app.request_as(None, Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/health",
        "/api/v1/app/{app_id}",
        "/api/v1/app/{app_id}/endpoint/{endpoint_id}/secret/rotate",
        "/api/v1/app/{app_id}/msg",
        "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}",
        "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend",
        "/api/v1/event-type/{event_type_name}",
        "/api/v1/auth/app-portal-access/{app_id}",
    ] {
        assert!(paths.contains_key(path), "OpenAPI lacks {path}");
    }
    assert!(doc["components"]["schemas"]["EndpointIn"]["properties"]["retryPolicy"].is_object());
    assert_eq!(app.request_as(None, Method::GET, "/api/v1/health", None).await.0, 204);
    app.stop().await;
}

#[tokio::test]
async fn hostile_input_gets_a_4xx_naming_the_problem() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let (status, body) = app
        .post(&format!("/api/v1/app/{app_id}/endpoint"), json!({"url": "https://example.com", "colour": "red"}))
        .await;
    assert_eq!((status.as_u16(), &body["detail"][0]["loc"]), (422, &json!(["body", "colour"])), "{body}");
    let (status, body) =
        app.post(&format!("/api/v1/app/{app_id}/endpoint"), json!({"url": ["not", "a", "string"]})).await;
    assert_eq!((status.as_u16(), &body["detail"][0]["loc"]), (422, &json!(["body", "url"])), "{body}");
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let raw = format!(r#"{{"eventType":"a","payload":{{"deep":{deep}}}}}"#);
    let response = app
        .client
        .post(format!("{}/api/v1/app/{app_id}/msg", app.url))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422, "nesting beyond the payload's limit is refused, not a crash");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"][0]["loc"], json!(["body", "payload"]), "{body}");
    let many_channels: Vec<String> = (0..11).map(|n| format!("c{n}")).collect();
    let (status, _) = app
        .post(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": "a", "payload": {}, "channels": many_channels}))
        .await;
    assert_eq!(status, 422);
    let headers: serde_json::Map<String, serde_json::Value> =
        (0..33).map(|n| (format!("x-h{n}"), json!("v"))).collect();
    let (status, _) = app
        .post(&format!("/api/v1/app/{app_id}/endpoint"), json!({"url": "https://example.com", "headers": headers}))
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .post(
            &format!("/api/v1/app/{app_id}/msg"),
            json!({"eventType": "a", "payload": {}, "payloadRetentionPeriod": 0}),
        )
        .await;
    assert_eq!(status, 422);
    // Svix SDK fields with nothing to act on are accepted.
    app.post_ok(
        &format!("/api/v1/app/{app_id}/msg"),
        json!({"eventType": "a", "payload": {}, "transformationsParams": {}, "payloadRetentionHours": 2}),
        202,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn deliver_at_schedules_the_first_attempt() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": "https://example.com/later"})).await;
    let later = "2999-01-01T00:00:00Z";
    let (status, _) = app
        .post(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": "a", "payload": {}, "deliverAt": later}))
        .await;
    assert_eq!(status, 422, "more than 90 days ahead");
    let at = hookwire_core::time_fmt::format_millis(
        hookwire_core::time_fmt::to_millis(time::OffsetDateTime::now_utc()) + 3_600_000,
    );
    let msg = app
        .post_ok(&format!("/api/v1/app/{app_id}/msg"), json!({"eventType": "a", "payload": {}, "deliverAt": at}), 202)
        .await;
    let destinations = app.get(&format!("/api/v1/app/{app_id}/msg/{}/endpoint", msg["id"].as_str().unwrap())).await.1;
    assert_eq!(
        (destinations["data"][0]["statusText"].as_str(), destinations["data"][0]["nextAttempt"].as_str()),
        (Some("pending"), Some(at.as_str()))
    );
    assert_eq!(destinations["data"][0]["attempts"], 0);
    app.stop().await;
}

/// Values that look plausible and must still be refused: each a 422 naming its field.
#[tokio::test]
async fn odd_values_are_refused_naming_the_field() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let endpoint = |url: &str| json!({"url": url});
    let endpoint_cases = [
        (endpoint("http://example.com:0/hook"), vec!["body", "url"]),
        (endpoint("http:///x"), vec!["body", "url"]),
        (endpoint("http:/x"), vec!["body", "url"]),
        (endpoint("http://exam\nple.com/"), vec!["body", "url"]),
        (endpoint("http://example.com/a path"), vec!["body", "url"]),
        (endpoint("http://a..b.example.com/"), vec!["body", "url"]),
        (
            json!({"url": "https://example.com/", "headers": {"Expect": "100-continue"}}),
            vec!["body", "headers", "Expect"],
        ),
        (json!({"url": "https://example.com/", "headers": {"TE": "trailers"}}), vec!["body", "headers", "TE"]),
        (json!({"url": "https://example.com/", "headers": {"Upgrade": "h2c"}}), vec!["body", "headers", "Upgrade"]),
        (
            json!({"url": "https://example.com/", "headers": {"Proxy-Authorization": "Basic eA=="}}),
            vec!["body", "headers", "Proxy-Authorization"],
        ),
    ];
    for (body, loc) in endpoint_cases {
        let (status, answer) = app.post(&format!("/api/v1/app/{app_id}/endpoint"), body.clone()).await;
        assert_eq!((status.as_u16(), &answer["detail"][0]["loc"]), (422, &json!(loc)), "{body}: {answer}");
    }
    let message_cases = [
        (r#"{"eventType": "a", "payload": {"n": 1e400}}"#, vec!["body", "payload"]),
        (r#"{"eventType": "a", "payload": {"s": "\ud800"}}"#, vec!["body", "payload"]),
        (r#"{"eventType": "a", "payload": {}, "channels": ["eu\u0007"]}"#, vec!["body", "channels"]),
        (r#"{"eventType": "a", "payload": {}, "tags": ["a", "b", "c", "d", "e", "f"]}"#, vec!["body", "tags"]),
        (r#"{"eventType": "a", "payload": {}, "tags": ["has space"]}"#, vec!["body", "tags"]),
    ];
    for (raw, loc) in message_cases {
        let response = app
            .client
            .post(format!("{}/api/v1/app/{app_id}/msg", app.url))
            .bearer_auth(&app.token)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert_eq!((status, &answer["detail"][0]["loc"]), (422, &json!(loc)), "{raw}: {answer}");
    }
    app.stop().await;
}

#[tokio::test]
async fn svix_deprecated_paths_answer_like_the_current_ones() {
    let app = TestApp::start().await;
    let receiver = support::receiver::Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": receiver.url})).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let other = app.create_endpoint(&app_id, json!({"url": format!("{}/other", receiver.url)})).await;
    let msg_id = app.send(&app_id, "a", json!({})).await["id"].as_str().unwrap().to_owned();
    receiver.wait_for(2).await;
    let current = app
        .get_until(&format!("/api/v1/app/{app_id}/attempt/msg/{msg_id}"), |l| l["data"].as_array().unwrap().len() == 2)
        .await;
    let (status, old) = app.get(&format!("/api/v1/app/{app_id}/msg/{msg_id}/attempt")).await;
    assert_eq!((status.as_u16(), &old["data"]), (200, &current["data"]));
    let (status, one) = app.get(&format!("/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/attempt")).await;
    assert_eq!(status, 200, "{one}");
    let endpoints: Vec<&str> =
        one["data"].as_array().unwrap().iter().map(|a| a["endpointId"].as_str().unwrap()).collect();
    assert_eq!(endpoints, vec![endpoint_id], "only that endpoint's attempts, not {}", other["id"]);
    let (status, access) = app.request(Method::POST, &format!("/api/v1/auth/dashboard-access/{app_id}"), None).await;
    assert_eq!(status, 200, "{access}");
    assert!(
        access["token"].as_str().unwrap().starts_with("hwp_") && access["url"].as_str().unwrap().contains("#token=")
    );
    let (status, _) = app.request_as(None, Method::GET, "/api/v1/health/ping", None).await;
    assert_eq!(status, 204);
    let (_, document) = app.get("/api/v1/openapi.json").await;
    assert_eq!(document["paths"]["/api/v1/app/{app_id}/msg/{msg_id}/attempt"]["get"]["deprecated"], true);
    app.stop().await;
}

/// `status` on the message list keeps the messages with a delivery in that status (Hookwire),
/// with the other filters and paging; a status that does not exist is a 422 naming it.
#[tokio::test]
async fn messages_are_listed_by_the_status_of_their_deliveries() {
    use support::receiver::{Receiver, Reply};
    let app = TestApp::start().await;
    let ok = Receiver::start().await;
    let down = Receiver::start().await;
    down.script([Reply::status(503)]);
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": ok.url})).await;
    app.create_endpoint(
        &app_id,
        json!({"url": down.url, "filterTypes": ["order.*"], "retryPolicy": {"schedule": [3600]}}),
    )
    .await;
    let a = app.send(&app_id, "order.paid", json!({})).await["id"].as_str().unwrap().to_owned();
    let b = app.send(&app_id, "user.created", json!({})).await["id"].as_str().unwrap().to_owned();
    ok.wait_for(2).await;
    down.wait_for(1).await;
    let ids = |status: &str| {
        let path = format!("/api/v1/app/{app_id}/msg?status={status}");
        let app = &app;
        async move {
            let (code, body) = app.get(&path).await;
            assert_eq!(code, 200, "{path}: {body}");
            body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    // The failed attempt leaves its delivery pending (a retry in an hour).
    app.get_until(&format!("/api/v1/app/{app_id}/msg?status=1"), |v| v["data"].as_array().unwrap().len() == 1).await;
    assert_eq!(ids("1").await, vec![a.clone()]);
    assert_eq!(ids("0").await, vec![b.clone(), a.clone()], "both have a delivery that succeeded");
    assert!(ids("2").await.is_empty());
    assert_eq!(ids("1&event_types=user.created").await, Vec::<String>::new(), "with the other filters");
    let (code, body) = app.get(&format!("/api/v1/app/{app_id}/msg?status=9")).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["query", "status"]));
    app.stop().await;
}
