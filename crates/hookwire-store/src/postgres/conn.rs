//! Bounded waits on PostgreSQL. A frozen server (a stalled disk, a partition that drops packets,
//! processes stopped) answers nothing, and the kernel keeps the TCP connection looking alive, so
//! only the client can bound a wait: every round trip here gives up `PG_ANSWER_GRACE_MS` after the
//! query timeout, a connection that timed out is closed rather than returned to the pool,
//! waiting for a pooled connection and opening one are bounded too, and every such failure is
//! `StoreError::Unavailable` (503 `database_unavailable`), never a hang. The query timeout itself
//! is the server's `statement_timeout`: a statement slowed while it runs (a lock held, slow
//! reads) is cancelled by the server, so the 503 it leads to means nothing was written, and a
//! client retrying it makes no duplicate. `statement_timeout` does not cover the commit's own
//! WAL flush or a synchronous standby's acknowledgement, and a server that does not answer at
//! all is only given up on: then a 503 leaves the statement's fate unknown (an `eventId` or an
//! idempotency key makes the producer's retry safe).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::{Object, Pool, PoolError};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement, ToStatement};

use crate::error::{StoreError, StoreResult};

/// How long one statement may run by default (PostgreSQL's `statement_timeout`).
pub const PG_QUERY_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// How much longer than the query timeout the client waits for an answer: a cancelled statement's
/// error comes back within it, so the client gives up only on a server that does not answer.
pub const PG_ANSWER_GRACE_MS: u64 = 1_000;
/// How long a request may wait for a pooled connection by default.
pub const PG_POOL_WAIT_MS_DEFAULT: u64 = 5_000;
/// How long opening a connection may take by default (unless the URL sets `connect_timeout`).
pub const PG_CONNECT_TIMEOUT_MS_DEFAULT: u64 = 5_000;
/// TCP keepalive idle time and the TCP user timeout (unless the URL sets them): a peer that
/// vanished from the network is noticed within about this long, even on an idle connection.
pub const PG_TCP_TIMEOUT_MS: u64 = 10_000;

/// The bounds of one store's waits on its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// One statement, on the server (`statement_timeout`); the client waits for a round trip
    /// (statement, prepare, commit) `PG_ANSWER_GRACE_MS` longer.
    pub query_timeout: Duration,
    /// Waiting for a connection from the pool.
    pub pool_wait: Duration,
    /// Opening a connection.
    pub connect_timeout: Duration,
}

impl Limits {
    /// How long the client waits for one round trip's answer.
    pub fn answer_timeout(&self) -> Duration {
        self.query_timeout + Duration::from_millis(PG_ANSWER_GRACE_MS)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            query_timeout: Duration::from_millis(PG_QUERY_TIMEOUT_MS_DEFAULT),
            pool_wait: Duration::from_millis(PG_POOL_WAIT_MS_DEFAULT),
            connect_timeout: Duration::from_millis(PG_CONNECT_TIMEOUT_MS_DEFAULT),
        }
    }
}

/// What [`Conn`] and [`Tx`] both do, for code that runs on either.
pub trait Db: Sync {
    fn query<T: ?Sized + ToStatement + Sync>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = StoreResult<Vec<Row>>> + Send;
    fn query_opt<T: ?Sized + ToStatement + Sync>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = StoreResult<Option<Row>>> + Send;
}

/// [`Db`] through a type's own `query` and `query_opt` (whichever error type they answer with).
macro_rules! db_via_methods {
    ($type:ty) => {
        // The `?` turns a driver error into a `StoreError`; for the types already answering
        // `StoreResult` it changes nothing.
        #[allow(clippy::needless_question_mark)]
        impl Db for $type {
            fn query<T: ?Sized + ToStatement + Sync>(
                &self,
                statement: &T,
                params: &[&(dyn ToSql + Sync)],
            ) -> impl Future<Output = StoreResult<Vec<Row>>> + Send {
                async move { Ok(<$type>::query(self, statement, params).await?) }
            }
            fn query_opt<T: ?Sized + ToStatement + Sync>(
                &self,
                statement: &T,
                params: &[&(dyn ToSql + Sync)],
            ) -> impl Future<Output = StoreResult<Option<Row>>> + Send {
                async move { Ok(<$type>::query_opt(self, statement, params).await?) }
            }
        }
    };
}

db_via_methods!(Conn);
db_via_methods!(Tx<'_>);
// A migration's transaction, on a connection of its own outside the pool (as every migration
// step, unbounded: a migration may take as long as its tables need).
db_via_methods!(tokio_postgres::Transaction<'_>);

/// A pooled connection whose every round trip is bounded; closed instead of pooled again once
/// one of them timed out (its answer may still be on the way).
pub struct Conn {
    object: Option<Object>,
    limit: Duration,
    broken: Arc<AtomicBool>,
}

/// Takes a connection from `pool` within the pool's wait bound.
pub async fn take(pool: &Pool, limit: Duration) -> StoreResult<Conn> {
    let object = pool.get().await.map_err(pool_error)?;
    Ok(Conn { object: Some(object), limit, broken: Arc::new(AtomicBool::new(false)) })
}

pub fn pool_error(error: PoolError) -> StoreError {
    match error {
        // Opening or checking a connection failed: refused, reset, a standby where a primary
        // was wanted (`target_session_attrs`), a server starting or shutting down.
        PoolError::Backend(error) => StoreError::Unavailable(error.to_string()),
        PoolError::Timeout(kind) => {
            StoreError::Unavailable(format!("no database connection within the bound ({kind:?})"))
        }
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Runs one round trip within `limit`; a timeout marks the connection `broken`.
async fn bounded<T>(
    limit: Duration,
    broken: &AtomicBool,
    round_trip: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> StoreResult<T> {
    match tokio::time::timeout(limit, round_trip).await {
        Ok(result) => Ok(result?),
        Err(_) => {
            broken.store(true, Ordering::Release);
            Err(StoreError::Unavailable(format!("the database did not answer within {} ms", limit.as_millis())))
        }
    }
}

impl Conn {
    fn client(&self) -> &tokio_postgres::Client {
        self.object.as_ref().expect("present until dropped")
    }

    pub async fn query<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<Row>> {
        bounded(self.limit, &self.broken, self.client().query(statement, params)).await
    }

    pub async fn query_one<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Row> {
        bounded(self.limit, &self.broken, self.client().query_one(statement, params)).await
    }

    pub async fn query_opt<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        bounded(self.limit, &self.broken, self.client().query_opt(statement, params)).await
    }

    pub async fn execute<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<u64> {
        bounded(self.limit, &self.broken, self.client().execute(statement, params)).await
    }

    pub async fn prepare_cached(&self, sql: &str) -> StoreResult<Statement> {
        let object = self.object.as_ref().expect("present until dropped");
        bounded(self.limit, &self.broken, object.prepare_cached(sql)).await
    }

    pub async fn transaction(&mut self) -> StoreResult<Tx<'_>> {
        let (limit, broken) = (self.limit, self.broken.clone());
        let object = self.object.as_mut().expect("present until dropped");
        let inner = bounded(limit, &broken, object.transaction()).await?;
        Ok(Tx { inner, limit, broken })
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.broken.load(Ordering::Acquire)
            && let Some(object) = self.object.take()
        {
            // Out of the pool and closed: a late answer must not meet the next statement.
            drop(Object::take(object));
        }
    }
}

/// A transaction on a [`Conn`], bounded the same way (rolled back when dropped uncommitted).
pub struct Tx<'a> {
    inner: deadpool_postgres::Transaction<'a>,
    limit: Duration,
    broken: Arc<AtomicBool>,
}

impl Tx<'_> {
    pub async fn query<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<Row>> {
        bounded(self.limit, &self.broken, self.inner.query(statement, params)).await
    }

    pub async fn query_one<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Row> {
        bounded(self.limit, &self.broken, self.inner.query_one(statement, params)).await
    }

    pub async fn query_opt<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        bounded(self.limit, &self.broken, self.inner.query_opt(statement, params)).await
    }

    pub async fn execute<T: ?Sized + ToStatement>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<u64> {
        bounded(self.limit, &self.broken, self.inner.execute(statement, params)).await
    }

    pub async fn prepare_cached(&self, sql: &str) -> StoreResult<Statement> {
        bounded(self.limit, &self.broken, self.inner.prepare_cached(sql)).await
    }

    pub async fn commit(self) -> StoreResult<()> {
        bounded(self.limit, &self.broken, self.inner.commit()).await
    }
}
