//! The binary's JSON logs: one JSON object per line, and every line written while handling a
//! request carries that request's id (the caller's, or a new one echoed in `x-request-id`).

use std::io::Read;
use std::process::Stdio;

use serde_json::Value;
use support::Serving;

#[allow(dead_code)]
mod support;

const TOKEN: &str = "logs-test-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_json_and_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Serving::start(&support::sqlite_url(dir.path()), TOKEN, |command| {
        command.env("HOOKWIRE_LOG", "info").env("HOOKWIRE_LOG_FORMAT", "json").stderr(Stdio::piped());
    });
    let url = server.url.clone();

    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let given = client.get(format!("{url}/api/v1/health")).header("x-request-id", "caller-id-1").send().await.unwrap();
    assert_eq!(given.headers()["x-request-id"], "caller-id-1", "a plain caller id is kept and echoed");
    let missing = client.get(format!("{url}/api/v1/app/app_unknown")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let generated = missing.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");

    server.signal("TERM");
    assert!(server.process.0.wait().unwrap().success());
    let mut stderr = String::new();
    server.process.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();

    let lines: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let finished = |id: &str| {
        lines
            .iter()
            .find(|l| l["message"] == "request finished" && l["span"]["request_id"] == id)
            .unwrap_or_else(|| panic!("no finished line for {id} in:\n{stderr}"))
            .clone()
    };
    let health = finished("caller-id-1");
    assert_eq!((health["level"].as_str(), health["status"].as_u64()), (Some("INFO"), Some(204)));
    assert_eq!(
        (health["span"]["method"].as_str(), health["span"]["path"].as_str()),
        (Some("GET"), Some("/api/v1/health"))
    );
    assert!(health["latency_ms"].is_u64() && health["timestamp"].is_string(), "{health}");
    let app = finished(&generated);
    assert_eq!(app["span"]["path"], "/api/v1/app/{app_id}", "the route template, not the raw path");
    assert_eq!(app["status"], 404);
}

/// An `operational_app` naming no application is said at start (its events would be dropped),
/// not left to be found out when an endpoint is disabled and nobody hears of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operational_app_that_does_not_exist_is_warned_about_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Serving::start(&support::sqlite_url(dir.path()), TOKEN, |command| {
        command.env("HOOKWIRE_LOG", "warn").env("HOOKWIRE_OPERATIONAL_APP", "no-such-app").stderr(Stdio::piped());
    });
    server.signal("TERM");
    assert!(server.process.0.wait().unwrap().success());
    let mut stderr = String::new();
    server.process.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("operational_app names no application"), "{stderr}");
    assert!(stderr.contains("no-such-app"), "{stderr}");
}
