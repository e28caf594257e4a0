//! The embedded database as an unlucky operator meets it: one process per database file however
//! the path is spelt, nothing created or truncated beside it, a full disk that says so, a file
//! that is not Hookwire's refused, and start-up errors that name the path.

mod support;

use std::path::Path;

use hookwire_server::{Config, Server, StartError};
use serde_json::json;

fn config(path: &Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}", path.display()),
        admin_token: Some(support::ADMIN_TOKEN.into()),
        ..Config::default()
    }
}

async fn start(path: &Path) -> Result<Server, StartError> {
    Server::build(config(path)).await
}

/// Runs a server on `path` until `f` is done with its URL, then stops it.
async fn with_server<F: std::future::Future<Output = ()>>(path: &Path, f: impl FnOnce(String) -> F) {
    let server = start(path).await.expect("starts");
    let url = format!("http://{}", server.local_addr());
    let cancel = server.cancel_token();
    let running = tokio::spawn(server.run(std::future::pending()));
    f(url).await;
    cancel.cancel();
    running.await.unwrap().unwrap();
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// `--durability process` says how SQLite commits; PostgreSQL's commits follow its own
/// `synchronous_commit`, so the flag is refused there (before any connection), not ignored.
#[tokio::test]
async fn durability_process_on_postgresql_is_refused_naming_the_setting_that_does_it() {
    let config = Config {
        database_url: "postgres://hookwire@127.0.0.1:1/hookwire".into(),
        durability: hookwire_store::sqlite::Durability::Process,
        ..config(Path::new("unused"))
    };
    match Server::build(config).await {
        Err(StartError::Config(error)) => {
            let text = error.to_string();
            assert!(text.contains("durability") && text.contains("synchronous_commit"), "{text}");
        }
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(_) => panic!("started with a durability PostgreSQL does not take from Hookwire"),
    }
}

#[tokio::test]
async fn a_database_named_like_a_lock_file_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.lock");
    with_server(&path, |url| async move {
        let created = client()
            .post(format!("{url}/api/v1/app"))
            .bearer_auth(support::ADMIN_TOKEN)
            .json(&json!({"name": "Kept", "uid": "kept"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    })
    .await;
    with_server(&path, |url| async move {
        let kept =
            client().get(format!("{url}/api/v1/app/kept")).bearer_auth(support::ADMIN_TOKEN).send().await.unwrap();
        assert_eq!(kept.status(), 200, "the database was not truncated by its own lock");
    })
    .await;
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| n.starts_with("data.lock")), "nothing but the database and its WAL files: {names:?}");
}

#[tokio::test]
async fn every_spelling_of_the_same_file_is_refused_while_it_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookwire.db");
    let first = start(&path).await.expect("the first server starts");
    let symlink = dir.path().join("symlink.db");
    std::os::unix::fs::symlink(&path, &symlink).unwrap();
    let hard_link = dir.path().join("hard-link.db");
    std::fs::hard_link(&path, &hard_link).unwrap();
    let dotted = dir.path().join("sub").join("..").join("hookwire.db");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for spelling in [&path, &symlink, &hard_link, &dotted] {
        match start(spelling).await {
            Err(StartError::Locked(_)) => {}
            Err(other) => panic!("{}: another error: {other}", spelling.display()),
            Ok(_) => panic!("{}: a second server started on the same database", spelling.display()),
        }
        let message = start(spelling).await.err().unwrap().to_string();
        assert!(message.contains("another Hookwire process is using"), "{message}");
    }
    drop(first);
    assert!(start(&symlink).await.is_ok(), "free again once the first server is gone");
}

#[tokio::test]
async fn a_foreign_sqlite_file_is_refused_not_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("someone-elses.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)").unwrap();
    drop(conn);
    let message = start(&path).await.err().expect("refused").to_string();
    assert!(message.contains(&path.display().to_string()) && message.contains("something else"), "{message}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: i64 =
        conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0)).unwrap();
    assert_eq!(tables, 1, "nothing was added to it");
}

#[tokio::test]
async fn a_start_that_cannot_open_the_database_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("plain-file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let path = not_a_dir.join("hookwire.db");
    let message = start(&path).await.err().expect("refused").to_string();
    assert!(message.contains(&path.display().to_string()), "the path is named: {message}");
}

/// A small file system of the test's own (a tmpfs; CI runs as root), unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "mounting a tmpfs needs root (as CI runs); cannot test a full disk otherwise");
        Self { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a filler file until the file system is full.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.path("filler")).unwrap();
        let block = vec![0u8; 64 * 1024];
        while filler.write_all(&block).is_ok() {}
        let mut small = [0u8; 512];
        small.fill(1);
        while filler.write_all(&small[..64]).is_ok() {}
        let _ = filler.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.dir.path()).status();
    }
}

/// On a full disk a message is refused with 507 and a detail that says why, nothing half-written;
/// once space is freed writes succeed again; and a server started on a full disk says "disk full".
#[tokio::test]
async fn a_full_disk_answers_507_recovers_when_freed_and_is_named_at_start() {
    let disk = SmallDisk::mount(8);
    let path = disk.path("hookwire.db");
    with_server(&path, |url| {
        let disk = &disk;
        async move {
            let send = |n: u32| {
                client()
                    .post(format!("{url}/api/v1/app/full/msg"))
                    .bearer_auth(support::ADMIN_TOKEN)
                    .json(&json!({"eventType": "a", "payload": {"n": n}, "application": {"name": "Full"}}))
                    .send()
            };
            assert_eq!(send(0).await.unwrap().status(), 202);
            disk.fill();
            let mut refused = None;
            for n in 1..=200 {
                let response = send(n).await.unwrap();
                if response.status() != 202 {
                    refused = Some((response.status(), response.json::<serde_json::Value>().await.unwrap()));
                    break;
                }
            }
            let (status, body) = refused.expect("a full disk refuses writes");
            assert_eq!((status.as_u16(), body["code"].as_str()), (507, Some("storage_full")), "{body}");
            assert!(body["detail"].as_str().unwrap().contains("storage is full"), "{body}");
            disk.free();
            assert_eq!(send(1_000).await.unwrap().status(), 202, "writes succeed once space is freed");
        }
    })
    .await;
    disk.fill();
    let message = start(&path).await.err().expect("no start on a full disk").to_string();
    assert!(message.contains("disk full"), "{message}");
}
