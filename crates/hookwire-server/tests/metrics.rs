//! `/metrics` and request ids, end to end: real deliveries to a real receiver show up in the
//! exposition, queue gauges follow the store, endpoint labels stay capped, the route is
//! protected, and every response carries an `x-request-id`.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::receiver::{Receiver, Reply};
use support::{ADMIN_TOKEN, TestApp, sample};

fn endpoint_series(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("hookwire_endpoint_deliveries_total{")).collect()
}

#[tokio::test]
async fn deliveries_appear_by_outcome_with_durations_lag_and_endpoint() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    let endpoint = app.create_endpoint(&app_id, json!({"url": receiver.url})).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    for n in 0..3 {
        app.send(&app_id, "user.created", json!({"n": n})).await;
    }
    let text = app.scrape_until("hookwire_deliveries_total{outcome=\"success\"}", 3.0).await;

    for (series, value) in [
        ("hookwire_messages_accepted_total", 3.0),
        ("hookwire_accepts_held_total", 0.0),
        ("hookwire_deliveries_total{outcome=\"status\"}", 0.0),
        ("hookwire_deliveries_failed_total", 0.0),
        ("hookwire_attempt_duration_seconds_bucket{le=\"+Inf\"}", 3.0),
        ("hookwire_attempt_duration_seconds_bucket{le=\"30\"}", 3.0),
        ("hookwire_attempt_duration_seconds_count", 3.0),
        ("hookwire_delivery_lag_seconds_count", 3.0),
        ("hookwire_deliveries_in_flight", 0.0),
        ("hookwire_queue_scheduled", 0.0),
        ("hookwire_endpoints_circuit_open", 0.0),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    let labelled = format!("hookwire_endpoint_deliveries_total{{endpoint=\"{endpoint_id}\",outcome=\"success\"}}");
    assert_eq!(sample(&text, &labelled), Some(3.0), "{text}");
    let lag = format!("hookwire_endpoint_lag_seconds_count{{endpoint=\"{endpoint_id}\"}}");
    assert_eq!(sample(&text, &lag), Some(3.0));
    assert_eq!(sample(&text, "hookwire_endpoint_deliveries_total{endpoint=\"other\",outcome=\"success\"}"), Some(0.0));

    // Every sample belongs to a family announced with HELP and TYPE.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap();
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        let typed =
            |family: &str| text.contains(&format!("# TYPE {family} ")) && text.contains(&format!("# HELP {family} "));
        assert!(typed(name) || typed(family), "{name} has no HELP/TYPE");
    }
    app.stop().await;
}

#[tokio::test]
async fn queue_gauges_follow_in_flight_scheduled_and_parked_deliveries() {
    // Shutdown does not wait for the attempt the receiver holds open.
    let app = TestApp::start_with(|config| config.shutdown_grace_ms = 100).await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    app.create_endpoint(&app_id, json!({"url": format!("{}/fails", receiver.url), "retryPolicy": {"schedule": [3600]}, "filterTypes": ["fails"]})).await;
    app.create_endpoint(&app_id, json!({"url": format!("{}/slow", receiver.url), "filterTypes": ["slow"]})).await;
    receiver.script([Reply::status(500), Reply { status: 200, delay_ms: 60_000, ..Reply::default() }]);

    app.send(&app_id, "fails", json!({})).await;
    let text = app.scrape_until("hookwire_queue_scheduled", 1.0).await;
    assert_eq!(sample(&text, "hookwire_deliveries_total{outcome=\"status\"}"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "hookwire_queue_due"), Some(0.0));

    app.send(&app_id, "slow", json!({})).await;
    receiver.wait_for(2).await; // the second attempt is now held open by the receiver
    let text = app.scrape_until("hookwire_deliveries_in_flight", 1.0).await;
    assert_eq!(sample(&text, "hookwire_queue_due"), Some(1.0), "due until its attempt is recorded: {text}");
    assert_eq!(sample(&text, "hookwire_queue_scheduled"), Some(1.0));
    assert_eq!(sample(&text, "hookwire_queue_parked"), Some(0.0));
    app.stop().await;
}

#[tokio::test]
async fn endpoint_labels_are_capped_and_the_rest_count_as_other() {
    let app = TestApp::start_with(|config| config.metrics_endpoint_labels_max = 2).await;
    let receiver = Receiver::start().await;
    let app_id = app.create_app().await;
    for n in 0..5 {
        app.create_endpoint(&app_id, json!({"url": format!("{}/{n}", receiver.url)})).await;
    }
    app.send(&app_id, "a", json!({})).await;
    let text = app.scrape_until("hookwire_deliveries_total{outcome=\"success\"}", 5.0).await;
    let series = endpoint_series(&text);
    // Two endpoints of their own and "other", each with a success and a failure series.
    assert_eq!(series.len(), 6, "{series:#?}");
    let labelled = series.iter().filter(|l| l.contains("endpoint=\"ep_") && l.contains("\"success\"}")).count();
    assert_eq!(labelled, 2);
    assert_eq!(sample(&text, "hookwire_endpoint_deliveries_total{endpoint=\"other\",outcome=\"success\"}"), Some(3.0));
    assert_eq!(sample(&text, "hookwire_endpoint_lag_seconds_count{endpoint=\"other\"}"), Some(3.0));
    app.stop().await;
}

#[tokio::test]
async fn metrics_need_the_admin_token_unless_public() {
    let app = TestApp::start().await;
    let app_id = app.create_app().await;
    let portal = app.post_ok(&format!("/api/v1/auth/app-portal-access/{app_id}"), json!({}), 200).await;
    let app_token = portal["token"].as_str().unwrap();
    let url = format!("{}/metrics", app.url);
    let anonymous = app.client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let scoped = app.client.get(&url).bearer_auth(app_token).send().await.unwrap();
    assert_eq!(scoped.status(), StatusCode::FORBIDDEN, "an application token must not see other endpoints' ids");
    assert!(app.scrape().await.contains("# TYPE hookwire_deliveries_total counter"));
    app.stop().await;

    let public = TestApp::start_with(|config| config.metrics_public = true).await;
    let anonymous = public.client.get(format!("{}/metrics", public.url)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::OK);
    public.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_plain_callers_id_is_kept() {
    let app = TestApp::start().await;
    let id_of = |response: &reqwest::Response| response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let health = format!("{}/api/v1/health", app.url);

    let kept = app.client.get(&health).header("x-request-id", "req-42.a:b_c").send().await.unwrap();
    assert_eq!(id_of(&kept), "req-42.a:b_c");
    let mut generated = Vec::new();
    for request in [
        app.client.get(&health),
        app.client.get(&health).header("x-request-id", "has spaces and \"quotes\""),
        app.client.get(&health).header("x-request-id", "x".repeat(129)),
        app.client.get(format!("{}/api/v1/app", app.url)), // 401
        app.client.get(format!("{}/no/such/route", app.url)).bearer_auth(ADMIN_TOKEN), // 404
    ] {
        let response = request.send().await.unwrap();
        let id = id_of(&response);
        assert!(uuid_v7(&id), "{} answered with request id {id:?}", response.url());
        generated.push(id);
    }
    generated.dedup();
    assert_eq!(generated.len(), 5, "each request gets its own id");
    app.stop().await;
}

fn uuid_v7(text: &str) -> bool {
    text.len() == 36 && text.as_bytes()[14] == b'7' && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[tokio::test]
async fn the_grafana_dashboard_queries_only_metrics_hookwire_exports() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana-dashboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10, "a panel per question an operator asks");
    let app = TestApp::start().await;
    let text = app.scrape().await;
    let families: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
    let mut checked = 0;
    for expr in panels.iter().flat_map(|p| p["targets"].as_array().unwrap()).map(|t| t["expr"].as_str().unwrap()) {
        for (start, _) in expr.match_indices("hookwire_") {
            let name: String =
                expr[start..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect::<String>();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix).filter(|base| families.contains(base)))
                .unwrap_or(&name);
            assert!(families.contains(&family), "{name} (in {expr}) is not exported");
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} metric references checked");
    app.stop().await;
}
