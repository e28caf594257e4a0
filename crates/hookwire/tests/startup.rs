//! What a newcomer meets before the first request: `serve --help` names the settings that exist
//! only in the environment, a misspelt `HOOKWIRE_*` variable is warned about, an invalid log
//! setting is an error naming what is accepted, a failed start is one clear line (no backtrace,
//! even with `RUST_BACKTRACE` set), logs carry no colour codes when stderr is not a terminal, and
//! small CLI paths end quietly (a closed pipe, a missing scope, a server gone before `listen`).

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};

use support::{KillOnDrop, Serving, first_line};

#[allow(dead_code)]
mod support;

const TOKEN: &str = "startup-test-token";

fn hookwire() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookwire"));
    command.env_remove("HOOKWIRE_LOG").env_remove("HOOKWIRE_LOG_FORMAT").env_remove("RUST_BACKTRACE");
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn serve_help_lists_the_settings_that_exist_only_in_the_environment() {
    let output = hookwire().args(["serve", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = text(&output.stdout);
    for name in [
        "HOOKWIRE_ADMIN_TOKEN",
        "HOOKWIRE_MAIN_KEY",
        "HOOKWIRE_LOG",
        "HOOKWIRE_LOG_FORMAT",
        "HOOKWIRE_OPERATIONAL_APP",
        "HOOKWIRE_METRICS_PUBLIC",
        "hookwire.example.toml",
    ] {
        assert!(help.contains(name), "serve --help does not mention {name}:\n{help}");
    }
}

#[test]
fn invalid_log_settings_are_errors_naming_the_accepted_values() {
    for (variable, value, expected) in [
        ("HOOKWIRE_LOG", "verbose", "trace, debug, info, warn, error, off"),
        ("HOOKWIRE_LOG_FORMAT", "jsn", "text (the default) or json"),
    ] {
        let output =
            hookwire().args(["serve", "--help"]).env(variable, value).env("RUST_BACKTRACE", "1").output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{variable}={value}");
        let stderr = text(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with(&format!("error: {variable}=")) && stderr.contains(expected), "{stderr}");
    }
}

#[test]
fn a_failed_start_is_one_line_without_a_backtrace() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = hookwire()
        .args(["serve", "--listen", &address, "--database-url", &support::sqlite_url(dir.path())])
        .env("HOOKWIRE_ADMIN_TOKEN", TOKEN)
        .env("HOOKWIRE_LOG", "error")
        .env("RUST_BACKTRACE", "full")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with(&format!("error: cannot listen on {address}")), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
}

#[test]
fn unknown_variables_are_warned_about_and_logs_have_no_colour_codes_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let serving = Serving::start(&support::sqlite_url(dir.path()), TOKEN, |command| {
        command.env("HOOKWIRE_ALLOW_PRIVATE_NETWORK", "true").env("HOOKWIRE_LOG", "info").stderr(Stdio::piped());
    });
    serving.signal("TERM");
    let mut process = serving.process;
    assert!(process.0.wait().unwrap().success());
    let mut stderr = String::new();
    process.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let warning = stderr
        .lines()
        .find(|l| l.contains("HOOKWIRE_ALLOW_PRIVATE_NETWORK") && l.contains("unknown environment variable"))
        .unwrap_or_else(|| panic!("no warning in:\n{stderr}"));
    assert!(warning.contains("did you mean HOOKWIRE_ALLOW_PRIVATE_NETWORKS?"), "{warning}");
    assert!(!stderr.contains('\u{1b}'), "colour codes in a log that is not a terminal:\n{stderr}");
}

#[test]
fn completions_into_a_closed_pipe_end_quietly() {
    let mut child =
        hookwire().args(["completions", "bash"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    first_line(&mut stdout);
    drop(stdout); // as `| head -1` does
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!text(&output.stderr).contains("panicked"), "{}", text(&output.stderr));
}

#[test]
fn attempt_list_without_a_scope_names_both_options() {
    let output = hookwire().args(["attempt", "list", "acme"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--endpoint") && stderr.contains("--msg"), "{stderr}");
}

#[test]
fn listen_stopped_after_its_server_prints_a_note_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let serving = Serving::start(&support::sqlite_url(dir.path()), TOKEN, |command| {
        command.arg("--allow-private-networks");
    });
    let created = Command::new(env!("CARGO_BIN_EXE_hookwire"))
        .args(["app", "create", "--name", "Acme", "--uid", "acme", "--url", &serving.url, "--token", TOKEN])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", text(&created.stderr));
    let mut listen = hookwire()
        .args(["listen", "--port", "0", "--register", "acme", "--url", &serving.url, "--token", TOKEN])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = listen.stdout.take().unwrap();
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with("Registered")) {
        let line = first_line(&mut stdout);
        assert!(!line.is_empty(), "listen ended early after {lines:?}");
        lines.push(line);
    }
    drop(serving); // the server goes away first
    let listen = KillOnDrop(listen);
    let status = Command::new("kill").args(["-TERM", &listen.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut listen = listen;
    assert!(listen.0.wait().unwrap().success());
    let mut stderr = String::new();
    listen.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.lines().any(|l| l.starts_with("note: could not delete the registered endpoint")), "{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with("error")), "{stderr}");
}
