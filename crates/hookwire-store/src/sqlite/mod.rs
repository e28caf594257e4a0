//! The embedded SQLite store: WAL, one writer thread with group commit (writer.rs), and a
//! small pool of read connections used from tokio's blocking pool.

mod activity;
mod deliveries;
mod destinations;
mod messages;
mod requests;
mod resources;
mod rows;
mod tasks;
mod tokens;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hookwire_core::crypto::MainKey;
use hookwire_core::model::Endpoint;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::{StoreError, StoreResult};
use crate::secrets::{self, MAIN_KEY_CANARY_SETTING};
use writer::{Isolation, Writer};

/// Read connections kept open for reuse; more are opened on demand and closed after use.
const READ_CONNECTIONS_KEPT: usize = 8;
/// How long a connection waits on a lock before failing (only migrations and readers contend).
const BUSY_TIMEOUT_MS: u64 = 5_000;

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_source_features.sql"),
    include_str!("../../migrations/sqlite/0003_retention.sql"),
    include_str!("../../migrations/sqlite/0004_endpoint_health.sql"),
    include_str!("../../migrations/sqlite/0005_tokens.sql"),
    include_str!("../../migrations/sqlite/0006_svix_messages.sql"),
    include_str!("../../migrations/sqlite/0007_destinations.sql"),
    include_str!("../../migrations/sqlite/0008_destination_attempts.sql"),
    include_str!("../../migrations/sqlite/0009_activity.sql"),
    include_str!("../../migrations/sqlite/0010_request_keys.sql"),
];

/// How a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every commit is fsync'd before it is acknowledged (`synchronous=FULL`). The default.
    #[default]
    Disk,
    /// Commits survive a process crash but not a power loss (`synchronous=NORMAL`).
    Process,
}

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    main_key: Option<Arc<MainKey>>,
    cache: crate::cache::ConfigCache,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path, durability: Durability) -> StoreResult<Self> {
        Self::open_with_key(path, durability, None)
    }

    /// Opens with a main key: endpoint secrets are sealed at rest. Fails at once when the data
    /// was sealed with another key, or is sealed and no key is given.
    pub fn open_with_key(path: &Path, durability: Durability, main_key: Option<MainKey>) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = open_connection(path, durability)?;
        migrate(&mut conn)?;
        check_main_key(&conn, main_key.as_ref())?;
        let writer = Writer::start(conn)?;
        let main_key = main_key.map(Arc::new);
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer,
                readers: Mutex::new(Vec::new()),
                main_key,
                cache: Default::default(),
            }),
        })
    }

    /// A configuration write: runs `op` in the next group commit, then drops the cached
    /// configuration (after the commit, so no reader can cache what is being replaced).
    async fn write_config<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let result = self.write(op).await;
        self.inner.cache.invalidate();
        result
    }

    /// Seals the endpoint's secrets for storage (identity without a main key).
    fn seal_endpoint(&self, endpoint: Endpoint) -> Endpoint {
        secrets::seal(self.inner.main_key.as_deref(), endpoint)
    }

    /// Opens the endpoint's stored secrets.
    fn open_endpoint(&self, endpoint: Endpoint) -> StoreResult<Endpoint> {
        secrets::open(self.inner.main_key.as_deref(), endpoint)
    }

    /// A destination as stored: its secrets sealed.
    fn seal_destination(&self, destination: &hookwire_core::destination::Destination) -> String {
        rows::to_json(&secrets::seal(self.inner.main_key.as_deref(), destination.clone()))
    }

    fn open_destination(
        &self,
        destination: hookwire_core::destination::Destination,
    ) -> StoreResult<hookwire_core::destination::Destination> {
        secrets::open(self.inner.main_key.as_deref(), destination)
    }

    /// Re-seals every stored secret under `new_key` (or stores them in plaintext with `None`),
    /// in one transaction; returns how many endpoints were rewritten.
    pub async fn reseal_secrets(&self, new_key: Option<MainKey>) -> StoreResult<u64> {
        let current = self.inner.main_key.clone();
        self.write_config(move |conn| {
            let rows: Vec<(String, String)> = conn
                .prepare("SELECT id, body FROM endpoints")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (id, body) in &rows {
                let endpoint: Endpoint = rows::from_json(body)?;
                let endpoint = secrets::reseal(current.as_deref(), new_key.as_ref(), endpoint)?;
                conn.execute("UPDATE endpoints SET body = ?2 WHERE id = ?1", [id, &rows::to_json(&endpoint)])?;
            }
            let destinations: Vec<(String, String)> = conn
                .prepare("SELECT id, body FROM destinations")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (id, body) in &destinations {
                let destination: hookwire_core::destination::Destination = rows::from_json(body)?;
                let destination = secrets::reseal(current.as_deref(), new_key.as_ref(), destination)?;
                conn.execute("UPDATE destinations SET body = ?2 WHERE id = ?1", [id, &rows::to_json(&destination)])?;
            }
            conn.execute("DELETE FROM settings WHERE key = ?1", [MAIN_KEY_CANARY_SETTING])?;
            if let Some(key) = &new_key {
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)",
                    [MAIN_KEY_CANARY_SETTING, &secrets::canary(key)],
                )?;
            }
            Ok(rows.len() as u64)
        })
        .await
    }

    /// Applies pending migrations and returns the schema version.
    pub fn migrate_only(path: &Path) -> StoreResult<usize> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = open_connection(path, Durability::Disk)?;
        migrate(&mut conn)
    }

    /// Runs `op` on the writer thread, in its own savepoint, inside the next group commit;
    /// returns after the commit.
    async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.inner.writer.submit(Isolation::Savepoint, op).await
    }

    /// Like `write`, without a savepoint: for hot-path operations whose only expected failure is
    /// their first write (see writer.rs). A later failure fails the whole group.
    async fn write_direct<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.inner.writer.submit(Isolation::Direct, op).await
    }

    /// Runs `op` on a pooled read connection in the blocking pool. (Running reads in place with
    /// `block_in_place` was measured slower under load: see docs/BENCHMARKS.md.)
    async fn read<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = self.inner.clone();
        let run = move || {
            let pooled = inner.readers.lock().expect("reader pool poisoned").pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => open_connection(&inner.path, Durability::Disk)?,
            };
            let result = op(&conn);
            let mut readers = inner.readers.lock().expect("reader pool poisoned");
            if readers.len() < READ_CONNECTIONS_KEPT {
                readers.push(conn);
            }
            result
        };
        tokio::task::spawn_blocking(run).await.map_err(|_| StoreError::Closed)?
    }
}

fn open_connection(path: &Path, durability: Durability) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    let synchronous = match durability {
        Durability::Disk => "FULL",
        Durability::Process => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = OFF;
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000;"
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Checks `main_key` against the canary sealed by the key the data was written with, and plants
/// the canary on first use of a key.
fn check_main_key(conn: &Connection, main_key: Option<&MainKey>) -> StoreResult<()> {
    let stored: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [MAIN_KEY_CANARY_SETTING], |r| r.get(0))
        .optional()?;
    if let Some(canary) = secrets::check_canary(stored.as_deref(), main_key)? {
        conn.execute("INSERT INTO settings (key, value) VALUES (?1, ?2)", [MAIN_KEY_CANARY_SETTING, &canary])?;
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<usize> {
    let current = conn.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))? as usize;
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        [],
        |row| row.get(0),
    )?;
    if current == 0 && tables > 0 {
        return Err(StoreError::Foreign);
    }
    if current > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this binary knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        tx.commit()?;
        tracing::info!(version = index + 1, "applied SQLite migration");
    }
    Ok(MIGRATIONS.len())
}
