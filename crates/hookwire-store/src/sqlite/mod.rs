//! The embedded SQLite store: WAL, one writer thread with group commit (writer.rs), and a
//! small pool of read connections used from tokio's blocking pool.

mod deliveries;
mod messages;
mod resources;
mod rows;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::error::{StoreError, StoreResult};
use writer::Writer;

/// Read connections kept open for reuse; more are opened on demand and closed after use.
const READ_CONNECTIONS_KEPT: usize = 8;
/// How long a connection waits on a lock before failing (only migrations and readers contend).
const BUSY_TIMEOUT_MS: u64 = 5_000;

const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_source_features.sql"),
    include_str!("../../migrations/sqlite/0003_retention.sql"),
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
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path, durability: Durability) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = open_connection(path, durability)?;
        migrate(&mut conn)?;
        let writer = Writer::start(conn)?;
        Ok(Self { inner: Arc::new(Inner { path: path.to_owned(), writer, readers: Mutex::new(Vec::new()) }) })
    }

    /// Applies pending migrations and returns the schema version.
    pub fn migrate_only(path: &Path) -> StoreResult<usize> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = open_connection(path, Durability::Disk)?;
        migrate(&mut conn)
    }

    /// Runs `op` on the writer thread inside the next group commit; returns after the commit.
    async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.inner.writer.submit(op).await
    }

    /// Runs `op` on a read connection in the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
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
        })
        .await
        .map_err(|_| StoreError::Closed)?
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

fn migrate(conn: &mut Connection) -> StoreResult<usize> {
    let current = conn.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))? as usize;
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
