//! The SQLite backend, the embedded default: one database file per
//! aggregator, opened from a `sqlite://PATH` URL (created if missing).
//!
//! Connections run in WAL mode with `synchronous=NORMAL` (durable across
//! process crashes; a power loss may drop the last commits but never
//! corrupts), a busy timeout, and foreign keys on. Read-write transactions
//! start with `BEGIN IMMEDIATE`, taking the database's single write lock up
//! front: two writers never deadlock trying to upgrade a read lock, and a
//! busy database makes the transaction wait (then retry) at its start, not
//! fail in its middle. Read-only transactions (`BEGIN DEFERRED`) run beside
//! the writer thanks to WAL.
//!
//! All SQL specific to SQLite lives in this module; the schema is in
//! `migrations/sqlite/`.

mod aggregate_share_jobs;
mod aggregation_jobs;
mod batch_aggregations;
mod client_reports;
mod collected_batches;
mod collection_jobs;
mod helper_replay;
mod leases;
mod migrations;
mod outstanding_batches;
mod report_aggregations;
mod row;
mod tasks;
mod transaction;

use crate::datastore::{ErasedTxFn, RetryPolicy, TxMode};
use crate::{Datastore, DatastoreError, TxError};
use dyad_core::clock::Clock;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::any::Any;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration as StdDuration;
use tracing::{debug, warn};

pub use transaction::SqliteTransaction;

/// Options of the SQLite backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqliteConfig {
    /// Connections in the pool (readers run in parallel; writers take turns).
    pub max_connections: u32,
    /// How long a statement waits for the write lock before failing busy
    /// (and the transaction is retried).
    pub busy_timeout: StdDuration,
    /// How long to wait for a free connection.
    pub acquire_timeout: StdDuration,
    /// Retries of busy transactions.
    pub retry: RetryPolicy,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            max_connections: 8,
            busy_timeout: StdDuration::from_secs(5),
            acquire_timeout: StdDuration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// A datastore in one SQLite file.
pub struct SqliteDatastore {
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for SqliteDatastore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDatastore")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl SqliteDatastore {
    /// Opens (creating if missing) the database at `url` (`sqlite://PATH`)
    /// with default options, and brings its schema up to date.
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<Self, DatastoreError> {
        Self::open_with(url, clock, SqliteConfig::default()).await
    }

    /// Opens the database at `url` with the given options, and brings its
    /// schema up to date.
    pub async fn open_with(
        url: &str,
        clock: Arc<dyn Clock>,
        config: SqliteConfig,
    ) -> Result<Self, DatastoreError> {
        if !url.starts_with("sqlite:") {
            return Err(DatastoreError::Config(format!(
                "not a SQLite URL (expected sqlite://PATH): {url}"
            )));
        }
        if config.max_connections == 0 || config.retry.max_attempts == 0 {
            return Err(DatastoreError::Config(
                "max_connections and retry.max_attempts must be positive".into(),
            ));
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| DatastoreError::Config(format!("invalid SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(config.busy_timeout)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options)
            .await?;
        migrations::migrator().run(&pool).await?;
        debug!(
            max_connections = config.max_connections,
            "opened SQLite datastore"
        );
        Ok(Self {
            pool,
            clock,
            retry: config.retry,
        })
    }

    async fn attempt(
        &self,
        mode: TxMode,
        f: &ErasedTxFn<'_>,
    ) -> Result<Box<dyn Any + Send>, TxError> {
        let begin = match mode {
            TxMode::ReadWrite => "BEGIN IMMEDIATE",
            TxMode::ReadOnly => "BEGIN DEFERRED",
        };
        let inner = self
            .pool
            .begin_with(begin)
            .await
            .map_err(DatastoreError::from)?;
        let mut tx = SqliteTransaction::new(inner, self.clock.now(), mode);
        // On error the sqlx transaction rolls back when dropped (also if this
        // future is dropped mid-way).
        let value = f(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }
}

#[async_trait::async_trait]
impl Datastore for SqliteDatastore {
    async fn run_tx_erased(
        &self,
        name: &'static str,
        mode: TxMode,
        f: &ErasedTxFn<'_>,
    ) -> Result<Box<dyn Any + Send>, TxError> {
        let mut attempt = 1;
        loop {
            match self.attempt(mode, f).await {
                Ok(value) => return Ok(value),
                Err(error) if error.is_retryable() => {
                    if attempt >= self.retry.max_attempts {
                        warn!(tx = name, attempt, "giving up on busy transaction");
                        return Err(DatastoreError::RetriesExhausted {
                            name,
                            attempts: attempt,
                        }
                        .into());
                    }
                    let delay = self.retry.backoff(attempt);
                    debug!(tx = name, attempt, ?delay, %error, "retrying busy transaction");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests;
