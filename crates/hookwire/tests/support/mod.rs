//! Running the real binary in tests: a child process that dies with the test, and a
//! `hookwire serve` on a free loopback port that says where it listens.

use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

/// A child process killed when the test ends, pass or fail.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `hookwire serve`.
pub struct Serving {
    pub process: KillOnDrop,
    pub url: String,
}

impl Serving {
    /// Starts `hookwire serve --listen 127.0.0.1:0` on `database_url` with the admin `token`
    /// (logs at `warn`); `configure` may add arguments and environment before it starts.
    pub fn start(database_url: &str, token: &str, configure: impl FnOnce(&mut Command)) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hookwire"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", database_url])
            .env("HOOKWIRE_ADMIN_TOKEN", token)
            .env("HOOKWIRE_LOG", "warn")
            .stdout(Stdio::piped());
        configure(&mut command);
        let mut child = command.spawn().expect("binary starts");
        let first = first_line(child.stdout.as_mut().expect("stdout is piped"));
        let url = first
            .strip_prefix("Hookwire listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        Self { process: KillOnDrop(child), url }
    }

    /// Sends the signal `name` (`TERM`, `KILL`, …) to the server.
    pub fn signal(&self, name: &str) {
        let pid = self.process.0.id().to_string();
        let status = Command::new("kill").args([format!("-{name}"), pid]).status().expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }
}

/// `sqlite://DIR/hookwire.db`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("hookwire.db").display())
}

/// The first line a child printed. One byte at a time, so nothing after it is buffered away from
/// later readers.
pub fn first_line(stdout: &mut ChildStdout) -> String {
    let mut first = String::new();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).expect("stdout is readable") == 1 && byte[0] != b'\n' {
        first.push(byte[0] as char);
    }
    first
}
