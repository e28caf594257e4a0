//! PostgreSQL clusters of a test's own, for what must never touch the shared server on 5432:
//! freezing the database, killing a primary, promoting a standby, TLS with a test CA. Each is an
//! `initdb` in a temporary directory, listening on a free loopback port, stopped (and thawed
//! first) when dropped. The binaries are PostgreSQL's (`HOOKWIRE_PG_BIN`, else the newest in
//! `/usr/lib/postgresql/*/bin`); run as `postgres` when the test runs as root (initdb refuses
//! root). Shared by several crates' tests through `#[path]`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Cluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    pub port: u16,
    frozen: std::sync::atomic::AtomicBool,
}

/// The directory of PostgreSQL's server binaries, if any.
pub fn binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HOOKWIRE_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// Whether a test that needs its own cluster can run here; when it cannot and
/// `HOOKWIRE_REQUIRE_POSTGRES=1` (CI) that is a failure, otherwise the test says it is skipped.
pub fn available(test: &str) -> bool {
    if binaries().is_some() {
        return true;
    }
    assert!(
        std::env::var("HOOKWIRE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
        "{test} needs PostgreSQL's server binaries (initdb, pg_ctl) and HOOKWIRE_REQUIRE_POSTGRES=1"
    );
    eprintln!("skipped {test}: no PostgreSQL server binaries (set HOOKWIRE_PG_BIN)");
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn as_root() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| {
        let id = Command::new("id").arg("-u").output().expect("id runs");
        String::from_utf8_lossy(&id.stdout).trim() == "0"
    })
}

impl Cluster {
    /// A new primary: trust authentication on 127.0.0.1, ready for streaming replicas.
    pub fn primary() -> Self {
        let cluster = Self::empty();
        cluster.run("initdb", &["-D", cluster.data_str(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        cluster.configure(&[
            "listen_addresses = '127.0.0.1'",
            "wal_level = replica",
            "max_wal_senders = 5",
            "max_connections = 120",
            "shared_buffers = 32MB",
            "fsync = off",
            "synchronous_commit = on",
            "log_min_messages = warning",
        ]);
        cluster.start();
        cluster
    }

    /// A streaming standby of `primary`, which then commits synchronously to it (a commit is
    /// acknowledged only once the standby has it).
    pub fn standby_of(primary: &Cluster) -> Self {
        let cluster = Self::empty();
        let port = primary.port.to_string();
        cluster.run(
            "pg_basebackup",
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-D", cluster.data_str(), "-R", "-X", "stream"],
        );
        cluster.start();
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'");
        primary.sql("SELECT pg_reload_conf()");
        let deadline = Instant::now() + Duration::from_secs(30);
        while primary.sql("SELECT sync_state FROM pg_stat_replication").trim() != "sync" {
            assert!(Instant::now() < deadline, "the standby never became synchronous");
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    fn empty() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if as_root() {
            let status = Command::new("chown").args(["postgres:postgres", &dir.path().display().to_string()]).status();
            assert!(status.is_ok_and(|s| s.success()), "chown the cluster directory to postgres");
        }
        Self { _dir: dir, data, bin: binaries().expect("PostgreSQL binaries"), port: free_port(), frozen: false.into() }
    }

    fn data_str(&self) -> &str {
        self.data.to_str().unwrap()
    }

    /// Runs one of PostgreSQL's programs (as `postgres` when we are root); panics on failure.
    fn run(&self, program: &str, args: &[&str]) -> String {
        let path = self.bin.join(program);
        let mut command = if as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        let output = command.args(args).current_dir("/").output().unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Appends settings to postgresql.conf (read at the next start or reload).
    pub fn configure(&self, lines: &[&str]) {
        use std::io::Write;
        let mut conf = std::fs::OpenOptions::new().append(true).open(self.data.join("postgresql.conf")).unwrap();
        writeln!(conf, "\n{}", lines.join("\n")).unwrap();
    }

    /// Writes a file into the data directory, readable by the server only (keys, certificates).
    pub fn put_file(&self, name: &str, contents: &[u8]) {
        let path = self.data.join(name);
        std::fs::write(&path, contents).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        if as_root() {
            let status = Command::new("chown").args(["postgres:postgres", path.to_str().unwrap()]).status();
            assert!(status.is_ok_and(|s| s.success()));
        }
    }

    pub fn start(&self) {
        let options = format!("-p {} -k {}", self.port, self.data.display());
        let log = self.data.join("server.log");
        self.run("pg_ctl", &["-D", self.data_str(), "-l", log.to_str().unwrap(), "-o", &options, "-w", "start"]);
    }

    /// `pg_ctl restart` (settings that need a restart, such as `ssl`).
    pub fn restart(&self) {
        let options = format!("-p {} -k {}", self.port, self.data.display());
        let log = self.data.join("server.log");
        self.run("pg_ctl", &["-D", self.data_str(), "-l", log.to_str().unwrap(), "-o", &options, "-w", "restart"]);
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs `sql` with psql and returns its unaligned output.
    pub fn sql(&self, sql: &str) -> String {
        let port = self.port.to_string();
        self.run("psql", &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-d", "postgres", "-At", "-c", sql])
    }

    /// The postmaster's process id.
    pub fn postmaster(&self) -> u32 {
        let pid = std::fs::read_to_string(self.data.join("postmaster.pid")).expect("the cluster is running");
        pid.lines().next().unwrap().trim().parse().unwrap()
    }

    /// Every process of the cluster: the postmaster and its children.
    fn processes(&self) -> Vec<String> {
        let postmaster = self.postmaster().to_string();
        let children = Command::new("pgrep").args(["-P", &postmaster]).output().unwrap();
        let mut all = vec![postmaster];
        all.extend(String::from_utf8_lossy(&children.stdout).split_whitespace().map(str::to_owned));
        all
    }

    fn signal_all(&self, signal: &str) {
        for pid in self.processes() {
            let _ = Command::new("kill").args([format!("-{signal}"), pid]).status();
        }
    }

    /// Stops every process of the cluster where it stands (SIGSTOP): connections stay open and
    /// nothing answers, as with a stalled disk or a partition that drops packets.
    pub fn freeze(&self) {
        self.signal_all("STOP");
        self.frozen.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn thaw(&self) {
        self.signal_all("CONT");
        self.frozen.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Kills the postmaster with SIGKILL (its children exit when they notice).
    pub fn kill(&self) {
        let status = Command::new("kill").args(["-KILL".to_owned(), self.postmaster().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Promotes a standby to primary and waits until it accepts writes.
    pub fn promote(&self) {
        self.run("pg_ctl", &["-D", self.data_str(), "-w", "promote"]);
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.frozen.load(std::sync::atomic::Ordering::Relaxed) {
            self.signal_all("CONT");
        }
        if self.data.join("postmaster.pid").exists() {
            let data = self.data.to_str().unwrap().to_owned();
            let path = self.bin.join("pg_ctl");
            let mut command = if as_root() {
                let mut command = Command::new("runuser");
                command.args(["-u", "postgres", "--"]).arg(&path);
                command
            } else {
                Command::new(&path)
            };
            let _ = command.args(["-D", &data, "-m", "immediate", "-w", "stop"]).current_dir("/").output();
        }
    }
}
