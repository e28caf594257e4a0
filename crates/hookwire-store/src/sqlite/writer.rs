//! The single SQLite writer: one thread owns the write connection and commits in groups, and
//! every caller is answered only after the group's COMMIT, so an acknowledged write is durable.
//!
//! Most operations run in their own savepoint inside the group's transaction, so one failing
//! operation does not undo the others. The hot path's operations (accepting a message, recording
//! an attempt) run without one: a savepoint copies every page it first touches into a journal,
//! which was a fifth of the writer's time. Such an operation that fails having changed nothing
//! (its failing statement undoes itself) costs the others nothing; one that fails after changing
//! something rolls back the whole group, and every operation in it is answered with an error.

use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::error::{StoreError, StoreResult};

/// Most operations committed in one transaction.
const GROUP_OPERATIONS_MAX: usize = 1_000;
/// Operations that may wait for the writer before callers are held back.
const QUEUE_CAPACITY: usize = 16_384;

/// How a group's commit went: `Err` carries why it failed, and whether storage was full.
type Committed = Result<(), (String, bool)>;
type Reply = Box<dyn FnOnce(Committed) + Send>;
/// A job runs on the connection, or is told (with `None`) that it cannot run. It answers how to
/// reply after the commit, whether it left the transaction half-changed, and whether it failed
/// for want of room.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (Reply, Spoiled, Full) + Send>;
/// True when an operation failed after changing something: the group must be rolled back.
type Spoiled = bool;
/// True when an operation failed because the disk is full.
type Full = bool;

/// How an operation is kept apart from the others in its group.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Isolation {
    /// In its own savepoint: its failure undoes only its own changes.
    Savepoint,
    /// Without one: for operations whose only likely failure is their first write (a failing
    /// statement undoes itself); any later failure rolls back the group.
    Direct,
}

pub(super) struct Writer {
    sender: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(super) fn start(conn: Connection) -> StoreResult<Self> {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let thread =
            std::thread::Builder::new().name("hookwire-sqlite-writer".into()).spawn(move || run(conn, receiver))?;
        Ok(Self { sender: Some(sender), thread: Some(thread) })
    }

    pub(super) async fn submit<T: Send + 'static>(
        &self,
        isolation: Isolation,
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let (result, spoiled) = match (conn, isolation) {
                (Some(conn), Isolation::Savepoint) => (in_savepoint(conn, op), false),
                (Some(conn), Isolation::Direct) => {
                    let changes_before = conn.total_changes();
                    let result = op(conn);
                    let spoiled = result.is_err() && conn.total_changes() != changes_before;
                    (result, spoiled)
                }
                (None, _) => (Err(StoreError::Corrupt("could not begin a write transaction".into())), false),
            };
            // An I/O error or a full disk can make SQLite roll the whole transaction back; the
            // rest of the group must then not run in autocommit mode, one commit each.
            let spoiled = spoiled || conn.is_some_and(Connection::is_autocommit);
            let full = result.as_ref().err().is_some_and(StoreError::is_storage_full);
            let reply: Reply = Box::new(move |committed: Committed| {
                let answer = match committed {
                    Ok(()) => result,
                    Err((_, true)) => Err(StoreError::Full),
                    Err((error, false)) => result.and(Err(StoreError::Corrupt(format!("commit failed: {error}")))),
                };
                let _ = tx.send(answer);
            });
            (reply, spoiled, full)
        });
        let sender = self.sender.as_ref().ok_or(StoreError::Closed)?;
        sender.send(job).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

impl Drop for Writer {
    /// Closing the queue lets the thread commit what it has and stop; wait for that.
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs one operation in its own savepoint. The statements are prepared once and cached: parsing
/// them for every operation was a third of the writer's time under load.
fn in_savepoint<T>(conn: &Connection, op: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    conn.prepare_cached("SAVEPOINT op")?.execute([])?;
    let result = op(conn);
    if result.is_err() {
        conn.prepare_cached("ROLLBACK TO op")?.execute([])?;
    }
    conn.prepare_cached("RELEASE op")?.execute([])?;
    result
}

fn run(conn: Connection, mut receiver: mpsc::Receiver<Job>) {
    let mut replies: Vec<Reply> = Vec::with_capacity(GROUP_OPERATIONS_MAX);
    let mut full_episode = FullEpisode::default();
    while let Some(first) = receiver.blocking_recv() {
        if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
            let full = StoreError::Sqlite(error).is_storage_full();
            if !full_episode.saw(full) {
                tracing::error!("cannot begin a write transaction");
            }
            first(None).0(Err(("cannot begin a write transaction".to_owned(), full)));
            continue;
        }
        let (reply, mut spoiled, mut full) = first(Some(&conn));
        replies.push(reply);
        while replies.len() < GROUP_OPERATIONS_MAX && !spoiled {
            match receiver.try_recv() {
                Ok(job) => {
                    let (reply, spoiled_now, full_now) = job(Some(&conn));
                    replies.push(reply);
                    spoiled = spoiled_now;
                    full |= full_now;
                }
                Err(_) => break,
            }
        }
        let committed = if spoiled {
            if !full {
                tracing::error!(operations = replies.len(), "an operation failed half-done: rolling back its group");
            }
            let _ = conn.execute_batch("ROLLBACK");
            Err(("rolled back: another operation in the same commit failed half-done".to_owned(), full))
        } else {
            conn.execute_batch("COMMIT").map_err(|error| {
                let text = error.to_string();
                let full_now = StoreError::Sqlite(error).is_storage_full();
                if !full_now {
                    tracing::error!(error = %text, operations = replies.len(), "group commit failed");
                }
                full |= full_now;
                let _ = conn.execute_batch("ROLLBACK");
                (text, full_now)
            })
        };
        full_episode.saw(full);
        if committed.is_ok() && !full {
            full_episode.cleared();
        }
        for reply in replies.drain(..) {
            reply(committed.clone());
        }
    }
}

/// Logs a full disk once when writes start failing for want of room, and once when they succeed
/// again, instead of once per failed write.
#[derive(Default)]
struct FullEpisode {
    ongoing: bool,
}

impl FullEpisode {
    /// Notes whether a write failed for want of room; returns whether that was (or is) the case.
    fn saw(&mut self, full: bool) -> bool {
        if full && !self.ongoing {
            self.ongoing = true;
            tracing::error!("storage is full: writes fail (answered 507) until disk space is freed");
        }
        full
    }

    /// A write succeeded.
    fn cleared(&mut self) {
        if self.ongoing {
            self.ongoing = false;
            tracing::info!("storage has room again: writes succeed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = Connection::open(dir.path().join("w.db")).expect("open");
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER PRIMARY KEY)").expect("schema");
        (dir, Writer::start(conn).expect("writer"))
    }

    fn insert(conn: &Connection, v: i64) -> StoreResult<()> {
        conn.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
        Ok(())
    }

    async fn count(writer: &Writer) -> i64 {
        writer
            .submit(Isolation::Savepoint, |conn| Ok(conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .expect("count")
    }

    #[tokio::test]
    async fn a_direct_operation_failing_half_done_leaves_nothing() {
        let (_dir, writer) = writer();
        let half_done = writer.submit(Isolation::Direct, |conn| {
            insert(conn, 1)?;
            insert(conn, 1) // a conflict after a change
        });
        assert!(half_done.await.is_err());
        assert_eq!(count(&writer).await, 0, "the group was rolled back, its first insert too");
    }

    #[tokio::test]
    async fn a_direct_operation_failing_cleanly_costs_the_others_nothing() {
        let (_dir, writer) = writer();
        writer.submit(Isolation::Direct, |conn| insert(conn, 1)).await.expect("first");
        let (clean_failure, ()) = tokio::join!(
            writer.submit(Isolation::Direct, |conn| insert(conn, 1)), // its only write fails
            async {
                for v in 2..=50 {
                    writer.submit(Isolation::Direct, move |conn| insert(conn, v)).await.expect("others commit");
                }
            }
        );
        assert!(clean_failure.is_err());
        assert_eq!(count(&writer).await, 50);
    }

    #[tokio::test]
    async fn a_savepoint_operation_failing_half_done_undoes_only_itself() {
        let (_dir, writer) = writer();
        let (half_done, other) = tokio::join!(
            writer.submit(Isolation::Savepoint, |conn| {
                insert(conn, 1)?;
                insert(conn, 1)
            }),
            writer.submit(Isolation::Direct, |conn| insert(conn, 2))
        );
        assert!(half_done.is_err());
        other.expect("the other operation commits");
        assert_eq!(count(&writer).await, 1);
    }
}
