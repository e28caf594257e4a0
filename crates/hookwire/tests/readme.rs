//! README's promise: after a plain clone, its two opening commands are all the set-up there is.
//! They open the README, CI runs the second, and the first runs exactly as written (with
//! `--help` appended, so it stops at once). `cargo run` once failed here because the workspace
//! had two binaries and no default.

use std::path::PathBuf;
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The commands of README's first code block, without their comments.
fn opening_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let block = readme.split("```sh\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a sh block");
    block.lines().map(|line| line.split(" #").next().unwrap().trim().to_owned()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn the_readme_opens_with_the_two_commands_and_ci_runs_the_second() {
    let commands = opening_commands();
    assert_eq!(commands, ["cargo run --release -- serve", "./scripts/test"], "README's first block");
    let ci = std::fs::read_to_string(workspace().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim_end().ends_with("./scripts/test")), ".ci/run must call ./scripts/test");
}

/// Runs `cargo run --release -- serve --help` as a newcomer types it. The release profile is made
/// cheap through cargo's environment overrides (no LTO, no optimisation) and builds into a
/// directory of its own, so the command line is exactly the README's and the optimised release
/// binary in `target/release` is left alone.
#[test]
fn the_first_command_runs_as_written() {
    let first = opening_commands().remove(0);
    let mut words = first.split_whitespace();
    assert_eq!(words.next(), Some("cargo"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(words)
        .args(["--help"])
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", workspace().join("target/readme-check"))
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "false")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "`{first} --help` failed:\n{stderr}");
    assert!(stdout.contains("Run the API and the delivery workers"), "not `hookwire serve --help`:\n{stdout}");
}
