//! Storage errors: what callers must tell apart (conflict) and what they just report.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; `what` names it (e.g. `application uid`).
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A value the caller passed back (an iterator, a position) is not one this store made.
    #[error("{0}")]
    Invalid(String),
    #[error("the store is shut down")]
    Closed,
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", postgres_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    /// The database cannot be reached or did not answer within its bound (a failover, a frozen
    /// or partitioned server): nothing is known to have been written; retry shortly.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("a batched write failed: {0}")]
    Batch(String),
    #[error("database URL: {0}")]
    Url(String),
    #[error("storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The disk (or the database's quota) is full: nothing of the operation was written.
    #[error("storage is full: nothing was written; free disk space and retry")]
    Full,
    /// The SQLite file belongs to something else (tables of its own, no Hookwire schema version).
    #[error(
        "this is an SQLite database of something else (it has tables of its own and no Hookwire schema version); \
         point the database URL at a new file"
    )]
    Foreign,
}

impl StoreError {
    /// Whether the storage ran out of room (SQLite's `SQLITE_FULL`, PostgreSQL's `disk_full`).
    pub fn is_storage_full(&self) -> bool {
        match self {
            Self::Full => true,
            Self::Sqlite(error) => error.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            Self::Postgres(error) => error.code() == Some(&tokio_postgres::error::SqlState::DISK_FULL),
            _ => false,
        }
    }
}

impl StoreError {
    /// Whether the database could not be reached or did not answer in time, so the operation
    /// may be retried shortly (on PostgreSQL: a connection lost or refused, a server shutting
    /// down or starting, a standby that is read-only after a failover, a query over its bound).
    pub fn is_unavailable(&self) -> bool {
        use tokio_postgres::error::SqlState;
        match self {
            Self::Unavailable(_) => true,
            Self::Postgres(error) => match error.code() {
                Some(code) => {
                    code.code().starts_with("08")
                        || [
                            SqlState::ADMIN_SHUTDOWN,
                            SqlState::CRASH_SHUTDOWN,
                            SqlState::CANNOT_CONNECT_NOW,
                            SqlState::READ_ONLY_SQL_TRANSACTION,
                            SqlState::QUERY_CANCELED,
                            SqlState::TOO_MANY_CONNECTIONS,
                        ]
                        .contains(code)
                }
                // No answer from the server at all: the connection closed or failed.
                None => error.is_closed() || std::error::Error::source(error).is_some_and(|s| s.is::<std::io::Error>()),
            },
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The server's own message when there is one (tokio-postgres shows only "db error").
fn postgres_detail(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => error.to_string(),
    }
}
