//! The binary's JSON logs: one JSON object per line, and every line written while handling a
//! request carries that request's id (the caller's, or a new one echoed in `x-request-id`).

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use serde_json::Value;

const TOKEN: &str = "logs-test-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_json_and_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookwire"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("hookwire.db").display()))
        .env("HOOKWIRE_ADMIN_TOKEN", TOKEN)
        .env("HOOKWIRE_LOG", "info")
        .env("HOOKWIRE_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
    let url = first.trim().strip_prefix("Hookwire listening on ").expect("listening line").to_owned();

    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let given = client.get(format!("{url}/api/v1/health")).header("x-request-id", "caller-id-1").send().await.unwrap();
    assert_eq!(given.headers()["x-request-id"], "caller-id-1", "a plain caller id is kept and echoed");
    let missing = client.get(format!("{url}/api/v1/app/app_unknown")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let generated = missing.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();

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
