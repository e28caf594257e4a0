//! The CLI as users run it: the real binary against a real `hookwire serve` child, and
//! `hookwire listen` receiving that server's deliveries. Nothing sleeps to wait for work: each
//! wait reads output or polls the API until a named deadline.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{KillOnDrop, Serving, first_line};

#[allow(dead_code)]
mod support;

const TOKEN: &str = "cli-test-token";
/// How long any wait (a line from `listen`, an attempt in the log) may take before the test fails.
const WAIT_MS: u64 = 20_000;
const POLL_MS: u64 = 50;
/// The Standard Webhooks specification's known-answer vector.
const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SPEC_TIMESTAMP: &str = "1614265330";
const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

struct Server {
    serving: Serving,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let serving = Serving::start(&support::sqlite_url(dir.path()), TOKEN, |command| {
            command.arg("--allow-private-networks");
        });
        Self { serving, _dir: dir }
    }

    /// Runs `hookwire ARGS` against this server.
    fn run(&self, args: &[&str]) -> Output {
        cli().args(args).env("HOOKWIRE_URL", &self.serving.url).env("HOOKWIRE_TOKEN", TOKEN).output().unwrap()
    }

    /// Runs a command that must succeed and returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "hookwire {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let stdout = self.ok(&args);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("hookwire {args:?}: {e}: {stdout}"))
    }

    /// Polls `args` (a `--json` list) until it holds at least `count` items.
    fn wait_for_items(&self, args: &[&str], count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS);
        loop {
            let data = self.json(args)["data"].as_array().cloned().unwrap_or_default();
            if data.len() >= count {
                return data;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {count} items from {args:?}");
            std::thread::sleep(Duration::from_millis(POLL_MS));
        }
    }

    /// Starts `hookwire listen --port 0 EXTRA...` and returns it with its URL.
    fn listen(&self, extra: &[&str]) -> Listen {
        let mut child = cli()
            .args(["listen", "--port", "0"])
            .args(extra)
            .env("HOOKWIRE_URL", &self.serving.url)
            .env("HOOKWIRE_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let child = KillOnDrop(child);
        let first = first_line(&mut stdout);
        // `Listening on URL`, or `{"listening": URL}` with --json.
        let url = match first.strip_prefix("Listening on ") {
            Some(url) => url.to_owned(),
            None => serde_json::from_str::<Value>(&first)
                .ok()
                .and_then(|v| v["listening"].as_str().map(str::to_owned))
                .unwrap_or_else(|| panic!("first line {first:?}")),
        };
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Listen { _child: child, url, lines }
    }
}

struct Listen {
    _child: KillOnDrop,
    url: String,
    lines: Receiver<String>,
}

impl Listen {
    /// The next printed line that contains `text` (earlier lines are skipped).
    fn line_with(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("listen printed no line with {text:?}"),
            }
        }
    }
}

fn cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookwire"));
    command.env("HOOKWIRE_LOG", "warn").env_remove("HOOKWIRE_WEBHOOK_SECRET");
    command
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn api_commands_print_tables_and_json() {
    let server = Server::start();
    let created = server.ok(&["app", "create", "--name", "Acme Corp", "--uid", "acme", "--metadata", "tier=gold"]);
    assert!(created.lines().any(|l| l.starts_with("uid") && l.ends_with("acme")), "{created}");
    server.ok(&["app", "create", "--name", "Beta"]);

    let table = server.ok(&["app", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header = lines[0];
    assert!(header.starts_with("ID") && header.contains("  UID") && header.contains("NAME"), "{table}");
    let name_column = header.find("NAME").unwrap();
    assert!(
        lines.iter().skip(1).all(|l| l[name_column..].starts_with("Acme Corp") || l[name_column..].starts_with("Beta"))
    );

    let listed = server.json(&["app", "list"]);
    assert_eq!(listed["done"], true);
    let uids: Vec<&Value> = listed["data"].as_array().unwrap().iter().map(|a| &a["uid"]).collect();
    assert!(uids.contains(&&Value::from("acme")), "{listed}");
    let first_page = server.json(&["app", "list", "--limit", "1"]);
    assert_eq!(first_page["done"], false);
    assert_eq!(server.json(&["app", "list", "--limit", "1", "--all"])["data"].as_array().unwrap().len(), 2);

    let listen = server.listen(&["--secret", SPEC_SECRET]);
    let endpoint =
        server.json(&["endpoint", "create", "acme", &listen.url, "--uid", "local", "--event-type", "user.*"]);
    assert_eq!(endpoint["url"], listen.url.as_str());
    server.ok(&["endpoint", "rotate-secret", "acme", "local", "--key", SPEC_SECRET, "--grace-period-seconds", "0"]);
    let endpoints = server.ok(&["endpoint", "list", "acme"]);
    assert!(endpoints.lines().nth(1).is_some_and(|l| l.contains(&listen.url) && l.contains("user.*")), "{endpoints}");
    assert_eq!(server.ok(&["endpoint", "secret", "acme", "local"]).trim(), SPEC_SECRET);

    let message =
        server.json(&["message", "create", "acme", "--event-type", "user.created", "--payload", r#"{"id": 42}"#]);
    let msg_id = message["id"].as_str().unwrap();
    assert!(server.ok(&["message", "list", "acme"]).contains(msg_id));
    listen.line_with(msg_id);

    let attempts = server.wait_for_items(&["attempt", "list", "acme", "--endpoint", "local"], 1);
    assert_eq!(attempts[0]["msgId"], msg_id);
    assert_eq!(attempts[0]["responseStatusCode"], 200);
    let table = server.ok(&["attempt", "list", "acme", "--msg", msg_id]);
    assert!(table.lines().nth(1).is_some_and(|l| l.contains("success") && l.contains(" 200 ")), "{table}");
    let stats = server.ok(&["endpoint", "stats", "acme", "local"]);
    assert!(stats.lines().any(|l| l.split_whitespace().eq(["success", "1"])), "{stats}");
}

#[test]
fn errors_exit_nonzero_with_the_server_detail() {
    let server = Server::start();
    let missing = server.run(&["app", "get", "app_nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stderr(&missing).trim(), "error: the server answered 404 not_found: application not found");
    assert!(missing.stdout.is_empty());

    let unauthorized =
        cli().args(["app", "list", "--url", &server.serving.url]).env_remove("HOOKWIRE_TOKEN").output().unwrap();
    assert_eq!(unauthorized.status.code(), Some(1));
    assert!(
        stderr(&unauthorized).contains("401") && stderr(&unauthorized).contains("--token"),
        "{}",
        stderr(&unauthorized)
    );

    server.ok(&["app", "create", "--name", "A", "--uid", "a"]);
    let invalid = server.run(&["endpoint", "create", "a", "ftp://example.com"]);
    assert_eq!(invalid.status.code(), Some(1));
    assert!(stderr(&invalid).contains("422") && stderr(&invalid).contains("body.url"), "{}", stderr(&invalid));
}

#[test]
fn listen_verifies_deliveries_and_answers_401_to_bad_signatures() {
    let server = Server::start();
    server.ok(&["app", "create", "--name", "A", "--uid", "a"]);

    // --register creates the endpoint and verifies with its secret.
    let good = server.listen(&["--register", "a", "--event-type", "order.*"]);
    let registered = good.line_with("Registered endpoint");
    let message = server.json(&[
        "message",
        "create",
        "a",
        "--event-type",
        "order.paid",
        "--payload",
        r#"{"type": "order.paid"}"#,
    ]);
    let line = good.line_with(message["id"].as_str().unwrap());
    assert!(line.contains("order.paid") && line.contains("✓ valid (v1)") && line.ends_with("→ 200"), "{line}");
    assert_eq!(good.line_with("type"), r#"{"type":"order.paid"}"#);

    // A listener with another secret refuses the delivery, and the attempt records the 401.
    let wrong = server.listen(&["--secret", SPEC_SECRET, "--json"]);
    let endpoint = server.json(&["endpoint", "create", "a", &wrong.url, "--event-type", "refund.*"]);
    let endpoint_id = endpoint["id"].as_str().unwrap();
    server.ok(&["message", "create", "a", "--event-type", "refund.made", "--payload", r#"{"type": "refund.made"}"#]);
    let line: Value = serde_json::from_str(&wrong.line_with("refund.made")).unwrap();
    assert_eq!(line["verified"], false, "{line}");
    assert_eq!(line["status"], 401);
    assert!(line["reason"].as_str().unwrap().starts_with("bad signature"), "{line}");
    let attempts = server.wait_for_items(&["attempt", "list", "a", "--endpoint", endpoint_id], 1);
    assert_eq!(attempts[0]["responseStatusCode"], 401);
    drop(good);
    assert!(registered.contains("whsec_"), "{registered}");
}

#[test]
fn listen_forwards_each_request_and_answers_with_the_apps_status() {
    let server = Server::start();
    server.ok(&["app", "create", "--name", "A", "--uid", "a"]);
    let app = server.listen(&["--secret", SPEC_SECRET]); // stands in for the developer's app
    let relay = server.listen(&["--register", "a", "--forward", &app.url]);
    relay.line_with("Registered endpoint");
    let message = server.json(&["message", "create", "a", "--event-type", "x.y"]);
    let msg_id = message["id"].as_str().unwrap();
    let relayed = relay.line_with(msg_id);
    // The relay verifies with the endpoint's secret; the app holds another one and refuses.
    assert!(relayed.contains("✓ valid (v1)") && relayed.contains("→ 401  forwarded: 401"), "{relayed}");
    assert!(app.line_with(msg_id).contains("✗ bad signature"));
}

/// `listen` talks to a server only to `--register`: a `--url` or `--token` given without it would
/// be ignored, so it is refused by name (from the environment they stay harmless).
#[test]
fn listen_refuses_server_flags_it_would_not_use() {
    for flag in ["--url", "--token"] {
        let mut child = KillOnDrop(
            cli()
                .args(["listen", "--port", "0", flag, "x"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_millis(WAIT_MS);
        let status = loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "listen {flag} without --register kept running");
            std::thread::sleep(Duration::from_millis(POLL_MS));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success() && stderr.contains(&format!("listen uses {flag} only with --register")), "{stderr}");
    }
}

#[test]
fn listen_verifies_ed25519_deliveries_with_the_public_key() {
    let server = Server::start();
    server.ok(&["app", "create", "--name", "A", "--uid", "a"]);
    let ed25519 = r#"{"signature": {"scheme": "ed25519"}}"#;
    // The endpoint points at a port nothing listens on yet; its URL changes once listen runs.
    server.ok(&["endpoint", "create", "a", "http://127.0.0.1:9", "--uid", "e", "--body", ed25519]);
    let public_key = server.ok(&["endpoint", "secret", "a", "e"]);
    assert!(public_key.starts_with("whpk_"), "{public_key}");
    let listen = server.listen(&["--secret", public_key.trim()]);
    server.ok(&["endpoint", "update", "a", "e", "--endpoint-url", &listen.url]);
    let message = server.json(&["message", "create", "a", "--event-type", "x.y"]);
    let line = listen.line_with(message["id"].as_str().unwrap());
    assert!(line.contains("✓ valid (v1a)"), "{line}");
}

#[test]
fn recover_waits_for_the_attempts_and_summarizes() {
    let server = Server::start();
    server.ok(&["app", "create", "--name", "A", "--uid", "a"]);
    let listen = server.listen(&["--secret", SPEC_SECRET]);
    let no_retries = r#"{"retryPolicy": {"maxRetries": 0, "intervalMs": 1000}}"#;
    server.ok(&["endpoint", "create", "a", &listen.url, "--uid", "e", "--body", no_retries]);
    for n in 0..3 {
        server.ok(&["message", "create", "a", "--event-type", "x.y", "--payload", &format!(r#"{{"n": {n}}}"#)]);
    }
    server.wait_for_items(&["attempt", "list", "a", "--endpoint", "e", "--status", "fail"], 3);

    // The receiver now accepts: the endpoint signs with the secret it checks.
    server.ok(&["endpoint", "rotate-secret", "a", "e", "--key", SPEC_SECRET, "--grace-period-seconds", "0"]);
    let dry = server.ok(&["endpoint", "recover", "a", "e", "--since", "1h", "--dry-run"]);
    assert_eq!(dry.trim(), "Dry run: 3 messages would be sent");
    let summary = server.ok(&["endpoint", "recover", "a", "e", "--since", "1h"]);
    assert_eq!(summary.trim(), "Recovered 3 messages of e: 3 attempted, 3 succeeded, 0 failed again");
    let again = server.json(&["endpoint", "recover", "a", "e", "--since", "1h"]);
    assert_eq!(
        (again["task"].as_str(), again["status"].as_str(), again["data"]["messagesSent"].as_u64()),
        (Some("endpoint.recover"), Some("finished"), Some(0))
    );
}

#[test]
fn replays_are_followed_to_the_end_and_listed_as_tasks() {
    let server = Server::start();
    server.ok(&["app", "create", "--name", "A", "--uid", "a"]);
    for (event_type, n) in [("x.y", 1), ("x.y", 2), ("z", 3)] {
        server.ok(&[
            "message",
            "create",
            "a",
            "--event-type",
            event_type,
            "--payload",
            &format!(r#"{{"n": {n}}}"#),
            "--tag",
            "t",
        ]);
    }
    let listen = server.listen(&["--secret", SPEC_SECRET]);
    let body = format!(r#"{{"secret": "{SPEC_SECRET}", "eventTypes": ["x.y"]}}"#);
    server.ok(&["endpoint", "create", "a", &listen.url, "--uid", "e", "--body", &body]);

    let dry = server.ok(&["endpoint", "replay-missing", "a", "e", "--since", "1h", "--dry-run"]);
    assert_eq!(dry.trim(), "Dry run: 2 messages would be sent");
    let replayed = server.ok(&["endpoint", "replay-missing", "a", "e", "--since", "1h"]);
    assert_eq!(replayed.trim(), "Replayed 2 missing messages to e");
    server.wait_for_items(&["attempt", "list", "a", "--endpoint", "e", "--status", "success"], 2);
    let bulk = server.ok(&[
        "endpoint",
        "bulk-replay",
        "a",
        "e",
        "--since",
        "1h",
        "--tag",
        "t",
        "--status",
        "success",
        "--status-code-class",
        "200",
    ]);
    assert_eq!(bulk.trim(), "Replayed 2 messages to e");
    let started = server.ok(&["endpoint", "bulk-replay", "a", "e", "--since", "1h", "--event-type", "z", "--no-wait"]);
    assert!(started.starts_with("Started task qtask_") && started.contains("endpoint.bulk-replay"), "{started}");

    let tasks = server.json(&["task", "list", "--task", "endpoint.replay"]);
    assert_eq!(tasks["data"].as_array().map(Vec::len), Some(2), "{tasks}");
    let failed = server.run(&["endpoint", "bulk-replay", "a", "e", "--since", "1h", "--status-code-class", "250"]);
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("statusCodeClass"), "{failed:?}");
}

#[test]
fn verify_accepts_a_valid_signature_and_explains_rejections() {
    let verify = |extra: &[&str]| {
        cli()
            .args(["verify", "--secret", SPEC_SECRET])
            .args(["-H", &format!("webhook-id: {SPEC_ID}"), "-H", &format!("Webhook-Timestamp: {SPEC_TIMESTAMP}")])
            .args(extra)
            .output()
            .unwrap()
    };
    let signature = format!("webhook-signature: {SPEC_SIGNATURE}");
    let cases: [(&str, Vec<&str>, i32, &str); 5] = [
        ("valid", vec!["-H", &signature, "--body", SPEC_BODY, "--tolerance", "0"], 0, "valid (v1)"),
        (
            "tampered body",
            vec!["-H", &signature, "--body", r#"{"test": 1}"#, "--tolerance", "0"],
            1,
            "invalid: bad signature: no signature matches this secret and body",
        ),
        ("stale", vec!["-H", &signature, "--body", SPEC_BODY], 1, "invalid: timestamp outside tolerance"),
        ("unsigned", vec!["--body", SPEC_BODY, "--tolerance", "0"], 1, "invalid: missing header webhook-signature"),
        (
            "flags override headers",
            vec!["--signature", SPEC_SIGNATURE, "--body", SPEC_BODY, "--tolerance", "0"],
            0,
            "valid (v1)",
        ),
    ];
    for (name, extra, code, expected) in cases {
        let output = verify(&extra);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(code), "{name}: {stdout} {}", stderr(&output));
        assert!(stdout.trim().starts_with(expected), "{name}: {stdout}");
    }

    let dir = tempfile::tempdir().unwrap();
    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, SPEC_BODY).unwrap();
    let from_file = verify(&["--signature", SPEC_SIGNATURE, "--body-file", path(&body_file), "--tolerance", "0"]);
    assert!(from_file.status.success(), "{}", String::from_utf8_lossy(&from_file.stdout));
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn tokens_portal_and_generate() {
    let server = Server::start();
    server.ok(&["app", "create", "--name", "A", "--uid", "a"]);
    let portal = server.json(&["token", "portal", "a", "--expiry", "60"]);
    let app_token = portal["token"].as_str().unwrap();
    assert!(portal["url"].as_str().unwrap().contains(app_token));
    // The application token sees its application only.
    let scoped = cli().args(["app", "get", "a", "--url", &server.serving.url, "--token", app_token]).output().unwrap();
    assert!(scoped.status.success(), "{}", stderr(&scoped));

    let generated = cli().args(["token", "generate"]).output().unwrap();
    let token = String::from_utf8(generated.stdout).unwrap();
    assert!(token.starts_with("hw_") && token.trim().len() > 40, "{token}");
}

/// `--generate` and `--remove` ask for opposite things: refused together, naming both, before
/// any database is opened (`--generate` used to win silently and seal under a new key).
#[test]
fn rotate_main_key_refuses_generate_with_remove() {
    let output = cli()
        .args(["rotate-main-key", "--generate", "--remove", "--database-url", "sqlite://./nowhere/never.db"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--generate") && stderr.contains("--remove"), "{stderr}");
    assert!(!std::path::Path::new("./nowhere").exists(), "nothing was opened");
}

/// `migrate` against a server that accepts the connection and never answers (as a frozen
/// PostgreSQL does) gives up after the config file's `database_connect_timeout_ms`, the whole
/// start-up included, instead of waiting for ever.
#[test]
fn migrate_gives_up_on_a_silent_database_after_the_configured_connect_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || silent.incoming().take(4).map(Result::unwrap).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookwire.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"postgres://hookwire@127.0.0.1:{port}/hookwire\"\ndatabase_connect_timeout_ms = 300\n"
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let mut child = cli()
        .args(["migrate", "--config", config.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A migrate that waits for ever fails the test instead of hanging it.
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("migrate still waiting after 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let waited = started.elapsed();
    assert!(!output.status.success());
    let stderr = stderr(&output);
    assert!(stderr.contains("did not finish connecting within 300 ms"), "{stderr}");
    assert!(waited < std::time::Duration::from_secs(4), "waited {waited:?}: the file's bound, not the default's");
    drop(held);
}

#[test]
fn help_documents_every_command_and_completions_are_generated() {
    let help = String::from_utf8(cli().arg("--help").output().unwrap().stdout).unwrap();
    let commands = [
        "serve",
        "migrate",
        "rotate-main-key",
        "app",
        "endpoint",
        "message",
        "attempt",
        "event-type",
        "destination",
        "task",
        "token",
        "listen",
        "verify",
        "completions",
    ];
    for command in commands {
        let documented = help.lines().any(|l| l.trim_start().starts_with(&format!("{command} ")));
        assert!(documented, "--help does not list {command}:\n{help}");
    }
    let endpoint_help = String::from_utf8(cli().args(["endpoint", "--help"]).output().unwrap().stdout).unwrap();
    for sub in [
        "recover",
        "replay-missing",
        "bulk-replay",
        "rotate-secret",
        "send-example",
        "stats",
        "enable",
        "disable",
        "--url",
        "--token",
        "--json",
    ] {
        assert!(endpoint_help.contains(sub), "endpoint --help lacks {sub}:\n{endpoint_help}");
    }

    for shell in ["bash", "zsh", "fish"] {
        let script = cli().args(["completions", shell]).output().unwrap();
        assert!(script.status.success());
        let script = String::from_utf8(script.stdout).unwrap();
        assert!(script.contains("hookwire") && script.contains("rotate-secret"), "{shell}");
    }
}

#[test]
fn transformations_are_set_read_and_simulated() {
    let server = Server::start();
    server.ok(&["app", "create", "--name", "Acme", "--uid", "acme"]);
    server.ok(&["endpoint", "create", "acme", "https://example.com/hook", "--uid", "chat"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slack.js");
    std::fs::write(
        &file,
        "function handler(w) {\n  w.payload = {text: w.eventType + ' ' + w.variables.room};\n  return w;\n}\n",
    )
    .unwrap();
    let code = format!("@{}", path(&file));
    let set =
        server.ok(&["endpoint", "transformation", "set", "acme", "chat", "--code", &code, "--variable", "room=ops"]);
    assert!(set.contains("Updated the transformation of endpoint chat"), "{set}");
    let saved = server.json(&["endpoint", "transformation", "get", "acme", "chat"]);
    assert_eq!((&saved["enabled"], &saved["variables"]["room"]), (&Value::Bool(true), &Value::from("ops")));

    let simulated = server.json(&[
        "endpoint",
        "transformation",
        "simulate",
        "acme",
        "chat",
        "--event-type",
        "user.created",
        "--payload",
        "{}",
    ]);
    assert_eq!(simulated["payload"]["text"], "user.created ops");
    let table = server.ok(&["endpoint", "transformation", "simulate", "acme", "chat", "--event-type", "a.b"]);
    assert!(table.lines().any(|l| l.starts_with("method") && l.ends_with("POST")), "{table}");

    let broken = server.run(&["endpoint", "transformation", "set", "acme", "chat", "--code", "function handler( {"]);
    assert!(!broken.status.success());
    assert!(stderr(&broken).contains("422") && stderr(&broken).contains("line 1: SyntaxError"), "{}", stderr(&broken));
    server.ok(&["endpoint", "transformation", "set", "acme", "chat", "--disable"]);
    assert_eq!(server.json(&["endpoint", "transformation", "get", "acme", "chat"])["enabled"], false);
    server.ok(&["endpoint", "transformation", "set", "acme", "chat", "--remove"]);
    assert_eq!(server.json(&["endpoint", "transformation", "get", "acme", "chat"])["code"], Value::Null);
}

#[test]
fn destinations_are_created_and_polled_as_a_consumer() {
    let server = Server::start();
    server.ok(&["app", "create", "--name", "Acme", "--uid", "acme"]);
    let created = server.json(&[
        "destination",
        "create",
        "acme",
        "--uid",
        "feed",
        "--event-type",
        "order.*",
        "--batch-size",
        "2",
    ]);
    assert_eq!((&created["type"], &created["batchSize"]), (&Value::from("pollingEndpoint"), &Value::from(2)));
    for (n, event_type) in ["order.created", "user.created", "order.paid", "order.shipped"].iter().enumerate() {
        let payload = format!("{{\"n\": {n}}}");
        server.ok(&["message", "create", "acme", "--event-type", event_type, "--payload", &payload]);
    }
    let first = server.json(&["destination", "poll", "acme", "feed", "--consumer", "c1"]);
    let ns = |page: &Value| {
        page["data"].as_array().unwrap().iter().map(|m| m["payload"]["n"].as_i64().unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(ns(&first), [0, 2]);
    let table = server.ok(&["destination", "poll", "acme", "feed", "--consumer", "c1"]);
    assert!(table.contains("order.shipped") && table.lines().last().unwrap().starts_with("iterator "), "{table}");
    server.ok(&["destination", "seek", "acme", "feed", "c1", "--after", "1h"]);
    assert_eq!(ns(&server.json(&["destination", "poll", "acme", "feed", "--consumer", "c1"])), [0, 2]);
    assert!(server.ok(&["destination", "list", "acme"]).contains("pollingEndpoint"));
    server.ok(&["destination", "pause", "acme", "feed"]);
    let paused = server.run(&["destination", "poll", "acme", "feed"]);
    assert!(!paused.status.success() && stderr(&paused).contains("409"), "{}", stderr(&paused));
    server.ok(&["destination", "delete", "acme", "feed"]);
}
