//! [`DatastoreOptions`]: how a datastore is opened, whichever the backend:
//! its secret keys, its connection pool, its patience, and whether it brings
//! the schema up to date.

use crate::datastore::RetryPolicy;
use crate::DatastoreKeys;
use std::time::Duration;

/// The default of [`DatastoreOptions::max_transaction_duration`]: five
/// minutes. The aggregator's bodies do database work only, in bounded
/// batches, and take milliseconds to seconds; each statement is bounded by
/// `statement_timeout` (30 s by default), so five minutes is ten statement
/// timeouts back to back, far past any body that is still making progress.
/// The bound exists for the body that never ends: with transactions
/// detached from their callers, nothing else would ever release its pooled
/// connection (and, on SQLite, the single write lock every writer waits
/// for), so without it one such body would stop all writes for good; with
/// it, for at most five minutes.
pub const DEFAULT_MAX_TRANSACTION_DURATION: Duration = Duration::from_secs(300);

/// Options for opening a datastore (see [`crate::open()`]).
#[derive(Clone, Debug)]
pub struct DatastoreOptions {
    /// The keys secrets are stored under (see [`DatastoreKeys`]).
    pub keys: DatastoreKeys,
    /// Connections in the pool.
    pub max_connections: u32,
    /// How long to wait for a free (or new) connection.
    pub acquire_timeout: Duration,
    /// How long one statement may run (PostgreSQL `statement_timeout`) or
    /// wait for the write lock (SQLite busy timeout) before it fails and the
    /// transaction is retried.
    pub statement_timeout: Duration,
    /// How long one run of a transaction body may take, from `BEGIN` to the
    /// body's return. A body that runs longer (one awaiting something that
    /// never comes) is abandoned: its transaction is rolled back (or, if
    /// even that does not finish in `statement_timeout`, its connection is
    /// closed), the caller gets [`crate::DatastoreError::TransactionTimedOut`],
    /// and the body is not run again.
    pub max_transaction_duration: Duration,
    /// Retries of transactions that failed on contention or a dropped
    /// connection.
    pub retry: RetryPolicy,
    /// Whether opening applies pending schema migrations. When false, the
    /// schema must already be up to date (`dyad migrate`), or opening fails.
    pub apply_migrations: bool,
}

impl DatastoreOptions {
    /// Default options with these keys, applying migrations.
    pub fn new(keys: DatastoreKeys) -> Self {
        Self {
            keys,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(30),
            max_transaction_duration: DEFAULT_MAX_TRANSACTION_DURATION,
            retry: RetryPolicy::default(),
            apply_migrations: true,
        }
    }

    /// Whether a process should migrate the datastore at `url` itself when
    /// its configuration does not say: yes for SQLite (one embedded file,
    /// one process); no for PostgreSQL, where `dyad migrate` does it once
    /// for all replicas.
    pub fn migrates_by_default(url: &str) -> bool {
        url.starts_with("sqlite:")
    }

    /// Checks what the types cannot.
    pub fn validate(&self) -> Result<(), crate::DatastoreError> {
        if self.max_connections == 0 || self.retry.max_attempts == 0 {
            return Err(crate::DatastoreError::Config(
                "max_connections and retry.max_attempts must be positive".into(),
            ));
        }
        if self.acquire_timeout.is_zero()
            || self.statement_timeout.is_zero()
            || self.max_transaction_duration.is_zero()
        {
            return Err(crate::DatastoreError::Config(
                "acquire_timeout, statement_timeout and max_transaction_duration must be positive"
                    .into(),
            ));
        }
        Ok(())
    }
}
