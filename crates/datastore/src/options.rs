//! [`DatastoreOptions`]: how a datastore is opened, whichever the backend:
//! its secret keys, its connection pool, its patience, and whether it brings
//! the schema up to date.

use crate::datastore::RetryPolicy;
use crate::DatastoreKeys;
use std::time::Duration;

/// Options for opening a datastore (see [`crate::open`]).
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
        if self.acquire_timeout.is_zero() || self.statement_timeout.is_zero() {
            return Err(crate::DatastoreError::Config(
                "acquire_timeout and statement_timeout must be positive".into(),
            ));
        }
        Ok(())
    }
}
