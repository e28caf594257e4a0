//! The single SQLite writer: one thread owns the write connection and commits in groups. Every
//! operation runs in its own savepoint inside the group's transaction (so one failing operation
//! does not undo the others), and every caller is answered only after the group's COMMIT, so an
//! acknowledged write is durable.

use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::error::{StoreError, StoreResult};

/// Most operations committed in one transaction.
const GROUP_OPERATIONS_MAX: usize = 1_000;
/// Operations that may wait for the writer before callers are held back.
const QUEUE_CAPACITY: usize = 16_384;

type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A job runs on the connection, or is told (with `None`) that it cannot run.
type Job = Box<dyn FnOnce(Option<&Connection>) -> Reply + Send>;

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
        op: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => in_savepoint(conn, op),
                None => Err(StoreError::Corrupt("could not begin a write transaction".into())),
            };
            Box::new(move |committed: Result<(), String>| {
                let answer = match committed {
                    Ok(()) => result,
                    Err(error) => result.and(Err(StoreError::Corrupt(format!("commit failed: {error}")))),
                };
                let _ = tx.send(answer);
            })
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
    while let Some(first) = receiver.blocking_recv() {
        if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(%error, "cannot begin a write transaction");
            first(None)(Err(error.to_string()));
            continue;
        }
        replies.push(first(Some(&conn)));
        while replies.len() < GROUP_OPERATIONS_MAX {
            match receiver.try_recv() {
                Ok(job) => replies.push(job(Some(&conn))),
                Err(_) => break,
            }
        }
        let committed = conn.execute_batch("COMMIT").map_err(|error| {
            tracing::error!(%error, operations = replies.len(), "group commit failed");
            let _ = conn.execute_batch("ROLLBACK");
            error.to_string()
        });
        for reply in replies.drain(..) {
            reply(committed.clone());
        }
    }
}
